#pragma once
/// \file
/// `sequence_counter`: a side's 48-bit send counter.  spec: qotp.md §6.5, §8

#include <cstdint>

#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/packet_protection.hpp"

namespace neutrino::qotp {

/// One per connection and side, shared by all message types: starts at 0 and advances after
/// every encoded packet, InitSnd included (which carries no `sn`, so an initiator's first
/// encrypted packet uses 1); a retransmission takes a fresh number. Key rotation (§8) starts
/// at `rotation_start` and restarts the counter at `rotation_deadline` with `restart()`.
/// Not thread-safe; allocates nothing.
class sequence_counter {
public:
    /// At or above this, the sender starts a key rotation.  spec: qotp.md §8 step 1
    static constexpr std::uint64_t rotation_start = std::uint64_t{1} << 46;
    /// At exactly this, the rotated key takes over and the counter restarts.  spec: §8 step 4
    static constexpr std::uint64_t rotation_deadline = std::uint64_t{1} << 47;

    /// The number for the packet being encoded now, advancing the counter.
    /// Error: `errc::sequence_exhausted` once all 2^48 numbers are used.
    [[nodiscard]] result<std::uint64_t> next() noexcept {
        if (next_ > max_sequence_number) return fail(errc::sequence_exhausted);
        return next_++;
    }
    /// The number `next()` returns next (does not advance).
    [[nodiscard]] std::uint64_t peek() const noexcept { return next_; }
    /// Back to 0, after a completed key rotation.  spec: qotp.md §8 step 4
    void restart() noexcept { next_ = 0; }

private:
    std::uint64_t next_ = 0;
};

}  // namespace neutrino::qotp
