#pragma once
/// \file
/// CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, initial and final xor 0xFFFFFFFF), the
/// checksum of STUN's FINGERPRINT (RFC 5389 §15.5).

#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino::p2p::detail {

/// CRC-32 of `in`; `crc32("123456789") == 0xCBF43926`.
[[nodiscard]] std::uint32_t crc32(std::span<const std::byte> in) noexcept;

}  // namespace neutrino::p2p::detail
