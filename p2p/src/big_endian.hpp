#pragma once
// Big-endian (network order) loads and stores for the wires that use it here (STUN, SHA-1).
// Neutrino's own wires are little-endian (neutrino/endian.hpp).

#include <cstddef>
#include <cstdint>

namespace neutrino::p2p::detail {

template <class T>
[[nodiscard]] constexpr T load_be(const std::byte* p) noexcept {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        v = static_cast<T>((v << 8) | static_cast<T>(std::to_integer<std::uint8_t>(p[i])));
    }
    return v;
}

template <class T>
constexpr void store_be(std::byte* p, T v) noexcept {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        p[sizeof(T) - 1 - i] = static_cast<std::byte>(static_cast<std::uint8_t>(v >> (8 * i)));
    }
}

}  // namespace neutrino::p2p::detail
