#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/memory_link.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.hpp"

namespace nc = neutrino::core;
using namespace std::chrono_literals;

TEST(session, handshake_data_both_ways_and_good_bye) {
    neutrino::test::pair p;
    ASSERT_TRUE(p.connect());
    EXPECT_EQ(p.client.state(), nc::session_state::established);
    EXPECT_EQ(p.server.session_count(), 1U);
    const std::uint64_t sid = p.client.session_id();
    EXPECT_GE(sid, 64U);

    ASSERT_TRUE(p.client.send(nc::words("374", "12"), p.link.now()));
    p.link.run_for(10ms);
    ASSERT_EQ(p.server_data.size(), 1U);
    EXPECT_EQ(p.server_data[0], (std::vector<std::string>{"374", "12"}));

    ASSERT_TRUE(p.server.send(sid, nc::words("630", "144"), p.link.now()));
    p.link.run_for(10ms);
    ASSERT_EQ(p.client_data.size(), 1U);
    EXPECT_EQ(p.client_data[0], (std::vector<std::string>{"630", "144"}));

    p.client.close(p.link.now());
    p.link.run_for(10ms);
    EXPECT_EQ(p.server.session_count(), 0U);
    EXPECT_EQ(p.client.state(), nc::session_state::closed);
}
