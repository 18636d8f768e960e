#pragma once
/// \file
/// `cubic`: CUBIC congestion control (RFC 9438) with HyStart++ slow start (RFC 9406), paced at
/// a multiple of cwnd / smoothed RTT.
///
/// Units: the window is kept in bytes; the cubic function works in segments of
/// `max_datagram_size` bytes and seconds, as RFC 9438 writes it.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// What a `cubic` controller starts from. The defaults are the RFCs'.
struct cubic_config {
    /// Bytes of one full datagram (SMSS).
    std::size_t max_datagram_size = 1200;
    /// Initial window, datagrams (RFC 9002 §7.2: 10).
    std::size_t initial_window_packets = 10;
    /// Smallest window, datagrams (RFC 9002 §7.2 kMinimumWindow: 2).
    std::size_t minimum_window_packets = 2;
    /// Largest window, bytes (the sender's buffer bounds it anyway).
    std::size_t maximum_window = std::size_t{64} << 20;
    /// RFC 9438 §5.1 C.
    double c = 0.4;
    /// RFC 9438 §4.6 β_cubic: the window after a congestion event, as a fraction of before.
    double beta = 0.7;
    /// RFC 9438 §4.7 fast convergence.
    bool fast_convergence = true;
    /// Pacing rate = gain × cwnd / smoothed RTT (as Linux: 2 in slow start, 1.2 after).
    double slow_start_pacing_gain = 2.0;
    double avoidance_pacing_gain = 1.2;
};

/// CUBIC (RFC 9438) with HyStart++ (RFC 9406); models `congestion_controller`.
///
/// - **Slow start** grows the window by the bytes acknowledged. HyStart++ watches each round's
///   minimum RTT: once it rises by more than clamp(min_rtt / 8, 4 ms, 16 ms) over the previous
///   round's, growth slows to a quarter (conservative slow start) for up to 5 rounds, then
///   congestion avoidance starts with W_max = cwnd, unless the RTT falls back first.
/// - **Congestion avoidance** follows W_cubic(t) = C·(t − K)³ + W_max, never below the
///   Reno-friendly estimate W_est (§4.3), with the target bounded to 1.5 × cwnd (§4.4).
/// - **A congestion event** (the first loss of a packet sent after the last event began)
///   sets W_max (with fast convergence), ssthresh = cwnd = β × cwnd, and starts a recovery
///   period in which further losses and acknowledgements change nothing (RFC 9002 §7.3.2). It
///   ends when a packet sent after it began is acknowledged (`ack_sample::sent`), or one
///   smoothed RTT later when the sender does not report send times.
/// - **Persistent congestion** collapses the window to the minimum (RFC 9002 §7.6.2); an
///   **idle restart** moves the epoch forward by the idle time, so the curve resumes where it
///   stopped (RFC 9438 §5.8).
/// - The window grows only while the sender uses it: an acknowledgement with less than half
///   the window in flight before it (the sender was application- or pacing-limited) leaves it.
///
/// Reads no clock, allocates nothing; every member but the constructor is `noexcept`.
class cubic {
public:
    /// The phase the controller is in (for observers).
    enum class phase : std::uint8_t { slow_start, conservative_slow_start, recovery, avoidance };

    /// A controller configured by `cfg`. Throws `std::invalid_argument` when a size is zero, the
    /// minimum exceeds the initial window, or β or C is outside (0, 1) / (0, ∞).
    explicit cubic(const cubic_config& cfg = {}) : cfg_(cfg) {
        if (cfg.max_datagram_size == 0 || cfg.minimum_window_packets == 0 ||
            cfg.initial_window_packets < cfg.minimum_window_packets ||
            cfg.maximum_window < cfg.initial_window_packets * cfg.max_datagram_size ||
            !(cfg.beta > 0.0 && cfg.beta < 1.0) || !(cfg.c > 0.0)) {
            throw std::invalid_argument("cubic: invalid configuration");
        }
        cwnd_ = cfg.initial_window_packets * cfg.max_datagram_size;
    }
    /// RFC 9438's defaults for a sender of `limits.max_datagram_size`-byte datagrams whose window
    /// never exceeds `limits.maximum_window` (nor falls below the initial window for it).
    explicit cubic(const sender_limits& limits) : cubic(config_for(limits)) {}

    // ---- inputs --------------------------------------------------------------------------------

    /// A datagram of `bytes` went out at `now`.
    void on_sent(std::size_t /*bytes*/, time_point now) noexcept { last_sent_ = now; }

    /// Bytes were acknowledged.
    void on_acknowledged(const ack_sample& s) noexcept {
        if (s.rtt > duration::zero()) take_rtt(s.rtt);
        if (phase_ == phase::recovery) {
            const bool after = s.sent != time_point{} ? s.sent > recovery_start_
                                                      : s.now - recovery_start_ >= smoothed_or_zero();
            if (!after) return;
            phase_ = phase::avoidance;
        }
        if (phase_ != phase::avoidance) {
            round_progress(s);
            round_sample(s.rtt);
        }
        const bool cwnd_limited = 2 * (s.bytes_in_flight + s.bytes) >= cwnd_;
        switch (phase_) {
            case phase::slow_start:
            case phase::conservative_slow_start: slow_start(s, cwnd_limited); break;
            case phase::avoidance:
                if (cwnd_limited) avoid(s);
                break;
            case phase::recovery: break;
        }
    }

    /// A datagram was declared lost.
    void on_lost(const loss_sample& l) noexcept {
        const bool had_event = recovery_start_ != time_point{};
        if (phase_ == phase::recovery || (had_event && l.sent != time_point{} && l.sent <= recovery_start_)) {
            return;  // the same congestion event
        }
        congestion_event(l.now);
    }

    /// Every packet over a long period was lost: back to the minimum window, slow start again.
    void on_persistent_congestion(time_point now) noexcept {
        cwnd_ = min_window();
        ssthresh_ = std::max(ssthresh_ == unlimited ? cwnd_ : ssthresh_, min_window());
        w_max_ = 0.0;
        epoch_ = time_point{};
        recovery_start_ = now;
        phase_ = phase::slow_start;
        reset_hystart();
    }

    /// Sending resumes after an idle period: the epoch moves forward by the time nothing was
    /// sent, so the cubic curve does not jump (RFC 9438 §5.8).
    void on_idle_restart(time_point now) noexcept {
        if (epoch_ != time_point{} && last_sent_ != time_point{} && now > last_sent_) {
            epoch_ += now - last_sent_;
        }
    }

    // ---- outputs -------------------------------------------------------------------------------

    /// The congestion window, bytes.
    [[nodiscard]] std::size_t window() const noexcept { return cwnd_; }
    /// gain × cwnd / smoothed RTT, bytes per second; 0 (unpaced) before the first RTT sample.
    [[nodiscard]] double pacing_rate() const noexcept {
        if (srtt_ <= 0.0) return 0.0;
        const bool growing = phase_ == phase::slow_start || phase_ == phase::conservative_slow_start;
        const double gain = growing ? cfg_.slow_start_pacing_gain : cfg_.avoidance_pacing_gain;
        return gain * static_cast<double>(cwnd_) / srtt_;
    }
    /// `bytes_in_flight < window()`.
    [[nodiscard]] bool can_send(std::size_t bytes_in_flight, time_point /*now*/) const noexcept {
        return bytes_in_flight < cwnd_;
    }

    // ---- observation ---------------------------------------------------------------------------

    [[nodiscard]] phase current_phase() const noexcept { return phase_; }
    /// Slow-start threshold, bytes; `SIZE_MAX` until the first congestion event or HyStart++ exit.
    [[nodiscard]] std::size_t ssthresh() const noexcept { return ssthresh_; }
    /// W_max, bytes: the window before the last reduction (or at HyStart++'s exit).
    [[nodiscard]] double w_max() const noexcept { return w_max_ * mss(); }
    /// K, seconds: when the curve reaches W_max again after the epoch began.
    [[nodiscard]] double k() const noexcept { return k_; }

private:
    [[nodiscard]] static cubic_config config_for(const sender_limits& limits) noexcept {
        cubic_config c;
        c.max_datagram_size = limits.max_datagram_size;
        c.maximum_window = std::max(limits.maximum_window, c.initial_window_packets * limits.max_datagram_size);
        return c;
    }

    static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();
    // RFC 9406 §4.3 constants.
    static constexpr duration min_rtt_thresh = std::chrono::milliseconds{4};
    static constexpr duration max_rtt_thresh = std::chrono::milliseconds{16};
    static constexpr int min_rtt_divisor = 8;
    static constexpr std::uint32_t n_rtt_sample = 8;
    static constexpr std::size_t css_growth_divisor = 4;
    static constexpr int css_rounds = 5;
    static constexpr std::size_t limit_segments = 8;  // L: per-acknowledgement growth bound

    [[nodiscard]] double mss() const noexcept { return static_cast<double>(cfg_.max_datagram_size); }
    [[nodiscard]] std::size_t min_window() const noexcept {
        return cfg_.minimum_window_packets * cfg_.max_datagram_size;
    }
    [[nodiscard]] duration smoothed_or_zero() const noexcept {
        return std::chrono::duration_cast<duration>(std::chrono::duration<double>(srtt_));
    }
    void set_cwnd(double bytes) noexcept {
        const double hi = static_cast<double>(cfg_.maximum_window);
        const double lo = static_cast<double>(min_window());
        cwnd_ = static_cast<std::size_t>(std::clamp(bytes, lo, hi));
    }

    void take_rtt(duration rtt) noexcept {
        const double r = std::chrono::duration<double>(rtt).count();
        srtt_ = srtt_ <= 0.0 ? r : srtt_ + (r - srtt_) / 8.0;
        latest_rtt_ = rtt;
    }

    /// Counts an RTT sample toward this round's minimum (HyStart++).
    void round_sample(duration rtt) noexcept {
        if (rtt <= duration::zero()) return;
        current_round_min_ = std::min(current_round_min_, rtt);
        ++rtt_samples_;
    }

    // ---- HyStart++ (RFC 9406 §4.2) ---------------------------------------------------------------

    void reset_hystart() noexcept {
        last_round_min_ = duration::max();
        current_round_min_ = duration::max();
        css_baseline_ = duration::max();
        rtt_samples_ = 0;
        css_round_count_ = 0;
        round_start_ = time_point{};
    }

    /// Starts a new round when this acknowledgement covers a packet sent after the round began.
    void round_progress(const ack_sample& s) noexcept {
        bool new_round = false;
        if (round_start_ == time_point{}) {
            new_round = true;
        } else if (s.sent != time_point{}) {
            new_round = s.sent > round_start_;
        } else {
            new_round = s.now - round_start_ >= std::max(latest_rtt_, smoothed_or_zero());
        }
        if (!new_round) return;
        // the round ends when a packet sent after its start (after the newest sent so far) is
        // acknowledged
        round_start_ = last_sent_ != time_point{} ? last_sent_ : s.now;
        if (phase_ == phase::conservative_slow_start && ++css_round_count_ >= css_rounds) {
            enter_avoidance_without_loss(s.now);
            return;
        }
        last_round_min_ = current_round_min_;
        current_round_min_ = duration::max();
        rtt_samples_ = 0;
    }

    void slow_start(const ack_sample& s, bool cwnd_limited) noexcept {
        const std::size_t limit = limit_segments * cfg_.max_datagram_size;
        std::size_t grow = std::min(s.bytes, limit);
        const bool samples = rtt_samples_ >= n_rtt_sample && current_round_min_ != duration::max() &&
                             last_round_min_ != duration::max();
        if (phase_ == phase::slow_start) {
            if (samples) {
                const duration thresh =
                    std::clamp<duration>(last_round_min_ / min_rtt_divisor, min_rtt_thresh, max_rtt_thresh);
                if (current_round_min_ >= last_round_min_ + thresh) {
                    css_baseline_ = current_round_min_;
                    css_round_count_ = 0;
                    phase_ = phase::conservative_slow_start;
                }
            }
        } else if (samples && current_round_min_ < css_baseline_) {
            // the RTT increase was spurious: back to slow start
            css_baseline_ = duration::max();
            phase_ = phase::slow_start;
        }
        if (phase_ == phase::conservative_slow_start) grow /= css_growth_divisor;
        if (cwnd_limited) set_cwnd(static_cast<double>(cwnd_) + static_cast<double>(grow));
        if (cwnd_ >= ssthresh_) enter_avoidance_without_loss(s.now);
    }

    /// Leaves slow start with no loss (HyStart++ or ssthresh reached): the curve starts at the
    /// current window, convex from the first acknowledgement (W_max = cwnd, K = 0).
    void enter_avoidance_without_loss(time_point now) noexcept {
        ssthresh_ = cwnd_;
        w_max_ = static_cast<double>(cwnd_) / mss();
        start_epoch(now);
        phase_ = phase::avoidance;
    }

    // ---- CUBIC (RFC 9438 §4) ---------------------------------------------------------------------

    void start_epoch(time_point now) noexcept {
        epoch_ = now;
        const double w = static_cast<double>(cwnd_) / mss();
        w_est_ = w;
        k_ = w_max_ > w ? std::cbrt((w_max_ - w) / cfg_.c) : 0.0;
    }

    void avoid(const ack_sample& s) noexcept {
        if (epoch_ == time_point{}) start_epoch(s.now);
        const double w = static_cast<double>(cwnd_) / mss();
        const double acked = static_cast<double>(s.bytes) / mss();
        // §4.3 Reno-friendly estimate
        const double alpha = 3.0 * (1.0 - cfg_.beta) / (1.0 + cfg_.beta);
        w_est_ += alpha * acked / w;
        // §4.2 target one RTT ahead, §4.4 bounded to [cwnd, 1.5 cwnd]
        const double t = std::chrono::duration<double>(s.now - epoch_).count() + std::max(srtt_, 0.0);
        const double w_cubic = cfg_.c * std::pow(t - k_, 3.0) + w_max_;
        double next = w;
        if (w_cubic < w_est_) {
            next = w_est_;  // Reno-friendly region
        } else {
            const double target = std::clamp(w_cubic, w, 1.5 * w);
            next = w + (target - w) / w * acked;
        }
        set_cwnd(std::max(next, w) * mss());
    }

    void congestion_event(time_point now) noexcept {
        const double w = static_cast<double>(cwnd_) / mss();
        // §4.7 fast convergence: a window that stopped short of the last W_max releases bandwidth
        w_max_ = cfg_.fast_convergence && w < w_max_ ? w * (1.0 + cfg_.beta) / 2.0 : w;
        set_cwnd(static_cast<double>(cwnd_) * cfg_.beta);
        ssthresh_ = cwnd_;
        start_epoch(now);
        recovery_start_ = std::max(now, last_sent_);
        phase_ = phase::recovery;
    }

    cubic_config cfg_;
    std::size_t cwnd_ = 0;
    std::size_t ssthresh_ = unlimited;
    phase phase_ = phase::slow_start;

    // CUBIC state, in segments and seconds
    double w_max_ = 0.0;
    double w_est_ = 0.0;
    double k_ = 0.0;
    time_point epoch_{};

    // recovery
    time_point recovery_start_{};  ///< when the last congestion event began; {} before any
    time_point last_sent_{};

    // RTT, seconds (RFC 6298 smoothing of the samples the sender reports)
    double srtt_ = 0.0;
    duration latest_rtt_{};

    // HyStart++
    duration last_round_min_ = duration::max();
    duration current_round_min_ = duration::max();
    duration css_baseline_ = duration::max();
    std::uint32_t rtt_samples_ = 0;
    int css_round_count_ = 0;
    time_point round_start_{};
};

static_assert(congestion_controller<cubic>);

}  // namespace neutrino::congestion
