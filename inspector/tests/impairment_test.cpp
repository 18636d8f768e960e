#include "neutrino/inspector/impairment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "neutrino/endian.hpp"
#include "neutrino/inspector/classifier.hpp"
#include "test_seed.hpp"

namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using neutrino::time_point;

namespace {

using neutrino::test::test_seed;

// A datagram of `size` bytes (≥ 8) carrying `n` in its first eight bytes and a pattern after.
std::vector<std::byte> numbered(std::uint64_t n, std::size_t size = 100) {
    std::vector<std::byte> d(std::max<std::size_t>(size, 8));
    neutrino::store_le(d.data(), n);
    for (std::size_t i = 8; i < d.size(); ++i) d[i] = static_cast<std::byte>(i * 7 + n);
    return d;
}

// |observed − n·p| ≤ 5 σ of the binomial: not flaky, yet a rate off by 20 % relative fails at
// the sizes used here.
void expect_rate(std::uint64_t observed, std::uint64_t n, double p, const char* what) {
    const double mean = static_cast<double>(n) * p;
    const double sigma = std::sqrt(static_cast<double>(n) * p * (1.0 - p));
    EXPECT_LE(std::abs(static_cast<double>(observed) - mean), 5.0 * sigma)
        << what << ": observed " << observed << " of " << n << ", expected " << mean << " (seed "
        << test_seed() << ")";
}

struct delivered_copy {
    std::uint64_t index;
    time_point due;
    std::vector<std::byte> bytes;
};

// Submits `n` numbered datagrams `gap` apart from t = 0 and polls as time goes; returns what
// came out (after flushing everything still held).
std::vector<delivered_copy> run(ni::impairment& imp, std::uint64_t n, neutrino::duration gap,
                                std::size_t size = 100, bool keep_bytes = false) {
    std::vector<delivered_copy> out;
    auto drain = [&](time_point t) {
        while (auto d = imp.poll(t)) {
            out.push_back({d->index, d->due,
                           keep_bytes ? std::vector<std::byte>(d->bytes.begin(), d->bytes.end())
                                      : std::vector<std::byte>{}});
        }
    };
    time_point t{};
    for (std::uint64_t i = 1; i <= n; ++i) {
        drain(t);
        imp.submit(numbered(i, size), t);
        t += gap;
    }
    while (auto next = imp.next_due()) drain(*next);
    return out;
}

}  // namespace

TEST(impairment, default_config_delivers_everything_at_once_in_order) {
    ni::impairment imp({}, test_seed());
    const auto out = run(imp, 1000, 1ms, 100, true);
    ASSERT_EQ(out.size(), 1000U);
    for (std::uint64_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].index, i + 1);
        EXPECT_EQ(out[i].bytes, numbered(i + 1));
        EXPECT_EQ(out[i].due, time_point{} + i * 1ms);
    }
    EXPECT_EQ(imp.stats().dropped(), 0U);
    EXPECT_EQ(imp.stats().delivered, 1000U);
    EXPECT_EQ(imp.stats().delayed, 0U);
    EXPECT_EQ(imp.pending(), 0U);
}

TEST(impairment, delivery_carries_tag_and_index) {
    ni::impairment imp({}, test_seed());
    const auto d = numbered(7);
    EXPECT_EQ(imp.submit(d, time_point{}, 42), 1U);
    auto got = imp.poll(time_point{});
    ASSERT_TRUE(got);
    EXPECT_EQ(got->tag, 42U);
    EXPECT_EQ(got->index, 1U);
    EXPECT_TRUE(std::equal(got->bytes.begin(), got->bytes.end(), d.begin(), d.end()));
    EXPECT_FALSE(imp.poll(time_point{}));
}

TEST(impairment, drop_rate_within_bounds) {
    ni::impairment_config c;
    c.drop = 0.1;
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 100'000;
    const auto out = run(imp, n, 1ms);
    expect_rate(imp.stats().dropped_random, n, 0.1, "drop");
    EXPECT_EQ(out.size(), n - imp.stats().dropped_random);
    EXPECT_TRUE(std::is_sorted(out.begin(), out.end(),
                               [](const auto& x, const auto& y) { return x.index < y.index; }));
}

TEST(impairment, gilbert_elliott_stationary_loss_and_mean_burst) {
    ni::impairment_config c;
    c.burst = {
        .p_good_to_bad = 0.01, .p_bad_to_good = 0.2, .loss_in_bad = 1.0, .loss_in_good = 0.0};
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 400'000;
    std::vector<bool> lost(n + 1, false);
    imp.set_trace([&](const ni::trace_record& r) {
        if (r.what == ni::action::dropped_burst) lost[r.index] = true;
    });
    const auto datagram = numbered(0, 16);
    time_point t{};
    for (std::uint64_t i = 1; i <= n; ++i) {
        imp.submit(datagram, t);
        while (imp.poll(t)) {
        }
        t += 1ms;
    }
    // πB = 0.01 / 0.21; bursts are runs of bad states, geometric with mean 1/0.2 = 5.
    const double pi_bad = 0.01 / 0.21;
    std::uint64_t bursts = 0;
    for (std::uint64_t i = 1; i <= n; ++i) {
        if (lost[i] && !lost[i - 1]) ++bursts;
    }
    const std::uint64_t losses = imp.stats().dropped_burst;
    const double mean_burst = static_cast<double>(losses) / static_cast<double>(bursts);
    // Losses are a sum of ~3 800 geometric bursts (variance (1−b)/b² = 20, mean 5): σ of the
    // total ≈ sqrt(bursts · (20 + 25)), σ of the mean length ≈ sqrt(20 / bursts).
    const double expected = pi_bad * static_cast<double>(n);
    const double sigma_total = std::sqrt(expected / 5.0 * 45.0);
    EXPECT_LE(std::abs(static_cast<double>(losses) - expected), 5.0 * sigma_total)
        << "losses " << losses << ", expected " << expected;
    EXPECT_LE(std::abs(mean_burst - 5.0), 5.0 * std::sqrt(20.0 / static_cast<double>(bursts)))
        << "mean burst " << mean_burst;
    EXPECT_EQ(imp.stats().dropped_random, 0U);
    std::printf("gilbert-elliott: loss %.4f (expected %.4f), mean burst %.3f (expected 5)\n",
                static_cast<double>(losses) / static_cast<double>(n), pi_bad, mean_burst);
}

TEST(impairment, duplicate_rate_within_bounds) {
    ni::impairment_config c;
    c.duplicate = 0.05;
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 100'000;
    const auto out = run(imp, n, 1ms);
    expect_rate(imp.stats().duplicated, n, 0.05, "duplicate");
    EXPECT_EQ(out.size(), n + imp.stats().duplicated);
    std::uint64_t repeats = 0;
    for (std::size_t i = 1; i < out.size(); ++i) {
        if (out[i].index == out[i - 1].index) ++repeats;
    }
    EXPECT_EQ(repeats, imp.stats().duplicated);  // a copy follows its original
}

TEST(impairment, reorder_by_positions_rate_within_bounds) {
    ni::impairment_config c;
    c.reorder = {.probability = 0.05, .positions = 3, .delay = 100ms};
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 100'000;
    const auto out = run(imp, n, 1ms);
    ASSERT_EQ(out.size(), n);
    std::uint64_t late = 0;
    std::uint64_t highest = 0;
    std::uint64_t max_displacement = 0;
    for (const auto& d : out) {
        if (d.index < highest) {
            ++late;
            max_displacement = std::max(max_displacement, highest - d.index);
        }
        highest = std::max(highest, d.index);
    }
    expect_rate(late, n, 0.05, "late arrivals");
    // Every held datagram arrives late, except held ones at the very end of the stream, where
    // no later datagram goes ahead of them.
    EXPECT_LE(late, imp.stats().reordered);
    EXPECT_GE(late + 3, imp.stats().reordered);
    // Held behind 3 in-order datagrams; neighbours held too can add a few more.
    EXPECT_LE(max_displacement, 12U);
    std::printf("reorder: %.4f late (configured 0.05)\n",
                static_cast<double>(late) / static_cast<double>(n));
}

TEST(impairment, reorder_by_positions_released_when_traffic_stops) {
    ni::impairment_config c;
    c.reorder = {.probability = 1.0, .positions = 5, .delay = 30ms};
    ni::impairment imp(c, test_seed());
    imp.submit(numbered(1), time_point{});
    EXPECT_FALSE(imp.poll(time_point{} + 29ms));
    EXPECT_EQ(imp.next_due(), time_point{} + 30ms);
    auto d = imp.poll(time_point{} + 30ms);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->due, time_point{} + 30ms);
}

TEST(impairment, reorder_by_delay) {
    ni::impairment_config c;
    c.reorder = {.probability = 0.1, .positions = 0, .delay = 5ms};
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 100'000;
    const auto out = run(imp, n, 1ms);
    ASSERT_EQ(out.size(), n);
    std::uint64_t late = 0;
    std::uint64_t highest = 0;
    for (const auto& d : out) {
        if (d.index < highest) ++late;
        highest = std::max(highest, d.index);
    }
    expect_rate(imp.stats().reordered, n, 0.1, "reordered");
    // A held copy falls behind the next 4–5 unless those are held too.
    EXPECT_LE(late, imp.stats().reordered);
    EXPECT_GE(late, imp.stats().reordered * 8 / 10);
}

TEST(impairment, delay_and_jitter_keep_order_by_default) {
    ni::impairment_config c;
    c.delay = 50ms;
    c.jitter = 20ms;
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 10'000;
    const auto out = run(imp, n, 1ms);
    ASSERT_EQ(out.size(), n);
    for (std::uint64_t i = 0; i < n; ++i) {
        const time_point sent = time_point{} + i * 1ms;
        ASSERT_EQ(out[i].index, i + 1);
        EXPECT_GE(out[i].due, sent + 30ms);
        EXPECT_LE(out[i].due, sent + 70ms);
    }
    EXPECT_EQ(imp.stats().delayed, n);
    EXPECT_EQ(imp.stats().reordered, 0U);
}

TEST(impairment, jitter_may_reorder_when_asked) {
    ni::impairment_config c;
    c.delay = 50ms;
    c.jitter = 20ms;
    c.jitter_reorders = true;
    ni::impairment imp(c, test_seed());
    const auto out = run(imp, 10'000, 1ms);
    ASSERT_EQ(out.size(), 10'000U);
    bool out_of_order = false;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const time_point sent = time_point{} + (out[i].index - 1) * 1ms;
        EXPECT_GE(out[i].due, sent + 30ms);
        EXPECT_LE(out[i].due, sent + 70ms);
        if (i > 0 && out[i].index < out[i - 1].index) out_of_order = true;
    }
    EXPECT_TRUE(out_of_order);
}

TEST(impairment, bit_flips_change_exactly_that_many_bits) {
    ni::impairment_config c;
    c.corrupt.probability = 1.0;
    c.corrupt.flip_bits = 3;
    ni::impairment imp(c, test_seed());
    const auto out = run(imp, 1000, 1ms, 100, true);
    ASSERT_EQ(out.size(), 1000U);
    for (const auto& d : out) {
        const auto original = numbered(d.index);
        ASSERT_EQ(d.bytes.size(), original.size());
        int flipped = 0;
        for (std::size_t i = 0; i < original.size(); ++i) {
            flipped += std::popcount(std::to_integer<unsigned>(d.bytes[i] ^ original[i]));
        }
        EXPECT_EQ(flipped, 3);
    }
    EXPECT_EQ(imp.stats().corrupted, 1000U);
}

TEST(impairment, corruption_rate_within_bounds) {
    ni::impairment_config c;
    c.corrupt.probability = 0.02;
    ni::impairment imp(c, test_seed());
    const std::uint64_t n = 100'000;
    const auto out = run(imp, n, 1ms, 64, true);
    std::uint64_t changed = 0;
    for (const auto& d : out) changed += d.bytes != numbered(d.index, 64) ? 1U : 0U;
    expect_rate(changed, n, 0.02, "corrupted");
    EXPECT_EQ(changed, imp.stats().corrupted);
}

TEST(impairment, truncate_and_extend_change_the_size) {
    ni::impairment_config t;
    t.corrupt.truncate = 1.0;
    ni::impairment truncating(t, test_seed());
    for (const auto& d : run(truncating, 500, 1ms, 100, true)) {
        EXPECT_LT(d.bytes.size(), 100U);
        const auto original = numbered(d.index);
        EXPECT_TRUE(std::equal(d.bytes.begin(), d.bytes.end(), original.begin()));
    }
    ni::impairment_config e;
    e.corrupt.extend = 1.0;
    e.corrupt.max_extend_size = 16;
    ni::impairment extending(e, test_seed());
    for (const auto& d : run(extending, 500, 1ms, 100, true)) {
        EXPECT_GT(d.bytes.size(), 100U);
        EXPECT_LE(d.bytes.size(), 116U);
        const auto original = numbered(d.index);
        EXPECT_TRUE(std::equal(original.begin(), original.end(), d.bytes.begin()));
    }
    EXPECT_EQ(extending.stats().corrupted, 500U);
}

TEST(impairment, mtu_drops_larger_datagrams_only) {
    ni::impairment_config c;
    c.mtu = 1000;
    ni::impairment imp(c, test_seed());
    EXPECT_EQ(imp.submit(numbered(1, 999), time_point{}), 1U);
    EXPECT_EQ(imp.submit(numbered(2, 1000), time_point{}), 1U);
    EXPECT_EQ(imp.submit(numbered(3, 1001), time_point{}), 0U);
    EXPECT_EQ(imp.stats().dropped_mtu, 1U);
    EXPECT_EQ(imp.stats().delivered + imp.pending(), 2U);
}

TEST(impairment, blackhole_drops_exactly_the_datagrams_submitted_inside) {
    ni::impairment_config c;
    c.blackholes = {{1s, 2s}, {2500ms, 2510ms}};
    const time_point start = time_point{} + 1h;  // intervals are relative to the start
    ni::impairment imp(c, test_seed(), start);
    std::vector<std::uint64_t> dropped;
    imp.set_trace([&](const ni::trace_record& r) {
        if (r.what == ni::action::dropped_blackhole) dropped.push_back(r.index);
    });
    std::vector<std::uint64_t> expected;
    for (std::uint64_t i = 0; i < 300; ++i) {  // every 10 ms for 3 s
        const auto offset = i * 10ms;
        if ((offset >= 1s && offset < 2s) || offset == 2500ms) expected.push_back(i + 1);
        imp.submit(numbered(i + 1), start + offset);
        while (imp.poll(start + offset)) {
        }
    }
    EXPECT_EQ(dropped, expected);
    EXPECT_EQ(imp.stats().dropped_blackhole, 101U);
    EXPECT_EQ(imp.stats().delivered, 199U);
}

TEST(impairment, rate_limit_holds_the_configured_rate) {
    ni::impairment_config c;
    c.rate = {.bytes_per_second = 1'000'000, .burst_size = 10'000, .max_queue_size = 100'000};
    ni::impairment imp(c, test_seed());
    // Offer 2 MB/s (1000-byte datagrams every 500 µs) for 10 s.
    std::uint64_t bytes_in_window = 0;
    time_point t{};
    const time_point end = time_point{} + 10s;
    for (; t < end; t += 500us) {
        imp.submit(numbered(0, 1000), t);
        while (auto d = imp.poll(t)) bytes_in_window += d->bytes.size();
    }
    while (auto d = imp.poll(end)) bytes_in_window += d->bytes.size();
    const double rate = static_cast<double>(bytes_in_window) / 10.0;
    EXPECT_NEAR(rate, 1'000'000.0, 50'000.0);
    EXPECT_GT(imp.stats().dropped_rate_queue, 9'000U);
    std::printf("rate limit: %.0f B/s delivered (configured 1000000), %llu tail drops\n", rate,
                static_cast<unsigned long long>(imp.stats().dropped_rate_queue));
}

TEST(impairment, rate_queue_tail_drops_past_its_limit) {
    ni::impairment_config c;
    c.rate = {.bytes_per_second = 1000, .burst_size = 0, .max_queue_size = 10'000};
    ni::impairment imp(c, test_seed());
    std::size_t accepted = 0;
    for (std::uint64_t i = 1; i <= 100; ++i)
        accepted += imp.submit(numbered(i, 1000), time_point{});
    // The first leaves at once (the bucket starts full), ten wait, the rest are tail-dropped.
    EXPECT_EQ(accepted, 11U);
    EXPECT_EQ(imp.stats().dropped_rate_queue, 89U);
    std::vector<std::uint64_t> indices;
    for (int s = 0; s <= 10; ++s) {
        const time_point at = time_point{} + std::chrono::seconds(s);
        auto d = imp.poll(at);
        ASSERT_TRUE(d) << s;
        EXPECT_EQ(d->due, at);
        indices.push_back(d->index);
        EXPECT_FALSE(imp.poll(at));
    }
    EXPECT_EQ(indices, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    // The queue drained: accepted again.
    EXPECT_EQ(imp.submit(numbered(101, 1000), time_point{} + 11s), 1U);
}

TEST(impairment, memory_cap_bounds_what_is_held_under_a_huge_delay) {
    ni::impairment_config c;
    c.delay = 1h;
    c.max_held_size = std::size_t{1024} * 1024;
    ni::impairment imp(c, test_seed());
    time_point t{};
    for (std::uint64_t i = 1; i <= 10'000; ++i) {
        imp.submit(numbered(i, 1000), t);  // each held in a 1024-byte buffer
        ASSERT_LE(imp.stats().held_size, c.max_held_size);
        t += 1ms;
    }
    EXPECT_EQ(imp.pending(), 1024U);
    EXPECT_EQ(imp.stats().dropped_memory, 10'000U - 1024U);
    EXPECT_EQ(imp.stats().peak_held_size, c.max_held_size);
    std::uint64_t delivered = 0;
    while (auto next = imp.next_due()) {
        while (imp.poll(*next)) ++delivered;
    }
    EXPECT_EQ(delivered, 1024U);
    EXPECT_EQ(imp.stats().held_size, 0U);
    // Other sizes reuse the memory within the cap.
    for (std::uint64_t i = 1; i <= 10'000; ++i) imp.submit(numbered(i, 60), t + 2h);
    EXPECT_EQ(imp.pending(), 8192U);  // 128-byte buffers
    EXPECT_LE(imp.stats().peak_held_size, c.max_held_size);
}

TEST(impairment, memory_cap_smaller_than_one_datagram_is_rejected) {
    ni::impairment_config c;
    c.max_held_size = 1000;
    EXPECT_THROW(ni::impairment(c, 1), std::invalid_argument);
    c.mtu = 1000;
    c.max_held_size = 1024;
    EXPECT_NO_THROW(ni::impairment(c, 1));
}

TEST(impairment, invalid_config_throws) {
    ni::impairment_config c;
    c.drop = 1.5;
    EXPECT_THROW(ni::impairment(c, 1), std::invalid_argument);
    c = {};
    c.burst.p_bad_to_good = -0.1;
    EXPECT_THROW(ni::impairment(c, 1), std::invalid_argument);
    c = {};
    c.blackholes = {{2s, 1s}};
    EXPECT_THROW(ni::impairment(c, 1), std::invalid_argument);
    c = {};
    c.jitter = -1ms;
    EXPECT_THROW(ni::impairment(c, 1), std::invalid_argument);
}

namespace {

ni::impairment_config everything() {
    ni::impairment_config c;
    c.drop = 0.05;
    c.burst = {
        .p_good_to_bad = 0.01, .p_bad_to_good = 0.3, .loss_in_bad = 0.8, .loss_in_good = 0.0};
    c.duplicate = 0.05;
    c.reorder = {.probability = 0.05, .positions = 2, .delay = 20ms};
    c.delay = 20ms;
    c.jitter = 5ms;
    c.corrupt = {.probability = 0.02,
                 .flip_bits = 2,
                 .truncate = 0.01,
                 .extend = 0.01,
                 .max_extend_size = 16};
    c.rate = {.bytes_per_second = 150'000, .burst_size = 4000, .max_queue_size = 8000};
    return c;
}

std::vector<ni::trace_record> trace_of(std::uint64_t seed, std::uint64_t* digest = nullptr) {
    ni::impairment imp(everything(), seed);
    std::vector<ni::trace_record> trace;
    imp.set_trace([&](const ni::trace_record& r) { trace.push_back(r); });
    std::uint64_t h = 1469598103934665603ULL;
    time_point t{};
    for (std::uint64_t i = 1; i <= 20'000; ++i) {
        imp.submit(numbered(i, 100 + i % 200), t);
        while (auto d = imp.poll(t)) {
            for (auto b : d->bytes) h = (h ^ std::to_integer<std::uint64_t>(b)) * 1099511628211ULL;
        }
        t += 1ms;
    }
    if (digest != nullptr) *digest = h;
    return trace;
}

}  // namespace

TEST(impairment, same_seed_same_trace_other_seed_other_trace) {
    std::uint64_t d1 = 0;
    std::uint64_t d2 = 0;
    std::uint64_t d3 = 0;
    const auto t1 = trace_of(test_seed(), &d1);
    const auto t2 = trace_of(test_seed(), &d2);
    const auto t3 = trace_of(test_seed() + 1, &d3);
    EXPECT_GT(t1.size(), 35'000U);
    EXPECT_EQ(t1, t2);
    EXPECT_EQ(d1, d2);  // the same bytes too (corruption included)
    EXPECT_NE(t1, t3);
    EXPECT_NE(d1, d3);
    // Every kind of decision was exercised.
    for (auto a : {ni::action::scheduled, ni::action::delivered, ni::action::duplicated,
                   ni::action::corrupted, ni::action::reordered, ni::action::dropped_random,
                   ni::action::dropped_burst, ni::action::dropped_rate_queue}) {
        EXPECT_TRUE(std::any_of(t1.begin(), t1.end(), [a](const auto& r) { return r.what == a; }))
            << ni::to_string(a);
    }
}

TEST(impairment, directions_from_derived_seeds_differ) {
    EXPECT_NE(ni::derive_seed(1, 0), ni::derive_seed(1, 1));
    EXPECT_NE(ni::derive_seed(1, 0), ni::derive_seed(2, 0));
    EXPECT_EQ(ni::derive_seed(7, 1), ni::derive_seed(7, 1));
}

namespace {

// A synthetic Neutrino datagram: clear header with `type`, session id 99, then `n`.
std::vector<std::byte> neutrino_datagram(neutrino::core::packet_type type, std::uint64_t n) {
    std::vector<std::byte> d(40);
    neutrino::store_le(d.data(), neutrino::core::protocol_identifier);
    d[4] = std::byte{2};
    d[5] = static_cast<std::byte>(type);
    neutrino::store_le(d.data() + 6, std::uint64_t{99});
    neutrino::store_le(d.data() + 14, n);
    return d;
}

}  // namespace

TEST(impairment, scripted_rules) {
    using neutrino::core::packet_type;
    ni::impairment_config c;
    c.script.drop_nth = {3, 12};
    c.script.duplicate_every = 5;
    c.script.drop_if = ni::neutrino_type_is{packet_type::keep_alive};
    ni::impairment imp(c, test_seed());
    std::vector<std::uint64_t> got;
    for (std::uint64_t i = 1; i <= 20; ++i) {
        const auto type =
            (i == 7 || i == 8 || i == 15) ? packet_type::keep_alive : packet_type::data;
        imp.submit(neutrino_datagram(type, i), time_point{});
        while (auto d = imp.poll(time_point{})) got.push_back(d->index);
    }
    // 3 and 12 dropped by index; 7, 8 and 15 (KEEP_ALIVE) by type; 5, 10, 20 doubled (15 was
    // dropped before it could be).
    EXPECT_EQ(got, (std::vector<std::uint64_t>{1, 2, 4, 5, 5, 6, 9, 10, 10, 11, 13, 14, 16, 17, 18,
                                               19, 20, 20}));
    EXPECT_EQ(imp.stats().dropped_rule, 5U);
    EXPECT_EQ(imp.stats().duplicated, 3U);
}
