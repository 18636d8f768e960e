#include "neutrino/qotp/keys.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include "neutrino/hex.hpp"
#include "sodium_cast.hpp"

namespace neutrino::qotp {
namespace {

std::string_view strip_0x(std::string_view hex) noexcept {
    if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex.remove_prefix(2);
    return hex;
}

}  // namespace

template <class Tag>
basic_secret<Tag>::basic_secret(std::span<const std::byte, key_size> bytes) noexcept {
    std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}
template <class Tag>
basic_secret<Tag>::~basic_secret() {
    sodium_memzero(bytes_.data(), bytes_.size());
}
template <class Tag>
bool basic_secret<Tag>::equals(const basic_secret& other) const noexcept {
    return sodium_memcmp(bytes_.data(), other.bytes_.data(), bytes_.size()) == 0;
}
template class basic_secret<private_key_tag>;
template class basic_secret<shared_secret_tag>;

result<std::array<std::byte, key_size>> parse_key_hex(std::string_view hex) noexcept {
    hex = strip_0x(hex);
    std::array<std::byte, key_size> out{};
    if (!parse_hex(hex, out)) return fail(errc::bad_key);
    return out;
}

result<public_key> public_key_from_hex(std::string_view hex) noexcept { return parse_key_hex(hex); }

result<private_key> private_key_from_hex(std::string_view hex) noexcept {
    auto bytes = parse_key_hex(hex);
    if (!bytes) return tl::unexpected(bytes.error());
    private_key key(*bytes);
    sodium_memzero(bytes->data(), bytes->size());
    return key;
}

private_key private_key_from_string(std::string_view seed) {
    ensure_sodium();
    private_key key;
    crypto_hash_sha256(detail::uc(key.bytes().data()), detail::uc(seed.data()), seed.size());
    return key;
}

private_key generate_private_key() {
    ensure_sodium();
    private_key key;
    randombytes_buf(key.bytes().data(), key_size);
    return key;
}

public_key public_key_of(const private_key& key) {
    ensure_sodium();
    public_key pk{};
    crypto_scalarmult_base(detail::uc(pk.data()), detail::uc(key.bytes().data()));
    return pk;
}

result<shared_secret> x25519(const private_key& own, key_view peer) {
    ensure_sodium();
    shared_secret s;
    // libsodium returns -1 exactly when the output is all zero.  spec: qotp.md §2, §20.2
    if (crypto_scalarmult(detail::uc(s.bytes().data()), detail::uc(own.bytes().data()),
                          detail::uc(peer.data())) != 0) {
        return fail(errc::low_order_key);
    }
    return s;
}

result<shared_secret> x25519(const private_key& own, const public_key& peer) {
    return x25519(own, key_view(peer));
}

}  // namespace neutrino::qotp
