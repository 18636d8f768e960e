#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "neutrino/memory_link.hpp"
#include "test_dialects.hpp"
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

namespace {
// Counts what the core reports as retransmitted.
struct retransmission_counter : nc::null_observer {
    std::shared_ptr<std::size_t> count = std::make_shared<std::size_t>(0);
    std::shared_ptr<std::vector<std::uint64_t>> pns = std::make_shared<std::vector<std::uint64_t>>();
    void on_packet_retransmitted(const nc::packet_info& info, neutrino::time_point) {
        ++*count;
        pns->push_back(info.packet_number);
        EXPECT_EQ(info.type, nc::packet_type::data);
        EXPECT_FALSE(info.wire.empty());
    }
};
}  // namespace

TEST(reliable, retransmissions_reach_the_observer_with_their_packet_numbers) {
    using counted_client =
        nr::basic_client<nc::basic_client<nc::wire::v2, retransmission_counter, neutrino::seeded_random>>;
    using pair = neutrino::test::basic_pair<counted_client, server_t>;
    pair p;
    int n = 0;
    p.link.set_filter([&n](auto& d) { return !(d.to_b && d.bytes.size() > 100 && ++n % 5 == 2); });
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.established(); }, 30s));
    for (int i = 0; i < 50; ++i) {
        while (!p.client.can_send()) p.link.step(p.link.now() + 1s);
        ASSERT_TRUE(p.client.send(nc::words("m" + std::to_string(i) + std::string(200, 'p')), p.link.now()));
    }
    ASSERT_TRUE(p.link.run_until([&] { return p.server_data.size() == 50; }, 30s));
    ASSERT_GT(n, 10);  // the filter did drop DATA
    const auto& obs = p.client.next_layer().observer();
    EXPECT_GT(*obs.count, 0U);
    EXPECT_EQ(*obs.count, p.client.stats().retransmitted);
    for (auto pn : *obs.pns) EXPECT_GE(pn, 64U);  // real packet numbers, not placeholders
}

TEST(reliable, an_idle_client_sends_keep_alives_only_every_475_ms) {
    using pair = neutrino::test::basic_pair<client_t, server_t>;
    pair p;
    std::size_t client_datagrams = 0;
    p.link.set_filter([&](auto& d) {
        if (d.to_b) ++client_datagrams;
        return true;
    });
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.established(); }, 30s));
    p.link.run_for(100ms);
    client_datagrams = 0;
    p.link.run_for(10s);
    // spec: neutrino.md §11.1: one KEEP_ALIVE per ~475 ms of idleness, answered once each;
    // the answers must not be acknowledged with more KEEP_ALIVEs
    EXPECT_GE(client_datagrams, 18U);
    EXPECT_LE(client_datagrams, 23U);
    EXPECT_TRUE(p.client.established());
}

namespace {
struct rtt_counter : nc::null_observer {
    std::shared_ptr<std::vector<neutrino::duration>> samples =
        std::make_shared<std::vector<neutrino::duration>>();
    void on_rtt_sample(std::uint64_t, nc::role, neutrino::duration rtt, neutrino::time_point) {
        samples->push_back(rtt);
    }
};
}  // namespace

TEST(reliable, rtt_samples_reach_the_observer) {
    using timed_client =
        nr::basic_client<nc::basic_client<nc::wire::v2, rtt_counter, neutrino::seeded_random>>;
    using pair = neutrino::test::basic_pair<timed_client, server_t>;
    pair p;  // the memory link's latency is 1 ms each way
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.established(); }, 30s));
    p.link.run_for(2s);  // idle keep-alives, each answered with the echoed timestamp
    const auto& samples = *p.client.next_layer().observer().samples;
    ASSERT_GE(samples.size(), 3U);
    for (auto s : samples) EXPECT_LE(s, std::chrono::milliseconds(3));
}

namespace {
struct congestion_log : nc::null_observer {
    struct entry {
        nc::congestion_info info;
        neutrino::time_point at;
    };
    std::shared_ptr<std::vector<entry>> reports = std::make_shared<std::vector<entry>>();
    void on_congestion(std::uint64_t, nc::role, const nc::congestion_info& i, neutrino::time_point now) {
        reports->push_back({i, now});
    }
};
}  // namespace

// The observer hears where the sender's controller stands (bbr by default): its window, rate,
// flight, RTT and state, at most once per RTT (10 ms at least), never per acknowledgement.
TEST(reliable, congestion_state_reaches_the_observer_once_per_rtt) {
    using observed_server =
        nr::basic_server<nc::basic_server<nc::wire::v2, congestion_log, neutrino::seeded_random>>;
    using pair = neutrino::test::basic_pair<client_t, observed_server>;
    pair p;
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.server.can_send(p.client.session_id()); }, 30s));
    const auto sid = p.client.session_id();
    std::size_t sent = 0;
    const auto until = p.link.now() + 1s;
    while (p.link.now() < until) {  // a bulk transfer for a second
        while (p.server.can_send(sid) && p.server.send(sid, nc::words(std::string(1000, 'x')), p.link.now())) ++sent;
        p.link.run_for(1ms);
    }
    const auto& reports = *p.server.next_layer().observer().reports;
    ASSERT_GE(reports.size(), 10U);
    std::set<std::string> states;
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const auto& r = reports[i];
        EXPECT_GT(r.info.window, 0U);
        EXPECT_GT(r.info.pacing_rate, 0.0);  // bbr paces
        states.insert(r.info.state);
        if (i > 0) {
            EXPECT_GE(r.at - reports[i - 1].at, 10ms);
        }
    }
    EXPECT_TRUE(states.contains("startup")) << "the first reports are bbr's startup";
    for (const auto& s : states) {
        EXPECT_TRUE(s == "startup" || s == "drain" || s.starts_with("probe_")) << s;
    }
    EXPECT_GT(sent, 1000U);
}

// A server shutdown reaches the application (server_shutdown, then closed after draining),
// and the DATA sent before it is still repaired and delivered while the client drains.
TEST(reliable, server_shutdown_drains_the_client_and_delivers_what_came_before) {
    using pair = neutrino::test::basic_pair<client_t, server_t>;
    pair p;
    // Some loss while DATA is outstanding. SERVER_SHUTDOWN itself goes out once, unrepaired
    // (spec: neutrino.md §11.3: a client that misses it times out), so it is spared: it leaves
    // once everything was acknowledged after shutdown().
    int n = 0;
    bool shutdown_called = false;
    p.link.set_filter([&](auto&) {
        if (shutdown_called && p.server.unacknowledged(p.client.session_id()) == 0) return true;
        return ++n % 5 != 2;
    });
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.server.can_send(p.client.session_id()); }, 30s));
    std::vector<std::vector<std::string>> expect;
    for (int i = 0; i < 50; ++i) {
        const std::string s = "s" + std::to_string(i);
        ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words(s), p.link.now()));
        expect.push_back({s});
    }
    shutdown_called = true;
    p.server.shutdown(p.link.now());
    ASSERT_TRUE(p.link.run_until([&] {
        return std::find(p.client_events.begin(), p.client_events.end(), nc::event_kind::server_shutdown) !=
               p.client_events.end();
    }, 5s)) << "no server_shutdown event";
    EXPECT_EQ(p.client.state(), nc::session_state::draining);
    EXPECT_EQ(p.client_data, expect);  // the server lingered until all of it was acknowledged
    p.link.run_for(3s);
    auto shut = std::find(p.client_events.begin(), p.client_events.end(), nc::event_kind::server_shutdown);
    ASSERT_NE(shut + 1, p.client_events.end());
    EXPECT_EQ(*(shut + 1), nc::event_kind::closed);
    EXPECT_FALSE(p.server.shutting_down());
}

// A client that never acknowledges: the server's shutdown lingers for shutdown_linger, then
// ends the session with unrecoverable_loss (not silently) and sends SERVER_SHUTDOWN.
TEST(reliable, shutdown_with_unacknowledged_data_reports_the_loss) {
    using pair = neutrino::test::basic_pair<client_t, server_t>;
    pair p;
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.server.can_send(p.client.session_id()); }, 30s));
    std::error_code server_closed;
    p.link.on_b_event = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::closed) server_closed = e.reason;
    };
    p.link.set_filter([](auto& d) { return d.to_b; });  // nothing reaches the client any more
    ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words("lost"), p.link.now()));
    p.server.shutdown(p.link.now());
    EXPECT_TRUE(p.server.shutting_down());
    auto r = p.server.send(p.client.session_id(), nc::words("late"), p.link.now());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), nc::errc::draining);
    p.link.run_for(2500ms);
    EXPECT_FALSE(p.server.shutting_down());
    EXPECT_EQ(server_closed, nr::errc::unrecoverable_loss);
}

// Core's tests drive the layered paths with a copy of this layer's dialect (core may not name
// reliable); the copy must stay what reliable declares.
TEST(reliable_dialect, core_tests_copy_is_the_layers_declaration) {
    static_assert(neutrino::reliable::wire_dialect == neutrino::test::layered_dialect);
    EXPECT_TRUE(neutrino::reliable::wire_dialect.layered);
    EXPECT_EQ(neutrino::reliable::wire_dialect.keep_alive_u64_words, 2);
    EXPECT_FALSE(neutrino::reliable::wire_dialect.raw_data);
}
