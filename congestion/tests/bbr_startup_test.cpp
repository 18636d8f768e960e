#include <gtest/gtest.h>

#include <chrono>

#include "bbr_test_support.hpp"
#include "neutrino/congestion/bbr/startup.hpp"

namespace {

using bbr_test::feeder;
using bbr_test::mss;
using bbr_test::t0;
using neutrino::congestion::bbr;
using neutrino::congestion::bbr_config;
using neutrino::congestion::bbr_state;
using neutrino::congestion::congestion_controller;
using std::chrono::milliseconds;

static_assert(congestion_controller<bbr>);

constexpr milliseconds rtt{100};

}  // namespace

TEST(bbr_startup, starts_with_the_initial_window_and_startup_gains) {
    bbr cc{bbr_config{}, t0};
    EXPECT_EQ(cc.state(), bbr_state::startup);
    EXPECT_EQ(cc.window(), 10 * mss);
    EXPECT_DOUBLE_EQ(cc.pacing_gain(), 2.77);
    EXPECT_DOUBLE_EQ(cc.cwnd_gain(), 2.0);
    EXPECT_DOUBLE_EQ(cc.pacing_rate(), 2.77 * 12'000.0 / 1e-3);  // InitialCwnd / 1 ms
    EXPECT_TRUE(cc.can_send(10 * mss - 1, t0));
    EXPECT_FALSE(cc.can_send(10 * mss, t0));
}

TEST(bbr_startup, throws_on_a_zero_datagram_size_or_window) {
    bbr_config zero_mss;
    zero_mss.max_datagram_size = 0;
    EXPECT_THROW(bbr(zero_mss, t0), std::invalid_argument);
    bbr_config zero_window;
    zero_window.initial_window_packets = 0;
    EXPECT_THROW(bbr(zero_window, t0), std::invalid_argument);
}

TEST(bbr_startup, window_and_delivery_double_each_round) {
    bbr_config config;
    config.initial_rtt = rtt;  // initial pacing rate 2.77 × 12 kB / 100 ms
    bbr cc{config, t0};
    EXPECT_DOUBLE_EQ(cc.pacing_rate(), 2.77 * 12'000.0 / 0.1);
    feeder f{cc};
    std::size_t window = cc.window();
    for (int round = 0; round < 6; ++round) {
        // The whole window is acknowledged in one round: delivery rate = window / rtt.
        const std::size_t packets = window / mss;
        const double rate = static_cast<double>(window) / 0.1;
        f.round(packets, mss, rate, rtt, 0);
        EXPECT_EQ(cc.state(), bbr_state::startup) << "round " << round;
        EXPECT_EQ(cc.window(), 2 * window) << "round " << round;
        // The pacing rate lets the next round deliver twice as much.
        EXPECT_GE(cc.pacing_rate(), 2.0 * rate) << "round " << round;
        if (round > 0) {  // in round 0 the initial rate is still higher
            EXPECT_NEAR(cc.pacing_rate(), 2.77 * rate * 0.99, 1e-6 * rate) << "round " << round;
        }
        window = cc.window();
    }
}

TEST(bbr_startup, exits_after_three_rounds_without_25_percent_growth) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    constexpr double rate = 1e6;
    f.round(10, mss, rate / 4, rtt, 0);
    f.round(10, mss, rate / 2, rtt, 0);
    f.round(10, mss, rate, rtt, 0);  // full_bw = rate
    // Growth of 20% is not enough: three such rounds fill the pipe.
    f.round(10, mss, rate * 1.2, rtt, 0);
    EXPECT_EQ(cc.state(), bbr_state::startup);
    f.round(10, mss, rate * 1.2, rtt, 0);
    EXPECT_EQ(cc.state(), bbr_state::startup);
    f.round(10, mss, rate * 1.2, rtt, 1'000'000);  // still a lot in flight: Drain
    EXPECT_EQ(cc.state(), bbr_state::drain);
    EXPECT_DOUBLE_EQ(cc.max_bandwidth(), rate * 1.2);
}

TEST(bbr_startup, growth_of_25_percent_restarts_the_count) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    double rate = 1e6;
    f.round(10, mss, rate, rtt, 0);
    f.round(10, mss, rate, rtt, 0);
    f.round(10, mss, rate, rtt, 0);  // two rounds without growth
    rate *= 1.25;
    f.round(10, mss, rate, rtt, 0);  // growth: count back to zero
    f.round(10, mss, rate, rtt, 0);
    f.round(10, mss, rate, rtt, 0);
    EXPECT_EQ(cc.state(), bbr_state::startup);
    f.round(10, mss, rate, rtt, 1'000'000);
    EXPECT_EQ(cc.state(), bbr_state::drain);
}

TEST(bbr_startup, app_limited_rounds_do_not_count_toward_a_full_pipe) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    f.round(10, mss, 1e6, rtt, 0);
    for (int i = 0; i < 10; ++i) f.round(10, mss, 1e6, rtt, 0, /*app_limited=*/true);
    EXPECT_EQ(cc.state(), bbr_state::startup);
}

TEST(bbr_startup, exits_on_excessive_loss_and_sets_inflight_hi) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    double rate = 1e6;
    f.round(10, mss, rate, rtt, 0);
    rate *= 2;
    f.round(20, mss, rate, rtt, 0);
    // Six losses, each a small share of what was in flight when it was sent (0.7%: no exit at
    // the loss); the loss round ends when a packet sent after them is acknowledged (the last of
    // the next round here), with 8 of 100 kB lost (> 2%).
    f.lose(6, 50'000, 1'000'000, 0);
    EXPECT_EQ(cc.state(), bbr_state::startup);
    rate *= 2;
    f.round(20, mss, rate, rtt, 1'000'000, false, 8'000, 100'000);
    EXPECT_EQ(cc.state(), bbr_state::drain);
    EXPECT_LT(cc.model().inflight_hi, neutrino::congestion::bbr_detail::infinite);
    EXPECT_GE(cc.model().inflight_hi, cc.model().bdp_multiple(cc.max_bandwidth(), 1.0));
}

// Behind a cumulative acknowledgement the loss round cannot end while the acknowledgement waits
// at a hole: once nothing was acknowledged for a min_rtt, the sixth loss of the round, when it
// lost more than 2% of what was in flight at its send, ends Startup at once.
TEST(bbr_startup, exits_at_the_sixth_loss_above_the_loss_threshold_while_acknowledgements_stall) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    f.round(10, mss, 1e6, rtt, 0);
    f.round(20, mss, 2e6, rtt, 0);
    f.lose(6, 50'000, 100'000, 0);  // 7.2 kB of 100 kB, but acknowledgements still flow
    EXPECT_EQ(cc.state(), bbr_state::startup);
    f.now += rtt;                         // a min_rtt without an acknowledgement
    f.lose(1, 50'000, 100'000, 6 * mss);  // 8.4 kB lost since it was sent
    EXPECT_EQ(cc.state(), bbr_state::drain);
    EXPECT_LT(cc.model().inflight_hi, neutrino::congestion::bbr_detail::infinite);
    EXPECT_GE(cc.model().inflight_hi, cc.model().bdp_multiple(cc.max_bandwidth(), 1.0));
    // the pacing rate drops to Drain's at once, not at the next acknowledgement
    EXPECT_LT(cc.pacing_rate(), cc.bottleneck_bandwidth());
}

// A delivery inferred out of order (ack_sample::inferred, a selective acknowledgement) is no end
// of the cumulative acknowledgement's stall: the exit at the sixth loss still comes.
TEST(bbr_startup, an_inferred_delivery_does_not_end_the_stall_of_the_acknowledgements) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    f.round(10, mss, 1e6, rtt, 0);
    f.round(20, mss, 2e6, rtt, 0);
    f.lose(6, 50'000, 100'000, 0);
    f.now += rtt / 2;
    neutrino::congestion::ack_sample inferred;
    inferred.bytes = mss;
    inferred.now = f.now;
    inferred.bytes_in_flight = 50'000;
    inferred.inferred = true;
    cc.on_acknowledged(inferred);
    EXPECT_EQ(cc.state(), bbr_state::startup);
    f.now += rtt / 2;  // a min_rtt since the last cumulative acknowledgement
    f.lose(1, 50'000, 100'000, 6 * mss);
    EXPECT_EQ(cc.state(), bbr_state::drain);
}

TEST(bbr_startup, few_losses_or_a_low_loss_rate_do_not_end_startup) {
    {
        bbr cc{bbr_config{}, t0};
        feeder f{cc};
        f.round(10, mss, 1e6, rtt, 0);
        f.round(20, mss, 2e6, rtt, 0);
        f.lose(5, 50'000, 100'000, 0);  // only five loss events
        f.round(20, mss, 4e6, rtt, 100'000, false, 8'000, 100'000);
        EXPECT_EQ(cc.state(), bbr_state::startup);
    }
    {
        bbr cc{bbr_config{}, t0};
        feeder f{cc};
        f.round(10, mss, 1e6, rtt, 0);
        f.round(20, mss, 2e6, rtt, 0);
        f.lose(6, 50'000, 1'000'000, 0);
        f.round(20, mss, 4e6, rtt, 100'000, false, 8'000, 1'000'000);  // 0.8%
        EXPECT_EQ(cc.state(), bbr_state::startup);
    }
}
