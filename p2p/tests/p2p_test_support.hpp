#pragma once
// Small helpers of the p2p tests.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/hex.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/result.hpp"

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

}  // namespace p2p_test
