#include "neutrino/ring.hpp"

#include <gtest/gtest.h>

namespace {

using neutrino::ring;

TEST(ring, first_in_first_out_across_the_wrap) {
    ring<int> r(3);
    for (int round = 0; round < 4; ++round) {  // head moves around the storage
        EXPECT_TRUE(r.push(round * 10 + 1));
        EXPECT_TRUE(r.push(round * 10 + 2));
        EXPECT_EQ(r.size(), 2U);
        EXPECT_EQ(r[1], round * 10 + 2);
        EXPECT_EQ(r.pop(), round * 10 + 1);
        EXPECT_EQ(r.pop(), round * 10 + 2);
        EXPECT_TRUE(r.empty());
    }
    EXPECT_EQ(r.pop(), std::nullopt);
}

TEST(ring, refuses_when_full_and_keeps_what_it_holds) {
    ring<int> r(2);
    EXPECT_TRUE(r.push(1));
    EXPECT_TRUE(r.push(2));
    EXPECT_TRUE(r.full());
    EXPECT_FALSE(r.push(3));
    EXPECT_EQ(r.pop(), 1);
    EXPECT_EQ(r.pop(), 2);
}

TEST(ring, capacity_zero_holds_one) {
    ring<int> r(0);
    EXPECT_TRUE(r.push(7));
    EXPECT_FALSE(r.push(8));
    r.clear();
    EXPECT_TRUE(r.empty());
    EXPECT_TRUE(r.push(9));
    EXPECT_EQ(r.pop(), 9);
}

}  // namespace
