#include "neutrino/inspector/network.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/nat.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"
#include "nat_matrix.hpp"
#include "test_seed.hpp"

namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;

namespace {

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

// A peer that learns its reflexive address from the server, then probes the other peer's
// candidates every `period` until `probe_for` has passed (§7.4), answers every probe to its
// source and learns that source as a candidate; optional keep-alives; one-shot data.
class puncher {
public:
    /// Emitted the first time the other peer is heard.
    struct event_type {
        peer_address from;
    };
    enum kind : std::uint8_t { probe = 2, reply = 3, data = 4, keep_alive = 5 };

    explicit puncher(peer_address server) : server_(server) {}

    void discover() { queue(server_, probe); }
    void punch(peer_address peer, time_point now, neutrino::duration probe_for = 5s) {
        if (std::find(candidates_.begin(), candidates_.end(), peer) == candidates_.end()) {
            candidates_.push_back(peer);
        }
        next_probe_ = now;
        probe_until_ = now + probe_for;
    }
    void keep_alive_every(neutrino::duration d, time_point now) {
        keep_alive_ = d;
        next_keep_alive_ = now + d;
    }
    void stop_keep_alives() { keep_alive_.reset(); }
    void send_data() {
        if (heard_from_) {
            queue(*heard_from_, data);
        } else if (!candidates_.empty()) {
            queue(candidates_.front(), data);
        }
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
        if (in.size() != 1) return neutrino::fail(std::errc::bad_message);
        received.emplace_back(now, from);
        if (!heard_from_) events_.push_back(event_type{from});
        heard_from_ = from;
        const auto k = std::to_integer<std::uint8_t>(in[0]);
        if (k == probe) {
            queue(from, reply);
            if (std::find(candidates_.begin(), candidates_.end(), from) == candidates_.end()) {
                candidates_.push_back(from);  // a source nobody announced (§7.4 step 3)
            }
        }
        if (k == data) ++data_received;
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point) {
        if (out_.empty()) return std::nullopt;
        const auto [to, k] = out_.front();
        out_.erase(out_.begin());
        out[0] = std::byte{k};
        return neutrino::transmit{1, to};
    }
    std::optional<event_type> poll_event() {
        if (events_.empty()) return std::nullopt;
        auto e = events_.front();
        events_.erase(events_.begin());
        return e;
    }
    [[nodiscard]] std::optional<time_point> deadline() const {
        std::optional<time_point> t;
        if (next_probe_ < probe_until_) t = next_probe_;
        if (keep_alive_ && (!t || next_keep_alive_ < *t)) t = next_keep_alive_;
        return t;
    }
    void handle_deadline(time_point now) {
        if (next_probe_ < probe_until_ && next_probe_ <= now) {
            for (const auto& c : candidates_) queue(c, probe);
            next_probe_ += period_;
        }
        if (keep_alive_ && next_keep_alive_ <= now) {
            for (const auto& c : candidates_) queue(c, keep_alive);
            next_keep_alive_ += *keep_alive_;
        }
    }

    [[nodiscard]] bool heard_peer() const { return heard_from_.has_value(); }

    std::optional<peer_address> reflexive;
    std::vector<std::pair<time_point, peer_address>> received;  // from the other peer
    std::uint64_t data_received = 0;

private:
    void queue(const peer_address& to, kind k) { out_.emplace_back(to, k); }

    peer_address server_;
    std::vector<peer_address> candidates_;
    std::vector<std::pair<peer_address, std::uint8_t>> out_;
    std::vector<event_type> events_;
    std::optional<peer_address> heard_from_;
    neutrino::duration period_ = 100ms;
    time_point next_probe_{};
    time_point probe_until_{};
    std::optional<neutrino::duration> keep_alive_;
    time_point next_keep_alive_{};
};

static_assert(neutrino::datagram_layer<puncher>);


// Two peers behind their own NATs and a rendezvous server, with 20 ms one-way delay.
struct two_nats {
    two_nats(ni::nat_config n1, ni::nat_config n2, std::uint64_t seed)
        : net(config(seed)), a(server_address), b(server_address) {
        site1 = net.add_nat(n1);
        site2 = net.add_nat(n2);
        server_node = net.add_node(server, server_address);
        node_a = net.add_node(a, host_a, site1,
                              std::function<void(const puncher::event_type&)>(
                                  [this](const puncher::event_type&) { ++events_a; }));
        node_b = net.add_node(b, host_b, site2);
    }
    static ni::network_config config(std::uint64_t seed) {
        ni::network_config c;
        c.internet.delay = 20ms;
        c.seed = seed;
        return c;
    }
    // Both learn their reflexive address from the server, as a rendezvous would tell them.
    void discover() {
        a.discover();
        b.discover();
        ASSERT_TRUE(net.run_until([&] { return a.reflexive && b.reflexive; }, 1s));
    }
    // §7.4: both probe each other's reflexive address every 100 ms for 5 s (B 300 ms after A).
    bool punch() {
        a.punch(*b.reflexive, net.now());
        net.run_for(300ms);
        b.punch(*a.reflexive, net.now());
        net.run_for(5s);
        return a.heard_peer() && b.heard_peer();
    }

    ni::network net;
    reflector server;
    puncher a;
    puncher b;
    ni::site_id site1 = 0, site2 = 0;
    ni::node_id server_node = 0, node_a = 0, node_b = 0;
    int events_a = 0;
};

}  // namespace

TEST(network, two_nodes_without_nat_exchange_datagrams_with_the_configured_delay) {
    const peer_address a_address = peer_address::v4({192, 0, 2, 1}, 1000);
    const peer_address b_address = peer_address::v4({192, 0, 2, 2}, 2000);
    ni::network_config cfg;
    cfg.internet.delay = 25ms;
    cfg.seed = test_seed(50);
    ni::network net(cfg);
    puncher a(server_address);
    puncher b(server_address);
    const auto na = net.add_node(a, a_address);
    const auto nb = net.add_node(b, b_address);
    EXPECT_NE(net.site_of(na), net.site_of(nb));
    const time_point t0 = net.now();
    a.punch(b_address, t0, 50ms);  // probes at 0 ms only (the period is 100 ms)
    net.run_for(1s);
    ASSERT_EQ(b.received.size(), 1U);
    EXPECT_EQ(b.received[0].first, t0 + 25ms);
    EXPECT_EQ(b.received[0].second, a_address);
    ASSERT_EQ(a.received.size(), 1U);  // b's reply
    EXPECT_EQ(a.received[0].first, t0 + 50ms);
    EXPECT_EQ(a.received[0].second, b_address);
    EXPECT_EQ(net.stats().sent, 2U);
    EXPECT_EQ(net.stats().delivered, 2U);
    EXPECT_EQ(net.stats_of(na).sent, 1U);
    EXPECT_EQ(net.stats_of(nb).received, 1U);
    EXPECT_EQ(net.now(), t0 + 1s);
    // To an address nobody owns: counted, not delivered.
    a.punch(peer_address::v4({192, 0, 2, 3}, 1), net.now(), 50ms);
    net.run_for(1s);
    EXPECT_GE(net.stats().unroutable, 1U);
}

TEST(network, a_node_behind_a_nat_is_seen_at_its_public_mapping) {
    two_nats t(nat_of(nat_type::eim_apdf, nat1_public, 1),
               nat_of(nat_type::eim_apdf, nat2_public, 2), test_seed(51));
    t.discover();
    // Port preservation: the server sees the private port on the public address.
    EXPECT_EQ(*t.a.reflexive, peer_address::v4({203, 0, 113, 1}, 40000));
    EXPECT_EQ(*t.b.reflexive, peer_address::v4({198, 51, 100, 1}, 40000));
    EXPECT_EQ(t.net.nat_at(t.site1).stats().translated_out, 1U);
    EXPECT_EQ(t.net.nat_at(t.site1).stats().translated_in, 1U);
    // Request out (20 ms) and answer back (20 ms).
    EXPECT_EQ(t.net.now(), time_point{} + 40ms);
}

TEST(network, hole_punching_matrix_follows_rfc_4787) {
    const std::array types{nat_type::eim_eif, nat_type::eim_adf, nat_type::eim_apdf,
                           nat_type::symmetric};
    int successes = 0;
    for (const auto x : types) {
        for (const auto y : types) {
            SCOPED_TRACE("A behind " + name(x) + ", B behind " + name(y));
            two_nats t(nat_of(x, nat1_public, test_seed(52)), nat_of(y, nat2_public, test_seed(53)),
                       test_seed(54));
            t.discover();
            const bool ok = t.punch();
            EXPECT_EQ(ok, neutrino::test::punching_succeeds(x, y));
            successes += ok ? 1 : 0;
            if (ok) {
                EXPECT_EQ(t.events_a, 1);  // the first datagram from B, reported once
                // Data flows both ways over the punched pair.
                t.a.send_data();
                t.b.send_data();
                t.net.run_for(1s);
                EXPECT_EQ(t.a.data_received, 1U);
                EXPECT_EQ(t.b.data_received, 1U);
            } else {
                EXPECT_EQ(t.events_a, t.a.heard_peer() ? 1 : 0);
                EXPECT_GT(t.net.nat_at(t.site1).stats().dropped_filtered +
                              t.net.nat_at(t.site2).stats().dropped_filtered,
                          0U);
            }
        }
    }
    EXPECT_EQ(successes, 16 - 3);  // all but (sym, EIM+APDF), (EIM+APDF, sym), (sym, sym)
}

TEST(network, a_mapping_expires_when_keep_alives_stop_and_lives_while_they_run) {
    for (const bool keep_alives : {false, true}) {
        SCOPED_TRACE(keep_alives ? "keep-alives every 10 s" : "no keep-alives");
        auto n1 = nat_of(nat_type::eim_apdf, nat1_public, 1);
        auto n2 = nat_of(nat_type::eim_apdf, nat2_public, 2);
        n1.mapping_lifetime = n2.mapping_lifetime = 30s;
        two_nats t(n1, n2, test_seed(55));
        t.discover();
        ASSERT_TRUE(t.punch());
        if (keep_alives) {
            t.a.keep_alive_every(10s, t.net.now());
            t.b.keep_alive_every(10s, t.net.now());
        }
        t.net.run_for(60s);  // twice the lifetime after the last probe
        const auto dropped_before = t.net.nat_at(t.site2).stats().dropped();
        t.a.send_data();
        t.net.run_for(1s);
        EXPECT_EQ(t.b.data_received, keep_alives ? 1U : 0U);
        EXPECT_EQ(t.net.nat_at(t.site2).stats().dropped() - dropped_before, keep_alives ? 0U : 1U);
        if (!keep_alives) {
            // Punching again opens the path again.
            EXPECT_TRUE(t.punch());
            t.a.send_data();
            t.net.run_for(1s);
            EXPECT_EQ(t.b.data_received, 1U);
        }
    }
}

TEST(network, hairpin_reaches_a_neighbour_by_public_address_only_when_on) {
    for (const bool hairpinning : {false, true}) {
        SCOPED_TRACE(hairpinning ? "hairpinning" : "no hairpinning");
        ni::network_config cfg;
        cfg.internet.delay = 20ms;
        cfg.lan.delay = 1ms;
        cfg.seed = test_seed(56);
        ni::network net(cfg);
        auto nc = nat_of(nat_type::eim_apdf, nat1_public, 3);
        nc.hairpinning = hairpinning;
        const auto site = net.add_nat(nc);
        reflector server;
        puncher a(server_address);
        puncher b(server_address);
        const peer_address lan_b = peer_address::v4({10, 0, 1, 3}, 40000);
        net.add_node(server, server_address);
        net.add_node(a, host_a, site);
        net.add_node(b, lan_b, site);
        a.discover();
        b.discover();
        ASSERT_TRUE(net.run_until([&] { return a.reflexive && b.reflexive; }, 1s));
        EXPECT_NE(a.reflexive->port, b.reflexive->port);  // both wanted 40000
        a.punch(*b.reflexive, net.now());
        b.punch(*a.reflexive, net.now());
        net.run_for(5s);
        EXPECT_EQ(a.heard_peer(), hairpinning);
        EXPECT_EQ(b.heard_peer(), hairpinning);
        if (hairpinning) {
            // The neighbour is seen at its public mapping, never at its private address.
            EXPECT_EQ(a.received.front().second, *b.reflexive);
            EXPECT_GT(net.nat_at(site).stats().hairpinned, 0U);
        } else {
            EXPECT_GT(net.nat_at(site).stats().dropped_hairpin, 0U);
            // Host candidates still work: the same LAN is reached directly.
            const time_point sent = net.now();
            a.punch(lan_b, net.now(), 50ms);
            net.run_for(1s);
            ASSERT_TRUE(b.heard_peer());
            EXPECT_EQ(b.received.front().second, host_a);
            EXPECT_EQ(b.received.front().first, sent + 1ms);
        }
    }
}

TEST(network, the_same_seed_gives_the_same_run) {
    auto once = [](std::uint64_t seed) {
        ni::network_config cfg;
        cfg.internet.delay = 20ms;
        cfg.internet.jitter = 15ms;
        cfg.internet.drop = 0.3;
        cfg.seed = seed;
        ni::network net(cfg);
        const auto s1 = net.add_nat(nat_of(nat_type::eim_eif, nat1_public, 1));
        const auto s2 = net.add_nat(nat_of(nat_type::eim_eif, nat2_public, 2));
        puncher a(server_address);
        puncher b(server_address);
        net.add_node(a, host_a, s1);
        net.add_node(b, host_b, s2);
        a.punch(peer_address::v4({198, 51, 100, 1}, 40000), net.now());
        b.punch(peer_address::v4({203, 0, 113, 1}, 40000), net.now());
        net.run_for(6s);
        return std::pair{a.received, b.received};
    };
    const auto first = once(test_seed(57));
    EXPECT_FALSE(first.first.empty());
    EXPECT_EQ(once(test_seed(57)), first);
    EXPECT_NE(once(test_seed(57) + 1), first);
}

TEST(network, a_path_can_be_set_per_direction) {
    const peer_address a_address = peer_address::v4({192, 0, 2, 1}, 1000);
    const peer_address b_address = peer_address::v4({192, 0, 2, 2}, 2000);
    ni::network_config cfg;
    cfg.internet.delay = 25ms;
    ni::network net(cfg);
    puncher a(server_address);
    puncher b(server_address);
    const auto na = net.add_node(a, a_address);
    const auto nb = net.add_node(b, b_address);
    ni::impairment_config slow;
    slow.delay = 100ms;
    net.set_path(net.site_of(na), net.site_of(nb), slow);
    const time_point t0 = net.now();
    a.punch(b_address, t0, 50ms);
    net.run_until([&] { return !a.received.empty(); }, 1s);
    ASSERT_EQ(b.received.size(), 1U);
    EXPECT_EQ(b.received[0].first, t0 + 100ms);
    ASSERT_EQ(a.received.size(), 1U);
    EXPECT_EQ(a.received[0].first, t0 + 125ms);  // the way back keeps the default
    // Not while a datagram is on the path.
    a.send_data();
    net.flush();
    EXPECT_EQ(net.path(net.site_of(na), net.site_of(nb)).pending(), 1U);
    EXPECT_THROW(net.set_path(net.site_of(na), net.site_of(nb), slow), std::logic_error);
}

TEST(network, invalid_topologies_throw) {
    ni::network net;
    const auto s = net.add_nat(nat_of(nat_type::eim_eif, nat1_public, 1));
    EXPECT_THROW(net.add_nat(nat_of(nat_type::eim_eif, peer_address::v4({203, 0, 113, 1}, 9), 1)),
                 std::invalid_argument);
    puncher a(server_address);
    puncher b(server_address);
    net.add_node(a, host_a, s);
    EXPECT_THROW(net.add_node(b, host_a, s), std::invalid_argument);
    EXPECT_THROW(net.add_node(b, peer_address::v4({203, 0, 113, 1}, 5), std::nullopt),
                 std::invalid_argument);
    EXPECT_THROW(net.add_node(b, host_b, ni::site_id{7}), std::invalid_argument);
}
