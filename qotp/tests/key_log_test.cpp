#include "neutrino/qotp/key_log.hpp"

#include <gtest/gtest.h>

#include "qotp_vectors.hpp"

namespace {

using namespace qotp_test;
using qotp::errc;
using qotp::key_log_label;

const std::string secret_hex = "3c528e9fd39731b15d10de8feb5f71d3f65b73c993581dedb03315a9ed177730";

TEST(qotp_key_log, go_hex_has_no_leading_zeros) {
    const auto s = secret_named("ss_session");
    std::string line;
    qotp::append_key_log_line(line, key_log_label::session, qotp::connection_id{0}, s);
    qotp::append_key_log_line(line, key_log_label::zero_rtt, qotp::connection_id{0x0a}, s);
    qotp::append_key_log_line(line, key_log_label::session, qotp::connection_id{UINT64_MAX}, s);
    EXPECT_EQ(line, "QOTP_SHARED_SECRET 0 " + secret_hex + "\n" + "QOTP_SHARED_SECRET_ID a " +
                        secret_hex + "\n" + "QOTP_SHARED_SECRET ffffffffffffffff " + secret_hex +
                        "\n");
}

TEST(qotp_key_log, parse_round_trip) {
    const auto s = secret_named("ss_0rtt");
    for (const auto label : {key_log_label::session, key_log_label::zero_rtt}) {
        for (const std::uint64_t id :
             {std::uint64_t{0}, std::uint64_t{0x31f82734d9470d7b}, UINT64_MAX}) {
            std::string line;
            qotp::append_key_log_line(line, label, qotp::connection_id{id}, s);
            auto e = qotp::parse_key_log_line(line);
            ASSERT_TRUE(e.has_value()) << line;
            EXPECT_EQ(e->label, label);
            EXPECT_EQ(e->id.value, id);
            EXPECT_TRUE(e->secret.equals(s));
        }
    }
    auto crlf = qotp::parse_key_log_line("QOTP_SHARED_SECRET 7B " + std::string(64, 'A') + "\r\n");
    ASSERT_TRUE(crlf.has_value());
    EXPECT_EQ(crlf->id.value, 0x7BU);
}

TEST(qotp_key_log, malformed_lines) {
    const std::string ok_secret(64, 'a');
    const std::string bad_lines[] = {
        std::string{},
        "QOTP_SHARED_SECRET",
        "QOTP_SHARED_SECRET 1",
        "QOTP_SHARED_SECRET 1 ",
        "QOTP_SHARED_SECRET_X 1 " + ok_secret,
        "CLIENT_RANDOM 1 " + ok_secret,
        "QOTP_SHARED_SECRET  1 " + ok_secret,
        "QOTP_SHARED_SECRET 1 " + ok_secret + " ",
        "QOTP_SHARED_SECRET 1 " + ok_secret + "a",
        "QOTP_SHARED_SECRET 1 " + ok_secret.substr(1),
        "QOTP_SHARED_SECRET 1 0x" + ok_secret.substr(2),
        "QOTP_SHARED_SECRET 12345678901234567 " + ok_secret,
        "QOTP_SHARED_SECRET 0x1 " + ok_secret,
        "QOTP_SHARED_SECRET g " + ok_secret,
        "QOTP_SHARED_SECRET 1 " + ok_secret.substr(1) + "z",
    };
    for (const std::string& bad : bad_lines) {
        EXPECT_EQ(error_of(qotp::parse_key_log_line(bad)), errc::bad_key_log_line) << bad;
    }
}

}  // namespace
