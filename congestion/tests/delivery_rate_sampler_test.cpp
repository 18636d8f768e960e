#include "neutrino/congestion/delivery_rate_sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace {

using neutrino::duration;
using neutrino::time_point;
using neutrino::congestion::ack_sample;
using neutrino::congestion::delivery_rate_sampler;
using neutrino::congestion::loss_sample;
using neutrino::congestion::packet_rate_state;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace std::chrono_literals;

constexpr time_point t0 = time_point{} + seconds{100};
constexpr std::size_t mss = 1200;

// Every input and output is noexcept: they run per packet.
static_assert(noexcept(std::declval<delivery_rate_sampler&>().on_sent(mss, 0, t0)));
static_assert(noexcept(std::declval<delivery_rate_sampler&>().on_acknowledged(
    std::declval<const packet_rate_state&>(), mss, t0)));
static_assert(noexcept(std::declval<delivery_rate_sampler&>().on_lost(mss)));
static_assert(noexcept(std::declval<delivery_rate_sampler&>().mark_app_limited(mss)));
static_assert(noexcept(std::declval<delivery_rate_sampler&>().generate(std::declval<ack_sample&>(),
                                                                       duration::zero())));
static_assert(noexcept(std::declval<const delivery_rate_sampler&>().fill(
    std::declval<loss_sample&>(), std::declval<const packet_rate_state&>())));

// One acknowledgement covering one packet; returns the finished sample.
ack_sample ack_one(delivery_rate_sampler& s, const packet_rate_state& p, time_point now,
                   duration min_rtt = duration::zero()) {
    s.on_acknowledged(p, mss, now);
    ack_sample a;
    s.generate(a, min_rtt);
    return a;
}

}  // namespace

TEST(delivery_rate_sampler, on_sent_records_the_connection_state) {
    delivery_rate_sampler s;
    const packet_rate_state a = s.on_sent(mss, 0, t0);
    EXPECT_EQ(a.sent_time, t0);
    EXPECT_EQ(a.delivered, 0U);
    EXPECT_EQ(a.delivered_time, t0);  // nothing in flight: the intervals start here
    EXPECT_EQ(a.first_send_time, t0);
    EXPECT_FALSE(a.is_app_limited);
    EXPECT_EQ(a.tx_in_flight, mss);
    EXPECT_EQ(a.lost, 0U);

    const packet_rate_state b = s.on_sent(500, mss, t0 + milliseconds{1});
    EXPECT_EQ(b.sent_time, t0 + milliseconds{1});
    EXPECT_EQ(b.delivered_time, t0);  // something was in flight: no restart
    EXPECT_EQ(b.first_send_time, t0);
    EXPECT_EQ(b.tx_in_flight, mss + 500);
}

// A sender with a window larger than the path's BDP, ack-clocked through a bottleneck: once the
// first window is acknowledged, every sample measures the bottleneck rate.
TEST(delivery_rate_sampler, steady_flight_measures_the_bottleneck_rate) {
    constexpr double bottleneck = 1.2e6;            // bytes/s: one 1200-byte packet per ms
    constexpr duration service = milliseconds{1};   // per packet at the bottleneck
    constexpr duration one_way = milliseconds{10};  // propagation each way: min RTT 21 ms
    constexpr std::size_t window = 40;              // packets; the BDP is about 21

    struct in_flight_packet {
        packet_rate_state state;
        time_point ack_time;
    };
    std::deque<in_flight_packet> flight;
    time_point bottleneck_free = t0;
    delivery_rate_sampler s;
    const auto send = [&](time_point now) {
        const packet_rate_state p = s.on_sent(mss, flight.size() * mss, now);
        const time_point departure = std::max(now + one_way, bottleneck_free) + service;
        bottleneck_free = departure;
        flight.push_back({p, departure + one_way});
    };

    // The first window leaves back to back, 10 µs apart.
    for (std::size_t i = 0; i < window; ++i) send(t0 + i * microseconds{10});
    std::size_t valid = 0;
    for (std::size_t acked = 0; acked < 600; ++acked) {
        const in_flight_packet p = flight.front();
        flight.pop_front();
        s.on_acknowledged(p.state, mss, p.ack_time);
        ack_sample a;
        const bool ok = s.generate(a, milliseconds{21});
        EXPECT_EQ(a.delivered, (acked + 1) * mss);
        if (acked >= 2 * window) {
            ASSERT_TRUE(ok) << "ack " << acked;
            EXPECT_NEAR(a.delivery_rate_bytes_per_s, bottleneck, bottleneck * 0.01)
                << "ack " << acked;
            EXPECT_FALSE(a.app_limited);
            EXPECT_EQ(a.interval_delivered, window * mss);
            EXPECT_EQ(a.tx_in_flight, window * mss);
            ++valid;
        }
        send(p.ack_time);  // ack-clocked: one new packet per packet acknowledged
    }
    EXPECT_EQ(valid, 600 - 2 * window);
}

namespace {

// Ten packets Q0..Q9 sent 1 ms apart from t0, each acknowledged 100 ms after it was sent; each
// acknowledgement releases one packet P_i at once. So P_i is sent at t0 + 100 + i ms with
// P_i.delivered = i + 1 packets, P_i.delivered_time = its own send time and
// P_i.first_send_time = Q_i's send time (t0 + i ms): its send interval is 100 ms.
struct two_flights {
    delivery_rate_sampler s;
    std::vector<packet_rate_state> p;

    two_flights() {
        std::vector<packet_rate_state> q;
        for (std::size_t i = 0; i < 10; ++i) q.push_back(s.on_sent(mss, i * mss, t0 + i * 1ms));
        for (std::size_t i = 0; i < 10; ++i) {
            const time_point now = t0 + 100ms + i * 1ms;
            const ack_sample a = ack_one(s, q[i], now);
            // Q_i was sent i ms after the flight began and acknowledged 100 + i ms after it.
            EXPECT_EQ(a.interval, 100ms + i * 1ms);
            EXPECT_EQ(a.interval_delivered, (i + 1) * mss);
            p.push_back(s.on_sent(mss, 9 * mss, now));
        }
    }

    // One acknowledgement at `now` covering every P_i, reported in `order`.
    ack_sample ack_all(time_point now, const std::vector<std::size_t>& order,
                       duration min_rtt = duration::zero(), bool* valid = nullptr) {
        for (const std::size_t i : order) s.on_acknowledged(p[i], mss, now);
        ack_sample a;
        const bool ok = s.generate(a, min_rtt);
        if (valid != nullptr) *valid = ok;
        return a;
    }
};

const std::vector<std::size_t> forward = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
const std::vector<std::size_t> backward = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};

}  // namespace

// All of P's acknowledgements arrive together 11 ms after P_9 was sent (ack compression): over
// its ack interval alone the rate would be 12000 B / 11 ms; the send interval (100 ms) bounds it.
TEST(delivery_rate_sampler, interval_is_the_longer_of_send_and_ack_elapsed) {
    two_flights f;
    bool valid = false;
    const ack_sample a = f.ack_all(t0 + 120ms, forward, duration::zero(), &valid);
    EXPECT_TRUE(valid);
    EXPECT_EQ(a.delivered, 20 * mss);
    EXPECT_EQ(a.interval_delivered, 10 * mss);  // C.delivered − P_9.delivered
    EXPECT_EQ(a.interval, 100ms);               // send elapsed, not ack elapsed (11 ms)
    EXPECT_DOUBLE_EQ(a.delivery_rate_bytes_per_s, 12000.0 / 0.1);
    EXPECT_EQ(a.tx_in_flight, 10 * mss);

    // Acknowledgements held back instead: the ack interval (300 − 109 = 191 ms) is the longer.
    two_flights g;
    const ack_sample b = g.ack_all(t0 + 300ms, forward);
    EXPECT_EQ(b.interval, 191ms);
    EXPECT_DOUBLE_EQ(b.delivery_rate_bytes_per_s, 12000.0 / 0.191);
}

TEST(delivery_rate_sampler, sample_comes_from_the_newest_packet_whatever_the_report_order) {
    two_flights f;
    two_flights g;
    const ack_sample a = f.ack_all(t0 + 120ms, forward);
    const ack_sample b = g.ack_all(t0 + 120ms, backward);
    EXPECT_EQ(b.interval, a.interval);
    EXPECT_EQ(b.interval_delivered, a.interval_delivered);
    EXPECT_DOUBLE_EQ(b.delivery_rate_bytes_per_s, a.delivery_rate_bytes_per_s);
    // The newest (P_9) sets C.first_send_time, whatever the order.
    EXPECT_EQ(f.s.first_send_time(), t0 + 109ms);
    EXPECT_EQ(g.s.first_send_time(), t0 + 109ms);

    // Equal delivered counts: the later send wins. Two packets sent 5 ms apart with nothing
    // acknowledged between, acknowledged together, the newer reported first.
    delivery_rate_sampler s;
    const packet_rate_state x = s.on_sent(mss, 0, t0);
    const packet_rate_state y = s.on_sent(mss, mss, t0 + 5ms);
    ASSERT_EQ(x.delivered, y.delivered);
    s.on_acknowledged(y, mss, t0 + 50ms);
    s.on_acknowledged(x, mss, t0 + 50ms);
    ack_sample c;
    ASSERT_TRUE(s.generate(c));
    EXPECT_EQ(c.tx_in_flight, 2 * mss);  // y's
    EXPECT_EQ(s.first_send_time(), t0 + 5ms);
}

TEST(delivery_rate_sampler, refuses_an_interval_shorter_than_min_rtt) {
    two_flights f;
    bool valid = true;
    const ack_sample a = f.ack_all(t0 + 120ms, forward, 150ms, &valid);
    EXPECT_FALSE(valid);
    EXPECT_EQ(a.delivery_rate_bytes_per_s, 0.0);
    EXPECT_EQ(a.interval, duration::zero());
    // What the acknowledged packet says is still reported.
    EXPECT_EQ(a.interval_delivered, 10 * mss);
    EXPECT_EQ(a.tx_in_flight, 10 * mss);
    EXPECT_EQ(a.delivered, 20 * mss);

    // Exactly min_rtt is accepted.
    two_flights g;
    g.ack_all(t0 + 120ms, forward, 100ms, &valid);
    EXPECT_TRUE(valid);

    // A zero interval has no rate.
    delivery_rate_sampler s;
    const packet_rate_state p = s.on_sent(mss, 0, t0);
    s.on_acknowledged(p, mss, t0);
    ack_sample b;
    EXPECT_FALSE(s.generate(b));
    EXPECT_EQ(b.delivery_rate_bytes_per_s, 0.0);
    EXPECT_EQ(b.interval_delivered, mss);
}

TEST(delivery_rate_sampler, generate_without_an_acknowledged_packet_has_no_sample) {
    delivery_rate_sampler s;
    const packet_rate_state p = s.on_sent(mss, 0, t0);
    ack_sample a = ack_one(s, p, t0 + 10ms);
    ASSERT_GT(a.delivery_rate_bytes_per_s, 0.0);

    // The next acknowledgement covers nothing new (e.g. only a duplicate): stale fields are
    // cleared, the sender's own fields are left alone.
    a.bytes = 7;
    a.rtt = 3ms;
    a.bytes_in_flight = 11;
    EXPECT_FALSE(s.generate(a));
    EXPECT_EQ(a.delivered, mss);
    EXPECT_EQ(a.delivery_rate_bytes_per_s, 0.0);
    EXPECT_EQ(a.interval, duration::zero());
    EXPECT_EQ(a.interval_delivered, 0U);
    EXPECT_EQ(a.tx_in_flight, 0U);
    EXPECT_EQ(a.lost, 0U);
    EXPECT_FALSE(a.app_limited);
    EXPECT_EQ(a.bytes, 7U);
    EXPECT_EQ(a.rtt, 3ms);
    EXPECT_EQ(a.bytes_in_flight, 11U);
}

TEST(delivery_rate_sampler, app_limited_marks_samples_until_the_bubble_is_acknowledged) {
    delivery_rate_sampler s;
    std::vector<packet_rate_state> p;
    const auto send = [&](std::size_t in_flight_packets, time_point now) {
        p.push_back(s.on_sent(mss, in_flight_packets * mss, now));
    };
    for (std::size_t i = 0; i < 10; ++i) send(i, t0 + i * 1ms);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_FALSE(ack_one(s, p[i], t0 + 50ms + i * 1ms).app_limited);
    }

    // 5 packets delivered, 5 in flight: the bubble ends once more than 10 are delivered.
    EXPECT_FALSE(s.is_app_limited());
    s.mark_app_limited(5 * mss);
    EXPECT_TRUE(s.is_app_limited());
    EXPECT_EQ(s.app_limited(), 10 * mss);
    send(5, t0 + 55ms);  // p[10]
    send(6, t0 + 56ms);  // p[11]
    EXPECT_TRUE(p[10].is_app_limited);
    EXPECT_TRUE(p[11].is_app_limited);

    // Packets sent before the mark give unmarked samples.
    for (std::size_t i = 5; i < 10; ++i) {
        EXPECT_FALSE(ack_one(s, p[i], t0 + 60ms + i * 1ms).app_limited) << i;
    }
    // Exactly 10 delivered: not more, still limited.
    EXPECT_TRUE(s.is_app_limited());
    send(2, t0 + 70ms);  // p[12]
    EXPECT_TRUE(p[12].is_app_limited);

    // p[10] delivered: 11 > 10 ends the period; its own sample is still marked.
    EXPECT_TRUE(ack_one(s, p[10], t0 + 71ms).app_limited);
    EXPECT_FALSE(s.is_app_limited());
    send(2, t0 + 72ms);  // p[13]
    EXPECT_FALSE(p[13].is_app_limited);
    EXPECT_TRUE(ack_one(s, p[11], t0 + 73ms).app_limited);
    EXPECT_TRUE(ack_one(s, p[12], t0 + 74ms).app_limited);
    EXPECT_FALSE(ack_one(s, p[13], t0 + 75ms).app_limited);

    // Nothing delivered and nothing in flight still marks (C.app_limited = 1).
    delivery_rate_sampler fresh;
    fresh.mark_app_limited(0);
    EXPECT_EQ(fresh.app_limited(), 1U);
    EXPECT_TRUE(fresh.on_sent(mss, 0, t0).is_app_limited);
}

TEST(delivery_rate_sampler, tx_in_flight_and_lost) {
    delivery_rate_sampler s;
    const packet_rate_state a = s.on_sent(mss, 0, t0);
    const packet_rate_state b = s.on_sent(mss, mss, t0 + 1ms);
    const packet_rate_state c = s.on_sent(600, 2 * mss, t0 + 2ms);
    EXPECT_EQ(a.tx_in_flight, mss);
    EXPECT_EQ(b.tx_in_flight, 2 * mss);
    EXPECT_EQ(c.tx_in_flight, 2 * mss + 600);

    // a declared lost: its loss sample counts itself.
    s.on_lost(mss);
    EXPECT_EQ(s.lost(), mss);
    loss_sample l;
    l.bytes = mss;
    s.fill(l, a);
    EXPECT_EQ(l.bytes, mss);  // the sender's field, untouched
    EXPECT_EQ(l.tx_in_flight, mss);
    EXPECT_EQ(l.lost, mss);
    EXPECT_FALSE(l.app_limited);

    // b acknowledged: a's loss happened between b's send and now.
    ack_sample ab = ack_one(s, b, t0 + 30ms);
    EXPECT_EQ(ab.tx_in_flight, 2 * mss);
    EXPECT_EQ(ab.lost, mss);

    // d is sent after the loss: losses before it do not count against it.
    const packet_rate_state d = s.on_sent(mss, 600, t0 + 31ms);
    EXPECT_EQ(d.lost, mss);
    EXPECT_EQ(d.tx_in_flight, 600 + mss);
    s.on_lost(600);  // c
    loss_sample lc;
    s.fill(lc, c);
    EXPECT_EQ(lc.lost, mss + 600);  // a's and its own, both after its send
    EXPECT_EQ(lc.tx_in_flight, 2 * mss + 600);

    const ack_sample ad = ack_one(s, d, t0 + 60ms);
    EXPECT_EQ(ad.tx_in_flight, 600 + mss);
    EXPECT_EQ(ad.lost, 600U);
    EXPECT_EQ(ad.delivered, 2 * mss);
}

// After an idle period (nothing in flight), the intervals restart at the next send: the idle
// time is not counted as time spent delivering.
TEST(delivery_rate_sampler, idle_period_is_not_part_of_the_interval) {
    delivery_rate_sampler s;
    const packet_rate_state a = s.on_sent(mss, 0, t0);
    EXPECT_EQ(ack_one(s, a, t0 + 10ms).interval, 10ms);

    const time_point t1 = t0 + 1s;
    const packet_rate_state b = s.on_sent(mss, 0, t1);
    EXPECT_EQ(b.delivered_time, t1);
    EXPECT_EQ(b.first_send_time, t1);
    const packet_rate_state c = s.on_sent(mss, mss, t1 + 1ms);
    EXPECT_EQ(c.delivered_time, t1);
    ack_one(s, b, t1 + 10ms);
    const ack_sample ac = ack_one(s, c, t1 + 11ms);
    // c: sent 1 ms after b (C.first_send_time = b's send), acknowledged 11 ms after t1.
    EXPECT_EQ(ac.interval, 11ms);
    EXPECT_EQ(ac.interval_delivered, 2 * mss);
    EXPECT_DOUBLE_EQ(ac.delivery_rate_bytes_per_s, 2400.0 / 0.011);
}
