#pragma once
/// \file
/// PROBE, the hole-punch message: `0x02 | attempt id (8) | sender node id (16) | nonce (8) |
/// echo nonce (8) | MAC (16)`, 57 bytes; MAC = keyed BLAKE2b-128 (libsodium
/// `crypto_generichash`) over the 41 bytes before it. The integers (attempt id, nonces) are
/// little-endian, like every other Neutrino wire. Also the node id of a static public key and
/// the derivation of the probe key.  spec: p2p.md §7.2, §7.4

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/p2p/error.hpp"

namespace neutrino::p2p {

inline constexpr std::size_t node_id_size = 16;
inline constexpr std::size_t probe_key_size = 32;
inline constexpr std::size_t probe_mac_size = 16;
/// 1 + 8 + 16 + 8 + 8 + 16.  spec: p2p.md §7.4
inline constexpr std::size_t probe_size = 57;

/// A node id: the first 16 bytes of BLAKE2b-256 of the node's static X25519 public key.
using node_id = std::array<std::byte, node_id_size>;
/// The key of PROBE MACs between two peers (secret: wipe it when done).
using probe_key_bytes = std::array<std::byte, probe_key_size>;

/// The fields of a PROBE. `echo_nonce` is the nonce of the PROBE this one answers, 0 when it
/// answers none.
struct probe {
    std::uint64_t attempt_id = 0;
    node_id sender{};
    std::uint64_t nonce = 0;
    std::uint64_t echo_nonce = 0;

    friend bool operator==(const probe&, const probe&) = default;
};

/// The node id of a static public key (any length; 32 bytes for X25519).  spec: p2p.md §7.2
[[nodiscard]] node_id node_id_of(std::span<const std::byte> public_key) noexcept;

/// The PROBE key: BLAKE2b-256 keyed with `punch_secret` over the ASCII label
/// "neutrino p2p probe key v1" followed by `x25519_shared` (the X25519 output of the two
/// static keys). Both peers compute the same key; the server, which knows only the punch
/// secret, cannot.  spec: p2p.md §7.2, §7.4
[[nodiscard]] probe_key_bytes probe_key(std::span<const std::byte, 32> punch_secret,
                                        std::span<const std::byte, 32> x25519_shared) noexcept;

/// Writes `p` as a 57-byte PROBE with its MAC under `key`; returns 57.
/// Error: `buffer_too_small`.
[[nodiscard]] result<std::size_t> encode_probe(const probe& p,
                                               std::span<const std::byte, probe_key_size> key,
                                               std::span<std::byte> out) noexcept;

/// Reads the fields of a PROBE *without* checking its MAC, so a receiver can find the key by
/// attempt id and sender; they are unauthenticated until `decode_probe` succeeds.
/// Errors: `envelope_empty`, `bad_envelope_type` (not 0x02), `probe_bad_size` (not 57 bytes).
[[nodiscard]] result<probe> peek_probe(std::span<const std::byte> in) noexcept;

/// Reads a PROBE and checks its MAC under `key` (constant-time).
/// Errors: as `peek_probe`, and `probe_bad_mac`.
[[nodiscard]] result<probe> decode_probe(std::span<const std::byte> in,
                                         std::span<const std::byte, probe_key_size> key) noexcept;

}  // namespace neutrino::p2p
