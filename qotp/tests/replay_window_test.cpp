#include "neutrino/qotp/replay_window.hpp"

#include <gtest/gtest.h>

namespace {

using neutrino::qotp::replay_window;

TEST(qotp_replay_window, fresh_once_then_replayed) {
    replay_window w;
    EXPECT_TRUE(w.fresh(0));
    w.mark(0);
    EXPECT_FALSE(w.fresh(0));
    EXPECT_TRUE(w.fresh(5));
    w.mark(5);
    EXPECT_TRUE(w.fresh(3));  // out of order, inside the window
    w.mark(3);
    EXPECT_FALSE(w.fresh(3));
    EXPECT_FALSE(w.fresh(5));
    EXPECT_TRUE(w.fresh(4));
}

TEST(qotp_replay_window, slides_and_forgets_old_numbers) {
    replay_window w;
    w.mark(10);
    w.mark(10 + replay_window::size - 1);
    EXPECT_FALSE(w.fresh(10));  // still inside, marked
    EXPECT_TRUE(w.fresh(11));
    w.mark(10 + replay_window::size);
    EXPECT_FALSE(w.fresh(10));  // fell out: too old counts as replayed
    EXPECT_TRUE(w.fresh(11));   // the oldest number still inside
    w.mark(11 + replay_window::size);
    EXPECT_FALSE(w.fresh(11));
}

TEST(qotp_replay_window, shifts_across_word_boundaries) {
    for (std::uint64_t step : {1U, 63U, 64U, 65U, 127U, 200U, 255U, 256U, 1000U}) {
        replay_window w;
        for (std::uint64_t sn = 0; sn < 600; sn += step) {
            ASSERT_TRUE(w.fresh(sn)) << step << " " << sn;
            w.mark(sn);
            ASSERT_FALSE(w.fresh(sn));
            if (sn >= step) {
                EXPECT_FALSE(w.fresh(sn - step));  // marked, or too old
            }
            if (sn >= 1 && step > 1) {
                EXPECT_EQ(w.fresh(sn - 1), step - 1 < replay_window::size) << step << " " << sn;
            }
        }
    }
}

}  // namespace
