#include "neutrino/core/replay_window.hpp"

#include <gtest/gtest.h>

#include "neutrino/core/constants.hpp"
#include "test_seed.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <set>

namespace nc = neutrino::core;

namespace {

std::uint64_t test_seed() { return neutrino::test::env_seed_or_random("replay window tests"); }

/// check() then commit(), as the machines use it.
bool accept(nc::replay_window<>& w, std::uint64_t pn) {
    if (!w.check(pn)) return false;
    w.commit(pn);
    return true;
}

}  // namespace

TEST(replay_window, unstarted_accepts_anything_and_first_commit_starts) {
    nc::replay_window<> w;
    EXPECT_FALSE(w.started());
    EXPECT_TRUE(w.check(0));
    EXPECT_TRUE(w.check(UINT64_MAX));
    w.commit(1000);
    EXPECT_TRUE(w.started());
    EXPECT_EQ(w.highest(), 1000U);
    EXPECT_FALSE(w.check(1000));
    // everything before the first number counts as seen
    EXPECT_FALSE(w.check(999));
    EXPECT_FALSE(w.check(1));
}

TEST(replay_window, fresh_numbers_accepted_duplicates_rejected) {
    nc::replay_window<> w;
    w.reset(100);
    EXPECT_FALSE(w.check(100));  // the first number counts as seen
    for (std::uint64_t pn = 101; pn < 5000; ++pn) {
        ASSERT_TRUE(accept(w, pn)) << pn;
        ASSERT_FALSE(w.check(pn)) << pn;
        ASSERT_FALSE(accept(w, pn)) << pn;
    }
    EXPECT_EQ(w.highest(), 4999U);
}

TEST(replay_window, out_of_order_inside_window_accepted_once) {
    nc::replay_window<> w;
    w.reset(64);
    ASSERT_TRUE(accept(w, 64 + 1000));
    // all of 65 .. 1063 are inside the window (1000 back from the top, < 1024) and unseen
    for (std::uint64_t pn = 1063; pn >= 65; --pn) {
        ASSERT_TRUE(accept(w, pn)) << pn;
        ASSERT_FALSE(accept(w, pn)) << pn;
    }
    EXPECT_EQ(w.highest(), 1064U);
    EXPECT_FALSE(w.check(64));
}

TEST(replay_window, older_than_window_rejected) {
    nc::replay_window<> w;
    w.reset(64);
    ASSERT_TRUE(accept(w, 5000));
    // top − pn == 1023 is the oldest number still inside; 1024 back is outside
    EXPECT_TRUE(w.check(5000 - 1023));
    EXPECT_FALSE(w.check(5000 - 1024));
    EXPECT_FALSE(w.check(5000 - 5000));
    EXPECT_FALSE(w.check(64));
    EXPECT_FALSE(w.check(65));
}

// The sessions' width (issue 13): a reliable session on a long fat path repairs holes thousands
// of numbers behind the newest packet; their retransmissions must still pass, once.
TEST(replay_window, the_session_width_accepts_a_retransmission_thousands_behind) {
    static_assert(nc::replay_window_size >= 8192);
    nc::replay_window<nc::replay_window_size> w;
    w.reset(64);
    for (std::uint64_t pn = 65; pn <= 64 + 7500; ++pn) {
        if (pn != 100) {
            ASSERT_TRUE(w.check(pn));
            w.commit(pn);
        }
    }
    ASSERT_TRUE(w.check(100));  // 7464 behind the newest
    w.commit(100);
    EXPECT_FALSE(w.check(100));
    constexpr std::uint64_t top = 30000;
    ASSERT_TRUE(w.check(top));
    w.commit(top);
    EXPECT_TRUE(w.check(top - (nc::replay_window_size - 1)));
    EXPECT_FALSE(w.check(top - nc::replay_window_size));
}

TEST(replay_window, jump_forward_beyond_window_clears) {
    nc::replay_window<> w;
    w.reset(64);
    for (std::uint64_t pn = 65; pn < 65 + 2048; ++pn) ASSERT_TRUE(accept(w, pn));
    const std::uint64_t top = w.highest();
    const std::uint64_t jump = top + 5000;
    ASSERT_TRUE(accept(w, jump));
    EXPECT_EQ(w.highest(), jump);
    // every number in the window below the new top is unseen, whatever bits it used to share
    for (std::uint64_t back = 1; back < 1024; ++back) {
        ASSERT_TRUE(w.check(jump - back)) << back;
    }
    EXPECT_FALSE(w.check(jump - 1024));
    EXPECT_FALSE(w.check(top));

    // a jump by exactly the window width also clears
    nc::replay_window<> x;
    x.reset(64);
    ASSERT_TRUE(accept(x, 64 + 1024));
    for (std::uint64_t pn = 65; pn < 64 + 1024; ++pn) ASSERT_TRUE(x.check(pn)) << pn;
    EXPECT_FALSE(x.check(64));

    // a jump to the top of the number space
    ASSERT_TRUE(accept(x, UINT64_MAX));
    EXPECT_FALSE(x.check(UINT64_MAX));
    EXPECT_TRUE(x.check(UINT64_MAX - 1));
    EXPECT_FALSE(x.check(UINT64_MAX - 1024));
}

TEST(replay_window, small_jump_clears_only_the_skipped_numbers) {
    nc::replay_window<> w;
    w.reset(1000);
    for (std::uint64_t pn = 1001; pn <= 3000; ++pn) ASSERT_TRUE(accept(w, pn));
    ASSERT_TRUE(accept(w, 3010));  // 3001..3009 skipped
    for (std::uint64_t pn = 3001; pn <= 3009; ++pn) EXPECT_TRUE(w.check(pn)) << pn;
    for (std::uint64_t pn = 3010 - 1023; pn <= 3000; ++pn) EXPECT_FALSE(w.check(pn)) << pn;
}

TEST(replay_window, check_never_mutates) {
    nc::replay_window<> w;
    w.reset(500);
    ASSERT_TRUE(accept(w, 700));
    nc::replay_window<> copy = w;
    for (std::uint64_t pn : {std::uint64_t{0}, std::uint64_t{499}, std::uint64_t{500},
                             std::uint64_t{600}, std::uint64_t{700}, std::uint64_t{701},
                             std::uint64_t{100000}, UINT64_MAX}) {
        (void)w.check(pn);
    }
    EXPECT_EQ(w.highest(), copy.highest());
    EXPECT_EQ(w.started(), copy.started());
    for (std::uint64_t pn = 0; pn < 3000; ++pn) ASSERT_EQ(w.check(pn), copy.check(pn)) << pn;
    EXPECT_EQ(w.highest(), 700U);
    EXPECT_TRUE(w.check(600));  // still unseen: checking it did not record it
    EXPECT_TRUE(w.check(600));
}

TEST(replay_window, matches_a_reference_model_on_random_input) {
    const std::uint64_t seed = test_seed();
    std::printf("replay_window seed: %llu (set NEUTRINO_TEST_SEED to replay)\n",
                static_cast<unsigned long long>(seed));
    std::mt19937_64 rng(seed);
    nc::replay_window<> w;
    const std::uint64_t first = 64 + rng() % 1000000;
    w.reset(first);
    std::set<std::uint64_t> seen{first};
    std::uint64_t top = first;
    for (int i = 0; i < 200000; ++i) {
        std::uint64_t pn = 0;
        switch (rng() % 4) {
            case 0: pn = top + 1 + rng() % 4; break;                    // slightly ahead
            case 1: pn = top - std::min<std::uint64_t>(top, rng() % 1100); break;  // around the edge
            case 2: pn = top + rng() % 3000; break;                     // sometimes a big jump
            default: pn = top - std::min<std::uint64_t>(top, rng() % 64); break;  // recent
        }
        const bool expected = pn > top || (top - pn < 1024 && pn > first && !seen.contains(pn));
        ASSERT_EQ(w.check(pn), expected) << "seed " << seed << " step " << i << " pn " << pn;
        if (expected) {
            w.commit(pn);
            seen.insert(pn);
            top = std::max(top, pn);
        }
        // keep the model small: numbers below the window can never be accepted again
        while (!seen.empty() && *seen.begin() + 2048 < top) seen.erase(seen.begin());
    }
}
