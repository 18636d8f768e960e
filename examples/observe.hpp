#pragma once
// The observation options every example program takes, implemented once (issue #17 item 2):
//
//   --monitor          one line per packet event and a summary per second (terminal view)
//   --monitor-filter   which of those lines, e.g. "types=DATA events=send,recv session=<hex>"
//   --pcap FILE        every datagram this endpoint sends and receives, as pcapng
//   --keylog FILE      the sessions' keys for `neutrino-monitor decrypt` ($NEUTRINO_KEYLOGFILE)
//   --events FILE      every packet event as JSON lines, for `neutrino-monitor report`
//   --log-level LEVEL  trace, debug, info, warn, error, off
//
// A program adds them with `add_observe_options`, builds its machines over `observer_type`
// (`placeholder_observer()` at construction), and calls `observe_machines` once its endpoint
// is bound: every core machine below the stack (both of a dual-version server) then gets the
// terminal view of its own wire version, one shared recorder and one shared events log.
// Not part of the library.

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "common.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/monitor/describe.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/jsonl_observer.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"
#include "neutrino/monitor/recording_observer.hpp"
#include "neutrino/monitor/terminal_observer.hpp"

namespace neutrino::examples {

namespace nmon = neutrino::monitor;

/// The values of the six options.
struct observe_options {
    std::string log_level = "info";
    bool monitor = false;
    std::string monitor_filter;
    std::string pcap_path;
    std::string keylog_path;
    std::string events_path;
};

/// Adds the six options to `app`, the same names and help in every program.
inline void add_observe_options(CLI::App& app, observe_options& o) {
    app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")->capture_default_str();
    app.add_flag("--monitor", o.monitor,
                 "print one line per packet event and a summary per second (neutrino::monitor)");
    app.add_option("--monitor-filter", o.monitor_filter,
                   "with --monitor: e.g. \"types=DATA events=send,recv session=<hex>\"");
    app.add_option("--pcap", o.pcap_path,
                   "record every datagram this endpoint sends and receives to this pcapng file");
    app.add_option("--keylog", o.keylog_path,
                   "append the sessions' keys to this NSS-style key log, for neutrino-monitor decrypt "
                   "(default: $NEUTRINO_KEYLOGFILE when set)");
    app.add_option("--events", o.events_path,
                   "write every packet event as JSON lines to this file (for neutrino-monitor report)");
}

/// Applies --log-level and returns the terminal view's options for `protocol` (nothing shown
/// without --monitor). Throws std::invalid_argument for a bad level or filter.
inline nmon::terminal_options apply_observe_options(const observe_options& o,
                                                    const nmon::protocol_description& protocol) {
    set_log_level(o.log_level);
    nmon::terminal_options view;
    view.protocol = &protocol;
    if (auto err = nmon::apply_filter(o.monitor_filter, view); !err.empty()) {
        throw std::invalid_argument("--monitor-filter: " + err);
    }
    if (!o.monitor) view.events = 0;  // no event kinds, no summary
    return view;
}

/// The --events log: a jsonl_observer when the option is given, nothing otherwise. Copies
/// share one file (the machines of a dual-version server write to the same log).
class events_observer : public core::null_observer {
public:
    events_observer() = default;
    /// Writes to `path`, naming packet types as `protocol` does (wire v2 or v3).
    events_observer(const std::string& path, const nmon::protocol_description& protocol)
        : log_(std::in_place, path, protocol) {}

    void on_packet_received(const core::packet_info& info, time_point now) {
        if (log_) log_->on_packet_received(info, now);
    }
    void on_packet_sent(const core::packet_info& info, time_point now) {
        if (log_) log_->on_packet_sent(info, now);
    }
    void on_dropped(std::error_code reason, const peer_address& from, std::size_t size, time_point now) {
        if (log_) log_->on_dropped(reason, from, size, now);
    }
    void on_session_state(std::uint64_t sid, const peer_address& peer, core::session_state from,
                          core::session_state to, time_point now) {
        if (log_) log_->on_session_state(sid, peer, from, to, now);
    }
    void on_packet_lost(std::uint64_t sid, core::role side, std::uint64_t pn, time_point now) {
        if (log_) log_->on_packet_lost(sid, side, pn, now);
    }
    void on_packet_retransmitted(const core::packet_info& info, time_point now) {
        if (log_) log_->on_packet_retransmitted(info, now);
    }
    void on_rtt_sample(std::uint64_t sid, core::role side, duration rtt, time_point now) {
        if (log_) log_->on_rtt_sample(sid, side, rtt, now);
    }
    void on_congestion(std::uint64_t sid, core::role side, const core::congestion_info& info, time_point now) {
        if (log_) log_->on_congestion(sid, side, info, now);
    }
    void on_refused(std::uint64_t sid, core::role side, core::refusal what, const peer_address& peer,
                    time_point now) {
        if (log_) log_->on_refused(sid, side, what, peer, now);
    }

private:
    std::optional<nmon::jsonl_observer> log_;
};

/// What every example's core machines report to: terminal (--monitor), recording (--pcap,
/// --keylog) and JSON lines (--events).
using observer_type = nmon::fanout<nmon::terminal_observer, nmon::recording_observer, events_observer>;

/// The observer a machine is built with, before `observe_machines` sets it up.
inline observer_type placeholder_observer() {
    nmon::terminal_options quiet;
    quiet.events = 0;
    return observer_type(nmon::terminal_observer(quiet), nmon::recording_observer(nullptr, {}),
                         events_observer());
}

/// Calls `f(machine)` for every core machine of `layer`: down the `next_layer()` chain to the
/// machine that has the observer, or to both machines of a dual-version server.
template <class Layer, class F>
void for_each_core_machine(Layer& layer, F&& f) {
    if constexpr (dual_version_machine<Layer>) {
        layer.for_each_machine(f);
    } else if constexpr (requires { layer.observer(); }) {
        f(layer);
    } else {
        for_each_core_machine(layer.next_layer(), std::forward<F>(f));
    }
}

/// True when the core of `Layer` is a dual-version server.
template <class Layer>
constexpr bool has_dual_core() {
    if constexpr (dual_version_machine<Layer>) {
        return true;
    } else if constexpr (requires(Layer& l) { l.observer(); }) {
        return false;
    } else {
        return has_dual_core<std::remove_cvref_t<decltype(std::declval<Layer&>().next_layer())>>();
    }
}

/// Sets up the observers of every core machine of `layer` from the options: the terminal view
/// with its machine's wire version, one recorder for --pcap / --keylog (`local` is the address
/// the capture records for this endpoint, `name` its capture interface), one --events log.
template <class Layer>
void observe_machines(Layer& layer, const observe_options& o, const nmon::terminal_options& view,
                      const peer_address& local, const std::string& name) {
    constexpr bool dual = has_dual_core<Layer>();
    // One events log; its type names come from v3's description for a dual server, which
    // names v2's codes as v2 does.
    std::uint8_t version = 3;
    for_each_core_machine(layer, [&](auto& m) { version = wire_version_of<std::remove_cvref_t<decltype(m)>>; });
    const events_observer events =
        o.events_path.empty() ? events_observer()
                              : events_observer(o.events_path, *nmon::neutrino_description(dual ? 3 : version));
    if (!o.events_path.empty()) spdlog::info("writing every packet event to {}", o.events_path);

    auto key_log = o.keylog_path.empty() ? nmon::key_log_writer::from_environment()
                                         : std::make_shared<nmon::key_log_writer>(o.keylog_path);
    std::optional<nmon::recording_observer> recorder;
    if (!o.pcap_path.empty() || key_log) {
        nmon::recording_options recording;
        recording.local = local;
        recording.interface_name = name;
        recording.key_log = key_log;
        auto pcap = o.pcap_path.empty() ? nullptr : std::make_shared<nmon::pcapng_writer>(o.pcap_path);
        // One recorder, copied into each machine: one capture interface for the one socket,
        // one key log (a v3 handshake hash and the keys it labels are written in one call).
        recorder.emplace(std::move(pcap), std::move(recording));
        if (!o.pcap_path.empty()) spdlog::info("recording every datagram to {}", o.pcap_path);
        if (key_log) {
            spdlog::info("writing session keys to {}", o.keylog_path.empty() ? "$NEUTRINO_KEYLOGFILE" : o.keylog_path);
        }
    }
    const auto now = clock::now();
    for_each_core_machine(layer, [&](auto& m) {
        nmon::terminal_options v = view;
        v.protocol = nmon::neutrino_description(wire_version_of<std::remove_cvref_t<decltype(m)>>);
        m.observer().template get<0>() = nmon::terminal_observer(std::move(v));
        // Each view counts time from its first event; start both of a dual server now.
        if constexpr (dual) m.observer().template get<0>().tick(now);
        if (recorder) m.observer().template get<1>() = *recorder;
        m.observer().template get<2>() = events;
    });
}

/// The address a client's capture records for itself: the bound one, or with a wildcard bind
/// the source address the kernel picks towards `server`.
template <class Endpoint>
peer_address recording_address(Endpoint& ep, const net::ip::udp::endpoint& server, net::io_context& ctx) {
    auto local = ep.local_endpoint();
    if (local.address().is_unspecified()) {
        net::ip::udp::socket probe(ctx, server.protocol());
        boost::system::error_code ec;
        probe.connect(server, ec);
        if (!ec) {
            auto routed = probe.local_endpoint(ec);
            if (!ec) local.address(routed.address());
        }
    }
    return io::to_peer_address(local);
}

}  // namespace neutrino::examples
