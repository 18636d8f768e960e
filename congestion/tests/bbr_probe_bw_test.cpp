#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <vector>

#include "bbr_test_support.hpp"
#include "neutrino/congestion/bbr/probe_bw.hpp"

namespace {

using bbr_test::feeder;
using bbr_test::mss;
using bbr_test::t0;
using bbr_test::to_cruise;
using neutrino::duration;
using neutrino::time_point;
using neutrino::congestion::bbr;
using neutrino::congestion::bbr_config;
using neutrino::congestion::bbr_state;
using neutrino::congestion::bbr_detail::infinite;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds rtt{100};
constexpr double rate = 1e6;  // BDP = 100 kB, 83 datagrams: Reno coexistence waits 63 rounds
constexpr std::size_t bdp = 100'000;

double expected_gain(bbr_state s) {
    switch (s) {
        case bbr_state::probe_bw_down: return 0.9;
        case bbr_state::probe_bw_cruise: return 1.0;
        case bbr_state::probe_bw_refill: return 1.0;
        case bbr_state::probe_bw_up: return 1.25;
        default: return -1.0;
    }
}

// Feeds rounds until the state differs from `from` or `limit` passes; in UP the path shows
// 1.3 BDP in flight (enough to end the probe), in ProbeRTT half a BDP, elsewhere 0.95 BDP.
// With `shrink`, each round's RTT is that much below the last, so min_rtt keeps falling and
// ProbeRTT never comes.
bbr_state run_until_change(feeder& f, bbr_state from, duration limit,
                           duration shrink = duration::zero()) {
    static duration path_rtt = rtt;
    const time_point end = f.now + limit;
    while (f.cc.state() == from && f.now < end) {
        path_rtt = shrink > duration::zero() ? path_rtt - shrink : duration{rtt};
        std::size_t in_flight = bdp * 95 / 100;  // below the BDP even as min_rtt shrinks
        if (from == bbr_state::probe_bw_up) in_flight = 130'000;
        if (from == bbr_state::probe_rtt) in_flight = bdp / 2;
        f.steady_round(rate, path_rtt, in_flight);
    }
    return f.cc.state();
}

}  // namespace

namespace {
// From start-up to ProbeBW_UP on the steady path: cruise, then refill, then up.
::testing::AssertionResult to_up(feeder& f) {
    to_cruise(f, rate, rtt);
    if (run_until_change(f, bbr_state::probe_bw_cruise, seconds{5}) != bbr_state::probe_bw_refill) {
        return ::testing::AssertionFailure() << "cruise did not lead to refill";
    }
    if (run_until_change(f, bbr_state::probe_bw_refill, seconds{5}) != bbr_state::probe_bw_up) {
        return ::testing::AssertionFailure() << "refill did not lead to up";
    }
    return ::testing::AssertionSuccess();
}
}  // namespace

TEST(bbr_probe_bw, cycles_down_cruise_refill_up_with_their_gains) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    ASSERT_EQ(cc.state(), bbr_state::probe_bw_cruise);

    std::vector<bbr_state> seen{cc.state()};
    time_point cycle_start = cc.model().cycle_stamp;
    time_point refill_at{};
    // Twelve transitions (three cycles, some 8 s); the RTT falls by 1 µs a round, so there is
    // no ProbeRTT in between.
    for (int i = 0; i < 12; ++i) {
        const bbr_state from = cc.state();
        const bbr_state to = run_until_change(f, from, seconds{5}, std::chrono::microseconds{1});
        ASSERT_NE(to, from) << "stuck in state " << static_cast<int>(from);
        seen.push_back(to);
        // Each phase paces at its gain × bw less the 1% margin, and UP's cwnd gain is 2.25.
        EXPECT_DOUBLE_EQ(cc.pacing_gain(), expected_gain(to));
        EXPECT_NEAR(cc.pacing_rate(), expected_gain(to) * cc.bottleneck_bandwidth() * 0.99, 1e-6);
        EXPECT_DOUBLE_EQ(cc.cwnd_gain(), to == bbr_state::probe_bw_up ? 2.25 : 2.0);
        if (to == bbr_state::probe_bw_refill) {
            // The probe wait is 2–3 s after the cycle started (in DOWN).
            refill_at = f.now;
            EXPECT_GE(refill_at - cycle_start, seconds{2});
            EXPECT_LE(refill_at - cycle_start, seconds{3} + rtt);
        }
        if (to == bbr_state::probe_bw_up) {
            // REFILL lasts one round.
            EXPECT_LE(f.now - refill_at, rtt + rtt / 10);
        }
        if (to == bbr_state::probe_bw_down) cycle_start = cc.model().cycle_stamp;
    }
    const std::vector<bbr_state> cycle{bbr_state::probe_bw_cruise, bbr_state::probe_bw_refill,
                                       bbr_state::probe_bw_up, bbr_state::probe_bw_down};
    for (std::size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i], cycle[i % cycle.size()]) << "transition " << i;
    }
    EXPECT_NEAR(cc.bottleneck_bandwidth(), rate, 1e-6);
    EXPECT_EQ(cc.model().inflight_hi, infinite);  // no loss, no upper bound
}

TEST(bbr_probe_bw, up_lasts_until_the_delivery_rate_stops_growing_for_three_rounds) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    ASSERT_TRUE(to_up(f));
    // The probe finds 30% more: the plateau check restarts from the higher rate.
    f.steady_round(rate, rtt, 120'000);
    f.steady_round(1.3 * rate, rtt, 120'000);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_up);
    EXPECT_DOUBLE_EQ(cc.max_bandwidth(), 1.3 * rate);
    // Then 20% more, not enough: UP ends at the third round start after the reset (the
    // round that reset counts from its own round start, which need not be its first ack).
    f.steady_round(1.56 * rate, rtt, 160'000);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_up);
    int rounds = 1;
    while (cc.state() == bbr_state::probe_bw_up && rounds < 10) {
        f.steady_round(1.56 * rate, rtt, 160'000);
        ++rounds;
    }
    EXPECT_GE(rounds, 2);
    EXPECT_LE(rounds, 3);
    // 160 kB in flight is above the new BDP (156 kB): DOWN stays.
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_down);
    EXPECT_DOUBLE_EQ(cc.max_bandwidth(), 1.56 * rate);
    EXPECT_NEAR(cc.pacing_rate(), 0.9 * 1.56 * rate * 0.99, 1e-6);
}

TEST(bbr_probe_bw, loss_above_2_percent_in_up_sets_inflight_hi_and_ends_the_probe) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    ASSERT_TRUE(to_up(f));
    // Two of 120 kB lost: 2%, not above it.
    f.lose(2, 110'000, 120'000, 0);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_up);
    EXPECT_EQ(cc.model().inflight_hi, infinite);
    // A third: 3.6 kB of 120 kB. inflight_hi is where the loss rate crossed 2%:
    // inflight_prev 118.8 kB, lost_prev 2.4 kB, no further prefix.
    f.lose(1, 110'000, 120'000, 2 * mss);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_down);
    EXPECT_DOUBLE_EQ(cc.model().inflight_hi, 118'800.0);
    // The window is capped by it in DOWN (acknowledgements with 115 kB in flight, below
    // inflight_hi, so they do not raise it; above its headroom, so DOWN goes on) ...
    f.steady_round(rate, rtt, 105'000);
    ASSERT_EQ(cc.state(), bbr_state::probe_bw_down);
    EXPECT_LE(static_cast<double>(cc.window()), 118'800.0);
    EXPECT_GT(static_cast<double>(cc.window()), 118'000.0);
    // ... and by it less 15% headroom in CRUISE.
    f.steady_round(rate, rtt, 90'000);
    ASSERT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    EXPECT_LE(static_cast<double>(cc.window()), 118'800.0 * 0.85);
}

TEST(bbr_probe_bw, an_acknowledgement_reporting_loss_above_2_percent_in_up_sets_inflight_hi) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    ASSERT_TRUE(to_up(f));
    f.round(10, 10'000, rate, rtt, 110'000, false, /*lost=*/3'000, /*tx_in_flight=*/120'000);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_down);
    EXPECT_DOUBLE_EQ(cc.model().inflight_hi, 120'000.0);
}

TEST(bbr_probe_bw, a_lossy_round_under_the_averaged_loss_thresh_keeps_the_lower_bounds) {
    // The deviation from the draft: loss averaging below 2% over about four rounds does not
    // cut bw_lo or inflight_lo (with cumulative acknowledgements their floors, bw_latest and
    // inflight_latest, stall behind every hole).
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    ASSERT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    f.round(10, 5'000, rate / 2, rtt, bdp);
    f.lose(3, bdp, bdp, 0);  // 3 of ~85 datagrams: 3.5% in one round, 0.9% over four
    f.round(10, 5'000, rate / 2, rtt, bdp);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    EXPECT_EQ(cc.model().bw_lo, infinite);
    EXPECT_EQ(cc.model().inflight_lo, infinite);
    EXPECT_DOUBLE_EQ(cc.bottleneck_bandwidth(), rate);
}

TEST(bbr_probe_bw, loss_outside_a_probe_lowers_bw_lo_and_inflight_lo_by_beta) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    ASSERT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    // A round at half the rate with losses far above LossThresh (8 of ~90 datagrams: the
    // average over four rounds passes 2%), then a round acknowledging packets sent after it.
    f.round(10, 5'000, rate / 2, rtt, bdp);
    f.lose(8, bdp, bdp, 0);
    EXPECT_EQ(cc.model().inflight_hi, infinite);  // not probing: no inflight_hi
    f.round(10, 5'000, rate / 2, rtt, bdp);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    EXPECT_DOUBLE_EQ(cc.max_bandwidth(), rate);
    EXPECT_DOUBLE_EQ(cc.model().bw_lo, 0.7 * rate);  // max(latest 0.5, 0.7 × 1.0)
    EXPECT_DOUBLE_EQ(cc.bottleneck_bandwidth(), 0.7 * rate);
    EXPECT_NEAR(cc.pacing_rate(), 0.7 * rate * 0.99, 1e-6);
    EXPECT_LT(cc.model().inflight_lo, infinite);
    // REFILL forgets the lower bounds.
    ASSERT_EQ(run_until_change(f, bbr_state::probe_bw_cruise, seconds{5}),
              bbr_state::probe_bw_refill);
    EXPECT_EQ(cc.model().bw_lo, infinite);
    EXPECT_DOUBLE_EQ(cc.bottleneck_bandwidth(), rate);
}

TEST(bbr_probe_bw, the_probe_wait_comes_from_the_seed) {
    auto wait_for = [](std::uint64_t seed) {
        bbr_config config;
        config.seed = seed;
        bbr cc{config, t0};
        feeder f{cc};
        to_cruise(f, rate, rtt);
        return cc.model().bw_probe_wait;
    };
    EXPECT_EQ(wait_for(1), wait_for(1));
    EXPECT_EQ(wait_for(7), wait_for(7));
    bool differs = false;
    for (std::uint64_t seed = 2; seed < 10; ++seed) {
        const duration w = wait_for(seed);
        EXPECT_GE(w, seconds{2});
        EXPECT_LT(w, seconds{3});
        differs = differs || w != wait_for(1);
    }
    EXPECT_TRUE(differs);
}

TEST(bbr_probe_bw, probes_sooner_on_a_small_bdp_for_reno_coexistence) {
    // BDP of 12 datagrams: a probe at most every 12 rounds (1.2 s at 100 ms) instead of 2–3 s.
    constexpr double slow = 144'000.0;
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, slow, rtt);
    ASSERT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    const time_point start = cc.model().cycle_stamp;
    while (cc.state() == bbr_state::probe_bw_cruise && f.now < start + seconds{5}) {
        f.steady_round(slow, rtt, 14'400);
    }
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_refill);
    EXPECT_LE(f.now - start, milliseconds{1'400});
}
