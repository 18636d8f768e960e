#pragma once
// What the NAT simulations share (inspector's network tests, p2p's puncher tests): a rendezvous
// server that only reflects the source address it saw, the topology's addresses, and the four
// NAT types of the hole-punching matrix (RFC 4787 terms).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/nat.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::test {

/// The size of a reflector's answer: the 16 address bytes, then the port, big-endian.
inline constexpr std::size_t reflexive_size = 18;

/// A rendezvous server's one job here: answers every datagram with the source it saw.
class reflector {
public:
    struct event_type {};

    result<void> handle_datagram(std::span<const std::byte>, const peer_address& from, time_point) {
        replies_.push_back(from);
        return {};
    }
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point) {
        if (replies_.empty()) return std::nullopt;
        const peer_address to = replies_.front();
        replies_.erase(replies_.begin());
        for (std::size_t i = 0; i < 16; ++i) out[i] = std::byte{to.bytes[i]};
        out[16] = std::byte{static_cast<std::uint8_t>(to.port >> 8)};
        out[17] = std::byte{static_cast<std::uint8_t>(to.port)};
        return transmit{reflexive_size, to};
    }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point) {}

private:
    std::vector<peer_address> replies_;
};
static_assert(datagram_layer<reflector>);

inline const peer_address server_address = peer_address::v4({192, 0, 2, 10}, 3478);
inline const peer_address nat1_public = peer_address::v4({203, 0, 113, 1}, 0);
inline const peer_address nat2_public = peer_address::v4({198, 51, 100, 1}, 0);
inline const peer_address host_a = peer_address::v4({10, 0, 1, 2}, 40000);
inline const peer_address host_b = peer_address::v4({10, 0, 2, 2}, 40000);

/// The four NAT types of the matrix.
enum class nat_type { eim_eif, eim_adf, eim_apdf, symmetric };

inline std::string name(nat_type t) {
    switch (t) {
        case nat_type::eim_eif: return "EIM+EIF";
        case nat_type::eim_adf: return "EIM+ADF";
        case nat_type::eim_apdf: return "EIM+APDF";
        case nat_type::symmetric: return "APDM+APDF";
    }
    return "?";
}

/// A NAT of type `t` at `public_address`; a symmetric one allocates ports at random (like
/// masquerade's random mode).
inline inspector::nat_config nat_of(nat_type t, peer_address public_address, std::uint64_t seed) {
    namespace ni = inspector;
    ni::nat_config c;
    c.public_address = public_address;
    c.seed = seed;
    c.mapping = t == nat_type::symmetric ? ni::nat_mapping::address_and_port_dependent
                                         : ni::nat_mapping::endpoint_independent;
    switch (t) {
        case nat_type::eim_eif: c.filtering = ni::nat_filtering::endpoint_independent; break;
        case nat_type::eim_adf: c.filtering = ni::nat_filtering::address_dependent; break;
        case nat_type::eim_apdf:
        case nat_type::symmetric: c.filtering = ni::nat_filtering::address_and_port_dependent;
    }
    if (t == nat_type::symmetric) c.ports = ni::nat_port_allocation::random;
    return c;
}

/// Whether hole punching between peers behind NATs of types `x` and `y` can succeed (RFC 4787):
/// it fails when one side is symmetric and the other filters on address and port (EIM+APDF or
/// symmetric): the symmetric side's new port is refused there, and the other side's probes go
/// to the symmetric side's server mapping, which admits only the server.
inline bool punching_succeeds(nat_type x, nat_type y) noexcept {
    auto port_filtering = [](nat_type t) { return t == nat_type::eim_apdf || t == nat_type::symmetric; };
    return !((x == nat_type::symmetric && port_filtering(y)) ||
             (y == nat_type::symmetric && port_filtering(x)));
}

}  // namespace neutrino::test
