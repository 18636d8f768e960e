#pragma once
/// \file
/// The `datagram_layer` concept: the contract every protocol machine offers to whatever moves
/// its datagrams (the Asio driver, the in-memory link, the inspector's simulator).
///
/// | expression | meaning |
/// |---|---|
/// | `L::event_type` | what the machine reports to the application |
/// | `l.handle_datagram(in, from, now)` | one received UDP payload; returns an error (and counts a drop) when it was rejected; never throws |
/// | `l.poll_datagram(out, now)` | writes the next datagram to send into `out` (at least `max_datagram_size` bytes) and says where it goes; `nullopt` when there is none |
/// | `l.poll_event()` | the next event, `nullopt` when there is none. Views inside an event stay valid until the next non-const call on `l` |
/// | `l.deadline()` | when `handle_deadline` must be called next, `nullopt` when no timer is armed |
/// | `l.handle_deadline(now)` | lets the machine run its timers |
///
/// A driver's loop is: feed what arrived, drain `poll_event` and `poll_datagram`, arm one timer
/// for `deadline()`. No call blocks, reads a clock, or touches a socket.

#include <concepts>
#include <cstddef>
#include <optional>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino {

/// Where a datagram written by `poll_datagram` goes and how long it is.
struct transmit {
    std::size_t size = 0;  ///< bytes written at the front of the output buffer
    peer_address to;       ///< destination
};

template <class L>
concept datagram_layer = requires(L& l, const L& cl, std::span<const std::byte> in,
                                  std::span<std::byte> out, const peer_address& from,
                                  time_point now) {
    typename L::event_type;
    { l.handle_datagram(in, from, now) } -> std::same_as<result<void>>;
    { l.poll_datagram(out, now) } -> std::same_as<std::optional<transmit>>;
    { l.poll_event() } -> std::same_as<std::optional<typename L::event_type>>;
    { cl.deadline() } -> std::same_as<std::optional<time_point>>;
    l.handle_deadline(now);
};

}  // namespace neutrino
