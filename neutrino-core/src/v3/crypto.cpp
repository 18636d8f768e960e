#include "neutrino/core/v3/crypto.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <utility>

namespace neutrino::core::v3 {

namespace detail {
void blake2b(std::span<std::byte> out, bytes_view key,
             std::initializer_list<bytes_view> parts) noexcept {
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, uc_or_null(key), key.size(), out.size());
    for (bytes_view p : parts) {
        if (!p.empty()) crypto_generichash_blake2b_update(&st, uc(p.data()), p.size());
    }
    crypto_generichash_blake2b_final(&st, uc(out.data()), out.size());
    sodium_memzero(&st, sizeof st);
}
}  // namespace detail

hash_value hash(std::initializer_list<bytes_view> parts) noexcept {
    hash_value h;
    detail::blake2b(h, {}, parts);
    return h;
}

derived_key hash32(std::initializer_list<bytes_view> parts) noexcept {
    derived_key h;
    detail::blake2b(h, {}, parts);
    return h;
}

mac_value mac16(bytes_view key, std::initializer_list<bytes_view> parts) noexcept {
    mac_value m;
    detail::blake2b(m, key, parts);
    return m;
}

secret_bytes<hash_size> hmac(bytes_view key, std::initializer_list<bytes_view> parts) noexcept {
    std::array<std::byte, block_size> k{};
    if (key.size() > block_size) {
        detail::blake2b(std::span<std::byte>(k.data(), hash_size), {}, {key});
    } else if (!key.empty()) {
        std::copy(key.begin(), key.end(), k.begin());
    }
    std::array<std::byte, block_size> pad;
    for (std::size_t i = 0; i < block_size; ++i) pad[i] = k[i] ^ std::byte{0x36};
    std::array<std::byte, hash_size> inner;
    {
        crypto_generichash_blake2b_state st;
        crypto_generichash_blake2b_init(&st, nullptr, 0, hash_size);
        crypto_generichash_blake2b_update(&st, detail::uc(pad.data()), pad.size());
        for (bytes_view p : parts) {
            if (!p.empty()) crypto_generichash_blake2b_update(&st, detail::uc(p.data()), p.size());
        }
        crypto_generichash_blake2b_final(&st, detail::uc(inner.data()), inner.size());
        sodium_memzero(&st, sizeof st);
    }
    for (std::size_t i = 0; i < block_size; ++i) pad[i] = k[i] ^ std::byte{0x5c};
    secret_bytes<hash_size> out;
    detail::blake2b(out.bytes(), {}, {pad, inner});
    sodium_memzero(k.data(), k.size());
    sodium_memzero(pad.data(), pad.size());
    sodium_memzero(inner.data(), inner.size());
    return out;
}

std::pair<secret_bytes<hash_size>, secret_bytes<hash_size>> hkdf2(bytes_view chaining_key,
                                                                  bytes_view ikm) noexcept {
    static constexpr std::array<std::byte, 1> one{std::byte{0x01}};
    static constexpr std::array<std::byte, 1> two{std::byte{0x02}};
    const secret_bytes<hash_size> t = hmac(chaining_key, {ikm});
    secret_bytes<hash_size> o1 = hmac(t.bytes(), {one});
    secret_bytes<hash_size> o2 = hmac(t.bytes(), {o1.bytes(), two});
    return {std::move(o1), std::move(o2)};
}

result<secret_key> dh(const secret_key& sk, const public_key& pk) noexcept {
    std::array<std::byte, key_size> shared;
    const int rc = crypto_scalarmult(detail::uc(shared.data()), detail::uc(sk.bytes().data()),
                                     detail::uc(pk.data()));
    // 1.0.18 already returns −1 for an all-zero result; the explicit test keeps the rule
    // visible and independent of the library version.
    if (rc != 0 || sodium_is_zero(detail::uc(shared.data()), shared.size()) == 1) {
        sodium_memzero(shared.data(), shared.size());
        return fail(errc::low_order_point);
    }
    secret_key out(shared);
    sodium_memzero(shared.data(), shared.size());
    return out;
}

result<std::size_t> aead_chacha20poly1305_ietf::seal(std::span<std::byte> out, bytes_view plain,
                                                     bytes_view ad, std::uint64_t n,
                                                     const secret_key& key) noexcept {
    if (out.size() < plain.size() + tag_size) return fail(errc::buffer_too_small);
    const auto nc = nonce(n);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(
        detail::uc(out.data()), &clen, detail::uc_or_null(plain), plain.size(),
        detail::uc_or_null(ad), ad.size(), nullptr, detail::uc(nc.data()),
        detail::uc(key.bytes().data()));
    return static_cast<std::size_t>(clen);
}

result<std::size_t> aead_chacha20poly1305_ietf::open(std::span<std::byte> out, bytes_view cipher,
                                                     bytes_view ad, std::uint64_t n,
                                                     const secret_key& key) noexcept {
    if (cipher.size() < tag_size) return fail(errc::decryption_failed);
    if (out.size() < cipher.size() - tag_size) return fail(errc::buffer_too_small);
    const auto nc = nonce(n);
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(
            detail::uc(out.data()), &mlen, nullptr, detail::uc(cipher.data()), cipher.size(),
            detail::uc_or_null(ad), ad.size(), detail::uc(nc.data()),
            detail::uc(key.bytes().data())) != 0) {
        return fail(errc::decryption_failed);
    }
    return static_cast<std::size_t>(mlen);
}

result<std::size_t> aead_xchacha20poly1305_ietf::seal(
    std::span<std::byte> out, bytes_view plain, bytes_view ad,
    std::span<const std::byte, nonce_size> nonce,
    std::span<const std::byte, key_size> key) noexcept {
    if (out.size() < plain.size() + tag_size) return fail(errc::buffer_too_small);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(detail::uc(out.data()), &clen,
                                               detail::uc_or_null(plain), plain.size(),
                                               detail::uc_or_null(ad), ad.size(), nullptr,
                                               detail::uc(nonce.data()), detail::uc(key.data()));
    return static_cast<std::size_t>(clen);
}

result<std::size_t> aead_xchacha20poly1305_ietf::open(
    std::span<std::byte> out, bytes_view cipher, bytes_view ad,
    std::span<const std::byte, nonce_size> nonce,
    std::span<const std::byte, key_size> key) noexcept {
    if (cipher.size() < tag_size) return fail(errc::decryption_failed);
    if (out.size() < cipher.size() - tag_size) return fail(errc::buffer_too_small);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            detail::uc(out.data()), &mlen, nullptr, detail::uc(cipher.data()), cipher.size(),
            detail::uc_or_null(ad), ad.size(), detail::uc(nonce.data()),
            detail::uc(key.data())) != 0) {
        return fail(errc::decryption_failed);
    }
    return static_cast<std::size_t>(mlen);
}

secret_key rekey(const secret_key& k) noexcept {
    std::array<std::byte, key_size + tag_size> buf{};
    (void)aead_chacha20poly1305_ietf::seal(buf, std::span<const std::byte>(buf.data(), key_size),
                                           {}, rekey_nonce, k);  // cannot fail: buf fits
    secret_key out(std::span<const std::byte, key_size>(buf.data(), key_size));
    sodium_memzero(buf.data(), buf.size());
    return out;
}

derived_key derive_mac1_key(const public_key& server_pk) noexcept {
    return hash32({as_bytes(label_mac1), server_pk});
}

derived_key derive_cookie_key(const public_key& server_pk) noexcept {
    return hash32({as_bytes(label_cookie), server_pk});
}

bool equal_ct(bytes_view a, bytes_view b) noexcept {
    return a.size() == b.size() && (a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace neutrino::core::v3
