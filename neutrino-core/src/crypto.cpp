#include "neutrino/core/crypto.hpp"

#include <sodium.h>

#include <stdexcept>

#include "neutrino/hex.hpp"

namespace neutrino::core {
namespace {
const unsigned char* uc(const std::byte* p) noexcept {
    return reinterpret_cast<const unsigned char*>(p);
}
unsigned char* uc(std::byte* p) noexcept { return reinterpret_cast<unsigned char*>(p); }
}  // namespace

secret_key::secret_key(std::span<const std::byte, key_size> bytes) noexcept {
    std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}
secret_key::~secret_key() { sodium_memzero(bytes_.data(), bytes_.size()); }
bool secret_key::equals(const secret_key& o) const noexcept {
    return sodium_memcmp(bytes_.data(), o.bytes_.data(), bytes_.size()) == 0;
}

result<std::array<std::byte, key_size>> parse_key_hex(std::string_view hex) noexcept {
    std::array<std::byte, key_size> out{};
    if (!parse_hex(hex, out)) return fail(errc::bad_key);
    return out;
}

public_key public_key_of(const secret_key& sk) noexcept {
    public_key pk{};
    crypto_scalarmult_base(uc(pk.data()), uc(sk.bytes().data()));
    return pk;
}

result<keypair> keypair_from_hex(std::string_view public_hex, std::string_view secret_hex) {
    ensure_sodium();
    auto pk = parse_key_hex(public_hex);
    if (!pk) return tl::unexpected(pk.error());
    auto sk = parse_key_hex(secret_hex);
    if (!sk) return tl::unexpected(sk.error());
    keypair kp{*pk, secret_key(*sk)};
    sodium_memzero(sk->data(), sk->size());
    const public_key derived = public_key_of(kp.sk);
    if (sodium_memcmp(derived.data(), kp.pk.data(), key_size) != 0) return fail(errc::bad_key);
    return kp;
}

bool is_example_key(const public_key& pk) noexcept {
    auto ex = parse_key_hex(example_public_key_hex);
    return ex && *ex == pk;
}

result<session_keys> client_session_keys(const keypair& client, const public_key& server_pk) noexcept {
    session_keys k;
    if (crypto_kx_client_session_keys(uc(k.rx.bytes().data()), uc(k.tx.bytes().data()),
                                      uc(client.pk.data()), uc(client.sk.bytes().data()),
                                      uc(server_pk.data())) != 0) {
        return fail(errc::low_order_key);
    }
    return k;
}

result<session_keys> server_session_keys(const keypair& server, const public_key& client_pk) noexcept {
    session_keys k;
    if (crypto_kx_server_session_keys(uc(k.rx.bytes().data()), uc(k.tx.bytes().data()),
                                      uc(server.pk.data()), uc(server.sk.bytes().data()),
                                      uc(client_pk.data())) != 0) {
        return fail(errc::low_order_key);
    }
    return k;
}

void aead_xchacha20poly1305::seal(std::span<std::byte> buf, std::size_t plaintext_size,
                                  std::span<const std::byte, nonce_size> nonce,
                                  std::span<const std::byte> ad, const secret_key& key) noexcept {
    unsigned long long maclen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
        uc(buf.data()), uc(buf.data() + plaintext_size), &maclen, uc(buf.data()), plaintext_size,
        ad.empty() ? nullptr : uc(ad.data()), ad.size(), nullptr, uc(nonce.data()),
        uc(key.bytes().data()));
}

result<std::size_t> aead_xchacha20poly1305::open(std::span<const std::byte> in,
                                                 std::span<std::byte> out,
                                                 std::span<const std::byte, nonce_size> nonce,
                                                 std::span<const std::byte> ad,
                                                 const secret_key& key) noexcept {
    if (in.size() < tag_size || out.size() < in.size() - tag_size) {
        return fail(errc::decryption_failed);
    }
    const std::size_t n = in.size() - tag_size;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            uc(out.data()), nullptr, uc(in.data()), n, uc(in.data() + n),
            ad.empty() ? nullptr : uc(ad.data()), ad.size(), uc(nonce.data()),
            uc(key.bytes().data())) != 0) {
        return fail(errc::decryption_failed);
    }
    return n;
}

result<std::size_t> aead_xchacha20poly1305::open(std::span<std::byte> buf,
                                                 std::span<const std::byte, nonce_size> nonce,
                                                 std::span<const std::byte> ad,
                                                 const secret_key& key) noexcept {
    if (buf.size() < tag_size) return fail(errc::decryption_failed);
    const std::size_t n = buf.size() - tag_size;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            uc(buf.data()), nullptr, uc(buf.data()), n, uc(buf.data() + n),
            ad.empty() ? nullptr : uc(ad.data()), ad.size(), uc(nonce.data()),
            uc(key.bytes().data())) != 0) {
        return fail(errc::decryption_failed);
    }
    return n;
}

}  // namespace neutrino::core
