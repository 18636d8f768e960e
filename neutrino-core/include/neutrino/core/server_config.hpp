#pragma once
/// \file
/// `server_config`: what a server machine (v2 or v3) is configured with.
/// spec: neutrino.md §10.2, §10.4, §18.1

#include <cstddef>
#include <cstdint>
#include <functional>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/dialect.hpp"

namespace neutrino::core {

/// Configuration of a server machine.
struct server_config {
    keypair keys;    ///< the server's long-term key pair
    timing timers{};
    std::size_t min_datagram_size = 0;
    std::size_t max_sessions = 65536;        ///< sessions in any state, in total
    std::size_t max_sessions_per_host = 32;  ///< per source IP, any state  spec: neutrino.md §10.4
    std::size_t max_pending = 1024;          ///< handshakes in progress  spec: neutrino.md §18.1 item 8
    std::uint32_t hello_rate = 2000;   ///< HELLO1 accepted per second (token bucket)
    std::uint32_t hello_burst = 256;   ///< bucket depth
    /// Client ephemeral keys remembered to refuse a replayed HELLO1 (0: none). A genuine
    /// client draws a fresh key for every HELLO1, so a key seen again is a replay.
    std::size_t hello_replay_cache = 16384;
    core::dialect dialect = basic_dialect;  ///< declared by the layer above (core::dialect)
    std::size_t send_queue_capacity = 256;
    std::size_t event_queue_capacity = 256;
    /// Asked for every valid HELLO1; return false to refuse silently (nothing is sent).
    /// Empty: accept every session.
    std::function<bool(const peer_address&)> accept;
};

}  // namespace neutrino::core
