#pragma once
/// \file
/// `machine_io`: what every core machine (v2 and v3, client and server) does the same way at
/// its datagram_layer edge, written once: count and report each datagram in and each
/// rejection, count each datagram out, queue events and count the ones that do not fit, and
/// report session state changes. The machines differ in how they open, seal and handshake,
/// never in this bookkeeping, so observers and stats read the same on every wire.

#include <cstddef>
#include <optional>
#include <span>
#include <system_error>

#include "neutrino/address.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/result.hpp"
#include "neutrino/ring.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::detail {

/// The observer, the stats, the send queue and the event queue of one machine. `Stats` is
/// `core::stats` or a type derived from it.
template <class Stats, class Observer>
struct machine_io {
    machine_io(std::size_t send_queue_capacity, std::size_t event_queue_capacity,
               Observer obs)
        : observer(std::move(obs)), tx(send_queue_capacity), events(event_queue_capacity) {}

    /// `handle_datagram`'s frame: counts and reports `in`, runs `receive` (the machine's own
    /// parsing), and counts and reports its rejection, if any. Returns what `receive` returned.
    template <class Receive>
    result<void> take(std::span<const std::byte> in, const peer_address& from, time_point now,
                      Receive&& receive) {
        ++stats.datagrams_received;
        stats.bytes_received += in.size();
        observer.on_datagram_received(in, from, now);
        auto r = receive();
        if (!r) {
            stats.count_drop(r.error());
            observer.on_dropped(r.error(), from, in.size(), now);
        }
        return r;
    }

    /// `poll_datagram`'s frame: the oldest queued datagram, counted.
    std::optional<transmit> pop(std::span<std::byte> out) noexcept {
        auto t = tx.pop(out);
        if (t) {
            ++stats.datagrams_sent;
            stats.bytes_sent += t->size;
        }
        return t;
    }

    /// Queues an event; one that does not fit is counted in `events_dropped`.
    void push_event(const event& e) noexcept {
        if (!events.push(e)) ++stats.events_dropped;
    }

    /// Moves `state` to `to` and tells the observer, unless it is there already.
    void set_state(std::uint64_t session_id, const peer_address& peer, session_state& state,
                   session_state to, time_point now) {
        if (state == to) return;
        observer.on_session_state(session_id, peer, state, to, now);
        state = to;
    }

    [[no_unique_address]] Observer observer;
    datagram_queue tx;
    neutrino::ring<event> events;
    Stats stats;
};

}  // namespace neutrino::core::detail
