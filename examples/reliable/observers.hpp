#pragma once
// The observer stack of the reliable examples: the monitor's terminal view (--monitor) and,
// when --events is given, a JSON-lines log of every packet event (not part of the library).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "neutrino/core/observer.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/jsonl_observer.hpp"
#include "neutrino/monitor/terminal_observer.hpp"

namespace neutrino::examples {

namespace nc = neutrino::core;
namespace nm = neutrino::monitor;

/// The --events log: a jsonl_observer when the option is given, nothing otherwise.
class events_observer : public nc::null_observer {
public:
    events_observer() = default;
    /// Writes to `path`, naming packet types as `protocol` does (wire v2 or v3).
    events_observer(const std::string& path, const nm::protocol_description& protocol)
        : log_(std::in_place, path, protocol) {}

    void on_packet_received(const nc::packet_info& info, neutrino::time_point now) {
        if (log_) log_->on_packet_received(info, now);
    }
    void on_packet_sent(const nc::packet_info& info, neutrino::time_point now) {
        if (log_) log_->on_packet_sent(info, now);
    }
    void on_dropped(std::error_code reason, const neutrino::peer_address& from, std::size_t size,
                    neutrino::time_point now) {
        if (log_) log_->on_dropped(reason, from, size, now);
    }
    void on_session_state(std::uint64_t sid, const neutrino::peer_address& peer, nc::session_state from,
                          nc::session_state to, neutrino::time_point now) {
        if (log_) log_->on_session_state(sid, peer, from, to, now);
    }
    void on_packet_lost(std::uint64_t sid, nc::role side, std::uint64_t pn, neutrino::time_point now) {
        if (log_) log_->on_packet_lost(sid, side, pn, now);
    }
    void on_packet_retransmitted(const nc::packet_info& info, neutrino::time_point now) {
        if (log_) log_->on_packet_retransmitted(info, now);
    }
    void on_rtt_sample(std::uint64_t sid, nc::role side, neutrino::duration rtt, neutrino::time_point now) {
        if (log_) log_->on_rtt_sample(sid, side, rtt, now);
    }
    void on_refused(std::uint64_t sid, nc::role side, nc::refusal what, const neutrino::peer_address& peer,
                    neutrino::time_point now) {
        if (log_) log_->on_refused(sid, side, what, peer, now);
    }

private:
    std::optional<nm::jsonl_observer> log_;
};

// terminal (--monitor) + JSON lines (--events) below the reliable layer.
using observer_type = nm::fanout<nm::terminal_observer, events_observer>;

}  // namespace neutrino::examples
