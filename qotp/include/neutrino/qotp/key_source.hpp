#pragma once

// Where the connection machines get their ephemeral private keys (spec qotp.md §2, §8): the
// randomness policy of the sans-IO machines, injected so tests and fuzzers are deterministic.

#include <array>
#include <cstddef>
#include <cstdint>

#include "neutrino/qotp/keys.hpp"

namespace neutrino::qotp {

/// Source of fresh X25519 private keys (ephemeral keys per connection and per key rotation).
/// Not thread-safe; one source may serve many connections of one endpoint.
class key_source {
public:
    key_source() = default;
    key_source(const key_source&) = default;
    key_source& operator=(const key_source&) = default;
    key_source(key_source&&) = default;
    key_source& operator=(key_source&&) = default;
    virtual ~key_source() = default;

    /// A fresh private key.
    [[nodiscard]] virtual private_key generate() = 0;
};

/// libsodium's `randombytes_buf` (the default for real use).
class random_key_source final : public key_source {
public:
    [[nodiscard]] private_key generate() override { return generate_private_key(); }
};

/// A reproducible stream of keys: key n is `randombytes_buf_deterministic` over the seed with
/// n folded into its first 8 bytes. For tests, simulations and fuzzers only.
class deterministic_key_source final : public key_source {
public:
    explicit deterministic_key_source(std::uint64_t seed) noexcept : seed_(seed) {}
    [[nodiscard]] private_key generate() override;

private:
    std::uint64_t seed_;
    std::uint64_t counter_ = 0;
};

}  // namespace neutrino::qotp
