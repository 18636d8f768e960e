#pragma once
/// \file
/// BBR's Startup state: double the sending rate each round until the pipe is full.
///
/// spec: draft-ietf-ccwg-bbr (BBRv3) §4.3.1 "Startup" (BBREnterStartup, BBRCheckStartupDone),
/// §4.3.1.2 "Exiting Acceleration Based on Bandwidth Plateau" (BBRCheckFullBWReached, in
/// `model.hpp` because ProbeBW_UP uses it too), §4.3.1.3 "Exiting Startup Based on Packet Loss"
/// (BBRCheckStartupHighLoss).
///
/// Startup paces at StartupPacingGain (2.77) × bw with a cwnd gain of 2. It ends (entering
/// Drain) when three round starts passed without a non-app-limited delivery rate 25% above the
/// baseline (the pipe is full: `model::check_full_bw_reached`), or when a round with at least
/// StartupFullLossCnt (6) loss events ends with a loss rate above LossThresh (2%); the latter also
/// sets inflight_hi.

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

/// Startup's loss exit, wherever it is decided: inflight_hi becomes the larger of the BDP and
/// what the round delivered, and the pipe counts as full.
constexpr void exit_startup_on_loss(model& m) noexcept {
    m.inflight_hi = std::max(m.bdp_multiple(m.max_bw, 1.0), m.inflight_latest);
    m.full_bw_reached = true;
}

/// BBRCheckStartupHighLoss: a loss round with many loss events and a loss rate above LossThresh
/// ends Startup; inflight_hi becomes the larger of the BDP and what the round delivered.
///
/// Checked when a loss round ends (the acknowledgement of a packet sent after the round's first
/// loss), with each declared lost datagram counting as one loss event. The draft also asks for
/// the connection to have been in fast recovery for a round; the controller is not told about
/// recovery, and the loss round stands in for it.
constexpr void check_startup_high_loss(model& m) noexcept {
    if (m.full_bw_reached || !m.loss_round_start) return;
    if (m.loss_events_in_last_round >= startup_full_loss_count &&
        model::inflight_too_high(m.rs.lost, m.rs.tx_in_flight)) {
        exit_startup_on_loss(m);
    }
}

/// BBRCheckStartupHighLoss at a loss, while the acknowledgements stall (a deviation): in
/// Startup, when nothing was acknowledged for a min_rtt (deliveries a sender inferred out of
/// order, `ack_sample::inferred`, do not count: the hole still holds the cumulative
/// acknowledgement and the round), the sixth loss event of the round whose
/// packet saw more than LossThresh of what was in flight at its send lost since (the draft's
/// per-packet IsInflightTooHigh) ends Startup as the round's end would. Behind a cumulative
/// acknowledgement (no SACK: Neutrino's wire) the loss round cannot end while the acknowledgement
/// waits at a hole, so the exit came only when the first hole was repaired, a round trip or more
/// after the losses, at 2.77x the rate meanwhile: on 100 Mbit/s x 200 ms with a one-BDP queue,
/// Startup left at 3.8 s after ~4500 queue drops (72 with this check). While acknowledgements
/// flow, the rounds end and the draft's check decides: early in Startup one random loss is more
/// than 2% of a small flight, and checking every loss there ended Startup at 1% random loss.
/// The pacing rate follows at once (Drain's gain); the window at the next acknowledgement.
constexpr void check_startup_high_loss_at_loss(model& m, const loss_sample& l) noexcept {
    if (m.state != bbr_state::startup || m.full_bw_reached || m.min_rtt == duration::max()) return;
    if (l.now - m.acked_at < m.min_rtt || m.loss_events_in_round < startup_full_loss_count ||
        !model::inflight_too_high(static_cast<double>(l.lost),
                                  static_cast<double>(l.tx_in_flight))) {
        return;
    }
    exit_startup_on_loss(m);
    enter_drain(m);
    m.set_pacing_rate_with_gain(m.pacing_gain);
}

/// BBRCheckStartupDone: both exits, then Drain.
constexpr void check_startup_done(model& m) noexcept {
    if (m.state != bbr_state::startup) return;
    check_startup_high_loss(m);
    if (m.full_bw_reached) enter_drain(m);
}

}  // namespace neutrino::congestion::bbr_detail
