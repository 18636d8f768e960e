#pragma once
/// \file
/// The 1-byte envelope every datagram on a P2P socket starts with, and the relay header of
/// relayed data. STUN messages carry no envelope: they are recognised by their magic cookie.
/// Integers are little-endian, like every other Neutrino wire.  spec: p2p.md §7.1, §7.3

#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/p2p/error.hpp"

namespace neutrino::p2p {

/// The envelope type byte.  spec: p2p.md §7.1
enum class envelope_type : std::uint8_t {
    peer_data = 0x01,       ///< the upper layer's datagram follows verbatim
    peer_control = 0x02,    ///< PROBE (probe.hpp)
    server_control = 0x03,  ///< rendezvous server control messages
    relayed_data = 0x04,    ///< relay id (8) then payload
};

/// What a datagram received on a P2P socket is.
enum class datagram_kind : std::uint8_t {
    unknown = 0,  ///< empty, or a first byte that is no envelope type and not STUN
    stun,
    peer_data,
    peer_control,
    server_control,
    relayed_data,
};

/// Classifies a datagram: STUN when `looks_like_stun` says so (checked first: a Binding
/// success response starts with 0x01, the peer data type), else by its envelope byte. A peer
/// data datagram is misread as STUN only if bytes 4..7 equal the magic cookie and bytes 2..3
/// its length less 20; callers that care can still try `decode_stun` and fall back.
[[nodiscard]] datagram_kind classify(std::span<const std::byte> in) noexcept;

/// Size of the relay header: type byte and 8-byte relay id.  spec: p2p.md §7.3
inline constexpr std::size_t relay_header_size = 9;

/// A decoded relayed datagram; `payload` points into the input (lifetime: its buffer).
struct relayed_datagram {
    std::uint64_t relay_id = 0;
    std::span<const std::byte> payload;
};

/// Writes `0x04 | relay id (8, LE) | payload` into `out`; returns the size written.
/// Error: `buffer_too_small`.
[[nodiscard]] result<std::size_t> encode_relayed(std::uint64_t relay_id,
                                                 std::span<const std::byte> payload,
                                                 std::span<std::byte> out) noexcept;

/// Reads a relayed datagram. Errors: `envelope_empty`, `bad_envelope_type` (first byte not
/// 0x04), `relay_truncated` (fewer than 9 bytes). An empty payload is accepted.
[[nodiscard]] result<relayed_datagram> decode_relayed(std::span<const std::byte> in) noexcept;

}  // namespace neutrino::p2p
