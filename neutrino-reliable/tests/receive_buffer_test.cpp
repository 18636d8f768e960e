#include "neutrino/reliable/detail/receive_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <vector>

#include "neutrino/reliable/detail/receive_pool.hpp"

namespace {

using neutrino::reliable::detail::receive_buffer;
using neutrino::reliable::detail::receive_pool;
using neutrino::time_point;
namespace nc = neutrino::core;

constexpr time_point t0 = time_point{} + std::chrono::seconds{10};
constexpr std::size_t window = 1024;
constexpr std::size_t payload_size = 1200;

/// A payload of `size` bytes, each derived from `pn` (so a view of the wrong packet shows).
std::vector<std::byte> payload(std::uint64_t pn, std::size_t size = payload_size) {
    std::vector<std::byte> p(size);
    for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::byte>((pn * 31 + i) & 0xff);
    return p;
}

bool holds(std::span<const std::byte> view, std::uint64_t pn) {
    const auto want = payload(pn, view.size());
    return std::equal(view.begin(), view.end(), want.begin(), want.end());
}

bool store(receive_buffer& b, std::uint64_t pn) {
    return b.store(pn, nc::packet_type::data, 0, payload(pn), t0, 0);
}

/// Delivers everything in order from the front, each block held as if its event were queued;
/// returns the packet numbers delivered, checking each payload.
std::vector<std::uint64_t> deliver(receive_buffer& b, std::vector<std::span<const std::byte>>* views = nullptr) {
    std::vector<std::uint64_t> out;
    while (const auto* s = b.front()) {
        EXPECT_TRUE(holds(b.payload(*s), s->pn)) << "packet " << s->pn;
        if (views) views->push_back(b.payload(*s));
        out.push_back(s->pn);
        b.pop(true);
    }
    return out;
}

}  // namespace

// An idle session's receive buffer is a few KB, not its window of 1024 × 1.3 KB.
TEST(receive_buffer, an_idle_buffer_holds_no_payload_and_a_small_ring) {
    receive_pool pool;
    receive_buffer b(window, pool);
    b.start(100);
    const std::size_t idle = b.memory() + pool.memory();
    std::printf("[receive_buffer] idle: %zu bytes (ring %zu slots of %zu bytes, %zu blocks)\n", idle, b.slots(),
                sizeof(receive_buffer::slot), pool.blocks());
    EXPECT_LE(idle, std::size_t{16 * 1024});
    EXPECT_EQ(pool.blocks(), 0u);
    EXPECT_EQ(b.limit(), 101 + window - 1) << "the window announced to the core is the configured one";
}

// A lossy, reordered flight across the whole window: the ring grows to the window and no
// further, payloads come out in order and intact, and a second flight like it reuses what the
// first allocated (nothing is allocated once the buffer has reached what the flight needs).
TEST(receive_buffer, grows_with_a_reordered_lossy_flight_up_to_the_window) {
    receive_pool pool;
    receive_buffer b(window, pool);
    b.start(0);
    std::mt19937_64 rng(7);
    std::size_t flight_memory = 0;
    std::uint64_t first = 1;
    for (int flight = 0; flight < 3; ++flight) {
        // the first packet of the flight is lost, the rest arrive shuffled: all but one stored
        std::vector<std::uint64_t> order;
        for (std::uint64_t pn = first + 1; pn < first + window; ++pn) order.push_back(pn);
        std::shuffle(order.begin(), order.end(), rng);
        for (auto pn : order) ASSERT_TRUE(store(b, pn));
        EXPECT_EQ(b.stored(), window - 1);
        EXPECT_EQ(b.slots(), window) << "the ring spans the window, no more";
        std::size_t missing = 0;
        b.for_each_missing([&](receive_buffer::slot& s) {
            EXPECT_EQ(s.pn, first);
            ++missing;
        });
        EXPECT_EQ(missing, 1u);
        EXPECT_TRUE(deliver(b).empty()) << "nothing before the hole is filled";
        ASSERT_TRUE(store(b, first));  // the retransmission
        const auto out = deliver(b);
        ASSERT_EQ(out.size(), window);
        for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], first + i);
        pool.release_consumed(0);  // every event consumed
        if (flight == 0) {
            flight_memory = b.memory() + pool.memory();
            std::printf("[receive_buffer] full window of %zu: %zu bytes (%zu blocks)\n", window, flight_memory,
                        pool.blocks());
            EXPECT_LE(flight_memory, window * (receive_pool::block_size + sizeof(receive_buffer::slot) + 64));
        } else {
            EXPECT_EQ(b.memory() + pool.memory(), flight_memory) << "flight " << flight << " allocated again";
        }
        EXPECT_EQ(pool.blocks(), window);
        first += window;
    }
}

// The ring grows in steps: a flight of 40 takes a ring of 64, not the window.
TEST(receive_buffer, a_small_flight_takes_a_small_ring) {
    receive_pool pool;
    receive_buffer b(window, pool);
    b.start(0);
    for (std::uint64_t pn = 40; pn >= 2; --pn) ASSERT_TRUE(store(b, pn));  // all behind a hole at 1
    EXPECT_EQ(b.slots(), 64u);
    EXPECT_EQ(pool.blocks(), 39u);
    ASSERT_TRUE(store(b, 1));
    EXPECT_EQ(deliver(b).size(), 40u);
}

// Views of delivered packets whose events are still queued stay valid while the ring grows
// and other packets are stored, however many; their blocks are reused only once the events
// were consumed. (Run under the asan preset, a dangling view is also an error there.)
TEST(receive_buffer, views_of_queued_deliveries_survive_growth_and_reuse) {
    receive_pool pool;
    receive_buffer b(window, pool);
    b.start(0);
    std::vector<std::span<const std::byte>> queued;
    for (std::uint64_t pn = 1; pn <= 10; ++pn) ASSERT_TRUE(store(b, pn));
    ASSERT_EQ(deliver(b, &queued).size(), 10u);  // ten events queued, not consumed
    // a reordered flight over the whole window: the ring grows from 16 to 1024 slots
    for (std::uint64_t pn = 10 + window; pn > 11; --pn) ASSERT_TRUE(store(b, pn));
    EXPECT_EQ(b.slots(), window);
    for (std::size_t i = 0; i < queued.size(); ++i) EXPECT_TRUE(holds(queued[i], i + 1)) << "view " << i + 1;
    // deliver the flight too, its events queued behind the first ten
    ASSERT_TRUE(store(b, 11));
    ASSERT_EQ(deliver(b, &queued).size(), window);
    // the application consumed the first ten only: their blocks are free again, and the next
    // flight reuses them, never the blocks of events still queued
    pool.release_consumed(window);
    EXPECT_EQ(pool.free_blocks(), 10u);
    const std::size_t blocks = pool.blocks();
    for (std::uint64_t pn = 11 + window; pn < 21 + window; ++pn) ASSERT_TRUE(store(b, pn));
    EXPECT_EQ(pool.blocks(), blocks) << "the freed blocks were reused";
    for (std::size_t i = 10; i < queued.size(); ++i) EXPECT_TRUE(holds(queued[i], i + 1)) << "view " << i + 1;
}

// A budget cuts the window to what the buffer spans plus the pool's room: the core drops what
// lies beyond (uncommitted, requested once the window moved over it). A packet the core
// accepted is always kept, even over the budget (a gap that was open before): its
// retransmission would be a replay, so refusing it would stall the session.
TEST(receive_buffer, a_budget_stops_the_window_and_keeps_what_was_accepted) {
    receive_pool pool(4);
    receive_buffer b(window, pool);
    b.start(0);
    EXPECT_EQ(b.limit(), 4u) << "four blocks of room from 1";
    ASSERT_TRUE(store(b, 3));
    ASSERT_TRUE(store(b, 4));
    EXPECT_EQ(b.limit(), 4u) << "holds two, room for two more";
    ASSERT_TRUE(store(b, 6));  // accepted by the core under an earlier, wider limit
    ASSERT_TRUE(store(b, 5));
    EXPECT_FALSE(pool.can_grow());
    EXPECT_EQ(b.limit(), 4u) << "the window stops at what the buffer holds";
    std::vector<std::uint64_t> missing;
    b.for_each_missing([&](receive_buffer::slot& s) { missing.push_back(s.pn); });
    EXPECT_EQ(missing, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_FALSE(store(b, 2)) << "over the budget: a gap the window had open";
    EXPECT_TRUE(b.is_stored(2)) << "kept all the same";
    EXPECT_FALSE(store(b, 1));
    EXPECT_EQ(deliver(b), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(b.limit(), 7u) << "blocks held for queued events: only the next packet";
    pool.release_consumed(0);
    EXPECT_EQ(b.limit(), 12u) << "six blocks free again";
    EXPECT_EQ(pool.blocks(), 6u);
}

// Without a budget the window is the configured one, whatever the pool holds.
TEST(receive_buffer, without_a_budget_the_window_is_the_configured_one) {
    receive_pool pool;
    receive_buffer b(window, pool);
    b.start(0);
    EXPECT_EQ(b.limit(), window);
    ASSERT_TRUE(store(b, 9));
    EXPECT_EQ(b.limit(), window);
}

// reset and destruction give stored blocks back to a shared pool (a server's sessions end),
// while blocks held for queued events stay held.
TEST(receive_buffer, ending_returns_stored_blocks_to_the_shared_pool) {
    receive_pool pool;
    std::vector<std::span<const std::byte>> queued;
    {
        receive_buffer b(window, pool);
        b.start(0);
        ASSERT_TRUE(store(b, 1));
        ASSERT_EQ(deliver(b, &queued).size(), 1u);
        for (std::uint64_t pn = 3; pn < 9; ++pn) ASSERT_TRUE(store(b, pn));
        b.reset();
        EXPECT_EQ(pool.free_blocks(), 6u);
        b.start(50);
        for (std::uint64_t pn = 53; pn < 56; ++pn) ASSERT_TRUE(store(b, pn));
    }
    EXPECT_EQ(pool.free_blocks(), 6u);
    EXPECT_EQ(pool.held(), 1u);
    EXPECT_TRUE(holds(queued[0], 1));
    pool.release_consumed(0);
    EXPECT_EQ(pool.free_blocks(), pool.blocks());
}
