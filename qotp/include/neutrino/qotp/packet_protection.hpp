#pragma once
/// \file
/// QOTP packet protection ("chained encryption"): the payload under ChaCha20-Poly1305-IETF with
/// the header as AAD, then the 48-bit sequence number XORed with XChaCha20 keyed by the same
/// secret and nonced by the first 24 ciphertext bytes. Sealing and opening work in place in the
/// datagram buffer; nothing allocates. Functions take the secrets (S, S0, rotated keys), so the
/// handshake and key-rotation machines can be built on top.  spec: qotp.md §5, §6

#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"

namespace neutrino::qotp {

/// Who sent a packet; the payload nonce's top bit.  spec: qotp.md §6.1
enum class sender : std::uint8_t {
    responder = 0,
    initiator = 1,
};

/// The sender implied by an encrypted type (InitCryptoSnd: initiator; InitRcv, InitCryptoRcv:
/// responder), or `data_sender` for Data, which both sides send.
[[nodiscard]] constexpr sender sender_of(message_type t, sender data_sender) noexcept {
    switch (t) {
        case message_type::init_snd:
        case message_type::init_crypto_snd: return sender::initiator;
        case message_type::init_rcv:
        case message_type::init_crypto_rcv: return sender::responder;
        case message_type::data: return data_sender;
    }
    return data_sender;
}

/// The largest sequence number (u48).  spec: qotp.md §6.5
inline constexpr std::uint64_t max_sequence_number = (std::uint64_t{1} << 48) - 1;
/// The fewest plaintext bytes sealing accepts: the ciphertext and tag must hold the 24-byte
/// sequence-number nonce.  spec: qotp.md §6.2
inline constexpr std::size_t min_sealed_plaintext_size = 8;
/// Bytes the decryptor needs after the header: `sn` and the 24-byte nonce.  spec: §4.6, §6.4
inline constexpr std::size_t min_protected_size = sequence_number_size + 24;

/// An opened packet. `payload` views the decrypted transport payload inside the datagram buffer
/// (for InitCryptoSnd: after the filler).
struct opened_packet {
    std::uint64_t sequence_number = 0;
    std::size_t secret_index = 0;  ///< which candidate secret opened it
    std::span<std::byte> payload;
};

/// Seals in place. On entry `datagram[0, header_size)` is the header (the AAD) and
/// `datagram[header_size + 6, + plaintext_size)` the plaintext; on return the encrypted `sn` is
/// at `header_size`, the ciphertext follows and the tag after it. Returns the datagram size
/// `header_size + 22 + plaintext_size`.
/// Errors: `errc::buffer_too_small` (`datagram` shorter than that), `errc::payload_too_short`
/// (plaintext below 8 bytes), `errc::sequence_exhausted` (`sn` above 2^48 − 1).
[[nodiscard]] result<std::size_t> seal_in_place(std::span<std::byte> datagram,
                                                std::size_t header_size, std::size_t plaintext_size,
                                                const shared_secret& key, std::uint64_t sn,
                                                sender from) noexcept;

/// Opens in place: tries each non-null candidate in order (Data: current, previous, next
/// receive secret) and decrypts with the first whose tag verifies; a failed try leaves the
/// buffer untouched. `from` is the peer's role (the nonce's direction bit).
/// Errors: `errc::datagram_too_short` (fewer than 30 bytes after the header),
/// `errc::decryption_failed` (no candidate verifies). No replay check: the reference has none.
/// spec: qotp.md §6.4
[[nodiscard]] result<opened_packet> open_in_place(std::span<std::byte> datagram,
                                                  std::size_t header_size,
                                                  std::span<const shared_secret* const> candidates,
                                                  sender from) noexcept;

// Message-level sealing. Each moves `payload` to its place in `out` (it may overlap `out`
// anywhere; encoded in place at `header_size(type) + 6` nothing moves), writes the header of
// its type before it and seals.
// They return the datagram size. Errors: those of `seal_in_place`; `errc::payload_too_short`
// below the 11 bytes of the smallest W2 payload (the peer would drop the datagram, §4.6) except
// for InitCryptoSnd, whose filler makes up any size; for InitCryptoSnd `errc::payload_too_large`
// above 1143 bytes.

/// InitCryptoSnd (I → R) under S0, padded to exactly 1232 bytes with the `fillLen` filler.
/// spec: qotp.md §4.2
[[nodiscard]] result<std::size_t> seal_init_crypto_snd(std::span<std::byte> out,
                                                       const announced_keys& keys,
                                                       std::span<const std::byte> payload,
                                                       const shared_secret& s0,
                                                       std::uint64_t sn) noexcept;
/// InitRcv (R → I) under S.  spec: qotp.md §4.3
[[nodiscard]] result<std::size_t> seal_init_rcv(std::span<std::byte> out, connection_id id,
                                                const announced_keys& keys,
                                                std::span<const std::byte> payload,
                                                const shared_secret& s, std::uint64_t sn) noexcept;
/// InitCryptoRcv (R → I) under S.  spec: qotp.md §4.4
[[nodiscard]] result<std::size_t> seal_init_crypto_rcv(std::span<std::byte> out, connection_id id,
                                                       const public_key& ephemeral,
                                                       std::span<const std::byte> payload,
                                                       const shared_secret& s,
                                                       std::uint64_t sn) noexcept;
/// Data (either direction) under `key`.  spec: qotp.md §4.5
[[nodiscard]] result<std::size_t> seal_data(std::span<std::byte> out, connection_id id,
                                            std::span<const std::byte> payload,
                                            const shared_secret& key, std::uint64_t sn,
                                            sender from) noexcept;

/// Opens any encrypted message in place: parses the type (the size rules of §4.6), opens with
/// the candidates under the type's sender (`data_sender` for Data: the peer's role), and for an
/// InitCryptoSnd strips the filler.
/// Errors: those of `parse_sealed` (InitSnd: `errc::unexpected_message`), `open_in_place`, and
/// `errc::bad_filler` when an InitCryptoSnd's `fillLen` overruns its plaintext.
[[nodiscard]] result<opened_packet> open_message(std::span<std::byte> datagram,
                                                 std::span<const shared_secret* const> candidates,
                                                 sender data_sender) noexcept;
/// The same with one secret.
[[nodiscard]] result<opened_packet> open_message(std::span<std::byte> datagram,
                                                 const shared_secret& key,
                                                 sender data_sender) noexcept;

/// The InitCryptoSnd plaintext without its `fillLen` and filler. Error: `errc::bad_filler`.
/// spec: qotp.md §4.2
[[nodiscard]] result<std::span<std::byte>> strip_filler(std::span<std::byte> plaintext) noexcept;

}  // namespace neutrino::qotp
