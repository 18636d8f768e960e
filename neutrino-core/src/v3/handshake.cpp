#include "neutrino/core/v3/handshake.hpp"

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "neutrino/endian.hpp"

namespace neutrino::core::v3 {

void offer::write(std::span<std::byte, offer_size> out) const noexcept {
    out[0] = std::byte{format};
    out[1] = std::byte{variants_mask};
    out[2] = std::byte{preferred_variant};
    out[3] = std::byte{0};
    neutrino::store_le<std::uint32_t>(out.data() + 4, extended_max_message_size);
}

result<offer> offer::parse(bytes_view payload) noexcept {
    if (payload.size() < offer_size) return fail(errc::malformed_offer);
    if (payload[0] != std::byte{format} || payload[3] != std::byte{0})
        return fail(errc::malformed_offer);
    offer o;
    o.variants_mask = std::to_integer<std::uint8_t>(payload[1]);
    o.preferred_variant = std::to_integer<std::uint8_t>(payload[2]);
    o.extended_max_message_size = neutrino::load_le<std::uint32_t>(payload.data() + 4);
    if (!o.valid()) return fail(errc::malformed_offer);
    for (std::size_t i = offer_size; i < payload.size(); ++i) {
        if (payload[i] != std::byte{0}) return fail(errc::malformed_offer);
    }
    return o;
}

void answer::write(std::span<std::byte, answer_size> out) const noexcept {
    out[0] = std::byte{static_cast<std::uint8_t>(status)};
    out[1] = std::byte{variant};
    out[2] = out[3] = std::byte{0};
    neutrino::store_le<std::uint32_t>(out.data() + 4, extended_max_message_size);
    neutrino::store_le<std::uint64_t>(out.data() + 8, session_id);
}

result<answer> answer::parse(bytes_view p) noexcept {
    if (p.size() != answer_size || std::to_integer<unsigned>(p[0]) > 4 || p[2] != std::byte{0} ||
        p[3] != std::byte{0}) {
        return fail(errc::malformed_answer);
    }
    answer a;
    a.status = static_cast<hello2_status>(std::to_integer<std::uint8_t>(p[0]));
    a.variant = std::to_integer<std::uint8_t>(p[1]);
    a.extended_max_message_size = neutrino::load_le<std::uint32_t>(p.data() + 4);
    a.session_id = neutrino::load_le<std::uint64_t>(p.data() + 8);
    return a;
}

result<void> check_answer(const offer& o, const answer& a) noexcept {
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

namespace noise {

result<std::size_t> write_message1(symmetric_state& s, handshake_pattern p, bytes_view prologue,
                                   const public_key& rs, const secret_key& e, const secret_key* c,
                                   bytes_view payload, std::span<std::byte> out,
                                   trace_sink trace) noexcept {
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

result<std::size_t> read_message1(symmetric_state& s, handshake_pattern p, bytes_view prologue,
                                  const secret_key& S, const public_key& S_pub, bytes_view msg,
                                  public_key& re, std::optional<public_key>& rs_out,
                                  std::span<std::byte> payload_out, trace_sink trace) noexcept {
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

result<std::size_t> write_message2(symmetric_state& s, handshake_pattern p, const secret_key& f,
                                   const public_key& re, const std::optional<public_key>& rs,
                                   bytes_view payload, std::span<std::byte> out,
                                   trace_sink trace) noexcept {
    const std::size_t total = key_size + payload.size() + tag_size;
    if (out.size() < total || (p == handshake_pattern::ik && !rs))
        return fail(errc::buffer_too_small);
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

result<std::size_t> read_message2(symmetric_state& s, handshake_pattern p, const secret_key& e,
                                  const secret_key* c, bytes_view msg,
                                  std::span<std::byte> payload_out, trace_sink trace) noexcept {
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

result<client_handshake> client_handshake::write_hello1(std::span<std::byte> out,
                                                        const public_key& server_pk,
                                                        const derived_key& mac1_key,
                                                        const secret_key& ephemeral,
                                                        const secret_key* client_static,
                                                        const offer& o, trace_sink trace) noexcept {
    if (out.size() < hello1_size) return fail(errc::buffer_too_small);
    const handshake_pattern p =
        client_static != nullptr ? handshake_pattern::ik : handshake_pattern::nk;
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

result<answer> client_handshake::read_hello2(bytes_view d, trace_sink trace) noexcept {
    if (d.size() != hello2_size) return fail(errc::bad_size);
    if (!has_prefix(d, static_cast<std::uint8_t>(packet_type::server_hello2)))
        return fail(errc::bad_header);
    symmetric_state s = state_;  // spec: neutrino-v3.md §7.5: on a copy
    std::array<std::byte, answer_size> plain{};
    auto n = noise::read_message2(s, pattern_, e_, c_ ? &*c_ : nullptr,
                                  d.subspan(clear_header_size), plain, trace);
    if (!n) return tl::unexpected(n.error());
    auto a = answer::parse(std::span<const std::byte>(plain.data(), *n));
    if (!a) return a;
    // spec: neutrino-v3.md §7.5: the clear header is outside Noise; this binds it
    if (neutrino::load_le<std::uint64_t>(d.data() + 6) != a->session_id) {
        return fail(errc::session_id_mismatch);
    }
    state_ = s;
    return a;
}

result<handshake_pattern> check_hello1(bytes_view d, const derived_key& mac1_key) noexcept {
    if (d.size() != hello1_size) return fail(errc::bad_size);
    if (!has_prefix(d, static_cast<std::uint8_t>(packet_type::client_hello1)) ||
        neutrino::load_le<std::uint64_t>(d.data() + 6) != session_id_none ||
        std::to_integer<unsigned>(d[14]) > 1 || d[15] != std::byte{0}) {
        return fail(errc::bad_header);
    }
    const mac_value m = mac16(mac1_key, {d.first(mac1_offset)});
    if (!equal_ct(m, d.subspan(mac1_offset, mac_size))) return fail(errc::bad_mac1);
    return static_cast<handshake_pattern>(std::to_integer<std::uint8_t>(d[14]));
}

result<server_handshake> server_handshake::read_hello1(bytes_view d, const secret_key& server_sk,
                                                       const public_key& server_pk,
                                                       trace_sink trace) noexcept {
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

result<std::size_t> server_handshake::write_hello2(std::span<std::byte> out, const secret_key& f,
                                                   const answer& a, trace_sink trace) noexcept {
    if (out.size() < hello2_size) return fail(errc::buffer_too_small);
    write_clear_header(out, static_cast<std::uint8_t>(packet_type::server_hello2), a.session_id);
    std::array<std::byte, answer_size> plain;
    a.write(plain);
    auto n = noise::write_message2(state_, pattern_, f, client_ephemeral_, client_static_, plain,
                                   out.subspan(clear_header_size, hello2_size - clear_header_size),
                                   trace);
    if (!n) return tl::unexpected(n.error());
    return hello2_size;
}

}  // namespace neutrino::core::v3
