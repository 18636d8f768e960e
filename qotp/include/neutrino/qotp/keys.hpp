#pragma once
/// \file
/// X25519 keys of QOTP: parsing (hex with optional `0x`, string seeds hashed with SHA-256),
/// public key derivation and the key agreement whose raw output is the AEAD key (there is no
/// KDF).  spec: qotp.md §2, §5

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "neutrino/hex.hpp"
#include "neutrino/qotp/error.hpp"
#include "neutrino/sodium.hpp"

namespace neutrino::qotp {

/// Size of every X25519 key and shared secret.  spec: qotp.md §2
inline constexpr std::size_t key_size = 32;

/// A 32-byte X25519 public key (u-coordinate), as it appears on the wire.
using public_key = std::array<std::byte, key_size>;
/// A public key inside a datagram (lifetime: that of the datagram's buffer).
using key_view = std::span<const std::byte, key_size>;

/// 32 secret bytes, wiped with `sodium_memzero` when destroyed; compared in constant time.
/// `Tag` keeps private keys and shared secrets apart as types.
template <class Tag>
class basic_secret {
public:
    basic_secret() noexcept = default;
    explicit basic_secret(std::span<const std::byte, key_size> bytes) noexcept;
    basic_secret(const basic_secret&) noexcept = default;
    basic_secret& operator=(const basic_secret&) noexcept = default;
    ~basic_secret();

    [[nodiscard]] std::span<const std::byte, key_size> bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::span<std::byte, key_size> bytes() noexcept { return bytes_; }
    /// Constant-time equality (`sodium_memcmp`).
    [[nodiscard]] bool equals(const basic_secret& other) const noexcept;

private:
    std::array<std::byte, key_size> bytes_{};
};

struct private_key_tag;
struct shared_secret_tag;
/// An X25519 private scalar (identity `id` or ephemeral `ep`); clamped inside the scalar
/// multiplication, so it is stored as given.  spec: qotp.md §2
using private_key = basic_secret<private_key_tag>;
/// A raw X25519 output, used unchanged as the ChaCha20-Poly1305 and XChaCha20 key (`S`, `S0`,
/// rotated keys).  spec: qotp.md §5
using shared_secret = basic_secret<shared_secret_tag>;

extern template class basic_secret<private_key_tag>;
extern template class basic_secret<shared_secret_tag>;

/// Parses 64 hex characters (either case), optionally prefixed by `0x` or `0X`, into 32 bytes.
/// Error: `errc::bad_key`.  spec: qotp.md §2
[[nodiscard]] result<std::array<std::byte, key_size>> parse_key_hex(std::string_view hex) noexcept;
/// A public key from its hex form (`parse_key_hex`). Error: `errc::bad_key`.
[[nodiscard]] result<public_key> public_key_from_hex(std::string_view hex) noexcept;
/// A private key from a 64-hex-character seed, used directly (`parse_key_hex`).
/// Error: `errc::bad_key`.
[[nodiscard]] result<private_key> private_key_from_hex(std::string_view hex) noexcept;
/// A private key from a string seed: its SHA-256.  spec: qotp.md §2, §21.2 ("my-secret-seed")
[[nodiscard]] private_key private_key_from_string(std::string_view seed);

/// A fresh random private key (libsodium `randombytes_buf`).
[[nodiscard]] private_key generate_private_key();
/// The public key of `key` (X25519 with the base point).
[[nodiscard]] public_key public_key_of(const private_key& key);
/// X25519(`own`, `peer`): the shared secret.  Error: `errc::low_order_key` when the output is
/// all zero (a low-order `peer`, e.g. the all-zero key), which a receiver treats as a failed
/// decryption.  spec: qotp.md §2, §5, §6.4
[[nodiscard]] result<shared_secret> x25519(const private_key& own, const public_key& peer);
/// The same for a key read from a datagram.
[[nodiscard]] result<shared_secret> x25519(const private_key& own, key_view peer);

}  // namespace neutrino::qotp
