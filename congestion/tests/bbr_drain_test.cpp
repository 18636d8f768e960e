#include <gtest/gtest.h>

#include <chrono>

#include "bbr_test_support.hpp"
#include "neutrino/congestion/bbr/drain.hpp"

namespace {

using bbr_test::feeder;
using bbr_test::mss;
using bbr_test::t0;
using neutrino::congestion::bbr;
using neutrino::congestion::bbr_config;
using neutrino::congestion::bbr_state;
using std::chrono::milliseconds;

constexpr milliseconds rtt{100};
constexpr double rate = 1e6;  // BDP = 100 kB

// A controller that has just left Startup with a full pipe at `rate`, 300 kB in flight.
void to_drain(feeder& f) {
    for (int i = 0; i < 4; ++i) f.round(10, mss, rate, rtt, 300'000);
    ASSERT_EQ(f.cc.state(), bbr_state::drain);
}

}  // namespace

TEST(bbr_drain, paces_at_the_drain_gain) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_drain(f);
    EXPECT_DOUBLE_EQ(cc.pacing_gain(), 0.35);
    EXPECT_DOUBLE_EQ(cc.cwnd_gain(), 2.0);
    EXPECT_NEAR(cc.pacing_rate(), 0.35 * rate * 0.99, 1e-6);
}

TEST(bbr_drain, stays_while_inflight_exceeds_the_bdp) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_drain(f);
    f.round(10, mss, rate, rtt, 200'000);
    EXPECT_EQ(cc.state(), bbr_state::drain);
    f.round(10, mss, rate, rtt, 100'001);
    EXPECT_EQ(cc.state(), bbr_state::drain);
}

TEST(bbr_drain, leaves_for_probe_bw_down_once_inflight_is_at_most_the_bdp) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_drain(f);
    f.round(1, mss, rate, rtt, 100'000);
    // Left Drain into ProbeBW; the same acknowledgement may already move DOWN to CRUISE
    // (inflight is at most the BDP), which is what DOWN is waiting for.
    EXPECT_TRUE(cc.state() == bbr_state::probe_bw_down || cc.state() == bbr_state::probe_bw_cruise);
    EXPECT_NE(cc.state(), bbr_state::drain);
}

TEST(bbr_drain, entering_probe_bw_starts_a_cycle_with_a_2_to_3_s_probe_wait) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_drain(f);
    f.round(1, mss, rate, rtt, 100'000);
    const auto& m = cc.model();
    EXPECT_GE(m.bw_probe_wait, std::chrono::seconds{2});
    EXPECT_LT(m.bw_probe_wait, std::chrono::seconds{3});
    EXPECT_EQ(m.cycle_stamp, f.now);
}
