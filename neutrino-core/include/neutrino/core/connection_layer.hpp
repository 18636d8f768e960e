#pragma once
// clang-format off
/// \file
/// The `client_connection` and `server_connection` concepts: what a layer above (reliable, and
/// through it extended) may ask of the core machine beneath it, beyond `datagram_layer`. The
/// machines of this module model them: `basic_client` and `v3::basic_client` the first,
/// `basic_server`, `v3::basic_server` and `basic_dual_server` the second (each header
/// static_asserts it); `tests/connection_archetype.hpp` holds the weakest models.
///
/// The layer above numbers nothing itself: it asks the core to seal numbered packets, keeps
/// their bytes from the `packet_sent` events (`event_type` is `core::event`), and asks for them
/// to be sent again, byte for byte or sealed afresh under the same number. It bounds what the
/// core accepts with a receive limit and passes what it measured (RTT samples, refusals) to the
/// core's observer.
///
/// In the tables `c` is a `C&`, `cc` a `const C&` (likewise `s`, `cs` for a server), `now` a
/// `time_point`, `t` a `packet_type`, `w` a `word_list`, `k` a `std::uint32_t` keyword, `b` a
/// `std::span<const std::byte>`, `pn` and `id` `std::uint64_t` (a packet number, a session id),
/// `rtt` a `duration`, `what` a `refusal`, `cand` a `bool`, `f` a callable `f(id, state)`.
/// Calls returning `result` never throw; `noexcept` marks those the layer above makes from its
/// own `noexcept` members.
///
/// `client_connection<C>`: `datagram_layer<C>`, and
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `C::event_type` | `core::event` | events carry the sealed bytes of every numbered packet (`packet_sent`) and every accepted one (`packet_received`) |
/// | `c.connect(now)` | `result<void>` | starts dialling |
/// | `c.close(now)` | any (discarded) | ends the session (final until `connect`) |
/// | `c.send_packet(t, w, now)` | `result<std::uint64_t>` | seals and queues a numbered packet (DATA, KEEP_ALIVE) with words `w`; its number |
/// | `c.send_encoded(k, b, now)` | `result<std::uint64_t>` | as `send_packet` for DATA whose payload `b` is already encoded, with keyword `k` (a raw-data dialect) |
/// | `c.reseal(pn, t, w, now)` | `result<void>` | seals again, under the used number `pn`, a control packet the peer asked for (v2 seals `t`, `w` afresh; v3 re-seals the original plaintext and ignores them) |
/// | `c.resend(b, pn, now)` | `result<void>` | queues the sealed datagram `b` (number `pn`) again, byte for byte (v3 may re-seal it) |
/// | `c.send_request(pn, now)` | `result<void>` | queues an unnumbered REQUEST_RETRANSMISSION for `pn` |
/// | `c.set_receive_limit(pn)` | any (discarded) | accept no peer packet numbered above `pn` (the receive window) |
/// | `c.report_rtt(rtt, now)` | any (discarded) | an RTT sample the layer above measured, for the observer |
/// | `c.report_congestion(info, now)` | any (discarded) | where the layer above's congestion controller stands (`congestion_info`), for the observer |
/// | `c.report_refusal(what, now)` | any (discarded) | a refusal the layer above made, for the observer |
/// | `cc.last_sent()`, `cc.last_received()` | `time_point` (noexcept) | when a datagram was last queued / a packet last accepted (keep-alive timing) |
/// | `cc.state()` | `session_state` (noexcept) | the session's state |
/// | `cc.established()` | `bool` (noexcept) | `state() == session_state::established` |
/// | `cc.session_id()` | `std::uint64_t` (noexcept) | the current session id, 0 when none |
/// | `cc.configuration().dialect` | convertible to `dialect` (noexcept) | the dialect the layer above declared and configured |
/// | `cc.configuration().server` | convertible to `peer_address` (noexcept) | the server's address (for the events the layer above makes) |
/// | `cc.peer_message_limit()` | `std::uint32_t` | *optional* (v3): the largest message the peer accepts, negotiated in the handshake for dialect id 2; a layer above reads it from the core machine when present |
///
/// `server_connection<S>`: `datagram_layer<S>`, and, per session `id` (an unknown or unestablished
/// one makes the `result` calls fail with unknown_session or not_connected),
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `S::event_type` | `core::event` | as for the client |
/// | `s.send_packet(id, t, w, now)` | `result<std::uint64_t>` | as the client's, to session `id` |
/// | `s.send_encoded(id, k, b, now)` | `result<std::uint64_t>` | as the client's, to session `id` |
/// | `s.reseal(id, pn, t, w, now, cand)` | `result<void>` | as the client's; `cand`: to the session's candidate address (wire v2 path validation) instead |
/// | `s.resend(id, b, pn, now, cand)` | `result<void>` | as the client's; `cand` as for `reseal` |
/// | `s.send_request(id, pn, now)` | `result<void>` | as the client's |
/// | `s.send_probe(id, t, w, now)` | `result<std::uint64_t>` | seals a new numbered packet to the candidate address only; its number (fails with not_connected when the machine validates paths itself, as v3 does) |
/// | `s.validate_path(id, now)` | `result<void>` | the peer acknowledged a probe from the candidate address: the session moves there |
/// | `s.set_receive_limit(id, pn)` | any (discarded) | as the client's |
/// | `s.report_rtt(id, rtt, now)` | any (discarded) | as the client's |
/// | `s.report_congestion(id, info, now)` | any (discarded) | as the client's |
/// | `s.report_refusal(id, what, now)` | any (discarded) | as the client's |
/// | `s.drop_session(id, now)` | any (discarded) | ends the session (a `closed` event follows) |
/// | `s.shutdown(now)` | any (discarded) | sends SERVER_SHUTDOWN to every session and accepts no new one |
/// | `cs.for_each_session(f)` | any (discarded) | calls `f(id, state)` for every session; `f` adds or removes none |
/// | `cs.session_count()` | `std::size_t` (noexcept) | sessions held |
/// | `cs.state_of(id)` | `session_state` (noexcept) | a session's state, `session_state::none` when unknown |
/// | `cs.peer_of(id)` | `std::optional<peer_address>` (noexcept) | the address a session talks to, `nullopt` when unknown |
/// | `cs.configuration().dialect` | convertible to `dialect` (noexcept) | as for the client |
/// | `cs.peer_message_limit(id)` | `std::uint32_t` | *optional* (v3): as for the client, per session |
///
/// The concepts check expressions and their types only: that `send_packet` numbers packets in
/// order and reports each with a `packet_sent` event, or that `set_receive_limit` is obeyed, is
/// the machines' tests' business.
///
/// How a machine is built is not part of them either: the reliable layer's constructors (all
/// templates) forward a `client_config` / `server_config`, its dialect set, and the rest of their
/// arguments (observer, randomness) to `C`'s.
// clang-format on

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core {

// clang-format off
/// A core client as the layer above uses it; see the first table in this file's comment.
template <class C>
concept client_connection =
    datagram_layer<C> && std::same_as<typename C::event_type, event> &&
    requires(C& c, const C& cc, time_point now, packet_type t, word_list w, std::uint32_t k,
             std::span<const std::byte> b, std::uint64_t pn, duration rtt, refusal what,
             const congestion_info& info) {
        { c.connect(now) } -> std::same_as<result<void>>;
        c.close(now);
        { c.send_packet(t, w, now) } -> std::same_as<result<std::uint64_t>>;
        { c.send_encoded(k, b, now) } -> std::same_as<result<std::uint64_t>>;
        { c.reseal(pn, t, w, now) } -> std::same_as<result<void>>;
        { c.resend(b, pn, now) } -> std::same_as<result<void>>;
        { c.send_request(pn, now) } -> std::same_as<result<void>>;
        c.set_receive_limit(pn);
        c.report_rtt(rtt, now);
        c.report_congestion(info, now);
        c.report_refusal(what, now);
        { cc.last_sent() } noexcept -> std::same_as<time_point>;
        { cc.last_received() } noexcept -> std::same_as<time_point>;
        { cc.state() } noexcept -> std::same_as<session_state>;
        { cc.established() } noexcept -> std::same_as<bool>;
        { cc.session_id() } noexcept -> std::same_as<std::uint64_t>;
        { cc.configuration().dialect } noexcept -> std::convertible_to<dialect>;
        { cc.configuration().server } noexcept -> std::convertible_to<peer_address>;
    };

/// A core server as the layer above uses it; see the second table in this file's comment.
template <class S>
concept server_connection =
    datagram_layer<S> && std::same_as<typename S::event_type, event> &&
    requires(S& s, const S& cs, time_point now, std::uint64_t id, packet_type t, word_list w,
             std::uint32_t k, std::span<const std::byte> b, std::uint64_t pn, bool cand,
             duration rtt, refusal what, const congestion_info& info,
             void (*f)(std::uint64_t, session_state)) {
        { s.send_packet(id, t, w, now) } -> std::same_as<result<std::uint64_t>>;
        { s.send_encoded(id, k, b, now) } -> std::same_as<result<std::uint64_t>>;
        { s.reseal(id, pn, t, w, now, cand) } -> std::same_as<result<void>>;
        { s.resend(id, b, pn, now, cand) } -> std::same_as<result<void>>;
        { s.send_request(id, pn, now) } -> std::same_as<result<void>>;
        { s.send_probe(id, t, w, now) } -> std::same_as<result<std::uint64_t>>;
        { s.validate_path(id, now) } -> std::same_as<result<void>>;
        s.set_receive_limit(id, pn);
        s.report_rtt(id, rtt, now);
        s.report_congestion(id, info, now);
        s.report_refusal(id, what, now);
        s.drop_session(id, now);
        s.shutdown(now);
        cs.for_each_session(f);
        { cs.session_count() } noexcept -> std::same_as<std::size_t>;
        { cs.state_of(id) } noexcept -> std::same_as<session_state>;
        { cs.peer_of(id) } noexcept -> std::same_as<std::optional<peer_address>>;
        { cs.configuration().dialect } noexcept -> std::convertible_to<dialect>;
    };
// clang-format on

}  // namespace neutrino::core
