#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdio>

#include "bbr_test_support.hpp"
#include "neutrino/congestion/bbr.hpp"

namespace {

using bbr_test::mss;
using bbr_test::path_sim;
using bbr_test::t0;
using neutrino::duration;
using neutrino::time_point;
using neutrino::congestion::bbr;
using neutrino::congestion::bbr_config;
using neutrino::congestion::bbr_state;
using neutrino::congestion::congestion_controller;
using std::chrono::milliseconds;
using std::chrono::seconds;

static_assert(congestion_controller<bbr>);

constexpr double bottleneck = 1.25e6;  // 10 Mbit/s
constexpr milliseconds base_rtt{40};   // BDP 50 kB, about 42 datagrams

double seconds_of(duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

TEST(bbr_simulation, converges_to_the_bottleneck_with_a_window_of_two_bdp) {
    bbr cc{bbr_config{}, t0};
    path_sim sim{cc, bottleneck, base_rtt};
    bool seen_drain = false;
    bool seen[7] = {};
    double min_bw_after = 1e300;
    double max_bw_after = 0.0;
    std::size_t cruise_samples = 0;
    double worst_cruise_ratio_low = 1e300;
    double worst_cruise_ratio_high = 0.0;
    sim.run_until(t0 + seconds{20}, [&](const bbr& c, time_point now) {
        seen[static_cast<int>(c.state())] = true;
        seen_drain = seen_drain || c.state() == bbr_state::drain;
        if (now < t0 + seconds{2}) return;
        min_bw_after = std::min(min_bw_after, c.bottleneck_bandwidth());
        max_bw_after = std::max(max_bw_after, c.bottleneck_bandwidth());
        if (c.state() == bbr_state::probe_bw_cruise) {
            // The controller's own BDP (its bw × min_rtt) and the window it allows.
            const double bdp = c.bottleneck_bandwidth() * seconds_of(c.min_rtt());
            const double ratio = static_cast<double>(c.window()) / bdp;
            worst_cruise_ratio_low = std::min(worst_cruise_ratio_low, ratio);
            worst_cruise_ratio_high = std::max(worst_cruise_ratio_high, ratio);
            ++cruise_samples;
        }
    });
    // Through Startup and Drain into every ProbeBW phase, and ProbeRTT (every 5 s: the RTT
    // never falls below the first sample).
    for (int s = 0; s < 7; ++s) EXPECT_TRUE(seen[s]) << "state " << s << " never seen";
    // The bandwidth estimate stays within 2% of the bottleneck once Startup is over.
    EXPECT_GE(min_bw_after, bottleneck * 0.98);
    EXPECT_LE(max_bw_after, bottleneck * 1.02);
    // min_rtt: the base RTT plus one datagram's serialization.
    EXPECT_GE(cc.min_rtt(), base_rtt);
    EXPECT_LE(cc.min_rtt(), base_rtt + milliseconds{2});
    // In CRUISE the window is 2 × BDP plus the ACK-aggregation allowance (a datagram or two
    // on this smooth path).
    ASSERT_GT(cruise_samples, 100U);
    EXPECT_GE(worst_cruise_ratio_low, 1.98);
    EXPECT_LE(worst_cruise_ratio_high, 2.15);
    // The path was used: at least 85% of 20 s at the bottleneck rate was delivered.
    EXPECT_GE(static_cast<double>(sim.delivered), 0.85 * bottleneck * 20.0);
}

TEST(bbr_simulation, probe_rtt_on_the_path_drains_to_half_a_bdp_and_returns) {
    bbr cc{bbr_config{}, t0};
    path_sim sim{cc, bottleneck, base_rtt};
    time_point entered{};
    time_point left{};
    std::size_t max_window_in_probe_rtt = 0;
    bbr_state before = cc.state();
    bbr_state after_exit = cc.state();
    sim.run_until(t0 + seconds{8}, [&](const bbr& c, time_point now) {
        if (c.state() == bbr_state::probe_rtt) {
            if (entered == time_point{}) entered = now;
            max_window_in_probe_rtt = std::max(max_window_in_probe_rtt, c.window());
        } else if (before == bbr_state::probe_rtt && left == time_point{}) {
            left = now;
            after_exit = c.state();
        }
        before = c.state();
    });
    ASSERT_NE(entered, time_point{});
    ASSERT_NE(left, time_point{});
    EXPECT_GT(entered, t0 + seconds{5});
    EXPECT_GE(left - entered, milliseconds{200});
    EXPECT_LE(left - entered, milliseconds{200} + 4 * base_rtt);
    const double bdp = bottleneck * seconds_of(cc.min_rtt());
    EXPECT_LE(static_cast<double>(max_window_in_probe_rtt), 0.5 * bdp + 1.0);
    EXPECT_EQ(after_exit, bbr_state::probe_bw_cruise);
}

TEST(bbr_simulation, runs_are_reproducible_for_a_seed) {
    auto run = [](std::uint64_t seed) {
        bbr_config config;
        config.seed = seed;
        bbr cc{config, t0};
        path_sim sim{cc, bottleneck, base_rtt};
        std::uint64_t transitions = 0;
        bbr_state last = cc.state();
        sim.run_until(t0 + seconds{10}, [&](const bbr& c, time_point) {
            if (c.state() != last) ++transitions;
            last = c.state();
        });
        return std::pair{sim.delivered, transitions};
    };
    EXPECT_EQ(run(5), run(5));
}
