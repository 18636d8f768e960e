#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/memory_link.hpp"

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

namespace {
// An observer that keeps the session keys it is told about.
struct key_observer : nc::null_observer {
    std::vector<std::pair<std::uint64_t, std::string>> logged;  // session id, tx key hex
    void on_session_keys(std::uint64_t sid, nc::role, const nc::session_keys& k, neutrino::time_point) {
        logged.emplace_back(sid, neutrino::to_hex(k.tx.bytes()));
    }
};
}  // namespace

TEST(session, observers_with_on_session_keys_get_each_sessions_keys) {
    using client_t = nc::basic_client<nc::wire::v2, key_observer, neutrino::seeded_random>;
    using server_t = nc::basic_server<nc::wire::v2, key_observer, neutrino::seeded_random>;
    neutrino::test::basic_pair<client_t, server_t> p;
    ASSERT_TRUE(p.connect());
    const auto& c = p.client.observer().logged;
    const auto& s = p.server.observer().logged;
    ASSERT_EQ(c.size(), 1U);
    ASSERT_EQ(s.size(), 1U);
    EXPECT_EQ(c[0].first, p.client.session_id());
    EXPECT_EQ(s[0].first, p.client.session_id());
    EXPECT_NE(c[0].second, s[0].second);  // each side logs its own sending direction
}
