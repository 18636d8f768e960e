#include "neutrino/p2p/path_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/condition.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/nat.hpp"
#include "neutrino/inspector/network.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"
#include "p2p_test_support.hpp"
#include "test_seed.hpp"

namespace {

namespace ni = neutrino::inspector;
namespace p2p = neutrino::p2p;
using p2p_test::test_relay;
using p2p_test::id_of;
using p2p_test::test_key;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;
using neutrino::test::test_seed;
using p2p::errc;
using p2p::path_kind;
using p2p_test::error_of;

using test_manager = p2p::basic_path_manager<neutrino::seeded_random>;

static_assert(neutrino::datagram_layer<p2p::path_manager>);
static_assert(neutrino::datagram_layer<test_manager>);

constexpr std::uint64_t attempt = 0x5eed'0000'0000'0016ULL;
constexpr std::uint64_t relay = 0x0102'0304'0506'0708ULL;
const p2p::node_id self_id = id_of(0x01);
const p2p::node_id peer_id = id_of(0x02);
const peer_address server = peer_address::v4({192, 0, 2, 10}, 3478);
const peer_address direct = peer_address::v4({198, 51, 100, 1}, 40000);
const peer_address moved = peer_address::v4({198, 51, 100, 1}, 40777);
const peer_address stranger = peer_address::v4({203, 0, 113, 66}, 5555);
const time_point t0 = time_point{} + 1h;

std::vector<std::byte> bytes_of(std::string_view s) {
    const auto b = p2p_test::as_bytes(s);
    return {b.begin(), b.end()};
}

p2p::path_timers short_timers() {
    p2p::path_timers t;
    t.keepalive = 1s;
    t.liveness = 3s;
    t.reprobe = 2s;
    t.switch_back_after = 2;
    return t;
}

struct sent {
    peer_address to;
    std::vector<std::byte> bytes;
};

struct fixture {
    explicit fixture(std::optional<peer_address> start_direct = direct,
                     p2p::path_timers timers = short_timers())
        : m(config(start_direct, timers), t0, neutrino::seeded_random(test_seed(160))) {}

    static p2p::path_config config(std::optional<peer_address> start_direct,
                                   p2p::path_timers timers) {
        p2p::path_config c;
        c.self = self_id;
        c.peer = peer_id;
        c.attempt_id = attempt;
        c.key = test_key(9);
        c.server = server;
        c.relay_id = relay;
        c.direct = start_direct;
        c.timers = timers;
        return c;
    }

    // A PROBE as the peer would send it.
    static std::vector<std::byte> from_peer(std::uint64_t nonce, std::uint64_t echo,
                                            std::uint8_t key = 9,
                                            const p2p::node_id& sender = peer_id,
                                            std::uint64_t attempt_id = attempt) {
        std::vector<std::byte> out(p2p::probe_size);
        EXPECT_TRUE(
            p2p::encode_probe(p2p::probe{attempt_id, sender, nonce, echo}, test_key(key), out));
        return out;
    }

    std::vector<sent> drain(time_point now) {
        std::vector<sent> out;
        std::array<std::byte, 1500> buf{};
        while (auto t = m.poll_datagram(buf, now)) {
            out.push_back(sent{t->to, {buf.begin(), buf.begin() + t->size}});
        }
        return out;
    }
    // Only the PROBEs of `drain`, decoded (they must all verify under the key).
    static std::vector<std::pair<peer_address, p2p::probe>> probes(const std::vector<sent>& s) {
        std::vector<std::pair<peer_address, p2p::probe>> out;
        for (const auto& d : s) {
            if (d.bytes.empty() || d.bytes[0] != std::byte{0x02}) continue;
            auto p = p2p::decode_probe(d.bytes, test_key(9));
            EXPECT_TRUE(p);
            if (p) out.emplace_back(d.to, *p);
        }
        return out;
    }
    std::vector<p2p::path_event> events() {
        std::vector<p2p::path_event> out;
        while (auto e = m.poll_event()) out.push_back(*e);
        return out;
    }
    std::vector<std::vector<std::byte>> received() {
        std::vector<std::vector<std::byte>> out;
        std::array<std::byte, test_manager::max_payload_size> buf{};
        while (auto n = m.poll_received(buf)) out.emplace_back(buf.begin(), buf.begin() + *n);
        return out;
    }
    // Runs the timers up to `until` in steps of `tick`, answering nothing; returns the PROBE
    // requests sent, with the time each went out.
    std::vector<std::pair<time_point, p2p::probe>> run(time_point from, time_point until,
                                                       std::chrono::milliseconds tick = 100ms) {
        std::vector<std::pair<time_point, p2p::probe>> out;
        for (time_point now = from; now <= until; now += tick) {
            if (auto d = m.deadline(); d && *d <= now) m.handle_deadline(now);
            for (const auto& [to, p] : probes(drain(now))) out.emplace_back(now, p);
        }
        return out;
    }

    test_manager m;
};

template <class E>
std::vector<E> only(const std::vector<p2p::path_event>& events) {
    std::vector<E> out;
    for (const auto& e : events) {
        if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
}

std::vector<std::byte> relayed(std::uint64_t id, std::string_view inner_and_payload) {
    std::vector<std::byte> out(p2p::relay_header_size + inner_and_payload.size());
    EXPECT_TRUE(p2p::encode_relayed(id, p2p_test::as_bytes(inner_and_payload), out));
    return out;
}

TEST(p2p_path_manager, starts_with_the_relay_up_and_the_given_direct_path_current) {
    fixture f;
    const auto e = f.events();
    ASSERT_EQ(e.size(), 2U);
    ASSERT_TRUE(std::holds_alternative<p2p::path_up>(e[0]));
    EXPECT_EQ(std::get<p2p::path_up>(e[0]).kind, path_kind::relay);
    EXPECT_EQ(std::get<p2p::path_up>(e[0]).remote, server);
    ASSERT_TRUE(std::holds_alternative<p2p::path_up>(e[1]));
    EXPECT_EQ(std::get<p2p::path_up>(e[1]).kind, path_kind::direct);
    EXPECT_EQ(std::get<p2p::path_up>(e[1]).remote, direct);
    EXPECT_TRUE(f.m.direct_is_current());

    fixture relay_only(std::nullopt);
    const auto r = relay_only.events();
    ASSERT_EQ(r.size(), 1U);
    EXPECT_EQ(std::get<p2p::path_up>(r[0]).kind, path_kind::relay);
    EXPECT_FALSE(relay_only.m.direct_is_current());
    EXPECT_FALSE(relay_only.m.deadline());  // nothing to keep alive or re-probe
}

TEST(p2p_path_manager, frames_data_for_the_direct_path_and_for_the_relay) {
    fixture f;
    ASSERT_TRUE(f.m.send(p2p_test::as_bytes("hello"), t0));
    auto out = f.drain(t0);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, direct);
    EXPECT_EQ(out[0].bytes, bytes_of("\x01hello"));

    fixture r(std::nullopt);
    ASSERT_TRUE(r.m.send(p2p_test::as_bytes("hello"), t0));
    out = r.drain(t0);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, server);
    // 0x04 | relay id LE | 0x01 | payload
    EXPECT_EQ(out[0].bytes, relayed(relay, "\x01hello"));
    EXPECT_EQ(out[0].bytes.size(), 5 + test_manager::overhead_size);
    EXPECT_EQ(out[0].bytes[1], std::byte{0x08});  // little-endian relay id
    EXPECT_EQ(r.m.stats().data_sent_relayed, 1U);
    EXPECT_EQ(f.m.stats().data_sent_direct, 1U);
}

TEST(p2p_path_manager, unwraps_peer_data_arriving_direct_or_relayed) {
    fixture f;
    EXPECT_TRUE(f.m.handle_datagram(bytes_of("\x01world"), direct, t0));
    EXPECT_TRUE(f.m.handle_datagram(relayed(relay, "\x01via relay"), server, t0));
    EXPECT_TRUE(f.m.handle_datagram(bytes_of("\x01"), direct, t0));  // an empty payload
    const auto got = f.received();
    ASSERT_EQ(got.size(), 3U);
    EXPECT_EQ(got[0], bytes_of("world"));
    EXPECT_EQ(got[1], bytes_of("via relay"));
    EXPECT_TRUE(got[2].empty());
    EXPECT_EQ(f.m.stats().data_received_direct, 2U);
    EXPECT_EQ(f.m.stats().data_received_relayed, 1U);

    // Bad framing and sources: dropped, counted, nothing delivered.
    EXPECT_EQ(error_of(f.m.handle_datagram({}, direct, t0)), errc::envelope_empty);
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x07x"), direct, t0)),
              errc::bad_envelope_type);
    EXPECT_EQ(error_of(f.m.handle_datagram(relayed(relay + 1, "\x01x"), server, t0)),
              errc::relay_unknown);
    EXPECT_EQ(error_of(f.m.handle_datagram(relayed(relay, "\x01x"), stranger, t0)),
              errc::path_unknown_source);
    EXPECT_EQ(error_of(f.m.handle_datagram(relayed(relay, "\x02x"), server, t0)),
              errc::bad_envelope_type);
    EXPECT_EQ(error_of(f.m.handle_datagram(relayed(relay, ""), server, t0)), errc::envelope_empty);
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x04\x01\x02"), server, t0)),
              errc::relay_truncated);
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x01spoofed"), stranger, t0)),
              errc::path_unknown_source);
    EXPECT_TRUE(f.received().empty());
    EXPECT_EQ(f.m.stats().dropped(), 8U);
    EXPECT_EQ(f.m.stats().dropped_unknown_source, 2U);
    EXPECT_EQ(f.m.stats().dropped_wrong_relay, 1U);
}

TEST(p2p_path_manager, queues_are_bounded_and_payloads_limited) {
    fixture f;
    std::vector<std::byte> big(test_manager::max_payload_size + 1);
    EXPECT_EQ(error_of(f.m.send(big, t0)), errc::path_payload_too_large);
    big.pop_back();
    for (std::size_t i = 0; i < test_manager::max_send_queue; ++i) {
        ASSERT_TRUE(f.m.send(big, t0));
    }
    EXPECT_EQ(error_of(f.m.send(big, t0)), errc::path_queue_full);
    // An output buffer too small for the datagram: nothing is lost, it waits.
    std::array<std::byte, 64> small{};
    EXPECT_FALSE(f.m.poll_datagram(small, t0));
    EXPECT_EQ(f.drain(t0).size(), test_manager::max_send_queue);

    for (std::size_t i = 0; i < test_manager::max_receive_queue; ++i) {
        ASSERT_TRUE(f.m.handle_datagram(bytes_of("\x01x"), direct, t0));
    }
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x01x"), direct, t0)), errc::path_queue_full);
    std::vector<std::byte> too_big(test_manager::max_payload_size + 2, std::byte{0x01});
    EXPECT_EQ(error_of(f.m.handle_datagram(too_big, direct, t0)), errc::path_payload_too_large);
    EXPECT_EQ(f.received().size(), test_manager::max_receive_queue);
    // A short output buffer truncates a received payload to its size.
    ASSERT_TRUE(f.m.handle_datagram(bytes_of("\x01"
                                             "abcdef"),
                                    direct, t0));
    std::array<std::byte, 3> three{};
    EXPECT_EQ(f.m.poll_received(three), 3U);
    EXPECT_EQ(three[2], std::byte{'c'});
}

TEST(p2p_path_manager, sends_a_keepalive_probe_every_interval_whatever_data_is_sent) {
    fixture f;
    EXPECT_EQ(f.m.deadline(), t0 + 1s);
    // Data does not postpone the keepalive: it proves nothing to the peer (see the header).
    ASSERT_TRUE(f.m.send(p2p_test::as_bytes("data"), t0 + 500ms));
    EXPECT_EQ(f.drain(t0 + 500ms).size(), 1U);
    EXPECT_EQ(f.m.deadline(), t0 + 1s);

    f.m.handle_deadline(t0 + 1s);
    auto p = fixture::probes(f.drain(t0 + 1s));
    ASSERT_EQ(p.size(), 1U);
    EXPECT_EQ(p[0].first, direct);
    EXPECT_EQ(p[0].second.sender, self_id);
    EXPECT_EQ(p[0].second.attempt_id, attempt);
    EXPECT_NE(p[0].second.nonce, 0U);
    EXPECT_EQ(p[0].second.echo_nonce, 0U);
    EXPECT_EQ(f.m.deadline(), t0 + 2s);

    // The echo refreshes liveness: the lapse moves to echo + 3 s; keepalives go on every 1 s.
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(0, p[0].second.nonce), direct, t0 + 1100ms));
    EXPECT_EQ(f.m.stats().replies_received, 1U);
    const auto sent = f.run(t0 + 1100ms, t0 + 4s);
    ASSERT_EQ(sent.size(), 3U);  // at 2 s, 3 s, 4 s
    EXPECT_EQ(sent[0].first, t0 + 2s);
    EXPECT_EQ(sent[1].first, t0 + 3s);
    EXPECT_EQ(sent[2].first, t0 + 4s);
    EXPECT_TRUE(f.m.direct_is_current());  // 4 s < 1.1 s + 3 s
    EXPECT_TRUE(only<p2p::path_down>(f.events()).empty());
}

TEST(p2p_path_manager, answers_a_request_with_a_reply_as_large_and_counts_it_for_liveness) {
    fixture f;
    f.events();
    const auto req = fixture::from_peer(77, 0);
    ASSERT_TRUE(f.m.handle_datagram(req, direct, t0 + 2s));
    const auto out = f.drain(t0 + 2s);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, direct);
    EXPECT_EQ(out[0].bytes.size(), req.size());  // no amplification
    const auto p = fixture::probes(out);
    ASSERT_EQ(p.size(), 1U);
    EXPECT_EQ(p[0].second.echo_nonce, 77U);
    EXPECT_EQ(p[0].second.nonce, 0U);  // a reply is never answered
    // Alive until 2 s + 3 s: at 4.9 s still direct (no echo of our keepalives needed).
    f.run(t0, t0 + 4900ms);
    EXPECT_TRUE(f.m.direct_is_current());
    f.run(t0 + 5s, t0 + 5s);
    EXPECT_FALSE(f.m.direct_is_current());
    // A reply is not answered, and the same request again is a replay.
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(0, 12345), direct, t0 + 6s)),
              errc::probe_unknown_echo);
    EXPECT_TRUE(f.drain(t0 + 6s).empty());
    EXPECT_EQ(error_of(f.m.handle_datagram(req, direct, t0 + 6s)), errc::probe_replayed);
}

TEST(p2p_path_manager, falls_back_to_the_relay_within_liveness_plus_one_tick) {
    fixture f;
    f.events();
    constexpr auto tick = 100ms;
    std::optional<time_point> down_at;
    for (time_point now = t0; now <= t0 + 5s && !down_at; now += tick) {
        if (auto d = f.m.deadline(); d && *d <= now) f.m.handle_deadline(now);
        f.drain(now);  // keepalives into the void
        if (!only<p2p::path_down>(f.events()).empty()) down_at = now;
    }
    ASSERT_TRUE(down_at);
    EXPECT_GE(*down_at, t0 + 3s);
    EXPECT_LE(*down_at, t0 + 3s + tick);
    EXPECT_FALSE(f.m.direct_is_current());
    EXPECT_EQ(f.m.stats().fallbacks, 1U);
    // Data goes to the relay at once.
    ASSERT_TRUE(f.m.send(p2p_test::as_bytes("after"), *down_at));
    const auto out = f.drain(*down_at);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, server);
    EXPECT_EQ(out[0].bytes, relayed(relay,
                                    "\x01"
                                    "after"));
    // Data still arriving direct (the peer may not have noticed yet) is delivered.
    EXPECT_TRUE(f.m.handle_datagram(bytes_of("\x01late"), direct, *down_at));
    EXPECT_EQ(f.received().size(), 1U);
}

TEST(p2p_path_manager, lapse_events_come_in_order) {
    fixture f;
    f.events();
    f.m.handle_deadline(t0 + 3s);
    const auto e = f.events();
    ASSERT_EQ(e.size(), 2U);
    ASSERT_TRUE(std::holds_alternative<p2p::path_down>(e[0]));
    EXPECT_EQ(std::get<p2p::path_down>(e[0]).kind, path_kind::direct);
    EXPECT_EQ(std::get<p2p::path_down>(e[0]).remote, direct);
    ASSERT_TRUE(std::holds_alternative<p2p::path_switched>(e[1]));
    EXPECT_EQ(std::get<p2p::path_switched>(e[1]).to, path_kind::relay);
    EXPECT_EQ(std::get<p2p::path_switched>(e[1]).remote, server);
    EXPECT_EQ(f.m.deadline(), t0 + 5s);  // first re-probe one interval on
}

TEST(p2p_path_manager, switches_back_only_after_two_consecutive_validated_reprobes) {
    fixture f;
    f.m.handle_deadline(t0 + 3s);  // lapse
    f.drain(t0 + 3s);
    f.events();
    // Round 1 at 5 s: echoed.
    auto round = [&f](time_point at) {
        EXPECT_EQ(f.m.deadline(), at);
        f.m.handle_deadline(at);
        const auto p = fixture::probes(f.drain(at));
        EXPECT_EQ(p.size(), 1U);
        if (p.empty()) return std::uint64_t{0};
        EXPECT_EQ(p[0].first, direct);
        EXPECT_EQ(p[0].second.echo_nonce, 0U);
        return p[0].second.nonce;
    };
    auto echo = [&f](std::uint64_t nonce, time_point at) {
        return f.m.handle_datagram(fixture::from_peer(0, nonce), direct, at);
    };
    const auto n1 = round(t0 + 5s);
    ASSERT_TRUE(echo(n1, t0 + 5100ms));
    // The same echo again (a duplicate or a replay) is refused: each nonce is echoed once.
    EXPECT_EQ(error_of(echo(n1, t0 + 5200ms)), errc::probe_unknown_echo);
    EXPECT_FALSE(f.m.direct_is_current());
    // Round 2 at 7 s: not echoed, which resets the count.
    round(t0 + 7s);
    // Round 3 at 9 s: echoed (count 1).
    const auto n3 = round(t0 + 9s);
    ASSERT_TRUE(echo(n3, t0 + 9100ms));
    EXPECT_FALSE(f.m.direct_is_current());
    EXPECT_TRUE(f.events().empty());
    // A request from the peer on the direct address is answered but is no validation of ours.
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(4242, 0), direct, t0 + 9500ms));
    EXPECT_FALSE(f.m.direct_is_current());
    f.drain(t0 + 9500ms);
    // Round 4 at 11 s: echoed: two consecutive, switch back.
    const auto n4 = round(t0 + 11s);
    ASSERT_TRUE(echo(n4, t0 + 11100ms));
    EXPECT_TRUE(f.m.direct_is_current());
    const auto e = f.events();
    ASSERT_EQ(e.size(), 2U);
    EXPECT_EQ(std::get<p2p::path_up>(e[0]).kind, path_kind::direct);
    EXPECT_EQ(std::get<p2p::path_switched>(e[1]).to, path_kind::direct);
    EXPECT_EQ(std::get<p2p::path_switched>(e[1]).remote, direct);
    EXPECT_EQ(f.m.stats().switch_backs, 1U);
    ASSERT_TRUE(f.m.send(p2p_test::as_bytes("back"), t0 + 11100ms));
    const auto out = f.drain(t0 + 11100ms);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].to, direct);
    // Alive again: the next lapse is 3 s after the last echo.
    EXPECT_EQ(f.m.deadline(), t0 + 12100ms);
}

TEST(p2p_path_manager, an_unauthenticated_or_replayed_packet_from_a_new_address_moves_nothing) {
    fixture f;
    f.events();
    // Wrong key, wrong sender, wrong attempt, a forged echo, a request with no nonce.
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(5, 0, 10), stranger, t0)),
              errc::probe_bad_mac);
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(5, 0, 9, id_of(3)), stranger, t0)),
              errc::probe_wrong_sender);
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(5, 0, 9, peer_id, attempt + 1),
                                           stranger, t0)),
              errc::probe_wrong_attempt);
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(0, 999), stranger, t0)),
              errc::probe_unknown_echo);
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(0, 0), stranger, t0)),
              errc::probe_no_nonce);
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x02short"), stranger, t0)),
              errc::probe_bad_size);
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x01"
                                                    "data"),
                                           stranger, t0)),
              errc::path_unknown_source);
    EXPECT_TRUE(f.drain(t0).empty());  // nothing answered, nothing validated
    EXPECT_FALSE(f.m.validating());
    EXPECT_EQ(f.m.direct_address(), direct);
    EXPECT_TRUE(f.events().empty());
    EXPECT_EQ(f.m.stats().dropped(), 7U);

    // A genuine request, replayed by an attacker from its own address: dropped as a replay.
    const auto req = fixture::from_peer(31337, 0);
    ASSERT_TRUE(f.m.handle_datagram(req, direct, t0));
    f.drain(t0);
    EXPECT_EQ(error_of(f.m.handle_datagram(req, stranger, t0 + 10ms)), errc::probe_replayed);
    EXPECT_TRUE(f.drain(t0 + 10ms).empty());
    EXPECT_EQ(f.m.direct_address(), direct);
    EXPECT_TRUE(f.events().empty());
}

TEST(p2p_path_manager, migrates_the_direct_address_only_after_the_echo_from_the_new_source) {
    fixture f;
    f.events();
    // A valid request from a new source: answered there, and validated with a fresh nonce.
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(501, 0), moved, t0 + 100ms));
    const auto out = f.drain(t0 + 100ms);
    const auto p = fixture::probes(out);
    ASSERT_EQ(p.size(), 2U);
    EXPECT_EQ(p[0].first, moved);
    EXPECT_EQ(p[0].second.echo_nonce, 501U);  // the reply
    EXPECT_EQ(p[1].first, moved);
    EXPECT_NE(p[1].second.nonce, 0U);  // the validation request
    EXPECT_EQ(p[1].second.echo_nonce, 0U);
    const auto nonce = p[1].second.nonce;
    // Nothing moved yet: data still goes to the old address; data from the new one is taken.
    EXPECT_EQ(f.m.direct_address(), direct);
    EXPECT_EQ(f.m.validating(), moved);
    ASSERT_TRUE(f.m.send(p2p_test::as_bytes("x"), t0 + 100ms));
    EXPECT_EQ(f.drain(t0 + 100ms)[0].to, direct);
    EXPECT_TRUE(f.m.handle_datagram(bytes_of("\x01"
                                             "from new"),
                                    moved, t0 + 100ms));
    EXPECT_EQ(f.received().size(), 1U);
    EXPECT_TRUE(f.events().empty());
    // The echo from anywhere else does not count.
    EXPECT_EQ(error_of(f.m.handle_datagram(fixture::from_peer(0, nonce), stranger, t0 + 150ms)),
              errc::probe_echo_wrong_source);
    EXPECT_EQ(f.m.direct_address(), direct);
    // The echo from the new source moves the direct address.
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(0, nonce), moved, t0 + 200ms));
    EXPECT_EQ(f.m.direct_address(), moved);
    EXPECT_FALSE(f.m.validating());
    const auto e = f.events();
    ASSERT_EQ(e.size(), 1U);
    const auto& changed = std::get<p2p::peer_address_changed>(e[0]);
    EXPECT_EQ(changed.from, direct);
    EXPECT_EQ(changed.to, moved);
    EXPECT_EQ(f.m.stats().migrations, 1U);
    ASSERT_TRUE(f.m.send(p2p_test::as_bytes("y"), t0 + 200ms));
    const auto after = f.drain(t0 + 200ms);
    ASSERT_EQ(after.size(), 1U);
    EXPECT_EQ(after[0].to, moved);
    // Data from the old address is no longer the peer's.
    EXPECT_EQ(error_of(f.m.handle_datagram(bytes_of("\x01old"), direct, t0 + 300ms)),
              errc::path_unknown_source);
}

TEST(p2p_path_manager, relay_first_upgrades_to_a_validated_direct_path_with_hysteresis) {
    fixture f(std::nullopt);
    f.events();
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(600, 0), moved, t0));
    const auto p = fixture::probes(f.drain(t0));
    ASSERT_EQ(p.size(), 2U);
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(0, p[1].second.nonce), moved, t0 + 50ms));
    // One validation: the re-probe target, not yet current.
    EXPECT_EQ(f.m.direct_address(), moved);
    EXPECT_FALSE(f.m.direct_is_current());
    EXPECT_TRUE(f.events().empty());
    EXPECT_EQ(f.m.deadline(), t0 + 2050ms);
    f.m.handle_deadline(t0 + 2050ms);
    const auto r = fixture::probes(f.drain(t0 + 2050ms));
    ASSERT_EQ(r.size(), 1U);
    EXPECT_EQ(r[0].first, moved);
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(0, r[0].second.nonce), moved, t0 + 2100ms));
    EXPECT_TRUE(f.m.direct_is_current());
    const auto e = f.events();
    ASSERT_EQ(e.size(), 2U);
    EXPECT_EQ(std::get<p2p::path_up>(e[0]).remote, moved);
    EXPECT_EQ(std::get<p2p::path_switched>(e[1]).to, path_kind::direct);

    // use_direct: a pair validated elsewhere is used at once.
    fixture g(std::nullopt);
    g.events();
    g.m.use_direct(direct, t0);
    EXPECT_TRUE(g.m.direct_is_current());
    EXPECT_EQ(only<p2p::path_switched>(g.events()).size(), 1U);
}

TEST(p2p_path_manager, a_migration_while_down_moves_the_reprobe_target_and_counts_once) {
    fixture f;
    f.m.handle_deadline(t0 + 3s);  // lapse
    f.drain(t0 + 3s);
    f.events();
    // The peer's NAT rebound: its request comes from a new source; validated there.
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(700, 0), moved, t0 + 3500ms));
    const auto p = fixture::probes(f.drain(t0 + 3500ms));
    ASSERT_EQ(p.size(), 2U);
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(0, p[1].second.nonce), moved, t0 + 3600ms));
    EXPECT_EQ(f.m.direct_address(), moved);
    EXPECT_FALSE(f.m.direct_is_current());  // one validation is not two
    auto e = f.events();
    ASSERT_EQ(e.size(), 1U);
    EXPECT_EQ(std::get<p2p::peer_address_changed>(e[0]).from, direct);
    EXPECT_EQ(std::get<p2p::peer_address_changed>(e[0]).to, moved);
    // The next round goes to the new address one interval later; its echo switches back.
    EXPECT_EQ(f.m.deadline(), t0 + 5600ms);
    f.m.handle_deadline(t0 + 5600ms);
    const auto r = fixture::probes(f.drain(t0 + 5600ms));
    ASSERT_EQ(r.size(), 1U);
    EXPECT_EQ(r[0].first, moved);
    ASSERT_TRUE(f.m.handle_datagram(fixture::from_peer(0, r[0].second.nonce), moved, t0 + 5700ms));
    EXPECT_TRUE(f.m.direct_is_current());
    e = f.events();
    ASSERT_EQ(e.size(), 2U);
    EXPECT_EQ(std::get<p2p::path_switched>(e[1]).remote, moved);
}

TEST(p2p_path_manager, a_bad_configuration_throws) {
    auto make = [](p2p::path_config c) { test_manager m(c, t0, neutrino::seeded_random(1)); };
    auto base = fixture::config(direct, short_timers());
    EXPECT_NO_THROW(make(base));
    auto c = base;
    c.peer = c.self;
    EXPECT_THROW(make(c), std::invalid_argument);
    c = base;
    c.server = peer_address{};
    EXPECT_THROW(make(c), std::invalid_argument);
    c = base;
    c.direct = peer_address{};
    EXPECT_THROW(make(c), std::invalid_argument);
    c = base;
    c.timers.liveness = c.timers.keepalive;
    EXPECT_THROW(make(c), std::invalid_argument);
    c = base;
    c.timers.reprobe = 0s;
    EXPECT_THROW(make(c), std::invalid_argument);
    c = base;
    c.timers.switch_back_after = 0;
    EXPECT_THROW(make(c), std::invalid_argument);
}

TEST(p2p_path_manager, its_error_codes_map_to_conditions_and_have_messages) {
    using neutrino::condition;
    EXPECT_EQ(std::error_code(errc::path_unknown_source), condition::unauthenticated);
    EXPECT_EQ(std::error_code(errc::path_payload_too_large), condition::too_large);
    EXPECT_EQ(std::error_code(errc::path_queue_full), condition::refused);
    for (auto e :
         {errc::path_unknown_source, errc::path_payload_too_large, errc::path_queue_full}) {
        EXPECT_NE(std::error_code(e).message(), "unknown neutrino.p2p error");
    }
}

// ---- two path managers in the inspector's network, behind EIM NATs, with a relay ----

constexpr std::size_t message_size = 100;

// One node: a path manager under an application that sends a numbered message every `period`
// in [send_from, send_until), and a registration keepalive to the server every second.
class peer_app {
public:
    using event_type = p2p::path_event;

    struct arrival {
        std::uint64_t seq = 0;
        time_point at{};
        bool relayed = false;
    };

    peer_app(const p2p::path_config& cfg, time_point start, std::uint64_t seed, time_point from,
             time_point until, std::chrono::milliseconds period)
        : pm(cfg, start, neutrino::seeded_random(seed)),
          server_(cfg.server),
          next_send_(from),
          until_(until),
          period_(period),
          next_register_(start) {}

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                           time_point now) {
        const bool relayed = !in.empty() && in[0] == std::byte{0x04};
        auto r = pm.handle_datagram(in, from, now);
        std::array<std::byte, test_manager::max_payload_size> buf{};
        while (auto n = pm.poll_received(buf)) {
            EXPECT_EQ(*n, message_size);
            std::uint64_t seq = 0;
            for (std::size_t i = 0; i < 8; ++i)
                seq |= std::to_integer<std::uint64_t>(buf[i]) << (8 * i);
            arrivals.push_back(arrival{seq, now, relayed});
        }
        return r;
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        if (register_due_) {
            register_due_ = false;
            out[0] = std::byte{0x03};
            return neutrino::transmit{1, server_};
        }
        return pm.poll_datagram(out, now);
    }
    std::optional<event_type> poll_event() { return pm.poll_event(); }
    [[nodiscard]] std::optional<time_point> deadline() const {
        std::optional<time_point> d = pm.deadline();
        auto consider = [&d](time_point t) {
            if (!d || t < *d) d = t;
        };
        consider(next_register_);
        if (next_send_ < until_) consider(next_send_);
        return d;
    }
    void handle_deadline(time_point now) {
        if (auto d = pm.deadline(); d && *d <= now) pm.handle_deadline(now);
        if (now >= next_register_) {
            register_due_ = true;
            next_register_ += 1s;
        }
        while (next_send_ < until_ && next_send_ <= now) {
            std::array<std::byte, message_size> msg{};
            for (std::size_t i = 0; i < 8; ++i)
                msg[i] = std::byte{static_cast<std::uint8_t>(seq_ >> (8 * i))};
            EXPECT_TRUE(pm.send(msg, now));
            sent_at.push_back(now);
            ++seq_;
            next_send_ += period_;
        }
    }

    test_manager pm;
    std::vector<time_point> sent_at;  // by sequence number
    std::vector<arrival> arrivals;
    std::vector<std::pair<time_point, p2p::path_event>> log;  // filled by the network

private:
    peer_address server_;
    time_point next_send_;
    time_point until_;
    std::chrono::milliseconds period_;
    time_point next_register_;
    bool register_due_ = false;
    std::uint64_t seq_ = 0;
};

static_assert(neutrino::datagram_layer<peer_app>);

template <class E>
std::vector<std::pair<time_point, E>> logged(const peer_app& n) {
    std::vector<std::pair<time_point, E>> out;
    for (const auto& [t, e] : n.log) {
        if (const auto* x = std::get_if<E>(&e)) out.emplace_back(t, *x);
    }
    return out;
}

TEST(p2p_path_manager_network, falls_back_to_the_relay_during_an_outage_and_switches_back) {
    const auto seed = test_seed(170);
    const time_point start = time_point{} + 1h;
    const auto outage_from = 5s;
    const auto outage_to = 12s;
    const auto period = 10ms;
    p2p::path_timers timers;
    timers.keepalive = 500ms;
    timers.liveness = 1500ms;
    timers.reprobe = 1s;
    timers.switch_back_after = 2;

    ni::network_config nc;
    nc.internet.delay = 20ms;
    nc.seed = seed;
    nc.start = start;
    ni::network net(nc);
    auto nat = [&](peer_address pub, std::uint64_t s) {
        ni::nat_config c;
        c.public_address = pub;
        c.mapping = ni::nat_mapping::endpoint_independent;
        c.filtering = ni::nat_filtering::address_and_port_dependent;
        c.seed = s;
        return c;
    };
    const auto site1 = net.add_nat(nat(peer_address::v4({203, 0, 113, 1}, 0), seed + 1));
    const auto site2 = net.add_nat(nat(peer_address::v4({198, 51, 100, 1}, 0), seed + 2));
    // EIM with port preservation: each node's reflexive address is its NAT's public address
    // with its own port (what REGISTERED would report).
    const auto public_a = peer_address::v4({203, 0, 113, 1}, 40000);
    const auto public_b = peer_address::v4({198, 51, 100, 1}, 40000);
    // The direct link between the two NATs goes black for [5 s, 12 s), both ways; the paths to
    // the relay stay up.
    ni::impairment_config black;
    black.delay = 20ms;
    black.blackholes = {ni::interval{outage_from, outage_to}};
    net.set_path(site1, site2, black);
    net.set_path(site2, site1, black);

    test_relay relay_node(public_a, public_b, relay);
    auto config = [&](const p2p::node_id& self, const p2p::node_id& peer, peer_address other) {
        p2p::path_config c;
        c.self = self;
        c.peer = peer;
        c.attempt_id = attempt;
        c.key = test_key(0x42);
        c.server = server;
        c.relay_id = relay;
        c.direct = other;  // as a puncher validated it
        c.timers = timers;
        return c;
    };
    peer_app a(config(self_id, peer_id, public_b), start, seed + 3, start + 1s, start + 18s,
               period);
    peer_app b(config(peer_id, self_id, public_a), start, seed + 4, start + 1s, start + 18s,
               period);
    net.add_node(relay_node, server);
    auto logger = [&net](peer_app& n) {
        return std::function<void(const p2p::path_event&)>(
            [&net, &n](const p2p::path_event& e) { n.log.emplace_back(net.now(), e); });
    };
    net.add_node(a, peer_address::v4({10, 0, 1, 2}, 40000), site1, logger(a));
    net.add_node(b, peer_address::v4({10, 0, 2, 2}, 40000), site2, logger(b));
    net.run_for(20s);

    EXPECT_GT(net.stats().dropped_on_path, 0U);  // the outage did bite
    EXPECT_GT(relay_node.forwarded, 0U);
    for (const auto* n : {&a, &b}) {
        const peer_app& me = *n;
        const peer_app& other = n == &a ? b : a;
        SCOPED_TRACE(n == &a ? "A sending" : "B sending");
        // One fallback, within liveness of the outage (plus a one-way delay), at once to the
        // relay; one switch back, after two re-probe rounds past the restoration.
        const auto down = logged<p2p::path_down>(me);
        ASSERT_EQ(down.size(), 1U);
        EXPECT_GT(down[0].first, start + outage_from);
        EXPECT_LE(down[0].first, start + outage_from + timers.liveness + 20ms);
        const auto switched = logged<p2p::path_switched>(me);
        ASSERT_EQ(switched.size(), 2U);
        EXPECT_EQ(switched[0].second.to, path_kind::relay);
        EXPECT_EQ(switched[0].first, down[0].first);
        EXPECT_EQ(switched[1].second.to, path_kind::direct);
        EXPECT_GT(switched[1].first, start + outage_to);
        EXPECT_LE(switched[1].first, start + outage_to + 2 * timers.reprobe + 100ms);
        EXPECT_TRUE(me.pm.direct_is_current());
        EXPECT_TRUE(logged<p2p::peer_address_changed>(me).empty());

        // What the other side received of my messages: no duplicates; every one sent after my
        // fallback arrived; the lost ones were sent between the outage (less what was in
        // flight) and my fallback.
        const auto fell_back = down[0].first;
        const auto back = switched[1].first;
        std::vector<int> got(me.sent_at.size(), 0);
        std::size_t relayed_during = 0;
        std::size_t direct_after = 0;
        std::size_t relayed_after = 0;
        for (const auto& r : other.arrivals) {
            ASSERT_LT(r.seq, got.size());
            ++got[r.seq];
            const auto sent = me.sent_at[r.seq];
            if (sent > fell_back && sent < start + outage_to) {
                EXPECT_TRUE(r.relayed) << "message " << r.seq;
                ++relayed_during;
            }
            if (sent > back + 100ms) ++(r.relayed ? relayed_after : direct_after);
        }
        std::size_t lost = 0;
        for (std::size_t seq = 0; seq < got.size(); ++seq) {
            EXPECT_LE(got[seq], 1) << "message " << seq;
            if (got[seq] != 0) continue;
            ++lost;
            EXPECT_GE(me.sent_at[seq], start + outage_from - 20ms) << "message " << seq;
            EXPECT_LE(me.sent_at[seq], fell_back) << "message " << seq;
        }
        EXPECT_GT(lost, 0U);
        // At most what was sent during liveness (and a one-way delay) before the fallback.
        EXPECT_LE(lost, static_cast<std::size_t>((timers.liveness + 20ms) / period) + 1);
        EXPECT_GT(relayed_during, 0U);
        EXPECT_GT(direct_after, 0U);
        EXPECT_EQ(relayed_after, 0U);
        EXPECT_EQ(me.pm.stats().dropped_unauthenticated, 0U);
        std::printf("%s: fell back at %.3f s, back to direct at %.3f s, %zu lost, %zu relayed\n",
                    n == &a ? "A" : "B", std::chrono::duration<double>(fell_back - start).count(),
                    std::chrono::duration<double>(back - start).count(), lost, relayed_during);
    }
}

}  // namespace
