#include "neutrino/qotp/key_log.hpp"

#include <gtest/gtest.h>

#include <map>

#include "neutrino/qotp/packet_protection.hpp"
#include "qotp_sim.hpp"
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

// The lines a key_log_buffer gathered, parsed back (every line must parse).
std::vector<qotp::key_log_entry> parse_all(std::string_view text) {
    std::vector<qotp::key_log_entry> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        EXPECT_NE(nl, std::string_view::npos);
        auto e = qotp::parse_key_log_line(text.substr(0, nl + 1));
        EXPECT_TRUE(e.has_value()) << text.substr(0, nl);
        if (e) out.push_back(*e);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    return out;
}

// Opens a copy of `datagram` with `secret` (the sender's role given, for Data).
bool opens(const qotp_sim::bytes& datagram, const qotp::shared_secret& secret, qotp::sender from) {
    qotp_sim::bytes copy = datagram;
    return qotp::open_message(copy, secret, from).has_value();
}

// A handshake and a transfer between two endpoints with key logs; the lines both sides wrote
// must parse back to the secrets that open the datagrams they actually exchanged.
void check_handshake_key_log(bool zero_rtt) {
    using namespace qotp_sim;
    qotp::key_log_buffer client_log;
    qotp::key_log_buffer server_log;
    qotp::endpoint_config cc;
    cc.connection.key_log = &client_log;
    qotp::endpoint_config sc;
    sc.connection.key_log = &server_log;
    sim s(cc, sc, zero_rtt ? 5 : 6);
    const bytes to_server = pattern(5000, 1);
    bytes at_server;
    std::size_t sent = 0;
    const auto id = *s.client.connect(s.server_address, s.now,
                                      zero_rtt ? std::optional(s.server.identity()) : std::nullopt);
    // 0-RTT: S0 is known (and logged) the moment the connection exists.
    if (zero_rtt) {
        const auto early = parse_all(client_log.text());
        ASSERT_EQ(early.size(), 1U);
        EXPECT_EQ(early[0].label, key_log_label::zero_rtt);
    } else {
        EXPECT_TRUE(client_log.text().empty());
    }
    s.on_step = [&] {
        if (auto* c = s.client.find(id)) pump(*c, to_server, sent);
        if (auto* c = s.server.find(id)) drain(*c, at_server);
    };
    ASSERT_TRUE(s.run_until([&] { return at_server.size() == to_server.size(); }, 5s));
    EXPECT_EQ(at_server, to_server);

    // Both sides log the same lines, in the same order: S0 first (0-RTT), then S.
    EXPECT_EQ(client_log.text(), server_log.text());
    const auto entries = parse_all(client_log.text());
    ASSERT_EQ(entries.size(), zero_rtt ? 2U : 1U);
    std::map<key_log_label, const qotp::shared_secret*> by_label;
    for (const auto& e : entries) {
        EXPECT_EQ(e.id, id);
        EXPECT_TRUE(by_label.emplace(e.label, &e.secret).second) << "one line per secret";
    }
    const qotp::shared_secret& session = *by_label.at(key_log_label::session);

    // Every encrypted datagram of the exchange opens with the logged secret of its type.
    std::size_t data_packets = 0;
    for (const bool from_client : {true, false}) {
        for (const auto& d : from_client ? s.client_log : s.server_log) {
            const auto type = qotp::parse_type(d);
            ASSERT_TRUE(type.has_value());
            const auto who = from_client ? qotp::sender::initiator : qotp::sender::responder;
            switch (*type) {
                case qotp::message_type::init_snd: EXPECT_FALSE(zero_rtt); break;
                case qotp::message_type::init_crypto_snd:
                    ASSERT_TRUE(zero_rtt);
                    EXPECT_TRUE(opens(d, *by_label.at(key_log_label::zero_rtt), who));
                    EXPECT_FALSE(opens(d, session, who));
                    break;
                default:
                    EXPECT_TRUE(opens(d, session, who)) << "type " << static_cast<int>(*type);
                    if (*type == qotp::message_type::data) ++data_packets;
            }
        }
    }
    EXPECT_GT(data_packets, 2U);
    // Taking the lines empties the buffer.
    std::string taken = client_log.take();
    EXPECT_FALSE(taken.empty());
    EXPECT_TRUE(client_log.text().empty());
    EXPECT_EQ(client_log.lost(), 0U);
}

TEST(qotp_key_log, one_rtt_handshake_logs_the_session_secret_both_sides_use) {
    check_handshake_key_log(false);
}

TEST(qotp_key_log, zero_rtt_handshake_logs_both_secrets_both_sides_use) {
    check_handshake_key_log(true);
}

TEST(qotp_key_log, buffer_grows_without_losing_lines) {
    qotp::key_log_buffer b;
    const auto s = secret_named("ss_session");
    for (std::uint64_t i = 0; i < 100; ++i) {
        b.on_secret(qotp::key_log_entry{key_log_label::session, qotp::connection_id{i}, s});
    }
    const auto entries = parse_all(b.text());
    ASSERT_EQ(entries.size(), 100U);
    EXPECT_EQ(entries[99].id.value, 99U);
    EXPECT_TRUE(entries[42].secret.equals(s));
}

}  // namespace
