// qotp::endpoint on the project's simulator (inspector::simulator, virtual time): it models
// neutrino::datagram_layer, so the driver every other stack runs on runs it unchanged. Two
// endpoints complete a 1-RTT and a 0-RTT handshake and move 1 MB over stream 0, at 0 % and at
// 5 % loss each way, byte for byte. Also on base's memory_link, with every 10th datagram lost.

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/simulator.hpp"
#include "neutrino/memory_link.hpp"
#include "neutrino/qotp/endpoint.hpp"
#include "neutrino/qotp/key_source.hpp"
#include "qotp_sim.hpp"

namespace {

namespace qotp = neutrino::qotp;
namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using qotp_sim::bytes;

static_assert(neutrino::datagram_layer<qotp::endpoint>);

struct flow {
    bool zero_rtt = false;
    double loss = 0.0;
    std::uint64_t seed = 1;
};

std::string flow_name(const testing::TestParamInfo<flow>& info) {
    return std::string(info.param.zero_rtt ? "zero_rtt" : "one_rtt") + "_loss" +
           std::to_string(static_cast<int>(info.param.loss * 100));
}

class qotp_driver_sim : public testing::TestWithParam<flow> {};

// The client dials, sends 1 MB on stream 0 (the first bytes before the first poll, so a 0-RTT
// handshake carries them), the server reads it all; both run on the simulator's virtual time.
TEST_P(qotp_driver_sim, handshake_and_one_megabyte_byte_exact) {
    const flow f = GetParam();
    qotp::deterministic_key_source client_keys(f.seed * 2 + 1);
    qotp::deterministic_key_source server_keys(f.seed * 2 + 2);
    const qotp::private_key server_identity = server_keys.generate();
    qotp::endpoint_config client_config;
    client_config.accept = false;
    qotp::endpoint client(client_config, client_keys, client_keys.generate());
    qotp::endpoint server(qotp::endpoint_config{}, server_keys, server_identity);

    const auto client_address = neutrino::peer_address::v4({10, 0, 0, 1}, 4000);
    const auto server_address = neutrino::peer_address::v4({10, 0, 0, 2}, 4433);
    ni::simulator_config sc;
    sc.a_to_b.delay = 10ms;
    sc.b_to_a.delay = 10ms;
    sc.a_to_b.drop = f.loss;
    sc.b_to_a.drop = f.loss;
    sc.seed = f.seed;
    sc.start = neutrino::time_point{} + 1h;
    ni::simulator<qotp::endpoint, qotp::endpoint> sim(client, client_address, server,
                                                       server_address, sc);

    std::optional<qotp::connection_id> accepted;
    std::size_t readable_at_accept = 0;
    std::vector<qotp::endpoint_event> closed;
    sim.on_b_event = [&](const qotp::endpoint_event& e) {
        if (e.what == qotp::endpoint_event::kind::accepted) {
            accepted = e.id;
            readable_at_accept = server.find(e.id)->readable();
        } else {
            closed.push_back(e);
        }
    };
    sim.on_a_event = [&](const qotp::endpoint_event& e) { closed.push_back(e); };

    const bytes data = qotp_sim::pattern(std::size_t{1} << 20, static_cast<std::uint32_t>(f.seed));
    const auto id = client.connect(
        server_address, sim.now(),
        f.zero_rtt ? std::optional<qotp::public_key>(server.identity()) : std::nullopt);
    ASSERT_TRUE(id);
    std::size_t sent = 0;
    qotp_sim::pump(*client.find(*id), data, sent);  // 0-RTT: rides in the InitCryptoSnd
    ASSERT_GT(sent, 0U);

    bytes received;
    received.reserve(data.size());
    const auto limit = sim.now() + 10min;
    while (received.size() < data.size() && sim.now() < limit && closed.empty()) {
        if (auto* c = client.find(*id)) qotp_sim::pump(*c, data, sent);
        if (accepted) {
            if (auto* s = server.find(*accepted)) qotp_sim::drain(*s, received);
        }
        sim.step(limit);
    }

    EXPECT_TRUE(closed.empty()) << closed.front().error.message();
    ASSERT_TRUE(accepted);
    EXPECT_EQ(*accepted, *id);
    ASSERT_NE(client.find(*id), nullptr);
    EXPECT_EQ(client.find(*id)->phase(), qotp::phase::ready);
    EXPECT_EQ(server.find(*accepted)->zero_rtt(), f.zero_rtt);
    // 0-RTT: the first stream bytes were readable as the connection was accepted; 1-RTT: none.
    if (f.zero_rtt) {
        EXPECT_GT(readable_at_accept, 0U);
    } else {
        EXPECT_EQ(readable_at_accept, 0U);
    }
    ASSERT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data);
    EXPECT_EQ(server.stats().connections_accepted, 1U);
    if (f.loss > 0.0) {
        EXPECT_GT(sim.a_to_b().stats().dropped(), 0U);
        EXPECT_GT(sim.b_to_a().stats().dropped(), 0U);
    } else {
        EXPECT_EQ(sim.a_to_b().stats().dropped() + sim.b_to_a().stats().dropped(), 0U);
        EXPECT_EQ(sim.stats().rejected_by_a + sim.stats().rejected_by_b, 0U);
    }
    EXPECT_EQ(sim.stats().misaddressed, 0U);
}

// The other in-memory driver: base's memory_link (no impairment model; a filter loses every
// tenth datagram each way).
TEST(qotp_driver_memory_link, handshake_and_256_kilobytes_with_every_tenth_datagram_lost) {
    qotp::deterministic_key_source client_keys(41);
    qotp::deterministic_key_source server_keys(42);
    qotp::endpoint_config client_config;
    client_config.accept = false;
    qotp::endpoint client(client_config, client_keys, client_keys.generate());
    qotp::endpoint server(qotp::endpoint_config{}, server_keys, server_keys.generate());
    const auto client_address = neutrino::peer_address::opaque({1}, 1);
    const auto server_address = neutrino::peer_address::opaque({2}, 1);
    neutrino::memory_link<qotp::endpoint, qotp::endpoint> link(
        client, client_address, server, server_address, 5ms, neutrino::time_point{} + 1h);
    std::size_t crossing = 0;
    link.set_filter([&crossing](auto&) { return ++crossing % 10 != 0; });
    std::optional<qotp::connection_id> accepted;
    link.on_b_event = [&](const qotp::endpoint_event& e) {
        if (e.what == qotp::endpoint_event::kind::accepted) accepted = e.id;
    };

    const bytes data = qotp_sim::pattern(std::size_t{256} * 1024, 7);
    const auto id = client.connect(server_address, link.now());
    ASSERT_TRUE(id);
    std::size_t sent = 0;
    bytes received;
    const auto limit = link.now() + 5min;
    while (received.size() < data.size() && link.now() < limit) {
        if (auto* c = client.find(*id)) qotp_sim::pump(*c, data, sent);
        if (accepted) {
            if (auto* s = server.find(*accepted)) qotp_sim::drain(*s, received);
        }
        if (!link.step(limit)) break;
    }
    ASSERT_TRUE(accepted);
    EXPECT_EQ(client.find(*id)->phase(), qotp::phase::ready);
    ASSERT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data);
    EXPECT_GT(link.lost, 0U);
    EXPECT_EQ(link.misaddressed, 0U);
}

INSTANTIATE_TEST_SUITE_P(all, qotp_driver_sim,
                         testing::Values(flow{false, 0.0, 1}, flow{true, 0.0, 2},
                                         flow{false, 0.05, 3}, flow{true, 0.05, 4}),
                         flow_name);

}  // namespace
