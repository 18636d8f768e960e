#pragma once
/// \file
/// BBR's Drain state: pace below the estimated bandwidth until the queue Startup built is gone.
///
/// spec: draft-ietf-ccwg-bbr (BBRv3) §4.3.2 "Drain" (BBREnterDrain, BBRCheckDrainDone): pacing gain
/// DrainPacingGain (0.35), cwnd gain 2; Drain ends, entering ProbeBW, once bytes in flight are
/// at most BBRInflight(bw, 1.0), the (quantized) estimated BDP.

#include "neutrino/congestion/bbr/model.hpp"
#include "neutrino/congestion/bbr/probe_bw.hpp"

namespace neutrino::congestion::bbr_detail {

/// BBREnterDrain.
constexpr void enter_drain(model& m) noexcept {
    m.state = bbr_state::drain;
    m.pacing_gain = drain_pacing_gain;
    m.cwnd_gain = default_cwnd_gain;
}

/// BBRCheckDrainDone: in Drain, once inflight is at most the BDP, enter ProbeBW (DOWN).
constexpr void check_drain_done(model& m) noexcept {
    if (m.state == bbr_state::drain && m.inflight <= m.inflight_for(m.bw, 1.0)) {
        enter_probe_bw(m);
    }
}

}  // namespace neutrino::congestion::bbr_detail
