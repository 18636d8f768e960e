#pragma once
/// \file
/// `pacer`: a token bucket that spreads sending at a rate, with a burst allowance (the send
/// quantum of draft-ietf-ccwg-bbr, BBRSetSendQuantum, which Linux BBR's TSO goal resembles) so
/// a driver can still batch datagrams.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "neutrino/time.hpp"

namespace neutrino::congestion {

// next_send_time rounds a wait up to a whole clock tick.
static_assert(std::is_integral_v<duration::rep>);

/// Token-bucket pacer of one path.
///
/// Tokens are bytes. They accrue at `rate()` bytes per second up to `burst()`; a datagram may be
/// sent when the bucket holds at least its size (or a full burst, for a datagram larger than
/// the burst), and sending it takes its size out, which may leave the bucket in debt (a datagram
/// larger than the burst). Over any interval [a, b] the bytes sent are thus at most
/// `burst() + rate() × (b − a)`, and a sender that asks often enough sends at the full rate.
///
/// The burst is the BBR draft's send quantum: `rate × 1 ms`, at most 64 KiB, at least two
/// datagrams of `max_datagram_size`. It is recomputed on every `set_rate`.
///
/// Rate 0 means unpaced: everything may be sent at once. A pacer starts unpaced; the first
/// non-zero rate (and any after a zero one) starts with a full bucket.
///
/// Tokens are kept as a `double` with their fraction, and refilled from time differences at each
/// send, so a long run at a rate whose per-datagram time is not a whole number of nanoseconds
/// does not drift. `next_send_time` rounds up to the nanosecond and `can_send` is defined by it,
/// so the two always agree.
///
/// The pacer reads no clock and allocates nothing; every member is `noexcept` except the
/// constructor. Times passed must not go backwards (an earlier `now` counts as the latest one).
/// Not thread-safe: one owner.
class pacer {
public:
    /// How much sending time one burst covers at the current rate (BBR draft: 1 ms).
    static constexpr duration burst_interval = std::chrono::milliseconds{1};
    /// The largest burst, bytes (BBR draft: 64 KB).
    static constexpr std::size_t max_burst_size = 64 * 1024;
    /// The smallest burst, in datagrams (BBR draft: 2 × SMSS).
    static constexpr std::size_t min_burst_datagrams = 2;
    /// The datagram size assumed when none is given: a core datagram.
    static constexpr std::size_t default_max_datagram_size = 1280;

    /// An unpaced pacer for datagrams of at most `max_datagram_size` bytes (which sizes the
    /// smallest burst). Throws `std::invalid_argument` when it is zero.
    explicit constexpr pacer(std::size_t max_datagram_size = default_max_datagram_size)
        : max_datagram_size_(max_datagram_size) {
        if (max_datagram_size == 0) {
            throw std::invalid_argument("pacer: max_datagram_size must be > 0");
        }
    }

    /// Paces at `bytes_per_s` from `now` on; 0 (or anything not a finite positive number)
    /// stops pacing. Tokens accrued until `now` at the previous rate are kept, capped at the new
    /// burst; when pacing starts the bucket is full.
    constexpr void set_rate(double bytes_per_s, time_point now) noexcept {
        if (!(bytes_per_s > 0.0) || bytes_per_s > std::numeric_limits<double>::max()) {
            rate_ = 0.0;
            return;
        }
        const double burst = burst_for(bytes_per_s);
        if (rate_ == 0.0) {
            tokens_ = burst;
        } else {
            tokens_ = std::min(tokens_at(now), burst);
        }
        last_ = std::max(last_, now);
        rate_ = bytes_per_s;
        burst_ = burst;
    }

    /// The pacing rate, bytes per second; 0 when unpaced.
    [[nodiscard]] constexpr double rate() const noexcept { return rate_; }

    /// The burst allowance (send quantum) at the current rate, bytes; what a driver may batch.
    /// Meaningless (0 before the first rate) when unpaced.
    [[nodiscard]] constexpr std::size_t burst() const noexcept {
        return static_cast<std::size_t>(burst_);
    }

    /// Bytes the bucket holds at `now` (negative when in debt); 0 when unpaced.
    [[nodiscard]] constexpr double tokens(time_point now) const noexcept {
        return rate_ == 0.0 ? 0.0 : tokens_at(now);
    }

    /// Whether a datagram of `bytes` may be sent at `now`: unpaced, or
    /// `now >= next_send_time(bytes)`.
    [[nodiscard]] constexpr bool can_send(std::size_t bytes, time_point now) const noexcept {
        return rate_ == 0.0 || now >= next_send_time(bytes);
    }

    /// Records that `bytes` were sent at `now` (whether or not `can_send` allowed it): they are
    /// taken out of the bucket. Nothing when unpaced.
    constexpr void on_sent(std::size_t bytes, time_point now) noexcept {
        if (rate_ == 0.0) return;
        tokens_ = tokens_at(now) - static_cast<double>(bytes);
        last_ = std::max(last_, now);
    }

    /// The earliest time a datagram of `bytes` may be sent: the first nanosecond at which the
    /// bucket holds `min(bytes, burst())`. `time_point::min()` when it may be sent now (unpaced,
    /// or the bucket already holds enough); `time_point::max()` when that is too far to
    /// represent safely (half the clock's remaining range: decades). The driver sleeps until it.
    [[nodiscard]] constexpr time_point next_send_time(std::size_t bytes) const noexcept {
        if (rate_ == 0.0) return time_point::min();
        const double need = std::min(static_cast<double>(bytes), burst_);
        if (tokens_ >= need) return time_point::min();
        // The wait, in clock ticks, rounded up; the slack absorbs the rounding of the division
        // so that an exact number of ticks is not rounded up to the next one.
        constexpr double ticks_per_s =
            static_cast<double>(duration::period::den) / static_cast<double>(duration::period::num);
        const double ticks = (need - tokens_) * ticks_per_s / rate_ - 1e-6;
        const double headroom = static_cast<double>(time_point::max().time_since_epoch().count()) -
                                static_cast<double>(last_.time_since_epoch().count());
        if (!(ticks < headroom / 2)) return time_point::max();  // also NaN
        auto wait = static_cast<duration::rep>(ticks);
        if (static_cast<double>(wait) < ticks) ++wait;
        return last_ + duration{wait};
    }

private:
    [[nodiscard]] constexpr double burst_for(double rate) const noexcept {
        const double quantum =
            std::min(rate * std::chrono::duration<double>(burst_interval).count(),
                     static_cast<double>(max_burst_size));
        return std::max(quantum, static_cast<double>(min_burst_datagrams * max_datagram_size_));
    }

    // The bucket at `now`: refilled from last_ at the rate, capped at the burst. Refilling never
    // brings tokens above the burst, but keeps any surplus already there (none: set_rate caps).
    [[nodiscard]] constexpr double tokens_at(time_point now) const noexcept {
        if (now <= last_ || tokens_ >= burst_) return tokens_;
        const double elapsed = std::chrono::duration<double>(now - last_).count();
        return std::min(tokens_ + rate_ * elapsed, burst_);
    }

    std::size_t max_datagram_size_;
    double rate_ = 0.0;    // bytes/s; 0 = unpaced
    double burst_ = 0.0;   // bytes
    double tokens_ = 0.0;  // bytes at last_, with their fraction; negative = debt
    time_point last_{};    // when tokens_ was last brought up to date
};

}  // namespace neutrino::congestion
