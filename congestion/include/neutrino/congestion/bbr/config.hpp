#pragma once
/// \file
/// `bbr_config` (what a `bbr` controller is built from) and `bbr_state` (the states of the BBR
/// state machine, draft-ietf-ccwg-bbr "State Machine Overview"), shared by the `bbr/` pieces.

#include <cstddef>
#include <cstdint>

#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// The construction parameters of a `bbr` controller.
struct bbr_config {
    /// SMSS: the largest datagram the sender counts toward bytes in flight, bytes (> 0). BBR
    /// expresses its minimum window, probing steps and send quantum in multiples of it.
    std::size_t max_datagram_size = 1200;
    /// InitialCwnd in datagrams (> 0): the window before any measurement.
    std::size_t initial_window_packets = 10;
    /// The smoothed RTT the sender already knows (e.g. from a resumed connection), used for the
    /// initial pacing rate and as the initial min_rtt; zero when none (the draft then assumes
    /// 1 ms for pacing and an infinite min_rtt).
    duration initial_rtt{};
    /// Seed of the generator that picks the ProbeBW wait (2–3 s) and rounds; the same seed and
    /// the same inputs give the same outputs. Zero is replaced by a fixed non-zero seed.
    std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
};

/// The state of a `bbr` controller (draft-ietf-ccwg-bbr "State Machine Overview"); ProbeBW is
/// split into its four phases.
enum class bbr_state : std::uint8_t {
    startup,          ///< probing for bandwidth fast: sending rate doubles each round
    drain,            ///< draining the queue Startup built
    probe_bw_down,    ///< ProbeBW_DOWN: draining any queue left from probing (pacing gain 0.9)
    probe_bw_cruise,  ///< ProbeBW_CRUISE: cruising at the estimated bandwidth (gain 1.0)
    probe_bw_refill,  ///< ProbeBW_REFILL: refilling the pipe for one round (gain 1.0)
    probe_bw_up,      ///< ProbeBW_UP: probing for more bandwidth (gain 1.25)
    probe_rtt,        ///< ProbeRTT: inflight cut to half a BDP to measure min_rtt again
};

/// The state's name as the draft writes it, lower case (static storage).
[[nodiscard]] constexpr const char* to_string(bbr_state s) noexcept {
    switch (s) {
        case bbr_state::startup: return "startup";
        case bbr_state::drain: return "drain";
        case bbr_state::probe_bw_down: return "probe_bw_down";
        case bbr_state::probe_bw_cruise: return "probe_bw_cruise";
        case bbr_state::probe_bw_refill: return "probe_bw_refill";
        case bbr_state::probe_bw_up: return "probe_bw_up";
        case bbr_state::probe_rtt: return "probe_rtt";
    }
    return "";
}

}  // namespace neutrino::congestion
