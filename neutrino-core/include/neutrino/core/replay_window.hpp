#pragma once
/// \file
/// A sliding replay window over packet numbers.  spec: neutrino.md §18.1 item 3

#include <array>
#include <cstddef>
#include <cstdint>

namespace neutrino::core {

/// Remembers which of the last `Bits` packet numbers below the highest one were seen.
/// `check` never changes state; `commit` records a number after the packet was authenticated
/// and accepted. Everything before the first number is treated as already seen.
template <std::size_t Bits = 1024>
class replay_window {
    static_assert(Bits % 64 == 0 && Bits > 0);

public:
    /// Starts the window at the peer's first packet number (which counts as seen).
    void reset(std::uint64_t first) noexcept {
        top_ = first;
        words_.fill(~std::uint64_t{0});
        started_ = true;
    }
    [[nodiscard]] bool started() const noexcept { return started_; }
    [[nodiscard]] std::uint64_t highest() const noexcept { return top_; }

    /// True when `pn` is new: above the highest seen, or inside the window and not seen yet.
    [[nodiscard]] bool check(std::uint64_t pn) const noexcept {
        if (!started_) return true;
        if (pn > top_) return true;
        const std::uint64_t back = top_ - pn;
        if (back >= Bits) return false;
        return !test(pn);
    }

    /// Records `pn` as seen; precondition `check(pn)`.
    void commit(std::uint64_t pn) noexcept {
        if (!started_) {
            reset(pn);
            return;
        }
        if (pn > top_) {
            const std::uint64_t shift = pn - top_;
            if (shift >= Bits) {
                words_.fill(0);
            } else {
                for (std::uint64_t n = top_ + 1; n < pn; ++n) clear(n);  // < Bits iterations
            }
            top_ = pn;
        }
        set(pn);
    }

private:
    [[nodiscard]] bool test(std::uint64_t pn) const noexcept {
        const std::size_t i = static_cast<std::size_t>(pn % Bits);
        return (words_[i / 64] >> (i % 64)) & 1U;
    }
    void set(std::uint64_t pn) noexcept {
        const std::size_t i = static_cast<std::size_t>(pn % Bits);
        words_[i / 64] |= std::uint64_t{1} << (i % 64);
    }
    void clear(std::uint64_t pn) noexcept {
        const std::size_t i = static_cast<std::size_t>(pn % Bits);
        words_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
    }

    std::array<std::uint64_t, Bits / 64> words_{};
    std::uint64_t top_ = 0;
    bool started_ = false;
};

}  // namespace neutrino::core
