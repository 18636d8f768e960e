#include "neutrino/reliable/detail/send_buffer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using neutrino::reliable::detail::send_buffer;
using neutrino::time_point;

constexpr time_point t0 = time_point{} + std::chrono::seconds{10};

/// A datagram of `size` bytes, each the low byte of `pn`.
std::vector<std::byte> datagram(std::uint64_t pn, std::size_t size = 1200) {
    return std::vector<std::byte>(size, static_cast<std::byte>(pn & 0xff));
}

}  // namespace

// Memory follows use: a buffer that never held DATA holds a few records and no datagram; one
// that held a flight holds what that flight needed, within its capacity.
TEST(send_buffer, memory_grows_with_the_flight_and_no_further) {
    send_buffer b(512, 528);
    const std::size_t idle = b.memory();
    EXPECT_LT(idle, std::size_t{4096});
    // a KEEP_ALIVE marker takes no datagram buffer
    ASSERT_TRUE(b.store(1, datagram(1, 16), t0, true));
    EXPECT_EQ(b.data(), 0u);
    EXPECT_EQ(b.memory(), idle);
    // a flight of 100 DATA packets, acknowledged, then another 100: the pool is reused
    std::uint64_t pn = 2;
    for (int i = 0; i < 100; ++i, ++pn) ASSERT_TRUE(b.store(pn, datagram(pn), t0, false));
    const std::size_t after_flight = b.memory();
    EXPECT_GT(after_flight, 100 * 1200u);
    EXPECT_LT(after_flight, 160 * 1300u);  // ~100 buffers and a 128-record ring
    b.acknowledge(pn - 1);
    for (int i = 0; i < 100; ++i, ++pn) ASSERT_TRUE(b.store(pn, datagram(pn), t0, false));
    EXPECT_EQ(b.memory(), after_flight);
    // the whole capacity: 512 DATA, then refused
    b.acknowledge(pn - 1);
    for (int i = 0; i < 512; ++i, ++pn) ASSERT_TRUE(b.store(pn, datagram(pn), t0, false));
    EXPECT_TRUE(b.data_full());
    EXPECT_FALSE(b.store(pn, datagram(pn), t0, false));
    EXPECT_LT(b.memory(), 512 * 1300u + 528 * 128u);
}

// Growing the ring keeps every record in flight where bytes() and sent_at() find it.
TEST(send_buffer, records_survive_the_ring_growing) {
    send_buffer b(512, 528);
    const std::uint64_t first = 1000;
    for (std::uint64_t pn = first; pn < first + 300; ++pn) {
        ASSERT_TRUE(b.store(pn, datagram(pn, 100 + pn % 50), t0 + std::chrono::milliseconds(pn), pn % 7 == 0));
        if (pn == first + 40) b.acknowledge(first + 9);  // the base moves while it grows
    }
    EXPECT_EQ(b.base(), first + 10);
    for (std::uint64_t pn = first + 10; pn < first + 300; ++pn) {
        ASSERT_TRUE(b.contains(pn));
        EXPECT_EQ(b.sent_at(pn), t0 + std::chrono::milliseconds(pn));
        if (pn % 7 == 0) {
            EXPECT_TRUE(b.is_control(pn));
        } else {
            const auto bytes = b.bytes(pn);
            ASSERT_EQ(bytes.size(), 100 + pn % 50);
            EXPECT_EQ(bytes.front(), static_cast<std::byte>(pn & 0xff));
        }
    }
    std::size_t acked = 0;
    b.acknowledge(first + 299, [&](std::size_t, const neutrino::congestion::packet_rate_state&) { ++acked; });
    std::size_t data_packets = 0;
    for (std::uint64_t pn = first + 10; pn < first + 300; ++pn) data_packets += pn % 7 != 0;
    EXPECT_EQ(acked, data_packets);  // each DATA packet heard of once, markers not
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.bytes_in_flight(), 0u);
}

// An acknowledgement reaching over a packet sent again waited for that repair: acknowledge says
// so for exactly the acknowledgements that cover it, and forgets it once acknowledged.
TEST(send_buffer, an_acknowledgement_over_a_repair_says_so) {
    send_buffer b(512, 528);
    for (std::uint64_t pn = 1; pn <= 12; ++pn) ASSERT_TRUE(b.store(pn, datagram(pn), t0, false));
    b.mark_resent(5, t0 + std::chrono::milliseconds(20));
    const auto below = b.acknowledge(4);
    EXPECT_EQ(below.packets, 4U);
    EXPECT_FALSE(below.repaired);
    const auto over = b.acknowledge(6);
    EXPECT_EQ(over.packets, 2U);
    EXPECT_TRUE(over.repaired);
    const auto after = b.acknowledge(1000);  // beyond what was sent: up to the newest held
    EXPECT_EQ(after.packets, 6U);
    EXPECT_FALSE(after.repaired);  // the repaired packet is gone
    EXPECT_FALSE(b.acknowledge(3).repaired);  // already acknowledged
    EXPECT_EQ(b.acknowledge(3).packets, 0U);
}

// A request for n marks the unrequested DATA below n delivered for the in-flight count, once;
// the bytes stay (retransmittable) until the cumulative acknowledgement, which does not report
// them delivered a second time. A packet asked for after all is in flight again.
TEST(send_buffer, a_request_infers_what_lies_below_it_delivered_once) {
    send_buffer b(64, 64);
    for (std::uint64_t pn = 10; pn < 20; ++pn) ASSERT_TRUE(b.store(pn, datagram(pn, 100), t0, pn == 15));
    EXPECT_EQ(b.bytes_in_flight(), 900u);  // nine DATA, one KEEP_ALIVE marker (15)
    b.mark_resent(12, t0);                 // 12 was asked for before
    std::size_t bytes = 0;
    b.infer_delivered_below(17, [&](std::size_t size, const auto&) { bytes += size; });
    EXPECT_EQ(bytes, 500u);  // 10, 11, 13, 14, 16: not 12 (resent), 15 (marker), 17 (asked for)
    EXPECT_EQ(b.bytes_in_flight(), 400u);
    EXPECT_EQ(b.bytes_held(), 900u);
    EXPECT_TRUE(b.inferred(13));
    EXPECT_FALSE(b.bytes(13).empty());  // still retransmittable
    bytes = 0;
    b.infer_delivered_below(17, [&](std::size_t size, const auto&) { bytes += size; });
    EXPECT_EQ(bytes, 0u);  // nothing twice
    b.uninfer(13);  // asked for after all: sent again, in flight
    EXPECT_EQ(b.bytes_in_flight(), 500u);
    std::size_t acked = 0;
    b.acknowledge(18, [&](std::size_t size, const auto&) { acked += size; });
    EXPECT_EQ(acked, 400u);  // 12, 13, 17, 18: the inferred 10, 11, 14, 16 are not reported again
    EXPECT_EQ(b.bytes_in_flight(), 100u);
    EXPECT_EQ(b.bytes_held(), 100u);
    // stale: numbers below the base
    b.infer_delivered_below(12, [&](std::size_t size, const auto&) { acked += size; });
    EXPECT_EQ(acked, 400u);
    EXPECT_EQ(b.bytes_in_flight(), 100u);
}
