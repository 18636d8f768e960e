#include "neutrino/core/v3/packet_protection.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "neutrino/endian.hpp"

namespace neutrino::core::v3 {

result<transport_header> transport_header::parse(bytes_view d, role r) noexcept {
    if (d.size() < min_transport_size || d.size() > max_datagram_size) return fail(errc::bad_size);
    if (neutrino::load_le<std::uint32_t>(d.data()) != protocol_identifier ||
        d[4] != std::byte{protocol_version}) {
        return fail(errc::bad_header);
    }
    const auto type_byte = std::to_integer<std::uint8_t>(d[5]);
    const auto code = static_cast<std::uint8_t>(type_byte & type_code_mask);
    if (!is_transport_type(code) || !receivable_by(r, code)) return fail(errc::bad_packet_type);
    transport_header h;
    h.type = static_cast<packet_type>(code);
    h.phase_bit = static_cast<std::uint8_t>(type_byte >> 7);
    h.session_id = neutrino::load_le<std::uint64_t>(d.data() + 6);
    h.pn_field = neutrino::load_le<std::uint64_t>(d.data() + clear_header_size);
    if (!in_space(h.pn_field, space_of(h.type))) return fail(errc::wrong_pn_space);
    return h;
}

result<std::size_t> seal_transport(std::span<std::byte> out, packet_type type,
                                   std::uint8_t phase_bit, std::uint64_t session_id,
                                   std::uint64_t pn_field, std::uint32_t keyword,
                                   bytes_view payload, std::size_t pad_to,
                                   const secret_key& key) noexcept {
    const auto code = static_cast<std::uint8_t>(type);
    if (!is_transport_type(code)) return fail(errc::bad_packet_type);
    if (!in_space(pn_field, space_of(type))) return fail(errc::wrong_pn_space);
    if (payload.size() > max_payload_size) return fail(errc::payload_too_large);
    // spec: neutrino-v3.md §3.2: a word list has at least its count byte and a raw fragment at
    // least one byte; 42 bytes would be below the 43 every receiver requires (§10.5 step 1)
    if (payload.empty()) return fail(errc::bad_size);
    const std::size_t size = std::clamp(
        pad_to, prefix_size + keyword_size + payload.size() + tag_size, max_datagram_size);
    if (out.size() < size) return fail(errc::buffer_too_small);
    const std::size_t plain = size - prefix_size - tag_size;
    neutrino::store_le<std::uint32_t>(out.data(), protocol_identifier);
    out[4] = std::byte{protocol_version};
    out[5] = std::byte{static_cast<std::uint8_t>(code | ((phase_bit & 1U) << 7))};
    neutrino::store_le<std::uint64_t>(out.data() + 6, session_id);
    neutrino::store_le<std::uint64_t>(out.data() + clear_header_size, pn_field);
    std::byte* body = out.data() + prefix_size;
    neutrino::store_le<std::uint32_t>(body, keyword);
    if (!payload.empty()) std::memcpy(body + keyword_size, payload.data(), payload.size());
    std::memset(body + keyword_size + payload.size(), 0, plain - keyword_size - payload.size());
    auto n = aead_chacha20poly1305_ietf::seal(out.subspan(prefix_size, plain + tag_size),
                                              {body, plain}, out.first(prefix_size), pn_field, key);
    if (!n) return tl::unexpected(n.error());
    return size;
}

result<opened_transport> open_transport(bytes_view d, const transport_header& h,
                                        const secret_key& key,
                                        std::span<std::byte> scratch) noexcept {
    auto n = aead_chacha20poly1305_ietf::open(scratch, d.subspan(prefix_size), d.first(prefix_size),
                                              h.pn_field, key);
    if (!n) return tl::unexpected(n.error());
    opened_transport p;
    p.header = h;
    p.keyword = neutrino::load_le<std::uint32_t>(scratch.data());
    p.payload = bytes_view(scratch.data() + keyword_size, *n - keyword_size);
    return p;
}

result<opened_transport> receive_transport(bytes_view d, role r, receive_keys& keys,
                                           replay_guard& window, time_point now,
                                           std::span<std::byte> scratch) noexcept {
    auto h = transport_header::parse(d, r);
    if (!h) return tl::unexpected(h.error());
    if (!window.precheck(h->pn_field)) return fail(errc::replayed);  // before any AEAD work
    result<opened_transport> p = fail(errc::decryption_failed);
    if (keys.is_current_bit(h->phase_bit)) {
        p = open_transport(d, *h, keys.current(), scratch);
    } else {
        p = open_transport(d, *h, keys.next(), scratch);
        if (p) {
            p->key = receive_keys::which::next;
        } else if (const secret_key* prev = keys.previous(now); prev != nullptr) {
            p = open_transport(d, *h, *prev, scratch);
            if (p) p->key = receive_keys::which::previous;
        }
    }
    if (!p) return p;
    window.commit(h->pn_field);  // spec: neutrino-v3.md §10.5 step 7: authenticated from here on
    if (p->key == receive_keys::which::next) keys.advance(now);
    return p;
}

}  // namespace neutrino::core::v3
