#pragma once
/// \file
/// The v2 wire policy: how a Neutrino packet becomes a datagram and back, byte-compatible with
/// the Python reference.  spec: neutrino.md §4, §6, §7
///
/// A wire policy is what the client and server machines are templated on, so that a hardened
/// wire (v3, spec neutrino-v3.md §16) can be added beside it without touching the layers above.
/// Its members:
///
/// | member | v2 |
/// |---|---|
/// | `version` | 2 |
/// | `max_payload_size` | 1214 |
/// | `first_packet_number(random)` | uniform in [64, 2^31−1] |
/// | `is_unnumbered(pn)` | pn == 1 |
/// | `client_handshake` / `server_handshake` | crypto_kx: the client's ephemeral key in a clear HELLO1 |
/// | `seal(...)` / `open(...)` | random 24-byte nonce, XChaCha20-Poly1305, empty AD, pn inside |

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "neutrino/core/constants.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"

namespace neutrino::core {

/// The 14 clear bytes every datagram starts with.  spec: neutrino.md §4.1
struct clear_header {
    std::uint8_t version = 0;
    std::uint8_t type = 0;  ///< raw type byte
    std::uint64_t session_id = 0;

    /// Reads the clear header of a datagram without judging the version or type.
    /// Errors: datagram_too_short, datagram_too_large, bad_protocol_identifier.
    [[nodiscard]] static result<clear_header> parse(std::span<const std::byte> d) noexcept {
        if (d.size() > max_datagram_size) return fail(errc::datagram_too_large);
        if (d.size() < total_header_size) return fail(errc::datagram_too_short);
        if (neutrino::load_le<std::uint32_t>(d.data()) != protocol_identifier) {
            return fail(errc::bad_protocol_identifier);
        }
        clear_header h;
        h.version = std::to_integer<std::uint8_t>(d[4]);
        h.type = std::to_integer<std::uint8_t>(d[5]);
        h.session_id = neutrino::load_le<std::uint64_t>(d.data() + 6);
        return h;
    }
    void write(std::span<std::byte> out) const noexcept {
        neutrino::store_le<std::uint32_t>(out.data(), protocol_identifier);
        out[4] = std::byte{version};
        out[5] = std::byte{type};
        neutrino::store_le<std::uint64_t>(out.data() + 6, session_id);
    }
};

/// True for the session ids a datagram may carry: 2 or ≥ 64.  spec: neutrino.md §3.3
[[nodiscard]] constexpr bool valid_session_id(std::uint64_t sid) noexcept {
    return sid == session_id_pending || sid >= min_session_id;
}

/// The types of Neutrino basic; Reliable adds REQUEST_RETRANSMISSION.  spec: neutrino.md §3.2
[[nodiscard]] constexpr bool basic_packet_type(std::uint8_t t) noexcept {
    return (t >= 0x01 && t <= 0x06) || t == 0x47;
}

/// A packet opened in place: fields of the protected part, views into the datagram buffer.
struct opened_packet {
    packet_type type = packet_type::data;
    std::uint64_t session_id = 0;
    std::uint64_t packet_number = 0;
    std::uint32_t keyword = 0;
    std::span<const std::byte> payload;    ///< word-encoded payload including any zero padding
    std::span<const std::byte> plaintext;  ///< clear header followed by the decrypted part
};

namespace wire {

/// The v2 wire (protocol version byte 2), as the Python reference speaks it.
struct v2 {
    static constexpr std::uint8_t version = 2;
    static constexpr std::size_t nonce_size = aead_xchacha20poly1305::nonce_size;
    static constexpr std::size_t tag_size = aead_xchacha20poly1305::tag_size;
    static constexpr std::size_t overhead = nonce_size + tag_size;  // 40
    static constexpr std::size_t max_payload_size = core::max_payload_size;  // 1214
    /// The smallest encrypted datagram: header, nonce, protected header, 1-byte payload, tag.
    static constexpr std::size_t min_sealed_size = clear_header_size + overhead + protected_header_size + 1;

    template <random_source Random>
    [[nodiscard]] static std::uint64_t first_packet_number(Random& r) noexcept {
        return r.uniform(min_initial_packet_number, max_initial_packet_number);
    }
    [[nodiscard]] static constexpr bool is_unnumbered(std::uint64_t pn) noexcept {
        return pn == packet_number_none;
    }

    /// Seals one packet into `out` (≥ 1280 bytes): clear header, fresh nonce from `random`, and
    /// the encrypted protected part (pn, keyword, `payload` already word-encoded, zero padding
    /// so the plaintext reaches `min_plain_size`). Returns the datagram size.
    /// Error: payload_too_large when `payload` exceeds 1214 bytes.
    template <random_source Random>
    [[nodiscard]] static result<std::size_t> seal_encoded(std::span<std::byte> out, packet_type type,
                                                          std::uint64_t session_id,
                                                          std::uint64_t pn, std::uint32_t keyword,
                                                          std::span<const std::byte> payload,
                                                          std::size_t min_plain_size,
                                                          const secret_key& tx,
                                                          Random& random) noexcept {
        if (payload.size() > max_payload_size) return fail(errc::payload_too_large);
        std::array<std::byte, nonce_size> nonce;
        random.fill(nonce);
        return seal_with_nonce(out, type, session_id, pn, keyword, payload, min_plain_size, tx,
                               nonce);
    }

    /// As `seal_encoded`, with the words encoded straight into the datagram (no copy).
    /// Errors: too_many_words, word_too_large, payload_too_large.
    template <random_source Random>
    [[nodiscard]] static result<std::size_t> seal(std::span<std::byte> out, packet_type type,
                                                  std::uint64_t session_id, std::uint64_t pn,
                                                  std::uint32_t keyword, word_list words,
                                                  std::size_t min_plain_size, const secret_key& tx,
                                                  Random& random) noexcept {
        std::byte* const body = out.data() + plain_offset;
        auto n = word_codec::encode(words, {body + protected_header_size, max_payload_size});
        if (!n) return tl::unexpected(n.error());
        std::array<std::byte, nonce_size> nonce;
        random.fill(nonce);
        return finish(out, type, session_id, pn, keyword, *n, min_plain_size, tx, nonce);
    }

    /// The deterministic core of sealing, with a given nonce (used by the known-answer tests).
    [[nodiscard]] static result<std::size_t> seal_with_nonce(
        std::span<std::byte> out, packet_type type, std::uint64_t session_id, std::uint64_t pn,
        std::uint32_t keyword, std::span<const std::byte> payload, std::size_t min_plain_size,
        const secret_key& tx, std::span<const std::byte, nonce_size> nonce) noexcept {
        if (payload.size() > max_payload_size) return fail(errc::payload_too_large);
        std::byte* const body = out.data() + plain_offset;
        if (!payload.empty()) std::memmove(body + protected_header_size, payload.data(), payload.size());
        return finish(out, type, session_id, pn, keyword, payload.size(), min_plain_size, tx, nonce);
    }

    /// Opens an encrypted datagram whose clear header was already parsed: decrypts from `in`
    /// into `scratch` (≥ 1280 bytes) and returns views into `scratch`.
    /// Errors: datagram_too_short, decryption_failed.
    [[nodiscard]] static result<opened_packet> open(std::span<const std::byte> in,
                                                    const clear_header& h, const secret_key& rx,
                                                    std::span<std::byte> scratch) noexcept {
        if (in.size() > max_datagram_size || scratch.size() < in.size()) {
            return fail(errc::datagram_too_large);
        }
        // spec: neutrino.md §4.3, §9.4 (38–53 bytes: too short for a tag → a counted drop)
        if (in.size() < min_sealed_size) return fail(errc::datagram_too_short);
        std::memcpy(scratch.data(), in.data(), clear_header_size);
        std::span<const std::byte, nonce_size> nonce(in.data() + clear_header_size, nonce_size);
        // Decrypts straight from the datagram into the scratch buffer, after the header.
        auto n = aead_xchacha20poly1305::open(in.subspan(clear_header_size + nonce_size),
                                              scratch.subspan(clear_header_size), nonce, {}, rx);
        if (!n) return tl::unexpected(n.error());
        return read_protected(h, scratch.first(clear_header_size + *n));
    }

    /// Writes the clear CLIENT_HELLO1 (exactly 1280 bytes).  spec: neutrino.md §6.1
    static std::size_t write_hello1(std::span<std::byte> out, const public_key& client_pk) noexcept {
        std::memset(out.data(), 0, max_datagram_size);
        clear_header{version, static_cast<std::uint8_t>(packet_type::client_hello1),
                     session_id_pending}
            .write(out);
        neutrino::store_le<std::uint64_t>(out.data() + clear_header_size, packet_number_pending);
        const word key_word(client_pk.data(), client_pk.size());
        (void)word_codec::encode({&key_word, 1}, out.subspan(total_header_size, max_payload_size));
        return max_datagram_size;
    }

    /// Checks a CLIENT_HELLO1 and returns the client's public key. Checks: exactly 1280 bytes,
    /// pn 2, keyword ignored, exactly one 32-byte word, only zero padding after it.
    /// Error: bad_hello.  spec: neutrino.md §10.2, §18.2 item 11
    [[nodiscard]] static result<public_key> read_hello1(std::span<const std::byte> d) noexcept {
        if (d.size() != max_datagram_size) return fail(errc::bad_hello);
        if (neutrino::load_le<std::uint64_t>(d.data() + clear_header_size) != packet_number_pending) {
            return fail(errc::bad_hello);
        }
        auto words = words_view::parse(d.subspan(total_header_size));
        if (!words || words->size() != 1) return fail(errc::bad_hello);
        const word w = (*words)[0];
        if (w.size() != key_size) return fail(errc::bad_hello);
        public_key pk;
        std::memcpy(pk.data(), w.data(), key_size);
        return pk;
    }

    /// Reads pn, keyword and payload from a plaintext packet (clear header + protected part).
    [[nodiscard]] static result<opened_packet> read_protected(const clear_header& h,
                                                              std::span<const std::byte> plain) noexcept {
        if (plain.size() < total_header_size + 1) return fail(errc::malformed_payload);
        opened_packet p;
        p.type = static_cast<packet_type>(h.type);
        p.session_id = h.session_id;
        p.packet_number = neutrino::load_le<std::uint64_t>(plain.data() + clear_header_size);
        p.keyword = neutrino::load_le<std::uint32_t>(plain.data() + clear_header_size + 8);
        p.payload = plain.subspan(total_header_size);
        p.plaintext = plain;
        return p;
    }

private:
    // Plaintext is built where the ciphertext will be: after the header and the nonce.
    static constexpr std::size_t plain_offset = clear_header_size + nonce_size;

    static result<std::size_t> finish(std::span<std::byte> out, packet_type type,
                                      std::uint64_t session_id, std::uint64_t pn,
                                      std::uint32_t keyword, std::size_t payload_size,
                                      std::size_t min_plain_size, const secret_key& tx,
                                      std::span<const std::byte, nonce_size> nonce) noexcept {
        if (payload_size > max_payload_size) return fail(errc::payload_too_large);
        clear_header{version, static_cast<std::uint8_t>(type), session_id}.write(out);
        std::memcpy(out.data() + clear_header_size, nonce.data(), nonce_size);
        std::byte* const body = out.data() + plain_offset;
        neutrino::store_le<std::uint64_t>(body, pn);
        neutrino::store_le<std::uint32_t>(body + 8, keyword);
        // spec: neutrino.md §4.5: pad the plaintext (header + protected part) to the target
        std::size_t plain = protected_header_size + payload_size;
        const std::size_t max_plain = max_datagram_size - clear_header_size - overhead;
        const std::size_t target = std::min(min_plain_size, max_plain + clear_header_size);
        if (clear_header_size + plain < target) {
            const std::size_t pad = target - clear_header_size - plain;
            std::memset(body + plain, 0, pad);
            plain += pad;
        }
        aead_xchacha20poly1305::seal({body, plain + tag_size}, plain, nonce, {}, tx);
        return plain_offset + plain + tag_size;
    }
};

}  // namespace wire
}  // namespace neutrino::core
