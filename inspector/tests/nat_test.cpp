#include "neutrino/inspector/nat.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/time.hpp"
#include "test_seed.hpp"

namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;

namespace {

const peer_address wan = peer_address::v4({203, 0, 113, 1}, 0);
const peer_address host_a = peer_address::v4({10, 0, 1, 2}, 40000);
const peer_address host_b = peer_address::v4({10, 0, 1, 3}, 40000);
const peer_address server = peer_address::v4({192, 0, 2, 10}, 3478);
const peer_address server_other_port = peer_address::v4({192, 0, 2, 10}, 3479);
const peer_address peer = peer_address::v4({198, 51, 100, 1}, 5000);
const time_point t0{};

ni::nat_config config(ni::nat_mapping m, ni::nat_filtering f) {
    ni::nat_config c;
    c.public_address = wan;
    c.mapping = m;
    c.filtering = f;
    return c;
}

}  // namespace

TEST(nat, endpoint_independent_mapping_keeps_one_public_port_for_every_destination) {
    ni::nat n(config(ni::nat_mapping::endpoint_independent,
                     ni::nat_filtering::address_and_port_dependent));
    const auto p1 = n.outbound(host_a, server, t0);
    const auto p2 = n.outbound(host_a, server_other_port, t0);
    const auto p3 = n.outbound(host_a, peer, t0);
    ASSERT_TRUE(p1 && p2 && p3);
    EXPECT_TRUE(p1->same_host(wan));
    EXPECT_EQ(p1->port, host_a.port);  // preserved
    EXPECT_EQ(*p1, *p2);
    EXPECT_EQ(*p1, *p3);
    // Another private endpoint with the same port gets another public port.
    const auto pb = n.outbound(host_b, server, t0);
    ASSERT_TRUE(pb);
    EXPECT_NE(pb->port, p1->port);
    EXPECT_EQ(n.stats().flows_created, 4U);
    EXPECT_EQ(n.stats().translated_out, 4U);
}

TEST(nat, address_dependent_mapping_gives_a_port_per_remote_address) {
    ni::nat n(config(ni::nat_mapping::address_dependent, ni::nat_filtering::address_dependent));
    const auto p1 = n.outbound(host_a, server, t0);
    const auto p2 = n.outbound(host_a, server_other_port, t0);
    const auto p3 = n.outbound(host_a, peer, t0);
    ASSERT_TRUE(p1 && p2 && p3);
    EXPECT_EQ(*p1, *p2);  // same remote IP, another port: same mapping
    EXPECT_NE(p1->port, p3->port);
}

TEST(nat, address_and_port_dependent_mapping_gives_a_port_per_remote_endpoint) {
    ni::nat n(config(ni::nat_mapping::address_and_port_dependent,
                     ni::nat_filtering::address_and_port_dependent));
    const auto p1 = n.outbound(host_a, server, t0);
    const auto p2 = n.outbound(host_a, server_other_port, t0);
    const auto p3 = n.outbound(host_a, peer, t0);
    ASSERT_TRUE(p1 && p2 && p3);
    std::set<std::uint16_t> ports{p1->port, p2->port, p3->port};
    EXPECT_EQ(ports.size(), 3U);
    // The same destination again keeps its flow's port.
    EXPECT_EQ(n.outbound(host_a, server_other_port, t0 + 1s), p2);
    EXPECT_EQ(n.flows(), 3U);
}

TEST(nat, filtering_admits_exactly_what_rfc_4787_says) {
    const peer_address stranger = peer_address::v4({198, 51, 100, 99}, 7000);
    struct expectation {
        ni::nat_filtering filtering;
        bool same_endpoint, same_address_other_port, other_address;
    };
    const std::array<expectation, 3> table{{
        {ni::nat_filtering::endpoint_independent, true, true, true},
        {ni::nat_filtering::address_dependent, true, true, false},
        {ni::nat_filtering::address_and_port_dependent, true, false, false},
    }};
    for (const auto& e : table) {
        SCOPED_TRACE(static_cast<int>(e.filtering));
        ni::nat n(config(ni::nat_mapping::endpoint_independent, e.filtering));
        // Nothing is admitted before the private side sent anything.
        EXPECT_FALSE(n.inbound(peer_address::v4({203, 0, 113, 1}, 40000), server, t0));
        EXPECT_EQ(n.stats().dropped_no_mapping, 1U);
        const auto pub = n.outbound(host_a, server, t0);
        ASSERT_TRUE(pub);
        EXPECT_EQ(n.inbound(*pub, server, t0).has_value(), e.same_endpoint);
        EXPECT_EQ(n.inbound(*pub, server_other_port, t0).has_value(), e.same_address_other_port);
        EXPECT_EQ(n.inbound(*pub, stranger, t0).has_value(), e.other_address);
        if (e.same_endpoint) {
            EXPECT_EQ(n.inbound(*pub, server, t0), host_a);
        }
        const std::uint64_t refused =
            3 - static_cast<std::uint64_t>(e.same_endpoint + e.same_address_other_port +
                                           e.other_address);
        EXPECT_EQ(n.stats().dropped_filtered, refused);
        // Wrong port or wrong address: no mapping.
        auto other_port = *pub;
        other_port.port = static_cast<std::uint16_t>(pub->port + 1);
        EXPECT_FALSE(n.inbound(other_port, server, t0));
        EXPECT_FALSE(n.inbound(peer_address::v4({203, 0, 113, 2}, pub->port), server, t0));
        EXPECT_EQ(n.stats().dropped_no_mapping, 3U);
    }
}

TEST(nat, a_mapping_expires_after_its_lifetime_without_outbound_traffic) {
    auto c = config(ni::nat_mapping::endpoint_independent, ni::nat_filtering::endpoint_independent);
    c.mapping_lifetime = 30s;
    ni::nat n(c);
    const auto pub = n.outbound(host_a, server, t0);
    ASSERT_TRUE(pub);
    // Inbound traffic does not refresh (the default).
    EXPECT_TRUE(n.inbound(*pub, server, t0 + 29s));
    EXPECT_FALSE(n.inbound(*pub, server, t0 + 30s));
    EXPECT_EQ(n.stats().dropped_no_mapping, 1U);
    EXPECT_EQ(n.stats().flows_expired, 1U);
    EXPECT_EQ(n.flows(), 0U);
}

TEST(nat, outbound_traffic_refreshes_a_mapping) {
    auto c = config(ni::nat_mapping::endpoint_independent,
                    ni::nat_filtering::address_and_port_dependent);
    c.mapping_lifetime = 30s;
    ni::nat n(c);
    const auto pub = n.outbound(host_a, server, t0);
    ASSERT_TRUE(pub);
    for (int i = 1; i <= 10; ++i) {
        EXPECT_EQ(n.outbound(host_a, server, t0 + i * 20s), pub);
    }
    EXPECT_TRUE(n.inbound(*pub, server, t0 + 200s + 29s));
    EXPECT_FALSE(n.inbound(*pub, server, t0 + 200s + 30s));
    EXPECT_EQ(n.stats().flows_created, 1U);
}

TEST(nat, inbound_refreshes_when_configured) {
    auto c = config(ni::nat_mapping::endpoint_independent, ni::nat_filtering::endpoint_independent);
    c.mapping_lifetime = 30s;
    c.inbound_refreshes = true;
    ni::nat n(c);
    const auto pub = n.outbound(host_a, server, t0);
    ASSERT_TRUE(pub);
    EXPECT_TRUE(n.inbound(*pub, server, t0 + 20s));
    EXPECT_TRUE(n.inbound(*pub, server, t0 + 40s));
    EXPECT_FALSE(n.inbound(*pub, server, t0 + 70s));
}

TEST(nat, each_flow_of_a_mapping_has_its_own_filter_lifetime) {
    // EIM + APDF: the port lives while one flow does, but only live flows admit.
    auto c = config(ni::nat_mapping::endpoint_independent,
                    ni::nat_filtering::address_and_port_dependent);
    c.mapping_lifetime = 30s;
    ni::nat n(c);
    const auto pub = n.outbound(host_a, peer, t0);
    ASSERT_EQ(n.outbound(host_a, server, t0 + 20s), pub);
    EXPECT_FALSE(n.inbound(*pub, peer, t0 + 40s));  // the flow to peer expired
    EXPECT_EQ(n.stats().dropped_filtered, 1U);
    EXPECT_TRUE(n.inbound(*pub, server, t0 + 40s));
}

TEST(nat, hairpinning_turns_datagrams_around_only_when_on) {
    for (bool on : {false, true}) {
        SCOPED_TRACE(on);
        auto c =
            config(ni::nat_mapping::endpoint_independent, ni::nat_filtering::endpoint_independent);
        c.hairpinning = on;
        ni::nat n(c);
        const auto pub_b = n.outbound(host_b, server, t0);
        const auto pub_a = n.outbound(host_a, server, t0);
        ASSERT_TRUE(pub_a && pub_b);
        EXPECT_TRUE(n.is_public(*pub_b));
        EXPECT_FALSE(n.is_public(server));
        const auto h = n.hairpin(host_a, *pub_b, t0);
        EXPECT_EQ(h.has_value(), on);
        EXPECT_EQ(n.stats().dropped_hairpin, on ? 0U : 1U);
        if (h) {
            EXPECT_EQ(h->from, *pub_a);  // the sender's public mapping, not its private address
            EXPECT_EQ(h->to, host_b);
            EXPECT_EQ(n.stats().hairpinned, 1U);
        }
    }
}

TEST(nat, a_full_table_drops_new_flows_and_expiry_makes_room) {
    auto c = config(ni::nat_mapping::endpoint_independent, ni::nat_filtering::endpoint_independent);
    c.max_flows = 2;
    c.mapping_lifetime = 10s;
    ni::nat n(c);
    EXPECT_TRUE(n.outbound(host_a, server, t0));
    EXPECT_TRUE(n.outbound(host_a, peer, t0 + 1s));
    EXPECT_FALSE(n.outbound(host_b, server, t0 + 2s));
    EXPECT_FALSE(n.outbound(host_a, server_other_port, t0 + 2s));
    EXPECT_EQ(n.stats().dropped_table_full, 2U);
    EXPECT_TRUE(n.outbound(host_a, server, t0 + 3s));  // an existing flow still passes
    EXPECT_EQ(n.flows(), 2U);
    // The flow to peer expires at 11 s and frees a slot.
    EXPECT_TRUE(n.outbound(host_b, server, t0 + 11s));
    EXPECT_EQ(n.flows(), 2U);
    EXPECT_EQ(n.stats().flows_expired, 1U);
}

TEST(nat, port_allocation_policies) {
    {
        auto c = config(ni::nat_mapping::address_and_port_dependent,
                        ni::nat_filtering::address_and_port_dependent);
        c.ports = ni::nat_port_allocation::sequential;
        c.first_port = 50000;
        c.last_port = 50002;
        ni::nat n(c);
        EXPECT_EQ(n.outbound(host_a, server, t0)->port, 50000);
        EXPECT_EQ(n.outbound(host_a, peer, t0)->port, 50001);
        EXPECT_EQ(n.outbound(host_b, peer, t0)->port, 50002);
        EXPECT_FALSE(n.outbound(host_b, server, t0));  // range exhausted
        EXPECT_EQ(n.stats().dropped_no_port, 1U);
    }
    {
        auto c = config(ni::nat_mapping::address_and_port_dependent,
                        ni::nat_filtering::address_and_port_dependent);
        c.ports = ni::nat_port_allocation::random;
        c.seed = neutrino::test::test_seed(40);
        auto ports = [&c] {
            ni::nat n(c);
            std::vector<std::uint16_t> v;
            for (std::uint16_t i = 1; i <= 20; ++i) {
                v.push_back(n.outbound(host_a, peer_address::v4({198, 51, 100, 1}, i), t0)->port);
            }
            return v;
        };
        const auto first = ports();
        EXPECT_EQ(ports(), first);  // reproducible from the seed
        EXPECT_EQ(std::set<std::uint16_t>(first.begin(), first.end()).size(), first.size());
        EXPECT_TRUE(std::all_of(first.begin(), first.end(),
                                [&c](std::uint16_t p) { return p >= c.first_port; }));
        // Not sequential: some step between consecutive ports is not +1.
        bool jumped = false;
        for (std::size_t i = 1; i < first.size(); ++i) jumped |= first[i] != first[i - 1] + 1;
        EXPECT_TRUE(jumped);
    }
}

TEST(nat, invalid_configurations_throw) {
    ni::nat_config c;
    EXPECT_THROW(ni::nat{c}, std::invalid_argument);  // no public address
    c.public_address = wan;
    c.mapping_lifetime = 0s;
    EXPECT_THROW(ni::nat{c}, std::invalid_argument);
    c.mapping_lifetime = 1s;
    c.first_port = 2000;
    c.last_port = 1000;
    EXPECT_THROW(ni::nat{c}, std::invalid_argument);
    c.last_port = 3000;
    c.max_flows = 0;
    EXPECT_THROW(ni::nat{c}, std::invalid_argument);
    c.max_flows = 1;
    EXPECT_NO_THROW(ni::nat{c});
}
