#pragma once
/// \file
/// Little-endian loads and stores on byte spans. Every wire integer goes through these, in core
/// and in the layers above.

#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino::core {

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

// Core's own code spells them detail::load_le / detail::store_le.
namespace detail {
using core::load_le;
using core::store_le;
}  // namespace detail

}  // namespace neutrino::core
