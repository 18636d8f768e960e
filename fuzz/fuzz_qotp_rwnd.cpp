// Fuzz target: the 8-bit receive-window code (neutrino::qotp::encode_receive_window and
// decode_receive_window). Input: little-endian u64 byte counts, 8 bytes each.
// Properties: a code decodes to a value that encodes back to it; from 128 bytes on the code
// never promises more than was given, and from 256 bytes up to the largest code it is less
// than 1/8 under; encoding is monotone (checked on each neighbouring pair of inputs); decoding
// is strictly increasing.  spec: qotp.md §10

#include <cstddef>
#include <cstdint>

#include "neutrino/qotp/receive_window.hpp"

namespace {

namespace qotp = neutrino::qotp;

constexpr std::uint64_t max_window = 893353197568;  // decode(255)

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void check_value(std::uint64_t x) {
    const std::uint8_t e = qotp::encode_receive_window(x);
    const std::uint64_t d = qotp::decode_receive_window(e);
    check(qotp::encode_receive_window(d) == e);
    check((x == 0) == (e == 0));
    if (x >= 128) check(d <= x);
    if (x >= 256 && x < max_window) check(d > x - x / 8);
    if (x >= max_window) check(e == 255);
    if (e < 255) check(qotp::decode_receive_window(static_cast<std::uint8_t>(e + 1)) > d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::uint64_t previous = 0;
    for (std::size_t off = 0; off + 8 <= size; off += 8) {
        std::uint64_t x = 0;
        for (std::size_t i = 0; i < 8; ++i) x |= std::uint64_t{data[off + i]} << (8 * i);
        check_value(x);
        const std::uint64_t lo = x < previous ? x : previous;
        const std::uint64_t hi = x < previous ? previous : x;
        check(qotp::encode_receive_window(lo) <= qotp::encode_receive_window(hi));
        previous = x;
    }
    return 0;
}
