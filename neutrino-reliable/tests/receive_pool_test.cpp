#include "neutrino/reliable/detail/receive_pool.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using neutrino::reliable::detail::growing_fifo;
using neutrino::reliable::detail::receive_pool;

}  // namespace

// The queue keeps its order across wrap-around and growth, grows by doubling only when full,
// and refuses past its maximum.
TEST(growing_fifo, keeps_order_while_growing_up_to_its_maximum) {
    growing_fifo<int> q(4, 20);
    EXPECT_EQ(q.capacity(), 4u);
    int next_in = 0, next_out = 0;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.push(next_in++));
    EXPECT_EQ(q.pop(), next_out++);
    EXPECT_EQ(q.pop(), next_out++);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.push(next_in++));  // wraps around
    EXPECT_EQ(q.capacity(), 4u) << "not full: no growth";
    ASSERT_TRUE(q.push(next_in++));  // full: grows
    EXPECT_EQ(q.capacity(), 8u);
    while (q.size() < 20) ASSERT_TRUE(q.push(next_in++));
    EXPECT_EQ(q.capacity(), 20u) << "doubling stops at the maximum";
    EXPECT_FALSE(q.push(next_in)) << "past the maximum";
    while (!q.empty()) EXPECT_EQ(q.pop(), next_out++);
    EXPECT_EQ(next_out, next_in);
}

// Blocks are allocated on first need, reused after, and never move; held blocks come back in
// delivery order once the events that view them were consumed.
TEST(receive_pool, reuses_blocks_and_frees_held_ones_in_order) {
    receive_pool pool;
    EXPECT_EQ(pool.blocks(), 0u);
    std::vector<std::uint32_t> b;
    for (int i = 0; i < 5; ++i) b.push_back(pool.acquire());
    EXPECT_EQ(pool.blocks(), 5u);
    const std::byte* first = pool.bytes(b[0]).data();
    for (auto x : b) pool.hold(x);  // five deliveries queued
    pool.release_consumed(5);
    EXPECT_EQ(pool.free_blocks(), 0u) << "all five events still queued";
    pool.release_consumed(3);  // the first two consumed
    EXPECT_EQ(pool.free_blocks(), 2u);
    EXPECT_EQ(pool.held(), 3u);
    const std::uint32_t again = pool.acquire();
    EXPECT_TRUE(again == b[0] || again == b[1]) << "an older, consumed block is reused";
    for (int i = 0; i < 100; ++i) pool.release(pool.acquire());
    EXPECT_EQ(pool.blocks(), 5u) << "reuse, no new allocation";
    EXPECT_EQ(pool.bytes(b[0]).data(), first) << "a block never moves";
}

// A budget bounds the room the receive buffers see; blocks can still be taken past it (a
// packet the core accepted is always kept), which shows as no room.
TEST(receive_pool, a_budget_shows_as_room) {
    receive_pool unlimited;
    EXPECT_TRUE(unlimited.can_grow());
    receive_pool pool(3);
    EXPECT_EQ(pool.room(), 3u);
    const auto a = pool.acquire();
    (void)pool.acquire();
    EXPECT_EQ(pool.room(), 1u);
    (void)pool.acquire();
    (void)pool.acquire();  // over the budget
    EXPECT_EQ(pool.room(), 0u);
    EXPECT_FALSE(pool.can_grow());
    pool.release(a);
    EXPECT_EQ(pool.room(), 1u) << "a free block is room";
}
