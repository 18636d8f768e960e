#include "neutrino/qotp/message.hpp"

#include "cursor.hpp"

namespace neutrino::qotp {
namespace {

// Byte offsets of the public keys.  spec: qotp.md §4.1–§4.4
constexpr std::size_t initiator_ephemeral_offset = 1;  // InitSnd, InitCryptoSnd
constexpr std::size_t initiator_identity_offset = initiator_ephemeral_offset + key_size;
constexpr std::size_t responder_ephemeral_offset =
    1 + connection_id_size;  // InitRcv, InitCryptoRcv
constexpr std::size_t responder_identity_offset = responder_ephemeral_offset + key_size;

key_view key_at(std::span<const std::byte> datagram, std::size_t offset) noexcept {
    return datagram.subspan(offset).first<key_size>();
}

result<message_type> expect(std::span<const std::byte> datagram, message_type wanted) noexcept {
    auto type = parse_type(datagram);
    if (!type) return type;
    if (*type != wanted) return fail(errc::unexpected_message);
    if (datagram.size() < min_size(wanted)) return fail(errc::datagram_too_short);
    return type;
}

result<sealed_message> expect_sealed(std::span<const std::byte> datagram,
                                     message_type wanted) noexcept {
    auto type = expect(datagram, wanted);
    if (!type) return tl::unexpected(type.error());
    return parse_sealed(datagram);
}

}  // namespace

connection_id connection_id::from_bytes(std::span<const std::byte, connection_id_size> b) noexcept {
    return {neutrino::load_le(b)};
}

connection_id connection_id::of(const public_key& ephemeral) noexcept {
    return from_bytes(std::span(ephemeral).first<connection_id_size>());
}

void connection_id::write(std::span<std::byte, connection_id_size> out) const noexcept {
    neutrino::store_le(out, value);
}

result<message_type> parse_type(std::span<const std::byte> datagram) noexcept {
    if (datagram.size() < min_datagram_size) return fail(errc::datagram_too_short);  // spec: §4.6
    const auto b = std::to_integer<std::uint8_t>(datagram[0]);
    if ((b & version_mask) != 0) return fail(errc::bad_version);  // spec: qotp.md §3
    const auto type = static_cast<std::uint8_t>(b >> type_shift);
    if (type > static_cast<std::uint8_t>(message_type::data)) return fail(errc::bad_message_type);
    return static_cast<message_type>(type);
}

result<connection_id> parse_connection_id(std::span<const std::byte> datagram) noexcept {
    auto type = parse_type(datagram);
    if (!type) return tl::unexpected(type.error());
    return connection_id::from_bytes(datagram.subspan(1).first<connection_id_size>());
}

result<init_snd_message> parse_init_snd(std::span<const std::byte> datagram) noexcept {
    auto type = expect(datagram, message_type::init_snd);
    if (!type) return tl::unexpected(type.error());
    return init_snd_message{
        connection_id::from_bytes(datagram.subspan(1).first<connection_id_size>()),
        key_at(datagram, initiator_ephemeral_offset), key_at(datagram, initiator_identity_offset),
        static_cast<std::uint16_t>(neutrino::load_le(datagram.subspan(init_snd_max_payload_offset, 2)))};
}

result<sealed_message> parse_sealed(std::span<const std::byte> datagram) noexcept {
    auto type = parse_type(datagram);
    if (!type) return tl::unexpected(type.error());
    if (!is_encrypted(*type)) return fail(errc::unexpected_message);
    if (datagram.size() < min_size(*type)) return fail(errc::datagram_too_short);
    const std::size_t h = header_size(*type);
    return sealed_message{
        *type, connection_id::from_bytes(datagram.subspan(1).first<connection_id_size>()),
        datagram.first(h), datagram.subspan(h)};
}

result<init_crypto_snd_message> parse_init_crypto_snd(
    std::span<const std::byte> datagram) noexcept {
    auto sealed = expect_sealed(datagram, message_type::init_crypto_snd);
    if (!sealed) return tl::unexpected(sealed.error());
    return init_crypto_snd_message{*sealed, key_at(datagram, initiator_ephemeral_offset),
                                   key_at(datagram, initiator_identity_offset)};
}

result<init_rcv_message> parse_init_rcv(std::span<const std::byte> datagram) noexcept {
    auto sealed = expect_sealed(datagram, message_type::init_rcv);
    if (!sealed) return tl::unexpected(sealed.error());
    return init_rcv_message{*sealed, key_at(datagram, responder_ephemeral_offset),
                            key_at(datagram, responder_identity_offset)};
}

result<init_crypto_rcv_message> parse_init_crypto_rcv(
    std::span<const std::byte> datagram) noexcept {
    auto sealed = expect_sealed(datagram, message_type::init_crypto_rcv);
    if (!sealed) return tl::unexpected(sealed.error());
    return init_crypto_rcv_message{*sealed, key_at(datagram, responder_ephemeral_offset)};
}

result<sealed_message> parse_data(std::span<const std::byte> datagram) noexcept {
    return expect_sealed(datagram, message_type::data);
}

result<std::size_t> write_init_snd(std::span<std::byte> out, const announced_keys& keys,
                                   std::uint16_t max_payload) noexcept {
    if (out.size() < init_datagram_size) return fail(errc::buffer_too_small);
    detail::writer w(out);
    w.put_byte(type_byte(message_type::init_snd));
    w.put_bytes(keys.ephemeral);
    w.put_bytes(keys.identity);
    w.put_le(max_payload, 2);
    w.put_zeros(init_datagram_size - w.size());
    return w.size();
}

}  // namespace neutrino::qotp
