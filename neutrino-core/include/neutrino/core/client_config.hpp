#pragma once
/// \file
/// `client_config`: what a client machine (v2 or v3) is configured with.
/// spec: neutrino.md §10.3, §11

#include <cstddef>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/dialect.hpp"

namespace neutrino::core {

/// Configuration of a client machine.
struct client_config {
    public_key server_key{};   ///< the server's long-term public key
    peer_address server;       ///< where the server listens; datagrams from elsewhere are dropped
    timing timers{};           ///< the reference's timers (peers depend on them)
    std::size_t min_datagram_size = 0;  ///< pad the plaintext to this size (0: no padding)
    bool reconnect = true;  ///< redial after an expiry or a server shutdown (never after close())
    core::dialect dialect = basic_dialect;  ///< declared by the layer above (core::dialect)
    std::size_t send_queue_capacity = 64;   ///< datagrams waiting for poll_datagram
    std::size_t event_queue_capacity = 64;  ///< events waiting for poll_event
    /// CLIENT_GOOD_BYEs `close()` sends (distinct numbered packets, back to back), so that the
    /// loss of one datagram does not leave the server to time the session out as if the client
    /// had crashed. A server drops the copies after the first (unknown session).
    std::size_t good_bye_copies = 2;
};

}  // namespace neutrino::core
