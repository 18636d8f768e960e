#include "neutrino/core/v3/cookie.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "neutrino/endian.hpp"

namespace neutrino::core::v3 {

cookie_address cookie_address::of(const peer_address& a) noexcept {
    cookie_address c;
    // An opaque handle binds the cookie to all its bytes, as an IPv6 address does.
    const std::size_t ip = a.family == peer_address::family_type::v4 ? 4
                           : a.family == peer_address::family_type::v6 ||
                                   a.family == peer_address::family_type::opaque
                               ? 16
                               : 0;
    c.bytes[0] = std::byte{static_cast<std::uint8_t>(a.family)};
    if (ip == 0) {
        c.size = 1;
        return c;
    }
    for (std::size_t i = 0; i < ip; ++i) c.bytes[1 + i] = std::byte{a.bytes[i]};
    neutrino::store_le<std::uint16_t>(c.bytes.data() + 1 + ip, a.port);
    c.size = 1 + ip + 2;
    return c;
}

cookie make_cookie(const cookie_secret& secret, const peer_address& source) noexcept {
    return mac16(secret.bytes(), {cookie_address::of(source).view()});
}

mac_value compute_mac2(const cookie& c, bytes_view hello1) noexcept {
    return mac16(c, {hello1.first(mac2_offset)});
}

result<void> set_mac2(std::span<std::byte> hello1, const std::optional<cookie>& c) noexcept {
    if (hello1.size() != hello1_size) return fail(errc::bad_size);
    if (c) {
        const mac_value m = compute_mac2(*c, hello1);
        std::memcpy(hello1.data() + mac2_offset, m.data(), mac_size);
    } else {
        std::memset(hello1.data() + mac2_offset, 0, mac_size);
    }
    return {};
}

result<void> cookie_secrets::check_mac2(bytes_view hello1,
                                        const peer_address& source) const noexcept {
    if (hello1.size() != hello1_size) return fail(errc::bad_size);
    const bytes_view got = hello1.subspan(mac2_offset, mac_size);
    if (equal_ct(compute_mac2(make_cookie(current_, source), hello1), got)) return {};
    if (previous_ && equal_ct(compute_mac2(make_cookie(*previous_, source), hello1), got))
        return {};
    return fail(errc::bad_mac2);
}

result<std::size_t> write_cookie_reply(std::span<std::byte> out, const derived_key& cookie_key,
                                       std::span<const std::byte, cookie_nonce_size> nonce,
                                       const mac_value& mac1, const cookie& c) noexcept {
    if (out.size() < cookie_reply_size) return fail(errc::buffer_too_small);
    write_clear_header(out, static_cast<std::uint8_t>(packet_type::cookie_reply), session_id_none);
    std::memcpy(out.data() + clear_header_size, nonce.data(), cookie_nonce_size);
    std::array<std::byte, clear_header_size + mac_size> ad;
    std::memcpy(ad.data(), out.data(), clear_header_size);
    std::memcpy(ad.data() + clear_header_size, mac1.data(), mac_size);
    auto n = aead_xchacha20poly1305_ietf::seal(out.subspan(clear_header_size + cookie_nonce_size),
                                               c, ad, nonce, cookie_key);
    if (!n) return tl::unexpected(n.error());
    return cookie_reply_size;
}

result<cookie> open_cookie_reply(bytes_view d, const derived_key& cookie_key,
                                 const mac_value& mac1) noexcept {
    if (d.size() != cookie_reply_size) return fail(errc::bad_size);
    if (!has_prefix(d, static_cast<std::uint8_t>(packet_type::cookie_reply)) ||
        neutrino::load_le<std::uint64_t>(d.data() + 6) != session_id_none) {
        return fail(errc::bad_header);
    }
    std::array<std::byte, clear_header_size + mac_size> ad;
    std::memcpy(ad.data(), d.data(), clear_header_size);
    std::memcpy(ad.data() + clear_header_size, mac1.data(), mac_size);
    cookie c{};
    auto n =
        aead_xchacha20poly1305_ietf::open(c, d.subspan(clear_header_size + cookie_nonce_size), ad,
                                          std::span<const std::byte, cookie_nonce_size>(
                                              d.data() + clear_header_size, cookie_nonce_size),
                                          cookie_key);
    if (!n) return tl::unexpected(n.error());
    return c;
}

}  // namespace neutrino::core::v3
