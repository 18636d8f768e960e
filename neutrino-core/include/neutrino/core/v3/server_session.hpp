#pragma once
/// \file
/// What a v3 server keeps per session: the transport session, the negotiated dialect, the
/// stored HELLO2 of a pending session and where it went, and a path candidate.
/// spec: neutrino-v3.md §7.4 steps 3 and 12, §9.3, §12.1

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "neutrino/address.hpp"
#include "neutrino/core/dialect.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/path_validation.hpp"
#include "neutrino/core/v3/session.hpp"

namespace neutrino::core::v3::detail {

inline constexpr std::size_t max_hello2_destinations = 4;  // spec: neutrino-v3.md §7.4 step 3

/// What the v3 server keeps per session.
struct server_session {
    transport_session t;
    core::dialect d;
    std::uint32_t peer_message_limit = 0;  ///< the client's message limit from its offer
    mac_value mac1{};
    std::array<std::byte, hello2_size> hello2{};
    std::array<peer_address, max_hello2_destinations> hello2_to{};
    std::size_t hello2_count = 0;
    peer_address host;  ///< the first HELLO1's source, for the per-IP pending count
    std::optional<path_challenge_state> candidate;
};

}  // namespace neutrino::core::v3::detail
