#include "neutrino/qotp/packet_protection.hpp"

#include <sodium.h>

#include <array>

#include "cursor.hpp"
#include "sodium_cast.hpp"

namespace neutrino::qotp {
namespace {

using detail::uc;

constexpr std::size_t payload_nonce_size = crypto_aead_chacha20poly1305_IETF_NPUBBYTES;  // 12
constexpr std::size_t sn_nonce_size = crypto_stream_xchacha20_NONCEBYTES;                // 24
constexpr std::uint64_t keystream_block_1 = 1;  // block 0 is the Poly1305 key  spec: §6.2
static_assert(tag_size == crypto_aead_chacha20poly1305_IETF_ABYTES);
static_assert(key_size == crypto_aead_chacha20poly1305_IETF_KEYBYTES);
static_assert(min_protected_size == sequence_number_size + sn_nonce_size);

using sn_bytes = std::array<std::byte, sequence_number_size>;

// [d<<7, 0, 0, 0, 0, 0, sn as u48 LE]  spec: qotp.md §6.1
std::array<std::byte, payload_nonce_size> payload_nonce(std::uint64_t sn, sender from) noexcept {
    std::array<std::byte, payload_nonce_size> nonce{};
    nonce[0] = static_cast<std::byte>(static_cast<std::uint8_t>(from) << 7);
    neutrino::store_le(std::span(nonce).last<sequence_number_size>(), sn);
    return nonce;
}

// sn XOR XChaCha20(key, first 24 ciphertext bytes, counter 1): encrypts and decrypts.
// spec: qotp.md §6.2
sn_bytes xor_sequence_number(std::span<const std::byte, sequence_number_size> in,
                             std::span<const std::byte> ciphertext,
                             const shared_secret& key) noexcept {
    sn_bytes out{};
    crypto_stream_xchacha20_xor_ic(uc(out.data()), uc(in.data()), out.size(), uc(ciphertext.data()),
                                   keystream_block_1, uc(key.bytes().data()));
    return out;
}

// Verifies the tag only (libsodium decrypts nothing when given no output).
bool tag_verifies(std::span<const std::byte> ciphertext, std::span<const std::byte> header,
                  std::span<const std::byte, payload_nonce_size> nonce,
                  const shared_secret& key) noexcept {
    const std::size_t n = ciphertext.size() - tag_size;
    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
               nullptr, nullptr, uc(ciphertext.data()), n, uc(ciphertext.data() + n),
               uc(header.data()), header.size(), uc(nonce.data()), uc(key.bytes().data())) == 0;
}

// The AEAD's own decryption step after a verified tag: ChaCha20-IETF from block 1.
void decrypt_verified(std::span<std::byte> ciphertext,
                      std::span<const std::byte, payload_nonce_size> nonce,
                      const shared_secret& key) noexcept {
    const std::size_t n = ciphertext.size() - tag_size;
    crypto_stream_chacha20_ietf_xor_ic(
        uc(ciphertext.data()), uc(ciphertext.data()), n, uc(nonce.data()),
        static_cast<std::uint32_t>(keystream_block_1), uc(key.bytes().data()));
}

// Checks the payload size (below 11 bytes the peer drops the datagram as too short, spec
// §4.6) and that `out` holds a `t` datagram with it, then moves the payload behind the header
// and the sn field. Done before the header is written: the payload may overlap the header area.
result<void> place_payload(std::span<std::byte> out, message_type t,
                           std::span<const std::byte> payload) noexcept {
    if (payload.size() < min_payload_size) return fail(errc::payload_too_short);
    const std::size_t h = header_size(t);
    if (out.size() < h + protection_overhead + payload.size()) return fail(errc::buffer_too_small);
    detail::writer(out.subspan(h + sequence_number_size)).put_bytes(payload);
    return {};
}

}  // namespace

result<std::size_t> seal_in_place(std::span<std::byte> datagram, std::size_t header_size,
                                  std::size_t plaintext_size, const shared_secret& key,
                                  std::uint64_t sn, sender from) noexcept {
    const std::size_t total = header_size + protection_overhead + plaintext_size;
    if (datagram.size() < total || total < header_size) return fail(errc::buffer_too_small);
    if (plaintext_size < min_sealed_plaintext_size) return fail(errc::payload_too_short);
    if (sn > max_sequence_number) return fail(errc::sequence_exhausted);

    const auto header = datagram.first(header_size);
    const auto enc_sn = datagram.subspan(header_size).first<sequence_number_size>();
    const auto ciphertext =
        datagram.subspan(header_size + sequence_number_size, plaintext_size + tag_size);
    const auto nonce = payload_nonce(sn, from);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        uc(ciphertext.data()), uc(ciphertext.data() + plaintext_size), nullptr,
        uc(ciphertext.data()), plaintext_size, uc(header.data()), header.size(), nullptr,
        uc(nonce.data()), uc(key.bytes().data()));

    sn_bytes plain_sn{};
    neutrino::store_le(plain_sn, sn);
    const sn_bytes encrypted = xor_sequence_number(plain_sn, ciphertext, key);
    std::copy(encrypted.begin(), encrypted.end(), enc_sn.begin());
    return total;
}

result<opened_packet> open_in_place(std::span<std::byte> datagram, std::size_t header_size,
                                    std::span<const shared_secret* const> candidates,
                                    sender from) noexcept {
    if (datagram.size() < header_size || datagram.size() - header_size < min_protected_size) {
        return fail(errc::datagram_too_short);
    }
    const auto header = datagram.first(header_size);
    const auto enc_sn = datagram.subspan(header_size).first<sequence_number_size>();
    const auto ciphertext = datagram.subspan(header_size + sequence_number_size);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const shared_secret* key = candidates[i];
        if (key == nullptr) continue;
        const std::uint64_t sn = neutrino::load_le(xor_sequence_number(enc_sn, ciphertext, *key));
        const auto nonce = payload_nonce(sn, from);
        if (!tag_verifies(ciphertext, header, nonce, *key)) continue;
        decrypt_verified(ciphertext, nonce, *key);
        return opened_packet{sn, i, ciphertext.first(ciphertext.size() - tag_size)};
    }
    return fail(errc::decryption_failed);
}

result<std::size_t> seal_init_crypto_snd(std::span<std::byte> out, const announced_keys& keys,
                                         std::span<const std::byte> payload,
                                         const shared_secret& s0, std::uint64_t sn) noexcept {
    if (payload.size() > max_init_crypto_snd_payload) return fail(errc::payload_too_large);
    if (out.size() < init_datagram_size) return fail(errc::buffer_too_small);
    // fillLen = 1232 − (65 + 6 + 16 + 2 + len(payload))  spec: qotp.md §4.2
    const std::size_t fill = max_init_crypto_snd_payload - payload.size();
    const std::size_t h = header_size(message_type::init_crypto_snd);
    // The payload goes last; moved first, as it may overlap where the header and filler go.
    const auto body = out.subspan(h + sequence_number_size);
    detail::writer(body.subspan(filler_length_size + fill)).put_bytes(payload);
    detail::writer w(out);
    w.put_byte(type_byte(message_type::init_crypto_snd));
    w.put_bytes(keys.ephemeral);
    w.put_bytes(keys.identity);
    detail::writer(body).put_le(fill, filler_length_size);
    std::fill_n(body.begin() + filler_length_size, fill, std::byte{0});
    return seal_in_place(out, h, filler_length_size + fill + payload.size(), s0, sn,
                         sender::initiator);
}

result<std::size_t> seal_init_rcv(std::span<std::byte> out, connection_id id,
                                  const announced_keys& keys, std::span<const std::byte> payload,
                                  const shared_secret& s, std::uint64_t sn) noexcept {
    constexpr auto type = message_type::init_rcv;
    if (auto placed = place_payload(out, type, payload); !placed)
        return tl::unexpected(placed.error());
    detail::writer w(out);
    w.put_byte(type_byte(type));
    w.put_le(id.value, connection_id_size);
    w.put_bytes(keys.ephemeral);
    w.put_bytes(keys.identity);
    return seal_in_place(out, header_size(type), payload.size(), s, sn, sender::responder);
}

result<std::size_t> seal_init_crypto_rcv(std::span<std::byte> out, connection_id id,
                                         const public_key& ephemeral,
                                         std::span<const std::byte> payload, const shared_secret& s,
                                         std::uint64_t sn) noexcept {
    constexpr auto type = message_type::init_crypto_rcv;
    if (auto placed = place_payload(out, type, payload); !placed)
        return tl::unexpected(placed.error());
    detail::writer w(out);
    w.put_byte(type_byte(type));
    w.put_le(id.value, connection_id_size);
    w.put_bytes(ephemeral);
    return seal_in_place(out, header_size(type), payload.size(), s, sn, sender::responder);
}

result<std::size_t> seal_data(std::span<std::byte> out, connection_id id,
                              std::span<const std::byte> payload, const shared_secret& key,
                              std::uint64_t sn, sender from) noexcept {
    constexpr auto type = message_type::data;
    if (auto placed = place_payload(out, type, payload); !placed)
        return tl::unexpected(placed.error());
    detail::writer w(out);
    w.put_byte(type_byte(type));
    w.put_le(id.value, connection_id_size);
    return seal_in_place(out, header_size(type), payload.size(), key, sn, from);
}

result<std::span<std::byte>> strip_filler(std::span<std::byte> plaintext) noexcept {
    if (plaintext.size() < filler_length_size) return fail(errc::bad_filler);
    // The value is attacker-chosen (S0 is known to anyone who knows idR).  spec: qotp.md §4.2
    const std::uint64_t fill = neutrino::load_le(plaintext.first(filler_length_size));
    if (fill > plaintext.size() - filler_length_size) return fail(errc::bad_filler);
    return plaintext.subspan(filler_length_size + static_cast<std::size_t>(fill));
}

result<opened_packet> open_message(std::span<std::byte> datagram,
                                   std::span<const shared_secret* const> candidates,
                                   sender data_sender) noexcept {
    auto sealed = parse_sealed(datagram);
    if (!sealed) return tl::unexpected(sealed.error());
    auto opened = open_in_place(datagram, sealed->header.size(), candidates,
                                sender_of(sealed->type, data_sender));
    if (!opened || sealed->type != message_type::init_crypto_snd) return opened;
    auto payload = strip_filler(opened->payload);
    if (!payload) return tl::unexpected(payload.error());
    opened->payload = *payload;
    return opened;
}

result<opened_packet> open_message(std::span<std::byte> datagram, const shared_secret& key,
                                   sender data_sender) noexcept {
    const std::array<const shared_secret*, 1> candidates{&key};
    return open_message(datagram, candidates, data_sender);
}

}  // namespace neutrino::qotp
