#include "neutrino/extended/detail/reassembler.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <vector>

#include "neutrino/extended/detail/fragmenter.hpp"

namespace ne = neutrino::extended;
namespace nc = neutrino::core;
using ne::detail::fragmenter;
using ne::detail::reassembler;
using kind = reassembler::outcome::kind;

namespace {
constexpr std::size_t frag = 1214;

std::vector<std::byte> encode(const std::vector<std::vector<std::byte>>& words) {
    std::vector<nc::word> ws(words.begin(), words.end());
    auto n = nc::extended_word_codec::encoded_size(ws);
    std::vector<std::byte> out(*n);
    EXPECT_TRUE(nc::extended_word_codec::encode(ws, out));
    return out;
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) % 251);
    return v;
}

// Feeds every fragment; returns the messages completed.
std::vector<std::vector<std::byte>> feed(reassembler& r, const fragmenter& f) {
    std::vector<std::vector<std::byte>> out;
    for (std::uint64_t i = 0; i < f.count(); ++i) {
        auto o = r.push(f.keyword(i), f.payload(i));
        EXPECT_NE(o.what, kind::error) << o.error.message();
        if (o.what == kind::message) out.emplace_back(o.message.begin(), o.message.end());
    }
    return out;
}
}  // namespace

TEST(reassembler, round_trips_the_issue_sizes) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1208}, std::size_t{1209},
                             std::size_t{1214}, std::size_t{1215}, std::size_t{65536},
                             std::size_t{1} << 20}) {
        SCOPED_TRACE(size);
        const auto b = encode({pattern(size, 7)});
        fragmenter f(b, frag);
        reassembler r(16 << 20, frag);
        auto got = feed(r, f);
        ASSERT_EQ(got.size(), 1U);
        EXPECT_EQ(got[0], b);
        EXPECT_EQ(f.single(), b.size() <= frag);
        EXPECT_EQ(r.buffered(), b.size() <= frag ? 0U : b.size());
        if (!f.single()) {
            EXPECT_EQ(r.capacity(), f.count() * frag);  // reserved once, never regrown
        }
    }
}

TEST(reassembler, oversize_announce_is_refused_before_buffering_and_its_rest_discarded) {
    reassembler r(10 * frag, frag);
    const auto b = encode({pattern(20 * frag, 1)});
    fragmenter f(b, frag);
    auto first = r.push(f.keyword(0), f.payload(0));
    ASSERT_EQ(first.what, kind::error);
    EXPECT_EQ(first.error, ne::errc::message_too_large);
    EXPECT_EQ(r.capacity(), 0U);
    for (std::uint64_t i = 1; i < f.count(); ++i) {
        EXPECT_EQ(r.push(f.keyword(i), f.payload(i)).what, kind::pending);
    }
    // the next message is received normally
    const auto small = encode({pattern(10, 3)});
    auto o = r.push(0, small);
    ASSERT_EQ(o.what, kind::message);
}

TEST(reassembler, wrong_countdown_gap_and_fragment_after_the_last_are_errors) {
    const auto b = encode({pattern(5 * frag, 2)});
    fragmenter f(b, frag);
    {  // skipped keyword (a gap in the countdown)
        reassembler r(1 << 20, frag);
        EXPECT_EQ(r.push(f.keyword(0), f.payload(0)).what, kind::pending);
        auto o = r.push(f.keyword(2), f.payload(2));
        ASSERT_EQ(o.what, kind::error);
        EXPECT_EQ(o.error, ne::errc::broken_series);
        EXPECT_EQ(r.take_second().what, kind::pending);  // keyword 4 started a new series
    }
    {  // an unfragmented DATA inside a series: error, and the small message still arrives
        reassembler r(1 << 20, frag);
        EXPECT_EQ(r.push(f.keyword(0), f.payload(0)).what, kind::pending);
        const auto small = encode({pattern(3, 9)});
        auto o = r.push(0, small);
        ASSERT_EQ(o.what, kind::error);
        auto second = r.take_second();
        ASSERT_EQ(second.what, kind::message);
        EXPECT_EQ(std::vector<std::byte>(second.message.begin(), second.message.end()), small);
    }
    {  // a short non-final fragment
        reassembler r(1 << 20, frag);
        EXPECT_EQ(r.push(5, f.payload(0)).what, kind::pending);
        auto o = r.push(4, f.payload(0).first(100));
        ASSERT_EQ(o.what, kind::error);
        EXPECT_EQ(o.error, ne::errc::bad_fragment);
    }
    {  // garbage reassembles into a non-word-list
        reassembler r(1 << 20, frag);
        std::vector<std::byte> junk(frag, std::byte{0xff});
        EXPECT_EQ(r.push(2, junk).what, kind::pending);
        auto o = r.push(1, junk);
        ASSERT_EQ(o.what, kind::error);
        EXPECT_EQ(o.error, ne::errc::malformed_message);
        EXPECT_EQ(r.buffered(), 0U);
    }
}

TEST(reassembler, random_streams_never_deliver_wrong_bytes) {
    std::mt19937_64 rng(42);
    reassembler r(1 << 16, frag);
    std::vector<std::byte> junk(frag);
    for (int i = 0; i < 100000; ++i) {
        const auto kw = static_cast<std::uint32_t>(rng() % 6);
        const std::size_t n = rng() % (frag + 2);
        for (std::size_t j = 0; j < n && j < junk.size(); ++j) junk[j] = static_cast<std::byte>(rng());
        auto o = r.push(kw, std::span<const std::byte>(junk).first(std::min(n, junk.size())));
        if (o.what == kind::message) {
            ASSERT_TRUE(nc::extended_word_codec::validate(o.message));
        }
        (void)r.take_second();
        ASSERT_LE(r.buffered(), std::size_t{1} << 16);
    }
}

// The server's sessions share one budget: a series that would take the endpoint over it is
// refused before anything is reserved, and the bytes come back when a message completes.
TEST(reassembler, sessions_share_the_endpoint_budget) {
    ne::detail::memory_budget budget;
    budget.limit = 450 * frag;
    reassembler a(1 << 20, frag, SIZE_MAX, &budget);
    reassembler b(1 << 20, frag, SIZE_MAX, &budget);
    const auto m = encode({pattern(300 * frag, 5)});  // 301 fragments: more than is kept
    fragmenter f(m, frag);
    EXPECT_EQ(a.push(f.keyword(0), f.payload(0)).what, kind::pending);
    EXPECT_EQ(budget.used, f.count() * frag);
    auto o = b.push(f.keyword(0), f.payload(0));
    ASSERT_EQ(o.what, kind::error);
    EXPECT_EQ(o.error, ne::errc::reassembly_budget);
    EXPECT_EQ(b.capacity(), 0U);
    for (std::uint64_t i = 1; i < f.count(); ++i) {
        EXPECT_EQ(b.push(f.keyword(i), f.payload(i)).what, kind::pending);  // skipped
        auto x = a.push(f.keyword(i), f.payload(i));
        if (i + 1 < f.count()) EXPECT_EQ(x.what, kind::pending);
        else EXPECT_EQ(x.what, kind::message);
    }
    a.settle();  // the message was consumed: its buffer goes back
    EXPECT_EQ(budget.used, 0U);
    EXPECT_EQ(budget.high, f.count() * frag);
    // now b's next message fits
    for (std::uint64_t i = 0; i < f.count(); ++i) {
        auto x = b.push(f.keyword(i), f.payload(i));
        EXPECT_NE(x.what, kind::error);
    }
}

// A streamed series reserves nothing, and its parts cover the message exactly once in order.
TEST(reassembler, streamed_series_hands_out_parts_in_order) {
    reassembler r(1 << 20, frag, 4 * frag);
    const auto m = encode({pattern(10 * frag, 6)});
    fragmenter f(m, frag);
    std::vector<std::byte> got;
    for (std::uint64_t i = 0; i < f.count(); ++i) {
        auto o = r.push(f.keyword(i), f.payload(i));
        ASSERT_EQ(o.what, kind::part);
        EXPECT_EQ(o.offset, got.size());
        EXPECT_EQ(o.first, i == 0);
        EXPECT_EQ(o.last, i + 1 == f.count());
        EXPECT_EQ(o.size_bound, f.count() * frag);
        got.insert(got.end(), o.message.begin(), o.message.end());
    }
    EXPECT_EQ(got, m);
    EXPECT_EQ(r.capacity(), 0U);
}
