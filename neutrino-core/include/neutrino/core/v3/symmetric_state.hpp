#pragma once
/// \file
/// Noise's SymmetricState for 25519/ChaChaPoly/BLAKE2b: the transcript hash `h`, the
/// chaining key `ck`, and the handshake cipher key `k` with its counter.
/// spec: neutrino-v3.md §7.2 (operations exactly as in the Noise specification)

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/result.hpp"

namespace neutrino::core::v3 {

/// The two transport keys Split() returns: `c2s` (initiator → responder, first output) and
/// `s2c` (second output). Phase 0 of each direction.  spec: neutrino-v3.md §7.6
struct transport_keys {
    secret_key c2s;
    secret_key s2c;
};

/// Noise SymmetricState. A value type: copying it is how §7.5 reads HELLO2 "on a copy".
/// `ck` and `k` are wiped when the object is destroyed.
class symmetric_state {
public:
    /// InitializeSymmetric(name): `h` = name zero-padded to 64 bytes (names here are 33
    /// bytes, shorter than HASHLEN), `ck = h`, no key. Precondition: `name.size() ≤ 64`.
    explicit symmetric_state(std::string_view protocol_name) noexcept;

    /// MixHash(d): `h = HASH(h ‖ d)`.
    void mix_hash(bytes_view data) noexcept;

    /// MixKey(ikm): `ck, t = HKDF(ck, ikm, 2); k = t[0..32); n = 0`.
    void mix_key(bytes_view ikm) noexcept;

    /// EncryptAndHash(p): `c = AEAD(k, n++, h, p); MixHash(c)`; without a key `c = p`.
    /// Writes `c` to `out` (≥ `plain.size() + 16` with a key; may equal `plain.data()`).
    /// Returns the size of `c`. Error: buffer_too_small.
    [[nodiscard]] result<std::size_t> encrypt_and_hash(bytes_view plain,
                                                       std::span<std::byte> out) noexcept;

    /// DecryptAndHash(c): `p = AEAD⁻¹(k, n++, h, c); MixHash(c)`; without a key `p = c`.
    /// Writes `p` to `out` (≥ `cipher.size() − 16` with a key; must not overlap `cipher`,
    /// which is still hashed afterwards). Errors: decryption_failed (the state is then
    /// unchanged), buffer_too_small.
    [[nodiscard]] result<std::size_t> decrypt_and_hash(bytes_view cipher,
                                                       std::span<std::byte> out) noexcept;

    /// Split(): `t1, t2 = HKDF(ck, empty, 2)`; returns `(t1[0..32), t2[0..32))`.
    [[nodiscard]] transport_keys split() const noexcept;

    /// The transcript hash `h`; after message 2 it is the channel-binding value (§7.5).
    [[nodiscard]] const hash_value& h() const noexcept { return h_; }
    /// The chaining key (secret; for tests and the key log only).
    [[nodiscard]] std::span<const std::byte, hash_size> ck() const noexcept { return ck_.bytes(); }
    /// The current cipher key, if MixKey has run (secret; for tests only).
    [[nodiscard]] const std::optional<secret_key>& k() const noexcept { return k_; }
    /// The cipher nonce counter.
    [[nodiscard]] std::uint64_t n() const noexcept { return n_; }

private:
    hash_value h_{};
    secret_bytes<hash_size> ck_;
    std::optional<secret_key> k_;
    std::uint64_t n_ = 0;
};

/// A non-allocating observer of the handshake: called after every Noise operation with the
/// operation's name as in the vectors' `trace` (`initialize`, `mix_hash(prologue)`,
/// `mix_hash(responder static)`, `e`, `es`, `s`, `ss`, `payload`, `ee`, `se`).  spec: §18.4
struct trace_sink {
    void (*hook)(void* context, std::string_view op, const symmetric_state& s) noexcept = nullptr;
    void* context = nullptr;
    void operator()(std::string_view op, const symmetric_state& s) const noexcept {
        if (hook != nullptr) hook(context, op, s);
    }
};

}  // namespace neutrino::core::v3
