#include "neutrino/p2p/puncher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/nat.hpp"
#include "neutrino/inspector/network.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"
#include "p2p_test_support.hpp"
#include "nat_matrix.hpp"
#include "test_seed.hpp"

namespace {

namespace ni = neutrino::inspector;
namespace p2p = neutrino::p2p;
using p2p_test::id_of;
using p2p_test::test_key;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;
using neutrino::test::test_seed;
using neutrino::test::host_a;
using neutrino::test::host_b;
using neutrino::test::name;
using neutrino::test::nat1_public;
using neutrino::test::nat2_public;
using neutrino::test::nat_of;
using neutrino::test::nat_type;
using neutrino::test::reflector;
using neutrino::test::reflexive_size;
using neutrino::test::server_address;
using p2p::candidate;
using p2p::candidate_kind;
using p2p::errc;
using p2p_test::error_of;

using test_puncher = p2p::basic_puncher<neutrino::seeded_random>;

constexpr std::uint64_t attempt = 0x5eed'0000'0000'0001ULL;
const p2p::node_id low_id = id_of(0x01);   // the initiator (smaller id)
const p2p::node_id high_id = id_of(0x02);  // the responder

const peer_address host_addr = peer_address::v4({10, 0, 2, 2}, 40000);
const peer_address v6_addr =
    peer_address::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 40000);
const peer_address reflexive_addr = peer_address::v4({198, 51, 100, 1}, 40000);
const peer_address stranger = peer_address::v4({198, 51, 100, 1}, 41234);

// A puncher towards a peer with the three kinds of candidate, announced worst first.
struct fixture {
    explicit fixture(bool initiator = true, p2p::punch_schedule schedule = {},
                     std::vector<candidate> cands = {{reflexive_addr, candidate_kind::reflexive},
                                                     {v6_addr, candidate_kind::ipv6},
                                                     {host_addr, candidate_kind::host}})
        : candidates(std::move(cands)),
          self(initiator ? low_id : high_id),
          peer(initiator ? high_id : low_id),
          p(config(schedule), neutrino::seeded_random(test_seed(100))) {}

    [[nodiscard]] p2p::puncher_config config(p2p::punch_schedule schedule) const {
        p2p::puncher_config c;
        c.self = self;
        c.peer = peer;
        c.attempt_id = attempt;
        c.key = test_key(7);
        c.candidates = candidates;
        c.schedule = schedule;
        return c;
    }

    // A PROBE as the peer would send it.
    [[nodiscard]] std::array<std::byte, p2p::probe_size> from_peer(std::uint64_t nonce,
                                                                   std::uint64_t echo,
                                                                   std::uint8_t key = 7) const {
        std::array<std::byte, p2p::probe_size> out{};
        EXPECT_TRUE(p2p::encode_probe(p2p::probe{attempt, peer, nonce, echo}, test_key(key), out));
        return out;
    }

    struct sent {
        peer_address to;
        p2p::probe probe;
    };
    // Everything the puncher has to send now, decoded (with our key: they must all verify).
    std::vector<sent> drain(time_point now) {
        std::vector<sent> out;
        std::array<std::byte, 1500> buf{};
        while (auto t = p.poll_datagram(buf, now)) {
            EXPECT_EQ(t->size, p2p::probe_size);
            auto d = p2p::decode_probe(std::span(buf).first(t->size), test_key(7));
            EXPECT_TRUE(d);
            if (d) out.push_back(sent{t->to, *d});
        }
        return out;
    }
    std::vector<p2p::puncher_event> events() {
        std::vector<p2p::puncher_event> out;
        while (auto e = p.poll_event()) out.push_back(*e);
        return out;
    }

    std::vector<candidate> candidates;
    p2p::node_id self;
    p2p::node_id peer;
    test_puncher p;
};

const time_point t0 = time_point{} + 1h;

static_assert(neutrino::datagram_layer<p2p::puncher>);
static_assert(neutrino::datagram_layer<test_puncher>);

TEST(p2p_puncher, probes_every_candidate_each_interval_in_priority_order_then_fails) {
    fixture f;
    EXPECT_EQ(f.p.deadline(), std::nullopt);  // idle: no timer, nothing to send
    EXPECT_TRUE(f.drain(t0).empty());
    f.p.start(t0);
    time_point now = t0;
    std::size_t rounds = 0;
    std::vector<std::uint64_t> nonces;
    while (f.p.current_state() == test_puncher::state::probing) {
        const auto sent = f.drain(now);
        if (!sent.empty()) {
            ++rounds;
            ASSERT_EQ(sent.size(), 3U);
            EXPECT_EQ(sent[0].to, host_addr);  // host > IPv6 > reflexive (§7.4 step 2)
            EXPECT_EQ(sent[1].to, v6_addr);
            EXPECT_EQ(sent[2].to, reflexive_addr);
            for (const auto& s : sent) {
                EXPECT_EQ(s.probe.attempt_id, attempt);
                EXPECT_EQ(s.probe.sender, low_id);
                EXPECT_EQ(s.probe.echo_nonce, 0U);
                EXPECT_NE(s.probe.nonce, 0U);
                nonces.push_back(s.probe.nonce);
            }
            // one round per interval, starting at start
            EXPECT_EQ(now, t0 + 100ms * static_cast<int>(rounds - 1));
        }
        ASSERT_TRUE(f.p.deadline());
        ASSERT_GT(*f.p.deadline(), now);
        now = *f.p.deadline();
        f.p.handle_deadline(now);
    }
    EXPECT_EQ(rounds, 50U);  // 5 s at 100 ms
    EXPECT_EQ(now, t0 + 5s);
    EXPECT_EQ(f.p.current_state(), test_puncher::state::failed);
    EXPECT_EQ(f.p.stats().requests_sent, 150U);
    std::sort(nonces.begin(), nonces.end());
    EXPECT_EQ(std::unique(nonces.begin(), nonces.end()), nonces.end());  // fresh each time
    const auto ev = f.events();
    ASSERT_EQ(ev.size(), 1U);
    ASSERT_TRUE(std::holds_alternative<p2p::punch_failed>(ev[0]));
    EXPECT_EQ(std::get<p2p::punch_failed>(ev[0]).reason, errc::punch_timed_out);
    EXPECT_EQ(std::get<p2p::punch_failed>(ev[0]).reason, neutrino::condition::timed_out);
    EXPECT_EQ(f.p.deadline(), std::nullopt);
    EXPECT_TRUE(f.drain(now + 1s).empty());
}

TEST(p2p_puncher, a_configured_schedule_is_followed_and_missed_rounds_are_not_bunched) {
    fixture f(true, p2p::punch_schedule{20ms, 200ms, 0ms});
    f.p.start(t0);
    EXPECT_EQ(f.drain(t0).size(), 3U);
    EXPECT_EQ(f.p.deadline(), t0 + 20ms);
    f.p.handle_deadline(t0 + 75ms);  // late: one round, the next at 80 ms
    EXPECT_EQ(f.drain(t0 + 75ms).size(), 3U);
    EXPECT_EQ(f.p.deadline(), t0 + 80ms);
    f.p.handle_deadline(t0 + 500ms);  // past the end: fails, sends nothing more
    EXPECT_TRUE(f.drain(t0 + 500ms).empty());
    EXPECT_EQ(f.p.current_state(), test_puncher::state::failed);
}

TEST(p2p_puncher, answers_a_request_to_its_source_echoing_its_nonce_with_a_reply_as_large) {
    fixture f;
    const auto req = f.from_peer(0xabcdef, 0);
    EXPECT_TRUE(f.p.handle_datagram(req, reflexive_addr, t0));  // before start too
    std::array<std::byte, 1500> buf{};
    const auto t = f.p.poll_datagram(buf, t0);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, reflexive_addr);
    EXPECT_LE(t->size, req.size());  // never larger than what it answers (§7.2)
    EXPECT_EQ(t->size, req.size());
    EXPECT_EQ(p2p::classify(std::span(buf).first(t->size)), p2p::datagram_kind::peer_control);
    const auto d = p2p::decode_probe(std::span(buf).first(t->size), test_key(7));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->echo_nonce, 0xabcdefU);
    EXPECT_EQ(d->nonce, 0U);  // a reply asks nothing back
    EXPECT_EQ(d->sender, low_id);
    EXPECT_EQ(d->attempt_id, attempt);
    EXPECT_FALSE(f.p.poll_datagram(buf, t0));
    EXPECT_EQ(f.p.stats().requests_received, 1U);
    EXPECT_EQ(f.p.stats().replies_sent, 1U);
    EXPECT_TRUE(f.events().empty());  // an announced source is not learned again
    // a reply is never answered (no ping-pong), even an unknown one
    EXPECT_EQ(error_of(f.p.handle_datagram(f.from_peer(0, 0x1234), reflexive_addr, t0)),
              errc::probe_unknown_echo);
    EXPECT_FALSE(f.p.poll_datagram(buf, t0));
}

TEST(p2p_puncher, validates_a_pair_only_on_an_echo_of_a_recent_nonce_from_where_it_went) {
    fixture f(false);  // responder
    f.p.start(t0);
    const auto sent = f.drain(t0);
    ASSERT_EQ(sent.size(), 3U);
    const auto refl = sent[2];
    ASSERT_EQ(refl.to, reflexive_addr);
    // the right nonce from another address: not symmetric, dropped
    EXPECT_EQ(error_of(f.p.handle_datagram(f.from_peer(0, refl.probe.nonce), stranger, t0 + 5ms)),
              errc::probe_echo_wrong_source);
    // a nonce we never sent
    EXPECT_EQ(error_of(f.p.handle_datagram(f.from_peer(0, refl.probe.nonce + 1), reflexive_addr,
                                           t0 + 5ms)),
              errc::probe_unknown_echo);
    EXPECT_TRUE(f.events().empty());
    EXPECT_EQ(f.p.stats().dropped_echo_wrong_source, 1U);
    EXPECT_EQ(f.p.stats().dropped_unknown_echo, 1U);
    // the nonce we sent to the reflexive address, echoed from there
    EXPECT_TRUE(f.p.handle_datagram(f.from_peer(0, refl.probe.nonce), reflexive_addr, t0 + 10ms));
    auto ev = f.events();
    ASSERT_EQ(ev.size(), 1U);
    ASSERT_TRUE(std::holds_alternative<p2p::pair_validated>(ev[0]));
    EXPECT_EQ(std::get<p2p::pair_validated>(ev[0]).remote, reflexive_addr);
    EXPECT_EQ(std::get<p2p::pair_validated>(ev[0]).kind, candidate_kind::reflexive);
    EXPECT_TRUE(f.p.validated_at(2));
    EXPECT_FALSE(f.p.validated_at(0));
    // again: idempotent, no second event
    EXPECT_TRUE(f.p.handle_datagram(f.from_peer(0, refl.probe.nonce), reflexive_addr, t0 + 11ms));
    EXPECT_TRUE(f.events().empty());
    // the responder settles after the settle time but never selects: the initiator does
    EXPECT_EQ(f.p.deadline(), t0 + 100ms);
    f.p.handle_deadline(t0 + 100ms);
    EXPECT_EQ(f.p.deadline(), t0 + 200ms);
    f.p.handle_deadline(t0 + 310ms);
    EXPECT_EQ(f.p.current_state(), test_puncher::state::succeeded);
    EXPECT_FALSE(f.p.selected());
    EXPECT_TRUE(f.events().empty());
    EXPECT_EQ(f.p.deadline(), std::nullopt);
    // still answers the peer, which may not have validated yet
    EXPECT_TRUE(f.p.handle_datagram(f.from_peer(77, 0), reflexive_addr, t0 + 400ms));
    ASSERT_EQ(f.drain(t0 + 400ms).size(), 1U);
}

TEST(p2p_puncher, the_outstanding_nonces_are_bounded) {
    // One candidate: 129 rounds push the first nonce out of the 128 remembered.
    fixture f(true, p2p::punch_schedule{10ms, 60s, 300ms},
              {{reflexive_addr, candidate_kind::reflexive}});
    f.p.start(t0);
    std::vector<std::uint64_t> nonces;
    time_point now = t0;
    for (std::size_t i = 0; i <= test_puncher::max_outstanding; ++i) {
        for (const auto& s : f.drain(now)) nonces.push_back(s.probe.nonce);
        now += 10ms;
        f.p.handle_deadline(now);
    }
    ASSERT_EQ(nonces.size(), test_puncher::max_outstanding + 1);
    EXPECT_EQ(error_of(f.p.handle_datagram(f.from_peer(0, nonces.front()), reflexive_addr, now)),
              errc::probe_unknown_echo);
    EXPECT_TRUE(f.p.handle_datagram(f.from_peer(0, nonces[1]), reflexive_addr, now));
}

// Echoes the nonce of the request the puncher sent to `to` in `sent`.
std::uint64_t nonce_to(const std::vector<fixture::sent>& sent, const peer_address& to) {
    for (const auto& s : sent) {
        if (s.to == to) return s.probe.nonce;
    }
    ADD_FAILURE() << "no probe to that address";
    return 0;
}

TEST(p2p_puncher, the_initiator_selects_host_over_ipv6_over_reflexive) {
    {
        SCOPED_TRACE("reflexive then IPv6 within the settle time: IPv6");
        fixture f(true);
        ASSERT_TRUE(f.p.is_initiator());
        f.p.start(t0);
        const auto sent = f.drain(t0);
        ASSERT_TRUE(f.p.handle_datagram(f.from_peer(0, nonce_to(sent, reflexive_addr)),
                                        reflexive_addr, t0 + 10ms));
        EXPECT_EQ(f.p.deadline(), t0 + 100ms);  // next round first; settle at 310 ms
        f.p.handle_deadline(t0 + 100ms);
        ASSERT_TRUE(
            f.p.handle_datagram(f.from_peer(0, nonce_to(sent, v6_addr)), v6_addr, t0 + 150ms));
        f.p.handle_deadline(t0 + 200ms);
        EXPECT_EQ(f.p.current_state(), test_puncher::state::probing);
        EXPECT_EQ(f.p.deadline(), t0 + 300ms);
        f.p.handle_deadline(t0 + 300ms);
        EXPECT_EQ(f.p.deadline(), t0 + 310ms);
        f.p.handle_deadline(t0 + 310ms);
        EXPECT_EQ(f.p.current_state(), test_puncher::state::succeeded);
        ASSERT_TRUE(f.p.selected());
        EXPECT_EQ(f.p.selected()->address, v6_addr);
        const auto ev = f.events();
        ASSERT_EQ(ev.size(), 3U);
        EXPECT_EQ(std::get<p2p::pair_validated>(ev[0]).kind, candidate_kind::reflexive);
        EXPECT_EQ(std::get<p2p::pair_validated>(ev[1]).kind, candidate_kind::ipv6);
        ASSERT_TRUE(std::holds_alternative<p2p::pair_selected>(ev[2]));
        EXPECT_EQ(std::get<p2p::pair_selected>(ev[2]).remote, v6_addr);
        EXPECT_EQ(std::get<p2p::pair_selected>(ev[2]).kind, candidate_kind::ipv6);
        EXPECT_TRUE(f.drain(t0 + 400ms).empty());  // no more probing
    }
    {
        SCOPED_TRACE("all three: host, at once (nothing better can come)");
        fixture f(true);
        f.p.start(t0);
        const auto sent = f.drain(t0);
        for (const auto& a : {reflexive_addr, v6_addr, host_addr}) {
            ASSERT_TRUE(f.p.handle_datagram(f.from_peer(0, nonce_to(sent, a)), a, t0 + 20ms));
        }
        EXPECT_EQ(f.p.deadline(), t0 + 20ms);
        f.p.handle_deadline(t0 + 20ms);
        ASSERT_TRUE(f.p.selected());
        EXPECT_EQ(f.p.selected()->address, host_addr);
        EXPECT_EQ(f.p.selected()->kind, candidate_kind::host);
    }
    {
        SCOPED_TRACE("validated just before the deadline: selected at the deadline");
        fixture f(true, p2p::punch_schedule{100ms, 1s, 500ms});
        f.p.start(t0);
        time_point now = t0;
        std::vector<fixture::sent> last;
        while (now < t0 + 900ms) {
            if (auto s = f.drain(now); !s.empty()) last = s;
            now = *f.p.deadline();
            f.p.handle_deadline(now);
        }
        last = f.drain(now);
        ASSERT_TRUE(f.p.handle_datagram(f.from_peer(0, nonce_to(last, reflexive_addr)),
                                        reflexive_addr, now + 50ms));
        EXPECT_EQ(f.p.deadline(), t0 + 1s);
        f.p.handle_deadline(t0 + 1s);
        ASSERT_TRUE(f.p.selected());
        EXPECT_EQ(f.p.selected()->address, reflexive_addr);
    }
}

TEST(p2p_puncher, the_smaller_node_id_initiates) {
    EXPECT_TRUE(fixture(true).p.is_initiator());
    EXPECT_FALSE(fixture(false).p.is_initiator());
}

TEST(p2p_puncher, an_unannounced_source_is_learned_as_peer_reflexive_and_probed_bounded) {
    fixture f;
    f.p.start(t0);
    ASSERT_EQ(f.drain(t0).size(), 3U);
    ASSERT_TRUE(f.p.handle_datagram(f.from_peer(1, 0), stranger, t0 + 10ms));
    auto ev = f.events();
    ASSERT_EQ(ev.size(), 1U);
    ASSERT_TRUE(std::holds_alternative<p2p::candidate_learned>(ev[0]));
    EXPECT_EQ(std::get<p2p::candidate_learned>(ev[0]).remote, stranger);
    auto sent = f.drain(t0 + 10ms);
    ASSERT_EQ(sent.size(), 2U);  // the reply, then at once a request to the new source
    EXPECT_EQ(sent[0].to, stranger);
    EXPECT_EQ(sent[0].probe.echo_nonce, 1U);
    EXPECT_EQ(sent[1].to, stranger);
    EXPECT_EQ(sent[1].probe.echo_nonce, 0U);
    EXPECT_NE(sent[1].probe.nonce, 0U);
    // the next round probes it too, last (lowest priority)
    f.p.handle_deadline(t0 + 100ms);
    sent = f.drain(t0 + 100ms);
    ASSERT_EQ(sent.size(), 4U);
    EXPECT_EQ(sent[3].to, stranger);
    ASSERT_EQ(f.p.candidate_count(), 4U);
    EXPECT_EQ(f.p.candidate_at(3).kind, candidate_kind::peer_reflexive);
    // ... and it can be validated like any other candidate
    ASSERT_TRUE(f.p.handle_datagram(f.from_peer(0, sent[3].probe.nonce), stranger, t0 + 120ms));
    ev = f.events();
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(std::get<p2p::pair_validated>(ev[0]).kind, candidate_kind::peer_reflexive);
    // at most max_learned: the fifth new source is answered but not learned
    for (std::uint16_t i = 1; i <= test_puncher::max_learned; ++i) {
        const auto s = peer_address::v4({198, 51, 100, 1}, static_cast<std::uint16_t>(50000 + i));
        ASSERT_TRUE(f.p.handle_datagram(f.from_peer(100 + i, 0), s, t0 + 130ms));
    }
    EXPECT_EQ(f.p.candidate_count(), 3U + test_puncher::max_learned);
    EXPECT_EQ(f.p.stats().learned_over_limit, 1U);
    EXPECT_EQ(f.events().size(), test_puncher::max_learned - 1);
    std::size_t replies = 0, requests = 0;
    for (const auto& x : f.drain(t0 + 130ms)) ++(x.probe.echo_nonce != 0 ? replies : requests);
    EXPECT_EQ(replies, test_puncher::max_learned);       // all answered
    EXPECT_EQ(requests, test_puncher::max_learned - 1);  // the learned ones probed at once
}

TEST(p2p_puncher, bad_input_is_dropped_counted_and_never_answered) {
    fixture f;
    f.p.start(t0);
    (void)f.drain(t0);
    auto expect_drop = [&](std::span<const std::byte> in, errc e) {
        const auto before = f.p.stats().dropped();
        EXPECT_EQ(error_of(f.p.handle_datagram(in, reflexive_addr, t0)), e);
        EXPECT_EQ(f.p.stats().dropped(), before + 1);
        EXPECT_TRUE(f.drain(t0).empty());
        EXPECT_TRUE(f.events().empty());
    };
    const auto good = f.from_peer(9, 0);
    expect_drop(f.from_peer(9, 0, 8), errc::probe_bad_mac);  // wrong key
    {
        std::array<std::byte, p2p::probe_size> other{};
        ASSERT_TRUE(p2p::encode_probe(p2p::probe{attempt + 1, f.peer, 9, 0}, test_key(7), other));
        expect_drop(other, errc::probe_wrong_attempt);
        ASSERT_TRUE(p2p::encode_probe(p2p::probe{attempt, id_of(3), 9, 0}, test_key(7), other));
        expect_drop(other, errc::probe_wrong_sender);
        // our own probe reflected back (a hairpin, or an attacker): not from the peer
        ASSERT_TRUE(p2p::encode_probe(p2p::probe{attempt, f.self, 9, 0}, test_key(7), other));
        expect_drop(other, errc::probe_wrong_sender);
        ASSERT_TRUE(p2p::encode_probe(p2p::probe{attempt, f.peer, 0, 0}, test_key(7), other));
        expect_drop(other, errc::probe_no_nonce);
    }
    expect_drop(std::span(good).first(p2p::probe_size - 1), errc::probe_bad_size);  // truncated
    std::array<std::byte, p2p::probe_size + 1> longer{};
    std::copy(good.begin(), good.end(), longer.begin());
    expect_drop(longer, errc::probe_bad_size);
    expect_drop({}, errc::envelope_empty);
    auto data = good;
    data[0] = std::byte{0x01};  // peer data is not the puncher's
    expect_drop(data, errc::bad_envelope_type);
    auto flipped = good;
    flipped[30] ^= std::byte{0x10};  // the nonce, under the MAC
    expect_drop(flipped, errc::probe_bad_mac);
    const auto& s = f.p.stats();
    EXPECT_EQ(s.dropped_bad_mac, 2U);
    EXPECT_EQ(s.dropped_wrong_attempt, 1U);
    EXPECT_EQ(s.dropped_wrong_sender, 2U);
    EXPECT_EQ(s.dropped_malformed, 5U);
    EXPECT_EQ(s.requests_received, 0U);
    EXPECT_EQ(f.p.candidate_count(), 3U);
    // and the good one still works
    EXPECT_TRUE(f.p.handle_datagram(good, reflexive_addr, t0));
    EXPECT_EQ(f.drain(t0).size(), 1U);
}

TEST(p2p_puncher, a_replayed_request_is_answered_at_most_once_per_interval) {
    fixture f;
    f.p.start(t0);
    (void)f.drain(t0);
    const auto req = f.from_peer(42, 0);
    std::size_t answers = 0;
    // the same request 20 times every 10 ms, from the announced and from another source
    for (int i = 0; i < 20; ++i) {
        const time_point now = t0 + 10ms * i;
        (void)f.p.handle_datagram(req, i % 2 == 0 ? reflexive_addr : stranger, now);
        for (const auto& s : f.drain(now)) answers += s.probe.echo_nonce == 42 ? 1 : 0;
    }
    EXPECT_EQ(answers, 2U);  // at 0 ms and at 100 ms
    EXPECT_EQ(f.p.stats().dropped_replayed, 18U);
    EXPECT_EQ(error_of(f.p.handle_datagram(req, reflexive_addr, t0 + 199ms)), errc::probe_replayed);
    EXPECT_EQ(error_of(f.p.handle_datagram(req, reflexive_addr, t0 + 199ms)),
              neutrino::condition::replayed);
    // a replay flood of distinct nonces: each answered once, the memory stays bounded
    for (std::uint64_t n = 1000; n < 1000 + 2 * test_puncher::max_answered; ++n) {
        EXPECT_TRUE(f.p.handle_datagram(f.from_peer(n, 0), reflexive_addr, t0 + 300ms));
        EXPECT_EQ(error_of(f.p.handle_datagram(f.from_peer(n, 0), reflexive_addr, t0 + 300ms)),
                  errc::probe_replayed);
        EXPECT_EQ(f.drain(t0 + 300ms).size(), 1U);
    }
}

TEST(p2p_puncher, the_reply_queue_is_bounded) {
    fixture f;
    for (std::uint64_t n = 1; n <= test_puncher::max_replies; ++n) {
        ASSERT_TRUE(f.p.handle_datagram(f.from_peer(n, 0), reflexive_addr, t0));
    }
    EXPECT_EQ(error_of(f.p.handle_datagram(f.from_peer(99, 0), reflexive_addr, t0)),
              errc::puncher_queue_full);
    EXPECT_EQ(f.p.stats().dropped_queue_full, 1U);
    EXPECT_EQ(f.drain(t0).size(), test_puncher::max_replies);
    // not remembered as answered: it is answered when sent again
    EXPECT_TRUE(f.p.handle_datagram(f.from_peer(99, 0), reflexive_addr, t0));
}

TEST(p2p_puncher, a_bad_configuration_throws) {
    fixture f;
    auto cfg = f.config({});
    const auto make = [](const p2p::puncher_config& c) {
        test_puncher p(c, neutrino::seeded_random(1));
    };
    EXPECT_NO_THROW(make(cfg));
    auto same = cfg;
    same.peer = same.self;
    EXPECT_THROW(make(same), std::invalid_argument);
    std::vector<candidate> many(test_puncher::max_candidates + 1);
    for (std::size_t i = 0; i < many.size(); ++i) {
        many[i] = {peer_address::v4({10, 0, 0, static_cast<std::uint8_t>(i)}, 1),
                   candidate_kind::host};
    }
    auto too_many = cfg;
    too_many.candidates = many;
    EXPECT_THROW(make(too_many), std::invalid_argument);
    const std::vector<candidate> none_family{{peer_address{}, candidate_kind::host}};
    auto bad = cfg;
    bad.candidates = none_family;
    EXPECT_THROW(make(bad), std::invalid_argument);
    const std::vector<candidate> prflx{{stranger, candidate_kind::peer_reflexive}};
    bad.candidates = prflx;
    EXPECT_THROW(make(bad), std::invalid_argument);
    auto sched = cfg;
    sched.schedule.interval = 0ms;
    EXPECT_THROW(make(sched), std::invalid_argument);
    sched = cfg;
    sched.schedule.timeout = -1ms;
    EXPECT_THROW(make(sched), std::invalid_argument);
    sched = cfg;
    sched.schedule.settle = -1ms;
    EXPECT_THROW(make(sched), std::invalid_argument);
    // duplicates are probed once; no candidates at all is allowed (learning only)
    const std::vector<candidate> dup{{host_addr, candidate_kind::host},
                                     {host_addr, candidate_kind::host}};
    auto d = cfg;
    d.candidates = dup;
    test_puncher p(d, neutrino::seeded_random(1));
    EXPECT_EQ(p.candidate_count(), 1U);
    auto empty = cfg;
    empty.candidates = {};
    EXPECT_NO_THROW(make(empty));
}

TEST(p2p_puncher, its_error_codes_map_to_conditions_and_have_messages) {
    const std::array<std::pair<errc, neutrino::condition>, 8> codes{{
        {errc::probe_no_nonce, neutrino::condition::malformed},
        {errc::probe_wrong_attempt, neutrino::condition::unauthenticated},
        {errc::probe_wrong_sender, neutrino::condition::unauthenticated},
        {errc::probe_unknown_echo, neutrino::condition::unauthenticated},
        {errc::probe_echo_wrong_source, neutrino::condition::unauthenticated},
        {errc::probe_replayed, neutrino::condition::replayed},
        {errc::puncher_queue_full, neutrino::condition::refused},
        {errc::punch_timed_out, neutrino::condition::timed_out},
    }};
    for (const auto& [code, cond] : codes) {
        const std::error_code ec = code;
        EXPECT_EQ(ec, cond) << ec.message();
        EXPECT_NE(ec.message(), "unknown neutrino.p2p error");
    }
    // appended: the codes that were there keep their values
    EXPECT_EQ(static_cast<int>(errc::stun_attribute_order) + 1,
              static_cast<int>(errc::probe_no_nonce));
}

// ---- two punchers in the inspector's network, behind RFC 4787 NATs ----

constexpr std::byte discover_byte{0x03};  // server control: "what is my address?"

// One node's socket: learns its reflexive address from the server, then runs a puncher
// (the demultiplexing a peer table will do: server datagrams by source, PROBEs by envelope).
class peer_node {
public:
    using event_type = p2p::puncher_event;

    explicit peer_node(peer_address server) : server_(server) {}

    void discover() { discover_pending_ = true; }
    void punch(const p2p::puncher_config& cfg, std::uint64_t seed, time_point now) {
        puncher_.emplace(cfg, neutrino::seeded_random(seed));
        puncher_->start(now);
        started = now;
    }

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                           time_point now) {
        if (from == server_) {
            if (in.size() != reflexive_size) return neutrino::fail(std::errc::bad_message);
            peer_address r;
            r.family = server_.family;
            for (std::size_t i = 0; i < 16; ++i) r.bytes[i] = std::to_integer<std::uint8_t>(in[i]);
            r.port = static_cast<std::uint16_t>((std::to_integer<unsigned>(in[16]) << 8) |
                                                std::to_integer<unsigned>(in[17]));
            reflexive = r;
            return {};
        }
        if (!puncher_) return neutrino::fail(std::errc::not_connected);
        return puncher_->handle_datagram(in, from, now);
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        if (discover_pending_) {
            discover_pending_ = false;
            out[0] = discover_byte;
            return neutrino::transmit{1, server_};
        }
        if (!puncher_) return std::nullopt;
        return puncher_->poll_datagram(out, now);
    }
    std::optional<event_type> poll_event() {
        if (!puncher_) return std::nullopt;
        return puncher_->poll_event();
    }
    [[nodiscard]] std::optional<time_point> deadline() const {
        return puncher_ ? puncher_->deadline() : std::nullopt;
    }
    void handle_deadline(time_point now) {
        if (puncher_) puncher_->handle_deadline(now);
    }

    [[nodiscard]] const test_puncher& puncher() const { return *puncher_; }
    [[nodiscard]] bool validated_any() const {
        for (std::size_t i = 0; i < puncher_->candidate_count(); ++i) {
            if (puncher_->validated_at(i)) return true;
        }
        return false;
    }

    std::optional<peer_address> reflexive;
    time_point started{};
    std::vector<std::pair<time_point, p2p::puncher_event>> log;  // filled by the network

private:
    peer_address server_;
    bool discover_pending_ = false;
    std::optional<test_puncher> puncher_;
};

static_assert(neutrino::datagram_layer<peer_node>);


// Two peers, each behind its NAT (or both behind one), and a rendezvous server; 20 ms one way.
struct punch_world {
    punch_world(ni::nat_config n1, std::optional<ni::nat_config> n2, std::uint64_t seed)
        : net(config(seed)), a(server_address), b(server_address) {
        site1 = net.add_nat(n1);
        site2 = n2 ? net.add_nat(*n2) : site1;
        net.add_node(server, server_address);
        node_a = net.add_node(a, host_a, site1, logger(a));
        node_b =
            net.add_node(b, n2 ? host_b : peer_address::v4({10, 0, 1, 3}, 40000), site2, logger(b));
    }
    std::function<void(const p2p::puncher_event&)> logger(peer_node& n) {
        return [this, &n](const p2p::puncher_event& e) { n.log.emplace_back(net.now(), e); };
    }
    static ni::network_config config(std::uint64_t seed) {
        ni::network_config c;
        c.internet.delay = 20ms;
        c.seed = seed;
        return c;
    }
    // Registration is reliable here (a rendezvous client retries); loss, if any, is applied
    // to the paths between the two NATs afterwards.
    void discover() {
        a.discover();
        b.discover();
        ASSERT_TRUE(net.run_until([&] { return a.reflexive && b.reflexive; }, 2s));
        if (drop > 0.0 && site1 != site2) {
            ni::impairment_config lossy;
            lossy.delay = 20ms;
            lossy.drop = drop;
            net.set_path(site1, site2, lossy);
            net.set_path(site2, site1, lossy);
        }
    }
    // What an INTRODUCE carries to `to` about `other`: its host and reflexive candidates.
    [[nodiscard]] p2p::puncher_config introduce(
        const p2p::node_id& self, const p2p::node_id& other,
        const std::vector<candidate>& other_candidates) const {
        p2p::puncher_config c;
        c.self = self;
        c.peer = other;
        c.attempt_id = attempt;
        c.key = test_key(0x42);
        c.candidates = other_candidates;
        return c;
    }
    // §7.4: A starts, B 300 ms later (the introduction reached it later); both for 5 s.
    void punch(const p2p::node_id& id_a, const p2p::node_id& id_b, std::uint64_t seed) {
        cands_of_a = {{net.address_of(node_a), candidate_kind::host},
                      {*a.reflexive, candidate_kind::reflexive}};
        cands_of_b = {{net.address_of(node_b), candidate_kind::host},
                      {*b.reflexive, candidate_kind::reflexive}};
        a.punch(introduce(id_a, id_b, cands_of_b), seed, net.now());
        net.run_for(300ms);
        b.punch(introduce(id_b, id_a, cands_of_a), seed + 1, net.now());
        net.run_for(6s);
    }

    ni::network net;
    reflector server;
    peer_node a;
    peer_node b;
    ni::site_id site1 = 0, site2 = 0;
    ni::node_id node_a = 0, node_b = 0;
    std::vector<candidate> cands_of_a, cands_of_b;
    double drop = 0.0;  ///< loss between the two NATs after discovery
};

template <class E>
std::vector<std::pair<time_point, E>> events_of(const peer_node& n) {
    std::vector<std::pair<time_point, E>> out;
    for (const auto& [t, e] : n.log) {
        if (const auto* x = std::get_if<E>(&e)) out.emplace_back(t, *x);
    }
    return out;
}

TEST(p2p_puncher_network, hole_punching_matrix_follows_rfc_4787) {
    const std::array types{nat_type::eim_eif, nat_type::eim_adf, nat_type::eim_apdf,
                           nat_type::symmetric};
    for (const bool a_initiates : {true, false}) {
        int successes = 0;
        for (const auto x : types) {
            for (const auto y : types) {
                SCOPED_TRACE("A behind " + name(x) + ", B behind " + name(y) +
                             (a_initiates ? ", A initiates" : ", B initiates"));
                punch_world w(nat_of(x, nat1_public, test_seed(110)),
                              nat_of(y, nat2_public, test_seed(111)), test_seed(112));
                w.discover();
                const auto id_a = a_initiates ? low_id : high_id;
                const auto id_b = a_initiates ? high_id : low_id;
                w.punch(id_a, id_b, test_seed(113));
                peer_node& init = a_initiates ? w.a : w.b;
                peer_node& resp = a_initiates ? w.b : w.a;
                ASSERT_TRUE(init.puncher().is_initiator());
                ASSERT_FALSE(resp.puncher().is_initiator());
                const auto selected = events_of<p2p::pair_selected>(init);
                const bool ok = selected.size() == 1 && resp.validated_any();
                EXPECT_EQ(ok, neutrino::test::punching_succeeds(x, y));
                successes += ok ? 1 : 0;
                EXPECT_TRUE(events_of<p2p::pair_selected>(resp).empty());
                if (ok) {
                    // The initiator chose the responder's public side (host addresses are on
                    // other LANs, unreachable), within 1 s of the later start.
                    const auto& remote = selected[0].second.remote;
                    EXPECT_TRUE(remote.same_host(a_initiates ? nat2_public : nat1_public));
                    EXPECT_LE(selected[0].first, w.b.started + 1s);
                    EXPECT_EQ(init.puncher().current_state(), test_puncher::state::succeeded);
                    EXPECT_EQ(resp.puncher().current_state(), test_puncher::state::succeeded);
                    EXPECT_TRUE(events_of<p2p::punch_failed>(init).empty());
                    EXPECT_TRUE(events_of<p2p::punch_failed>(resp).empty());
                    // A symmetric side is reached only at the port it probed from: learned.
                    if (x == nat_type::symmetric || y == nat_type::symmetric) {
                        EXPECT_FALSE(
                            events_of<p2p::candidate_learned>(x == nat_type::symmetric ? w.b : w.a)
                                .empty());
                    }
                } else {
                    for (const peer_node* n : {&w.a, &w.b}) {
                        const auto failed = events_of<p2p::punch_failed>(*n);
                        ASSERT_EQ(failed.size(), 1U);
                        EXPECT_EQ(failed[0].first, n->started + 5s);
                        EXPECT_EQ(failed[0].second.reason, errc::punch_timed_out);
                        EXPECT_EQ(n->puncher().current_state(), test_puncher::state::failed);
                    }
                    EXPECT_GT(w.net.nat_at(w.site1).stats().dropped_filtered +
                                  w.net.nat_at(w.site2).stats().dropped_filtered,
                              0U);
                }
                // Nothing a puncher received was rejected but probes cut short by the NATs:
                // every delivered PROBE was authentic.
                EXPECT_EQ(w.a.puncher().stats().dropped_bad_mac, 0U);
                EXPECT_EQ(w.b.puncher().stats().dropped_bad_mac, 0U);
            }
        }
        EXPECT_EQ(successes, 16 - 3);  // all but (sym, EIM+APDF), (EIM+APDF, sym), (sym, sym)
    }
}

TEST(p2p_puncher_network, peers_behind_one_nat_without_hairpinning_select_the_host_pair) {
    punch_world w(nat_of(nat_type::eim_apdf, nat1_public, test_seed(120)), std::nullopt,
                  test_seed(121));
    w.discover();
    w.punch(low_id, high_id, test_seed(122));
    const auto selected = events_of<p2p::pair_selected>(w.a);
    ASSERT_EQ(selected.size(), 1U);
    EXPECT_EQ(selected[0].second.kind, candidate_kind::host);
    EXPECT_EQ(selected[0].second.remote, peer_address::v4({10, 0, 1, 3}, 40000));
    // host is the best kind: selected as soon as validated (no settle wait), within a round and
    // a LAN round trip of B's start
    EXPECT_LE(selected[0].first, w.b.started + 150ms);
    EXPECT_GT(w.net.nat_at(w.site1).stats().dropped_hairpin, 0U);  // the reflexive pair failed
}

TEST(p2p_puncher_network, punching_survives_loss_and_is_reproducible_from_its_seed) {
    auto once = [](std::uint64_t seed) {
        punch_world w(nat_of(nat_type::eim_apdf, nat1_public, seed),
                      nat_of(nat_type::eim_adf, nat2_public, seed + 1), seed + 2);
        w.drop = 0.3;
        w.discover();
        w.punch(low_id, high_id, seed + 3);
        EXPECT_GT(w.net.stats().dropped_on_path, 0U);  // the loss did bite
        const auto selected = events_of<p2p::pair_selected>(w.a);
        EXPECT_EQ(selected.size(), 1U);
        if (selected.empty()) return time_point{};
        EXPECT_LE(selected[0].first, w.b.started + 5s);
        return selected[0].first;
    };
    const auto seed = test_seed(130);
    const auto first = once(seed);
    EXPECT_EQ(once(seed), first);
}

}  // namespace
