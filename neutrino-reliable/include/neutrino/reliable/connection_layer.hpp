#pragma once
// clang-format off
/// \file
/// `reliable::client_connection` and `reliable::server_connection`: what a layer above the
/// reliable one (extended) may ask of the reliable machine beneath it, beyond `datagram_layer`.
/// `reliable::basic_client` and `basic_server` model them over every core machine (see
/// neutrino/core/connection_layer.hpp for the contract one level down).
///
/// The layer above hands down payloads it encoded itself (DATA with a keyword, delivered in
/// order and exactly once), reads the delivered DATA back from `core::event`s, and asks for room
/// to send. In the tables `c` is a `C&`, `cc` a `const C&` (likewise `s`, `cs`), `now` a
/// `time_point`, `k` a `std::uint32_t` keyword, `b` a `std::span<const std::byte>`, `id` a
/// session id, `f` a callable `f(id, state)`, `cfg` a core configuration (its dialect set by the
/// layer above) and `rcfg` a `reliable::config`.
///
/// `client_connection<C>`: `datagram_layer<C>`, and
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `C::event_type` | `core::event` | DATA arrives as `event_kind::data`, in order; `writable` follows a refusal for lack of room |
/// | `C(cfg, rcfg)` | | builds the stack below (the layer above's non-template constructors do this) |
/// | `c.connect(now)` | `result<void>` | starts dialling |
/// | `c.close(now)` | any (discarded) | ends the session |
/// | `c.send_encoded(k, b, now)` | `result<void>` | sends one DATA payload `b`, already encoded, with keyword `k`; would_block when the window is full |
/// | `cc.can_send()` | `bool` (noexcept) | `send_encoded` would not return would_block now |
/// | `cc.unacknowledged()` | `std::size_t` (noexcept) | DATA sent and not yet acknowledged |
/// | `cc.state()`, `cc.established()`, `cc.session_id()` | `session_state`, `bool`, `std::uint64_t` (noexcept) | as the core's |
/// | `c.next_layer().peer_message_limit()` | `std::uint32_t` | *optional* (v3): the largest message the peer accepts, negotiated by the v3 handshake |
/// | `C::max_payload_size`, `C::wire_type`, `C::next_layer_type` | | *optional*: where extended finds the largest DATA payload (else core::max_payload_size) |
///
/// `server_connection<S>`: `datagram_layer<S>`, and, per session `id`,
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `S::event_type` | `core::event` | as for the client |
/// | `S(cfg, rcfg)` | | as for the client |
/// | `s.send_encoded(id, k, b, now)` | `result<void>` | as the client's, to session `id` |
/// | `cs.can_send(id)` | `bool` (noexcept) | as the client's, for session `id` |
/// | `cs.state_of(id)` | `session_state` (noexcept) | a session's state, `none` when unknown |
/// | `cs.session_count()` | `std::size_t` (noexcept) | sessions held |
/// | `cs.for_each_session(f)` | any (discarded) | calls `f(id, state)` for every session |
/// | `s.drop_session(id, now)` | any (discarded) | ends a session |
/// | `s.shutdown(now)` | any (discarded) | shuts the server down |
/// | `s.next_layer().peer_message_limit(id)` | `std::uint32_t` | *optional* (v3): as for the client, per session |
// clang-format on

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/core/client.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/reliable/config.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable {

// clang-format off
/// A reliable client as the layer above uses it; see the first table in this file's comment.
template <class C>
concept client_connection =
    datagram_layer<C> && std::same_as<typename C::event_type, core::event> &&
    std::constructible_from<C, core::client_config, config> &&
    requires(C& c, const C& cc, time_point now, std::uint32_t k, std::span<const std::byte> b) {
        { c.connect(now) } -> std::same_as<result<void>>;
        c.close(now);
        { c.send_encoded(k, b, now) } -> std::same_as<result<void>>;
        { cc.can_send() } noexcept -> std::same_as<bool>;
        { cc.unacknowledged() } noexcept -> std::same_as<std::size_t>;
        { cc.state() } noexcept -> std::same_as<core::session_state>;
        { cc.established() } noexcept -> std::same_as<bool>;
        { cc.session_id() } noexcept -> std::same_as<std::uint64_t>;
    };

/// A reliable server as the layer above uses it; see the second table in this file's comment.
template <class S>
concept server_connection =
    datagram_layer<S> && std::same_as<typename S::event_type, core::event> &&
    std::constructible_from<S, core::server_config, config> &&
    requires(S& s, const S& cs, time_point now, std::uint64_t id, std::uint32_t k,
             std::span<const std::byte> b, void (*f)(std::uint64_t, core::session_state)) {
        { s.send_encoded(id, k, b, now) } -> std::same_as<result<void>>;
        { cs.can_send(id) } noexcept -> std::same_as<bool>;
        { cs.state_of(id) } noexcept -> std::same_as<core::session_state>;
        { cs.session_count() } noexcept -> std::same_as<std::size_t>;
        cs.for_each_session(f);
        s.drop_session(id, now);
        s.shutdown(now);
    };
// clang-format on

}  // namespace neutrino::reliable
