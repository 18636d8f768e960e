#include <gtest/gtest.h>

#include <chrono>

#include "neutrino/congestion/bbr/model.hpp"

namespace {

using neutrino::time_point;
using neutrino::congestion::ack_sample;
using neutrino::congestion::bbr_config;
using neutrino::congestion::bbr_state;
using neutrino::congestion::bbr_detail::max_bw_filter;
using neutrino::congestion::bbr_detail::model;
using neutrino::congestion::bbr_detail::round_max_filter;
using neutrino::congestion::bbr_detail::xorshift64;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr time_point t0 = time_point{} + seconds{100};

ack_sample sample(time_point now, std::uint64_t delivered, std::uint64_t interval_delivered,
                  double rate, milliseconds rtt) {
    ack_sample s;
    s.bytes = 1200;
    s.now = now;
    s.delivered = delivered;
    s.interval_delivered = interval_delivered;
    s.delivery_rate_bytes_per_s = rate;
    s.rtt = rtt;
    s.interval = rtt;
    return s;
}

}  // namespace

TEST(bbr_model, max_bw_filter_spans_two_cycles) {
    max_bw_filter f;
    EXPECT_EQ(f.get(), 0.0);
    f.update(100.0);
    f.update(80.0);
    EXPECT_EQ(f.get(), 100.0);
    f.advance();  // the 100 is now in the previous cycle: still counted
    f.update(50.0);
    EXPECT_EQ(f.get(), 100.0);
    f.advance();  // two cycles later it is gone
    EXPECT_EQ(f.get(), 50.0);
    f.advance();
    EXPECT_EQ(f.get(), 0.0);
}

TEST(bbr_model, round_max_filter_forgets_after_its_window) {
    round_max_filter<10> f;
    f.update(7.0, 1);
    f.update(3.0, 5);
    EXPECT_EQ(f.get(), 7.0);
    f.update(2.0, 10);
    EXPECT_EQ(f.get(), 7.0);  // round 1 is within the last 10 rounds of round 10
    f.update(1.0, 11);
    EXPECT_EQ(f.get(), 3.0);  // round 1 left the window
    f.update(0.5, 100);
    EXPECT_EQ(f.get(), 0.5);  // a long gap clears everything
}

TEST(bbr_model, xorshift_is_reproducible_and_in_range) {
    xorshift64 a{42};
    xorshift64 b{42};
    xorshift64 c{43};
    bool differs = false;
    for (int i = 0; i < 1000; ++i) {
        const double u = a.next_unit();
        EXPECT_GE(u, 0.0);
        EXPECT_LT(u, 1.0);
        EXPECT_EQ(u, b.next_unit());
        differs = differs || c.next_unit() != u;
        EXPECT_LT(a.next_below(2), 2U);
        b.next_below(2);
    }
    EXPECT_TRUE(differs);
    xorshift64 zero{0};
    EXPECT_NE(zero.next(), 0U);
}

TEST(bbr_model, rounds_start_when_a_packet_sent_after_the_round_start_is_acknowledged) {
    model m{bbr_config{}, t0};
    // First acknowledgement: prior_delivered 0 >= next_round_delivered 0.
    m.begin_ack(sample(t0, 1200, 1200, 1e6, milliseconds{50}));
    m.update_round();
    EXPECT_TRUE(m.round_start);
    EXPECT_EQ(m.round_count, 1U);
    EXPECT_EQ(m.next_round_delivered, 1200U);
    // A packet sent before that (prior_delivered 0) does not end the round.
    m.begin_ack(sample(t0, 2400, 2400, 1e6, milliseconds{50}));
    m.update_round();
    EXPECT_FALSE(m.round_start);
    // One sent after it (prior_delivered 1200) does.
    m.begin_ack(sample(t0, 3600, 2400, 1e6, milliseconds{50}));
    m.update_round();
    EXPECT_TRUE(m.round_start);
    EXPECT_EQ(m.round_count, 2U);
    // No rate sample: no round.
    m.begin_ack(sample(t0, 9600, 0, 0.0, milliseconds{50}));
    m.update_round();
    EXPECT_FALSE(m.round_start);
}

TEST(bbr_model, app_limited_samples_only_raise_max_bw) {
    model m{bbr_config{}, t0};
    auto s = sample(t0, 1200, 1200, 1e6, milliseconds{50});
    m.begin_ack(s);
    m.update_max_bw();
    EXPECT_EQ(m.max_bw, 1e6);
    s = sample(t0, 2400, 1200, 2e6, milliseconds{50});
    s.app_limited = true;
    m.begin_ack(s);
    m.update_max_bw();
    EXPECT_EQ(m.max_bw, 2e6);  // app-limited but higher: taken
    m.advance_max_bw_filter();
    s = sample(t0, 3600, 1200, 1.5e6, milliseconds{50});
    s.app_limited = true;
    m.begin_ack(s);
    m.update_max_bw();
    EXPECT_EQ(m.max_bw, 2e6);
    m.advance_max_bw_filter();
    EXPECT_EQ(m.max_bw, 0.0);  // the app-limited 1.5e6 was not taken into the new cycle
}

TEST(bbr_model, min_rtt_expires_after_10_s_and_probe_rtt_after_5_s) {
    model m{bbr_config{}, t0};
    m.begin_ack(sample(t0, 1200, 1200, 1e6, milliseconds{50}));
    m.update_min_rtt();
    EXPECT_EQ(m.min_rtt, milliseconds{50});
    EXPECT_FALSE(m.probe_rtt_expired);
    // Larger samples do not replace it, and do not refresh the ProbeRTT clock.
    m.begin_ack(sample(t0 + seconds{4}, 2400, 1200, 1e6, milliseconds{80}));
    m.update_min_rtt();
    EXPECT_EQ(m.min_rtt, milliseconds{50});
    EXPECT_FALSE(m.probe_rtt_expired);
    m.begin_ack(sample(t0 + seconds{5} + milliseconds{1}, 3600, 1200, 1e6, milliseconds{80}));
    m.update_min_rtt();
    EXPECT_TRUE(m.probe_rtt_expired);        // 5 s: time for ProbeRTT
    EXPECT_EQ(m.min_rtt, milliseconds{50});  // but min_rtt stands for 10 s
    m.begin_ack(sample(t0 + seconds{10} + std::chrono::microseconds{500}, 4800, 1200, 1e6,
                       milliseconds{90}));
    m.update_min_rtt();
    EXPECT_EQ(m.min_rtt, milliseconds{80});  // expired: replaced by the ProbeRTT minimum
}

TEST(bbr_model, bdp_quantization_and_send_quantum) {
    model m{bbr_config{}, t0};
    EXPECT_EQ(m.bdp_multiple(1e6, 2.0), 12'000.0);  // no min_rtt yet: InitialCwnd
    m.min_rtt = milliseconds{100};
    EXPECT_DOUBLE_EQ(m.bdp_multiple(1e6, 2.0), 200'000.0);
    // The offload budget (3 send quanta of 2 SMSS) exceeds BBRMinPipeCwnd (4 SMSS).
    EXPECT_DOUBLE_EQ(m.quantization_budget(100.0), 3.0 * 2400.0);
    m.pacing_rate = 1e7;
    m.set_send_quantum();
    EXPECT_DOUBLE_EQ(m.send_quantum, 10'000.0);  // 1 ms at 10 MB/s
    m.pacing_rate = 1e9;
    m.set_send_quantum();
    EXPECT_DOUBLE_EQ(m.send_quantum, 65'536.0);
    m.pacing_rate = 1e3;
    m.set_send_quantum();
    EXPECT_DOUBLE_EQ(m.send_quantum, 2400.0);
    m.state = bbr_state::probe_bw_up;
    EXPECT_DOUBLE_EQ(m.quantization_budget(100'000.0), 100'000.0 + 2400.0);
}

TEST(bbr_model, loss_lower_bounds_back_off_by_beta_but_keep_the_latest_delivery) {
    model m{bbr_config{}, t0};
    m.max_bw = 1e6;
    m.cwnd = 100'000.0;
    m.bw_latest = 0.5e6;
    m.inflight_latest = 80'000.0;
    m.init_lower_bounds();
    m.loss_lower_bounds();
    EXPECT_DOUBLE_EQ(m.bw_lo, 0.7e6);
    EXPECT_DOUBLE_EQ(m.inflight_lo, 80'000.0);  // max(latest 80000, 0.7 × 100000)
    m.reset_lower_bounds();
    EXPECT_EQ(m.bw_lo, neutrino::congestion::bbr_detail::infinite);
}
