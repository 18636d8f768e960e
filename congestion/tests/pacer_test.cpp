#include "neutrino/congestion/pacer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>

namespace {

using neutrino::duration;
using neutrino::time_point;
using neutrino::congestion::pacer;
using namespace std::chrono_literals;

constexpr time_point t0 = time_point{} + std::chrono::seconds{100};
constexpr std::size_t mss = 1200;

static_assert(noexcept(std::declval<pacer&>().set_rate(1.0, t0)));
static_assert(noexcept(std::declval<pacer&>().on_sent(mss, t0)));
static_assert(noexcept(std::declval<const pacer&>().can_send(mss, t0)));
static_assert(noexcept(std::declval<const pacer&>().next_send_time(mss)));

// Bytes the bucket may have let out by `elapsed` after pacing started full: one burst plus the
// rate. The small slack covers the rounding of `rate × elapsed` in this check itself.
double line(const pacer& p, duration elapsed) {
    return static_cast<double>(p.burst()) +
           p.rate() * std::chrono::duration<double>(elapsed).count() + 1e-6;
}

// A greedy sender of `mss`-byte datagrams from `start` until `end`: sends whatever the pacer
// allows, otherwise sleeps until next_send_time plus `jitter(i)` (its timer's lateness). Checks
// at every send that the bytes sent since `start` stay under `line`; returns the bytes sent.
template <class Jitter>
std::uint64_t run(pacer& p, time_point start, time_point end, Jitter jitter) {
    std::uint64_t sent = 0;
    time_point now = start;
    for (std::uint64_t i = 0; now <= end; ++i) {
        while (p.can_send(mss, now)) {
            p.on_sent(mss, now);
            sent += mss;
            EXPECT_LE(static_cast<double>(sent), line(p, now - start)) << "at " << i;
            if (static_cast<double>(sent) > line(p, now - start)) return sent;
        }
        const time_point next = p.next_send_time(mss);
        EXPECT_GT(next, now);  // it said no: the deadline is ahead
        if (next <= now) return sent;
        now = next + jitter(i);
    }
    return sent;
}

std::uint64_t run(pacer& p, time_point start, time_point end) {
    return run(p, start, end, [](std::uint64_t) { return duration::zero(); });
}

}  // namespace

TEST(pacer, rejects_a_zero_datagram_size) { EXPECT_THROW(pacer{0}, std::invalid_argument); }

TEST(pacer, burst_is_the_send_quantum) {
    pacer p{mss};
    p.set_rate(10e6, t0);  // 10 MB/s × 1 ms
    EXPECT_EQ(p.burst(), 10'000U);
    p.set_rate(1e6, t0);  // 1000 B, below two datagrams
    EXPECT_EQ(p.burst(), 2 * mss);
    p.set_rate(1e9, t0);  // 1 MB, capped
    EXPECT_EQ(p.burst(), 64U * 1024U);
}

TEST(pacer, unpaced_never_blocks) {
    pacer p{mss};
    EXPECT_EQ(p.rate(), 0.0);
    for (int i = 0; i < 100'000; ++i) {
        ASSERT_TRUE(p.can_send(65'000, t0));
        p.on_sent(65'000, t0);
    }
    EXPECT_EQ(p.next_send_time(65'000), time_point::min());

    // Back to unpaced after pacing: nothing is owed.
    p.set_rate(1e6, t0);
    p.on_sent(1'000'000, t0);
    EXPECT_FALSE(p.can_send(mss, t0 + 1ms));
    p.set_rate(0.0, t0 + 1ms);
    EXPECT_TRUE(p.can_send(mss, t0 + 1ms));
    EXPECT_EQ(p.next_send_time(mss), time_point::min());
    // Not a rate: unpaced too.
    p.set_rate(-5.0, t0 + 2ms);
    EXPECT_EQ(p.rate(), 0.0);
    p.set_rate(std::numeric_limits<double>::quiet_NaN(), t0 + 2ms);
    EXPECT_EQ(p.rate(), 0.0);
    p.set_rate(std::numeric_limits<double>::infinity(), t0 + 2ms);
    EXPECT_EQ(p.rate(), 0.0);
    EXPECT_TRUE(p.can_send(mss, t0 + 2ms));
}

TEST(pacer, one_second_at_10_mb_per_s) {
    pacer p{mss};
    p.set_rate(10e6, t0);
    const std::uint64_t sent = run(p, t0, t0 + 1s);
    // 10 MB in the second plus the initial burst, less a part of a datagram.
    EXPECT_LE(sent, 10'000'000U + p.burst());
    EXPECT_GE(sent, 10'000'000U + p.burst() - mss);
}

TEST(pacer, never_more_than_a_burst_above_the_line_when_polled_at_odd_times) {
    pacer p{mss};
    p.set_rate(10e6, t0);
    std::uint64_t sent = 0;
    for (time_point now = t0; now <= t0 + 1s; now += 37us) {
        while (p.can_send(mss, now)) {
            p.on_sent(mss, now);
            sent += mss;
        }
        ASSERT_LE(static_cast<double>(sent), line(p, now - t0));
    }
    // Polled every 37 µs the bucket (1 ms deep) never overflows: the full rate is reached.
    EXPECT_GE(sent, 10'000'000U + p.burst() - mss);
}

TEST(pacer, next_send_time_is_exact) {
    pacer p{mss};
    p.set_rate(10e6, t0);  // burst 10 000
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(p.can_send(mss, t0));
        p.on_sent(mss, t0);
    }
    // 400 left: 800 more at 10 MB/s take 80 µs.
    EXPECT_FALSE(p.can_send(mss, t0));
    EXPECT_EQ(p.next_send_time(mss), t0 + 80us);
    EXPECT_EQ(p.next_send_time(400), time_point::min());
    EXPECT_FALSE(p.can_send(mss, t0 + 80us - 1ns));
    EXPECT_TRUE(p.can_send(mss, t0 + 80us));
    p.on_sent(mss, t0 + 80us);
    EXPECT_EQ(p.next_send_time(mss), t0 + 200us);
    EXPECT_NEAR(p.tokens(t0 + 80us), 0.0, 1e-9);
    EXPECT_NEAR(p.tokens(t0 + 140us), 600.0, 1e-6);

    // 7 MB/s: a datagram takes 171 428.57 ns, so the deadline rounds up to the nanosecond.
    pacer q{mss};
    q.set_rate(7e6, t0);
    while (q.can_send(mss, t0)) q.on_sent(mss, t0);   // 5 datagrams of a 7000-byte burst: 1000 left
    EXPECT_EQ(q.next_send_time(mss), t0 + 28'572ns);  // 200 B: 28 571.43 ns
    EXPECT_FALSE(q.can_send(mss, t0 + 28'571ns));
    EXPECT_TRUE(q.can_send(mss, t0 + 28'572ns));
}

TEST(pacer, rate_change_takes_effect) {
    pacer p{mss};
    p.set_rate(10e6, t0);
    std::uint64_t sent = run(p, t0, t0 + 100ms);
    EXPECT_NEAR(static_cast<double>(sent), 1e6 + 10'000, mss);

    // Down to 1 MB/s with an empty bucket: the next datagram waits 1.2 ms minus what is left.
    const time_point t1 = t0 + 100ms;
    const double left = p.tokens(t1);
    p.set_rate(1e6, t1);
    EXPECT_EQ(p.burst(), 2 * mss);
    EXPECT_NEAR(p.tokens(t1), left, 1e-9);
    const duration wait = p.next_send_time(mss) - t1;
    EXPECT_NEAR(std::chrono::duration<double>(wait).count(), (1200.0 - left) / 1e6,
                2e-9);  // rounded up to the ns
    sent = run(p, t1, t1 + 1s);
    EXPECT_NEAR(static_cast<double>(sent), 1e6, 2.0 * mss);

    // Up to 20 MB/s: the bucket keeps what it had and fills faster.
    const time_point t2 = t1 + 1s + 1us;
    p.set_rate(20e6, t2);
    EXPECT_EQ(p.burst(), 20'000U);
    sent = run(p, t2, t2 + 1s);
    EXPECT_NEAR(static_cast<double>(sent), 20e6, 20'000 + 2.0 * mss);

    // Down with a full bucket: it is cut to the new, smaller burst.
    const time_point t3 = t2 + 2s;
    EXPECT_EQ(p.tokens(t3), 20'000.0);
    p.set_rate(1e6, t3);
    EXPECT_EQ(p.tokens(t3), 2.0 * mss);
    int immediate = 0;
    while (p.can_send(mss, t3)) {
        p.on_sent(mss, t3);
        ++immediate;
    }
    EXPECT_EQ(immediate, 2);
}

TEST(pacer, idle_time_accrues_at_most_one_burst) {
    pacer p{mss};
    p.set_rate(10e6, t0);
    run(p, t0, t0 + 10ms);
    const time_point later = t0 + 10s;
    EXPECT_EQ(p.tokens(later), 10'000.0);
    int immediate = 0;
    while (p.can_send(mss, later)) {
        p.on_sent(mss, later);
        ++immediate;
    }
    EXPECT_EQ(immediate, 8);  // 9600 ≤ 10 000 < 10 800
}

TEST(pacer, datagram_larger_than_the_burst_waits_for_a_full_bucket_then_owes) {
    pacer p{mss};
    p.set_rate(1e6, t0);  // burst 2400
    p.on_sent(2 * mss, t0);
    EXPECT_FALSE(p.can_send(10'000, t0));
    EXPECT_EQ(p.next_send_time(10'000), t0 + 2400us);  // a full burst, not 10 000 B (10 ms)
    ASSERT_TRUE(p.can_send(10'000, t0 + 2400us));
    p.on_sent(10'000, t0 + 2400us);
    EXPECT_NEAR(p.tokens(t0 + 2400us), -7600.0, 1e-6);
    // The debt is repaid at the rate: 7600 + 1200 bytes at 1 MB/s.
    EXPECT_EQ(p.next_send_time(mss), t0 + 2400us + 8800us);
}

// Long runs: the rounding of each deadline to the nanosecond is not lost (the remainder stays in
// the bucket), and a timer firing late does not cost throughput while it is late by less than
// a burst.
TEST(pacer, no_drift_over_a_long_run) {
    pacer p{mss};
    p.set_rate(7e6, t0);  // 171 428.57 ns per datagram: every deadline is rounded
    const std::uint64_t sent = run(p, t0, t0 + 100s);
    EXPECT_LE(sent, 700'000'000U + p.burst());
    EXPECT_GE(sent, 700'000'000U + p.burst() - mss);
}

TEST(pacer, late_timer_within_a_burst_costs_nothing) {
    pacer p{mss};
    p.set_rate(10e6, t0);  // burst 1 ms
    std::uint64_t state = 12345;
    const auto jitter = [&state](std::uint64_t) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;       // LCG
        return duration{static_cast<duration::rep>((state >> 33) % 500'000)};  // < 500 µs
    };
    const std::uint64_t sent = run(p, t0, t0 + 10s, jitter);
    // The last wake-up may land up to 620 µs (a 120 µs wait and 500 µs late) before the end,
    // which leaves up to 6200 B unsent; over 10 s a bucket that overflowed or lost the time
    // before each late wake-up would fall far shorter.
    EXPECT_LE(sent, 100'000'000U + p.burst());
    EXPECT_GE(sent, 100'000'000U + p.burst() - mss - 6'200);
}
