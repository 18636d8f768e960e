#pragma once
/// \file
/// `candidate`: one address of a peer and where it comes from, as the rendezvous server
/// announces it (INTRODUCE, PEER_UPDATE) and the puncher probes it.  spec: p2p.md §7.3, §7.4

#include <cstdint>

#include "neutrino/address.hpp"

namespace neutrino::p2p {

/// Where a candidate address comes from; the order is the priority (lower is better) of
/// §7.4 step 2: host first (same LAN, where most NATs do not hairpin), then IPv6, then the
/// reflexive IPv4 address the server saw, then addresses learned from the peer's PROBEs.
enum class candidate_kind : std::uint8_t {
    host = 0,           ///< a local address of the peer (same-LAN peers)
    ipv6 = 1,           ///< a global IPv6 address (no NAT)
    reflexive = 2,      ///< the peer's public IPv4 mapping as the rendezvous server saw it
    peer_reflexive = 3  ///< an address a valid PROBE came from that nobody announced (§7.4.3)
};

/// One address of the peer and its kind.
struct candidate {
    peer_address address;
    candidate_kind kind = candidate_kind::reflexive;

    friend bool operator==(const candidate&, const candidate&) = default;
};

}  // namespace neutrino::p2p
