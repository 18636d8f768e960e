#pragma once
/// \file
/// Transport packet protection of wire v3: the 22-byte authenticated prefix (clear header +
/// pn field), ChaCha20-Poly1305-IETF with the pn field as nonce, the two number spaces, and
/// the receive pipeline of §10.5 steps 1–7 (size, header, role, space, replay pre-check, key
/// choice, AEAD, window update, key-phase change).  spec: neutrino-v3.md §4.5, §10, §11.3
///
/// Decoding the keyword and words (§10.5 step 8) is left to the caller, with the strict word
/// codecs of words.hpp: u8/u16 for every packet but Extended DATA (u16/u32, or raw fragments
/// when the keyword is ≥ 1).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/core/v3/key_phase.hpp"
#include "neutrino/core/v3/replay_guard.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3 {

/// The cleartext fields of a transport packet (all of them authenticated).
struct transport_header {
    packet_type type = packet_type::data;
    std::uint8_t phase_bit = 0;
    std::uint64_t session_id = 0;
    std::uint64_t pn_field = 0;

    /// §10.5 steps 1–4 for a receiver of role `r`: 43 ≤ size ≤ 1280 (bad_size); identifier
    /// and version 3 (bad_header); a transport type this role may receive (bad_packet_type —
    /// handshake codes 1, 2, 7 go to their own paths); pn field in the type's space
    /// (wrong_pn_space). Session demultiplexing (step 3's session id and source checks) is the
    /// machine's.
    [[nodiscard]] static result<transport_header> parse(bytes_view d, role r) noexcept;
};

/// Seals one transport packet into `out` (≥ the datagram size): `prefix = header(type |
/// phase << 7, session id) ‖ LE64(pn_field)`, `plain = LE32(keyword) ‖ payload ‖ zeros`,
/// `wire = prefix ‖ AEAD(key, pn_field, prefix, plain)`. `payload` is already framed (a word
/// list, or a raw Extended fragment) and must not overlap `out`; zero padding extends the
/// datagram to `pad_to` bytes when that is larger (0: none; never pad a raw fragment).
/// Returns the datagram size (42 + payload + padding).
/// Errors: bad_packet_type (not a transport type), wrong_pn_space (pn field outside the
/// type's space, including 0, 2^63 and 2^64−1), bad_size (empty payload), payload_too_large
/// (> 1238 bytes), buffer_too_small.  spec: neutrino-v3.md §4.5, §10.1, §10.2
[[nodiscard]] result<std::size_t> seal_transport(std::span<std::byte> out, packet_type type,
                                                 std::uint8_t phase_bit, std::uint64_t session_id,
                                                 std::uint64_t pn_field, std::uint32_t keyword,
                                                 bytes_view payload, std::size_t pad_to,
                                                 const secret_key& key) noexcept;

/// An opened transport packet: its header and views into the caller's scratch buffer.
struct opened_transport {
    transport_header header;
    std::uint32_t keyword = 0;
    bytes_view payload;  ///< after the keyword: word list (or raw fragment) plus any padding
    receive_keys::which key = receive_keys::which::current;
};

/// AEAD-opens a datagram whose header `h` was parsed, with `key`, into `scratch` (≥ datagram
/// size − 38 bytes). No replay or key-phase logic. Errors: decryption_failed,
/// buffer_too_small.  spec: neutrino-v3.md §10.5 step 6
[[nodiscard]] result<opened_transport> open_transport(bytes_view d, const transport_header& h,
                                                      const secret_key& key,
                                                      std::span<std::byte> scratch) noexcept;

/// §10.5 steps 1–7 for one receive direction: parse and role/space checks, replay pre-check,
/// key choice by phase bit (§11.3), AEAD open into `scratch` (≥ 1242 bytes), then — only
/// after authentication — the window update and, when `rx_next` opened it, the receive-phase
/// advance (the caller's send side must follow if `s < r`). On any error nothing changes.
/// Errors: bad_size, bad_header, bad_packet_type, wrong_pn_space, replayed,
/// decryption_failed (count it toward MAX_FAILED_AUTH), buffer_too_small.
[[nodiscard]] result<opened_transport> receive_transport(bytes_view d, role r, receive_keys& keys,
                                                         replay_guard& window, time_point now,
                                                         std::span<std::byte> scratch) noexcept;

}  // namespace neutrino::core::v3
