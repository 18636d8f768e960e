#pragma once
/// \file
/// What a client and a server session have in common: keys, id, packet numbering, replay window,
/// expiry, and the receive checks that follow decryption.

#include <cstdint>
#include <cstring>
#include <span>
#include <optional>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/replay_window.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::detail {

/// An address a session's peer seems to have moved to, not validated yet: nothing but probes
/// and answers to its own requests go there, and at most 3× the bytes it sent us.
/// spec: neutrino.md §18.1 items 4-5, RFC 9000 §8
struct path_candidate {
    peer_address addr;
    std::uint64_t received = 0;  ///< bytes received from `addr` while it is the candidate
    std::uint64_t sent = 0;      ///< bytes queued to `addr`

    [[nodiscard]] bool allows(std::size_t size) const noexcept { return sent + size <= 3 * received; }
};

struct session_core {
    std::uint64_t id = 0;
    session_keys keys;
    std::uint64_t next_pn = 0;  ///< our next packet number
    replay_window<replay_window_size> window;  ///< the peer's packet numbers  spec: neutrino.md §18.1 item 3
    peer_address peer;
    session_state state = session_state::none;
    time_point expiry{};
    /// Highest peer packet number the layer above can take (a layered dialect); beyond it a
    /// packet is dropped before it reaches the replay window, so a later copy can still be
    /// accepted.
    std::uint64_t receive_limit = UINT64_MAX;
    std::optional<path_candidate> candidate;  ///< server: an unvalidated address, see above

    std::uint64_t take_pn() noexcept { return next_pn++; }
};

/// Where a packet goes: the session's validated address, or its candidate (budgeted).
enum class destination : std::uint8_t { peer, candidate };

/// One packet to seal and queue (see `queue_packet`).
struct outgoing {
    packet_type type = packet_type::data;
    std::uint64_t pn = 0;
    std::uint32_t keyword = 0;
    word_list words{};                   ///< the words to encode, unless `encoded` is set
    std::span<const std::byte> encoded;  ///< an already-encoded payload (Extended DATA)
    bool is_encoded = false;
    bool new_number = false;  ///< pn is the session's next number: consume it, report packet_sent
    destination to = destination::peer;
};

/// The address `to` names for `s`, or nullptr when it has no candidate.
[[nodiscard]] inline const peer_address* address_of(const session_core& s, destination to) noexcept {
    if (to == destination::peer) return &s.peer;
    return s.candidate ? &s.candidate->addr : nullptr;
}

/// Seals `o` for session `s` into the send queue `tx`, addressed to `s.peer`, reports it to
/// the observer and, for a new number under a layered dialect, as a packet_sent event.
/// Errors: would_block (queue full) and the sealing errors; nothing is queued then.
template <class Wire, class Random, class Observer, class PushEvent>
result<void> queue_packet(datagram_queue& tx, session_core& s, const outgoing& o, role side,
                          const dialect& d, std::size_t min_plain_size, Random& random,
                          Observer& observer, PushEvent&& push_event, time_point now) {
    if (tx.full()) return fail(errc::would_block);
    const peer_address* to = address_of(s, o.to);
    if (to == nullptr) return fail(errc::not_connected);
    auto buf = tx.back_buffer();
    auto n = o.is_encoded ? Wire::seal_encoded(buf, o.type, s.id, o.pn, o.keyword, o.encoded, 0,
                                               s.keys.tx, random)
                          : Wire::seal(buf, o.type, s.id, o.pn, o.keyword, o.words,
                                       min_plain_size, s.keys.tx, random);
    if (!n) return tl::unexpected(n.error());
    if (o.to == destination::candidate) {
        if (!s.candidate->allows(*n)) return fail(errc::amplification_limited);
        s.candidate->sent += *n;
    }
    if (o.new_number) ++s.next_pn;
    tx.push(*n, *to);
    const std::span<const std::byte> wire(buf.data(), *n);
    if (o.new_number && d.layered) {
        event e = event::make(event_kind::packet_sent, s.id, *to);
        e.type = o.type;
        e.packet_number = o.pn;
        e.wire = wire;
        push_event(e);
    }
    packet_info info{side, o.type, s.id, o.pn, o.keyword, {}, o.words, wire, *to};
    observer.on_packet_sent(info, now);
    return {};
}

/// Queues a datagram sealed earlier, byte for byte, to `s.peer` or its candidate (a
/// retransmission; to the candidate only within its budget).
inline result<void> queue_copy(datagram_queue& tx, session_core& s, std::span<const std::byte> datagram,
                               destination to = destination::peer) noexcept {
    if (datagram.size() > max_datagram_size) return fail(errc::datagram_too_large);
    if (tx.full()) return fail(errc::would_block);
    const peer_address* addr = address_of(s, to);
    if (addr == nullptr) return fail(errc::not_connected);
    if (to == destination::candidate) {
        if (!s.candidate->allows(datagram.size())) return fail(errc::amplification_limited);
        s.candidate->sent += datagram.size();
    }
    auto buf = tx.back_buffer();
    std::memcpy(buf.data(), datagram.data(), datagram.size());
    tx.push(datagram.size(), *addr);
    return {};
}

/// What the observer learns about a datagram queued again (the type from its clear header).
inline packet_info resent_info(role side, const session_core& s, std::span<const std::byte> datagram,
                               std::uint64_t pn, destination to = destination::peer) noexcept {
    const auto type = datagram.size() > 5 ? static_cast<packet_type>(std::to_integer<std::uint8_t>(datagram[5]))
                                          : packet_type::data;
    const peer_address* addr = address_of(s, to);
    return packet_info{side, type, s.id, pn, 0, {}, {}, datagram, addr != nullptr ? *addr : s.peer};
}

/// True when `w` holds exactly `n` words of 8 bytes each (u64 fields).
[[nodiscard]] inline bool u64_words(const words_view& w, std::size_t n) noexcept {
    if (w.size() != n) return false;
    for (word x : w) {
        if (x.size() != 8) return false;
    }
    return true;
}

/// Payload shape each type allows.  spec: neutrino.md §18.1 item 2, §6.4, §6.7
[[nodiscard]] inline bool shape_ok(packet_type t, const words_view& w, const dialect& d) noexcept {
    switch (t) {
        case packet_type::data: return true;
        case packet_type::keep_alive:
            return d.layered ? u64_words(w, d.keep_alive_u64_words) : w.empty();
        case packet_type::request_retransmission: return d.layered && u64_words(w, 1);
        case packet_type::server_hello2:
        case packet_type::client_hello3:
        case packet_type::client_good_bye:
        case packet_type::server_shutdown: return w.empty();
        case packet_type::client_hello1: return false;
    }
    return false;
}

/// The checks of the clear header common to both roles.  spec: neutrino.md §9.1
template <class Wire>
[[nodiscard]] result<clear_header> check_header(std::span<const std::byte> in,
                                                const dialect& d) noexcept {
    auto h = clear_header::parse(in);
    if (!h) return h;
    if (h->version != Wire::version) return fail(errc::bad_version);
    const bool request = h->type == static_cast<std::uint8_t>(packet_type::request_retransmission);
    if (!basic_packet_type(h->type) && !(request && d.layered)) {
        return fail(errc::bad_packet_type);
    }
    if (!valid_session_id(h->session_id)) return fail(errc::bad_session_id);
    return h;
}


/// An opened packet and its words.
struct opened_words {
    opened_packet packet;
    words_view words;  ///< empty for raw DATA (the layer above judges that payload)
};

/// After the clear header (§9.1): opens `in` with session `s`'s receive key into `scratch` and
/// parses its payload as dialect `d` says, checking the type's shape. Errors: the opening
/// errors, the word errors, bad_shape.  spec: neutrino.md §9.3, §13.3, §18.1 item 2
template <class Wire>
[[nodiscard]] result<opened_words> open_words(std::span<const std::byte> in, const clear_header& h,
                                              const session_core& s, std::span<std::byte> scratch,
                                              const dialect& d) noexcept {
    auto p = Wire::open(in, h, s.keys.rx, scratch);
    if (!p) return tl::unexpected(p.error());
    const auto type = static_cast<packet_type>(h.type);
    // Extended DATA is u16/u32-framed or a raw fragment; the layer above judges it. Every
    // other payload is a u8/u16 word list.
    const bool raw = d.raw_data && type == packet_type::data;
    auto words = raw ? result<words_view>(words_view{}) : words_view::parse(p->payload);
    if (!words) return tl::unexpected(words.error());
    if (!shape_ok(type, *words, d)) return fail(errc::bad_shape);
    return opened_words{*p, *words};
}

/// The number checks of a numbered packet of session `s`: numbered, fresh in the replay
/// window, within the receive limit. One beyond the limit is authentic, so the layer above
/// learns its number (a `packet_beyond_window` event through `push_event`) and can ask for it
/// later. Errors: bad_shape (unnumbered), replayed, outside_window.
template <class Wire, class PushEvent>
[[nodiscard]] result<void> check_number(const session_core& s, std::uint64_t pn,
                                        PushEvent&& push_event) {
    if (Wire::is_unnumbered(pn)) return fail(errc::bad_shape);
    if (!s.window.check(pn)) return fail(errc::replayed);
    if (pn > s.receive_limit) {
        event e = event::make(event_kind::packet_beyond_window, s.id, s.peer);
        e.packet_number = pn;
        push_event(e);
        return fail(errc::outside_window);
    }
    return {};
}

}  // namespace neutrino::core::detail
