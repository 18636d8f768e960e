#pragma once
/// \file
/// Little-endian integers of 1 to 8 bytes on byte spans: every QOTP wire integer (u16, u24, u32,
/// u48, u64) goes through these.  spec: qotp.md §1

#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino::qotp {

/// The little-endian unsigned integer made of all bytes of `in` (at most 8).
[[nodiscard]] constexpr std::uint64_t load_le(std::span<const std::byte> in) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = in.size(); i-- > 0;) {
        v = (v << 8) | std::to_integer<std::uint64_t>(in[i]);
    }
    return v;
}

/// Writes the low `out.size()` bytes (at most 8) of `v` little-endian into `out`; a u24 or u48
/// thus keeps the low 3 or 6 bytes of a larger value (spec: qotp.md §21.1).
constexpr void store_le(std::span<std::byte> out, std::uint64_t v) noexcept {
    for (std::byte& b : out) {
        b = static_cast<std::byte>(v & 0xFF);
        v >>= 8;
    }
}

}  // namespace neutrino::qotp
