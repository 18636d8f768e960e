#include "neutrino/reliable/detail/delivery_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace {

namespace nc = neutrino::core;
using neutrino::reliable::detail::delivery_queue;
using neutrino::reliable::detail::receive_pool;

nc::event data_event(std::uint64_t id) {
    return nc::event::make(nc::event_kind::data, id, neutrino::peer_address{});
}
nc::event writable_event() { return nc::event::make(nc::event_kind::writable, 1, neutrino::peer_address{}); }

}  // namespace

// A delivery's block stays held while its event is queued and until the application's next
// call after polling it; other events hold nothing; past its maximum the queue refuses.
TEST(delivery_queue, holds_a_delivery_block_until_its_event_was_consumed) {
    receive_pool pool;
    delivery_queue q(2, 3);
    const auto a = pool.acquire();
    const auto b = pool.acquire();
    pool.hold(a);
    ASSERT_TRUE(q.push(data_event(1)));
    ASSERT_TRUE(q.push(writable_event()));
    pool.hold(b);
    ASSERT_TRUE(q.push(data_event(2)));
    EXPECT_FALSE(q.push(writable_event())) << "past the maximum";
    EXPECT_EQ(pool.held(), 2u);

    auto e = q.pop(pool);  // the first delivery: both blocks still viewed
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, nc::event_kind::data);
    EXPECT_EQ(pool.held(), 2u);
    e = q.pop(pool);  // the writable: the first delivery was consumed, its block is free
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, nc::event_kind::writable);
    EXPECT_EQ(pool.held(), 1u);
    EXPECT_EQ(pool.free_blocks(), 1u);
    e = q.pop(pool);  // the second delivery: viewed until the next call
    ASSERT_TRUE(e);
    EXPECT_EQ(pool.held(), 1u);
    q.release_consumed(pool);  // the layer's next call
    EXPECT_EQ(pool.held(), 0u);
    EXPECT_EQ(pool.free_blocks(), 2u);
    EXPECT_FALSE(q.pop(pool));
}
