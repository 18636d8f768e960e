#pragma once
/// \file
/// SHA-1 (FIPS 180-4) and HMAC-SHA1 (RFC 2104), incremental, for STUN's MESSAGE-INTEGRITY only
/// (libsodium has no SHA-1). Not for any new use: SHA-1 is here because RFC 5389 requires it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino::p2p::detail {

inline constexpr std::size_t sha1_digest_size = 20;
inline constexpr std::size_t sha1_block_size = 64;
using sha1_digest = std::array<std::byte, sha1_digest_size>;

/// Incremental SHA-1. Feed with `update`, then call `finish` once.
class sha1 {
public:
    sha1() noexcept;
    void update(std::span<const std::byte> in) noexcept;
    [[nodiscard]] sha1_digest finish() noexcept;

private:
    void compress(const std::byte* block) noexcept;

    std::array<std::uint32_t, 5> h_;
    std::array<std::byte, sha1_block_size> buf_{};
    std::size_t buf_len_ = 0;
    std::uint64_t total_ = 0;
};

/// Incremental HMAC-SHA1 with a key of any length (longer than 64 bytes: hashed first).
class hmac_sha1 {
public:
    explicit hmac_sha1(std::span<const std::byte> key) noexcept;
    ~hmac_sha1();
    hmac_sha1(const hmac_sha1&) = delete;
    hmac_sha1& operator=(const hmac_sha1&) = delete;
    void update(std::span<const std::byte> in) noexcept { inner_.update(in); }
    [[nodiscard]] sha1_digest finish() noexcept;

private:
    sha1 inner_;
    std::array<std::byte, sha1_block_size> key_block_{};
};

}  // namespace neutrino::p2p::detail
