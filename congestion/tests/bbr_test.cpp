#include "neutrino/congestion/bbr.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "bbr_test_support.hpp"

namespace {

using bbr_test::feeder;
using bbr_test::mss;
using bbr_test::t0;
using bbr_test::to_cruise;
using neutrino::congestion::ack_sample;
using neutrino::congestion::bbr;
using neutrino::congestion::bbr_config;
using neutrino::congestion::bbr_state;
using neutrino::congestion::congestion_controller;
using std::chrono::milliseconds;

static_assert(congestion_controller<bbr>);

constexpr milliseconds rtt{100};
constexpr double rate = 1e6;

}  // namespace

TEST(bbr, an_acknowledgement_without_a_rate_sample_grows_the_window_but_counts_no_round) {
    bbr cc{bbr_config{}, t0};
    ack_sample s;
    s.bytes = mss;
    s.rtt = rtt;
    s.now = t0 + rtt;
    s.delivered = mss;  // interval_delivered 0: no rate sample
    cc.on_acknowledged(s);
    EXPECT_EQ(cc.window(), 11 * mss);
    EXPECT_EQ(cc.model().round_count, 0U);
    EXPECT_EQ(cc.max_bandwidth(), 0.0);
    EXPECT_EQ(cc.min_rtt(), rtt);
}

TEST(bbr, persistent_congestion_collapses_the_window_to_four_datagrams) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    ASSERT_GT(cc.window(), 100'000U);
    cc.on_persistent_congestion(f.now);
    EXPECT_EQ(cc.window(), 4 * mss);
    EXPECT_FALSE(cc.can_send(4 * mss, f.now));
    EXPECT_TRUE(cc.can_send(4 * mss - 1, f.now));
}

TEST(bbr, an_idle_restart_in_probe_bw_paces_at_the_estimated_bandwidth) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    // Leave CRUISE for DOWN (pacing gain 0.9) by way of a probe.
    while (cc.state() != bbr_state::probe_bw_down) {
        f.steady_round(rate, rtt, cc.state() == bbr_state::probe_bw_up ? 130'000 : 105'000);
    }
    ASSERT_NEAR(cc.pacing_rate(), 0.9 * rate * 0.99, 1e-6);
    cc.on_idle_restart(f.now + milliseconds{500});
    EXPECT_NEAR(cc.pacing_rate(), rate * 0.99, 1e-6);
}

TEST(bbr, equal_inputs_give_equal_outputs) {
    auto run = [] {
        bbr cc{bbr_config{}, t0};
        feeder f{cc};
        to_cruise(f, rate, rtt);
        for (int i = 0; i < 80; ++i) {
            f.steady_round(rate, rtt, cc.state() == bbr_state::probe_bw_up ? 130'000 : 95'000);
        }
        return std::tuple{cc.window(), cc.pacing_rate(), cc.state(), cc.model().bw_probe_wait};
    };
    EXPECT_EQ(run(), run());
}
