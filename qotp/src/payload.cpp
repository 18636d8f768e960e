#include "neutrino/qotp/payload.hpp"

#include <algorithm>

#include "cursor.hpp"

namespace neutrino::qotp {
namespace {

namespace flags = payload_flags;

bool has(std::uint8_t f, std::uint8_t bit) noexcept { return (f & bit) != 0; }

// `extend` iff the stream offset or the ACK offset exceeds u24.  spec: qotp.md §9.2
bool needs_extend(const transport_payload& p) noexcept {
    return (p.ack && p.ack->offset > max_short_offset) ||
           (p.stream && p.stream->offset > max_short_offset);
}

std::size_t offset_size(bool extend) noexcept {
    return extend ? long_offset_size : short_offset_size;
}
std::size_t ack_size(bool extend) noexcept {
    return stream_id_size + offset_size(extend) + ack_length_size;
}
std::size_t stream_header_size(bool extend) noexcept {
    return stream_id_size + offset_size(extend);
}

std::uint8_t flags_of(const transport_payload& p) noexcept {
    std::uint8_t f = 0;
    if (p.ack) f |= flags::has_ack;
    if (p.stream) f |= flags::has_stream;
    if (needs_extend(p)) f |= flags::extend;
    if (p.stream && p.stream->close) f |= flags::close;
    if (p.key_update) f |= flags::key_update;
    if (p.key_update_ack) f |= flags::key_update_ack;
    return f;
}

// spec: qotp.md §9.4 (hasStream whenever there is no ACK, or a KU or KUA), §9.3, §11
result<void> validate(const transport_payload& p) noexcept {
    if (!p.stream && (!p.ack || p.key_update || p.key_update_ack)) {
        return fail(errc::missing_stream_header);
    }
    if (p.stream && p.stream->stream_id > max_stream_id) return fail(errc::bad_stream_id);
    if ((p.ack && p.ack->offset > max_offset) || (p.stream && p.stream->offset > max_offset)) {
        return fail(errc::offset_too_large);
    }
    return {};
}

void put_key(detail::writer& w, const std::optional<public_key>& key) noexcept {
    if (key) w.put_bytes(*key);
}

result<std::optional<public_key>> take_key(detail::reader& r, bool present) noexcept {
    if (!present) return std::nullopt;
    std::span<const std::byte> bytes;
    if (!r.take_bytes(key_size, bytes)) return fail(errc::payload_truncated);
    public_key key{};
    std::copy(bytes.begin(), bytes.end(), key.begin());
    return key;
}

result<std::optional<ack_block>> take_ack(detail::reader& r, bool present, bool extend) noexcept {
    if (!present) return std::nullopt;
    std::uint64_t id = 0;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    if (!r.take_le(stream_id_size, id) || !r.take_le(offset_size(extend), offset) ||
        !r.take_le(ack_length_size, length)) {
        return fail(errc::payload_truncated);
    }
    return ack_block{static_cast<std::uint32_t>(id), offset, static_cast<std::uint16_t>(length)};
}

result<stream_frame> take_stream(detail::reader& r, bool extend, bool close) noexcept {
    std::uint64_t wire_id = 0;
    std::uint64_t offset = 0;
    if (!r.take_le(stream_id_size, wire_id) || !r.take_le(offset_size(extend), offset)) {
        return fail(errc::payload_truncated);
    }
    const auto id = static_cast<std::uint32_t>(wire_id);
    return stream_frame{id & max_stream_id, (id & best_effort_bit) != 0, offset, close, r.rest()};
}

}  // namespace

std::size_t encoded_size(const transport_payload& p) noexcept {
    const bool extend = needs_extend(p);
    std::size_t n = payload_fixed_size;
    if (p.ack) n += ack_size(extend);
    if (p.key_update) n += key_size;
    if (p.key_update_ack) n += key_size;
    if (p.stream) n += stream_header_size(extend) + p.stream->data.size();
    return n;
}

result<std::size_t> encode_payload(const transport_payload& p, std::span<std::byte> out) noexcept {
    if (auto ok = validate(p); !ok) return tl::unexpected(ok.error());
    if (out.size() < encoded_size(p)) return fail(errc::buffer_too_small);
    const std::uint8_t f = flags_of(p);
    const std::size_t offset_bytes = offset_size(has(f, flags::extend));
    detail::writer w(out);
    w.put_byte(static_cast<std::byte>(f));
    w.put_le(p.max_payload, 2);
    w.put_byte(static_cast<std::byte>(p.receive_window));
    if (p.ack) {
        w.put_le(p.ack->stream_id, stream_id_size);
        w.put_le(p.ack->offset, offset_bytes);
        w.put_le(p.ack->length, ack_length_size);
    }
    put_key(w, p.key_update);
    put_key(w, p.key_update_ack);
    if (p.stream) {
        const std::uint32_t wire_id =
            p.stream->stream_id | (p.stream->best_effort ? best_effort_bit : 0);
        w.put_le(wire_id, stream_id_size);
        w.put_le(p.stream->offset, offset_bytes);
        w.put_bytes(p.stream->data);
    }
    return w.size();
}

result<transport_payload> decode_payload(std::span<const std::byte> in) noexcept {
    if (in.size() < payload_fixed_size) return fail(errc::payload_too_short);  // spec: §9.5
    detail::reader r(in);
    std::uint64_t f = 0;
    std::uint64_t max_payload = 0;
    std::uint64_t window = 0;
    (void)r.take_le(1, f);
    (void)r.take_le(2, max_payload);
    (void)r.take_le(1, window);
    const auto bits = static_cast<std::uint8_t>(f);
    const bool extend = has(bits, flags::extend);

    transport_payload p;
    p.max_payload = static_cast<std::uint16_t>(max_payload);
    p.receive_window = static_cast<std::uint8_t>(window);
    auto ack = take_ack(r, has(bits, flags::has_ack), extend);
    if (!ack) return tl::unexpected(ack.error());
    p.ack = *ack;
    auto ku = take_key(r, has(bits, flags::key_update));
    if (!ku) return tl::unexpected(ku.error());
    p.key_update = *ku;
    auto kua = take_key(r, has(bits, flags::key_update_ack));
    if (!kua) return tl::unexpected(kua.error());
    p.key_update_ack = *kua;
    if (!has(bits, flags::has_stream)) {
        if (r.remaining() != 0) return fail(errc::trailing_bytes);
        return p;
    }
    auto stream = take_stream(r, extend, has(bits, flags::close));
    if (!stream) return tl::unexpected(stream.error());
    p.stream = *stream;
    return p;
}

}  // namespace neutrino::qotp
