#pragma once
// Small helpers of the p2p tests.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/hex.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace p2p_test {

inline std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

inline std::vector<std::byte> from_hex(std::string_view hex) {
    std::vector<std::byte> out;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return c - 'A' + 10;
    };
    std::string clean;
    for (char c : hex) {
        if (c != ' ') clean.push_back(c);
    }
    for (std::size_t i = 0; i + 1 < clean.size(); i += 2) {
        out.push_back(static_cast<std::byte>(nibble(clean[i]) * 16 + nibble(clean[i + 1])));
    }
    return out;
}

template <class T>
std::error_code error_of(const neutrino::result<T>& r) {
    return r ? std::error_code{} : r.error();
}

/// A node id whose 16 bytes are all `b`.
inline neutrino::p2p::node_id id_of(std::uint8_t b) {
    neutrino::p2p::node_id id{};
    id.fill(std::byte{b});
    return id;
}

/// A PROBE key whose bytes are all `b`.
inline neutrino::p2p::probe_key_bytes test_key(std::uint8_t b) {
    neutrino::p2p::probe_key_bytes k{};
    k.fill(std::byte{b});
    return k;
}

/// The relay of a rendezvous server reduced to its forwarding rule (§7.3): a `0x04` datagram
/// with relay id `relay_id` from one of the two bound endpoints goes unchanged to the other.
/// Server control (`0x03`, the nodes' registration keepalives, which hold their NAT mappings
/// towards the server) is taken and ignored; anything else is refused.
class test_relay {
public:
    struct event_type {};

    test_relay(neutrino::peer_address a, neutrino::peer_address b, std::uint64_t relay_id)
        : a_(a), b_(b), relay_id_(relay_id) {}

    neutrino::result<void> handle_datagram(std::span<const std::byte> in,
                                           const neutrino::peer_address& from,
                                           neutrino::time_point /*now*/) {
        namespace p2p = neutrino::p2p;
        if (!in.empty() && in[0] == std::byte{0x03}) return {};
        const auto d = p2p::decode_relayed(in);
        if (!d) return tl::unexpected(d.error());
        if (d->relay_id != relay_id_) return neutrino::fail(p2p::errc::relay_unknown);
        if (from != a_ && from != b_) return neutrino::fail(p2p::errc::relay_wrong_source);
        queue_.emplace_back(from == a_ ? b_ : a_, std::vector<std::byte>(in.begin(), in.end()));
        ++forwarded;
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, neutrino::time_point) {
        if (queue_.empty()) return std::nullopt;
        const auto [to, bytes] = std::move(queue_.front());
        queue_.pop_front();
        std::copy(bytes.begin(), bytes.end(), out.begin());
        return neutrino::transmit{bytes.size(), to};
    }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<neutrino::time_point> deadline() const { return std::nullopt; }
    void handle_deadline(neutrino::time_point) {}

    std::uint64_t forwarded = 0;  ///< datagrams forwarded

private:
    neutrino::peer_address a_;
    neutrino::peer_address b_;
    std::uint64_t relay_id_;
    std::deque<std::pair<neutrino::peer_address, std::vector<std::byte>>> queue_;
};
static_assert(neutrino::datagram_layer<test_relay>);

}  // namespace p2p_test
