#pragma once
/// \file
/// The v3 handshake as sans-IO functions over the datagrams of §4: Noise NK (anonymous client)
/// and IK (client static key) with 25519/ChaChaPoly/BLAKE2b, the HELLO1 offer and the HELLO2
/// answer. Ephemeral keys are parameters, so the vectors' keys can be injected; production
/// callers draw them from their `Random` policy.  spec: neutrino-v3.md §4.2, §4.3, §7, §9
///
/// What is *not* here (it belongs to the client/server machines): timers, retransmission,
/// the pending-session table and its mac1 index, cookies under load (see cookie.hpp),
/// admission and variant selection policy, HELLO3 (a transport packet, see
/// packet_protection.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <span>

#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/core/v3/symmetric_state.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/result.hpp"

namespace neutrino::core::v3 {

/// The pattern byte of HELLO1.  spec: neutrino-v3.md §4.2, §7.1
enum class handshake_pattern : std::uint8_t { nk = 0, ik = 1 };

/// The Noise protocol name of a pattern.
[[nodiscard]] constexpr std::string_view protocol_name(handshake_pattern p) noexcept {
    return p == handshake_pattern::nk ? noise_nk_name : noise_ik_name;
}

/// Offset of the encrypted HELLO1 payload, and its plaintext size (offer + zero padding):
/// NK 48 / 1184, IK 96 / 1136.  spec: neutrino-v3.md §4.2
[[nodiscard]] constexpr std::size_t hello1_payload_offset(handshake_pattern p) noexcept {
    return p == handshake_pattern::nk ? 48 : 96;
}
[[nodiscard]] constexpr std::size_t hello1_payload_size(handshake_pattern p) noexcept {
    return mac1_offset - hello1_payload_offset(p) - tag_size;
}

/// Writes a 14-byte clear header.  spec: neutrino-v3.md §4.1
inline void write_clear_header(std::span<std::byte> out, std::uint8_t type_byte,
                               std::uint64_t session_id) noexcept {
    neutrino::store_le<std::uint32_t>(out.data(), protocol_identifier);
    out[4] = std::byte{protocol_version};
    out[5] = std::byte{type_byte};
    neutrino::store_le<std::uint64_t>(out.data() + 6, session_id);
}

/// True when bytes 0..6 are the identifier, version 3 and exactly `type_byte` (phase 0).
[[nodiscard]] inline bool has_prefix(bytes_view d, std::uint8_t type_byte) noexcept {
    return d.size() >= clear_header_size &&
           neutrino::load_le<std::uint32_t>(d.data()) == protocol_identifier &&
           d[4] == std::byte{protocol_version} && d[5] == std::byte{type_byte};
}

/// The client's offer, the first 8 bytes of the HELLO1 payload.  spec: neutrino-v3.md §9.1
struct offer {
    static constexpr std::uint8_t format = 1;
    std::uint8_t variants_mask = 0x01;   ///< 01 basic, 02 reliable, 04 extended
    std::uint8_t preferred_variant = 0;  ///< 0 basic, 1 reliable, 2 extended
    std::uint32_t extended_max_message_size = 0;

    /// Writes the 8 bytes (no validation: `valid()` says whether a server would accept them).
    void write(std::span<std::byte, offer_size> out) const noexcept;
    /// True when the fields satisfy every rule of §9.1.
    [[nodiscard]] constexpr bool valid() const noexcept {
        return variants_mask != 0 && (variants_mask & ~0x07U) == 0 && preferred_variant <= 2 &&
               ((variants_mask >> preferred_variant) & 1U) != 0 &&
               ((variants_mask & 0x04U) != 0 ? extended_max_message_size >= max_payload_size
                                            : extended_max_message_size == 0);
    }
    /// Parses and checks a whole decrypted HELLO1 payload: format 1, mask non-zero with no
    /// other bits, preferred bit set, reserved 0, Extended limit ≥ 1238 iff the extended bit
    /// is set (else 0), and only zero bytes after byte 8. Error: malformed_offer (the server
    /// answers status 4).  spec: neutrino-v3.md §9.1
    [[nodiscard]] static result<offer> parse(bytes_view payload) noexcept;
    friend constexpr bool operator==(const offer&, const offer&) noexcept = default;
};

/// HELLO2 status.  spec: neutrino-v3.md §9.2
enum class hello2_status : std::uint8_t {
    accepted = 0,
    refused = 1,               ///< by the application
    no_common_variant = 2,     ///< `variant` then carries the server's mask
    client_auth_required = 3,  ///< an NK client where IK is required
    bad_offer = 4,
};

/// The server's answer, the 16-byte HELLO2 payload.  spec: neutrino-v3.md §9.2
struct answer {
    hello2_status status = hello2_status::accepted;
    std::uint8_t variant = 0;  ///< status 0: chosen variant; status 2: server mask; else 0
    std::uint32_t extended_max_message_size = 0;
    std::uint64_t session_id = session_id_none;  ///< = the HELLO2 clear header's session id

    void write(std::span<std::byte, answer_size> out) const noexcept;
    /// Parses the 16 bytes: status ≤ 4 and reserved bytes zero. Error: malformed_answer.
    [[nodiscard]] static result<answer> parse(bytes_view p) noexcept;
    friend constexpr bool operator==(const answer&, const answer&) noexcept = default;
};

/// The client's requirements on an authenticated answer to `o` (§7.5): status 0 needs a
/// session id ≥ 64, a variant that was offered, and an Extended limit ≥ 1238 exactly when
/// Extended was chosen (else 0); statuses 1–4 need session id 2. Error: malformed_answer (the
/// attempt fails with reason 4).  spec: neutrino-v3.md §7.5
[[nodiscard]] result<void> check_answer(const offer& o, const answer& a) noexcept;

/// The Noise NK/IK message functions, independent of the datagram layout (so that the
/// published Noise test vectors run through the same code as HELLO1/HELLO2).
/// spec: neutrino-v3.md §7.2–§7.5
namespace noise {

/// Initiator, message 1: `InitializeSymmetric`, `MixHash(prologue)`, pre-message
/// `MixHash(rs)`, then `-> e, es` (NK) or `-> e, es, s, ss` (IK), then
/// `EncryptAndHash(payload)`. Writes `e ‖ [enc(s)] ‖ enc(payload)` to `out`; `payload` may
/// already sit at its place in `out` (offset 32 NK / 80 IK), then it is sealed in place.
/// `c` is the initiator static secret for IK, null for NK. Returns the message size.
/// Errors: buffer_too_small, low_order_point.
[[nodiscard]] result<std::size_t> write_message1(symmetric_state& s, handshake_pattern p,
                                                 bytes_view prologue, const public_key& rs,
                                                 const secret_key& e, const secret_key* c,
                                                 bytes_view payload, std::span<std::byte> out,
                                                 trace_sink trace = {}) noexcept;

/// Responder, message 1: the mirror of `write_message1` with the responder static `S`.
/// Stores the initiator's ephemeral in `re` and, for IK, its static key in `rs_out`; writes
/// the payload plaintext to `payload_out` (≥ message size − 48 / − 96). Returns the payload
/// size. Errors: bad_size (message too short), low_order_point, decryption_failed,
/// buffer_too_small.
[[nodiscard]] result<std::size_t> read_message1(symmetric_state& s, handshake_pattern p,
                                                bytes_view prologue, const secret_key& S,
                                                const public_key& S_pub, bytes_view msg,
                                                public_key& re, std::optional<public_key>& rs_out,
                                                std::span<std::byte> payload_out,
                                                trace_sink trace = {}) noexcept;

/// Responder, message 2: `<- e, ee` (NK) or `<- e, ee, se` (IK), then
/// `EncryptAndHash(payload)`, with the responder ephemeral `f`. Writes `f_pub ‖
/// enc(payload)` to `out`; returns its size. `rs` is the initiator static key (IK) or empty.
/// Errors: buffer_too_small, low_order_point.
[[nodiscard]] result<std::size_t> write_message2(symmetric_state& s, handshake_pattern p,
                                                 const secret_key& f, const public_key& re,
                                                 const std::optional<public_key>& rs,
                                                 bytes_view payload, std::span<std::byte> out,
                                                 trace_sink trace = {}) noexcept;

/// Initiator, message 2: the mirror of `write_message2` with the initiator's `e` (and `c`
/// for IK). Works on `s` directly: callers that must survive a bad message pass a copy
/// (§7.5). Returns the payload size. Errors: bad_size, low_order_point, decryption_failed,
/// buffer_too_small.
[[nodiscard]] result<std::size_t> read_message2(symmetric_state& s, handshake_pattern p,
                                                const secret_key& e, const secret_key* c,
                                                bytes_view msg, std::span<std::byte> payload_out,
                                                trace_sink trace = {}) noexcept;

}  // namespace noise

/// Initiator side: builds HELLO1, then reads HELLO2 without ever spoiling its state on a bad
/// one. Holds the ephemeral secret `e` (and `c` for IK) until destroyed; both are wiped.
class client_handshake {
public:
    /// Builds CLIENT_HELLO1 into `out[0, 1280)`: header (type 1, session 2), pattern byte,
    /// Noise message 1 (`e, es` [`s, ss`] and the encrypted offer + zero padding), mac1 with
    /// `mac1_key`, mac2 all zero (cookie.hpp sets it).
    /// `ephemeral` is `e` (fresh random per attempt); `client_static` is `c` for IK, or null
    /// for NK. Errors: buffer_too_small, low_order_point (`server_pk` degenerate).
    /// spec: neutrino-v3.md §4.2, §7.3
    [[nodiscard]] static result<client_handshake> write_hello1(
        std::span<std::byte> out, const public_key& server_pk, const derived_key& mac1_key,
        const secret_key& ephemeral, const secret_key* client_static, const offer& o,
        trace_sink trace = {}) noexcept;

    /// Reads SERVER_HELLO2 (§7.5): exactly 78 bytes starting `0c 26 aa 5b 03 02`; Noise
    /// message 2 (`e, ee` [`se`], payload) on a *copy* of the state; then the encrypted
    /// session id must equal the clear one. Only on success is the copy committed. Errors:
    /// bad_size, bad_header, low_order_point, decryption_failed, malformed_answer,
    /// session_id_mismatch — after any of them this object is unchanged.
    /// Call `check_answer` next, and `split()` for status 0. Dropping a late or second
    /// HELLO2 (§7.9) is the machine's job.
    [[nodiscard]] result<answer> read_hello2(bytes_view d, trace_sink trace = {}) noexcept;

    /// Split() after a successful `read_hello2`: `k_c2s[0]`, `k_s2c[0]`.
    [[nodiscard]] transport_keys split() const noexcept { return state_.split(); }
    /// The handshake hash (after HELLO2: the channel binding, §7.5, §16.3).
    [[nodiscard]] const hash_value& handshake_hash() const noexcept { return state_.h(); }
    [[nodiscard]] const symmetric_state& state() const noexcept { return state_; }
    [[nodiscard]] handshake_pattern pattern() const noexcept { return pattern_; }
    /// The mac1 of the HELLO1 built: the COOKIE_REPLY associated data uses it (§8.2).
    [[nodiscard]] const mac_value& mac1() const noexcept { return mac1_; }

private:
    client_handshake(handshake_pattern p, const secret_key& e, const secret_key* c) noexcept
        : state_(protocol_name(p)), pattern_(p), e_(e) {
        if (c != nullptr) c_ = *c;
    }
    symmetric_state state_;
    handshake_pattern pattern_;
    secret_key e_;
    std::optional<secret_key> c_;
    mac_value mac1_{};
};

/// Checks steps 1–2 of §7.4 on a datagram: exactly 1280 bytes, `0c 26 aa 5b 03 01`, session
/// id 2, pattern 0 or 1, reserved 0, and mac1 (constant-time). No DH. Returns the pattern.
/// Errors: bad_size, bad_header, bad_mac1.  spec: neutrino-v3.md §7.4, §8.1
[[nodiscard]] result<handshake_pattern> check_hello1(bytes_view d,
                                                    const derived_key& mac1_key) noexcept;

/// The mac1 field of a HELLO1 (the pending-table index of §7.4 step 3); precondition: 1280 bytes.
[[nodiscard]] inline mac_value hello1_mac1(bytes_view d) noexcept {
    mac_value m;
    std::memcpy(m.data(), d.data() + mac1_offset, mac_size);
    return m;
}

/// Responder side: reads Noise message 1 from a HELLO1, then writes HELLO2. A fresh object
/// per HELLO1 (§7.4 "fresh handshake state"); the server's ephemeral is used once.
class server_handshake {
public:
    /// §7.4 step 7 on a HELLO1 that passed `check_hello1` (its layout is re-checked, mac1 is
    /// not): MixHash(prologue, S_pub, e), MixKey(DH(S, e)), IK: DecryptAndHash(c),
    /// MixKey(DH(S, c)), then DecryptAndHash(payload). A malformed offer is *not* an error
    /// here: `client_offer()` then holds malformed_offer and the caller answers status 4
    /// (step 8). Errors: bad_size, bad_header, low_order_point, decryption_failed.
    [[nodiscard]] static result<server_handshake> read_hello1(bytes_view d,
                                                              const secret_key& server_sk,
                                                              const public_key& server_pk,
                                                              trace_sink trace = {}) noexcept;

    /// §7.4 step 11: builds SERVER_HELLO2 into `out[0, 78)` with the server ephemeral `f`
    /// (used once; the caller wipes it) and `a` (its `session_id` goes into the clear header
    /// as well). Then call `split()` when the status is 0. Errors: buffer_too_small,
    /// low_order_point. After an error this object must be discarded.
    /// spec: neutrino-v3.md §4.3, §7.4 step 11
    [[nodiscard]] result<std::size_t> write_hello2(std::span<std::byte> out, const secret_key& f,
                                                   const answer& a, trace_sink trace = {}) noexcept;

    [[nodiscard]] transport_keys split() const noexcept { return state_.split(); }
    [[nodiscard]] const hash_value& handshake_hash() const noexcept { return state_.h(); }
    [[nodiscard]] const symmetric_state& state() const noexcept { return state_; }
    [[nodiscard]] handshake_pattern pattern() const noexcept { return pattern_; }
    [[nodiscard]] const public_key& client_ephemeral() const noexcept { return client_ephemeral_; }
    /// The client's static key (IK only), authenticated by `ss` — for admission (§7.4 step 9).
    [[nodiscard]] const std::optional<public_key>& client_static() const noexcept { return client_static_; }
    /// The parsed offer, or malformed_offer (answer with status 4, §7.4 step 8).
    [[nodiscard]] const result<offer>& client_offer() const noexcept { return offer_; }

private:
    explicit server_handshake(handshake_pattern p) noexcept : state_(protocol_name(p)), pattern_(p) {}
    symmetric_state state_;
    handshake_pattern pattern_;
    public_key client_ephemeral_{};
    std::optional<public_key> client_static_;
    result<offer> offer_ = fail(errc::malformed_offer);
};

}  // namespace neutrino::core::v3
