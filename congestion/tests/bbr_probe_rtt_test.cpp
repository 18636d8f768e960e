#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>

#include "bbr_test_support.hpp"
#include "neutrino/congestion/bbr/probe_rtt.hpp"

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
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds rtt{100};
constexpr double rate = 1e6;  // BDP = 100 kB
constexpr std::size_t bdp = 100'000;

// In-flight bytes a path at `rate` shows in each state (UP queues 1.3 BDP; ProbeRTT has
// drained to half a BDP).
std::size_t in_flight_for(bbr_state s) {
    if (s == bbr_state::probe_bw_up) return 130'000;
    if (s == bbr_state::probe_rtt) return bdp / 2;
    return 95'000;
}

// Runs steady rounds at a constant RTT (never below the first sample) until ProbeRTT; returns
// when it was entered.
time_point run_to_probe_rtt(feeder& f) {
    const time_point limit = f.now + seconds{20};
    while (f.now < limit) {
        const std::size_t acks = 10;
        const auto per_ack = bdp / acks;
        f.round(acks, per_ack, rate, rtt, in_flight_for(f.cc.state()));
        if (f.cc.state() == bbr_state::probe_rtt) return f.now;
    }
    return time_point::max();
}

}  // namespace

TEST(bbr_probe_rtt, entered_5_s_after_the_last_new_minimum) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    const time_point first_sample = t0 + rtt / 10;  // the minimum: 100 ms, never beaten
    const time_point entered = run_to_probe_rtt(f);
    EXPECT_GT(entered, first_sample + seconds{5});
    EXPECT_LE(entered, first_sample + seconds{5} + rtt);
    EXPECT_EQ(cc.min_rtt(), rtt);  // min_rtt itself has not expired (10 s)
}

TEST(bbr_probe_rtt, a_controller_built_without_a_time_counts_from_its_first_input_not_the_epoch) {
    // The reliable layer builds its controller from sender_limits, before it has a time; a
    // steady clock's epoch is the machine's boot, hours before the first sample. Measured in
    // the bottleneck lab: BBR went to ProbeRTT on its first acknowledgement and left Startup
    // with a bandwidth of 1.2 Mbit/s on a 100 Mbit/s path.
    bbr cc{neutrino::congestion::sender_limits{.max_datagram_size = bbr_config{}.max_datagram_size}};
    feeder f{cc};
    f.now = t0 + std::chrono::hours{18};
    cc.on_sent(mss, f.now);
    const time_point first_sample = f.now + rtt / 10;
    to_cruise(f, rate, rtt);
    EXPECT_NE(cc.state(), bbr_state::startup);
    EXPECT_GT(cc.bottleneck_bandwidth(), 0.9 * rate);
    const time_point entered = run_to_probe_rtt(f);
    EXPECT_GT(entered, first_sample + seconds{5});
    EXPECT_LE(entered, first_sample + seconds{5} + rtt);
}

TEST(bbr_probe_rtt, a_falling_rtt_postpones_probe_rtt) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    duration path_rtt = rtt;
    while (f.now < t0 + seconds{12}) {
        path_rtt -= std::chrono::microseconds{1};
        f.steady_round(rate, path_rtt, 90'000);
        ASSERT_NE(cc.state(), bbr_state::probe_rtt);
    }
    EXPECT_LT(cc.min_rtt(), rtt);
}

TEST(bbr_probe_rtt, holds_half_a_bdp_for_200_ms_and_a_round_then_returns_to_cruise) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    ASSERT_NE(run_to_probe_rtt(f), time_point::max());
    const std::size_t window_before = static_cast<std::size_t>(cc.model().prior_cwnd);
    EXPECT_GE(window_before, 2 * bdp);
    EXPECT_DOUBLE_EQ(cc.pacing_gain(), 1.0);
    // Inflight above half a BDP: the window is bounded at 0.5 × BDP, and the 200 ms have not
    // started.
    f.steady_round(rate, rtt, 90'000);
    EXPECT_EQ(cc.state(), bbr_state::probe_rtt);
    EXPECT_EQ(cc.window(), bdp / 2);
    EXPECT_FALSE(cc.model().has_probe_rtt_done_stamp);
    // Inflight down to half a BDP: 200 ms and a round from now.
    f.round(1, 10'000, rate, rtt, bdp / 2);
    ASSERT_TRUE(cc.model().has_probe_rtt_done_stamp);
    const time_point drained = f.now;
    EXPECT_EQ(cc.model().probe_rtt_done_stamp, drained + milliseconds{200});
    time_point left{};
    while (f.now < drained + seconds{1}) {
        f.round(10, 5'000, rate, rtt, bdp / 2);
        if (cc.state() == bbr_state::probe_rtt) {
            EXPECT_EQ(cc.window(), bdp / 2);
        } else {
            // It left on some acknowledgement of this round, and restarted the ProbeRTT
            // clock there: the next ProbeRTT is due 5 s after leaving, not after entering.
            left = cc.model().probe_rtt_min_stamp;
            EXPECT_LE(left, f.now);
            EXPECT_GT(left, f.now - rtt);
            break;
        }
    }
    ASSERT_NE(left, time_point{});
    EXPECT_GT(left, drained + milliseconds{200});
    EXPECT_LE(left, drained + milliseconds{300});
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_cruise);
    EXPECT_GE(cc.window(), window_before);  // the saved window is back
}

TEST(bbr_probe_rtt, waits_for_a_round_even_after_200_ms) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    ASSERT_NE(run_to_probe_rtt(f), time_point::max());
    // One long "round" of 40 acknowledgements over 400 ms, all of packets sent before the
    // 200 ms started: no new round, so ProbeRTT goes on.
    f.round(40, 1'250, rate, milliseconds{400}, bdp / 2);
    ASSERT_TRUE(cc.model().has_probe_rtt_done_stamp);
    EXPECT_GT(f.now, cc.model().probe_rtt_done_stamp);
    EXPECT_EQ(cc.state(), bbr_state::probe_rtt);
    // Packets sent after it: the round ends, and ProbeRTT with it.
    f.round(40, 1'250, rate, milliseconds{400}, bdp / 2);
    EXPECT_EQ(cc.state(), bbr_state::probe_bw_cruise);
}

TEST(bbr_probe_rtt, before_the_pipe_is_full_returns_to_startup) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    // App-limited rounds keep Startup from ever judging the pipe full.
    while (f.now < t0 + seconds{6} && cc.state() != bbr_state::probe_rtt) {
        f.round(10, 1'000, 1e5, rtt, 5'000, /*app_limited=*/true);
    }
    ASSERT_EQ(cc.state(), bbr_state::probe_rtt);
    f.round(10, 1'000, 1e5, rtt, 4'000, true);
    for (int i = 0; i < 4 && cc.state() == bbr_state::probe_rtt; ++i) {
        f.round(10, 1'000, 1e5, rtt, 4'000, true);
    }
    EXPECT_EQ(cc.state(), bbr_state::startup);
    EXPECT_DOUBLE_EQ(cc.pacing_gain(), 2.77);
}

TEST(bbr_probe_rtt, not_entered_right_after_an_idle_restart) {
    bbr cc{bbr_config{}, t0};
    feeder f{cc};
    to_cruise(f, rate, rtt);
    // Idle from 1 s to 6 s: the ProbeRTT interval passed while nothing was sent.
    f.now = t0 + seconds{6};
    cc.on_idle_restart(f.now);
    // The first acknowledgement after the restart carries a fresh minimum (the path was idle),
    // but even an equal one does not start ProbeRTT while idle_restart is set.
    {
        neutrino::congestion::ack_sample s;
        s.bytes = mss;
        s.rtt = rtt;
        s.now = f.now + rtt;
        s.bytes_in_flight = 0;
        cc.on_acknowledged(s);  // no rate sample: delivered 0, idle_restart stays set
        EXPECT_NE(cc.state(), bbr_state::probe_rtt);
    }
}
