// Opaque peer handles (#12 item 4): a transport that is not IP names its peers itself, and the
// machines and the driver work with those handles unchanged. Two clients on one opaque host
// (same bytes, different ports) hold separate sessions on a v2 and on a v3 server; the server
// reports the handles as the peers; per-host counting groups them by host; the v3 cookie binds
// to every byte of the handle.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/cookie.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/io/memory_transport.hpp"
#include "io_support.hpp"
#include "test_support.hpp"

namespace nc = neutrino::core;
namespace nio = neutrino::io;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using neutrino::peer_address;

namespace {

constexpr std::array<std::uint8_t, 16> host_a{'p', 'e', 'e', 'r', '-', 'a'};
constexpr std::array<std::uint8_t, 16> host_s{'s', 'e', 'r', 'v', 'e', 'r'};
const peer_address server_handle = peer_address::opaque(host_s, 1);
const peer_address client1 = peer_address::opaque(host_a, 1);
const peer_address client2 = peer_address::opaque(host_a, 2);

struct v2_stack {
    using client = nc::client;
    using server = nc::server;
};
struct v3_stack {
    using client = nc::v3::client;
    using server = nc::v3::server;
};

template <class Stack>
class opaque_peers : public ::testing::Test {};
using stacks = ::testing::Types<v2_stack, v3_stack>;
TYPED_TEST_SUITE(opaque_peers, stacks);

TYPED_TEST(opaque_peers, two_endpoints_on_one_opaque_host_hold_separate_sessions) {
    using client_ep = nio::endpoint<typename TypeParam::client, nio::memory_transport>;
    using server_ep = nio::endpoint<typename TypeParam::server, nio::memory_transport>;
    net::io_context ctx;
    nio::memory_network network;
    auto ccfg = neutrino::test::basic_pair<>::client_cfg();
    ccfg.server = server_handle;
    server_ep server{typename TypeParam::server(neutrino::test::basic_pair<>::server_cfg()), {},
                     std::in_place, ctx.get_executor(), network, server_handle};
    client_ep c1{typename TypeParam::client(ccfg), {}, std::in_place, ctx.get_executor(), network,
                 client1};
    client_ep c2{typename TypeParam::client(ccfg), {}, std::in_place, ctx.get_executor(), network,
                 client2};

    // Echo every message back with the handle the server saw it from.
    std::vector<peer_address> accepted_peers;
    std::function<void()> accept_next = [&] {
        server.async_accept([&](boost::system::error_code ec, typename server_ep::session s) {
            if (ec) return;
            accepted_peers.push_back(s.peer());
            s.async_receive([s](boost::system::error_code rec, nio::message m) mutable {
                if (!rec) s.async_send(nc::words("echo", m.text(0)), [](boost::system::error_code) {});
            });
            accept_next();
        });
    };
    accept_next();

    auto talk = [&](client_ep& c, std::string text) {
        auto ready = [&](auto& f) {
            return neutrino::test::run_until(
                ctx, [&] { return f.wait_for(0s) == std::future_status::ready; }, 5000ms);
        };
        auto connected = c.async_connect(net::use_future);
        EXPECT_TRUE(ready(connected));
        connected.get();
        auto sent = c.async_send(nc::words(text), net::use_future);
        auto reply = c.async_receive(net::use_future);
        EXPECT_TRUE(ready(reply));
        sent.get();
        const nio::message m = reply.get();
        EXPECT_EQ(m.text(0), "echo");
        return std::string(m.text(1));
    };
    EXPECT_EQ(talk(c1, "one"), "one");
    EXPECT_EQ(talk(c2, "two"), "two");

    ASSERT_EQ(accepted_peers.size(), 2u);
    EXPECT_EQ(accepted_peers[0], client1);
    EXPECT_EQ(accepted_peers[1], client2);
    EXPECT_TRUE(accepted_peers[0].same_host(accepted_peers[1]));
    EXPECT_NE(c1.layer().session_id(), c2.layer().session_id());
    EXPECT_EQ(network.counters().unroutable, 0u);
}

TEST(opaque_peer, handles_compare_hash_and_group_by_host) {
    EXPECT_NE(client1, client2);
    EXPECT_TRUE(client1.same_host(client2));
    EXPECT_FALSE(client1.is_ip());
    // The same 16 bytes as an IPv6 address are another peer.
    peer_address as_ip = peer_address::v6(host_a, 1);
    EXPECT_NE(as_ip, client1);
    EXPECT_FALSE(as_ip.same_host(client1));
    EXPECT_NE(neutrino::peer_address_hash{}(as_ip), neutrino::peer_address_hash{}(client1));
    EXPECT_EQ(neutrino::peer_host_hash{}(client1), neutrino::peer_host_hash{}(client2));
}

TEST(opaque_peer, the_v3_cookie_binds_every_byte_of_the_handle) {
    std::array<std::uint8_t, 16> other = host_a;
    other[15] = 1;  // differs only in the last byte, beyond what an IPv4 address would cover
    const auto a = nc::v3::cookie_address::of(client1);
    const auto b = nc::v3::cookie_address::of(peer_address::opaque(other, 1));
    const auto c = nc::v3::cookie_address::of(peer_address::v6(host_a, 1));
    EXPECT_EQ(a.size, 19u);
    EXPECT_FALSE(std::equal(a.view().begin(), a.view().end(), b.view().begin(), b.view().end()));
    // family byte first: an opaque handle never shares a cookie with the IPv6 address of its bytes
    EXPECT_FALSE(std::equal(a.view().begin(), a.view().end(), c.view().begin(), c.view().end()));
}

}  // namespace
