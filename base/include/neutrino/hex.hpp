#pragma once
/// \file
/// Hexadecimal text for keys, secrets and identifiers: every protocol's key options and key log
/// lines use it.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace neutrino {

/// The value of one hex digit (either case), or −1 when `c` is not one.
[[nodiscard]] constexpr int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Decodes exactly `2 × out.size()` hex digits (either case) into `out`. False, with `out`
/// unspecified, when `hex` has another length or a character that is not a hex digit.
[[nodiscard]] bool parse_hex(std::string_view hex, std::span<std::byte> out) noexcept;

/// Appends the lowercase hex of `bytes` to `out` (no temporary copy, e.g. of a secret).
void append_hex(std::string& out, std::span<const std::byte> bytes);

/// Lowercase hex of any bytes.
[[nodiscard]] std::string to_hex(std::span<const std::byte> bytes);

}  // namespace neutrino
