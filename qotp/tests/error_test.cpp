#include "neutrino/qotp/error.hpp"

#include <gtest/gtest.h>

namespace {

using neutrino::qotp::condition;
using neutrino::qotp::errc;

TEST(qotp_error, codes_map_to_conditions) {
    EXPECT_EQ(std::error_code(errc::payload_truncated), condition::malformed);
    EXPECT_EQ(std::error_code(errc::datagram_too_short), condition::malformed);
    EXPECT_EQ(std::error_code(errc::decryption_failed), condition::unauthenticated);
    EXPECT_EQ(std::error_code(errc::low_order_key), condition::unauthenticated);
    EXPECT_EQ(std::error_code(errc::offset_too_large), condition::too_large);
    EXPECT_EQ(std::error_code(errc::buffer_too_small), condition::misuse);
    EXPECT_NE(std::error_code(errc::decryption_failed), condition::malformed);
}

TEST(qotp_error, every_code_has_a_message) {
    for (int e = static_cast<int>(errc::datagram_too_short);
         e <= static_cast<int>(errc::connection_closed); ++e) {
        const std::error_code ec(static_cast<errc>(e));
        EXPECT_NE(ec.message(), "unknown neutrino.qotp error") << e;
        EXPECT_STREQ(ec.category().name(), "neutrino.qotp");
    }
}

TEST(qotp_error, fail_builds_the_error) {
    const neutrino::qotp::result<int> r = neutrino::qotp::fail(errc::bad_key);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), errc::bad_key);
}

}  // namespace
