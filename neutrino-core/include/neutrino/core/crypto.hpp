#pragma once
/// \file
/// Thin, checked wrappers over the libsodium primitives Neutrino v2 uses: crypto_kx (X25519 +
/// BLAKE2b-512) for session keys and XChaCha20-Poly1305-IETF for packet protection, in place.
/// spec: neutrino.md §7

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "neutrino/core/constants.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/hex.hpp"
#include "neutrino/result.hpp"
#include "neutrino/sodium.hpp"

namespace neutrino::core {

/// A 32-byte public key (crypto_kx / X25519).
using public_key = std::array<std::byte, key_size>;

/// A 32-byte secret, wiped with `sodium_memzero` when destroyed.
class secret_key {
public:
    secret_key() noexcept = default;
    explicit secret_key(std::span<const std::byte, key_size> bytes) noexcept;
    secret_key(const secret_key&) noexcept = default;
    secret_key& operator=(const secret_key&) noexcept = default;
    ~secret_key();

    [[nodiscard]] std::span<const std::byte, key_size> bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::span<std::byte, key_size> bytes() noexcept { return bytes_; }
    /// Constant-time comparison.
    [[nodiscard]] bool equals(const secret_key& o) const noexcept;

private:
    std::array<std::byte, key_size> bytes_{};
};

/// A crypto_kx key pair.
struct keypair {
    public_key pk{};
    secret_key sk;
};

/// The two directional keys of a session: `rx` opens what the peer sends, `tx` seals what we send.
struct session_keys {
    secret_key rx;
    secret_key tx;
};

/// Parses 64 hex characters (either case) into 32 bytes. Error: `errc::bad_key`.
[[nodiscard]] result<std::array<std::byte, key_size>> parse_key_hex(std::string_view hex) noexcept;
/// (Lowercase hex of any bytes: `neutrino::to_hex`, neutrino/hex.hpp.)

/// A server key pair from its hex forms (as the reference loads them); checks that the public
/// key belongs to the secret key. Error: `errc::bad_key`.
[[nodiscard]] result<keypair> keypair_from_hex(std::string_view public_hex,
                                               std::string_view secret_hex);
/// The public key of a secret key (X25519 base-point multiple).
[[nodiscard]] public_key public_key_of(const secret_key& sk) noexcept;
/// True for the example key pair shipped with the reference (public key
/// a923e096…535d); applications should warn when it is used.  spec: neutrino.md §7.1
[[nodiscard]] bool is_example_key(const public_key& pk) noexcept;
/// The reference's example server key pair, as hex: {public, secret}.
inline constexpr std::string_view example_public_key_hex =
    "a923e0968a713987d76eba139c434ec3d85d7903f7605b02dcbf09996a6b535d";
inline constexpr std::string_view example_secret_key_hex =
    "59a13dd4ed21a0e87432094c3677ae9e34a0f5c1f19686280b54421b603a2bed";

/// Client side of crypto_kx. Error: `errc::low_order_key` when the derivation fails.
[[nodiscard]] result<session_keys> client_session_keys(const keypair& client,
                                                       const public_key& server_pk) noexcept;
/// Server side of crypto_kx. Error: `errc::low_order_key` when the derivation fails.
[[nodiscard]] result<session_keys> server_session_keys(const keypair& server,
                                                       const public_key& client_pk) noexcept;

/// XChaCha20-Poly1305-IETF with a caller-supplied nonce, in place.
struct aead_xchacha20poly1305 {
    static constexpr std::size_t key_size = 32;
    static constexpr std::size_t nonce_size = 24;
    static constexpr std::size_t tag_size = 16;

    /// Encrypts `buf[0, plaintext_size)` in place and appends the 16-byte tag; `buf` must hold
    /// `plaintext_size + tag_size` bytes. `ad` may be empty.
    static void seal(std::span<std::byte> buf, std::size_t plaintext_size,
                     std::span<const std::byte, nonce_size> nonce, std::span<const std::byte> ad,
                     const secret_key& key) noexcept;
    /// Decrypts `buf` (ciphertext followed by the tag) in place. Returns the plaintext size, or
    /// `errc::decryption_failed` (also when `buf` is shorter than a tag). On failure the
    /// contents of `buf` are unspecified.
    /// Decrypts `in` (ciphertext followed by the tag) into `out` (at least `in.size() −
    /// tag_size` bytes; may not overlap `in` partially). Returns the plaintext size, or
    /// `errc::decryption_failed`.
    [[nodiscard]] static result<std::size_t> open(std::span<const std::byte> in,
                                                  std::span<std::byte> out,
                                                  std::span<const std::byte, nonce_size> nonce,
                                                  std::span<const std::byte> ad,
                                                  const secret_key& key) noexcept;
    [[nodiscard]] static result<std::size_t> open(std::span<std::byte> buf,
                                                  std::span<const std::byte, nonce_size> nonce,
                                                  std::span<const std::byte> ad,
                                                  const secret_key& key) noexcept;
};

}  // namespace neutrino::core
