#include "neutrino/inspector/detail/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

using neutrino::inspector::detail::buffer_pool;

TEST(buffer_pool, size_classes_are_powers_of_two_from_128) {
    EXPECT_EQ(buffer_pool::class_of(0), 0U);
    EXPECT_EQ(buffer_pool::class_of(128), 0U);
    EXPECT_EQ(buffer_pool::class_of(129), 1U);
    EXPECT_EQ(buffer_pool::class_of(1280), 4U);
    EXPECT_EQ(buffer_pool::capacity_of(buffer_pool::class_of(1280)), 2048U);
    EXPECT_EQ(buffer_pool::class_of(65535), 9U);
    EXPECT_EQ(buffer_pool::capacity_of(9), buffer_pool::max_slot_size);
}

TEST(buffer_pool, reuses_released_slots) {
    buffer_pool pool(4096);
    auto s = pool.acquire(1000);
    ASSERT_TRUE(s);
    std::byte* first = s->data();
    EXPECT_EQ(pool.in_use_size(), 1024U);
    pool.release(std::move(*s));
    EXPECT_EQ(pool.in_use_size(), 0U);
    auto again = pool.acquire(600);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->data(), first);
    EXPECT_EQ(pool.total_size(), 1024U);
}

TEST(buffer_pool, never_holds_more_than_its_limit) {
    buffer_pool pool(4096);
    std::vector<buffer_pool::slot> held;
    for (int i = 0; i < 4; ++i) held.push_back(std::move(*pool.acquire(1024)));
    EXPECT_FALSE(pool.acquire(1));
    for (auto& s : held) pool.release(std::move(s));
    held.clear();
    // Free 1024-byte slots are given back to make room for other classes.
    for (int i = 0; i < 32; ++i) {
        auto s = pool.acquire(100);
        ASSERT_TRUE(s) << i;
        held.push_back(std::move(*s));
        EXPECT_LE(pool.total_size(), pool.limit());
    }
    EXPECT_FALSE(pool.acquire(100));
}
