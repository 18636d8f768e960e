// Extended over the v3 wire (spec: neutrino-v3.md §14.2): the same layer, fragments of 1238
// bytes, through loss with forced key updates, delivered exactly once and in order.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "extended_support.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"

using namespace neutrino::extended_test;
using namespace std::chrono_literals;

namespace {

namespace v3 = neutrino::core::v3;
using v3_client = ne::basic_client<nr::basic_client<v3::basic_client<nc::null_observer, neutrino::seeded_random>>>;
using v3_server = ne::basic_server<nr::basic_server<v3::basic_server<nc::null_observer, neutrino::seeded_random>>>;

static_assert(v3_client::fragment_size == 1238);
static_assert(v3_server::fragment_size == 1238);
static_assert(client_t::fragment_size == 1214);

struct v3_pair {
    v3_pair(ni::simulator_config sc, std::uint64_t key_update_every, std::uint64_t seed)
        : client(client_cfg(), ne::config{}, nr::config{}, copt(key_update_every), nc::null_observer{},
                 neutrino::seeded_random(seed + 1)),
          server(server_cfg(), ne::config{}, nr::config{}, sopt(), nc::null_observer{},
                 neutrino::seeded_random(seed + 2)),
          sim(client, neutrino::test::client_address, server, neutrino::test::server_address, std::move(sc)) {}
    static v3::client_options copt(std::uint64_t every) {
        v3::client_options o;
        o.max_message_size = 16U << 20;
        o.key_update.force_every_packets = every;
        return o;
    }
    static v3::server_options sopt() {
        v3::server_options o;
        o.max_message_size = 16U << 20;
        return o;
    }
    v3_client client;
    v3_server server;
    ni::simulator<v3_client, v3_server> sim;
};

}  // namespace

TEST(extended_v3, messages_through_loss_with_key_updates_every_1000_packets) {
    const std::uint64_t seed = test_seed(700);
    ni::simulator_config sc;
    sc.a_to_b.delay = sc.b_to_a.delay = 5ms;
    sc.a_to_b.drop = sc.b_to_a.drop = 0.10;
    sc.seed = seed;
    v3_pair p(sc, 1000, seed);
    ASSERT_TRUE(p.client.connect(p.sim.now()));
    ASSERT_TRUE(p.sim.run_until([&] { return p.client.established(); }, 30s));
    const std::uint64_t sid = p.client.session_id();
    ASSERT_TRUE(p.sim.run_until(
        [&] { return p.server.state_of(sid) == nc::session_state::established; }, 10s));

    std::uint64_t s = seed;
    std::vector<std::size_t> a(60), b(60);
    for (auto& x : a) x = mix(s) % (100 * 1024);
    for (auto& x : b) x = mix(s) % (100 * 1024);
    a[0] = 1238 - 6;  // exactly one v3 packet
    a[1] = 1238 - 5;  // one byte more: two fragments
    message_source up{1, a}, down{2, b};
    message_check at_server{1, a}, at_client{2, b};
    p.sim.on_b_event = [&](const ne::event& e) { at_server.on_event(e); };
    p.sim.on_a_event = [&](const ne::event& e) { at_client.on_event(e); };
    const auto limit = p.sim.now() + 300s;
    while (!(at_server.done() && at_client.done()) && !at_server.closed && !at_client.closed) {
        up.pump([&](nc::word_list w) { return p.client.send(w, p.sim.now()); });
        down.pump([&](nc::word_list w) { return p.server.send(sid, w, p.sim.now()); });
        if (!p.sim.step(limit) && p.sim.now() >= limit) break;
    }
    p.sim.run_for(2s);
    const auto& v3s = p.client.next_layer().next_layer().stats();
    std::printf("[extended-v3] %zu/%zu and %zu/%zu messages, key updates initiated %llu\n",
                at_server.received, a.size(), at_client.received, b.size(),
                static_cast<unsigned long long>(v3s.key_updates_initiated));
    EXPECT_TRUE(at_server.done());
    EXPECT_TRUE(at_client.done());
    EXPECT_EQ(at_server.mismatches + at_client.mismatches, 0U);
    EXPECT_FALSE(at_server.closed.has_value());
    EXPECT_FALSE(at_client.closed.has_value());
    // ~2 500 numbered packets from the client: an update at every 1 000, all followed
    EXPECT_GE(v3s.key_updates_initiated, 2U);
    EXPECT_EQ(p.server.next_layer().next_layer().stats().key_updates_followed, v3s.key_updates_initiated);
    // the 1233-byte word fit one 1238-byte v3 packet; the next one took two fragments
    EXPECT_GT(p.client.stats().fragments_sent, 0U);
}

// §9.3: each side may send messages up to the limit the other declared in the handshake; the
// sending API refuses larger ones (and messages within it arrive).
TEST(extended_v3, the_peers_declared_limit_bounds_what_the_api_sends) {
    v3::client_options co;
    co.max_message_size = 100000;  // the client accepts up to 100 000 bytes
    v3::server_options so;
    so.max_message_size = 50000;  // the server up to 50 000
    v3_client client(client_cfg(), ne::config{}, nr::config{}, co, nc::null_observer{}, neutrino::seeded_random(81));
    v3_server server(server_cfg(), ne::config{}, nr::config{}, so, nc::null_observer{}, neutrino::seeded_random(82));
    ni::simulator<v3_client, v3_server> sim(client, neutrino::test::client_address, server,
                                            neutrino::test::server_address);
    std::size_t at_client = 0, at_server = 0;
    sim.on_a_event = [&](const ne::event& e) { at_client += e.kind == ne::event_kind::message; };
    sim.on_b_event = [&](const ne::event& e) { at_server += e.kind == ne::event_kind::message; };
    ASSERT_TRUE(client.connect(sim.now()));
    ASSERT_TRUE(sim.run_until([&] { return client.established(); }, 10s));
    sim.run_for(50ms);
    const std::uint64_t sid = client.session_id();
    std::vector<std::byte> m(60000);
    const nc::word w(m);
    auto r = client.send({&w, 1}, sim.now());  // 60 006 > the server's 50 000
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ne::errc::message_too_large);
    ASSERT_TRUE(server.send(sid, {&w, 1}, sim.now()));  // within the client's 100 000
    std::vector<std::byte> big(120000);
    const nc::word wb(big);
    r = server.send(sid, {&wb, 1}, sim.now());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ne::errc::message_too_large);
    std::vector<std::byte> small(40000);
    const nc::word ws(small);
    ASSERT_TRUE(client.send({&ws, 1}, sim.now()));
    sim.run_for(500ms);
    EXPECT_EQ(at_client, 1U);
    EXPECT_EQ(at_server, 1U);
}
