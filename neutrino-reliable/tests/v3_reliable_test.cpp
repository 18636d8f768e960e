#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"

// The unchanged reliable layer over the v3 machines (spec: neutrino-v3.md §14.1): numbering
// from 1, HELLO2 unnumbered (the machines report a pn-0 marker), requests in the unnumbered
// space, retransmissions re-sealed under the current key phase, over a lossy in-memory link.

#include <gtest/gtest.h>

#include "test_seed.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/memory_link.hpp"

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace v3 = neutrino::core::v3;
using neutrino::peer_address;
using namespace std::chrono_literals;

namespace {

using core_client = v3::basic_client<nc::null_observer, neutrino::seeded_random>;
using core_server = v3::basic_server<nc::null_observer, neutrino::seeded_random>;
using client_t = nr::basic_client<core_client>;
using server_t = nr::basic_server<core_server>;
static_assert(neutrino::datagram_layer<client_t>);
static_assert(neutrino::datagram_layer<server_t>);

const peer_address client_addr = peer_address::v4({127, 0, 0, 1}, 40000);
const peer_address server_addr = peer_address::v4({127, 0, 0, 1}, 22753);

std::uint64_t seed() {
    static const std::uint64_t s = neutrino::test::env_seed_or(11, "v3 reliable tests");
    return s;
}

nc::keypair server_keys() {
    return *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
}

std::uint64_t mix(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Message i of a stream: "<tag><i>" padded with a size that varies with i (up to ~1 KB).
std::string message(char tag, std::size_t i) {
    std::string m = tag + std::to_string(i) + ":";
    m.append((i * 37) % 1000, static_cast<char>('a' + i % 26));
    return m;
}

struct v3_pair {
    std::uint64_t force_every;
    client_t client;
    server_t server;
    neutrino::memory_link<client_t, server_t> link;
    std::vector<std::string> client_data, server_data;
    std::size_t client_closed = 0, server_closed = 0;

    static nc::client_config ccfg() {
        nc::client_config c;
        c.server_key = server_keys().pk;
        c.server = server_addr;
        return c;
    }
    static nc::server_config scfg() {
        nc::server_config s;
        s.keys = server_keys();
        return s;
    }
    static v3::client_options copt(std::uint64_t every) {
        v3::client_options o;
        o.key_update.force_every_packets = every;
        return o;
    }
    static v3::server_options sopt(std::uint64_t every) {
        v3::server_options o;
        o.key_update.force_every_packets = every;
        return o;
    }

    /// `client_every` / `server_every`: force a key update after that many packets (0: never).
    explicit v3_pair(std::uint64_t client_every, std::uint64_t server_every = 0,
                     std::uint64_t s = seed())
        : force_every(client_every),
          client(ccfg(), nr::config{}, copt(client_every), nc::null_observer{},
                 neutrino::seeded_random(s)),
          server(scfg(), nr::config{}, sopt(server_every), nc::null_observer{},
                 neutrino::seeded_random(s + 1)),
          link(client, client_addr, server, server_addr) {
        link.on_a_event = [this](const nc::event& e) {
            if (e.kind == nc::event_kind::data) client_data.emplace_back(nc::as_string(e.words[0]));
            if (e.kind == nc::event_kind::closed) ++client_closed;
        };
        link.on_b_event = [this](const nc::event& e) {
            if (e.kind == nc::event_kind::data) server_data.emplace_back(nc::as_string(e.words[0]));
            if (e.kind == nc::event_kind::closed) ++server_closed;
        };
    }

    bool connect() {
        if (!client.connect(link.now())) return false;
        return link.run_until(
            [this] {
                return client.established() &&
                       server.state_of(client.session_id()) == nc::session_state::established;
            },
            30s);
    }
};

TEST(V3Reliable, HandshakeMarkersLetReliableStartAtPacketNumberOne) {
    v3_pair p(0);
    ASSERT_TRUE(p.connect());
    for (std::size_t i = 0; i < 20; ++i) {
        ASSERT_TRUE(p.client.send(nc::words(message('c', i)), p.link.now()));
        ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words(message('s', i)), p.link.now()));
    }
    ASSERT_TRUE(p.link.run_until(
        [&] { return p.server_data.size() == 20 && p.client_data.size() == 20; }, 10s));
    for (std::size_t i = 0; i < 20; ++i) {
        EXPECT_EQ(p.server_data[i], message('c', i));
        EXPECT_EQ(p.client_data[i], message('s', i));
    }
    // Nothing was lost, so nothing had to be requested: the receive states started right.
    EXPECT_EQ(p.client.stats().requests_sent, 0U);
    EXPECT_EQ(p.server.stats().requests_sent, 0U);
    // Idle for a while: reliable keep-alives keep the v3 session up.
    p.link.run_for(5s);
    EXPECT_TRUE(p.client.established());
    EXPECT_EQ(p.client_closed + p.server_closed, 0U);
}

TEST(V3Reliable, LostHello3IsRequestedAndResealed) {
    v3_pair p(0);
    bool dropped = false;
    p.link.set_filter([&dropped](auto& d) {
        if (d.to_b && !dropped && (std::to_integer<unsigned>(d.bytes[5]) & 0x7fU) == 0x03U) {
            dropped = true;
            return false;
        }
        return true;
    });
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.established(); }, 5s));
    ASSERT_TRUE(p.client.send(nc::words(message('c', 0)), p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.server_data.size() == 1; }, 5s));
    EXPECT_TRUE(dropped);
    EXPECT_EQ(p.server_data[0], message('c', 0));
    EXPECT_GE(p.server.stats().requests_sent, 1U);  // pn 1 (HELLO3) was requested
}

// spec: neutrino-v3.md §14.1, §11, §10.1: 5000 messages each way at 10% loss both ways, a key
// update forced every 1000 packets (client); everything arrives once and in order.
TEST(V3Reliable, FiveThousandMessagesAtTenPercentLossAcrossKeyUpdates) {
    v3_pair p(1000);
    std::uint64_t rng = seed() * 7919;
    std::size_t lost = 0;
    p.link.set_filter([&](auto&) {
        if (mix(rng) % 10 == 0) {
            ++lost;
            return false;
        }
        return true;
    });
    ASSERT_TRUE(p.connect());
    constexpr std::size_t count = 5000;
    std::size_t sent_c = 0, sent_s = 0;
    const auto start = p.link.now();
    while (sent_c < count || sent_s < count) {
        if (sent_c < count && p.client.can_send()) {
            ASSERT_TRUE(p.client.send(nc::words(message('c', sent_c)), p.link.now()));
            ++sent_c;
        }
        if (sent_s < count && p.server.can_send(p.client.session_id())) {
            ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words(message('s', sent_s)),
                                      p.link.now()));
            ++sent_s;
        }
        p.link.run_for(1ms);
        ASSERT_TRUE(p.client.established()) << "after " << sent_c << " / " << sent_s;
        ASSERT_LT(p.link.now() - start, 600s);
    }
    ASSERT_TRUE(p.link.run_until(
        [&] { return p.server_data.size() == count && p.client_data.size() == count; }, 120s))
        << p.server_data.size() << " " << p.client_data.size();
    for (std::size_t i = 0; i < count; ++i) {
        ASSERT_EQ(p.server_data[i], message('c', i)) << i;
        ASSERT_EQ(p.client_data[i], message('s', i)) << i;
    }
    const auto& cs = p.client.next_layer().stats();
    const auto& ss = p.server.next_layer().stats();
    std::printf(
        "lost %zu datagrams; client: %llu updates initiated, %llu followed, %llu resealed; server: "
        "%llu "
        "initiated, %llu followed, %llu resealed; phases c=%llu s=%llu; requests c=%llu s=%llu; "
        "%.1f s\n",
        lost, static_cast<unsigned long long>(cs.key_updates_initiated),
        static_cast<unsigned long long>(cs.key_updates_followed),
        static_cast<unsigned long long>(cs.resealed),
        static_cast<unsigned long long>(ss.key_updates_initiated),
        static_cast<unsigned long long>(ss.key_updates_followed),
        static_cast<unsigned long long>(ss.resealed),
        static_cast<unsigned long long>(p.client.next_layer().send_phase()),
        static_cast<unsigned long long>(
            p.server.next_layer().phases_of(p.client.session_id()).first),
        static_cast<unsigned long long>(p.client.stats().requests_sent),
        static_cast<unsigned long long>(p.server.stats().requests_sent),
        std::chrono::duration<double>(p.link.now() - start).count());
    EXPECT_GT(lost, 1000U);
    // the client sent over 5000 numbered packets: at least 4 updates, each followed
    EXPECT_GE(cs.key_updates_initiated, 4U);
    EXPECT_EQ(ss.key_updates_followed, cs.key_updates_initiated);
    EXPECT_EQ(p.client.next_layer().send_phase(), cs.key_updates_initiated);
    EXPECT_EQ(p.server.next_layer().phases_of(p.client.session_id()).second,
              cs.key_updates_initiated);
    EXPECT_EQ(p.client_closed + p.server_closed, 0U);
    EXPECT_GT(p.client.stats().requests_sent + p.server.stats().requests_sent, 0U);
    // Nothing failed authentication: no retransmission went out under a stale key.
    EXPECT_EQ(cs.failed_auth, 0U);
    EXPECT_EQ(ss.failed_auth, 0U);
}

// Both sides force key updates (1000 and 700 packets) while 5% of datagrams are lost and a
// quarter are delayed by up to 8 ms (reordering across key switches).
TEST(V3Reliable, BothSidesUpdatingKeysUnderLossAndReordering) {
    v3_pair p(1000, 700, seed() + 5);
    std::uint64_t rng = seed() * 104729;
    p.link.set_filter([&](auto& d) {
        const std::uint64_t x = mix(rng);
        if (x % 20 == 0) return false;
        if ((x >> 8) % 4 == 0) d.at += std::chrono::milliseconds((x >> 16) % 9);
        return true;
    });
    ASSERT_TRUE(p.connect());
    constexpr std::size_t count = 2000;
    std::size_t sent_c = 0, sent_s = 0;
    while (sent_c < count || sent_s < count) {
        if (sent_c < count && p.client.can_send()) {
            ASSERT_TRUE(p.client.send(nc::words(message('c', sent_c)), p.link.now()));
            ++sent_c;
        }
        if (sent_s < count && p.server.can_send(p.client.session_id())) {
            ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words(message('s', sent_s)),
                                      p.link.now()));
            ++sent_s;
        }
        p.link.run_for(1ms);
        ASSERT_TRUE(p.client.established()) << "after " << sent_c << " / " << sent_s;
    }
    ASSERT_TRUE(p.link.run_until(
        [&] { return p.server_data.size() == count && p.client_data.size() == count; }, 120s))
        << p.server_data.size() << " " << p.client_data.size();
    for (std::size_t i = 0; i < count; ++i) {
        ASSERT_EQ(p.server_data[i], message('c', i)) << i;
        ASSERT_EQ(p.client_data[i], message('s', i)) << i;
    }
    const auto& cs = p.client.next_layer().stats();
    const auto& ss = p.server.next_layer().stats();
    EXPECT_GE(cs.key_updates_initiated + ss.key_updates_initiated, 3U);
    EXPECT_EQ(p.client.next_layer().send_phase(),
              p.server.next_layer().phases_of(p.client.session_id()).second);
    EXPECT_EQ(p.client_closed + p.server_closed, 0U);
}

}  // namespace
