#pragma once
/// \file
/// The 8-bit log encoding of the receive window carried in every transport payload: 8 steps
/// per power of two from 256 bytes, rounding down, so a receiver never over-promises.
/// spec: qotp.md §10, §21.4

#include <bit>
#include <cstdint>

namespace neutrino::qotp {

// spec: qotp.md §10
inline constexpr std::uint8_t receive_window_max_code = 255;
inline constexpr std::uint64_t receive_window_min_step = 256;      ///< codes >= 2 start here
inline constexpr std::uint64_t receive_window_code_1_bytes = 128;  ///< what code 1 decodes to
inline constexpr unsigned receive_window_sub_bits = 3;             ///< 8 steps per power of two

/// The code of a window of `bytes`: 0 → 0, 1..255 → 1, else `(h − 8)·8 + sub + 2` with
/// `h = floor(log2 bytes)` and `sub` the 3 bits after the leading one, saturating at 255.
[[nodiscard]] constexpr std::uint8_t encode_receive_window(std::uint64_t bytes) noexcept {
    if (bytes == 0) return 0;
    if (bytes < receive_window_min_step) return 1;
    const auto h = static_cast<std::uint64_t>(std::bit_width(bytes) - 1);  // >= 8
    const std::uint64_t sub = (bytes >> (h - receive_window_sub_bits)) & 7;
    const std::uint64_t code = (h - 8) * 8 + sub + 2;
    return code > receive_window_max_code ? receive_window_max_code
                                          : static_cast<std::uint8_t>(code);
}

/// The window, in bytes, a code stands for: 0 → 0, 1 → 128, else `base + (a mod 8)·base/8`
/// with `a = code − 2` and `base = 2^(a/8 + 8)`; 255 → 893 353 197 568.
[[nodiscard]] constexpr std::uint64_t decode_receive_window(std::uint8_t code) noexcept {
    if (code == 0) return 0;
    if (code == 1) return receive_window_code_1_bytes;
    const unsigned a = code - 2U;
    const std::uint64_t base = std::uint64_t{1} << (a / 8 + 8);
    return base + (a % 8) * (base / 8);
}

}  // namespace neutrino::qotp
