#pragma once
/// \file
/// What the core machines report to the application.

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/dialect.hpp"
#include "neutrino/core/words.hpp"

namespace neutrino::core {

enum class event_kind : std::uint8_t {
    connecting,       ///< client: a HELLO1 was sent
    established,      ///< the handshake completed (client: HELLO2 accepted; server: HELLO3)
    data,             ///< a DATA packet was accepted; `words` holds its words
    server_shutdown,  ///< client: the server shut down; the session drains
    closed,           ///< the session ended; `reason` says why
    address_changed,  ///< server: the client's address changed to `peer` (was `old_peer`)
    // Reported only by machines configured with a layered dialect, for the layer above:
    packet_received,  ///< an accepted packet in arrival order: `type`, `packet_number`, `words`
    packet_sent,      ///< a numbered packet was sealed: `type`, `packet_number`, `wire`
    packet_beyond_window,  ///< an authentic packet past the receive limit was dropped
                           ///< uncommitted: `packet_number` (it proves nothing about the
                           ///< numbers below it, so nothing is requested for it)
    /// server, wire v2: authenticated packets carrying the newest number arrive from `peer`,
    /// an address the session has not validated; replies keep going to `old_peer` (the
    /// validated address). A layer that can prove receipt there sends a probe with
    /// `send_probe` and calls `validate_path` when the peer acknowledged it; else the session
    /// ends with errc::path_not_validated once `old_peer` falls silent.
    path_candidate,
    /// a send refused earlier with errc::would_block may be retried now: reported by a layer
    /// with a send window (the core machines never refuse for lack of room)
    writable,
};

/// One event. `words` views the machine's receive buffer: it stays valid until the next
/// non-const call on the machine (copy the bytes to keep them).
struct event {
    event_kind kind = event_kind::data;
    std::uint64_t session_id = 0;
    peer_address peer;
    words_view words;
    std::uint64_t packet_number = 0;
    std::uint32_t keyword = 0;
    /// For `closed`: why (errc::closed after a GOOD_BYE or a local close, errc::timed_out,
    /// errc::draining after a server shutdown, errc::protocol_violation).
    std::error_code reason;
    peer_address old_peer;  ///< for `address_changed`
    packet_type type = packet_type::data;  ///< for `packet_received` / `packet_sent`
    std::span<const std::byte> wire;       ///< for `packet_sent`: the sealed datagram
    std::span<const std::byte> payload;    ///< for `packet_received`: the payload as received
    /// For `packet_received`: the datagram came from the session's unvalidated candidate
    /// address (see `path_candidate`), not from `peer`.
    bool from_candidate = false;

    /// An event of `kind` for a session and peer, every other field empty.
    [[nodiscard]] static event make(event_kind kind, std::uint64_t session_id,
                                    const peer_address& peer) noexcept {
        event e;
        e.kind = kind;
        e.session_id = session_id;
        e.peer = peer;
        return e;
    }
    /// A `closed` event with its reason.
    [[nodiscard]] static event closed(std::uint64_t session_id, const peer_address& peer,
                                      std::error_code reason) noexcept {
        event e = make(event_kind::closed, session_id, peer);
        e.reason = reason;
        return e;
    }
    /// A `data` event.
    [[nodiscard]] static event data(std::uint64_t session_id, const peer_address& peer,
                                    const words_view& words, std::uint64_t pn,
                                    std::uint32_t keyword) noexcept {
        event e = make(event_kind::data, session_id, peer);
        e.words = words;
        e.packet_number = pn;
        e.keyword = keyword;
        return e;
    }
};

}  // namespace neutrino::core
