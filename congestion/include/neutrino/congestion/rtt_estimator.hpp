#pragma once
/// \file
/// Round-trip time estimation as RFC 9002 §5 describes it: latest, minimum, smoothed RTT and
/// its variation, and the probe timeout derived from them.

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// RTT estimator of one path (RFC 9002 §5, with erratum 7539: rttvar is updated before
/// smoothed_rtt).
///
/// The caller measures each sample itself (the time from sending the largest newly acknowledged
/// ack-eliciting packet to receiving its acknowledgement, RFC 9002 §5.1) and passes it with the
/// peer's reported acknowledgement delay and `now`. The estimator reads no clock and allocates
/// nothing; every member is `noexcept` except the constructor. Not thread-safe: one owner.
///
/// Before the first sample, `smoothed()` is the initial RTT, `variance()` half of it, and
/// `latest()` and `min_rtt()` are zero (RFC 9002 Appendix A.4).
///
/// min_rtt expiry: RFC 9002 §5.2 keeps the minimum for the whole connection, so it can never
/// follow an RTT that grows. Here the minimum also remembers when it was last set (a sample equal
/// to it sets it again); once `now` is more than `min_rtt_window` after that, the next sample
/// replaces the minimum whatever its value. With an infinite window (`duration::max()`) this is
/// plain RFC 9002 behaviour.
class rtt_estimator {
public:
    /// RFC 9002 §6.2.2 kInitialRtt: the RTT assumed before any sample.
    static constexpr duration default_initial_rtt = std::chrono::milliseconds{333};
    /// How long a minimum RTT stands before the next sample replaces it.
    static constexpr duration default_min_rtt_window = std::chrono::seconds{10};
    /// RFC 9002 §6.1.2 kGranularity: the smallest variation term `pto` uses.
    static constexpr duration timer_granularity = std::chrono::milliseconds{1};

    /// An estimator with the RFC 9002 initial RTT (333 ms) and a 10 s min_rtt window.
    constexpr rtt_estimator() noexcept = default;

    /// An estimator assuming `initial_rtt` until the first sample (e.g. a resumed connection's
    /// last smoothed RTT, RFC 9002 §6.2.2) whose minimum RTT expires after `min_rtt_window`.
    /// Throws `std::invalid_argument` when either is not positive.
    explicit constexpr rtt_estimator(duration initial_rtt,
                                     duration min_rtt_window = default_min_rtt_window)
        : initial_rtt_(initial_rtt),
          min_rtt_window_(min_rtt_window),
          smoothed_(initial_rtt),
          rttvar_(initial_rtt / 2) {
        if (initial_rtt <= duration::zero()) {
            throw std::invalid_argument("rtt_estimator: initial_rtt must be positive");
        }
        if (min_rtt_window <= duration::zero()) {
            throw std::invalid_argument("rtt_estimator: min_rtt_window must be positive");
        }
    }

    /// Takes one RTT sample (RFC 9002 §5.2, §5.3).
    ///
    /// \param latest     the measured RTT (latest_rtt); negative values count as zero.
    /// \param ack_delay  the delay the peer reports having held the acknowledgement; negative
    ///                   values count as zero. Once the handshake is confirmed the caller clamps it
    ///                   to the peer's max_ack_delay (RFC 9002 §5.3). It is ignored on the first
    ///                   sample, and on a later one it is subtracted only when
    ///                   `latest >= min_rtt() + ack_delay`, so that the adjusted sample never falls
    ///                   below the minimum.
    /// \param now        when the acknowledgement arrived; it dates the minimum RTT.
    ///
    /// The minimum is updated (or expires, see the class comment) from the unadjusted `latest`
    /// before the adjustment is decided.
    constexpr void on_sample(duration latest, duration ack_delay, time_point now) noexcept {
        latest = std::max(latest, duration::zero());
        ack_delay = std::max(ack_delay, duration::zero());
        latest_ = latest;
        if (!has_sample_) {
            has_sample_ = true;
            min_rtt_ = latest;
            min_rtt_stamp_ = now;
            smoothed_ = latest;
            rttvar_ = latest / 2;
            return;
        }
        if (latest <= min_rtt_ || now - min_rtt_stamp_ > min_rtt_window_) {
            min_rtt_ = latest;
            min_rtt_stamp_ = now;
        }
        // min_rtt_ <= latest here, so the difference cannot overflow whatever the peer reported.
        duration adjusted = latest;
        if (latest - min_rtt_ >= ack_delay) adjusted = latest - ack_delay;
        // rttvar first, from the previous smoothed_rtt (RFC 9002 erratum 7539, RFC 6298 §2).
        rttvar_ = (3 * rttvar_ + std::chrono::abs(smoothed_ - adjusted)) / 4;
        smoothed_ = (7 * smoothed_ + adjusted) / 8;
    }

    /// The last sample as given (latest_rtt), zero before the first.
    [[nodiscard]] constexpr duration latest() const noexcept { return latest_; }
    /// smoothed_rtt: the initial RTT before the first sample.
    [[nodiscard]] constexpr duration smoothed() const noexcept { return smoothed_; }
    /// rttvar, the mean deviation of the samples: half the initial RTT before the first sample.
    [[nodiscard]] constexpr duration variance() const noexcept { return rttvar_; }
    /// The smallest sample within the expiry window (not adjusted for ack delay), zero before
    /// the first sample.
    [[nodiscard]] constexpr duration min_rtt() const noexcept { return min_rtt_; }
    /// Whether a sample has been taken since construction or `reset()`.
    [[nodiscard]] constexpr bool has_sample() const noexcept { return has_sample_; }

    /// The probe timeout period (RFC 9002 §6.2.1):
    /// `smoothed() + max(4 × variance(), 1 ms) + max_ack_delay`. Pass zero for `max_ack_delay`
    /// where the peer does not delay acknowledgements (RFC 9002 uses zero before the handshake
    /// is confirmed). Backoff is the caller's.
    [[nodiscard]] constexpr duration pto(duration max_ack_delay) const noexcept {
        return smoothed_ + std::max<duration>(4 * rttvar_, timer_granularity) + max_ack_delay;
    }

    /// Forgets every sample: back to the state of construction (same initial RTT and window).
    constexpr void reset() noexcept {
        latest_ = duration::zero();
        smoothed_ = initial_rtt_;
        rttvar_ = initial_rtt_ / 2;
        min_rtt_ = duration::zero();
        min_rtt_stamp_ = time_point{};
        has_sample_ = false;
    }

private:
    duration initial_rtt_ = default_initial_rtt;
    duration min_rtt_window_ = default_min_rtt_window;
    duration latest_{};
    duration smoothed_ = default_initial_rtt;
    duration rttvar_ = default_initial_rtt / 2;
    duration min_rtt_{};
    time_point min_rtt_stamp_{};
    bool has_sample_ = false;
};

}  // namespace neutrino::congestion
