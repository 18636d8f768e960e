#pragma once
/// \file
/// What a client and a server session have in common: keys, id, packet numbering, replay window,
/// expiry, and the receive checks that follow decryption.

#include <cstdint>
#include <optional>

#include "neutrino/core/address.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/replay_window.hpp"
#include "neutrino/core/time.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/core/words.hpp"

namespace neutrino::core::detail {

struct session_core {
    std::uint64_t id = 0;
    session_keys keys;
    std::uint64_t next_pn = 0;  ///< our next packet number
    replay_window<1024> window;  ///< the peer's packet numbers  spec: neutrino.md §18.1 item 3
    peer_address peer;
    session_state state = session_state::none;
    time_point expiry{};
    /// Highest peer packet number the layer above can take (variant::reliable); beyond it a
    /// packet is dropped before it reaches the replay window, so a later copy can still be
    /// accepted.
    std::uint64_t receive_limit = UINT64_MAX;

    std::uint64_t take_pn() noexcept { return next_pn++; }
};

/// True when `w` holds exactly `n` words of 8 bytes each (u64 fields).
[[nodiscard]] inline bool u64_words(const words_view& w, std::size_t n) noexcept {
    if (w.size() != n) return false;
    for (word x : w) {
        if (x.size() != 8) return false;
    }
    return true;
}

/// Payload shape each type allows.  spec: neutrino.md §18.1 item 2, §6.4, §6.7
[[nodiscard]] inline bool shape_ok(packet_type t, const words_view& w, variant v) noexcept {
    switch (t) {
        case packet_type::data: return true;
        case packet_type::keep_alive: return layered(v) ? u64_words(w, 2) : w.empty();
        case packet_type::request_retransmission: return layered(v) && u64_words(w, 1);
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
[[nodiscard]] result<clear_header> check_header(std::span<const std::byte> d, variant v) noexcept {
    auto h = clear_header::parse(d);
    if (!h) return h;
    if (h->version != Wire::version) return fail(errc::bad_version);
    const bool request = h->type == static_cast<std::uint8_t>(packet_type::request_retransmission);
    if (!basic_packet_type(h->type) && !(request && layered(v))) {
        return fail(errc::bad_packet_type);
    }
    if (!valid_session_id(h->session_id)) return fail(errc::bad_session_id);
    return h;
}

}  // namespace neutrino::core::detail
