#pragma once
/// \file
/// BBR's ProbeBW state and its four phases: DOWN (pacing gain 0.9), CRUISE (1.0), REFILL (1.0),
/// UP (1.25), and the loss-driven upper bound inflight_hi they maintain.
///
/// spec: draft-ietf-ccwg-bbr (BBRv3) §4.3.3 "ProbeBW" and §4.3.3.1–§4.3.3.4 (its phases)
/// (BBRUpdateProbeBWCyclePhase, BBRStartProbeBW_*,
/// BBRCheckTimeToProbeBW, BBRPickProbeWait, BBRIsRenoCoexistenceProbeTime,
/// BBRCheckTimeToCruise, BBRIsTimeToGoDown), §4.5.10.2 "Probing for Bandwidth In ProbeBW" and
/// "Updating the Model Upon Packet Loss" (BBRAdaptUpperBounds,
/// BBRHandleLostPacket, BBRHandleInflightTooHigh, BBRInflightHiFromLostPacket,
/// BBRProbeInflightHiUpward, BBRRaiseInflightHiSlope).
///
/// A cycle: DOWN lasts until inflight is at most the BDP (and below inflight_hi's headroom),
/// then CRUISE until the probe wait (a random 2–3 s, or fewer rounds for Reno coexistence)
/// has elapsed since the cycle started; REFILL for one round at the estimated rate; UP until
/// the delivery rate stops growing (three rounds without 25% growth, BBRIsTimeToGoDown) or
/// loss above 2% says inflight is too high; then DOWN again, which starts a new cycle of the
/// max-bw filter.

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "neutrino/congestion/bbr/model.hpp"

namespace neutrino::congestion::bbr_detail {

/// BBRPickProbeWait: 0 or 1 rounds already counted, and a wait of 2 s plus up to 1 s.
constexpr void pick_probe_wait(model& m) noexcept {
    m.rounds_since_bw_probe = m.rng.next_below(2);
    const double wait_s = 2.0 + m.rng.next_unit();
    m.bw_probe_wait = std::chrono::duration_cast<duration>(std::chrono::duration<double>(wait_s));
}

/// BBRStartProbeBW_DOWN.
constexpr void start_probe_bw_down(model& m) noexcept {
    m.reset_congestion_signals();
    m.probe_up_cnt = infinite;
    pick_probe_wait(m);
    m.cycle_stamp = m.now;
    m.start_round();
    m.state = bbr_state::probe_bw_down;
    m.pacing_gain = probe_bw_down_pacing_gain;
    m.cwnd_gain = default_cwnd_gain;
    // A new cycle of the max-bw filter: the last probe's samples are in the current one.
    if (!m.rs.app_limited) m.advance_max_bw_filter();
}

/// BBRStartProbeBW_CRUISE.
constexpr void start_probe_bw_cruise(model& m) noexcept {
    m.state = bbr_state::probe_bw_cruise;
    m.pacing_gain = probe_bw_cruise_pacing_gain;
    m.cwnd_gain = default_cwnd_gain;
}

/// BBRStartProbeBW_REFILL: the lower bounds are dropped so the probe can use the full model.
constexpr void start_probe_bw_refill(model& m) noexcept {
    m.reset_lower_bounds();
    m.bw_probe_up_rounds = 0;
    m.bw_probe_up_acks = 0.0;
    m.start_round();
    m.state = bbr_state::probe_bw_refill;
    m.pacing_gain = probe_bw_refill_pacing_gain;
    m.cwnd_gain = default_cwnd_gain;
}

/// BBRRaiseInflightHiSlope: inflight_hi grows by 1, 2, 4, … SMSS per round of ProbeBW_UP.
constexpr void raise_inflight_hi_slope(model& m) noexcept {
    const double growth_this_round =
        m.smss * static_cast<double>(std::uint64_t{1} << m.bw_probe_up_rounds);
    m.bw_probe_up_rounds = std::min<std::uint32_t>(m.bw_probe_up_rounds + 1, 30);
    // One SMSS of inflight_hi per probe_up_cnt bytes acknowledged: growth_this_round per
    // window acknowledged.
    m.probe_up_cnt = std::max(m.cwnd / growth_this_round, 1.0) * m.smss;
}

/// BBRStartProbeBW_UP.
constexpr void start_probe_bw_up(model& m) noexcept {
    m.start_round();
    m.reset_full_bw();
    m.full_bw = m.rs.delivery_rate;
    m.state = bbr_state::probe_bw_up;
    m.pacing_gain = probe_bw_up_pacing_gain;
    m.cwnd_gain = probe_bw_up_cwnd_gain;
    raise_inflight_hi_slope(m);
}

/// BBREnterProbeBW: a cycle starts with DOWN.
constexpr void enter_probe_bw(model& m) noexcept { start_probe_bw_down(m); }

/// BBRHasElapsedInPhase.
[[nodiscard]] constexpr bool has_elapsed_in_phase(const model& m, duration interval) noexcept {
    return m.now > m.cycle_stamp + interval;
}

/// BBRIsRenoCoexistenceProbeTime: probe at least as often as Reno would fill a BDP-sized
/// window (one SMSS per round), at most every 63 rounds.
[[nodiscard]] constexpr bool is_reno_coexistence_probe_time(const model& m) noexcept {
    const double reno_rounds = m.target_inflight() / m.smss;
    const double rounds = std::min(reno_rounds, 63.0);
    return static_cast<double>(m.rounds_since_bw_probe) >= rounds;
}

/// BBRCheckTimeToProbeBW: after the probe wait, start REFILL.
constexpr bool check_time_to_probe_bw(model& m) noexcept {
    if (has_elapsed_in_phase(m, m.bw_probe_wait) || is_reno_coexistence_probe_time(m)) {
        start_probe_bw_refill(m);
        return true;
    }
    return false;
}

/// BBRCheckTimeToCruise: inflight has drained to the BDP (and below inflight_hi's headroom).
[[nodiscard]] constexpr bool check_time_to_cruise(const model& m) noexcept {
    if (m.inflight > m.inflight_with_headroom()) return false;
    return m.inflight <= m.inflight_for(m.max_bw, 1.0);
}

/// BBRHandleInflightTooHigh: inflight_hi := what was in flight when the loss rate crossed
/// LossThresh (at least Beta × the target), and a probe in UP ends.
constexpr void handle_inflight_too_high(model& m, double tx_in_flight, bool app_limited) noexcept {
    m.bw_probe_samples = false;
    if (!app_limited) m.inflight_hi = std::max(tx_in_flight, m.target_inflight() * beta);
    if (m.state == bbr_state::probe_bw_up) start_probe_bw_down(m);
}

/// BBRProbeInflightHiUpward: while UP is limited by inflight_hi, raise it by the current slope.
constexpr void probe_inflight_hi_upward(model& m) noexcept {
    if (!m.cwnd_limited() || m.cwnd < m.inflight_hi) return;
    m.bw_probe_up_acks += m.rs.newly_acked;
    if (m.bw_probe_up_acks >= m.probe_up_cnt) {
        const auto delta =
            static_cast<double>(static_cast<std::uint64_t>(m.bw_probe_up_acks / m.probe_up_cnt));
        m.bw_probe_up_acks -= delta * m.probe_up_cnt;
        m.inflight_hi += delta * m.smss;
    }
    if (m.round_start) raise_inflight_hi_slope(m);
}

/// BBRAdaptUpperBounds: on an acknowledgement reporting too much loss while probing, lower
/// inflight_hi; otherwise raise it to what was delivered without excessive loss, and in
/// ProbeBW_UP grow it along the probing slope.
constexpr void adapt_upper_bounds(model& m) noexcept {
    // BBRIsInflightTooHigh
    if (m.rs.valid && model::inflight_too_high(m.rs.lost, m.rs.tx_in_flight)) {
        if (m.bw_probe_samples) handle_inflight_too_high(m, m.rs.tx_in_flight, m.rs.app_limited);
        return;
    }
    if (m.inflight_hi == infinite) return;
    if (m.rs.tx_in_flight > m.inflight_hi) m.inflight_hi = m.rs.tx_in_flight;
    if (m.state == bbr_state::probe_bw_up) probe_inflight_hi_upward(m);
}

/// BBRIsTimeToGoDown: ProbeBW_UP ends when the delivery rate has stopped growing (three rounds
/// without 25% growth), unless inflight_hi is what limits it (then the check restarts).
[[nodiscard]] constexpr bool is_time_to_go_down(model& m) noexcept {
    if (m.cwnd_limited() && m.cwnd >= m.inflight_hi) {
        m.reset_full_bw();
        m.full_bw = m.rs.delivery_rate;
        return false;
    }
    return m.full_bw_now;
}

/// BBRUpdateProbeBWCyclePhase: the per-acknowledgement ProbeBW transitions.
constexpr void update_probe_bw_cycle_phase(model& m) noexcept {
    if (!m.full_bw_reached) return;
    adapt_upper_bounds(m);
    if (!m.in_probe_bw()) return;
    switch (m.state) {
        case bbr_state::probe_bw_down:
            if (check_time_to_probe_bw(m)) return;
            if (check_time_to_cruise(m)) start_probe_bw_cruise(m);
            break;
        case bbr_state::probe_bw_cruise: check_time_to_probe_bw(m); break;
        case bbr_state::probe_bw_refill:
            // After one round of REFILL, start UP.
            if (m.round_start) {
                m.bw_probe_samples = true;
                start_probe_bw_up(m);
            }
            break;
        case bbr_state::probe_bw_up:
            if (is_time_to_go_down(m)) start_probe_bw_down(m);
            break;
        default: break;
    }
}

/// BBRInflightHiFromLostPacket: the inflight at which the loss rate crossed LossThresh,
/// estimated from the lost packet's send-time state (`size` its bytes).
[[nodiscard]] constexpr double inflight_hi_from_lost_packet(double tx_in_flight, double lost,
                                                            double size) noexcept {
    const double inflight_prev = std::max(tx_in_flight - size, 0.0);
    const double lost_prev = std::max(lost - size, 0.0);
    const double lost_prefix =
        std::max((loss_thresh * inflight_prev - lost_prev) / (1.0 - loss_thresh), 0.0);
    return inflight_prev + lost_prefix;
}

/// BBRHandleLostPacket: while a bandwidth probe's samples are valid, a packet whose loss
/// brings the loss rate above LossThresh sets inflight_hi.
constexpr void handle_lost_packet(model& m, const loss_sample& l) noexcept {
    m.note_loss(static_cast<double>(l.bytes));
    if (!m.bw_probe_samples) return;
    const auto tx_in_flight = static_cast<double>(l.tx_in_flight);
    const auto lost = static_cast<double>(l.lost);
    if (model::inflight_too_high(lost, tx_in_flight)) {
        const double at_threshold =
            inflight_hi_from_lost_packet(tx_in_flight, lost, static_cast<double>(l.bytes));
        handle_inflight_too_high(m, at_threshold, l.app_limited);
    }
}

}  // namespace neutrino::congestion::bbr_detail
