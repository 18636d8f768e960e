#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "neutrino/core/memory_link.hpp"
#include "test_support.hpp"

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
using namespace std::chrono_literals;

namespace {
using client_t = nr::basic_client<nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>>;
using server_t = nr::basic_server<nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>>;
static_assert(neutrino::datagram_layer<client_t>);
static_assert(neutrino::datagram_layer<server_t>);
}  // namespace

TEST(reliable, in_order_exactly_once_with_loss_both_ways) {
    using pair = neutrino::test::basic_pair<client_t, server_t>;
    pair p;
    int n = 0;
    p.link.set_filter([&n](auto&) { return ++n % 7 != 3; });  // lose every 7th datagram
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.established(); }, 30s));
    ASSERT_TRUE(p.link.run_until([&] { return p.server.state_of(p.client.session_id()) == nc::session_state::established; }, 30s));
    std::vector<std::vector<std::string>> expect_server, expect_client;
    for (int i = 0; i < 500; ++i) {
        const std::string a = "c" + std::to_string(i), b = "s" + std::to_string(i);
        while (!p.client.can_send()) p.link.step(p.link.now() + 1s);
        ASSERT_TRUE(p.client.send(nc::words(a), p.link.now()));
        expect_server.push_back({a});
        while (!p.server.can_send(p.client.session_id())) p.link.step(p.link.now() + 1s);
        ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words(b), p.link.now()));
        expect_client.push_back({b});
        p.link.run_for(1ms);
    }
    ASSERT_TRUE(p.link.run_until([&] { return p.server_data.size() == 500 && p.client_data.size() == 500; }, 60s));
    EXPECT_EQ(p.server_data, expect_server);
    EXPECT_EQ(p.client_data, expect_client);
    EXPECT_GT(p.client.stats().requests_sent + p.server.stats().requests_sent, 0U);
}
