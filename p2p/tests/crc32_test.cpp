#include "neutrino/p2p/detail/crc32.hpp"

#include <gtest/gtest.h>

#include "p2p_test_support.hpp"

namespace {

using neutrino::p2p::detail::crc32;
using p2p_test::as_bytes;

TEST(p2p_crc32, check_values) {
    EXPECT_EQ(crc32({}), 0u);
    EXPECT_EQ(crc32(as_bytes("123456789")), 0xCBF43926u);  // the catalogue's check value
    EXPECT_EQ(crc32(as_bytes("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
}

}  // namespace
