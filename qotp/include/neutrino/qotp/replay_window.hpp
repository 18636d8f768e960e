#pragma once

// The replay window on received packets under one receive secret (fixes spec qotp.md §24.2 for
// the connection's packets; §6.4 says the reference has none).

#include <array>
#include <cstddef>
#include <cstdint>

namespace neutrino::qotp {

/// Sliding window over the 48-bit sequence numbers received under one secret: the highest
/// number seen and a bitmap of the `size` numbers below and including it. A number is fresh if
/// it is above the highest or inside the window and not yet marked; numbers that fell out of
/// the window (more than `size - 1` below the highest) count as replayed. `constexpr`, no
/// allocation.
class replay_window {
public:
    static constexpr std::size_t size = 256;  ///< packets

    /// Whether `sn` has not been seen and is not too old.
    [[nodiscard]] constexpr bool fresh(std::uint64_t sn) const noexcept {
        if (!any_ || sn > highest_) return true;
        const std::uint64_t back = highest_ - sn;
        if (back >= size) return false;
        return !test(back);
    }

    /// Records `sn` (call only after `fresh(sn)` and after the packet authenticated).
    constexpr void mark(std::uint64_t sn) noexcept {
        if (!any_) {
            any_ = true;
            highest_ = sn;
            bits_ = {};
            set(0);
            return;
        }
        if (sn > highest_) {
            shift(sn - highest_);
            highest_ = sn;
            set(0);
            return;
        }
        const std::uint64_t back = highest_ - sn;
        if (back < size) set(back);
    }

private:
    static constexpr std::size_t word_bits = 64;
    static constexpr std::size_t words = size / word_bits;

    [[nodiscard]] constexpr bool test(std::uint64_t back) const noexcept {
        return ((bits_[back / word_bits] >> (back % word_bits)) & 1U) != 0;
    }
    constexpr void set(std::uint64_t back) noexcept {
        bits_[back / word_bits] |= std::uint64_t{1} << (back % word_bits);
    }
    // Moves every bit `n` positions further back (bit i → bit i + n).
    constexpr void shift(std::uint64_t n) noexcept {
        if (n >= size) {
            bits_ = {};
            return;
        }
        const std::size_t word_shift = n / word_bits;
        const std::size_t bit_shift = n % word_bits;
        for (std::size_t i = words; i-- > 0;) {
            std::uint64_t v = 0;
            if (i >= word_shift) {
                v = bits_[i - word_shift] << bit_shift;
                if (bit_shift != 0 && i >= word_shift + 1) {
                    v |= bits_[i - word_shift - 1] >> (word_bits - bit_shift);
                }
            }
            bits_[i] = v;
        }
    }

    std::array<std::uint64_t, words> bits_{};
    std::uint64_t highest_ = 0;
    bool any_ = false;
};

}  // namespace neutrino::qotp
