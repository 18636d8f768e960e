#include "neutrino/qotp/receive_window.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "test_seed.hpp"

namespace {

using neutrino::qotp::decode_receive_window;
using neutrino::qotp::encode_receive_window;

constexpr std::uint64_t max_window = 893353197568;  // decode(255), spec §10

// The fixed facts the reference's own tests assert (spec §21.1).
TEST(qotp_receive_window, reference_test_facts) {
    EXPECT_EQ(encode_receive_window(0), 0);
    EXPECT_EQ(encode_receive_window(1), 1);
    EXPECT_EQ(encode_receive_window(128), 1);
    EXPECT_EQ(encode_receive_window(255), 1);
    EXPECT_EQ(encode_receive_window(256), 2);
    EXPECT_EQ(decode_receive_window(0), 0U);
    EXPECT_EQ(decode_receive_window(1), 128U);
    EXPECT_EQ(decode_receive_window(2), 256U);
    EXPECT_EQ(encode_receive_window(std::uint64_t{1} << 63), 255);
    EXPECT_EQ(encode_receive_window(UINT64_MAX), 255);
    EXPECT_EQ(decode_receive_window(255), max_window);
}

TEST(qotp_receive_window, every_code) {
    for (unsigned e = 0; e < 256; ++e) {
        const auto code = static_cast<std::uint8_t>(e);
        // a code decodes to a value that encodes back to it: the encoding is canonical
        EXPECT_EQ(encode_receive_window(decode_receive_window(code)), code) << e;
        if (e >= 1 && e < 255) {
            EXPECT_LT(decode_receive_window(code),
                      decode_receive_window(static_cast<std::uint8_t>(e + 1)))
                << e;
        }
    }
}

// Rounds down by less than 1/8 from 256 bytes up to the largest code. (1..127 bytes encode
// as 1, which decodes to 128: the one place the code promises more than was given.)
TEST(qotp_receive_window, rounds_down_within_an_eighth) {
    std::mt19937_64 rng(neutrino::test::env_seed_or(1, "qotp_receive_window"));
    for (int i = 0; i < 100000; ++i) {
        const unsigned bits = 8 + static_cast<unsigned>(rng() % 32);  // 256 .. 2^40
        const std::uint64_t x =
            (std::uint64_t{1} << bits) | (rng() & ((std::uint64_t{1} << bits) - 1));
        const std::uint64_t d = decode_receive_window(encode_receive_window(x));
        if (x >= max_window) {
            EXPECT_EQ(d, max_window);
            continue;
        }
        EXPECT_LE(d, x) << x;
        EXPECT_GT(d, x - x / 8) << x;
    }
    for (std::uint64_t x = 128; x < 256; ++x)
        EXPECT_EQ(decode_receive_window(encode_receive_window(x)), 128U);
    for (std::uint64_t x = 1; x < 128; ++x)
        EXPECT_EQ(decode_receive_window(encode_receive_window(x)), 128U);
}

TEST(qotp_receive_window, monotone) {
    std::uint8_t last = 0;
    for (std::uint64_t x = 0; x < (1U << 20); x += 7) {
        const auto e = encode_receive_window(x);
        EXPECT_GE(e, last) << x;
        last = e;
    }
}

static_assert(encode_receive_window(16 * 1024 * 1024) == 130);  // compile-time usable
static_assert(decode_receive_window(98) == 1024 * 1024);

}  // namespace
