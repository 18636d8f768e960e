#pragma once
/// \file
/// The type byte, the five W2 message layouts with their sizes, the connection id, and parsers
/// that split a datagram into views (no copy, no decryption). Sealing and opening the encrypted
/// types is in packet_protection.hpp.  spec: qotp.md §3, §4

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/keys.hpp"

namespace neutrino::qotp {

/// Bits 7..5 of byte 0.  spec: qotp.md §3
enum class message_type : std::uint8_t {
    init_snd = 0,         ///< I → R, plaintext, 1232 bytes
    init_rcv = 1,         ///< R → I, reply to InitSnd, under S
    init_crypto_snd = 2,  ///< I → R, 0-RTT, under S0, 1232 bytes
    init_crypto_rcv = 3,  ///< R → I, reply to InitCryptoSnd, under S
    data = 4,             ///< both directions, under S (or a rotated key)
};

// spec: qotp.md §3 (type byte), §4.1–§4.6 (layouts and sizes)
inline constexpr unsigned type_shift = 5;
inline constexpr std::uint8_t version_mask = 0x1F;  ///< must be 0: version 0
inline constexpr std::size_t connection_id_size = 8;
inline constexpr std::size_t sequence_number_size = 6;  ///< encrypted u48 `sn`
inline constexpr std::size_t tag_size = 16;             ///< Poly1305 tag of the payload AEAD
inline constexpr std::size_t protection_overhead = sequence_number_size + tag_size;  ///< 22
inline constexpr std::size_t init_datagram_size = 1232;  ///< InitSnd, InitCryptoSnd: exactly
inline constexpr std::size_t min_payload_size = 11;      ///< smallest W2 transport payload (§9.4)
inline constexpr std::size_t min_datagram_size = 42;     ///< anything shorter is dropped first
inline constexpr std::size_t filler_length_size = 2;     ///< InitCryptoSnd `fillLen` (u16)
/// Largest payload an InitCryptoSnd carries: 1232 − (65 + 22 + 2).  spec: qotp.md §4.2
inline constexpr std::size_t max_init_crypto_snd_payload = 1143;
/// Offset of the InitSnd `maxPayload` (u16), right after the two keys.  spec: qotp.md §4.1
inline constexpr std::size_t init_snd_max_payload_offset = 65;

/// The type byte of `t` (version 0).
[[nodiscard]] constexpr std::byte type_byte(message_type t) noexcept {
    return static_cast<std::byte>(static_cast<std::uint8_t>(t) << type_shift);
}
/// True for the four types whose payload is encrypted.
[[nodiscard]] constexpr bool is_encrypted(message_type t) noexcept {
    return t != message_type::init_snd;
}
/// Bytes before the encrypted `sn`: the AAD of the encrypted types (9, 41, 65 or 73), and for
/// InitSnd the meaningful bytes (67; the rest is padding).  spec: qotp.md §3, §4
[[nodiscard]] constexpr std::size_t header_size(message_type t) noexcept {
    switch (t) {
        case message_type::init_snd: return init_snd_max_payload_offset + 2;
        case message_type::init_rcv: return 1 + connection_id_size + 2 * key_size;
        case message_type::init_crypto_snd: return 1 + 2 * key_size;
        case message_type::init_crypto_rcv: return 1 + connection_id_size + key_size;
        case message_type::data: return 1 + connection_id_size;
    }
    return 0;
}
/// The fewest bytes a receiver accepts for `t`: 1232 for the initiating types, else the header
/// plus `sn`, tag and the smallest payload (106, 74, 42).  spec: qotp.md §4.6, §23
[[nodiscard]] constexpr std::size_t min_size(message_type t) noexcept {
    if (t == message_type::init_snd || t == message_type::init_crypto_snd) {
        return init_datagram_size;
    }
    return header_size(t) + protection_overhead + min_payload_size;
}

/// The first 8 bytes of the initiator's ephemeral public key, at bytes 1..8 of every message.
/// `value` is those bytes read as a little-endian u64, as the reference (and its key log)
/// handles it.  spec: qotp.md §4.8, §19
struct connection_id {
    std::uint64_t value = 0;

    [[nodiscard]] static connection_id from_bytes(
        std::span<const std::byte, connection_id_size> b) noexcept;
    /// The id of the connection an initiator with ephemeral key `ephemeral` opens.
    [[nodiscard]] static connection_id of(const public_key& ephemeral) noexcept;
    /// Writes the 8 wire bytes.
    void write(std::span<std::byte, connection_id_size> out) const noexcept;

    friend constexpr auto operator<=>(connection_id, connection_id) noexcept = default;
};

/// The public keys an initiating message or its reply announces: epI and idI (InitSnd,
/// InitCryptoSnd) or epR and idR (InitRcv). A struct, so that the two cannot be swapped at a
/// call site: `announced_keys{.ephemeral = ep, .identity = id}`.
struct announced_keys {
    public_key ephemeral{};
    public_key identity{};
};

/// An InitSnd, viewed in its datagram.  spec: qotp.md §4.1
struct init_snd_message {
    connection_id id;
    key_view ephemeral_key;  ///< epI
    key_view identity_key;   ///< idI
    std::uint16_t max_payload = 0;
};

/// Any encrypted message, viewed in its datagram: the AAD and what packet protection opens.
struct sealed_message {
    message_type type = message_type::data;
    connection_id id;
    std::span<const std::byte> header;          ///< the AAD: bytes [0, header_size(type))
    std::span<const std::byte> protected_part;  ///< encrypted sn, ciphertext, tag
};

/// An InitCryptoSnd: epI at bytes 1..32 (its first 8 bytes are the id), idI at 33..64.
struct init_crypto_snd_message {
    sealed_message sealed;
    key_view ephemeral_key;  ///< epI
    key_view identity_key;   ///< idI
};
/// An InitRcv: epR at 9..40, idR at 41..72.  spec: qotp.md §4.3
struct init_rcv_message {
    sealed_message sealed;
    key_view ephemeral_key;  ///< epR
    key_view identity_key;   ///< idR
};
/// An InitCryptoRcv: epR at 9..40.  spec: qotp.md §4.4
struct init_crypto_rcv_message {
    sealed_message sealed;
    key_view ephemeral_key;  ///< epR
};

// All parsers keep views into `datagram` (which must outlive them) and never fail otherwise
// than with these errors: `errc::datagram_too_short` (below 42 bytes, or below `min_size` of
// the type), `errc::bad_version`, `errc::bad_message_type`, and, for the typed ones,
// `errc::unexpected_message` when the type byte names another type.

/// The message type of a datagram, after the checks every receiver does first.  spec: §4.6, §3
[[nodiscard]] result<message_type> parse_type(std::span<const std::byte> datagram) noexcept;
/// The connection id at bytes 1..8 (after `parse_type`'s checks).  spec: qotp.md §4.8, §6.4
[[nodiscard]] result<connection_id> parse_connection_id(
    std::span<const std::byte> datagram) noexcept;
/// An InitSnd (bytes after 66 are ignored).  spec: qotp.md §4.1
[[nodiscard]] result<init_snd_message> parse_init_snd(std::span<const std::byte> datagram) noexcept;
/// Any of the four encrypted types.
[[nodiscard]] result<sealed_message> parse_sealed(std::span<const std::byte> datagram) noexcept;
[[nodiscard]] result<init_crypto_snd_message> parse_init_crypto_snd(
    std::span<const std::byte> datagram) noexcept;
[[nodiscard]] result<init_rcv_message> parse_init_rcv(std::span<const std::byte> datagram) noexcept;
[[nodiscard]] result<init_crypto_rcv_message> parse_init_crypto_rcv(
    std::span<const std::byte> datagram) noexcept;
/// A Data message (its fields are those of every sealed message).
[[nodiscard]] result<sealed_message> parse_data(std::span<const std::byte> datagram) noexcept;

/// Writes a complete InitSnd (exactly 1232 bytes, zero padded) into `out`; returns 1232.
/// Error: `errc::buffer_too_small`.  spec: qotp.md §4.1
[[nodiscard]] result<std::size_t> write_init_snd(std::span<std::byte> out,
                                                 const announced_keys& keys,
                                                 std::uint16_t max_payload) noexcept;

}  // namespace neutrino::qotp
