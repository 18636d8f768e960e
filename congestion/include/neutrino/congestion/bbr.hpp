#pragma once
/// \file
/// `bbr`: the BBR congestion controller (BBRv3, draft-ietf-ccwg-bbr) as a sans-IO
/// `congestion_controller`.
///
/// spec: draft-ietf-ccwg-bbr (BBRv3) §4.2 "Algorithm Organization" (§4.2.1 BBROnInit, §4.2.3
/// BBRUpdateOnACK = BBRUpdateModelAndState + BBRUpdateControlParameters, §4.2.4
/// BBRUpdateOnLoss), "Restarting From Idle" (BBRHandleRestartFromIdle). Section numbers are
/// those of draft-ietf-ccwg-bbr-01/-02. The states are in `bbr/startup.hpp`, `bbr/drain.hpp`,
/// `bbr/probe_bw.hpp` and `bbr/probe_rtt.hpp`; the path model and control parameters in
/// `bbr/model.hpp`.

#include <cstddef>
#include <stdexcept>

#include "neutrino/congestion/bbr/config.hpp"
#include "neutrino/congestion/bbr/drain.hpp"
#include "neutrino/congestion/bbr/model.hpp"
#include "neutrino/congestion/bbr/probe_bw.hpp"
#include "neutrino/congestion/bbr/probe_rtt.hpp"
#include "neutrino/congestion/bbr/startup.hpp"
#include "neutrino/congestion/controller.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// BBR congestion control: a model of the path (bottleneck bandwidth, min RTT, loss-aware
/// bounds on inflight) from which it derives a pacing rate and a window.
///
/// BBR needs the draft's rate samples: the sender fills the rate fields of `ack_sample`
/// (`delivered`, `interval_delivered`, `interval` or `delivery_rate_bytes_per_s`,
/// `tx_in_flight`, `lost`, `app_limited`) and the per-packet fields of `loss_sample`. An
/// acknowledgement without a rate sample (`interval_delivered == 0`) still grows the window
/// and updates min_rtt but neither counts a round nor measures bandwidth.
///
/// `can_send` checks the window only: the sender's pacer spreads sending at `pacing_rate()`.
/// Reads no clock, allocates nothing, logs nothing; randomness comes from `bbr_config::seed`,
/// so equal inputs give equal outputs. Not thread-safe: one owner. Models
/// `congestion_controller`.
///
/// Deviations from the draft, all because the controller sees only the `congestion_controller`
/// inputs: no packet conservation during loss recovery (BBRModulateCwndForRecovery) and no
/// "in recovery for a round" condition for Startup's loss exit (a loss round stands in), and
/// that exit is also checked at a loss while acknowledgements stall
/// (`bbr_detail::check_startup_high_loss_at_loss`: a cumulative acknowledgement ends no loss
/// round while it waits at a hole);
/// persistent congestion sets the window to BBRMinPipeCwnd (RFC 9002 §7.6.2) after saving it;
/// ProbeRTT does not mark the connection app-limited (the sender's sampler would);
/// is_cwnd_limited is estimated as "bytes in flight before the acknowledgement left no room
/// for another datagram". One deviation is a choice: the lower bounds (bw_lo, inflight_lo)
/// are cut after a lossy round only while the loss rate averaged over about four rounds is
/// above LossThresh (2%), not after any loss, so random loss below 2% does not walk the rate
/// down (see `bbr_detail::model::adapt_lower_bounds_from_congestion` for the measurement).
class bbr {
public:
    /// A controller in Startup at `now`. Throws `std::invalid_argument` when
    /// `config.max_datagram_size` or `config.initial_window_packets` is zero.
    explicit bbr(const bbr_config& config, time_point now) : m_(checked(config), now), clock_started_(true) {
        bbr_detail::enter_startup(m_);
    }
    /// A controller in Startup whose clock starts with the first input it gets (`on_sent`, an
    /// acknowledgement, a loss): its timers (the ProbeRTT interval, the min_rtt filter, the
    /// ProbeBW cycle) count from there, not from the clock's epoch, which for a steady clock is
    /// the machine's boot and would make the first RTT sample look 10 s overdue. Throws as above.
    explicit bbr(const bbr_config& config = {}) : bbr(config, time_point{}) { clock_started_ = false; }
    /// The draft's defaults for a sender of `limits.max_datagram_size`-byte datagrams (BBR needs
    /// no largest window: its bounds follow the path); the clock starts with the first input.
    explicit bbr(const sender_limits& limits) : bbr(bbr_config{.max_datagram_size = limits.max_datagram_size}) {}

    /// A datagram of `bytes` was sent; BBR needs nothing from it but the time, to start its
    /// clock (idle restarts come through `on_idle_restart`).
    void on_sent(std::size_t /*bytes*/, time_point now) noexcept { start_clock(now); }

    /// BBRUpdateOnACK: updates the model and the state machine, then the pacing rate, send
    /// quantum and window.
    void on_acknowledged(const ack_sample& sample) noexcept {
        using namespace bbr_detail;
        start_clock(sample.now);
        m_.begin_ack(sample);
        // BBRUpdateModelAndState
        m_.update_latest_delivery_signals();
        m_.update_congestion_signals();
        m_.update_ack_aggregation();
        m_.check_full_bw_reached();
        check_startup_done(m_);
        check_drain_done(m_);
        update_probe_bw_cycle_phase(m_);
        m_.update_min_rtt();
        check_probe_rtt(m_);
        m_.advance_latest_delivery_signals();
        m_.bound_bw_for_model();
        // BBRUpdateControlParameters
        m_.set_pacing_rate_with_gain(m_.pacing_gain);
        m_.set_send_quantum();
        m_.set_cwnd();
    }

    /// BBRUpdateOnLoss: notes the loss for this round and, while probing for bandwidth, lowers
    /// inflight_hi when the loss rate exceeds 2%.
    void on_lost(const loss_sample& sample) noexcept {
        start_clock(sample.now);
        m_.now = sample.now;
        m_.inflight = static_cast<double>(sample.bytes_in_flight);
        bbr_detail::handle_lost_packet(m_, sample);
        bbr_detail::check_startup_high_loss_at_loss(m_, sample);
    }

    /// Persistent congestion (RFC 9002 §7.6.2): the window falls to the minimum (4 datagrams);
    /// the model is kept.
    void on_persistent_congestion(time_point now) noexcept {
        start_clock(now);
        m_.now = now;
        m_.save_cwnd();
        m_.cwnd = m_.min_pipe_cwnd;
    }

    /// BBRHandleRestartFromIdle: sending resumes after an idle period.
    void on_idle_restart(time_point now) noexcept {
        start_clock(now);
        m_.now = now;
        m_.idle_restart = true;
        m_.extra_acked_interval_start = now;
        if (m_.in_probe_bw()) {
            m_.set_pacing_rate_with_gain(1.0);
        } else if (m_.state == bbr_state::probe_rtt) {
            bbr_detail::check_probe_rtt_done(m_);
        }
    }

    /// The congestion window, bytes.
    [[nodiscard]] std::size_t window() const noexcept { return static_cast<std::size_t>(m_.cwnd); }
    /// The pacing rate, bytes/s: pacing_gain × bw × 0.99 once a bandwidth is measured
    /// (Startup's initial rate before).
    [[nodiscard]] double pacing_rate() const noexcept { return m_.pacing_rate; }
    /// `bytes_in_flight < window()`; pacing is the sender's.
    [[nodiscard]] bool can_send(std::size_t bytes_in_flight, time_point /*now*/) const noexcept {
        return static_cast<double>(bytes_in_flight) < m_.cwnd;
    }

    /// The current state (ProbeBW by phase).
    [[nodiscard]] bbr_state state() const noexcept { return m_.state; }
    /// BBR.bw: the bandwidth the controller paces by, min(max_bw, bw_lo), bytes/s.
    [[nodiscard]] double bottleneck_bandwidth() const noexcept { return m_.bw; }
    /// BBR.max_bw: the windowed maximum delivery rate, bytes/s.
    [[nodiscard]] double max_bandwidth() const noexcept { return m_.max_bw; }
    /// BBR.min_rtt; `duration::max()` before any RTT sample (without `initial_rtt`).
    [[nodiscard]] duration min_rtt() const noexcept { return m_.min_rtt; }
    /// The current pacing gain.
    [[nodiscard]] double pacing_gain() const noexcept { return m_.pacing_gain; }
    /// The current cwnd gain.
    [[nodiscard]] double cwnd_gain() const noexcept { return m_.cwnd_gain; }
    /// BBR.send_quantum, bytes.
    [[nodiscard]] std::size_t send_quantum() const noexcept {
        return static_cast<std::size_t>(m_.send_quantum);
    }
    /// The whole model, read-only, for observers and tests.
    [[nodiscard]] const bbr_detail::model& model() const noexcept { return m_; }

private:
    static const bbr_config& checked(const bbr_config& config) {
        if (config.max_datagram_size == 0) {
            throw std::invalid_argument("bbr: max_datagram_size must be > 0");
        }
        if (config.initial_window_packets == 0) {
            throw std::invalid_argument("bbr: initial_window_packets must be > 0");
        }
        return config;
    }

    /// The first input's time becomes the start of every timer the model keeps.
    void start_clock(time_point now) noexcept {
        if (clock_started_) return;
        clock_started_ = true;
        m_.now = now;
        m_.min_rtt_stamp = now;
        m_.probe_rtt_min_stamp = now;
        m_.extra_acked_interval_start = now;
        m_.cycle_stamp = now;
    }

    bbr_detail::model m_;
    bool clock_started_ = false;
};

static_assert(congestion_controller<bbr>);

}  // namespace neutrino::congestion
