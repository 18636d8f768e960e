// The congestion-control slot of the reliable layer: a controller given as a template argument
// hears every DATA datagram sent, every acknowledgement (bytes, RTT sample) and every
// retransmission served, and has the last word on can_send; the RTT estimate is RFC 9002's.
// On the simulator's virtual time, at 5% loss both ways.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/congestion/cubic.hpp"
#include "neutrino/congestion/fixed_window.hpp"
#include "neutrino/inspector/simulator.hpp"
#include "reliable_support.hpp"

namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using namespace neutrino::reliable_test;

namespace {

/// What the controllers were told (shared by every copy, both ends).
struct counts {
    std::size_t sent = 0, sent_bytes = 0, acked_bytes = 0, acks = 0, rtt_samples = 0, lost = 0;
    std::size_t max_in_flight_asked = 0;
};

/// A window of `limit` bytes that counts what it was told.
struct counting_controller {
    static inline counts c;
    static constexpr std::size_t limit = 4 * 1280;

    void on_sent(std::size_t n, neutrino::time_point) noexcept {
        ++c.sent;
        c.sent_bytes += n;
    }
    void on_acknowledged(const neutrino::congestion::ack_sample& s) noexcept {
        ++c.acks;
        c.acked_bytes += s.bytes;
        if (s.rtt > neutrino::duration::zero()) ++c.rtt_samples;
    }
    void on_lost(const neutrino::congestion::loss_sample&) noexcept { ++c.lost; }
    void on_persistent_congestion(neutrino::time_point) noexcept {}
    void on_idle_restart(neutrino::time_point) noexcept {}
    [[nodiscard]] std::size_t window() const noexcept { return limit; }
    [[nodiscard]] double pacing_rate() const noexcept { return 0; }
    [[nodiscard]] bool can_send(std::size_t in_flight, neutrino::time_point) const noexcept {
        c.max_in_flight_asked = std::max(c.max_in_flight_asked, in_flight);
        return in_flight < limit;
    }
};
static_assert(neutrino::congestion::congestion_controller<counting_controller>);

using slot_client = nr::basic_client<core_client, counting_controller>;
using slot_server = nr::basic_server<core_server, counting_controller>;

}  // namespace

TEST(congestion_slot, the_controller_governs_and_hears_everything) {
    counting_controller::c = counts{};
    slot_client client(client_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(test_seed(301)));
    slot_server server(server_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(test_seed(302)));
    ni::simulator_config sc;
    sc.a_to_b.drop = 0.05;
    sc.b_to_a.drop = 0.05;
    sc.a_to_b.delay = 10ms;
    sc.b_to_a.delay = 10ms;
    sc.seed = test_seed(303);
    ni::simulator<slot_client, slot_server> sim(client, neutrino::test::client_address, server,
                                                neutrino::test::server_address, sc);
    std::vector<std::string> received;
    sim.on_b_event = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) received.emplace_back(nc::as_string(e.words[0]));
    };
    ASSERT_TRUE(client.connect(sim.now()));
    // Both ends: a lost HELLO3 leaves the server pending, and that session then expires.
    ASSERT_TRUE(sim.run_until([&] { return client.established() && server.can_send(client.session_id()); }, 30s));
    const std::uint64_t sid = client.session_id();

    constexpr std::size_t n = 400;
    const std::string filler(1000, 'x');
    std::size_t next = 0;
    std::size_t max_unacked = 0;
    ASSERT_TRUE(sim.run_until(
        [&] {
            while (next < n && client.can_send()) {
                const std::string id = std::to_string(next);
                if (!client.send(nc::words(id, filler), sim.now())) break;
                ++next;
            }
            max_unacked = std::max(max_unacked, client.unacknowledged());
            return received.size() == n;
        },
        300s)) << "received " << received.size() << " next " << next << " unacked "
                << client.unacknowledged() << " in flight asked " << counting_controller::c.max_in_flight_asked
                << " state " << static_cast<int>(client.state());
    EXPECT_EQ(client.session_id(), sid);  // one session carried everything
    // Exactly once, in order, under the controller's small window.
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(received[i], std::to_string(i));
    // The controller's window (4 datagrams of ~1 KB), not the 512-packet send window, bounded
    // what was in flight.
    EXPECT_LE(max_unacked, 5u);
    EXPECT_LT(counting_controller::c.max_in_flight_asked, counting_controller::limit + 1280);
    // It heard everything: every DATA datagram sent (both ends' controllers share the
    // counters; the server sends no DATA here), acknowledgements with RTT samples, losses.
    EXPECT_GE(counting_controller::c.sent, n);
    EXPECT_GT(counting_controller::c.acked_bytes, n * 1000);
    EXPECT_GT(counting_controller::c.rtt_samples, 0u);
    EXPECT_GT(counting_controller::c.lost, 0u);
    // The estimator saw the 20 ms round trip.
    EXPECT_GE(client.rtt_estimator().min_rtt(), 20ms);
    EXPECT_LT(client.rtt_estimator().smoothed(), 200ms);
}

// fixed_window is the behaviour before congestion control: can_send allows exactly the send window.
TEST(congestion_slot, fixed_window_allows_the_send_window) {
    using fixed_client = nr::basic_client<core_client, neutrino::congestion::fixed_window>;
    using fixed_server = nr::basic_server<core_server, neutrino::congestion::fixed_window>;
    nr::config rcfg;
    rcfg.send_window = 16;
    fixed_client client(client_cfg(), rcfg, nc::null_observer{}, neutrino::seeded_random(test_seed(311)));
    fixed_server server(server_cfg(), rcfg, nc::null_observer{}, neutrino::seeded_random(test_seed(312)));
    neutrino::memory_link<fixed_client, fixed_server> link(client, neutrino::test::client_address, server,
                                                           neutrino::test::server_address);
    ASSERT_TRUE(client.connect(link.now()));
    ASSERT_TRUE(link.run_until([&] { return client.established(); }, 5s));
    std::size_t sent = 0;
    while (client.can_send() && client.send(nc::words(std::string(1200, 'y')), link.now())) ++sent;
    EXPECT_EQ(sent, 16u);
    EXPECT_EQ(client.controller().window(), 16u * nc::max_datagram_size);
}

// cubic over the reliable layer: full datagrams, starting at its initial window of ten, not the
// send window. (The default stays fixed_window: see congestion_bottleneck_test.cpp.)
TEST(congestion_slot, cubic_starts_at_its_initial_window_of_full_datagrams) {
    using cubic_client = nr::basic_client<core_client, neutrino::congestion::cubic>;
    using cubic_server = nr::basic_server<core_server, neutrino::congestion::cubic>;
    cubic_client client(client_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(test_seed(321)));
    cubic_server server(server_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(test_seed(322)));
    neutrino::memory_link<cubic_client, cubic_server> link(client, neutrino::test::client_address, server,
                                                           neutrino::test::server_address);
    ASSERT_TRUE(client.connect(link.now()));
    ASSERT_TRUE(link.run_until([&] { return client.established(); }, 5s));
    std::size_t sent = 0;
    while (client.can_send() && client.send(nc::words(std::string(1200, 'y')), link.now())) ++sent;
    EXPECT_EQ(client.controller().window(), 10u * nc::max_datagram_size);
    EXPECT_GE(sent, 9u);  // datagrams of ~1.2 KB fill the 12.8 KB window
    EXPECT_LE(sent, 11u);
}
