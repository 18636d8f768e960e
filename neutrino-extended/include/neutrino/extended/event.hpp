#pragma once
/// \file
/// What the extended layer reports to the application.

#include <cstdint>
#include <span>
#include <system_error>

#include "neutrino/address.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/io/message.hpp"

namespace neutrino::extended {

/// A validated u16/u32 word list (Extended DATA framing).
using words_view = core::basic_words_view<core::extended_word_codec>;

enum class event_kind : std::uint8_t {
    connecting,       ///< client: a HELLO1 was sent
    established,      ///< the session is up
    server_shutdown,  ///< client: the server shut down; the session drains
    closed,           ///< the session ended; `reason` says why
    address_changed,  ///< server: the client's address changed to `peer` (was `old_peer`)
    path_candidate,   ///< server: the client speaks from `peer`, not validated yet; replies
                      ///< keep going to `old_peer` (see core::event_kind::path_candidate)
    message,          ///< a whole message: `words`
    message_part,     ///< the next bytes of a streamed message: `bytes` at `offset`, `first`/`last`
    message_failed,   ///< a series was refused or broken (`reason`); nothing of it is delivered,
                      ///< or, for a streamed message, the parts delivered so far are void
    writable,         ///< `send` / `write` refused or took less earlier, and there is room now
};

/// One event. Views (`words`, `bytes`) stay valid until the next non-const call on the layer.
struct event {
    event_kind kind = event_kind::message;
    std::uint64_t session_id = 0;
    peer_address peer;
    std::error_code reason;  ///< closed, message_failed
    peer_address old_peer;   ///< address_changed, path_candidate
    words_view words;        ///< message
    /// message_part: the next encoded bytes (u16 count, then u32 size + bytes per word; decode
    /// them with `extended::stream_decoder`).
    std::span<const std::byte> bytes;
    std::uint64_t offset = 0;      ///< message_part: where `bytes` start in the message
    std::uint64_t size_bound = 0;  ///< message_part: upper bound of the encoded size (announced)
    bool first = false;            ///< message_part: the message starts here
    bool last = false;             ///< message_part: the message is complete with this part

    /// The lifecycle events of the reliable layer, as extended events.
    [[nodiscard]] static event from(const core::event& e) noexcept {
        event x;
        switch (e.kind) {
            case core::event_kind::connecting: x.kind = event_kind::connecting; break;
            case core::event_kind::established: x.kind = event_kind::established; break;
            case core::event_kind::server_shutdown: x.kind = event_kind::server_shutdown; break;
            case core::event_kind::address_changed: x.kind = event_kind::address_changed; break;
            case core::event_kind::path_candidate: x.kind = event_kind::path_candidate; break;
            case core::event_kind::writable: x.kind = event_kind::writable; break;
            default: x.kind = event_kind::closed; break;
        }
        x.session_id = e.session_id;
        x.peer = e.peer;
        x.reason = e.reason;
        x.old_peer = e.old_peer;
        return x;
    }
};

}  // namespace neutrino::extended

/// What the driver's operations need to know about extended events: `async_receive` completes
/// with whole messages (`message`); streamed parts (`message_part`, with `stream_above`) and
/// refused series (`message_failed`) are for the event handler.
template <>
struct neutrino::io::application_traits<neutrino::extended::event> {
    using event = neutrino::extended::event;
    using kind = neutrino::extended::event_kind;
    static app_kind classify(const event& e) noexcept {
        switch (e.kind) {
            case kind::established: return app_kind::established;
            case kind::message: return app_kind::message;
            case kind::closed: return app_kind::closed;
            case kind::writable: return app_kind::writable;
            default: return app_kind::other;
        }
    }
    static std::uint64_t session_of(const event& e) noexcept { return e.session_id; }
    static peer_address peer_of(const event& e) noexcept { return e.peer; }
    static std::error_code reason_of(const event& e) noexcept { return e.reason; }
    static void copy_message(const event& e, message& m) {
        m.clear();
        for (core::word w : e.words) m.append(w);
    }
};
static_assert(neutrino::io::application_event<neutrino::extended::event>);
