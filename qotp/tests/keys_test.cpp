#include "neutrino/qotp/keys.hpp"

#include <gtest/gtest.h>

#include "qotp_vectors.hpp"

namespace {

using namespace qotp_test;
using qotp::errc;

TEST(qotp_keys, hex_parsing) {
    const std::string good(64, 'a');
    EXPECT_TRUE(qotp::parse_key_hex(good).has_value());
    EXPECT_TRUE(qotp::parse_key_hex("0x" + good).has_value());
    EXPECT_TRUE(qotp::parse_key_hex("0X" + std::string(64, 'F')).has_value());
    const std::string bad_keys[] = {std::string{},
                                    std::string(63, 'a'),
                                    std::string(65, 'a'),
                                    "0x" + std::string(62, 'a'),
                                    std::string("0x"),
                                    std::string(63, 'a') + "g",
                                    "x0" + std::string(62, 'a'),
                                    " " + std::string(63, 'a'),
                                    "0x0x" + std::string(60, 'a')};
    for (const std::string& bad : bad_keys) {
        EXPECT_EQ(error_of(qotp::parse_key_hex(bad)), errc::bad_key) << bad;
        EXPECT_EQ(error_of(qotp::private_key_from_hex(bad)), errc::bad_key) << bad;
        EXPECT_EQ(error_of(qotp::public_key_from_hex(bad)), errc::bad_key) << bad;
    }
    auto k = qotp::parse_key_hex("0x00" + std::string(60, '0') + "Ab");
    ASSERT_TRUE(k.has_value());
    EXPECT_EQ((*k)[31], std::byte{0xAB});
    EXPECT_EQ((*k)[0], std::byte{0});
}

// spec §2, §6.4: an all-zero ECDH output (low-order peer key) is a failure.
TEST(qotp_keys, all_zero_and_low_order_public_keys_are_rejected) {
    const auto own = private_key_of("epI");
    EXPECT_EQ(error_of(qotp::x25519(own, qotp::public_key{})), errc::low_order_key);
    qotp::public_key one{};
    one[0] = std::byte{1};  // u = 1, order 1
    EXPECT_EQ(error_of(qotp::x25519(own, one)), errc::low_order_key);
    EXPECT_TRUE(qotp::x25519(own, public_key_named("epR")).has_value());
}

// spec §21.1: seeds differing only in clamped bits are the same key.
TEST(qotp_keys, clamping_collapses_seeds) {
    std::array<std::byte, 32> a{};
    a[0] = std::byte{1};
    a[31] = std::byte{1};
    auto b = a;
    b[0] = std::byte{3};
    EXPECT_EQ(hex(qotp::public_key_of(qotp::private_key(a))),
              "fd3384e132ad02a56c78f45547ee40038dc79002b90d29ed90e08eee762ae715");
    EXPECT_EQ(qotp::public_key_of(qotp::private_key(a)), qotp::public_key_of(qotp::private_key(b)));
}

TEST(qotp_keys, secrets_compare_and_generate) {
    const auto x = qotp::generate_private_key();
    const auto y = qotp::generate_private_key();
    EXPECT_TRUE(x.equals(x));
    EXPECT_FALSE(x.equals(y));
    auto xy = qotp::x25519(x, qotp::public_key_of(y));
    auto yx = qotp::x25519(y, qotp::public_key_of(x));
    ASSERT_TRUE(xy && yx);
    EXPECT_TRUE(xy->equals(*yx));
    EXPECT_NE(hex(qotp::private_key_from_string("a").bytes()),
              hex(qotp::private_key_from_string("b").bytes()));
}

TEST(qotp_keys, to_hex) {
    const bytes b = from_hex("00ff10ab");
    EXPECT_EQ(neutrino::to_hex(b), "00ff10ab");
    std::string s = "x";
    neutrino::append_hex(s, b);
    EXPECT_EQ(s, "x00ff10ab");
}

}  // namespace
