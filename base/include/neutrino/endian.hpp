#pragma once
/// \file
/// Little-endian loads and stores on bytes. Every wire integer of every protocol goes through
/// these: fixed-width ones (`load_le<std::uint32_t>(p)`) and, for wires with odd widths such as
/// QOTP's u24 and u48, the whole of a span of 1 to 8 bytes (`load_le(span)`).

#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino {

/// The little-endian `T` at `p` (`sizeof(T)` bytes).
template <class T>
[[nodiscard]] constexpr T load_le(const std::byte* p) noexcept {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        v = static_cast<T>(v | (static_cast<T>(std::to_integer<std::uint8_t>(p[i])) << (8 * i)));
    }
    return v;
}

/// Writes `v` little-endian at `p` (`sizeof(T)` bytes).
template <class T>
constexpr void store_le(std::byte* p, T v) noexcept {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        p[i] = static_cast<std::byte>(static_cast<std::uint8_t>(v >> (8 * i)));
    }
}

/// The little-endian unsigned integer made of all bytes of `in` (at most 8).
[[nodiscard]] constexpr std::uint64_t load_le(std::span<const std::byte> in) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = in.size(); i-- > 0;) {
        v = (v << 8) | std::to_integer<std::uint64_t>(in[i]);
    }
    return v;
}

/// Writes the low `out.size()` bytes (at most 8) of `v` little-endian into `out`; a u24 or u48
/// thus keeps the low 3 or 6 bytes of a larger value.
constexpr void store_le(std::span<std::byte> out, std::uint64_t v) noexcept {
    for (std::byte& b : out) {
        b = static_cast<std::byte>(v & 0xFF);
        v >>= 8;
    }
}

}  // namespace neutrino
