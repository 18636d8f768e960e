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

#include "neutrino/core/endian.hpp"
#include "neutrino/core/result.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/core/v3/symmetric_state.hpp"

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
    core::detail::store_le<std::uint32_t>(out.data(), protocol_identifier);
    out[4] = std::byte{protocol_version};
    out[5] = std::byte{type_byte};
    core::detail::store_le<std::uint64_t>(out.data() + 6, session_id);
}

/// True when bytes 0..6 are the identifier, version 3 and exactly `type_byte` (phase 0).
[[nodiscard]] inline bool has_prefix(bytes_view d, std::uint8_t type_byte) noexcept {
    return d.size() >= clear_header_size &&
           core::detail::load_le<std::uint32_t>(d.data()) == protocol_identifier &&
           d[4] == std::byte{protocol_version} && d[5] == std::byte{type_byte};
}

/// The client's offer, the first 8 bytes of the HELLO1 payload.  spec: neutrino-v3.md §9.1
struct offer {
    static constexpr std::uint8_t format = 1;
    std::uint8_t variants_mask = 0x01;   ///< 01 basic, 02 reliable, 04 extended
    std::uint8_t preferred_variant = 0;  ///< 0 basic, 1 reliable, 2 extended
    std::uint32_t extended_max_message_size = 0;

    /// Writes the 8 bytes (no validation: `valid()` says whether a server would accept them).
    void write(std::span<std::byte, offer_size> out) const noexcept {
        out[0] = std::byte{format};
        out[1] = std::byte{variants_mask};
        out[2] = std::byte{preferred_variant};
        out[3] = std::byte{0};
        core::detail::store_le<std::uint32_t>(out.data() + 4, extended_max_message_size);
    }
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
    [[nodiscard]] static result<offer> parse(bytes_view payload) noexcept {
        if (payload.size() < offer_size) return fail(errc::malformed_offer);
        if (payload[0] != std::byte{format} || payload[3] != std::byte{0}) return fail(errc::malformed_offer);
        offer o;
        o.variants_mask = std::to_integer<std::uint8_t>(payload[1]);
        o.preferred_variant = std::to_integer<std::uint8_t>(payload[2]);
        o.extended_max_message_size = core::detail::load_le<std::uint32_t>(payload.data() + 4);
        if (!o.valid()) return fail(errc::malformed_offer);
        for (std::size_t i = offer_size; i < payload.size(); ++i) {
            if (payload[i] != std::byte{0}) return fail(errc::malformed_offer);
        }
        return o;
    }
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

    void write(std::span<std::byte, answer_size> out) const noexcept {
        out[0] = std::byte{static_cast<std::uint8_t>(status)};
        out[1] = std::byte{variant};
        out[2] = out[3] = std::byte{0};
        core::detail::store_le<std::uint32_t>(out.data() + 4, extended_max_message_size);
        core::detail::store_le<std::uint64_t>(out.data() + 8, session_id);
    }
    /// Parses the 16 bytes: status ≤ 4 and reserved bytes zero. Error: malformed_answer.
    [[nodiscard]] static result<answer> parse(bytes_view p) noexcept {
        if (p.size() != answer_size || std::to_integer<unsigned>(p[0]) > 4 ||
            p[2] != std::byte{0} || p[3] != std::byte{0}) {
            return fail(errc::malformed_answer);
        }
        answer a;
        a.status = static_cast<hello2_status>(std::to_integer<std::uint8_t>(p[0]));
        a.variant = std::to_integer<std::uint8_t>(p[1]);
        a.extended_max_message_size = core::detail::load_le<std::uint32_t>(p.data() + 4);
        a.session_id = core::detail::load_le<std::uint64_t>(p.data() + 8);
        return a;
    }
    friend constexpr bool operator==(const answer&, const answer&) noexcept = default;
};

/// The client's requirements on an authenticated answer to `o` (§7.5): status 0 needs a
/// session id ≥ 64, a variant that was offered, and an Extended limit ≥ 1238 exactly when
/// Extended was chosen (else 0); statuses 1–4 need session id 2. Error: malformed_answer (the
/// attempt fails with reason 4).  spec: neutrino-v3.md §7.5
[[nodiscard]] inline result<void> check_answer(const offer& o, const answer& a) noexcept {
    if (a.status != hello2_status::accepted) {
        if (a.session_id != session_id_none) return fail(errc::malformed_answer);
        return {};
    }
    const bool ok = a.session_id >= min_session_id && a.variant <= 2 &&
                    ((o.variants_mask >> a.variant) & 1U) != 0 &&
                    (a.variant == 2 ? a.extended_max_message_size >= max_payload_size
                                    : a.extended_max_message_size == 0);
    if (!ok) return fail(errc::malformed_answer);
    return {};
}

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
[[nodiscard]] inline result<std::size_t> write_message1(symmetric_state& s, handshake_pattern p,
                                                        bytes_view prologue, const public_key& rs,
                                                        const secret_key& e, const secret_key* c,
                                                        bytes_view payload, std::span<std::byte> out,
                                                        trace_sink trace = {}) noexcept {
    const std::size_t s_len = p == handshake_pattern::ik ? key_size + tag_size : 0;
    const std::size_t total = key_size + s_len + payload.size() + tag_size;
    if (out.size() < total || (p == handshake_pattern::ik && c == nullptr)) {
        return fail(errc::buffer_too_small);
    }
    trace("initialize", s);
    s.mix_hash(prologue);
    trace("mix_hash(prologue)", s);
    s.mix_hash(rs);
    trace("mix_hash(responder static)", s);
    const public_key e_pub = public_key_of(e);
    std::memcpy(out.data(), e_pub.data(), key_size);
    s.mix_hash(e_pub);
    trace("e", s);
    auto es = dh(e, rs);
    if (!es) return tl::unexpected(es.error());
    s.mix_key(es->bytes());
    trace("es", s);
    if (p == handshake_pattern::ik) {
        const public_key c_pub = public_key_of(*c);
        auto n = s.encrypt_and_hash(c_pub, out.subspan(key_size, s_len));
        if (!n) return tl::unexpected(n.error());
        trace("s", s);
        auto ss = dh(*c, rs);
        if (!ss) return tl::unexpected(ss.error());
        s.mix_key(ss->bytes());
        trace("ss", s);
    }
    auto n = s.encrypt_and_hash(payload, out.subspan(key_size + s_len, payload.size() + tag_size));
    if (!n) return tl::unexpected(n.error());
    trace("payload", s);
    return total;
}

/// Responder, message 1: the mirror of `write_message1` with the responder static `S`.
/// Stores the initiator's ephemeral in `re` and, for IK, its static key in `rs_out`; writes
/// the payload plaintext to `payload_out` (≥ message size − 48 / − 96). Returns the payload
/// size. Errors: bad_size (message too short), low_order_point, decryption_failed,
/// buffer_too_small.
[[nodiscard]] inline result<std::size_t> read_message1(symmetric_state& s, handshake_pattern p,
                                                       bytes_view prologue, const secret_key& S,
                                                       const public_key& S_pub, bytes_view msg,
                                                       public_key& re, std::optional<public_key>& rs_out,
                                                       std::span<std::byte> payload_out,
                                                       trace_sink trace = {}) noexcept {
    const std::size_t s_len = p == handshake_pattern::ik ? key_size + tag_size : 0;
    if (msg.size() < key_size + s_len + tag_size) return fail(errc::bad_size);
    trace("initialize", s);
    s.mix_hash(prologue);
    trace("mix_hash(prologue)", s);
    s.mix_hash(S_pub);
    trace("mix_hash(responder static)", s);
    std::memcpy(re.data(), msg.data(), key_size);
    s.mix_hash(re);
    trace("e", s);
    auto es = dh(S, re);
    if (!es) return tl::unexpected(es.error());
    s.mix_key(es->bytes());
    trace("es", s);
    if (p == handshake_pattern::ik) {
        public_key c_pub;
        auto n = s.decrypt_and_hash(msg.subspan(key_size, s_len), c_pub);
        if (!n) return tl::unexpected(n.error());
        trace("s", s);
        auto ss = dh(S, c_pub);
        if (!ss) return tl::unexpected(ss.error());
        s.mix_key(ss->bytes());
        trace("ss", s);
        rs_out = c_pub;
    }
    auto n = s.decrypt_and_hash(msg.subspan(key_size + s_len), payload_out);
    if (!n) return tl::unexpected(n.error());
    trace("payload", s);
    return n;
}

/// Responder, message 2: `<- e, ee` (NK) or `<- e, ee, se` (IK), then
/// `EncryptAndHash(payload)`, with the responder ephemeral `f`. Writes `f_pub ‖
/// enc(payload)` to `out`; returns its size. `rs` is the initiator static key (IK) or empty.
/// Errors: buffer_too_small, low_order_point.
[[nodiscard]] inline result<std::size_t> write_message2(symmetric_state& s, handshake_pattern p,
                                                        const secret_key& f, const public_key& re,
                                                        const std::optional<public_key>& rs,
                                                        bytes_view payload, std::span<std::byte> out,
                                                        trace_sink trace = {}) noexcept {
    const std::size_t total = key_size + payload.size() + tag_size;
    if (out.size() < total || (p == handshake_pattern::ik && !rs)) return fail(errc::buffer_too_small);
    const public_key f_pub = public_key_of(f);
    std::memcpy(out.data(), f_pub.data(), key_size);
    s.mix_hash(f_pub);
    trace("e", s);
    auto ee = dh(f, re);
    if (!ee) return tl::unexpected(ee.error());
    s.mix_key(ee->bytes());
    trace("ee", s);
    if (p == handshake_pattern::ik) {
        auto se = dh(f, *rs);
        if (!se) return tl::unexpected(se.error());
        s.mix_key(se->bytes());
        trace("se", s);
    }
    auto n = s.encrypt_and_hash(payload, out.subspan(key_size, payload.size() + tag_size));
    if (!n) return tl::unexpected(n.error());
    trace("payload", s);
    return total;
}

/// Initiator, message 2: the mirror of `write_message2` with the initiator's `e` (and `c`
/// for IK). Works on `s` directly: callers that must survive a bad message pass a copy
/// (§7.5). Returns the payload size. Errors: bad_size, low_order_point, decryption_failed,
/// buffer_too_small.
[[nodiscard]] inline result<std::size_t> read_message2(symmetric_state& s, handshake_pattern p,
                                                       const secret_key& e, const secret_key* c,
                                                       bytes_view msg, std::span<std::byte> payload_out,
                                                       trace_sink trace = {}) noexcept {
    if (msg.size() < key_size + tag_size) return fail(errc::bad_size);
    if (p == handshake_pattern::ik && c == nullptr) return fail(errc::buffer_too_small);
    public_key f_pub;
    std::memcpy(f_pub.data(), msg.data(), key_size);
    s.mix_hash(f_pub);
    trace("e", s);
    auto ee = dh(e, f_pub);
    if (!ee) return tl::unexpected(ee.error());
    s.mix_key(ee->bytes());
    trace("ee", s);
    if (p == handshake_pattern::ik) {
        auto se = dh(*c, f_pub);
        if (!se) return tl::unexpected(se.error());
        s.mix_key(se->bytes());
        trace("se", s);
    }
    auto n = s.decrypt_and_hash(msg.subspan(key_size), payload_out);
    if (!n) return tl::unexpected(n.error());
    trace("payload", s);
    return n;
}

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
        trace_sink trace = {}) noexcept {
        if (out.size() < hello1_size) return fail(errc::buffer_too_small);
        const handshake_pattern p = client_static != nullptr ? handshake_pattern::ik : handshake_pattern::nk;
        std::memset(out.data(), 0, hello1_size);
        write_clear_header(out, static_cast<std::uint8_t>(packet_type::client_hello1), session_id_none);
        out[14] = std::byte{static_cast<std::uint8_t>(p)};  // pattern; byte 15 reserved 0
        // spec: neutrino-v3.md §7.3: payload = offer ‖ zeros, sealed in place
        const std::size_t off = hello1_payload_offset(p);
        o.write(std::span<std::byte, offer_size>(out.data() + off, offer_size));
        client_handshake hs(p, ephemeral, client_static);
        auto n = noise::write_message1(hs.state_, p, out.first(prologue_size), server_pk, ephemeral,
                                       client_static, out.subspan(off, hello1_payload_size(p)),
                                       out.subspan(prologue_size, mac1_offset - prologue_size), trace);
        if (!n) return tl::unexpected(n.error());
        // spec: neutrino-v3.md §8.1: mac1 over bytes 0..1248; mac2 stays zero
        hs.mac1_ = mac16(mac1_key, {out.first(mac1_offset)});
        std::memcpy(out.data() + mac1_offset, hs.mac1_.data(), mac_size);
        return hs;
    }

    /// Reads SERVER_HELLO2 (§7.5): exactly 78 bytes starting `0c 26 aa 5b 03 02`; Noise
    /// message 2 (`e, ee` [`se`], payload) on a *copy* of the state; then the encrypted
    /// session id must equal the clear one. Only on success is the copy committed. Errors:
    /// bad_size, bad_header, low_order_point, decryption_failed, malformed_answer,
    /// session_id_mismatch — after any of them this object is unchanged.
    /// Call `check_answer` next, and `split()` for status 0. Dropping a late or second
    /// HELLO2 (§7.9) is the machine's job.
    [[nodiscard]] result<answer> read_hello2(bytes_view d, trace_sink trace = {}) noexcept {
        if (d.size() != hello2_size) return fail(errc::bad_size);
        if (!has_prefix(d, static_cast<std::uint8_t>(packet_type::server_hello2))) return fail(errc::bad_header);
        symmetric_state s = state_;  // spec: neutrino-v3.md §7.5: on a copy
        std::array<std::byte, answer_size> plain{};
        auto n = noise::read_message2(s, pattern_, e_, c_ ? &*c_ : nullptr,
                                      d.subspan(clear_header_size), plain, trace);
        if (!n) return tl::unexpected(n.error());
        auto a = answer::parse(std::span<const std::byte>(plain.data(), *n));
        if (!a) return a;
        // spec: neutrino-v3.md §7.5: the clear header is outside Noise; this binds it
        if (core::detail::load_le<std::uint64_t>(d.data() + 6) != a->session_id) {
            return fail(errc::session_id_mismatch);
        }
        state_ = s;
        return a;
    }

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
[[nodiscard]] inline result<handshake_pattern> check_hello1(bytes_view d,
                                                           const derived_key& mac1_key) noexcept {
    if (d.size() != hello1_size) return fail(errc::bad_size);
    if (!has_prefix(d, static_cast<std::uint8_t>(packet_type::client_hello1)) ||
        core::detail::load_le<std::uint64_t>(d.data() + 6) != session_id_none ||
        std::to_integer<unsigned>(d[14]) > 1 || d[15] != std::byte{0}) {
        return fail(errc::bad_header);
    }
    const mac_value m = mac16(mac1_key, {d.first(mac1_offset)});
    if (!equal_ct(m, d.subspan(mac1_offset, mac_size))) return fail(errc::bad_mac1);
    return static_cast<handshake_pattern>(std::to_integer<std::uint8_t>(d[14]));
}

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
                                                              trace_sink trace = {}) noexcept {
        if (d.size() != hello1_size) return fail(errc::bad_size);
        if (!has_prefix(d, static_cast<std::uint8_t>(packet_type::client_hello1)) ||
            std::to_integer<unsigned>(d[14]) > 1 || d[15] != std::byte{0}) {
            return fail(errc::bad_header);
        }
        const auto p = static_cast<handshake_pattern>(std::to_integer<std::uint8_t>(d[14]));
        server_handshake hs(p);
        std::array<std::byte, hello1_payload_size(handshake_pattern::nk)> plain;
        auto n = noise::read_message1(hs.state_, p, d.first(prologue_size), server_sk, server_pk,
                                      d.subspan(prologue_size, mac1_offset - prologue_size),
                                      hs.client_ephemeral_, hs.client_static_, plain, trace);
        if (!n) return tl::unexpected(n.error());
        hs.offer_ = offer::parse(std::span<const std::byte>(plain.data(), *n));
        sodium_memzero(plain.data(), plain.size());
        return hs;
    }

    /// §7.4 step 11: builds SERVER_HELLO2 into `out[0, 78)` with the server ephemeral `f`
    /// (used once; the caller wipes it) and `a` (its `session_id` goes into the clear header
    /// as well). Then call `split()` when the status is 0. Errors: buffer_too_small,
    /// low_order_point. After an error this object must be discarded.
    /// spec: neutrino-v3.md §4.3, §7.4 step 11
    [[nodiscard]] result<std::size_t> write_hello2(std::span<std::byte> out, const secret_key& f,
                                                   const answer& a, trace_sink trace = {}) noexcept {
        if (out.size() < hello2_size) return fail(errc::buffer_too_small);
        write_clear_header(out, static_cast<std::uint8_t>(packet_type::server_hello2), a.session_id);
        std::array<std::byte, answer_size> plain;
        a.write(plain);
        auto n = noise::write_message2(state_, pattern_, f, client_ephemeral_, client_static_, plain,
                                       out.subspan(clear_header_size, hello2_size - clear_header_size), trace);
        if (!n) return tl::unexpected(n.error());
        return hello2_size;
    }

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
