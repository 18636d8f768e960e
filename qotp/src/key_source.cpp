#include "neutrino/qotp/key_source.hpp"

#include <sodium.h>

namespace neutrino::qotp {

private_key deterministic_key_source::generate() {
    ensure_sodium();
    std::array<unsigned char, randombytes_SEEDBYTES> seed{};
    const std::uint64_t n = counter_++;
    for (std::size_t i = 0; i < 8; ++i) {
        seed[i] = static_cast<unsigned char>(n >> (8 * i));
        seed[8 + i] = static_cast<unsigned char>(seed_ >> (8 * i));
    }
    private_key key;
    randombytes_buf_deterministic(key.bytes().data(), key_size, seed.data());
    return key;
}

}  // namespace neutrino::qotp
