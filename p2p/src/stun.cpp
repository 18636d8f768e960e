#include "neutrino/p2p/stun.hpp"

#include <sodium.h>

#include <cstring>

#include "big_endian.hpp"
#include "neutrino/p2p/detail/crc32.hpp"
#include "neutrino/p2p/detail/sha1.hpp"

namespace neutrino::p2p {
namespace {

using detail::load_be;
using detail::store_be;

constexpr std::size_t attribute_header_size = 4;
constexpr std::size_t integrity_value_size = detail::sha1_digest_size;
constexpr std::size_t fingerprint_value_size = 4;
constexpr std::size_t max_value_size = 0xFFFF;
constexpr std::uint8_t family_v4 = 0x01;
constexpr std::uint8_t family_v6 = 0x02;

constexpr std::size_t padded(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

// The 16 bytes an address is xored with: the cookie, then the transaction id (RFC 5389 §15.2).
std::array<std::byte, 16> xor_pad_of(std::span<const std::byte> header) noexcept {
    std::array<std::byte, 16> pad{};
    std::memcpy(pad.data(), header.data() + 4, 16);
    return pad;
}

// RFC 5389 §15.1, §15.2: reserved byte, family, port, address; the XOR form xors the port with
// the cookie's top 16 bits and the address with the cookie (IPv4) or cookie || transaction id.
std::optional<peer_address> parse_address(std::span<const std::byte> v,
                                          const std::array<std::byte, 16>& pad,
                                          bool xored) noexcept {
    if (v.size() < 4) return std::nullopt;
    const auto family = std::to_integer<std::uint8_t>(v[1]);
    const std::size_t n = family == family_v4 ? 4 : family == family_v6 ? 16 : 0;
    if (n == 0 || v.size() != 4 + n) return std::nullopt;
    auto port = load_be<std::uint16_t>(v.data() + 2);
    if (xored) port = static_cast<std::uint16_t>(port ^ (stun_magic_cookie >> 16));
    std::array<std::uint8_t, 16> b{};
    for (std::size_t i = 0; i < n; ++i) {
        std::byte x = v[4 + i];
        if (xored) x ^= pad[i];
        b[i] = std::to_integer<std::uint8_t>(x);
    }
    if (n == 4) return peer_address::v4({b[0], b[1], b[2], b[3]}, port);
    return peer_address::v6(b, port);
}

// HMAC-SHA1 over the message before the MESSAGE-INTEGRITY attribute at `offset`, with the
// header's length counting up to the end of that attribute (RFC 5389 §15.4).
detail::sha1_digest integrity_of(std::span<const std::byte> msg, std::size_t offset,
                                 std::span<const std::byte> key) noexcept {
    std::array<std::byte, stun_header_size> header{};
    std::memcpy(header.data(), msg.data(), stun_header_size);
    store_be(header.data() + 2,
             static_cast<std::uint16_t>(offset + attribute_header_size + integrity_value_size -
                                        stun_header_size));
    detail::hmac_sha1 mac(key);
    mac.update(header);
    mac.update(msg.subspan(stun_header_size, offset - stun_header_size));
    return mac.finish();
}

}  // namespace

bool looks_like_stun(std::span<const std::byte> in) noexcept {
    if (in.size() < stun_header_size) return false;
    if ((std::to_integer<std::uint8_t>(in[0]) & 0xC0u) != 0) return false;
    if (load_be<std::uint32_t>(in.data() + 4) != stun_magic_cookie) return false;
    const std::size_t length = load_be<std::uint16_t>(in.data() + 2);
    return length % 4 == 0 && length == in.size() - stun_header_size;
}

result<stun_message> decode_stun(std::span<const std::byte> in) noexcept {
    if (in.size() < stun_header_size) return fail(errc::stun_too_short);
    if ((std::to_integer<std::uint8_t>(in[0]) & 0xC0u) != 0 ||
        load_be<std::uint32_t>(in.data() + 4) != stun_magic_cookie) {
        return fail(errc::not_stun);
    }
    const std::size_t length = load_be<std::uint16_t>(in.data() + 2);
    if (length % 4 != 0 || length != in.size() - stun_header_size) {
        return fail(errc::stun_bad_length);
    }

    stun_message m;
    m.bytes = in;
    m.type = load_be<std::uint16_t>(in.data());
    std::memcpy(m.transaction_id.data(), in.data() + 8, stun_transaction_id_size);
    const auto pad = xor_pad_of(in);

    std::size_t pos = stun_header_size;
    while (pos < in.size()) {
        if (m.has_fingerprint) return fail(errc::stun_fingerprint_not_last);
        if (in.size() - pos < attribute_header_size) return fail(errc::stun_attribute_truncated);
        const auto type = load_be<std::uint16_t>(in.data() + pos);
        const std::size_t size = load_be<std::uint16_t>(in.data() + pos + 2);
        if (padded(size) > in.size() - pos - attribute_header_size) {
            return fail(errc::stun_attribute_truncated);
        }
        const auto value = in.subspan(pos + attribute_header_size, size);

        if (type == stun_attribute::fingerprint) {
            // spec: RFC 5389 §15.5 — CRC-32 of the message up to this attribute, xor "STUN"
            if (size != fingerprint_value_size) return fail(errc::stun_bad_attribute);
            const std::uint32_t want = detail::crc32(in.first(pos)) ^ stun_fingerprint_xor;
            if (load_be<std::uint32_t>(value.data()) != want) {
                return fail(errc::stun_bad_fingerprint);
            }
            m.has_fingerprint = true;
        } else if (m.integrity_offset) {
            // RFC 5389 §15.4: everything after MESSAGE-INTEGRITY but FINGERPRINT is ignored
        } else {
            switch (type) {
                case stun_attribute::message_integrity:
                    if (size != integrity_value_size) return fail(errc::stun_bad_attribute);
                    m.integrity_offset = pos;
                    break;
                case stun_attribute::xor_mapped_address:
                case stun_attribute::mapped_address: {
                    const bool xored = type == stun_attribute::xor_mapped_address;
                    auto a = parse_address(value, pad, xored);
                    if (!a) return fail(errc::stun_bad_attribute);
                    auto& slot = xored ? m.xor_mapped_address : m.mapped_address;
                    if (!slot) slot = a;
                    break;
                }
                case stun_attribute::software:
                    if (!m.software) m.software = value;
                    break;
                case stun_attribute::username:
                    if (!m.username) m.username = value;
                    break;
                case stun_attribute::error_code: {
                    // RFC 5389 §15.6: 21 reserved bits, class (3..6), number (0..99), reason
                    if (size < 4) return fail(errc::stun_bad_attribute);
                    const auto cls = std::to_integer<unsigned>(value[2]) & 0x07u;
                    const auto number = std::to_integer<unsigned>(value[3]);
                    if (cls < 3 || cls > 6 || number > 99) return fail(errc::stun_bad_attribute);
                    if (!m.error_code) {
                        m.error_code = stun_error_code{
                            static_cast<std::uint16_t>(cls * 100 + number), value.subspan(4)};
                    }
                    break;
                }
                default:
                    if (type < 0x8000u) {
                        if (m.unknown_required_count < stun_max_unknown_attributes) {
                            m.unknown_required[m.unknown_required_count] = type;
                        }
                        ++m.unknown_required_count;
                    }
                    break;
            }
        }
        pos += attribute_header_size + padded(size);
    }
    return m;
}

result<void> verify_stun_integrity(const stun_message& m, std::span<const std::byte> key) noexcept {
    if (!m.integrity_offset) return fail(errc::stun_integrity_missing);
    const std::size_t offset = *m.integrity_offset;
    const auto mac = integrity_of(m.bytes, offset, key);
    const auto got = m.bytes.subspan(offset + attribute_header_size, integrity_value_size);
    if (sodium_memcmp(mac.data(), got.data(), integrity_value_size) != 0) {
        return fail(errc::stun_integrity_mismatch);
    }
    return {};
}

std::optional<std::span<const std::byte>> find_stun_attribute(const stun_message& m,
                                                              std::uint16_t type) noexcept {
    // m was decoded, so every attribute header and value lies inside m.bytes
    std::size_t pos = stun_header_size;
    while (pos + attribute_header_size <= m.bytes.size()) {
        const auto t = load_be<std::uint16_t>(m.bytes.data() + pos);
        const std::size_t size = load_be<std::uint16_t>(m.bytes.data() + pos + 2);
        if (padded(size) > m.bytes.size() - pos - attribute_header_size) break;
        if (t == type) return m.bytes.subspan(pos + attribute_header_size, size);
        if (t == stun_attribute::message_integrity && type != stun_attribute::fingerprint) break;
        pos += attribute_header_size + padded(size);
    }
    return std::nullopt;
}

stun_encoder::stun_encoder(std::span<std::byte> out, std::uint16_t type,
                           const stun_transaction_id& id) noexcept
    : out_(out) {
    if (out.size() < stun_header_size || (type & 0xC000u) != 0) {
        set_error(out.size() < stun_header_size ? errc::buffer_too_small
                                                : errc::stun_bad_attribute);
        return;
    }
    store_be(out.data(), type);
    store_be(out.data() + 2, std::uint16_t{0});
    store_be(out.data() + 4, stun_magic_cookie);
    std::memcpy(out.data() + 8, id.data(), id.size());
    size_ = stun_header_size;
}

void stun_encoder::set_error(errc e) noexcept {
    if (!error_) error_ = e;
}

// Checks room and order, writes the attribute header, pads, and updates the length field to
// include the whole attribute; the caller writes the value at size_ - padded(value_size).
bool stun_encoder::begin(std::uint16_t type, std::size_t value_size) noexcept {
    if (error_) return false;
    if (after_fingerprint_ || (after_integrity_ && type != stun_attribute::fingerprint)) {
        set_error(errc::stun_attribute_order);
        return false;
    }
    if (value_size > max_value_size) {
        set_error(errc::stun_value_too_large);
        return false;
    }
    const std::size_t total = attribute_header_size + padded(value_size);
    if (out_.size() - size_ < total || size_ + total - stun_header_size > max_value_size) {
        set_error(errc::buffer_too_small);
        return false;
    }
    store_be(out_.data() + size_, type);
    store_be(out_.data() + size_ + 2, static_cast<std::uint16_t>(value_size));
    for (std::size_t i = value_size; i < padded(value_size); ++i) {
        out_[size_ + attribute_header_size + i] = padding_;
    }
    store_be(out_.data() + 2, static_cast<std::uint16_t>(size_ + total - stun_header_size));
    return true;
}

stun_encoder& stun_encoder::add(std::uint16_t type, std::span<const std::byte> value) noexcept {
    if (!begin(type, value.size())) return *this;
    if (!value.empty()) {
        std::memcpy(out_.data() + size_ + attribute_header_size, value.data(), value.size());
    }
    size_ += attribute_header_size + padded(value.size());
    if (type == stun_attribute::message_integrity) after_integrity_ = true;
    if (type == stun_attribute::fingerprint) after_fingerprint_ = true;
    return *this;
}

stun_encoder& stun_encoder::add_xor_mapped_address(const peer_address& a) noexcept {
    if (error_) return *this;
    if (!a.is_ip()) {
        set_error(errc::stun_bad_address);
        return *this;
    }
    const std::size_t n = a.family == peer_address::family_type::v4 ? 4 : 16;
    const auto pad = xor_pad_of(out_.first(stun_header_size));
    std::array<std::byte, 20> v{};
    v[1] = std::byte{n == 4 ? family_v4 : family_v6};
    store_be(v.data() + 2, static_cast<std::uint16_t>(a.port ^ (stun_magic_cookie >> 16)));
    for (std::size_t i = 0; i < n; ++i) v[4 + i] = std::byte{a.bytes[i]} ^ pad[i];
    return add(stun_attribute::xor_mapped_address, std::span(v).first(4 + n));
}

stun_encoder& stun_encoder::add_software(std::span<const std::byte> text) noexcept {
    if (text.size() > stun_max_software_size) {
        set_error(errc::stun_value_too_large);
        return *this;
    }
    return add(stun_attribute::software, text);
}

stun_encoder& stun_encoder::add_error_code(std::uint16_t code,
                                           std::span<const std::byte> reason) noexcept {
    if (error_) return *this;
    if (code < 300 || code > 699) {
        set_error(errc::stun_bad_error_code);
        return *this;
    }
    if (!begin(stun_attribute::error_code, 4 + reason.size())) return *this;
    std::byte* v = out_.data() + size_ + attribute_header_size;
    v[0] = std::byte{0};
    v[1] = std::byte{0};
    v[2] = static_cast<std::byte>(code / 100);
    v[3] = static_cast<std::byte>(code % 100);
    if (!reason.empty()) std::memcpy(v + 4, reason.data(), reason.size());
    size_ += attribute_header_size + padded(4 + reason.size());
    return *this;
}

stun_encoder& stun_encoder::add_message_integrity(std::span<const std::byte> key) noexcept {
    if (!begin(stun_attribute::message_integrity, integrity_value_size)) return *this;
    // begin() already set the length to include this attribute, as §15.4 wants
    const auto mac = integrity_of(out_.first(size_), size_, key);
    std::memcpy(out_.data() + size_ + attribute_header_size, mac.data(), mac.size());
    size_ += attribute_header_size + integrity_value_size;
    after_integrity_ = true;
    return *this;
}

stun_encoder& stun_encoder::add_fingerprint() noexcept {
    if (!begin(stun_attribute::fingerprint, fingerprint_value_size)) return *this;
    const std::uint32_t crc = detail::crc32(out_.first(size_)) ^ stun_fingerprint_xor;
    store_be(out_.data() + size_ + attribute_header_size, crc);
    size_ += attribute_header_size + fingerprint_value_size;
    after_fingerprint_ = true;
    return *this;
}

result<std::size_t> stun_encoder::finish() const noexcept {
    if (error_) return fail(*error_);
    return size_;
}

}  // namespace neutrino::p2p
