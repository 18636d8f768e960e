#pragma once
/// \file
/// `peer_address`: the peer handle every machine and transport uses: an IP address and port as
/// plain bytes, or a handle a transport defines itself (`opaque`), so sans-IO machines can
/// compare and store peers without depending on a socket library or knowing the medium.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace neutrino {

/// An IPv4 or IPv6 address with a port, or an opaque handle. IPv4 addresses are stored in the
/// first four bytes of `bytes`, the rest zero. Value type; compares by family, bytes and port.
///
/// Machines only compare, hash and store it; what they count per host (pending handshakes,
/// sessions per IP) is keyed by `bytes` without the port. A transport that is not IP (a relay,
/// a peer-to-peer link, an in-memory network) names its peers with `opaque` handles: `bytes` is
/// its name for the host, so a relayed peer is never confused with its relay's address, and
/// `port` tells endpoints on one host apart. The UDP transport refuses to send to an opaque
/// handle (counted in `unroutable`).
struct peer_address {
    enum class family_type : std::uint8_t { none = 0, opaque = 1, v4 = 4, v6 = 6 };

    std::array<std::uint8_t, 16> bytes{};
    std::uint16_t port = 0;
    family_type family = family_type::none;

    /// An IPv4 address from its four octets in network order, e.g. `v4({127, 0, 0, 1}, 22753)`.
    static constexpr peer_address v4(std::array<std::uint8_t, 4> octets, std::uint16_t port) {
        peer_address a;
        for (std::size_t i = 0; i < 4; ++i) a.bytes[i] = octets[i];
        a.port = port;
        a.family = family_type::v4;
        return a;
    }
    /// An IPv6 address from its sixteen bytes in network order.
    static constexpr peer_address v6(std::array<std::uint8_t, 16> octets, std::uint16_t port) {
        peer_address a;
        a.bytes = octets;
        a.port = port;
        a.family = family_type::v6;
        return a;
    }

    /// A handle a transport defines: `host` names the host (what per-host limits count),
    /// `port` an endpoint on it.
    static constexpr peer_address opaque(std::array<std::uint8_t, 16> host, std::uint16_t port) {
        peer_address a;
        a.bytes = host;
        a.port = port;
        a.family = family_type::opaque;
        return a;
    }
    /// True for an IPv4 or IPv6 address (what a UDP socket can send to).
    [[nodiscard]] constexpr bool is_ip() const noexcept {
        return family == family_type::v4 || family == family_type::v6;
    }

    /// True when the address and port are the same (ignores nothing).
    friend constexpr bool operator==(const peer_address&, const peer_address&) = default;
    /// True when the hosts are the same (IP address or opaque host), whatever the ports.
    [[nodiscard]] constexpr bool same_host(const peer_address& o) const noexcept {
        return family == o.family && bytes == o.bytes;
    }
};

/// Hashes a peer address (for unordered containers keyed by peer).
struct peer_address_hash {
    std::size_t operator()(const peer_address& a) const noexcept {
        std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
        auto mix = [&h](std::uint8_t b) {
            h ^= b;
            h *= 1099511628211ULL;
        };
        for (auto b : a.bytes) mix(b);
        mix(static_cast<std::uint8_t>(a.port));
        mix(static_cast<std::uint8_t>(a.port >> 8));
        mix(static_cast<std::uint8_t>(a.family));
        return static_cast<std::size_t>(h);
    }
};

/// A host hash that ignores the port (for per-source-IP limits).
struct peer_host_hash {
    std::size_t operator()(const peer_address& a) const noexcept {
        peer_address h = a;
        h.port = 0;
        return peer_address_hash{}(h);
    }
};

}  // namespace neutrino
