#pragma once
/// \file
/// The primitives of wire v3 as small checked functions over libsodium 1.0.18: BLAKE2b hash and
/// keyed MAC, HMAC-BLAKE2b and Noise's two-output HKDF, X25519 with the all-zero check,
/// ChaCha20-Poly1305-IETF with the pn-derived nonce, XChaCha20-Poly1305-IETF (COOKIE_REPLY
/// only), Noise's REKEY, and the per-server mac1/cookie keys.  spec: neutrino-v3.md §6
///
/// Secrets live in types that wipe themselves (`core::secret_key`, `secret_bytes<N>`);
/// temporaries are wiped with `sodium_memzero`. Nothing here allocates; every function is
/// reentrant. Callers must have called `neutrino::ensure_sodium()` (every machine does).

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>

#include "neutrino/core/crypto.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/result.hpp"

namespace neutrino::core::v3 {

using core::public_key;
using core::secret_key;
/// A read-only byte view; lists of them are hashed as their concatenation.
using bytes_view = std::span<const std::byte>;

inline constexpr std::size_t hash_size = 64;   ///< HASHLEN (BLAKE2b-512)
inline constexpr std::size_t block_size = 128; ///< BLOCKLEN of BLAKE2b
inline constexpr std::size_t key_size = 32;

/// A fixed-size secret that wipes itself (`sodium_memzero`) when destroyed or overwritten.
template <std::size_t N>
class secret_bytes {
public:
    secret_bytes() noexcept = default;
    explicit secret_bytes(std::span<const std::byte, N> b) noexcept { std::copy(b.begin(), b.end(), bytes_.begin()); }
    secret_bytes(const secret_bytes&) noexcept = default;
    secret_bytes& operator=(const secret_bytes&) noexcept = default;
    ~secret_bytes() { sodium_memzero(bytes_.data(), N); }

    [[nodiscard]] std::span<const std::byte, N> bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::span<std::byte, N> bytes() noexcept { return bytes_; }
    /// The first 32 bytes as a key (Noise truncates HKDF outputs to the cipher key size).
    [[nodiscard]] secret_key first_key() const noexcept requires(N >= key_size) {
        return secret_key(std::span<const std::byte, key_size>(bytes_.data(), key_size));
    }

private:
    std::array<std::byte, N> bytes_{};
};

using hash_value = std::array<std::byte, hash_size>;
using mac_value = std::array<std::byte, mac_size>;
/// Keys derived from a public key (mac1_key, cookie_key): not secret, 32 bytes.
using derived_key = std::array<std::byte, key_size>;

namespace detail {
[[nodiscard]] inline const unsigned char* uc(const std::byte* p) noexcept {
    return reinterpret_cast<const unsigned char*>(p);
}
[[nodiscard]] inline unsigned char* uc(std::byte* p) noexcept {
    return reinterpret_cast<unsigned char*>(p);
}
[[nodiscard]] inline const unsigned char* uc_or_null(bytes_view b) noexcept {
    return b.empty() ? nullptr : uc(b.data());
}

/// Streaming BLAKE2b of `out.size()` (16…64) bytes over the concatenation of `parts`, keyed
/// with `key` (empty or 16…64 bytes). The state is wiped afterwards.
void blake2b(std::span<std::byte> out, bytes_view key,
             std::initializer_list<bytes_view> parts) noexcept;
}  // namespace detail

/// Views a string's characters as bytes (labels, protocol names).
[[nodiscard]] inline bytes_view as_bytes(std::string_view s) noexcept {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

/// HASH(x): unkeyed BLAKE2b-512 of the concatenation of `parts`.  spec: neutrino-v3.md §6
[[nodiscard]] hash_value hash(std::initializer_list<bytes_view> parts) noexcept;

/// HASH32(x): unkeyed BLAKE2b with a 32-byte output.  spec: neutrino-v3.md §6
[[nodiscard]] derived_key hash32(std::initializer_list<bytes_view> parts) noexcept;

/// MAC(k, x, 16): keyed BLAKE2b with a 16-byte output; `key` is 16…64 bytes (mac1_key,
/// cookie secret, cookie).  spec: neutrino-v3.md §6, §8
[[nodiscard]] mac_value mac16(bytes_view key, std::initializer_list<bytes_view> parts) noexcept;

/// HMAC(k, x) (RFC 2104) over BLAKE2b-512: block 128, output 64. Keys up to 128 bytes are
/// zero-padded (v3 only ever uses 64-byte keys); longer keys are hashed first, as RFC 2104
/// says.  spec: neutrino-v3.md §6
[[nodiscard]] secret_bytes<hash_size> hmac(bytes_view key,
                                           std::initializer_list<bytes_view> parts) noexcept;

/// HKDF(ck, ikm, 2) as Noise defines it: `t = HMAC(ck, ikm)`, `o1 = HMAC(t, 0x01)`,
/// `o2 = HMAC(t, o1 ‖ 0x02)`. Returns (o1, o2), 64 bytes each.  spec: neutrino-v3.md §6
[[nodiscard]] std::pair<secret_bytes<hash_size>, secret_bytes<hash_size>> hkdf2(
    bytes_view chaining_key, bytes_view ikm) noexcept;

/// DH(sk, pk): X25519. Error `errc::low_order_point` when the result is all zero (a
/// low-order or otherwise degenerate `pk`).  spec: neutrino-v3.md §6, §17.1 item 9
[[nodiscard]] result<secret_key> dh(const secret_key& sk, const public_key& pk) noexcept;

/// The public key of an X25519 secret (base-point multiple): `core::public_key_of`.
using core::public_key_of;

/// AEAD(k, n, ad, p): ChaCha20-Poly1305-IETF with the 12-byte nonce `00 00 00 00 ‖ LE64(n)`.
/// spec: neutrino-v3.md §6, §10.1
struct aead_chacha20poly1305_ietf {
    static constexpr std::size_t key_size = crypto_aead_chacha20poly1305_ietf_KEYBYTES;
    static constexpr std::size_t nonce_size = crypto_aead_chacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_chacha20poly1305_ietf_ABYTES;
    static_assert(key_size == 32 && nonce_size == 12 && tag_size == v3::tag_size);

    /// The nonce for counter `n`: four zero bytes then `n` little-endian.
    [[nodiscard]] static constexpr std::array<std::byte, nonce_size> nonce(std::uint64_t n) noexcept {
        std::array<std::byte, nonce_size> out{};
        neutrino::store_le<std::uint64_t>(out.data() + 4, n);
        return out;
    }

    /// Encrypts `plain` into `out` (≥ `plain.size() + 16` bytes; `out` may start at
    /// `plain.data()`, i.e. in place, but may not overlap it otherwise) and returns the
    /// ciphertext size. Error: buffer_too_small.
    [[nodiscard]] static result<std::size_t> seal(std::span<std::byte> out, bytes_view plain,
                                                  bytes_view ad, std::uint64_t n,
                                                  const secret_key& key) noexcept;

    /// Decrypts and verifies `cipher` (ciphertext ‖ tag) into `out` (≥ `cipher.size() − 16`
    /// bytes; in place allowed as for `seal`). Returns the plaintext size. Errors:
    /// decryption_failed (also when `cipher` is shorter than a tag), buffer_too_small. On
    /// failure `out` is left zeroed by libsodium or untouched.
    [[nodiscard]] static result<std::size_t> open(std::span<std::byte> out, bytes_view cipher,
                                                  bytes_view ad, std::uint64_t n,
                                                  const secret_key& key) noexcept;
};

/// XAEAD(k, N, ad, p): XChaCha20-Poly1305-IETF with a 24-byte nonce. Used only for
/// COOKIE_REPLY.  spec: neutrino-v3.md §6, §8.2
struct aead_xchacha20poly1305_ietf {
    static constexpr std::size_t key_size = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
    static constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    static_assert(key_size == 32 && nonce_size == cookie_nonce_size && tag_size == v3::tag_size);

    /// As `aead_chacha20poly1305_ietf::seal`, with an explicit nonce and a 32-byte key.
    [[nodiscard]] static result<std::size_t> seal(
        std::span<std::byte> out, bytes_view plain, bytes_view ad,
        std::span<const std::byte, nonce_size> nonce,
        std::span<const std::byte, key_size> key) noexcept;
    /// As `aead_chacha20poly1305_ietf::open`. Errors: decryption_failed, buffer_too_small.
    [[nodiscard]] static result<std::size_t> open(
        std::span<std::byte> out, bytes_view cipher, bytes_view ad,
        std::span<const std::byte, nonce_size> nonce,
        std::span<const std::byte, key_size> key) noexcept;
};

/// The nonce Noise reserves for REKEY; never a transport pn field (§10.1).
inline constexpr std::uint64_t rekey_nonce = ~std::uint64_t{0};

/// REKEY(k): the first 32 bytes of `AEAD(k, 2^64−1, empty, 32 zero bytes)` (Noise's REKEY).
/// Gives `k[p+1]` from `k[p]`, per direction.  spec: neutrino-v3.md §6, §11.1
[[nodiscard]] secret_key rekey(const secret_key& k) noexcept;

/// `mac1_key = HASH32(LABEL_MAC1 ‖ S_pub)`, computed once per server key.  spec: neutrino-v3.md §6
[[nodiscard]] derived_key derive_mac1_key(const public_key& server_pk) noexcept;
/// `cookie_key = HASH32(LABEL_COOKIE ‖ S_pub)`.  spec: neutrino-v3.md §6, §8.2
[[nodiscard]] derived_key derive_cookie_key(const public_key& server_pk) noexcept;

/// Constant-time equality of two equally sized byte strings (`sodium_memcmp`); false when the
/// sizes differ.
[[nodiscard]] bool equal_ct(bytes_view a, bytes_view b) noexcept;

}  // namespace neutrino::core::v3
