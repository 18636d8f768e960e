// Issue #11 on the extended layer: the reliable layer's address and request rules hold beneath
// it (extended has no send path of its own). An attacker with the session's keys (a twin of the
// genuine client, adversary.hpp) forges DATA from another port and far beyond the window; the
// genuine client's messages (one of them fragmented) still arrive exactly once.

#include <gtest/gtest.h>

#include <string>

#include "adversary.hpp"
#include "extended_support.hpp"

using namespace neutrino::extended_test;
using namespace std::chrono_literals;
namespace na = neutrino::adversary;
using neutrino::time_point;

namespace {

struct ext_stack {
    using client = client_t;
    using server = server_t;
    static client make_client(std::uint64_t seed) {
        return client(client_cfg(), ne::config{}, nr::config{}, nc::null_observer{},
                      neutrino::seeded_random(seed));
    }
    static server make_server(std::uint64_t seed) {
        return server(server_cfg(), ne::config{}, nr::config{}, nc::null_observer{},
                      neutrino::seeded_random(seed));
    }
    static auto& core_of(client& c) { return c.next_layer().next_layer(); }
    static bool is_message(const ne::event& e) { return e.kind == ne::event_kind::message; }
    static const nr::stats& reliable_stats(const server& s) { return s.next_layer().stats(); }
};

TEST(extended_amplification, forged_packets_neither_reflect_nor_storm_and_messages_arrive) {
    na::arena<ext_stack> ar(test_seed(1400));
    ASSERT_TRUE(ar.connect());
    ar.freeze();
    const std::uint64_t sid = ar.genuine().session_id();
    const std::uint64_t reqs0 = ext_stack::reliable_stats(ar.server()).requests_sent;
    const neutrino::time_point t0 = ar.now();
    // Extended DATA is framed u16/u32; a forged one need not be well formed: it is never
    // delivered (it waits beyond a gap the genuine client does not fill in this test).
    ar.inject(ar.forge(nc::packet_type::data, nc::words("forged"), 1000), na::victim_address);
    ar.inject(ar.forge(nc::packet_type::data, nc::words("far"), 300000), na::genuine_address);
    const std::string big(5000, 'x');  // four fragments
    std::size_t sent = 0;
    for (int i = 0; i < 20; ++i) {
        const std::string w = i == 7 ? big : "m" + std::to_string(i);
        ASSERT_TRUE(ar.genuine().send(nc::words(w), ar.now()));
        ++sent;
        ar.run_for(5ms);
    }
    ASSERT_TRUE(ar.run_until([&] { return ar.messages == sent; }, 3s))
        << ar.messages << " of " << sent;
    ar.run_for(1s);
    const auto& v = ar.at(na::victim_address);
    EXPECT_LE(v.sent, 3 * v.received) << v.sent << " bytes to an address that sent " << v.received;
    EXPECT_TRUE(na::within_amplification_budget(ar, {na::genuine_address}));
    EXPECT_EQ(ar.server().next_layer().next_layer().peer_of(sid), na::genuine_address);
    EXPECT_EQ(ext_stack::reliable_stats(ar.server()).beyond_window, 1U);
    // requests: the budget, per epoch of at least min_request_interval (the RTT once the
    // server measured one), each arrival counted in two epochs
    const nr::config c;
    const auto epochs = static_cast<std::uint64_t>((ar.now() - t0) / c.min_request_interval) + 1;
    std::uint64_t datagrams = 0;
    for (const auto& [a, t] : ar.tallies()) datagrams += t.datagrams_received;
    const std::uint64_t requests = ext_stack::reliable_stats(ar.server()).requests_sent - reqs0;
    EXPECT_LE(requests, epochs * c.request_floor + 2 * c.request_per_arrival * datagrams);
    EXPECT_TRUE(ar.client_closed.empty());
}

}  // namespace
