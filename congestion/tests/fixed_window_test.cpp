#include "neutrino/congestion/fixed_window.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <limits>
#include <stdexcept>

namespace {

using neutrino::time_point;
using neutrino::congestion::ack_sample;
using neutrino::congestion::congestion_controller;
using neutrino::congestion::fixed_window;
using neutrino::congestion::loss_sample;
using std::chrono::milliseconds;
using std::chrono::seconds;

static_assert(congestion_controller<fixed_window>);

constexpr time_point t0 = time_point{} + seconds{100};

}  // namespace

TEST(fixed_window, can_send_below_the_window_only) {
    fixed_window w{10'000};
    EXPECT_EQ(w.window(), 10'000U);
    EXPECT_TRUE(w.can_send(0, t0));
    EXPECT_TRUE(w.can_send(9'999, t0));
    EXPECT_FALSE(w.can_send(10'000, t0));
    EXPECT_FALSE(w.can_send(10'001, t0));
    EXPECT_FALSE(w.can_send(std::numeric_limits<std::size_t>::max(), t0));
}

TEST(fixed_window, packets_reproduces_the_reliable_layers_512_packet_window) {
    constexpr std::size_t packet = 1280;
    auto w = fixed_window::packets(512, packet);
    EXPECT_EQ(w.window(), 512U * packet);
    EXPECT_EQ(w.pacing_rate(), 0.0);
    std::size_t in_flight = 0;
    std::size_t sent = 0;
    while (w.can_send(in_flight, t0)) {
        w.on_sent(packet, t0);
        in_flight += packet;
        ++sent;
    }
    EXPECT_EQ(sent, 512U);
    EXPECT_TRUE(w.can_send(511 * packet, t0));
    EXPECT_FALSE(w.can_send(512 * packet, t0));
}

TEST(fixed_window, packets_saturates_instead_of_overflowing) {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    EXPECT_EQ(fixed_window::packets(max / 2 + 1, 2).window(), max);
    EXPECT_EQ(fixed_window::packets(max / 2, 2).window(), max - 1);
}

TEST(fixed_window, loss_rtt_and_idle_change_nothing) {
    constexpr std::size_t packet = 1280;
    fixed_window w{4 * packet};
    w.on_sent(1280, t0);
    w.on_lost(loss_sample{.bytes = 1280, .now = t0 + milliseconds{10}});
    w.on_lost(loss_sample{.bytes = 1'000'000, .now = t0 + milliseconds{20}});
    w.on_persistent_congestion(t0 + seconds{1});
    EXPECT_EQ(w.window(), 4 * packet);
    EXPECT_TRUE(w.can_send(3 * packet, t0 + seconds{1}));
    w.on_acknowledged(ack_sample{.bytes = 1280,
                                 .rtt = milliseconds{500},
                                 .delivery_rate_bytes_per_s = 1.0,
                                 .app_limited = true,
                                 .now = t0 + seconds{2},
                                 .bytes_in_flight = 0});
    w.on_idle_restart(t0 + seconds{60});
    EXPECT_EQ(w.window(), 4 * packet);
    EXPECT_EQ(w.pacing_rate(), 0.0);
    EXPECT_TRUE(w.can_send(4 * packet - 1, t0 + seconds{60}));
    EXPECT_FALSE(w.can_send(4 * packet, t0 + seconds{60}));
}

TEST(fixed_window, rejects_an_empty_window) {
    EXPECT_THROW(fixed_window{0}, std::invalid_argument);
    EXPECT_THROW((void)fixed_window::packets(0, 1280), std::invalid_argument);
    EXPECT_THROW((void)fixed_window::packets(512, 0), std::invalid_argument);
}
