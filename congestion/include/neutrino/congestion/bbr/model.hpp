#pragma once
/// \file
/// The network path model of BBR and the control parameters derived from it, shared by the
/// per-state files (`startup.hpp`, `drain.hpp`, `probe_bw.hpp`, `probe_rtt.hpp`).
///
/// spec: draft-ietf-ccwg-bbr (BBRv3), "Network Path Model" (max_bw over two ProbeBW cycles,
/// min_rtt with its 10 s window and the 5 s ProbeRTT interval, round counting), "Updating the
/// Model Upon Packet Loss" (inflight_hi, inflight_lo, bw_lo), "Pacing Rate", "Send Quantum",
/// "Congestion Window" (max_inflight = cwnd_gain × BDP + extra_acked, quantization budget).
///
/// The pieces live in namespace `neutrino::congestion::bbr_detail` (the class `bbr` owns the
/// name `bbr` in `neutrino::congestion`). Byte quantities are `double` here: the draft's
/// "Infinity" bounds are `+inf`, and the gains are fractional.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "neutrino/congestion/bbr/config.hpp"
#include "neutrino/congestion/controller.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion::bbr_detail {

/// The draft's "Infinity" for byte counts and rates.
inline constexpr double infinite = std::numeric_limits<double>::infinity();

// Constants of draft-ietf-ccwg-bbr "Parameters" (names as in the draft, snake_case).
/// StartupPacingGain = 4 ln 2: the smallest gain that doubles the sending rate each round.
inline constexpr double startup_pacing_gain = 2.77;
/// StartupCwndGain.
inline constexpr double default_cwnd_gain = 2.0;
/// DrainPacingGain: about 1 / 2.885, drains Startup's queue in about one round.
inline constexpr double drain_pacing_gain = 0.35;
/// Pacing gains of the four ProbeBW phases.
inline constexpr double probe_bw_down_pacing_gain = 0.9;
inline constexpr double probe_bw_cruise_pacing_gain = 1.0;
inline constexpr double probe_bw_refill_pacing_gain = 1.0;
inline constexpr double probe_bw_up_pacing_gain = 1.25;
/// cwnd gain in ProbeBW_UP (2 elsewhere).
inline constexpr double probe_bw_up_cwnd_gain = 2.25;
/// PacingMarginPercent: pace 1% below the estimated bandwidth.
inline constexpr double pacing_margin_percent = 1.0;
/// LossThresh: the loss rate in a round above which inflight is "too high".
inline constexpr double loss_thresh = 0.02;
/// Beta: the multiplicative decrease on loss.
inline constexpr double beta = 0.7;
/// Headroom: the share of inflight_hi left free in ProbeBW_CRUISE and ProbeRTT.
inline constexpr double headroom = 0.15;
/// StartupFullLossCnt: loss events in a round that, with a loss rate above LossThresh, end
/// Startup.
inline constexpr std::uint32_t startup_full_loss_count = 6;
/// Rounds without 25% bandwidth growth that mean the pipe is full.
inline constexpr std::uint32_t full_bw_count_threshold = 3;
/// Growth of max_bw in a round that counts as "still growing".
inline constexpr double full_bw_growth = 1.25;
/// MinRTTFilterLen: how long a min_rtt stands.
inline constexpr duration min_rtt_filter_len = std::chrono::seconds{10};
/// ProbeRTTInterval: how often ProbeRTT measures min_rtt again.
inline constexpr duration probe_rtt_interval = std::chrono::seconds{5};
/// ProbeRTTDuration: the least time ProbeRTT holds inflight down.
inline constexpr duration probe_rtt_duration = std::chrono::milliseconds{200};
/// ProbeRTTCwndGain: the ProbeRTT window as a multiple of the BDP.
inline constexpr double probe_rtt_cwnd_gain = 0.5;
/// ExtraAckedFilterLen, rounds.
inline constexpr std::size_t extra_acked_filter_len = 10;
/// The upper limit of the send quantum, bytes (64 KiB).
inline constexpr double max_send_quantum = 64.0 * 1024.0;

/// Seconds in a duration, as a double.
[[nodiscard]] constexpr double seconds_of(duration d) noexcept {
    return std::chrono::duration<double>(d).count();
}

/// xorshift64* (Marsaglia / Vigna): the small deterministic generator behind the draft's random
/// ProbeBW wait. Not for anything that must be unpredictable.
class xorshift64 {
public:
    /// A generator started from `seed` (zero is replaced by a fixed non-zero value).
    explicit constexpr xorshift64(std::uint64_t seed) noexcept
        : state_(seed == 0 ? 0x9e3779b97f4a7c15ULL : seed) {}

    /// The next 64 random bits.
    constexpr std::uint64_t next() noexcept {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dULL;
    }
    /// A double uniformly in [0, 1).
    constexpr double next_unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// An integer uniformly in [0, n) (n > 0; modulo bias is negligible for the small n used).
    constexpr std::uint64_t next_below(std::uint64_t n) noexcept { return next() % n; }

private:
    std::uint64_t state_;
};

/// BBR.MaxBwFilter: the maximum delivery rate over the current and the previous ProbeBW cycle
/// (MaxBwFilterLen = 2 cycles), bytes/s. `advance()` starts a new cycle (BBRAdvanceMaxBwFilter).
class max_bw_filter {
public:
    /// Takes one delivery-rate sample into the current cycle.
    constexpr void update(double bw) noexcept { slots_[0] = std::max(slots_[0], bw); }
    /// Starts a new cycle: the previous one is forgotten, the current one becomes previous.
    constexpr void advance() noexcept {
        slots_[1] = slots_[0];
        slots_[0] = 0.0;
    }
    /// The windowed maximum, 0 before any sample.
    [[nodiscard]] constexpr double get() const noexcept { return std::max(slots_[0], slots_[1]); }
    /// Forgets everything.
    constexpr void reset() noexcept { slots_ = {}; }

private:
    std::array<double, 2> slots_{};  // [0] current cycle, [1] previous cycle
};

/// A maximum over the last `N` rounds (BBR.ExtraACKedFilter): one slot per round, cleared as
/// rounds pass.
template <std::size_t N>
class round_max_filter {
public:
    /// Takes `value` in round `round`; rounds never go backwards.
    constexpr void update(double value, std::uint64_t round) noexcept {
        if (round != round_) {
            const std::uint64_t gap = round - round_;
            for (std::uint64_t i = 1; i <= std::min<std::uint64_t>(gap, N); ++i) {
                slots_[static_cast<std::size_t>((round_ + i) % N)] = 0.0;
            }
            round_ = round;
        }
        auto& slot = slots_[static_cast<std::size_t>(round % N)];
        slot = std::max(slot, value);
    }
    /// The maximum over the window, 0 before any sample.
    [[nodiscard]] constexpr double get() const noexcept {
        return *std::max_element(slots_.begin(), slots_.end());
    }

private:
    std::array<double, N> slots_{};
    std::uint64_t round_ = 0;
};

/// The draft's rate sample "rs" for the acknowledgement being processed, derived from an
/// `ack_sample`.
struct rate_sample {
    /// rs.delivery_rate, bytes/s (0 when unknown).
    double delivery_rate = 0.0;
    /// rs.delivered: bytes delivered over the sample's interval.
    double delivered = 0.0;
    /// rs.prior_delivered: C.delivered when the newest acknowledged packet was sent.
    std::uint64_t prior_delivered = 0;
    /// rs.tx_in_flight, bytes.
    double tx_in_flight = 0.0;
    /// rs.lost, bytes.
    double lost = 0.0;
    /// rs.is_app_limited.
    bool app_limited = false;
    /// rs.rtt; negative when this acknowledgement produced no RTT sample.
    duration rtt{-1};
    /// rs.newly_acked, bytes.
    double newly_acked = 0.0;
    /// Whether the sender measured a rate sample (round counting needs rs.prior_delivered).
    bool valid = false;
};

/// All BBR state: the path model, the state machine's variables and the control parameters.
/// The per-state files and `bbr` operate on it; each member is the draft's `BBR.<name>` or
/// `C.<name>` of the same name unless its comment says otherwise.
struct model {
    /// Starts the model (BBROnInit without BBREnterStartup, which `bbr` does).
    constexpr model(const bbr_config& config, time_point start) noexcept
        : smss(static_cast<double>(config.max_datagram_size)),
          initial_cwnd(static_cast<double>(config.initial_window_packets) *
                       static_cast<double>(config.max_datagram_size)),
          min_pipe_cwnd(4.0 * static_cast<double>(config.max_datagram_size)),
          cwnd(initial_cwnd),
          min_rtt(config.initial_rtt > duration::zero() ? config.initial_rtt : duration::max()),
          min_rtt_stamp(start),
          probe_rtt_min_stamp(start),
          extra_acked_interval_start(start),
          cycle_stamp(start),
          rng(config.seed) {
        now = start;
        // BBRInitPacingRate: InitialCwnd over SRTT (1 ms without one), times the Startup gain.
        const duration srtt = config.initial_rtt > duration::zero() ? config.initial_rtt
                                                                    : std::chrono::milliseconds{1};
        pacing_rate = startup_pacing_gain * initial_cwnd / seconds_of(srtt);
        send_quantum = 2.0 * smss;
    }

    // Configuration.
    /// SMSS, bytes.
    double smss;
    /// InitialCwnd, bytes.
    double initial_cwnd;
    /// BBRMinPipeCwnd = 4 × SMSS, bytes.
    double min_pipe_cwnd;

    // Control parameters (outputs).
    /// The congestion window, bytes.
    double cwnd;
    /// The pacing rate, bytes/s.
    double pacing_rate = 0.0;
    /// The send quantum, bytes.
    double send_quantum = 0.0;
    /// The gains of the current state.
    double pacing_gain = startup_pacing_gain;
    double cwnd_gain = default_cwnd_gain;
    /// The window saved on entering ProbeRTT or persistent congestion, bytes.
    double prior_cwnd = 0.0;

    // State machine.
    bbr_state state = bbr_state::startup;

    // The acknowledgement being processed.
    /// Its rate sample.
    rate_sample rs{};
    /// When it arrived.
    time_point now{};
    /// C.inflight: bytes in flight after it.
    double inflight = 0.0;
    /// C.delivered, bytes.
    std::uint64_t delivered = 0;
    /// When an acknowledgement last delivered bytes, inferred deliveries (`ack_sample::inferred`)
    /// aside (not in the draft): Startup's loss exit at a loss waits for the cumulative
    /// acknowledgement to stall (see check_startup_high_loss_at_loss).
    time_point acked_at{};

    // Round counting.
    std::uint64_t next_round_delivered = 0;
    std::uint64_t round_count = 0;
    bool round_start = false;

    // Bandwidth.
    max_bw_filter max_bw_window{};
    /// BBR.max_bw, bytes/s.
    double max_bw = 0.0;
    /// BBR.bw = min(max_bw, bw_lo), bytes/s.
    double bw = 0.0;
    /// BBR.bw_lo, bytes/s.
    double bw_lo = infinite;
    /// BBR.bw_latest, bytes/s.
    double bw_latest = 0.0;
    /// BBR.inflight_latest, bytes.
    double inflight_latest = 0.0;
    /// BBR.inflight_hi, BBR.inflight_lo, bytes.
    double inflight_hi = infinite;
    double inflight_lo = infinite;
    /// BBR.cycle_count: ProbeBW cycles (max-bw filter time).
    std::uint64_t cycle_count = 0;

    // Min RTT.
    duration min_rtt;
    time_point min_rtt_stamp;
    duration probe_rtt_min_delay = duration::max();
    time_point probe_rtt_min_stamp;
    bool probe_rtt_expired = false;
    /// BBR.probe_rtt_done_stamp; `has_probe_rtt_done_stamp` stands for the draft's "!= 0".
    time_point probe_rtt_done_stamp{};
    bool has_probe_rtt_done_stamp = false;
    bool probe_rtt_round_done = false;
    bool idle_restart = false;

    // Full pipe (Startup and ProbeBW_UP).
    /// BBR.full_bw: the delivery rate the plateau check compares against, bytes/s.
    double full_bw = 0.0;
    /// Rounds without 25% growth over full_bw.
    std::uint32_t full_bw_count = 0;
    /// Whether the pipe is full since the plateau check last restarted (ends ProbeBW_UP).
    bool full_bw_now = false;
    /// Whether the pipe was ever full (ends Startup).
    bool full_bw_reached = false;

    // Congestion signals.
    bool loss_round_start = false;
    std::uint64_t loss_round_delivered = 0;
    bool loss_in_round = false;
    std::uint32_t loss_events_in_round = 0;
    /// Bytes declared lost in this loss round, and C.delivered when it started (not in the
    /// draft): the round's loss rate, for the lower bounds' loss response (see
    /// adapt_lower_bounds_from_congestion).
    double loss_bytes_in_round = 0.0;
    std::uint64_t loss_round_base = 0;
    /// Moving average of the loss rounds' loss rates (weight 1/4 per round; not in the draft).
    double loss_rate_average = 0.0;
    /// Loss events of the loss round that ended at the last loss round start (not in the
    /// draft, which reads the count before resetting it; here the reset happens first).
    std::uint32_t loss_events_in_last_round = 0;

    // ACK aggregation.
    round_max_filter<extra_acked_filter_len> extra_acked_filter{};
    /// BBR.extra_acked, bytes.
    double extra_acked = 0.0;
    time_point extra_acked_interval_start;
    double extra_acked_delivered = 0.0;

    // ProbeBW.
    time_point cycle_stamp;
    duration bw_probe_wait{};
    std::uint64_t rounds_since_bw_probe = 0;
    std::uint32_t bw_probe_up_rounds = 0;
    double bw_probe_up_acks = 0.0;
    double probe_up_cnt = infinite;
    bool bw_probe_samples = false;

    /// The generator behind BBRPickProbeWait.
    xorshift64 rng;

    // --- Helpers of the draft, shared by several states -------------------------------------

    /// Takes in an acknowledgement: C.delivered, C.inflight, Now() and the rate sample.
    constexpr void begin_ack(const ack_sample& s) noexcept {
        now = s.now;
        if (s.bytes > 0 && !s.inferred) acked_at = s.now;
        inflight = static_cast<double>(s.bytes_in_flight);
        delivered = std::max(delivered, s.delivered);
        rs = rate_sample{};
        rs.newly_acked = static_cast<double>(s.bytes);
        rs.rtt = s.rtt > duration::zero() ? s.rtt : duration{-1};
        rs.app_limited = s.app_limited;
        rs.tx_in_flight = static_cast<double>(s.tx_in_flight);
        rs.lost = static_cast<double>(s.lost);
        rs.valid = s.interval_delivered > 0 && s.interval_delivered <= s.delivered;
        if (rs.valid) {
            rs.delivered = static_cast<double>(s.interval_delivered);
            rs.prior_delivered = s.delivered - s.interval_delivered;
            rs.delivery_rate = s.delivery_rate_bytes_per_s;
            if (rs.delivery_rate <= 0.0 && s.interval > duration::zero()) {
                rs.delivery_rate = rs.delivered / seconds_of(s.interval);
            }
        }
    }

    /// Whether the window limited sending before this acknowledgement (is_cwnd_limited):
    /// what was in flight left no room for another datagram.
    [[nodiscard]] constexpr bool cwnd_limited() const noexcept {
        return inflight + rs.newly_acked + smss > cwnd;
    }

    /// BBRResetFullBW: restarts the plateau check.
    constexpr void reset_full_bw() noexcept {
        full_bw = 0.0;
        full_bw_count = 0;
        full_bw_now = false;
    }

    /// BBRCheckFullBWReached (draft §4.3.1.2, "Exiting Acceleration Based on Bandwidth
    /// Plateau"), run on every acknowledgement in every state: a delivery rate 25% above
    /// full_bw restarts the check from it; three round starts without one mean the pipe is
    /// full (full_bw_now, which ends ProbeBW_UP, and full_bw_reached, which ends Startup).
    /// App-limited samples are skipped.
    constexpr void check_full_bw_reached() noexcept {
        if (full_bw_now || !rs.valid || rs.app_limited) return;
        if (rs.delivery_rate >= full_bw * full_bw_growth) {
            reset_full_bw();
            full_bw = rs.delivery_rate;
            return;
        }
        if (!round_start) return;
        ++full_bw_count;
        full_bw_now = full_bw_count >= full_bw_count_threshold;
        if (full_bw_now) full_bw_reached = true;
    }

    /// Whether the state is one of the four ProbeBW phases (IsInAProbeBWState).
    [[nodiscard]] constexpr bool in_probe_bw() const noexcept {
        return state == bbr_state::probe_bw_down || state == bbr_state::probe_bw_cruise ||
               state == bbr_state::probe_bw_refill || state == bbr_state::probe_bw_up;
    }
    /// BBRIsProbingBW: Startup, ProbeBW_REFILL or ProbeBW_UP.
    [[nodiscard]] constexpr bool probing_bw() const noexcept {
        return state == bbr_state::startup || state == bbr_state::probe_bw_refill ||
               state == bbr_state::probe_bw_up;
    }

    /// BBRStartRound: the round ends when a packet sent after now is acknowledged.
    constexpr void start_round() noexcept { next_round_delivered = delivered; }

    /// BBRUpdateRound: a round starts when a packet sent at or after the last round start is
    /// acknowledged.
    constexpr void update_round() noexcept {
        round_start = false;
        if (rs.valid && rs.prior_delivered >= next_round_delivered) {
            start_round();
            ++round_count;
            ++rounds_since_bw_probe;
            round_start = true;
        }
    }

    /// BBRUpdateLatestDeliverySignals.
    constexpr void update_latest_delivery_signals() noexcept {
        loss_round_start = false;
        if (!rs.valid) return;
        bw_latest = std::max(bw_latest, rs.delivery_rate);
        inflight_latest = std::max(inflight_latest, rs.delivered);
        if (rs.prior_delivered >= loss_round_delivered) {
            loss_round_delivered = delivered;
            loss_round_start = true;
        }
    }
    /// BBRAdvanceLatestDeliverySignals.
    constexpr void advance_latest_delivery_signals() noexcept {
        if (loss_round_start) {
            bw_latest = rs.delivery_rate;
            inflight_latest = rs.delivered;
        }
    }

    /// BBRUpdateMaxBw (round counting included): an app-limited sample counts only when it does
    /// not lower the estimate.
    constexpr void update_max_bw() noexcept {
        update_round();
        if (rs.valid && rs.delivery_rate > 0.0 && (rs.delivery_rate >= max_bw || !rs.app_limited)) {
            max_bw_window.update(rs.delivery_rate);
            max_bw = max_bw_window.get();
        }
    }
    /// BBRAdvanceMaxBwFilter: a new ProbeBW cycle for the max-bw filter.
    constexpr void advance_max_bw_filter() noexcept {
        ++cycle_count;
        max_bw_window.advance();
        max_bw = max_bw_window.get();
    }

    /// BBRResetCongestionSignals.
    constexpr void reset_congestion_signals() noexcept {
        loss_in_round = false;
        loss_events_in_round = 0;
        loss_bytes_in_round = 0.0;
        loss_round_base = delivered;
        bw_latest = 0.0;
        inflight_latest = 0.0;
    }
    /// BBRResetLowerBounds.
    constexpr void reset_lower_bounds() noexcept {
        bw_lo = infinite;
        inflight_lo = infinite;
    }
    /// BBRInitLowerBounds.
    constexpr void init_lower_bounds() noexcept {
        if (bw_lo == infinite) bw_lo = max_bw;
        if (inflight_lo == infinite) inflight_lo = cwnd;
    }
    /// BBRLossLowerBounds: multiplicative decrease, but not below what the last round delivered.
    constexpr void loss_lower_bounds() noexcept {
        bw_lo = std::max(bw_latest, beta * bw_lo);
        inflight_lo = std::max(inflight_latest, beta * inflight_lo);
    }
    /// Folds the loss round that just ended (lost / (delivered + lost) in it) into
    /// `loss_rate_average`, a moving average over about four rounds, and says whether that
    /// average is above LossThresh (2%).
    constexpr bool round_loss_above_thresh() noexcept {
        const double delivered_in_round = static_cast<double>(delivered - std::min(delivered, loss_round_base));
        const double sent = delivered_in_round + loss_bytes_in_round;
        const double round_rate = sent > 0.0 ? loss_bytes_in_round / sent : 0.0;
        loss_rate_average = 0.75 * loss_rate_average + 0.25 * round_rate;
        return loss_rate_average > loss_thresh;
    }
    /// BBRAdaptLowerBoundsFromCongestion: once per round with loss, outside bandwidth probing.
    /// Deviation: a lossy round cuts the lower bounds only while the loss rate, averaged over
    /// about four rounds, is above LossThresh (the threshold the draft uses for inflight_hi):
    /// a queue overflowing loses far more than 2% in a round, random loss of 1% does not, even
    /// when two losses fall into one small round. The cut keeps max(bw_latest, 0.7 bw_lo) and
    /// max(inflight_latest, 0.7 inflight_lo), so it relies on delivery signals that follow the
    /// path through a loss; with a cumulative acknowledgement (no SACK: Neutrino's wire) they
    /// stall behind every hole, and 1% random loss, which cuts in nearly every round, brought a
    /// 100 Mbit/s x 40 ms path down to 3-9 Mbit/s (bottleneck lab) and the model to 64%.
    constexpr void adapt_lower_bounds_from_congestion() noexcept {
        const bool above = round_loss_above_thresh();  // every round counts in the average
        if (probing_bw()) return;
        if (loss_in_round && above) {
            init_lower_bounds();
            loss_lower_bounds();
        }
    }
    /// BBRUpdateCongestionSignals.
    constexpr void update_congestion_signals() noexcept {
        update_max_bw();
        if (!loss_round_start) return;
        adapt_lower_bounds_from_congestion();
        loss_events_in_last_round = loss_events_in_round;
        loss_in_round = false;
        loss_events_in_round = 0;
        loss_bytes_in_round = 0.0;
        loss_round_base = delivered;
    }
    /// BBRBoundBWForModel.
    constexpr void bound_bw_for_model() noexcept { bw = std::min(max_bw, bw_lo); }

    /// BBRNoteLoss: a datagram of `bytes` was declared lost.
    constexpr void note_loss(double bytes) noexcept {
        if (!loss_in_round) loss_round_delivered = delivered;
        loss_in_round = true;
        ++loss_events_in_round;
        loss_bytes_in_round += bytes;
    }

    /// BBRUpdateMinRTT: min_rtt over MinRTTFilterLen, and the ProbeRTT clock.
    constexpr void update_min_rtt() noexcept {
        probe_rtt_expired = now > probe_rtt_min_stamp + probe_rtt_interval;
        if (rs.rtt >= duration::zero() && (rs.rtt < probe_rtt_min_delay || probe_rtt_expired)) {
            probe_rtt_min_delay = rs.rtt;
            probe_rtt_min_stamp = now;
        }
        const bool min_rtt_expired = now > min_rtt_stamp + min_rtt_filter_len;
        if (probe_rtt_min_delay < min_rtt || min_rtt_expired) {
            min_rtt = probe_rtt_min_delay;
            min_rtt_stamp = probe_rtt_min_stamp;
        }
    }

    /// BBRUpdateACKAggregation: how much more than bw × interval has been acknowledged.
    constexpr void update_ack_aggregation() noexcept {
        const double interval = seconds_of(now - extra_acked_interval_start);
        double expected = bw * interval;
        if (extra_acked_delivered <= expected) {
            extra_acked_delivered = 0.0;
            extra_acked_interval_start = now;
            expected = 0.0;
        }
        extra_acked_delivered += rs.newly_acked;
        const double extra = std::min(extra_acked_delivered - expected, cwnd);
        extra_acked_filter.update(extra, round_count);
        extra_acked = full_bw_reached ? extra_acked_filter.get() : extra;
    }

    /// BBRBDPMultiple: gain × bw × min_rtt, bytes (InitialCwnd while min_rtt is unknown).
    [[nodiscard]] constexpr double bdp_multiple(double bandwidth, double gain) const noexcept {
        if (min_rtt == duration::max()) return initial_cwnd;
        return gain * bandwidth * seconds_of(min_rtt);
    }
    /// BBRQuantizationBudget: room for the offload budget (3 send quanta), at least
    /// BBRMinPipeCwnd, and 2 SMSS more in ProbeBW_UP.
    [[nodiscard]] constexpr double quantization_budget(double bytes) const noexcept {
        bytes = std::max({bytes, 3.0 * send_quantum, min_pipe_cwnd});
        if (state == bbr_state::probe_bw_up) bytes += 2.0 * smss;
        return bytes;
    }
    /// BBRInflight: the quantized gain × BDP.
    [[nodiscard]] constexpr double inflight_for(double bandwidth, double gain) const noexcept {
        return quantization_budget(bdp_multiple(bandwidth, gain));
    }
    /// BBRInflightWithHeadroom: inflight_hi less 15% (at least one SMSS) of headroom.
    [[nodiscard]] constexpr double inflight_with_headroom() const noexcept {
        if (inflight_hi == infinite) return infinite;
        const double room = std::max(smss, headroom * inflight_hi);
        return std::max(inflight_hi - room, min_pipe_cwnd);
    }
    /// BBRTargetInflight: min(BDP, cwnd), bytes.
    [[nodiscard]] constexpr double target_inflight() const noexcept {
        return std::min(bdp_multiple(bw, 1.0), cwnd);
    }
    /// IsInflightTooHigh: losses above LossThresh of what was in flight.
    [[nodiscard]] static constexpr bool inflight_too_high(double lost,
                                                          double tx_in_flight) noexcept {
        return lost > tx_in_flight * loss_thresh;
    }

    /// BBRSetPacingRateWithGain: gain × bw less the 1% margin; in Startup the rate never falls.
    constexpr void set_pacing_rate_with_gain(double gain) noexcept {
        const double rate = gain * bw * (100.0 - pacing_margin_percent) / 100.0;
        if (rate > 0.0 && (full_bw_reached || rate > pacing_rate)) pacing_rate = rate;
    }
    /// BBRSetSendQuantum: 1 ms at the pacing rate, within [2 SMSS, 64 KiB].
    constexpr void set_send_quantum() noexcept {
        send_quantum = std::max(std::min(pacing_rate * 1e-3, max_send_quantum), 2.0 * smss);
    }

    /// BBRSaveCwnd.
    constexpr void save_cwnd() noexcept {
        prior_cwnd = state == bbr_state::probe_rtt ? std::max(prior_cwnd, cwnd) : cwnd;
    }
    /// BBRRestoreCwnd.
    constexpr void restore_cwnd() noexcept { cwnd = std::max(cwnd, prior_cwnd); }
    /// BBRProbeRTTCwnd: half a BDP, at least BBRMinPipeCwnd.
    [[nodiscard]] constexpr double probe_rtt_cwnd() const noexcept {
        return std::max(bdp_multiple(bw, probe_rtt_cwnd_gain), min_pipe_cwnd);
    }

    /// BBRSetCwnd without loss-recovery modulation: grow toward max_inflight by what was
    /// acknowledged, then bound for ProbeRTT and for the model (inflight_hi, inflight_lo).
    constexpr void set_cwnd() noexcept {
        // BBRUpdateMaxInflight
        const double max_inflight = quantization_budget(bdp_multiple(bw, cwnd_gain) + extra_acked);
        if (full_bw_reached) {
            cwnd = std::min(cwnd + rs.newly_acked, max_inflight);
        } else if (cwnd < max_inflight || static_cast<double>(delivered) < initial_cwnd) {
            cwnd += rs.newly_acked;
        }
        cwnd = std::max(cwnd, min_pipe_cwnd);
        // BBRBoundCwndForProbeRTT
        if (state == bbr_state::probe_rtt) cwnd = std::min(cwnd, probe_rtt_cwnd());
        // BBRBoundCwndForModel
        double cap = infinite;
        if (in_probe_bw() && state != bbr_state::probe_bw_cruise) {
            cap = inflight_hi;
        } else if (state == bbr_state::probe_rtt || state == bbr_state::probe_bw_cruise) {
            cap = inflight_with_headroom();
        }
        cap = std::max(std::min(cap, inflight_lo), min_pipe_cwnd);
        cwnd = std::min(cwnd, cap);
    }
};

}  // namespace neutrino::congestion::bbr_detail
