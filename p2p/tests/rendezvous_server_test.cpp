#include "neutrino/p2p/rendezvous_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/rendezvous_message.hpp"
#include "neutrino/random.hpp"
#include "p2p_test_support.hpp"
#include "test_seed.hpp"

namespace {

using namespace neutrino::p2p;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::seeded_random;
using neutrino::time_point;
using p2p_test::as_bytes;
using p2p_test::error_of;
using server = basic_rendezvous_server<seeded_random>;

struct node {
    public_key_bytes key{};
    node_id id{};
    peer_address addr;
};

node make_node(std::uint8_t n) {
    node x;
    for (std::size_t i = 0; i < x.key.size(); ++i) x.key[i] = std::byte(std::size_t{n} * 31 + i);
    x.id = node_id_of(x.key);
    x.addr = peer_address::v4({198, 51, 100, n}, static_cast<std::uint16_t>(40000 + n));
    return x;
}

bool less(const node& a, const node& b) {
    return std::lexicographical_compare(a.id.begin(), a.id.end(), b.id.begin(), b.id.end());
}

struct sent {
    node_id to{};
    std::vector<std::byte> bytes;
    [[nodiscard]] rendezvous_message decoded() const {
        auto m = decode_rendezvous(bytes);
        EXPECT_TRUE(m);
        return m ? *m : rendezvous_message{bye_message{}};
    }
};

class p2p_rendezvous_server : public ::testing::Test {
protected:
    void make(rendezvous_server_config cfg = {}) {
        srv_.emplace(std::move(cfg), seeded_random(neutrino::test::base_seed()));
    }
    server& srv() { return *srv_; }

    neutrino::result<void> send(const node& n, const rendezvous_message& m, time_point now,
                                std::optional<peer_address> from = std::nullopt) {
        std::array<std::byte, max_rendezvous_message_size> buf{};
        const auto size = encode_rendezvous(m, buf);
        EXPECT_TRUE(size);
        return srv().handle_control(n.key, from.value_or(n.addr), std::span(buf).first(*size), now);
    }
    neutrino::result<void> do_register(const node& n, time_point now, std::string_view realm = {},
                                       candidate_list host = {}, std::string_view token = {}) {
        return send(n, register_message{n.id, as_bytes(realm), as_bytes(token), host, 0}, now);
    }
    std::vector<sent> drain() {
        std::vector<sent> out;
        while (auto msg = srv().poll_control()) {
            out.push_back({msg->to, {msg->message.begin(), msg->message.end()}});
        }
        return out;
    }
    std::vector<rendezvous_server_event> events() {
        std::vector<rendezvous_server_event> out;
        while (auto e = srv().poll_event()) out.push_back(*e);
        return out;
    }
    // Registers both, drains, and introduces a to b; returns the two INTRODUCEs (to a, to b).
    std::pair<introduce_message, introduce_message> introduce(const node& x, const node& y,
                                                              time_point now) {
        EXPECT_TRUE(do_register(x, now, {}, host_of(x)));
        EXPECT_TRUE(do_register(y, now, {}, host_of(y)));
        drain();
        EXPECT_TRUE(send(x, connect_message{y.id, 77}, now));
        const auto out = drain();
        EXPECT_EQ(out.size(), 2U);
        std::pair<introduce_message, introduce_message> r;
        for (const auto& s : out) {
            const auto m = std::get<introduce_message>(s.decoded());
            (s.to == x.id ? r.first : r.second) = m;
        }
        return r;
    }
    static candidate_list host_of(const node& n) {
        candidate_list cs;
        cs.push_back(
            {peer_address::v4({192, 168, 1, n.addr.bytes[3]}, 5000), candidate_kind::host});
        return cs;
    }

    time_point t0 = time_point{} + 1000s;
    node a = make_node(1), b = make_node(2), c = make_node(3);

private:
    std::optional<server> srv_;
};

TEST_F(p2p_rendezvous_server, register_answers_reflexive_address_and_lease) {
    make();
    ASSERT_TRUE(do_register(a, t0));
    const auto out = drain();
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, a.id);
    const auto r = std::get<registered_message>(out[0].decoded());
    EXPECT_EQ(r.reflexive, a.addr);
    EXPECT_EQ(r.lease_seconds, 60U);
    EXPECT_EQ(r.server_time_ms, 1000000U);
    EXPECT_EQ(srv().registration_count(), 1U);
    const auto ev = events();
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(std::get<node_registered>(ev[0]).node, a.id);
}

TEST_F(p2p_rendezvous_server, lease_expires_without_keepalive) {
    make();
    ASSERT_TRUE(do_register(a, t0));
    events();
    EXPECT_EQ(srv().deadline(), t0 + 60s);
    srv().handle_deadline(t0 + 59s);
    EXPECT_EQ(srv().registration_count(), 1U);
    srv().handle_deadline(t0 + 60s);
    EXPECT_EQ(srv().registration_count(), 0U);
    EXPECT_EQ(srv().deadline(), std::nullopt);
    const auto ev = events();
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_TRUE(std::get<node_unregistered>(ev[0]).expired);
    EXPECT_EQ(srv().stats().expired, 1U);
}

TEST_F(p2p_rendezvous_server, keepalive_refreshes_lease_and_echoes_reflexive) {
    make();
    ASSERT_TRUE(do_register(a, t0));
    drain();
    ASSERT_TRUE(send(a, keepalive_message{9}, t0 + 50s));
    const auto out = drain();
    ASSERT_EQ(out.size(), 1U);
    const auto ack = std::get<keepalive_ack_message>(out[0].decoded());
    EXPECT_EQ(ack.sequence, 9U);
    EXPECT_EQ(ack.reflexive, a.addr);
    EXPECT_EQ(srv().deadline(), t0 + 110s);
    srv().handle_deadline(t0 + 100s);
    EXPECT_EQ(srv().registration_count(), 1U);
    srv().handle_deadline(t0 + 110s);
    EXPECT_EQ(srv().registration_count(), 0U);
}

TEST_F(p2p_rendezvous_server, keepalive_without_registration_is_refused) {
    make();
    EXPECT_EQ(error_of(send(a, keepalive_message{1}, t0)),
              make_error_code(errc::rendezvous_not_registered));
    const auto out = drain();
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(std::get<error_message>(out[0].decoded()).code, rendezvous_error::not_registered);
}

TEST_F(p2p_rendezvous_server, register_claiming_another_node_id_is_refused) {
    make();
    // a's session key, b's node id
    EXPECT_EQ(error_of(send(a, register_message{b.id, {}, {}, {}, 0}, t0)),
              make_error_code(errc::rendezvous_node_id_mismatch));
    EXPECT_EQ(srv().registration_count(), 0U);
    EXPECT_EQ(srv().reflexive_of(b.id), std::nullopt);
    const auto out = drain();
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, a.id);
    EXPECT_EQ(std::get<error_message>(out[0].decoded()).code, rendezvous_error::not_allowed);
}

TEST_F(p2p_rendezvous_server, allow_list_admits_only_listed_ids) {
    rendezvous_server_config cfg;
    cfg.admission = admission_mode::allow_list;
    cfg.allow_list = {a.id};
    make(cfg);
    EXPECT_TRUE(do_register(a, t0));
    EXPECT_EQ(error_of(do_register(b, t0)), make_error_code(errc::rendezvous_not_allowed));
    EXPECT_EQ(srv().registration_count(), 1U);
    const auto out = drain();
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(std::get<error_message>(out[1].decoded()).code, rendezvous_error::not_allowed);
}

TEST_F(p2p_rendezvous_server, token_admission) {
    rendezvous_server_config cfg;
    cfg.admission = admission_mode::token;
    const std::string_view secret = "s3cret-token";
    cfg.tokens = {{as_bytes(secret).begin(), as_bytes(secret).end()}};
    make(cfg);
    EXPECT_EQ(error_of(do_register(a, t0)), make_error_code(errc::rendezvous_not_allowed));
    EXPECT_EQ(error_of(do_register(a, t0, {}, {}, "s3cret-tokeN")),
              make_error_code(errc::rendezvous_not_allowed));
    EXPECT_EQ(error_of(do_register(a, t0, {}, {}, "s3cret-token!")),
              make_error_code(errc::rendezvous_not_allowed));
    EXPECT_EQ(srv().registration_count(), 0U);
    EXPECT_TRUE(do_register(a, t0, {}, {}, secret));
    EXPECT_EQ(srv().registration_count(), 1U);
}

TEST_F(p2p_rendezvous_server, bad_configurations_throw) {
    auto bad = [](auto change) {
        rendezvous_server_config cfg;
        change(cfg);
        EXPECT_THROW(server(cfg, seeded_random(1)), std::invalid_argument);
    };
    bad([](auto& x) { x.lease = 0s; });
    bad([](auto& x) { x.max_registrations = 0; });
    bad([](auto& x) { x.relay_rate = 0; });
    bad([](auto& x) { x.max_outgoing = 1; });
    bad([](auto& x) { x.admission = admission_mode::allow_list; });
    bad([](auto& x) { x.admission = admission_mode::token; });
    bad([](auto& x) {
        x.admission = admission_mode::token;
        x.tokens = {std::vector<std::byte>(65)};
    });
}

TEST_F(p2p_rendezvous_server, realms_are_isolated) {
    make();
    ASSERT_TRUE(do_register(a, t0, "red"));
    ASSERT_TRUE(do_register(b, t0, "blue"));
    ASSERT_TRUE(do_register(c, t0, "red"));
    drain();
    EXPECT_EQ(error_of(send(a, connect_message{b.id, 5}, t0)),
              make_error_code(errc::rendezvous_not_found));
    auto out = drain();
    ASSERT_EQ(out.size(), 1U);
    const auto err = std::get<error_message>(out[0].decoded());
    EXPECT_EQ(err.code, rendezvous_error::not_found);
    EXPECT_EQ(err.attempt_id, 5U);
    EXPECT_TRUE(send(a, connect_message{c.id, 6}, t0));
    EXPECT_EQ(drain().size(), 2U);
    EXPECT_EQ(srv().relay_count(), 1U);
    // a moves to the default (empty) realm: c is out of reach and no longer updated
    ASSERT_TRUE(do_register(a, t0 + 1s));
    EXPECT_EQ(error_of(send(a, connect_message{c.id, 7}, t0 + 1s)),
              make_error_code(errc::rendezvous_not_found));
    drain();
    ASSERT_TRUE(send(a, keepalive_message{1}, t0 + 2s, peer_address::v4({1, 2, 3, 4}, 5)));
    const auto out2 = drain();
    ASSERT_EQ(out2.size(), 1U);
    EXPECT_EQ(out2[0].to, a.id);
}

TEST_F(p2p_rendezvous_server, connect_introduces_both_peers) {
    make();
    const auto [to_a, to_b] = introduce(a, b, t0);
    EXPECT_EQ(to_a.peer, b.id);
    EXPECT_EQ(to_b.peer, a.id);
    EXPECT_EQ(to_a.peer_key, b.key);
    EXPECT_EQ(to_b.peer_key, a.key);
    EXPECT_EQ(to_a.attempt_id, 77U);
    EXPECT_EQ(to_b.attempt_id, 77U);
    EXPECT_EQ(to_a.punch_secret, to_b.punch_secret);
    EXPECT_NE(to_a.punch_secret, punch_secret_bytes{});
    EXPECT_EQ(to_a.relay_id, to_b.relay_id);
    EXPECT_NE(to_a.relay_id, 0U);
    EXPECT_EQ(to_a.start_time_ms, to_b.start_time_ms);
    // exactly one initiator: the smaller node id
    EXPECT_EQ(to_a.initiator, less(a, b));
    EXPECT_EQ(to_b.initiator, less(b, a));
    EXPECT_NE(to_a.initiator, to_b.initiator);
    // candidates: host, then reflexive
    ASSERT_EQ(to_a.candidates.size(), 2U);
    EXPECT_EQ(to_a.candidates[0], host_of(b)[0]);
    EXPECT_EQ(to_a.candidates[1], (candidate{b.addr, candidate_kind::reflexive}));
    ASSERT_EQ(to_b.candidates.size(), 2U);
    EXPECT_EQ(to_b.candidates[1], (candidate{a.addr, candidate_kind::reflexive}));
    // the relay binds the two reflexive addresses
    const auto relay = srv().relay(to_a.relay_id);
    ASSERT_TRUE(relay);
    EXPECT_EQ(relay->endpoint_a, a.addr);
    EXPECT_EQ(relay->endpoint_b, b.addr);
    bool introduced = false;
    for (const auto& e : events()) {
        if (const auto* i = std::get_if<nodes_introduced>(&e)) {
            introduced = true;
            EXPECT_EQ(i->initiator, less(a, b) ? a.id : b.id);
            EXPECT_EQ(i->relay_id, to_a.relay_id);
        }
    }
    EXPECT_TRUE(introduced);
}

TEST_F(p2p_rendezvous_server, initiator_is_the_smaller_id_whoever_connects) {
    make();
    ASSERT_TRUE(do_register(a, t0));
    ASSERT_TRUE(do_register(b, t0));
    drain();
    ASSERT_TRUE(send(b, connect_message{a.id, 1}, t0));  // b connects this time
    const auto first = drain();
    ASSERT_EQ(first.size(), 2U);
    for (const auto& s : first) {
        const auto m = std::get<introduce_message>(s.decoded());
        EXPECT_EQ(m.initiator, s.to == a.id ? less(a, b) : less(b, a));
    }
    // every introduction has a fresh punch secret and relay id
    ASSERT_TRUE(send(a, connect_message{b.id, 2}, t0));
    const auto second = drain();
    ASSERT_EQ(second.size(), 2U);
    const auto i1 = std::get<introduce_message>(first[0].decoded());
    const auto i2 = std::get<introduce_message>(second[0].decoded());
    EXPECT_NE(i1.punch_secret, i2.punch_secret);
    EXPECT_NE(i1.relay_id, i2.relay_id);
    EXPECT_EQ(srv().relay_count(), 2U);
}

TEST_F(p2p_rendezvous_server, connect_to_unknown_or_self_or_unregistered) {
    make();
    EXPECT_EQ(error_of(send(a, connect_message{b.id, 3}, t0)),
              make_error_code(errc::rendezvous_not_registered));
    ASSERT_TRUE(do_register(a, t0));
    drain();
    EXPECT_EQ(error_of(send(a, connect_message{b.id, 3}, t0)),
              make_error_code(errc::rendezvous_not_found));
    EXPECT_EQ(error_of(send(a, connect_message{a.id, 4}, t0)),
              make_error_code(errc::rendezvous_not_found));
    const auto out = drain();
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(std::get<error_message>(out[0].decoded()).code, rendezvous_error::not_found);
    EXPECT_EQ(std::get<error_message>(out[0].decoded()).attempt_id, 3U);
    // an expired target is not found either
    ASSERT_TRUE(do_register(b, t0));
    drain();
    ASSERT_TRUE(send(a, keepalive_message{1}, t0 + 59s));
    EXPECT_EQ(error_of(send(a, connect_message{b.id, 5}, t0 + 60s)),
              make_error_code(errc::rendezvous_not_found));
    EXPECT_EQ(srv().relay_count(), 0U);
}

TEST_F(p2p_rendezvous_server, address_change_sends_peer_update) {
    make();
    const auto intro = introduce(a, b, t0);
    events();
    const auto moved = peer_address::v4({203, 0, 113, 9}, 61000);
    ASSERT_TRUE(send(a, keepalive_message{2}, t0 + 10s, moved));
    const auto out = drain();
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[0].to, a.id);
    EXPECT_EQ(std::get<keepalive_ack_message>(out[0].decoded()).reflexive, moved);
    EXPECT_EQ(out[1].to, b.id);
    const auto update = std::get<peer_update_message>(out[1].decoded());
    EXPECT_EQ(update.peer, a.id);
    ASSERT_EQ(update.candidates.size(), 2U);
    EXPECT_EQ(update.candidates[1], (candidate{moved, candidate_kind::reflexive}));
    EXPECT_EQ(srv().reflexive_of(a.id), moved);
    EXPECT_EQ(srv().relay(intro.first.relay_id)->endpoint_a, moved);
    EXPECT_EQ(srv().stats().peer_updates, 1U);

    // the same address again: no update
    ASSERT_TRUE(send(a, keepalive_message{3}, t0 + 11s, moved));
    EXPECT_EQ(drain().size(), 1U);
    // a re-REGISTER with new host candidates: an update; with the same ones: none
    candidate_list host2;
    host2.push_back({peer_address::v4({10, 9, 9, 9}, 7000), candidate_kind::host});
    ASSERT_TRUE(send(a, register_message{a.id, {}, {}, host2, 0}, t0 + 12s, moved));
    auto out2 = drain();
    ASSERT_EQ(out2.size(), 2U);
    EXPECT_EQ(std::get<peer_update_message>(out2[1].decoded()).candidates[0], host2[0]);
    ASSERT_TRUE(send(a, register_message{a.id, {}, {}, host2, 0}, t0 + 13s, moved));
    EXPECT_EQ(drain().size(), 1U);
    // c, never introduced to a, gets nothing
    ASSERT_TRUE(do_register(c, t0 + 14s));
    drain();
    ASSERT_TRUE(send(a, keepalive_message{4}, t0 + 15s));
    for (const auto& s : drain()) EXPECT_NE(s.to, c.id);
}

TEST_F(p2p_rendezvous_server, relay_forwards_only_between_bound_endpoints) {
    make();
    const auto intro = introduce(a, b, t0);
    std::array<std::byte, 64> buf{};
    const auto payload = as_bytes("end-to-end ciphertext");
    const auto n = encode_relayed(intro.first.relay_id, payload, buf);
    ASSERT_TRUE(n);
    const auto dgram = std::span(buf).first(*n);

    const auto ab = srv().handle_relayed(a.addr, dgram, t0 + 1s);
    ASSERT_TRUE(ab);
    EXPECT_EQ(ab->to, b.addr);
    EXPECT_EQ(ab->datagram.data(), dgram.data());  // unchanged, the same bytes
    EXPECT_EQ(ab->datagram.size(), dgram.size());
    const auto ba = srv().handle_relayed(b.addr, dgram, t0 + 1s);
    ASSERT_TRUE(ba);
    EXPECT_EQ(ba->to, a.addr);

    // anyone else: dropped and counted (c, or a's host with another port)
    EXPECT_EQ(error_of(srv().handle_relayed(c.addr, dgram, t0 + 1s)),
              make_error_code(errc::relay_wrong_source));
    auto other_port = a.addr;
    other_port.port = 1;
    EXPECT_EQ(error_of(srv().handle_relayed(other_port, dgram, t0 + 1s)),
              make_error_code(errc::relay_wrong_source));
    // an unknown relay id, a truncated header
    const auto m = encode_relayed(intro.first.relay_id + 1, payload, buf);
    ASSERT_TRUE(m);
    EXPECT_EQ(error_of(srv().handle_relayed(a.addr, std::span(buf).first(*m), t0 + 1s)),
              make_error_code(errc::relay_unknown));
    EXPECT_EQ(error_of(srv().handle_relayed(a.addr, std::span(buf).first(5), t0 + 1s)),
              make_error_code(errc::relay_truncated));

    const auto& st = srv().stats();
    EXPECT_EQ(st.relayed_datagrams, 2U);
    EXPECT_EQ(st.relayed_bytes, 2 * dgram.size());
    EXPECT_EQ(st.relay_dropped_wrong_source, 2U);
    EXPECT_EQ(st.relay_dropped_unknown, 1U);
    EXPECT_EQ(st.relay_dropped_malformed, 1U);
    EXPECT_EQ(srv().relay(intro.first.relay_id)->bytes, 2 * dgram.size());
}

TEST_F(p2p_rendezvous_server, relay_between_one_address_forwards_nothing) {
    make();
    // both nodes' sessions come from the same address: the relay cannot tell them apart
    ASSERT_TRUE(do_register(a, t0));
    ASSERT_TRUE(send(b, register_message{b.id, {}, {}, {}, 0}, t0, a.addr));
    drain();
    ASSERT_TRUE(send(a, connect_message{b.id, 1}, t0));
    const auto intro = std::get<introduce_message>(drain()[0].decoded());
    std::array<std::byte, 16> buf{};
    const auto n = encode_relayed(intro.relay_id, {}, buf);
    ASSERT_TRUE(n);
    EXPECT_EQ(error_of(srv().handle_relayed(a.addr, std::span(buf).first(*n), t0)),
              make_error_code(errc::relay_wrong_source));
    EXPECT_EQ(srv().stats().relayed_datagrams, 0U);
}

TEST_F(p2p_rendezvous_server, relay_rate_limit) {
    rendezvous_server_config cfg;
    cfg.relay_rate = 10000;  // bytes/s
    cfg.relay_burst = 2000;
    make(cfg);
    const auto intro = introduce(a, b, t0);
    std::vector<std::byte> buf(1200);
    const auto n = encode_relayed(intro.first.relay_id, std::vector<std::byte>(1191), buf);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, 1200U);
    EXPECT_TRUE(srv().handle_relayed(a.addr, buf, t0));
    // 800 bytes left in the bucket
    EXPECT_EQ(error_of(srv().handle_relayed(b.addr, buf, t0)),
              make_error_code(errc::relay_rate_limited));
    // 50 ms refill 500 bytes: 1300 left, enough
    EXPECT_TRUE(srv().handle_relayed(b.addr, buf, t0 + 50ms));
    EXPECT_EQ(error_of(srv().handle_relayed(a.addr, buf, t0 + 50ms)),
              make_error_code(errc::relay_rate_limited));
    // a long pause refills to the burst, not beyond
    EXPECT_TRUE(srv().handle_relayed(a.addr, buf, t0 + 10s));
    EXPECT_EQ(error_of(srv().handle_relayed(a.addr, buf, t0 + 10s)),
              make_error_code(errc::relay_rate_limited));
    EXPECT_EQ(srv().stats().relay_dropped_rate_limited, 3U);
    EXPECT_EQ(srv().relay(intro.first.relay_id)->dropped_rate_limited, 3U);
    EXPECT_EQ(srv().relay(intro.first.relay_id)->datagrams, 3U);
}

TEST_F(p2p_rendezvous_server, relay_idle_expiry) {
    make();
    const auto intro = introduce(a, b, t0);
    events();
    std::array<std::byte, 16> buf{};
    const auto n = encode_relayed(intro.first.relay_id, {}, buf);
    ASSERT_TRUE(n);
    const auto dgram = std::span(buf).first(*n);
    // traffic at 50 s keeps it to 110 s (the registrations' leases end at 60 s)
    EXPECT_TRUE(srv().handle_relayed(a.addr, dgram, t0 + 50s));
    srv().handle_deadline(t0 + 60s);
    EXPECT_EQ(srv().registration_count(), 0U);
    EXPECT_EQ(srv().relay_count(), 1U);
    EXPECT_EQ(srv().deadline(), t0 + 110s);
    // at 110 s it is dead even before handle_deadline runs
    EXPECT_EQ(error_of(srv().handle_relayed(b.addr, dgram, t0 + 110s)),
              make_error_code(errc::relay_unknown));
    srv().handle_deadline(t0 + 110s);
    EXPECT_EQ(srv().relay_count(), 0U);
    EXPECT_EQ(srv().deadline(), std::nullopt);
    bool expired = false;
    for (const auto& e : events()) {
        if (const auto* r = std::get_if<relay_expired>(&e)) {
            expired = true;
            EXPECT_EQ(r->relay_id, intro.first.relay_id);
            EXPECT_EQ(r->bytes, dgram.size());
        }
    }
    EXPECT_TRUE(expired);
    EXPECT_EQ(srv().stats().relays_expired, 1U);
}

TEST_F(p2p_rendezvous_server, registration_table_cap) {
    rendezvous_server_config cfg;
    cfg.max_registrations = 2;
    make(cfg);
    ASSERT_TRUE(do_register(a, t0));
    ASSERT_TRUE(do_register(b, t0 + 10s));
    EXPECT_EQ(error_of(do_register(c, t0 + 20s)), make_error_code(errc::rendezvous_over_quota));
    EXPECT_EQ(std::get<error_message>(drain().back().decoded()).code, rendezvous_error::over_quota);
    // renewing an existing registration needs no new slot
    EXPECT_TRUE(do_register(a, t0 + 20s));
    // once b's lease ran out, c takes its slot (expired at once, even before handle_deadline)
    EXPECT_TRUE(do_register(c, t0 + 70s));
    EXPECT_EQ(srv().reflexive_of(b.id), std::nullopt);
    EXPECT_EQ(srv().registration_count(), 2U);
}

TEST_F(p2p_rendezvous_server, relay_table_caps) {
    rendezvous_server_config cfg;
    cfg.max_relays = 2;
    cfg.max_relays_per_node = 1;
    make(cfg);
    node d = make_node(4);
    for (const auto* n : {&a, &b, &c, &d}) ASSERT_TRUE(do_register(*n, t0));
    drain();
    ASSERT_TRUE(send(a, connect_message{b.id, 1}, t0));
    // per node: a already has one relay
    EXPECT_EQ(error_of(send(a, connect_message{c.id, 2}, t0)),
              make_error_code(errc::rendezvous_over_quota));
    EXPECT_EQ(error_of(send(c, connect_message{b.id, 2}, t0)),
              make_error_code(errc::rendezvous_over_quota));
    ASSERT_TRUE(send(c, connect_message{d.id, 3}, t0));
    EXPECT_EQ(srv().relay_count(), 2U);
    // total: the table is full
    const node e = make_node(5), f = make_node(6);
    ASSERT_TRUE(do_register(e, t0));
    ASSERT_TRUE(do_register(f, t0));
    EXPECT_EQ(error_of(send(e, connect_message{f.id, 4}, t0)),
              make_error_code(errc::rendezvous_over_quota));
    EXPECT_EQ(srv().relay_count(), 2U);
}

TEST_F(p2p_rendezvous_server, too_many_host_candidates_is_over_quota) {
    make();
    candidate_list eight;
    for (std::uint8_t i = 0; i < 8; ++i) {
        eight.push_back({peer_address::v4({10, 0, 0, i}, 1), candidate_kind::host});
    }
    EXPECT_EQ(error_of(do_register(a, t0, {}, eight)),
              make_error_code(errc::rendezvous_over_quota));
    candidate_list seven;
    for (std::size_t i = 0; i < 7; ++i) seven.push_back(eight[i]);
    EXPECT_TRUE(do_register(a, t0, {}, seven));
}

TEST_F(p2p_rendezvous_server, replies_never_exceed_their_request) {
    make();
    ASSERT_TRUE(do_register(a, t0));
    drain();
    // an unpadded KEEPALIVE: type + sequence TLV, 12 bytes; its ACK would be 34
    std::array<std::byte, 12> ka{std::byte{0x03}, std::byte{0x09}, std::byte{8}};
    EXPECT_EQ(error_of(srv().handle_control(a.key, a.addr, ka, t0 + 30s)),
              make_error_code(errc::rendezvous_reply_too_large));
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(srv().deadline(), t0 + 90s);  // the lease was still refreshed
    // a BYE from an unregistered node: the ERROR would be larger than 1 byte
    EXPECT_EQ(error_of(send(b, bye_message{}, t0)),
              make_error_code(errc::rendezvous_not_registered));
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(srv().stats().replies_suppressed, 2U);
    // every reply the server sent in the other tests was checked the same way; here: padded
    // requests get their replies
    ASSERT_TRUE(send(a, keepalive_message{1}, t0 + 31s));
    const auto out = drain();
    ASSERT_EQ(out.size(), 1U);
    EXPECT_LE(out[0].bytes.size(), min_request_size);
}

TEST_F(p2p_rendezvous_server, malformed_and_unexpected_messages_are_dropped) {
    make();
    EXPECT_EQ(error_of(srv().handle_control(a.key, a.addr, {}, t0)),
              make_error_code(errc::rendezvous_truncated));
    EXPECT_EQ(error_of(send(a, registered_message{a.addr, 60, 1}, t0)),
              make_error_code(errc::rendezvous_unexpected_message));
    EXPECT_EQ(error_of(send(a, introduce_message{}, t0)),
              make_error_code(errc::rendezvous_unexpected_message));
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(srv().registration_count(), 0U);
    EXPECT_EQ(srv().stats().dropped_malformed, 1U);
    EXPECT_EQ(srv().stats().dropped_unexpected, 2U);
}

TEST_F(p2p_rendezvous_server, full_queue_refuses_without_state_change) {
    rendezvous_server_config cfg;
    cfg.max_outgoing = 2;
    make(cfg);
    ASSERT_TRUE(do_register(a, t0));
    ASSERT_TRUE(do_register(b, t0));
    // two REGISTEREDs wait: no room for the INTRODUCEs
    EXPECT_EQ(error_of(send(a, connect_message{b.id, 1}, t0)),
              make_error_code(errc::rendezvous_queue_full));
    EXPECT_EQ(srv().relay_count(), 0U);
    EXPECT_EQ(error_of(do_register(c, t0)), make_error_code(errc::rendezvous_queue_full));
    EXPECT_EQ(srv().registration_count(), 2U);
    EXPECT_EQ(drain().size(), 2U);
    EXPECT_TRUE(send(a, connect_message{b.id, 1}, t0));
    EXPECT_EQ(srv().relay_count(), 1U);
}

TEST_F(p2p_rendezvous_server, bye_unregisters) {
    make();
    ASSERT_TRUE(do_register(a, t0));
    events();
    ASSERT_TRUE(send(a, bye_message{}, t0 + 1s));
    EXPECT_EQ(srv().registration_count(), 0U);
    const auto ev = events();
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_FALSE(std::get<node_unregistered>(ev[0]).expired);
}

}  // namespace
