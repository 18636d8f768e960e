#pragma once
/// \file
/// BBR's ProbeRTT state: cut inflight to half a BDP for at least 200 ms and a round, so that a
/// standing queue drains and min_rtt can be measured again.
///
/// spec: draft-ietf-ccwg-bbr (BBRv3) §4.3.4 "ProbeRTT", §4.3.4.4 "ProbeRTT Logic"
/// (BBRCheckProbeRTT, BBRHandleProbeRTT, BBRCheckProbeRTTDone, BBRProbeRTTCwnd), §4.3.4.5
/// "Exiting ProbeRTT" (BBRExitProbeRTT).
///
/// ProbeRTT is entered when no RTT sample has matched or lowered the ProbeRTT minimum for
/// ProbeRTTInterval (5 s); min_rtt itself stands for MinRTTFilterLen (10 s). The window is
/// bounded by max(0.5 × BDP, 4 SMSS) (see `model::set_cwnd`). Once inflight has fallen to that
/// bound, ProbeRTT lasts ProbeRTTDuration (200 ms) and at least one round, then restores the
/// saved window and returns to ProbeBW (DOWN then at once CRUISE) or, if the pipe was never
/// full, to Startup.
///
/// The draft also marks the connection app-limited during ProbeRTT, so that the low rate
/// samples it produces do not lower max_bw; that is the sender's rate sampler's business, so
/// here samples taken in ProbeRTT are simply ignored by the max-bw filter unless they raise it.

#include "neutrino/congestion/bbr/model.hpp"
#include "neutrino/congestion/bbr/probe_bw.hpp"
#include "neutrino/congestion/bbr/startup.hpp"

namespace neutrino::congestion::bbr_detail {

/// BBREnterProbeRTT.
constexpr void enter_probe_rtt(model& m) noexcept {
    m.state = bbr_state::probe_rtt;
    m.pacing_gain = 1.0;
    m.cwnd_gain = probe_rtt_cwnd_gain;
}

/// BBRExitProbeRTT.
constexpr void exit_probe_rtt(model& m) noexcept {
    m.reset_lower_bounds();
    if (m.full_bw_reached) {
        start_probe_bw_down(m);
        start_probe_bw_cruise(m);
    } else {
        enter_startup(m);
    }
}

/// BBRCheckProbeRTTDone: 200 ms (and a round) after inflight reached the ProbeRTT window.
constexpr void check_probe_rtt_done(model& m) noexcept {
    if (m.has_probe_rtt_done_stamp && m.now > m.probe_rtt_done_stamp) {
        // A fresh ProbeRTT minimum: the next ProbeRTT is due ProbeRTTInterval from now.
        m.probe_rtt_min_stamp = m.now;
        m.restore_cwnd();
        exit_probe_rtt(m);
    }
}

/// BBRHandleProbeRTT: wait for inflight to fall to the ProbeRTT window, then for 200 ms and a
/// round.
constexpr void handle_probe_rtt(model& m) noexcept {
    if (!m.has_probe_rtt_done_stamp && m.inflight <= m.probe_rtt_cwnd()) {
        m.probe_rtt_done_stamp = m.now + probe_rtt_duration;
        m.has_probe_rtt_done_stamp = true;
        m.probe_rtt_round_done = false;
        m.start_round();
    } else if (m.has_probe_rtt_done_stamp) {
        if (m.round_start) m.probe_rtt_round_done = true;
        if (m.probe_rtt_round_done) check_probe_rtt_done(m);
    }
}

/// BBRCheckProbeRTT: enter ProbeRTT once the ProbeRTT minimum has expired (not right after an
/// idle restart), and run it.
constexpr void check_probe_rtt(model& m) noexcept {
    if (m.state != bbr_state::probe_rtt && m.probe_rtt_expired && !m.idle_restart) {
        m.save_cwnd();
        enter_probe_rtt(m);
        m.has_probe_rtt_done_stamp = false;
        m.start_round();
    }
    if (m.state == bbr_state::probe_rtt) handle_probe_rtt(m);
    if (m.rs.delivered > 0.0) m.idle_restart = false;
}

}  // namespace neutrino::congestion::bbr_detail
