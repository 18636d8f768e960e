#include "neutrino/endian.hpp"

#include <gtest/gtest.h>

#include <array>

namespace {

using neutrino::load_le;
using neutrino::store_le;

// The little-endian facts of the reference tests (spec §21.1).
TEST(qotp_endian, reference_facts) {
    std::array<std::byte, 8> b{};
    neutrino::store_le(std::span(b).first(6), 0x123456789ABC);
    EXPECT_EQ(b[0], std::byte{0xBC});
    EXPECT_EQ(b[5], std::byte{0x12});
    neutrino::store_le(b, 0x123456789ABCDEF0);
    EXPECT_EQ(b[0], std::byte{0xF0});
    EXPECT_EQ(b[7], std::byte{0x12});
    EXPECT_EQ(neutrino::load_le(b), 0x123456789ABCDEF0U);
    neutrino::store_le(std::span(b).first(3), 0xFFFFFFFF);  // u24 truncates
    EXPECT_EQ(neutrino::load_le(std::span(b).first(3)), 0xFFFFFFU);
    EXPECT_EQ(neutrino::load_le(std::span(b).first(0)), 0U);
}

}  // namespace
