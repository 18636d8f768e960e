// Reordering is not loss (RFC 8985 §6.2, kept by the receiver because the requests are its):
// once a requested packet arrives sooner than any answer could, the receiver stops requesting
// gaps on the packet count and waits longer before it asks, so a path that reorders stops
// costing retransmissions, and the congestion controller stops hearing of losses that were
// none. Virtual time, the inspector's simulator; NEUTRINO_TEST_SEED replays.

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <vector>

#include "neutrino/inspector/simulator.hpp"
#include "reliable_support.hpp"

namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using namespace neutrino::reliable_test;

namespace {

struct download_result {
    std::size_t delivered = 0;
    bool in_order = true;
    nr::stats client;
    nr::stats server;
    nr::congestion_state client_cc;
    nr::congestion_state server_cc;
};

/// The server sends `n` numbered 200-byte messages to the client over a 5 ms link that holds
/// 10% of the datagrams back by `delay` (behind later ones), no loss.
template <class Controller>
download_result download(std::size_t n, std::uint64_t seed, std::chrono::milliseconds delay) {
    using client = nr::basic_client<core_client, Controller>;
    using server = nr::basic_server<core_server, Controller>;
    client a(client_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(seed));
    server b(server_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(seed + 1));
    ni::simulator_config sc;
    for (auto* dir : {&sc.a_to_b, &sc.b_to_a}) {
        dir->delay = 5ms;
        dir->reorder = {0.10, 8, delay};
    }
    sc.seed = seed + 2;
    ni::simulator<client, server> sim(a, neutrino::test::client_address, b, neutrino::test::server_address, sc);
    download_result r;
    std::vector<std::byte> msg;
    sim.on_a_event = [&](const nc::event& e) {
        if (e.kind != nc::event_kind::data) return;
        fill_message(msg, 3, r.delivered, 200);
        const auto w = *e.words.begin();
        r.in_order = r.in_order && e.words.size() == 1 && w.size() == msg.size() &&
                     std::equal(w.begin(), w.end(), msg.begin());
        ++r.delivered;
    };
    EXPECT_TRUE(a.connect(sim.now()));
    EXPECT_TRUE(sim.run_until([&] { return a.established() && b.can_send(a.session_id()); }, 10s));
    const auto sid = a.session_id();
    std::size_t sent = 0;
    const auto limit = sim.now() + 60s;
    while (r.delivered < n && sim.now() < limit) {
        while (sent < n && b.can_send(sid)) {
            fill_message(msg, 3, sent, 200);
            const nc::word w(msg);
            if (!b.send(sid, {&w, 1}, sim.now())) break;
            ++sent;
        }
        sim.flush();
        if (!sim.step(limit)) break;
    }
    r.client = a.stats();
    r.server = b.stats();
    r.client_cc = a.congestion();
    r.server_cc = *b.congestion(sid);
    return r;
}

}  // namespace

// 10% of the datagrams arrive 10 ms late (one RTT), behind up to 8 later ones: each would pass
// the packet threshold and a quarter-RTT wait. After the first few requests prove spurious the
// receiver waits instead, so requests stay a handful, not one per reordered packet (~10% of
// 5 000 before this rule), and every message arrives once, in order.
TEST(reordering, spurious_requests_widen_the_wait_instead_of_repeating) {
    const auto r = download<neutrino::congestion::fixed_window>(5000, test_seed(700), 10ms);
    EXPECT_EQ(r.delivered, 5000U);
    EXPECT_TRUE(r.in_order);
    EXPECT_GT(r.client.buffered, 100U) << "the link did not reorder";
    EXPECT_GE(r.client.spurious_requests, 1U);
    EXPECT_LE(r.client.requests_sent, 30U) << r.client.spurious_requests << " spurious";
    EXPECT_LE(r.server.retransmitted, 30U);
}

// A requested packet that arrives at once (before any answer could) is no RTT sample: the RTT
// stays the path's (10 ms), where it used to be pulled towards zero and every timer with it.
// The server, which has no echoed timestamps, takes its RTT from the timing of the
// acknowledgements of its DATA.
TEST(reordering, early_arrivals_are_no_rtt_samples) {
    const auto r = download<neutrino::congestion::fixed_window>(5000, test_seed(701), 10ms);
    EXPECT_EQ(r.delivered, 5000U);
    EXPECT_GE(r.client_cc.smoothed_rtt, 8ms);
    EXPECT_GE(r.client_cc.min_rtt, 8ms);
    EXPECT_GE(r.server_cc.smoothed_rtt, 8ms);
    EXPECT_GE(r.server_cc.min_rtt, 8ms);
}

// With bbr (the default controller) the same holds: no retransmission storm, so the
// controller hears of (almost) no loss where there was none.
TEST(reordering, the_default_controller_hears_of_no_loss_that_was_none) {
    const auto r = download<neutrino::congestion::bbr>(5000, test_seed(702), 10ms);
    EXPECT_EQ(r.delivered, 5000U);
    EXPECT_TRUE(r.in_order);
    EXPECT_LE(r.server.retransmitted, 30U);
}
