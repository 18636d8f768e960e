#include "neutrino/qotp/connection.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <random>
#include <string>

#include "qotp_sim.hpp"

namespace {

using namespace qotp_sim;
using qotp::errc;
using qotp::phase;

qotp::endpoint_config config() {
    qotp::endpoint_config c;
    c.connection.max_payload = 1452;
    return c;
}

// The test application: both sides write `to_server` / `to_client` as fast as the connections
// take it and read everything.
struct exchange {
    explicit exchange(sim& s, bool zero_rtt, std::size_t size = 20000)
        : net(s), to_server(pattern(size, 1)), to_client(pattern(size + 7, 2)) {
        auto id = s.client.connect(s.server_address, s.now,
                                   zero_rtt ? std::optional(s.server.identity()) : std::nullopt);
        EXPECT_TRUE(id.has_value());
        client_id = *id;
        pump(*s.client.find(client_id), to_server, client_sent);  // 0-RTT data rides along
        s.on_step = [this] { run(); };
    }
    void run() {
        if (auto* c = net.client.find(client_id)) {
            pump(*c, to_server, client_sent);
            drain(*c, at_client);
            while (auto e = c->poll_event()) {
                if (e->what == qotp::connection_event::kind::handshake_complete)
                    client_ready = true;
            }
        }
        if (!net.accepted) return;
        if (auto* c = net.server.find(*net.accepted)) {
            pump(*c, to_client, server_sent);
            drain(*c, at_server);
            while (auto e = c->poll_event()) {
                if (e->what == qotp::connection_event::kind::handshake_complete)
                    server_ready = true;
            }
        }
    }
    [[nodiscard]] bool done() const {
        return client_ready && server_ready && at_server.size() == to_server.size() &&
               at_client.size() == to_client.size();
    }

    sim& net;
    bytes to_server;
    bytes to_client;
    bytes at_server;
    bytes at_client;
    std::size_t client_sent = 0;
    std::size_t server_sent = 0;
    qotp::connection_id client_id;
    bool client_ready = false;
    bool server_ready = false;
};

// --- handshakes with one handshake datagram lost, duplicated or reordered -------------------

enum class fault : std::uint8_t { none, lose, duplicate, reorder };

struct handshake_case {
    bool zero_rtt;
    fault what;
    std::size_t datagram;  ///< 0 = Init*Snd, 1 = Init*Rcv, 2 = the initiator's first Data
};

std::string name_of(const testing::TestParamInfo<handshake_case>& p) {
    static const std::array<const char*, 4> names{"none", "lose", "duplicate", "reorder"};
    return std::string(p.param.zero_rtt ? "zero_rtt_" : "one_rtt_") +
           names.at(static_cast<std::size_t>(p.param.what)) + "_" +
           std::to_string(p.param.datagram);
}

class qotp_handshake : public testing::TestWithParam<handshake_case> {};

TEST_P(qotp_handshake, completes_and_carries_data_byte_exact) {
    const auto param = GetParam();
    sim s(config(), config());
    std::size_t faults = 0;
    s.filter = [&](const sent_info& d) -> action {
        // datagram 0 and 2 come from the client (its 0th and 1st), 1 from the server (its 0th)
        const bool hit = param.datagram == 1 ? (!d.from_client && d.index == 0)
                                             : (d.from_client && d.index == param.datagram / 2);
        if (!hit || param.what == fault::none) return {};
        ++faults;
        switch (param.what) {
            case fault::lose: return {action::kind::drop, {}};
            case fault::duplicate: return {action::kind::duplicate, {}};
            // held past the re-send timer, so the re-sent copy overtakes it
            case fault::reorder: return {action::kind::delay, 450ms};
            case fault::none: break;
        }
        return {};
    };
    exchange x(s, param.zero_rtt);
    ASSERT_TRUE(s.run_until([&] { return x.done(); }, 10s)) << "elapsed " << s.elapsed().count();
    EXPECT_EQ(faults, param.what == fault::none ? 0U : 1U);
    EXPECT_EQ(x.at_server, x.to_server);
    EXPECT_EQ(x.at_client, x.to_client);
    ASSERT_TRUE(s.accepted.has_value());
    EXPECT_EQ(*s.accepted, x.client_id);
    EXPECT_EQ(s.server.find(x.client_id)->zero_rtt(), param.zero_rtt);
    EXPECT_EQ(s.server.stats().connections_accepted, 1U);
    EXPECT_EQ(s.server.stats().drops(qotp::drop_reason::decryption_failed), 0U);
    EXPECT_EQ(s.client.stats().drops(qotp::drop_reason::decryption_failed), 0U);
    // A lost or delayed init message costs about one RTO (200 ms) plus transfer time.
    EXPECT_LT(s.elapsed(), param.what == fault::none || param.what == fault::duplicate ? 1s : 2s);
    if (param.what == fault::duplicate && param.datagram == 2) {
        EXPECT_GE(s.server.stats().drops(qotp::drop_reason::replayed), 1U);  // replay window
    }
}

std::vector<handshake_case> handshake_cases() {
    std::vector<handshake_case> v;
    for (bool z : {false, true}) {
        v.push_back({z, fault::none, 0});
        for (fault f : {fault::lose, fault::duplicate, fault::reorder}) {
            for (std::size_t d = 0; d < 3; ++d) v.push_back({z, f, d});
        }
    }
    return v;
}

INSTANTIATE_TEST_SUITE_P(all, qotp_handshake, testing::ValuesIn(handshake_cases()), name_of);

TEST(qotp_handshake_more, one_rtt_first_data_goes_without_waiting_for_an_rto) {
    // Our InitRcv carries an empty stream header (which the initiator ACKs) and the initiator
    // sends a probe right after InitRcv: either makes a Data packet reach the responder one hop
    // later, where the reference waits for initiator data or an RTO (spec §24.10). Checked: the
    // test fails only when both are removed.
    sim s(config(), config());
    exchange x(s, false, 0);
    ASSERT_TRUE(s.run_until([&] { return x.server_ready; }, 5s));
    EXPECT_LE(s.elapsed(), 30ms);  // InitSnd, InitRcv, Data: three 10 ms hops
}

TEST(qotp_handshake_more, every_init_message_lost_gives_up_with_handshake_timeout) {
    sim s(config(), config());
    s.filter = [](const sent_info&) { return action{action::kind::drop, {}}; };
    const auto id = s.client.connect(s.server_address, s.now);
    ASSERT_TRUE(id);
    std::size_t sends = 0;
    s.filter = [&sends](const sent_info&) {
        ++sends;
        return action{action::kind::drop, {}};
    };
    ASSERT_TRUE(s.run_until([&] { return !s.client_events.empty(); }, 60s));
    ASSERT_EQ(s.client_events.size(), 1U);
    EXPECT_EQ(s.client_events[0].what, qotp::endpoint_event::kind::closed);
    EXPECT_EQ(s.client_events[0].error, errc::handshake_timeout);
    EXPECT_EQ(sends, 6U);  // the original and 5 re-sends (spec §7.3)
    // sends at 0, 0.2, 0.6, 1.4, 3.0, 5.0 s; failure 0.2 s later (spec §13.3)
    EXPECT_EQ(s.elapsed(), 5200ms);
    EXPECT_EQ(s.client.size(), 0U);
}

TEST(qotp_data, both_ways_byte_exact) {
    sim s(config(), config());
    exchange x(s, false, 300000);
    ASSERT_TRUE(s.run_until([&] { return x.done(); }, 60s));
    EXPECT_EQ(x.at_server, x.to_server);
    EXPECT_EQ(x.at_client, x.to_client);
    EXPECT_EQ(s.server.find(x.client_id)->mtu(), 1452U);  // negotiated (spec §16)
    EXPECT_EQ(s.server.stats().total_drops(), 0U);
    EXPECT_EQ(s.client.stats().total_drops(), 0U);
}

TEST(qotp_data, replayed_data_datagram_is_dropped_and_not_delivered_twice) {
    sim s(config(), config());
    exchange x(s, false, 3000);
    ASSERT_TRUE(s.run_until([&] { return x.done(); }, 10s));
    // Re-inject every Data packet the client ever sent: all are authentic, none is fresh.
    std::size_t data_packets = 0;
    for (const auto& d : s.client_log) {
        if (d[0] == qotp::type_byte(qotp::message_type::data)) {
            s.inject_to_server(d, s.client_address);
            ++data_packets;
        }
    }
    ASSERT_GT(data_packets, 2U);
    const auto before = s.server.stats().drops(qotp::drop_reason::replayed);
    s.run_until([] { return false; }, 100ms);
    EXPECT_EQ(s.server.stats().drops(qotp::drop_reason::replayed) - before, data_packets);
    EXPECT_EQ(x.at_server, x.to_server);
    EXPECT_EQ(s.server.find(x.client_id)->readable(), 0U);
}

std::string dump(const qotp::endpoint_stats& st) {
    std::string out = " drops:";
    for (std::size_t i = 0; i < st.dropped.size(); ++i) {
        if (st.dropped[i] != 0)
            out += " " + std::to_string(i) + "=" + std::to_string(st.dropped[i]);
    }
    return out;
}

// Key rotation forced with small thresholds, 10% deterministic pseudo-random loss both ways.
TEST(qotp_rotation, small_threshold_under_loss_keeps_data_byte_exact) {
    std::uint64_t seed = 20261207;
    if (const char* e = std::getenv("NEUTRINO_TEST_SEED")) seed = std::strtoull(e, nullptr, 10);
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto c = config();
    c.connection.rotation_start = 16;
    c.connection.rotation_deadline = 192;
    c.connection.max_in_flight = 4;  // paced so a lost KU or KUA is re-sent before the deadline
    // One exact ACK per packet, never retransmitted (spec §12, §24.8): an attempt succeeds only
    // if the packet and its ACK both arrive (0.81 at 10% loss), so 6 attempts leave 5e-5 per
    // packet: over the ~1500 packets here the spec's limit fails a few % of seeds for reasons
    // that have nothing to do with rotation. 11 attempts: ~1e-8 per packet.
    c.connection.max_retries = 10;
    sim s(c, c);
    std::mt19937_64 rng(seed);
    std::size_t lost = 0;
    s.filter = [&](const sent_info&) -> action {
        if (rng() % 10 == 0) {
            ++lost;
            return {action::kind::drop, {}};
        }
        return {};
    };
    exchange x(s, false, 400000);
    std::size_t rotated_events = 0;
    auto app = s.on_step;
    s.on_step = [&] {
        // count key_rotated before the exchange's own polling consumes the events
        for (auto* conn :
             {s.client.find(x.client_id), s.accepted ? s.server.find(*s.accepted) : nullptr}) {
            if (conn == nullptr) continue;
            while (auto e = conn->poll_event()) {
                if (e->what == qotp::connection_event::kind::key_rotated) ++rotated_events;
                if (e->what == qotp::connection_event::kind::handshake_complete) {
                    (conn == s.client.find(x.client_id) ? x.client_ready : x.server_ready) = true;
                }
            }
        }
        app();
    };
    ASSERT_TRUE(s.run_until([&] { return x.done(); }, 300s))
        << "client " << x.at_client.size() << " server " << x.at_server.size() << " events "
        << s.client_events.size() << "/" << s.server_events.size() << " "
        << (s.client_events.empty() ? "" : s.client_events.back().error.message()) << " / "
        << (s.server_events.empty() ? "" : s.server_events.back().error.message()) << " at "
        << s.elapsed().count() << " ms" << dump(s.client.stats()) << dump(s.server.stats());
    EXPECT_EQ(x.at_server, x.to_server);
    EXPECT_EQ(x.at_client, x.to_client);
    EXPECT_GT(lost, 50U);
    const auto* cc = s.client.find(x.client_id);
    const auto* sc = s.server.find(x.client_id);
    ASSERT_NE(cc, nullptr);
    ASSERT_NE(sc, nullptr);
    // At least two rounds each way, so each side also promoted a receive key (cur/prev/next).
    EXPECT_GE(cc->send_rotations(), 2U);
    EXPECT_GE(sc->send_rotations(), 2U);
    EXPECT_GE(cc->receive_rotations(), 1U);
    EXPECT_GE(sc->receive_rotations(), 1U);
    EXPECT_EQ(rotated_events, cc->send_rotations() + sc->send_rotations());
    EXPECT_EQ(s.server.stats().drops(qotp::drop_reason::decryption_failed), 0U);
}

TEST(qotp_rotation, unanswered_key_update_fails_the_connection) {
    auto c = config();
    c.connection.rotation_start = 4;
    c.connection.rotation_deadline = 1000;
    sim s(c, c);
    exchange x(s, false, 2000);
    ASSERT_TRUE(s.run_until([&] { return x.done(); }, 10s));
    // From now on the server never hears the client: its KU is never answered.
    s.filter = [](const sent_info& d) {
        return d.from_client ? action{action::kind::drop, {}} : action{};
    };
    const bytes more = pattern(100000, 9);
    std::size_t sent = 0;
    s.on_step = [&] {
        if (auto* conn = s.client.find(x.client_id)) pump(*conn, more, sent);
    };
    ASSERT_TRUE(s.run_until([&] { return !s.client_events.empty(); }, 60s));
    EXPECT_TRUE(s.client_events[0].error == errc::key_update_timeout ||
                s.client_events[0].error == errc::retransmission_timeout)
        << s.client_events[0].error.message();
}

TEST(qotp_connection, config_errors_throw) {
    qotp::deterministic_key_source keys(1);
    qotp::connection_config c;
    c.max_payload = 1000;
    EXPECT_THROW(qotp::connection(c, keys, qotp::public_key{}, std::nullopt, {}),
                 std::invalid_argument);
    c = {};
    c.rotation_start = c.rotation_deadline;
    EXPECT_THROW(qotp::connection(c, keys, qotp::public_key{}, std::nullopt, {}),
                 std::invalid_argument);
    c = {};
    // an all-zero responder identity is a low-order key: no S0 (spec §2)
    EXPECT_THROW(qotp::connection(c, keys, qotp::public_key{}, qotp::public_key{}, {}),
                 std::invalid_argument);
}

}  // namespace
