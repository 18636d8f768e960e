#include "neutrino/p2p/detail/sha1.hpp"

#include <gtest/gtest.h>

#include <string>

#include "p2p_test_support.hpp"

namespace {

using namespace neutrino::p2p::detail;
using p2p_test::as_bytes;
using p2p_test::from_hex;

std::string sha1_hex(std::string_view msg) {
    sha1 h;
    h.update(as_bytes(msg));
    return neutrino::to_hex(h.finish());
}

std::string hmac_hex(std::span<const std::byte> key, std::span<const std::byte> msg) {
    hmac_sha1 h(key);
    h.update(msg);
    return neutrino::to_hex(h.finish());
}

// FIPS 180-2 Appendix A (A.1, A.2, A.3) and the empty message.
TEST(p2p_sha1, fips_180_vectors) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    const std::string million(1000000, 'a');
    EXPECT_EQ(sha1_hex(million), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

// Split updates give the same digest as one update, at every split point of a 130-byte input.
TEST(p2p_sha1, incremental_matches_one_shot) {
    std::string msg(130, '\0');
    for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>(i * 7 + 1);
    const std::string whole = sha1_hex(msg);
    for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
        sha1 h;
        h.update(as_bytes(std::string_view(msg).substr(0, cut)));
        h.update(as_bytes(std::string_view(msg).substr(cut)));
        EXPECT_EQ(neutrino::to_hex(h.finish()), whole) << cut;
    }
}

// RFC 2202 §3, test cases 1 to 7.
TEST(p2p_hmac_sha1, rfc_2202_vectors) {
    EXPECT_EQ(hmac_hex(std::vector<std::byte>(20, std::byte{0x0b}), as_bytes("Hi There")),
              "b617318655057264e28bc0b6fb378c8ef146be00");
    EXPECT_EQ(hmac_hex(as_bytes("Jefe"), as_bytes("what do ya want for nothing?")),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    EXPECT_EQ(hmac_hex(std::vector<std::byte>(20, std::byte{0xaa}),
                       std::vector<std::byte>(50, std::byte{0xdd})),
              "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    EXPECT_EQ(hmac_hex(from_hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                       std::vector<std::byte>(50, std::byte{0xcd})),
              "4c9007f4026250c6bc8414f9bf50c86c2d7235da");
    EXPECT_EQ(
        hmac_hex(std::vector<std::byte>(20, std::byte{0x0c}), as_bytes("Test With Truncation")),
        "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04");
    EXPECT_EQ(hmac_hex(std::vector<std::byte>(80, std::byte{0xaa}),
                       as_bytes("Test Using Larger Than Block-Size Key - Hash Key First")),
              "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    EXPECT_EQ(hmac_hex(std::vector<std::byte>(80, std::byte{0xaa}),
                       as_bytes("Test Using Larger Than Block-Size Key and Larger Than One "
                                "Block-Size Data")),
              "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
}

}  // namespace
