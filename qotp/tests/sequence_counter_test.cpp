#include "neutrino/qotp/sequence_counter.hpp"

#include <gtest/gtest.h>

namespace {

using neutrino::qotp::errc;
using neutrino::qotp::sequence_counter;

TEST(qotp_sequence_counter, counts_from_zero) {
    sequence_counter c;
    EXPECT_EQ(c.peek(), 0U);
    EXPECT_EQ(c.next().value(), 0U);  // e.g. InitSnd, which carries no sn  spec §6.5
    EXPECT_EQ(c.next().value(), 1U);  // the initiator's first encrypted packet
    EXPECT_EQ(c.peek(), 2U);
    c.restart();
    EXPECT_EQ(c.next().value(), 0U);
}

TEST(qotp_sequence_counter, rotation_constants) {
    EXPECT_EQ(sequence_counter::rotation_start, std::uint64_t{1} << 46);
    EXPECT_EQ(sequence_counter::rotation_deadline, std::uint64_t{1} << 47);
}

}  // namespace
