#include "neutrino/hex.hpp"

namespace neutrino {

bool parse_hex(std::string_view hex, std::span<std::byte> out) noexcept {
    if (hex.size() != 2 * out.size()) return false;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit_value(hex[2 * i]);
        const int lo = hex_digit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::byte>((hi << 4) | lo);
    }
    return true;
}

void append_hex(std::string& out, std::span<const std::byte> bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    out.reserve(out.size() + bytes.size() * 2);
    for (const std::byte b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        out.push_back(digits[v >> 4]);
        out.push_back(digits[v & 15]);
    }
}

std::string to_hex(std::span<const std::byte> bytes) {
    std::string s;
    append_hex(s, bytes);
    return s;
}

}  // namespace neutrino
