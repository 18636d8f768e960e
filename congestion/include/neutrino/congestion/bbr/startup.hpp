#pragma once
/// \file
/// BBR's Startup state: double the sending rate each round until the pipe is full.
///
/// spec: draft-ietf-ccwg-bbr (BBRv3), "Startup" (BBREnterStartup, BBRCheckStartupDone),
/// "Exiting Startup Based on Bandwidth Plateau" (BBRCheckFullBWReached), "Exiting Startup Based
/// on Packet Loss" (BBRCheckStartupHighLoss).
///
/// Startup paces at StartupPacingGain (2.77) × bw with a cwnd gain of 2. It ends (entering
/// Drain) when three non-app-limited rounds in a row did not grow max_bw by 25% (the pipe is
/// full), or when a round with at least StartupFullLossCnt (6) loss events ends with a loss
/// rate above LossThresh (2%); the latter also sets inflight_hi.

#include <algorithm>

#include "neutrino/congestion/bbr/drain.hpp"
#include "neutrino/congestion/bbr/model.hpp"

namespace neutrino::congestion::bbr_detail {

/// BBREnterStartup.
constexpr void enter_startup(model& m) noexcept {
    m.state = bbr_state::startup;
    m.pacing_gain = startup_pacing_gain;
    m.cwnd_gain = default_cwnd_gain;
}

/// BBRResetFullBW.
constexpr void reset_full_bw(model& m) noexcept {
    m.full_bw = 0.0;
    m.full_bw_count = 0;
}

/// BBRCheckFullBWReached: once per non-app-limited round, whether max_bw grew by 25% over the
/// baseline; three rounds in a row without that growth mean the pipe is full.
constexpr void check_full_bw_reached(model& m) noexcept {
    if (m.full_bw_reached || !m.round_start || m.rs.app_limited) return;
    if (m.max_bw >= m.full_bw * full_bw_growth) {
        reset_full_bw(m);
        m.full_bw = m.max_bw;
        return;
    }
    ++m.full_bw_count;
    m.full_bw_reached = m.full_bw_count >= full_bw_count_threshold;
}

/// BBRCheckStartupHighLoss: a loss round with many loss events and a loss rate above LossThresh
/// ends Startup; inflight_hi becomes the larger of the BDP and what the round delivered.
constexpr void check_startup_high_loss(model& m) noexcept {
    if (m.full_bw_reached || !m.loss_round_start) return;
    if (m.loss_events_in_last_round >= startup_full_loss_count &&
        model::inflight_too_high(m.rs.lost, m.rs.tx_in_flight)) {
        m.inflight_hi = std::max(m.bdp_multiple(m.max_bw, 1.0), m.inflight_latest);
        m.full_bw_reached = true;
    }
}

/// BBRCheckStartupDone: both exits, then Drain.
constexpr void check_startup_done(model& m) noexcept {
    if (m.state != bbr_state::startup) return;
    check_startup_high_loss(m);
    if (m.full_bw_reached) enter_drain(m);
}

}  // namespace neutrino::congestion::bbr_detail
