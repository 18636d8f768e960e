#include "neutrino/congestion/rtt_estimator.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

namespace {

using neutrino::duration;
using neutrino::time_point;
using neutrino::congestion::rtt_estimator;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr time_point t0 = time_point{} + seconds{100};

}  // namespace

TEST(rtt_estimator, before_any_sample_uses_the_initial_rtt) {
    rtt_estimator r;
    EXPECT_FALSE(r.has_sample());
    EXPECT_EQ(r.smoothed(), milliseconds{333});
    EXPECT_EQ(r.variance(), microseconds{166'500});
    EXPECT_EQ(r.latest(), duration::zero());
    EXPECT_EQ(r.min_rtt(), duration::zero());
    // 333 + 4 × 166.5 = 999 ms: the one-second first PTO of RFC 9002 §6.2.2.
    EXPECT_EQ(r.pto(duration::zero()), milliseconds{999});
    EXPECT_EQ(r.pto(milliseconds{25}), milliseconds{1024});

    rtt_estimator resumed{milliseconds{40}};
    EXPECT_EQ(resumed.smoothed(), milliseconds{40});
    EXPECT_EQ(resumed.variance(), milliseconds{20});
}

TEST(rtt_estimator, first_sample_initialises_and_ignores_ack_delay) {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, milliseconds{20}, t0);
    EXPECT_TRUE(r.has_sample());
    EXPECT_EQ(r.latest(), milliseconds{100});
    EXPECT_EQ(r.min_rtt(), milliseconds{100});
    EXPECT_EQ(r.smoothed(), milliseconds{100});  // not 80: no adjustment on the first sample
    EXPECT_EQ(r.variance(), milliseconds{50});
    // 100 + 4 × 50 + 25
    EXPECT_EQ(r.pto(milliseconds{25}), milliseconds{325});
}

TEST(rtt_estimator, second_sample_subtracts_ack_delay_and_updates_rttvar_first) {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    // 120 ≥ 100 + 10, so adjusted = 110.
    r.on_sample(milliseconds{120}, milliseconds{10}, t0 + milliseconds{100});
    EXPECT_EQ(r.latest(), milliseconds{120});
    EXPECT_EQ(r.min_rtt(), milliseconds{100});
    // rttvar = 3/4 × 50 + 1/4 × |100 − 110| = 40 (from the previous smoothed_rtt; using the
    // updated one, 101.25, would give 39.6875).
    EXPECT_EQ(r.variance(), milliseconds{40});
    // smoothed = 7/8 × 100 + 1/8 × 110 = 101.25
    EXPECT_EQ(r.smoothed(), microseconds{101'250});
    // 101.25 + 4 × 40 + 0
    EXPECT_EQ(r.pto(duration::zero()), microseconds{261'250});
}

TEST(rtt_estimator, ack_delay_applies_when_the_result_equals_min_rtt) {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{110}, milliseconds{10}, t0 + milliseconds{100});  // adjusted = 100
    EXPECT_EQ(r.smoothed(), milliseconds{100});
    EXPECT_EQ(r.variance(), microseconds{37'500});  // 3/4 × 50 + 0
}

TEST(rtt_estimator, ack_delay_not_applied_when_it_would_go_below_min_rtt) {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    // 105 < 100 + 10: the sample is taken whole (subtracting would give 95 < min_rtt).
    r.on_sample(milliseconds{105}, milliseconds{10}, t0 + milliseconds{100});
    EXPECT_EQ(r.smoothed(), microseconds{100'625});  // 7/8 × 100 + 1/8 × 105, not 99.375
    EXPECT_EQ(r.variance(), microseconds{38'750});   // 3/4 × 50 + 1/4 × 5
    EXPECT_EQ(r.min_rtt(), milliseconds{100});

    // A peer reporting an absurd delay changes nothing either (and overflows nothing).
    rtt_estimator s;
    s.on_sample(milliseconds{100}, duration::zero(), t0);
    s.on_sample(milliseconds{100}, duration::max(), t0 + milliseconds{100});
    EXPECT_EQ(s.smoothed(), milliseconds{100});
    EXPECT_EQ(s.variance(), microseconds{37'500});
}

TEST(rtt_estimator, min_rtt_follows_lower_samples_unadjusted) {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{80}, milliseconds{30}, t0 + milliseconds{100});
    EXPECT_EQ(r.min_rtt(), milliseconds{80});  // latest, not latest − ack_delay
    EXPECT_EQ(r.latest(), milliseconds{80});
    // 80 < 80 + 30: not adjusted. rttvar = 3/4 × 50 + 1/4 × 20 = 42.5, smoothed = 97.5
    EXPECT_EQ(r.variance(), microseconds{42'500});
    EXPECT_EQ(r.smoothed(), microseconds{97'500});
    r.on_sample(milliseconds{90}, duration::zero(), t0 + milliseconds{200});
    EXPECT_EQ(r.min_rtt(), milliseconds{80});
}

TEST(rtt_estimator, min_rtt_expires_after_the_window) {
    rtt_estimator r;  // 10 s window
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{150}, duration::zero(), t0 + seconds{5});
    EXPECT_EQ(r.min_rtt(), milliseconds{100});
    r.on_sample(milliseconds{150}, duration::zero(), t0 + seconds{10});  // exactly 10 s old: kept
    EXPECT_EQ(r.min_rtt(), milliseconds{100});
    r.on_sample(milliseconds{150}, duration::zero(), t0 + seconds{10} + nanoseconds{1});
    EXPECT_EQ(r.min_rtt(), milliseconds{150});  // older than the window: replaced, even upward
    r.on_sample(milliseconds{160}, duration::zero(), t0 + seconds{15});
    EXPECT_EQ(r.min_rtt(), milliseconds{150});  // the new minimum is dated t0 + 10 s
    r.on_sample(milliseconds{170}, duration::zero(), t0 + seconds{21});
    EXPECT_EQ(r.min_rtt(), milliseconds{170});
}

TEST(rtt_estimator, equal_sample_refreshes_min_rtt_and_window_is_configurable) {
    rtt_estimator r{milliseconds{333}, seconds{1}};
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{100}, duration::zero(), t0 + milliseconds{900});  // refreshes
    r.on_sample(milliseconds{130}, duration::zero(), t0 + milliseconds{1500});
    EXPECT_EQ(r.min_rtt(), milliseconds{100});  // 0.6 s since the refresh
    r.on_sample(milliseconds{130}, duration::zero(), t0 + milliseconds{2000});
    EXPECT_EQ(r.min_rtt(), milliseconds{130});  // 1.1 s since the refresh
}

TEST(rtt_estimator, pto_uses_at_least_the_timer_granularity) {
    rtt_estimator r{microseconds{200}};  // rttvar 100 µs: 4 × rttvar = 0.4 ms < 1 ms
    EXPECT_EQ(r.pto(duration::zero()), microseconds{1'200});
    EXPECT_EQ(r.pto(milliseconds{25}), microseconds{26'200});

    rtt_estimator s;
    s.on_sample(milliseconds{100}, duration::zero(), t0);
    for (int i = 1; i <= 40; ++i) s.on_sample(milliseconds{100}, duration::zero(), t0 + seconds{i});
    EXPECT_EQ(s.smoothed(), milliseconds{100});
    EXPECT_LT(4 * s.variance(), milliseconds{1});  // 50 ms × (3/4)^40 ≈ 0.5 µs
    EXPECT_EQ(s.pto(milliseconds{5}), milliseconds{106});
}

TEST(rtt_estimator, reset_forgets_samples_but_keeps_configuration) {
    rtt_estimator r{milliseconds{50}, seconds{1}};
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{300}, duration::zero(), t0 + seconds{1});
    r.reset();
    EXPECT_FALSE(r.has_sample());
    EXPECT_EQ(r.smoothed(), milliseconds{50});
    EXPECT_EQ(r.variance(), milliseconds{25});
    EXPECT_EQ(r.latest(), duration::zero());
    EXPECT_EQ(r.min_rtt(), duration::zero());
    // The next sample is a first sample again; the 1 s window still applies after it.
    r.on_sample(milliseconds{200}, milliseconds{50}, t0 + seconds{2});
    EXPECT_EQ(r.smoothed(), milliseconds{200});
    EXPECT_EQ(r.variance(), milliseconds{100});
    EXPECT_EQ(r.min_rtt(), milliseconds{200});
    r.on_sample(milliseconds{250}, duration::zero(), t0 + seconds{3} + nanoseconds{1});
    EXPECT_EQ(r.min_rtt(), milliseconds{250});
}

TEST(rtt_estimator, negative_inputs_count_as_zero) {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{120}, milliseconds{-50}, t0 + seconds{1});  // adjusted = 120
    EXPECT_EQ(r.smoothed(), microseconds{102'500});
    r.on_sample(milliseconds{-5}, duration::zero(), t0 + seconds{2});
    EXPECT_EQ(r.latest(), duration::zero());
    EXPECT_EQ(r.min_rtt(), duration::zero());
}

TEST(rtt_estimator, rejects_non_positive_configuration) {
    EXPECT_THROW(rtt_estimator{duration::zero()}, std::invalid_argument);
    EXPECT_THROW((rtt_estimator{milliseconds{333}, duration::zero()}), std::invalid_argument);
    EXPECT_THROW((rtt_estimator{milliseconds{-1}}), std::invalid_argument);
}

// Usable in constant expressions: a compile-time check of the RFC 9002 arithmetic.
static_assert([] {
    rtt_estimator r;
    r.on_sample(milliseconds{100}, duration::zero(), t0);
    r.on_sample(milliseconds{120}, milliseconds{10}, t0 + milliseconds{100});
    return r.variance() == milliseconds{40} && r.smoothed() == microseconds{101'250};
}());
