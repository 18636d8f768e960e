#pragma once
/// \file
/// Randomness policies. A machine draws every random value (nonces, session ids, initial packet
/// numbers, ephemeral keys) through its `Random` policy:
///
/// | expression | meaning |
/// |---|---|
/// | `r.fill(span<std::byte>)` | fills the span with random bytes |
/// | `r.uniform(lo, hi)` | a uniform `std::uint64_t` in `[lo, hi]` |

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino {

template <class R>
concept random_source = requires(R& r, std::span<std::byte> out, std::uint64_t v) {
    r.fill(out);
    { r.uniform(v, v) } -> std::same_as<std::uint64_t>;
};

namespace detail {
/// Uniform in [lo, hi] from a source of random 64-bit words, by rejection (no modulo bias).
template <class Next64>
std::uint64_t uniform_from(Next64&& next, std::uint64_t lo, std::uint64_t hi) noexcept {
    if (lo >= hi) return lo;
    const std::uint64_t span = hi - lo;
    if (span == UINT64_MAX) return next();
    const std::uint64_t n = span + 1;
    const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    for (;;) {  // expected < 2 iterations
        const std::uint64_t x = next();
        if (x < limit) return lo + x % n;
    }
}
}  // namespace detail

/// The operating system's CSPRNG through libsodium's `randombytes_buf`, drawn in blocks so
/// a per-datagram nonce costs a copy, not a call into the generator.
class system_random {
public:
    system_random() noexcept = default;
    system_random(const system_random&) noexcept : pos_(pool_size) {}  // never share a pool
    system_random& operator=(const system_random&) noexcept {
        pos_ = pool_size;
        return *this;
    }
    ~system_random();

    void fill(std::span<std::byte> out) noexcept;
    std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) noexcept;

private:
    static constexpr std::size_t pool_size = 1024;
    void refill() noexcept;
    std::array<std::byte, pool_size> pool_{};
    std::size_t pos_ = pool_size;
};

/// A deterministic stream from a 64-bit seed (libsodium `randombytes_buf_deterministic`,
/// ChaCha20): the same seed gives the same values. For simulations and tests, never for keys
/// in production.
class seeded_random {
public:
    explicit seeded_random(std::uint64_t seed) noexcept;

    void fill(std::span<std::byte> out) noexcept;
    std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) noexcept;
    [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

private:
    void refill() noexcept;
    std::uint64_t seed_;
    std::uint64_t block_ = 0;
    std::array<std::byte, 512> pool_{};
    std::size_t pos_ = 512;
};

static_assert(random_source<system_random>);
static_assert(random_source<seeded_random>);

}  // namespace neutrino
