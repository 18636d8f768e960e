#include "neutrino/random.hpp"

#include <sodium.h>

#include <cstring>

#include "neutrino/endian.hpp"
#include "neutrino/sodium.hpp"

namespace neutrino {
namespace {
template <class Source>
void fill_from_pool(Source&& refill, std::span<std::byte> pool, std::size_t& pos,
                    std::span<std::byte> out) noexcept {
    while (!out.empty()) {
        if (pos == pool.size()) {
            refill();
            pos = 0;
        }
        const std::size_t n = std::min(out.size(), pool.size() - pos);
        std::memcpy(out.data(), pool.data() + pos, n);
        std::memset(pool.data() + pos, 0, n);  // a value is handed out once
        pos += n;
        out = out.subspan(n);
    }
}
// Uniform in [lo, hi] from 64-bit words drawn from `source`'s own pool.
template <class Source>
std::uint64_t uniform_by_words(Source& source, std::uint64_t lo, std::uint64_t hi) noexcept {
    return detail::uniform_from(
        [&source] {
            std::array<std::byte, 8> b;
            source.fill(b);
            return load_le<std::uint64_t>(b.data());
        },
        lo, hi);
}
}  // namespace

system_random::~system_random() { sodium_memzero(pool_.data(), pool_.size()); }

void system_random::refill() noexcept {
    ensure_sodium();
    randombytes_buf(pool_.data(), pool_.size());
}

void system_random::fill(std::span<std::byte> out) noexcept {
    fill_from_pool([this] { refill(); }, pool_, pos_, out);
}

std::uint64_t system_random::uniform(std::uint64_t lo, std::uint64_t hi) noexcept {
    return uniform_by_words(*this, lo, hi);
}

seeded_random::seeded_random(std::uint64_t seed) noexcept : seed_(seed) {}

void seeded_random::refill() noexcept {
    std::array<unsigned char, randombytes_SEEDBYTES> s{};
    store_le(reinterpret_cast<std::byte*>(s.data()), seed_);
    store_le(reinterpret_cast<std::byte*>(s.data() + 8), block_++);
    randombytes_buf_deterministic(pool_.data(), pool_.size(), s.data());
}

void seeded_random::fill(std::span<std::byte> out) noexcept {
    fill_from_pool([this] { refill(); }, pool_, pos_, out);
}

std::uint64_t seeded_random::uniform(std::uint64_t lo, std::uint64_t hi) noexcept {
    return uniform_by_words(*this, lo, hi);
}

}  // namespace neutrino
