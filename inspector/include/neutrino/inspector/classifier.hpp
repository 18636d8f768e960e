#pragma once
/// \file
/// Classifiers: read what a protocol leaves in clear (type, session id) so that impairment rules
/// can target packets, e.g. "drop every KEEP_ALIVE". One small function per protocol; a
/// predicate built on it goes into `rules::drop_if`.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/core/constants.hpp"
#include "neutrino/endian.hpp"

namespace neutrino::inspector {

/// What a classifier could read from a datagram; every field empty when it is not a datagram
/// of that protocol.
struct packet_class {
    std::optional<std::uint8_t> version;
    std::optional<std::uint8_t> type;  ///< the raw type byte
    std::optional<std::uint64_t> session_id;

    friend constexpr bool operator==(const packet_class&, const packet_class&) = default;
};

/// Reads a Neutrino clear header: protocol id (bytes 0–3, LE), version (4), type (5), session
/// id (6–13, LE). Only when the datagram has at least 14 bytes and the protocol id matches;
/// the version and type are not judged. Never reads past `datagram`.
/// spec: neutrino.md §4.1
[[nodiscard]] constexpr packet_class classify_neutrino(
    std::span<const std::byte> datagram) noexcept {
    if (datagram.size() < core::clear_header_size) return {};
    if (neutrino::load_le<std::uint32_t>(datagram.data()) != core::protocol_identifier) {
        return {};
    }
    packet_class c;
    c.version = std::to_integer<std::uint8_t>(datagram[4]);
    c.type = std::to_integer<std::uint8_t>(datagram[5]);
    c.session_id = neutrino::load_le<std::uint64_t>(datagram.data() + 6);
    return c;
}

/// A predicate for `rules::drop_if`: true for Neutrino datagrams of one packet type.
/// `cfg.script.drop_if = neutrino_type_is{core::packet_type::keep_alive};`
struct neutrino_type_is {
    core::packet_type type;

    [[nodiscard]] constexpr bool operator()(std::span<const std::byte> datagram) const noexcept {
        return classify_neutrino(datagram).type == static_cast<std::uint8_t>(type);
    }
};

/// A predicate for `rules::drop_if`: true for Neutrino datagrams of one session.
struct neutrino_session_is {
    std::uint64_t session_id;

    [[nodiscard]] constexpr bool operator()(std::span<const std::byte> datagram) const noexcept {
        return classify_neutrino(datagram).session_id == session_id;
    }
};

}  // namespace neutrino::inspector
