#pragma once
/// \file
/// The `datagram_transport` concept: what `io::endpoint` needs from whatever carries its
/// datagrams. `io::udp_socket` (recvmmsg/sendmmsg, GSO/GRO) and `io::memory_transport` (an
/// in-process network on one executor, for tests) model it; a peer-to-peer link will be one
/// more model. The endpoint's loop is written once, against this concept.
///
/// Addresses are `peer_address` values the transport understands and the layers above treat
/// as opaque handles: an IP:port for UDP, any handle (IP or `peer_address::opaque`) for
/// `memory_transport`. A transport that is not IP (a relay, a peer-to-peer link) names its
/// peers with `peer_address::opaque` handles, so a relayed peer is never confused with the
/// relay's address; the UDP socket refuses to send to one (counted in `unroutable`).
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `T::executor_type` | | the executor its waits complete on |
/// | `t.get_executor()` | `executor_type` | |
/// | `t.is_open()` | `bool` | false after `close()` |
/// | `t.close()` | | stops: a pending readable wait completes with `operation_aborted`; unsent datagrams are discarded; `noexcept` |
/// | `t.local_address()` | `peer_address` | this end's handle, as peers see it |
/// | `t.async_wait_readable(h)` | | calls `h(boost::system::error_code)` once a `receive_batch` may return data (or the transport failed), through Asio's usual completion rules; one wait at a time |
/// | `t.receive_batch(f, ec)` | `std::size_t` | calls `f(std::span<const std::byte>, const peer_address&)` for each datagram received now (the span is valid during the call) and returns their count. `ec`: `net::error::would_block` when nothing was waiting; empty after data or a transient error; anything else is fatal |
/// | `t.prepare_send()` | `std::span<std::byte>` | the next free send slot (at least `core::max_datagram_size` bytes), empty when the batch is full: `flush_sends()` first |
/// | `t.commit_send(n, to)` | | queues the slot's first `n` bytes for `to`; `noexcept` |
/// | `t.pending_sends()` | `std::size_t` | committed, not yet flushed |
/// | `t.flush_sends()` | `boost::system::error_code` | sends every committed datagram (batched as the transport can); a non-empty code is fatal; afterwards none is pending |

#include <concepts>
#include <cstddef>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/io/asio.hpp"

namespace neutrino::io {

namespace detail {
/// The callable shape `receive_batch` is given (used only to state the concept).
struct receive_probe {
    void operator()(std::span<const std::byte>, const peer_address&) const noexcept {}
};
/// The handler shape `async_wait_readable` is given (used only to state the concept).
struct wait_probe {
    void operator()(const boost::system::error_code&) const noexcept {}
};
}  // namespace detail

template <class T>
concept datagram_transport =
    requires(T& t, const T& ct, boost::system::error_code& ec, const peer_address& to,
             std::size_t n) {
        typename T::executor_type;
        { t.get_executor() } -> std::convertible_to<typename T::executor_type>;
        { ct.is_open() } -> std::same_as<bool>;
        t.close();
        { ct.local_address() } -> std::same_as<peer_address>;
        t.async_wait_readable(detail::wait_probe{});
        { t.receive_batch(detail::receive_probe{}, ec) } -> std::same_as<std::size_t>;
        { t.prepare_send() } -> std::same_as<std::span<std::byte>>;
        t.commit_send(n, to);
        { ct.pending_sends() } -> std::same_as<std::size_t>;
        { t.flush_sends() } -> std::same_as<boost::system::error_code>;
    };

}  // namespace neutrino::io
