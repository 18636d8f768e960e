#include "neutrino/p2p/rendezvous_client.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/puncher.hpp"
#include "neutrino/p2p/rendezvous_message.hpp"
#include "neutrino/p2p/rendezvous_server.hpp"
#include "neutrino/random.hpp"
#include "p2p_test_support.hpp"
#include "test_seed.hpp"

namespace {

using namespace neutrino::p2p;
using namespace std::chrono_literals;
using neutrino::duration;
using neutrino::peer_address;
using neutrino::seeded_random;
using neutrino::time_point;
using p2p_test::error_of;
using client = basic_rendezvous_client<seeded_random>;
using server = basic_rendezvous_server<seeded_random>;

struct identity {
    public_key_bytes pk{};
    secret_key_bytes sk{};
    node_id id{};
};

// A key pair from the run's seed (test_seed.hpp), distinct per `n`.
identity make_identity(std::uint64_t n) {
    identity x;
    seeded_random r(neutrino::test::test_seed(1000 + n));
    r.fill(x.sk);
    EXPECT_EQ(crypto_scalarmult_base(reinterpret_cast<unsigned char*>(x.pk.data()),
                                     reinterpret_cast<const unsigned char*>(x.sk.data())),
              0);
    x.id = node_id_of(x.pk);
    return x;
}

bool less(const node_id& a, const node_id& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

rendezvous_client_timers short_timers() {
    rendezvous_client_timers t;
    t.keepalive = 2s;
    t.loss_timeout = 6s;
    t.backoff_initial = 1s;
    t.backoff_max = 8s;
    t.connect_timeout = 5s;
    return t;
}

rendezvous_client_config config_for(const identity& me) {
    rendezvous_client_config cfg;
    cfg.public_key = me.pk;
    cfg.secret_key = me.sk;
    cfg.host_candidates = {candidate{peer_address::v4({10, 0, 0, 2}, 4000), candidate_kind::host}};
    cfg.timers = short_timers();
    return cfg;
}

std::vector<std::byte> encode(const rendezvous_message& m) {
    std::array<std::byte, max_rendezvous_message_size> buf{};
    const auto n = encode_rendezvous(m, buf);
    EXPECT_TRUE(n);
    return {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n ? *n : 0)};
}

std::vector<rendezvous_message> drain_control(client& c) {
    std::vector<rendezvous_message> out;
    while (auto bytes = c.poll_control()) {
        auto m = decode_rendezvous(*bytes);
        EXPECT_TRUE(m);
        if (m) out.push_back(*m);
    }
    return out;
}

std::vector<rendezvous_client_event> drain_events(client& c) {
    std::vector<rendezvous_client_event> out;
    while (auto e = c.poll_event()) out.push_back(*e);
    return out;
}

template <class T, class V>
std::vector<T> only(const std::vector<V>& v) {
    std::vector<T> out;
    for (const auto& x : v) {
        if (const auto* t = std::get_if<T>(&x)) out.push_back(*t);
    }
    return out;
}

const peer_address reflexive_a = peer_address::v4({198, 51, 100, 1}, 40001);
const peer_address reflexive_b = peer_address::v4({198, 51, 100, 2}, 40002);

// ---------------------------------------------------------------------------------------------
// Unit tests: one client, hand-fed server messages.

class p2p_rendezvous_client : public ::testing::Test {
protected:
    identity me = make_identity(1);
    identity peer = make_identity(2);
    time_point t0{};

    client make(rendezvous_client_config cfg) {
        return client(std::move(cfg), seeded_random(neutrino::test::test_seed(7)));
    }

    // Starts `c` and answers its REGISTER; returns the REGISTER it sent.
    register_message register_now(client& c, time_point now,
                                  const peer_address& reflexive = reflexive_a) {
        EXPECT_TRUE(c.start(now));
        auto sent = drain_control(c);
        EXPECT_EQ(sent.size(), 1U);
        EXPECT_TRUE(c.handle_control(encode(registered_message{reflexive, 60, 1}), now));
        return sent.empty() ? register_message{} : std::get<register_message>(sent.front());
    }

    [[nodiscard]] introduce_message introduce_from(const identity& other,
                                                   std::uint64_t attempt) const {
        introduce_message m;
        m.peer = other.id;
        m.peer_key = other.pk;
        m.candidates.push_back(candidate{reflexive_b, candidate_kind::reflexive});
        m.attempt_id = attempt;
        m.initiator = less(me.id, other.id);
        m.punch_secret.fill(std::byte{0x5a});
        m.relay_id = 99;
        m.start_time_ms = 5;
        return m;
    }
};

TEST_F(p2p_rendezvous_client, constructor_rejects_bad_configuration) {
    auto cfg = config_for(me);
    cfg.secret_key = peer.sk;  // does not give me.pk
    EXPECT_THROW(make(cfg), std::invalid_argument);
    cfg = config_for(me);
    cfg.timers.loss_timeout = cfg.timers.keepalive;
    EXPECT_THROW(make(cfg), std::invalid_argument);
    cfg = config_for(me);
    cfg.timers.backoff_max = 500ms;
    EXPECT_THROW(make(cfg), std::invalid_argument);
    cfg = config_for(me);
    cfg.realm.resize(65);
    EXPECT_THROW(make(cfg), std::invalid_argument);
    cfg = config_for(me);
    cfg.host_candidates.assign(8, candidate{reflexive_a, candidate_kind::host});
    EXPECT_THROW(make(cfg), std::invalid_argument);
    cfg = config_for(me);
    cfg.host_candidates = {candidate{reflexive_a, candidate_kind::reflexive}};
    EXPECT_THROW(make(cfg), std::invalid_argument);
    EXPECT_NO_THROW(make(config_for(me)));
}

TEST_F(p2p_rendezvous_client, start_registers_and_reports_the_reflexive_address) {
    auto cfg = config_for(me);
    cfg.realm = {std::byte{'r'}};
    cfg.token = {std::byte{'t'}, std::byte{'k'}};
    auto c = make(cfg);
    EXPECT_EQ(c.self(), me.id);
    EXPECT_FALSE(c.deadline());
    // nothing is accepted before start
    EXPECT_EQ(error_of(c.handle_control(encode(registered_message{reflexive_a, 60, 1}), t0)),
              errc::rendezvous_client_closed);
    EXPECT_EQ(c.stats().dropped_closed, 1U);

    const auto reg = register_now(c, t0);
    EXPECT_EQ(reg.id, me.id);
    ASSERT_EQ(reg.realm.size(), 1U);
    EXPECT_EQ(reg.token.size(), 2U);
    ASSERT_EQ(reg.candidates.size(), 1U);
    EXPECT_EQ(reg.candidates[0].address, peer_address::v4({10, 0, 0, 2}, 4000));
    EXPECT_EQ(c.current_state(), client::state::registered);
    EXPECT_EQ(c.reflexive(), reflexive_a);
    const auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    const auto& r = std::get<rendezvous_registered>(events[0]);
    EXPECT_EQ(r.reflexive, reflexive_a);
    EXPECT_EQ(r.lease, 60s);
    // a second REGISTERED answers nothing
    EXPECT_EQ(error_of(c.handle_control(encode(registered_message{reflexive_a, 60, 1}), t0)),
              errc::rendezvous_unexpected_message);
    EXPECT_EQ(c.stats().dropped_unexpected, 1U);
    EXPECT_TRUE(drain_events(c).empty());
}

TEST_F(p2p_rendezvous_client, register_is_resent_with_backoff_until_answered) {
    auto c = make(config_for(me));
    ASSERT_TRUE(c.start(t0));
    EXPECT_EQ(drain_control(c).size(), 1U);
    // resends after 1, 2, 4, 8, 8 s (cap 8 s)
    std::vector<duration> gaps;
    time_point last = t0;
    for (int i = 0; i < 5; ++i) {
        const auto d = c.deadline();
        ASSERT_TRUE(d);
        c.handle_deadline(*d);
        const auto sent = drain_control(c);
        ASSERT_EQ(sent.size(), 1U);
        EXPECT_TRUE(std::holds_alternative<register_message>(sent[0]));
        gaps.push_back(*d - last);
        last = *d;
    }
    EXPECT_EQ(gaps, (std::vector<duration>{1s, 2s, 4s, 8s, 8s}));
    EXPECT_TRUE(drain_events(c).empty());  // never registered: nothing was lost
    ASSERT_TRUE(c.handle_control(encode(registered_message{reflexive_a, 60, 1}), last));
    const auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_TRUE(std::holds_alternative<rendezvous_registered>(events[0]));
}

TEST_F(p2p_rendezvous_client, keepalives_follow_the_interval_and_acks_must_match) {
    auto c = make(config_for(me));
    register_now(c, t0);
    drain_events(c);
    ASSERT_EQ(c.deadline(), t0 + 2s);
    c.handle_deadline(t0 + 1s);  // early: nothing
    EXPECT_TRUE(drain_control(c).empty());
    c.handle_deadline(t0 + 2s);
    auto sent = drain_control(c);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(std::get<keepalive_message>(sent[0]).sequence, 1U);
    // an ack of a sequence never sent is dropped
    EXPECT_EQ(error_of(c.handle_control(encode(keepalive_ack_message{7, reflexive_a}), t0 + 2s)),
              errc::rendezvous_unexpected_message);
    EXPECT_TRUE(c.handle_control(encode(keepalive_ack_message{1, reflexive_a}), t0 + 2s));
    // a replayed ack is dropped too
    EXPECT_EQ(error_of(c.handle_control(encode(keepalive_ack_message{1, reflexive_a}), t0 + 2s)),
              errc::rendezvous_unexpected_message);
    EXPECT_EQ(c.stats().keepalive_acks, 1U);
    EXPECT_EQ(c.stats().dropped_unexpected, 2U);
    EXPECT_TRUE(drain_events(c).empty());
    EXPECT_EQ(c.deadline(), t0 + 4s);
}

TEST_F(p2p_rendezvous_client, a_short_lease_shortens_keepalive_and_loss) {
    auto cfg = config_for(me);
    cfg.timers.keepalive = 15s;
    cfg.timers.loss_timeout = 45s;
    auto c = make(cfg);
    ASSERT_TRUE(c.start(t0));
    drain_control(c);
    ASSERT_TRUE(c.handle_control(encode(registered_message{reflexive_a, 6, 1}), t0));
    EXPECT_EQ(c.deadline(), t0 + 2s);
    // and the registration is lost after one unconfirmed lease, not after loss_timeout
    time_point now = t0;
    while (c.current_state() == client::state::registered) {
        now = *c.deadline();
        c.handle_deadline(now);
    }
    EXPECT_EQ(now, t0 + 6s);
    EXPECT_EQ(c.current_state(), client::state::lost);
}

TEST_F(p2p_rendezvous_client, silence_is_a_loss_then_backoff_then_restored) {
    auto c = make(config_for(me));
    register_now(c, t0);
    drain_events(c);
    // keepalives at 2 and 4 s go unanswered; at 6 s the registration is lost
    time_point now = t0;
    while (c.current_state() == client::state::registered) {
        now = *c.deadline();
        c.handle_deadline(now);
    }
    EXPECT_EQ(now, t0 + 6s);
    EXPECT_EQ(c.current_state(), client::state::lost);
    auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_TRUE(std::holds_alternative<rendezvous_lost>(events[0]));
    auto sent = drain_control(c);
    ASSERT_FALSE(sent.empty());
    EXPECT_TRUE(std::holds_alternative<register_message>(sent.back()));  // at once
    std::vector<duration> gaps;
    for (int i = 0; i < 3; ++i) {
        const auto d = *c.deadline();
        gaps.push_back(d - now);
        now = d;
        c.handle_deadline(now);
        sent = drain_control(c);
        ASSERT_EQ(sent.size(), 1U);
        EXPECT_TRUE(std::holds_alternative<register_message>(sent[0]));
    }
    EXPECT_EQ(gaps, (std::vector<duration>{1s, 2s, 4s}));
    EXPECT_EQ(error_of(c.connect(peer.id, now)), errc::rendezvous_lost);
    ASSERT_TRUE(c.handle_control(encode(registered_message{reflexive_a, 60, 1}), now));
    events = drain_events(c);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_TRUE(std::holds_alternative<rendezvous_registered>(events[0]));
    EXPECT_EQ(std::get<rendezvous_restored>(events[1]).reflexive, reflexive_a);
    EXPECT_EQ(c.stats().losses, 1U);
    EXPECT_EQ(c.stats().restores, 1U);
    EXPECT_EQ(c.deadline(), now + 2s);  // keepalives again
}

TEST_F(p2p_rendezvous_client, a_new_reflexive_address_in_an_ack_re_registers) {
    auto c = make(config_for(me));
    register_now(c, t0);
    drain_events(c);
    c.handle_deadline(t0 + 2s);
    drain_control(c);
    const auto moved = peer_address::v4({203, 0, 113, 9}, 5555);
    ASSERT_TRUE(c.handle_control(encode(keepalive_ack_message{1, moved}), t0 + 2s));
    const auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    const auto& e = std::get<own_address_changed>(events[0]);
    EXPECT_EQ(e.old_address, reflexive_a);
    EXPECT_EQ(e.new_address, moved);
    EXPECT_EQ(c.reflexive(), moved);
    const auto sent = drain_control(c);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(std::get<register_message>(sent[0]).candidates.size(), 1U);
    // the REGISTERED for it is expected, and does not restart anything
    ASSERT_TRUE(c.handle_control(encode(registered_message{moved, 60, 2}), t0 + 2s));
    EXPECT_EQ(c.stats().address_changes, 1U);
}

TEST_F(p2p_rendezvous_client, a_registered_at_a_new_address_after_a_loss_reports_the_move) {
    auto c = make(config_for(me));
    register_now(c, t0);
    c.handle_deadline(t0 + 6s);  // lost
    ASSERT_EQ(c.current_state(), client::state::lost);
    drain_events(c);
    drain_control(c);
    const auto moved = peer_address::v4({203, 0, 113, 9}, 5555);
    ASSERT_TRUE(c.handle_control(encode(registered_message{moved, 60, 2}), t0 + 6s));
    const auto events = drain_events(c);
    ASSERT_EQ(events.size(), 3U);
    EXPECT_TRUE(std::holds_alternative<rendezvous_registered>(events[0]));
    const auto& e = std::get<own_address_changed>(events[1]);
    EXPECT_EQ(e.old_address, reflexive_a);
    EXPECT_EQ(e.new_address, moved);
    EXPECT_TRUE(std::holds_alternative<rendezvous_restored>(events[2]));
    EXPECT_TRUE(drain_control(c).empty());  // that REGISTER already carried the candidates
}

TEST_F(p2p_rendezvous_client, set_host_candidates_re_registers_when_they_change) {
    auto c = make(config_for(me));
    register_now(c, t0);
    const std::array same{candidate{peer_address::v4({10, 0, 0, 2}, 4000), candidate_kind::host}};
    ASSERT_TRUE(c.set_host_candidates(same, t0));
    EXPECT_TRUE(drain_control(c).empty());
    const std::array fresh{candidate{peer_address::v4({10, 0, 0, 3}, 4000), candidate_kind::host}};
    ASSERT_TRUE(c.set_host_candidates(fresh, t0));
    const auto sent = drain_control(c);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(std::get<register_message>(sent[0]).candidates[0], fresh[0]);
    const std::array bad{candidate{peer_address{}, candidate_kind::host}};
    EXPECT_EQ(error_of(c.set_host_candidates(bad, t0)), errc::rendezvous_bad_address);
    const std::vector<candidate> many(8, fresh[0]);
    EXPECT_EQ(error_of(c.set_host_candidates(many, t0)), errc::rendezvous_too_many_candidates);
    EXPECT_TRUE(drain_control(c).empty());
}

TEST_F(p2p_rendezvous_client, connect_sends_connect_and_matches_errors_to_attempts) {
    auto c = make(config_for(me));
    EXPECT_EQ(error_of(c.connect(peer.id, t0)), errc::rendezvous_client_closed);
    ASSERT_TRUE(c.start(t0));
    EXPECT_EQ(error_of(c.connect(peer.id, t0)), errc::rendezvous_not_registered);
    drain_control(c);
    ASSERT_TRUE(c.handle_control(encode(registered_message{reflexive_a, 60, 1}), t0));
    drain_events(c);
    EXPECT_EQ(error_of(c.connect(me.id, t0)), errc::rendezvous_not_found);

    const auto id = c.connect(peer.id, t0);
    ASSERT_TRUE(id);
    EXPECT_NE(*id, 0U);
    auto sent = drain_control(c);
    ASSERT_EQ(sent.size(), 1U);
    const auto& m = std::get<connect_message>(sent[0]);
    EXPECT_EQ(m.target, peer.id);
    EXPECT_EQ(m.attempt_id, *id);
    // an ERROR for an attempt we never made is dropped
    EXPECT_EQ(
        error_of(c.handle_control(encode(error_message{rendezvous_error::not_found, *id + 1}), t0)),
        errc::rendezvous_unexpected_message);
    ASSERT_TRUE(c.handle_control(encode(error_message{rendezvous_error::not_found, *id}), t0));
    auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    const auto& refused = std::get<rendezvous_refused>(events[0]);
    EXPECT_EQ(refused.code, rendezvous_error::not_found);
    EXPECT_EQ(refused.attempt_id, *id);
    EXPECT_EQ(refused.peer, peer.id);
    // the attempt is over: the same ERROR again is unexpected
    EXPECT_EQ(
        error_of(c.handle_control(encode(error_message{rendezvous_error::not_found, *id}), t0)),
        errc::rendezvous_unexpected_message);
    EXPECT_EQ(c.stats().dropped_unexpected, 2U);

    // no answer: timed out after connect_timeout
    const auto id2 = c.connect(peer.id, t0 + 1s);
    ASSERT_TRUE(id2);
    drain_control(c);
    c.handle_deadline(t0 + 5s);
    EXPECT_TRUE(only<connect_timed_out>(drain_events(c)).empty());
    c.handle_deadline(t0 + 6s);
    const auto timed_out = only<connect_timed_out>(drain_events(c));
    ASSERT_EQ(timed_out.size(), 1U);
    EXPECT_EQ(timed_out[0].attempt_id, *id2);
    EXPECT_EQ(timed_out[0].peer, peer.id);
}

TEST_F(p2p_rendezvous_client, pending_connects_are_bounded) {
    auto cfg = config_for(me);
    cfg.max_attempts = 2;
    auto c = make(cfg);
    register_now(c, t0);
    ASSERT_TRUE(c.connect(peer.id, t0));
    ASSERT_TRUE(c.connect(peer.id, t0));
    EXPECT_EQ(error_of(c.connect(peer.id, t0)), errc::rendezvous_too_many_attempts);
}

TEST_F(p2p_rendezvous_client, introduce_is_validated_before_it_is_reported) {
    auto c = make(config_for(me));
    register_now(c, t0);
    drain_events(c);

    // forged: the key of a third node under the peer's node id
    const identity mallory = make_identity(3);
    auto forged = introduce_from(peer, 11);
    forged.peer_key = mallory.pk;
    EXPECT_EQ(error_of(c.handle_control(encode(forged), t0)), errc::rendezvous_peer_key_mismatch);
    EXPECT_EQ(c.stats().dropped_forged, 1U);
    // wrong role
    auto wrong_role = introduce_from(peer, 11);
    wrong_role.initiator = !wrong_role.initiator;
    EXPECT_EQ(error_of(c.handle_control(encode(wrong_role), t0)), errc::rendezvous_role_mismatch);
    EXPECT_EQ(c.stats().dropped_role, 1U);
    // ourselves
    auto self = introduce_from(me, 11);
    EXPECT_EQ(error_of(c.handle_control(encode(self), t0)), errc::rendezvous_bad_field);
    EXPECT_TRUE(drain_events(c).empty());
    // a PEER_UPDATE for a peer never introduced is dropped
    peer_update_message update{peer.id, {}};
    update.candidates.push_back(candidate{reflexive_a, candidate_kind::reflexive});
    EXPECT_EQ(error_of(c.handle_control(encode(update), t0)), errc::rendezvous_unexpected_message);

    // valid and unsolicited (we are the responder of the peer's CONNECT)
    ASSERT_TRUE(c.handle_control(encode(introduce_from(peer, 11)), t0));
    auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    const auto& intro = std::get<introduction>(events[0]);
    EXPECT_EQ(intro.peer, peer.id);
    EXPECT_EQ(intro.peer_key, peer.pk);
    EXPECT_EQ(intro.attempt_id, 11U);
    EXPECT_FALSE(intro.solicited);
    EXPECT_EQ(intro.relay_id, 99U);
    EXPECT_EQ(intro.candidates.size(), 1U);
    EXPECT_EQ(c.stats().introductions, 1U);
    // now the peer is known: its PEER_UPDATE is reported
    ASSERT_TRUE(c.handle_control(encode(update), t0));
    events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(std::get<peer_update>(events[0]).candidates, update.candidates);

    // solicited: it answers our CONNECT
    const auto id = c.connect(peer.id, t0);
    ASSERT_TRUE(id);
    ASSERT_TRUE(c.handle_control(encode(introduce_from(peer, *id)), t0));
    events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_TRUE(std::get<introduction>(events[0]).solicited);
    c.handle_deadline(t0 + 10s);
    EXPECT_TRUE(only<connect_timed_out>(drain_events(c)).empty());
}

TEST_F(p2p_rendezvous_client, wrong_direction_and_malformed_messages_are_dropped) {
    auto c = make(config_for(me));
    register_now(c, t0);
    drain_events(c);
    EXPECT_EQ(error_of(c.handle_control(encode(bye_message{}), t0)),
              errc::rendezvous_unexpected_message);
    EXPECT_EQ(error_of(c.handle_control(encode(keepalive_message{1}), t0)),
              errc::rendezvous_unexpected_message);
    const std::array garbage{std::byte{0x77}, std::byte{1}};
    EXPECT_FALSE(c.handle_control(garbage, t0));
    EXPECT_FALSE(c.handle_control({}, t0));
    EXPECT_EQ(c.stats().dropped_unexpected, 2U);
    EXPECT_EQ(c.stats().dropped_malformed, 2U);
    EXPECT_EQ(c.stats().dropped(), 4U);
    EXPECT_TRUE(drain_events(c).empty());
    EXPECT_TRUE(drain_control(c).empty());
    EXPECT_EQ(c.current_state(), client::state::registered);
}

TEST_F(p2p_rendezvous_client, error_not_registered_registers_again) {
    auto c = make(config_for(me));
    register_now(c, t0);
    drain_events(c);
    ASSERT_TRUE(
        c.handle_control(encode(error_message{rendezvous_error::not_registered, 0}), t0 + 1s));
    EXPECT_EQ(c.current_state(), client::state::registering);
    const auto sent = drain_control(c);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_TRUE(std::holds_alternative<register_message>(sent[0]));
    const auto events = drain_events(c);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(std::get<rendezvous_refused>(events[0]).code, rendezvous_error::not_registered);
}

TEST_F(p2p_rendezvous_client, close_says_bye_and_stops) {
    auto c = make(config_for(me));
    register_now(c, t0);
    ASSERT_TRUE(c.close(t0));
    const auto sent = drain_control(c);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_TRUE(std::holds_alternative<bye_message>(sent[0]));
    EXPECT_FALSE(c.deadline());
    EXPECT_EQ(error_of(c.close(t0)), errc::rendezvous_client_closed);
    EXPECT_EQ(error_of(c.connect(peer.id, t0)), errc::rendezvous_client_closed);
    EXPECT_EQ(error_of(c.handle_control(encode(keepalive_ack_message{1, reflexive_a}), t0)),
              errc::rendezvous_client_closed);
    // closing a client never started sends nothing
    auto idle = make(config_for(me));
    ASSERT_TRUE(idle.close(t0));
    EXPECT_TRUE(drain_control(idle).empty());
}

TEST_F(p2p_rendezvous_client, puncher_config_rejects_a_low_order_peer_key) {
    auto c = make(config_for(me));
    introduction intro;
    intro.peer = peer.id;
    intro.peer_key = {};  // the all-zero point: X25519 output is zero
    EXPECT_EQ(error_of(c.puncher_config_for(intro)), errc::rendezvous_weak_peer_key);
}

// ---------------------------------------------------------------------------------------------
// Integration: two clients and one server core in memory, on a virtual clock.

class p2p_rendezvous_client_server : public ::testing::Test {
protected:
    struct node {
        identity who;
        peer_address seen_from;  // the address the server sees this node's datagrams from
        std::optional<client> c;
        std::vector<rendezvous_client_event> events;
        std::vector<std::pair<time_point, rendezvous_type>> sent;
    };

    p2p_rendezvous_client_server() {
        rendezvous_server_config cfg;
        cfg.lease = 10s;
        srv.emplace(cfg, seeded_random(neutrino::test::test_seed(20)));
        a.who = make_identity(11);
        a.seen_from = reflexive_a;
        b.who = make_identity(12);
        b.seen_from = reflexive_b;
        a.c.emplace(config_for(a.who), seeded_random(neutrino::test::test_seed(21)));
        b.c.emplace(config_for(b.who), seeded_random(neutrino::test::test_seed(22)));
    }

    // Moves every queued message until nothing moves; the server drops nothing of ours while
    // `silent` is false (when true, client messages are lost on the way).
    void pump() {
        for (bool moved = true; moved;) {
            moved = false;
            for (node* n : {&a, &b}) {
                while (auto bytes = n->c->poll_control()) {
                    moved = true;
                    const auto m = decode_rendezvous(*bytes);
                    ASSERT_TRUE(m);
                    n->sent.emplace_back(now, type_of(*m));
                    if (!silent) {
                        (void)srv->handle_control(n->who.pk, n->seen_from, *bytes, now);
                    }
                }
            }
            while (auto out = srv->poll_control()) {
                moved = true;
                node* to = out->to == a.who.id ? &a : out->to == b.who.id ? &b : nullptr;
                ASSERT_NE(to, nullptr);
                (void)to->c->handle_control(out->message, now);
            }
            for (node* n : {&a, &b}) {
                while (auto e = n->c->poll_event()) n->events.push_back(*e);
            }
        }
    }

    // Runs every timer of the clients and the server up to `until`.
    void run_until(time_point until) {
        pump();
        for (;;) {
            std::optional<time_point> next;
            for (auto d : {a.c->deadline(), b.c->deadline(), srv->deadline()}) {
                if (d) next = next ? std::min(*next, *d) : *d;
            }
            if (!next || *next > until) break;
            now = std::max(now, *next);
            a.c->handle_deadline(now);
            b.c->handle_deadline(now);
            srv->handle_deadline(now);
            pump();
        }
        now = until;
    }

    void register_both() {
        ASSERT_TRUE(a.c->start(now));
        ASSERT_TRUE(b.c->start(now));
        pump();
        ASSERT_EQ(a.c->current_state(), client::state::registered);
        ASSERT_EQ(b.c->current_state(), client::state::registered);
        EXPECT_EQ(a.c->reflexive(), reflexive_a);
        EXPECT_EQ(b.c->reflexive(), reflexive_b);
    }

    // A connects to B; returns both introductions.
    std::pair<introduction, introduction> introduce() {
        a.events.clear();
        b.events.clear();
        const auto id = a.c->connect(b.who.id, now);
        EXPECT_TRUE(id);
        pump();
        const auto ia = only<introduction>(a.events);
        const auto ib = only<introduction>(b.events);
        EXPECT_EQ(ia.size(), 1U);
        EXPECT_EQ(ib.size(), 1U);
        if (ia.size() != 1 || ib.size() != 1) return {};
        EXPECT_EQ(ia[0].attempt_id, *id);
        return {ia[0], ib[0]};
    }

    std::optional<server> srv;
    node a, b;
    time_point now{};
    bool silent = false;
};

TEST_F(p2p_rendezvous_client_server, both_peers_get_matching_introductions) {
    register_both();
    const auto [ia, ib] = introduce();
    EXPECT_EQ(ia.peer, b.who.id);
    EXPECT_EQ(ib.peer, a.who.id);
    EXPECT_EQ(ia.peer_key, b.who.pk);
    EXPECT_EQ(ib.peer_key, a.who.pk);
    EXPECT_EQ(ia.punch_secret, ib.punch_secret);
    EXPECT_EQ(ia.relay_id, ib.relay_id);
    EXPECT_NE(ia.relay_id, 0U);
    EXPECT_EQ(ia.attempt_id, ib.attempt_id);
    EXPECT_NE(ia.initiator, ib.initiator);
    EXPECT_EQ(ia.initiator, less(a.who.id, b.who.id));
    EXPECT_TRUE(ia.solicited);
    EXPECT_FALSE(ib.solicited);
    // each side holds the other's reflexive address (and host candidate)
    auto has = [](const introduction& i, const peer_address& addr) {
        return std::any_of(i.candidates.begin(), i.candidates.end(),
                           [&](const candidate& c) { return c.address == addr; });
    };
    EXPECT_TRUE(has(ia, reflexive_b));
    EXPECT_TRUE(has(ib, reflexive_a));

    // the PROBE keys agree, and only through both static keys
    auto ca = a.c->puncher_config_for(ia);
    auto cb = b.c->puncher_config_for(ib);
    ASSERT_TRUE(ca);
    ASSERT_TRUE(cb);
    EXPECT_EQ(ca->key, cb->key);
    EXPECT_EQ(ca->self, a.who.id);
    EXPECT_EQ(ca->peer, b.who.id);
    EXPECT_EQ(cb->peer, a.who.id);
    EXPECT_EQ(ca->attempt_id, cb->attempt_id);
    EXPECT_EQ(ca->candidates.size(), ia.candidates.size());
    const auto server_only = probe_key(ia.punch_secret, std::array<std::byte, 32>{});
    EXPECT_NE(ca->key, server_only);
    // and they make punchers that talk to each other: a request from A verifies at B
    basic_puncher<seeded_random> pa(*ca, seeded_random(neutrino::test::test_seed(30)));
    basic_puncher<seeded_random> pb(*cb, seeded_random(neutrino::test::test_seed(31)));
    pa.start(now);
    std::array<std::byte, probe_size> buf{};
    const auto tx = pa.poll_datagram(buf, now);
    ASSERT_TRUE(tx);
    EXPECT_TRUE(pb.handle_datagram(std::span(buf).first(tx->size), reflexive_a, now));
    EXPECT_EQ(pb.stats().requests_received, 1U);
}

TEST_F(p2p_rendezvous_client_server, keepalives_hold_the_lease) {
    register_both();
    run_until(now + 120s);  // twelve leases of 10 s
    EXPECT_EQ(srv->stats().expired, 0U);
    EXPECT_GE(srv->stats().keepalives, 2U * 50U);  // every 2 s on each side
    EXPECT_EQ(a.c->stats().losses, 0U);
    EXPECT_EQ(a.c->stats().keepalive_acks, a.c->stats().keepalives_sent);
    EXPECT_EQ(a.c->current_state(), client::state::registered);
    // still registered on the server: an introduction works
    const auto [ia, ib] = introduce();
    EXPECT_EQ(ia.relay_id, ib.relay_id);
}

TEST_F(p2p_rendezvous_client_server, a_silent_server_is_lost_then_restored_with_backoff) {
    register_both();
    run_until(now + 3s);
    silent = true;
    const time_point silent_at = now;
    a.events.clear();
    a.sent.clear();
    run_until(now + 30s);
    // lost within loss_timeout (6 s) of the last ack
    const auto lost = std::find_if(a.events.begin(), a.events.end(), [](const auto& e) {
        return std::holds_alternative<rendezvous_lost>(e);
    });
    ASSERT_NE(lost, a.events.end());
    EXPECT_EQ(a.c->current_state(), client::state::lost);
    std::vector<time_point> registers;
    for (const auto& [t, type] : a.sent) {
        if (type == rendezvous_type::register_) registers.push_back(t);
    }
    ASSERT_GE(registers.size(), 5U);
    EXPECT_LE(registers[0] - silent_at, 6s);
    std::vector<duration> gaps;
    for (std::size_t i = 1; i < 5; ++i) gaps.push_back(registers[i] - registers[i - 1]);
    EXPECT_EQ(gaps, (std::vector<duration>{1s, 2s, 4s, 8s}));  // capped at 8 s

    // the server answers again (the registrations expired meanwhile)
    silent = false;
    a.events.clear();
    run_until(now + 9s);
    EXPECT_EQ(a.c->current_state(), client::state::registered);
    EXPECT_EQ(only<rendezvous_restored>(a.events).size(), 1U);
    EXPECT_EQ(b.c->current_state(), client::state::registered);
    const auto [ia, ib] = introduce();
    EXPECT_EQ(ia.punch_secret, ib.punch_secret);
}

TEST_F(p2p_rendezvous_client_server, a_reflexive_change_re_registers_and_updates_the_peer) {
    register_both();
    const auto [ia, ib] = introduce();  // B now learns A's moves
    a.events.clear();
    b.events.clear();
    const auto moved = peer_address::v4({203, 0, 113, 7}, 61000);
    a.seen_from = moved;  // A's NAT rebinds
    a.sent.clear();
    run_until(now + 2s);  // the next keepalive shows it
    const auto changed = only<own_address_changed>(a.events);
    ASSERT_EQ(changed.size(), 1U);
    EXPECT_EQ(changed[0].old_address, reflexive_a);
    EXPECT_EQ(changed[0].new_address, moved);
    EXPECT_EQ(a.c->reflexive(), moved);
    EXPECT_TRUE(std::any_of(a.sent.begin(), a.sent.end(),
                            [](const auto& s) { return s.second == rendezvous_type::register_; }));
    const auto updates = only<peer_update>(b.events);
    ASSERT_GE(updates.size(), 1U);
    EXPECT_EQ(updates.back().peer, a.who.id);
    EXPECT_TRUE(std::any_of(updates.back().candidates.begin(), updates.back().candidates.end(),
                            [&](const candidate& c) { return c.address == moved; }));
    // the relay follows A to its new address
    const auto relay = srv->relay(ia.relay_id);
    ASSERT_TRUE(relay);
    EXPECT_TRUE(relay->endpoint_a == moved || relay->endpoint_b == moved);
    EXPECT_EQ(ib.relay_id, ia.relay_id);
    EXPECT_EQ(a.c->stats().dropped(), 0U);
    EXPECT_EQ(b.c->stats().dropped(), 0U);
}

TEST_F(p2p_rendezvous_client_server, a_forged_introduce_is_dropped_and_counted) {
    register_both();
    // a server that substitutes its own key under B's node id
    const identity mallory = make_identity(13);
    introduce_message forged;
    forged.peer = b.who.id;
    forged.peer_key = mallory.pk;
    forged.attempt_id = 5;
    forged.initiator = less(a.who.id, b.who.id);
    forged.relay_id = 1;
    a.events.clear();
    EXPECT_EQ(error_of(a.c->handle_control(encode(forged), now)),
              errc::rendezvous_peer_key_mismatch);
    EXPECT_EQ(a.c->stats().dropped_forged, 1U);
    pump();
    EXPECT_TRUE(only<introduction>(a.events).empty());
}

}  // namespace
