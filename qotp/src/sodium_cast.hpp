#pragma once
// Private to the library's sources: libsodium takes `unsigned char*`, the API `std::byte*`.

#include <cstddef>

namespace neutrino::qotp::detail {

inline const unsigned char* uc(const std::byte* p) noexcept {
    return reinterpret_cast<const unsigned char*>(p);
}
inline unsigned char* uc(std::byte* p) noexcept { return reinterpret_cast<unsigned char*>(p); }
inline const unsigned char* uc(const char* p) noexcept {
    return reinterpret_cast<const unsigned char*>(p);
}

}  // namespace neutrino::qotp::detail
