#pragma once
/// \file
/// Little-endian loads and stores on byte spans. Every wire integer goes through these.

#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino::core::detail {

template <class T>
[[nodiscard]] constexpr T load_le(const std::byte* p) noexcept {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        v = static_cast<T>(v | (static_cast<T>(std::to_integer<std::uint8_t>(p[i])) << (8 * i)));
    }
    return v;
}

template <class T>
constexpr void store_le(std::byte* p, T v) noexcept {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        p[i] = static_cast<std::byte>(static_cast<std::uint8_t>(v >> (8 * i)));
    }
}

}  // namespace neutrino::core::detail
