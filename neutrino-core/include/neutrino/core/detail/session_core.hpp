#pragma once
/// \file
/// What a client and a server session have in common: keys, id, packet numbering, replay window,
/// expiry, and the receive checks that follow decryption.

#include <cstdint>
#include <optional>

#include "neutrino/core/address.hpp"
#include "neutrino/core/crypto.hpp"
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

    std::uint64_t take_pn() noexcept { return next_pn++; }
};

/// Payload shape each type allows in basic v2.  spec: neutrino.md §18.1 item 2
[[nodiscard]] inline bool shape_ok(packet_type t, const words_view& w) noexcept {
    switch (t) {
        case packet_type::data: return true;
        case packet_type::server_hello2:
        case packet_type::client_hello3:
        case packet_type::keep_alive:
        case packet_type::client_good_bye:
        case packet_type::server_shutdown: return w.empty();
        case packet_type::client_hello1:
        case packet_type::request_retransmission: return false;
    }
    return false;
}

/// The checks of the clear header common to both roles.  spec: neutrino.md §9.1
template <class Wire>
[[nodiscard]] result<clear_header> check_header(std::span<const std::byte> d) noexcept {
    auto h = clear_header::parse(d);
    if (!h) return h;
    if (h->version != Wire::version) return fail(errc::bad_version);
    if (!basic_packet_type(h->type)) return fail(errc::bad_packet_type);
    if (!valid_session_id(h->session_id)) return fail(errc::bad_session_id);
    return h;
}

}  // namespace neutrino::core::detail
