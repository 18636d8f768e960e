#include "neutrino/core/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/memory_link.hpp"
#include "test_dialects.hpp"
#include "test_support.hpp"

// The server machine on virtual time: pending expiry, many clients, send_to_all, shutdown.
// spec: neutrino.md §10.2, §10.4, §11.3

namespace nc = neutrino::core;
using neutrino::peer_address;
using neutrino::time_point;
using namespace std::chrono_literals;

namespace {

using client_type = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
using server_type = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;

/// An event with its words copied out of the machine's buffer.
struct rec {
    nc::event_kind kind;
    std::uint64_t sid;
    peer_address peer;
    std::error_code reason;
    std::vector<std::string> words;
    time_point at;
};

rec copy(const nc::event& e, time_point at) {
    return {e.kind, e.session_id, e.peer, e.reason, neutrino::test::to_strings(e.words), at};
}

std::size_t count(const std::vector<rec>& v, nc::event_kind k) {
    return static_cast<std::size_t>(
        std::count_if(v.begin(), v.end(), [k](const rec& r) { return r.kind == k; }));
}

/// One server and N clients, each at its own address, on a virtual clock with no latency:
/// every datagram is delivered as soon as it is polled. (memory_link joins two layers only.)
struct star {
    explicit star(std::size_t n, nc::server_config cfg = neutrino::test::pair::server_cfg())
        : server(std::move(cfg), nc::null_observer{}, neutrino::seeded_random(777)) {
        for (std::size_t i = 0; i < n; ++i) {
            const auto a = peer_address::v4({10, 0, static_cast<std::uint8_t>(i / 250),
                                             static_cast<std::uint8_t>(1 + i % 250)},
                                            static_cast<std::uint16_t>(5000 + i));
            clients.push_back(std::make_unique<client_type>(neutrino::test::pair::client_cfg(),
                                                            nc::null_observer{},
                                                            neutrino::seeded_random(i + 1)));
            addresses.push_back(a);
            index[a] = i;
            client_events.emplace_back();
        }
    }

    /// Delivers everything queued, repeatedly, until every machine is quiet.
    void pump() {
        std::array<std::byte, nc::max_datagram_size> buf;
        for (bool more = true; more;) {
            more = false;
            for (std::size_t i = 0; i < clients.size(); ++i) {
                while (auto e = clients[i]->poll_event()) client_events[i].push_back(copy(*e, now));
                while (auto t = clients[i]->poll_datagram(buf, now)) {
                    more = true;
                    if (lose_to_server) continue;
                    (void)server.handle_datagram({buf.data(), t->size}, addresses[i], now);
                    while (auto e = server.poll_event()) server_events.push_back(copy(*e, now));
                }
            }
            while (auto e = server.poll_event()) server_events.push_back(copy(*e, now));
            while (auto t = server.poll_datagram(buf, now)) {
                more = true;
                auto it = index.find(t->to);
                if (it == index.end()) {
                    ++misaddressed;
                    continue;
                }
                client_type& c = *clients[it->second];
                (void)c.handle_datagram({buf.data(), t->size}, neutrino::test::server_address, now);
                while (auto e = c.poll_event()) client_events[it->second].push_back(copy(*e, now));
            }
        }
    }

    /// Advances the clock 1 ms at a time, running every due timer, for `d`.
    void advance(neutrino::duration d) {
        const time_point end = now + d;
        while (now < end) {
            now += 1ms;
            for (auto& c : clients) {
                if (auto t = c->deadline(); t && *t <= now) c->handle_deadline(now);
            }
            if (auto t = server.deadline(); t && *t <= now) server.handle_deadline(now);
            pump();
        }
    }

    void connect_all() {
        for (auto& c : clients) ASSERT_TRUE(c->connect(now));
        pump();
    }

    server_type server;
    std::vector<std::unique_ptr<client_type>> clients;
    std::vector<peer_address> addresses;
    std::unordered_map<peer_address, std::size_t, neutrino::peer_address_hash> index;
    std::vector<std::vector<rec>> client_events;
    std::vector<rec> server_events;
    time_point now{};
    std::size_t misaddressed = 0;
    bool lose_to_server = false;
};

}  // namespace

TEST(server, hundred_clients_each_with_its_own_session) {
    star s(100);
    s.connect_all();
    ASSERT_EQ(s.server.session_count(), 100U);
    EXPECT_EQ(s.server.pending_count(), 0U);
    EXPECT_EQ(count(s.server_events, nc::event_kind::established), 100U);
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < 100; ++i) {
        ASSERT_TRUE(s.clients[i]->established()) << i;
        const std::uint64_t sid = s.clients[i]->session_id();
        EXPECT_EQ(s.server.state_of(sid), nc::session_state::established);
        EXPECT_EQ(s.server.peer_of(sid), s.addresses[i]);
        ids.push_back(sid);
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "session ids must be unique";

    // every client's DATA arrives under its own session and address
    s.server_events.clear();
    for (std::size_t i = 0; i < 100; ++i) {
        ASSERT_TRUE(s.clients[i]->send(nc::words("from", std::to_string(i)), s.now));
    }
    s.pump();
    ASSERT_EQ(s.server_events.size(), 100U);
    for (const rec& r : s.server_events) {
        ASSERT_EQ(r.kind, nc::event_kind::data);
        const std::size_t i = std::stoul(r.words.at(1));
        EXPECT_EQ(r.sid, s.clients[i]->session_id());
        EXPECT_EQ(r.peer, s.addresses[i]);
    }

    // send_to_all reaches each client exactly once
    for (auto& v : s.client_events) v.clear();
    EXPECT_EQ(s.server.send_to_all(nc::words("broadcast"), s.now), 100U);
    s.pump();
    for (std::size_t i = 0; i < 100; ++i) {
        ASSERT_EQ(s.client_events[i].size(), 1U) << i;
        EXPECT_EQ(s.client_events[i][0].words, std::vector<std::string>{"broadcast"});
    }
    // a directed send reaches only its client
    for (auto& v : s.client_events) v.clear();
    ASSERT_TRUE(s.server.send(s.clients[42]->session_id(), nc::words("only 42"), s.now));
    s.pump();
    for (std::size_t i = 0; i < 100; ++i) {
        EXPECT_EQ(s.client_events[i].size(), i == 42 ? 1U : 0U) << i;
    }
    EXPECT_EQ(s.misaddressed, 0U);

    // idle for 3 s: keep-alives hold every session
    s.advance(3s);
    EXPECT_EQ(s.server.session_count(), 100U);
    for (auto& c : s.clients) EXPECT_TRUE(c->established());

    // one client leaves
    s.server_events.clear();
    s.clients[7]->close(s.now);
    s.pump();
    EXPECT_EQ(s.server.session_count(), 99U);
    ASSERT_EQ(count(s.server_events, nc::event_kind::closed), 1U);
    EXPECT_EQ(s.server_events.back().reason, nc::make_error_code(nc::errc::closed));
    EXPECT_EQ(s.server.send_to_all(nc::words("x"), s.now), 99U);
    s.pump();

    // shutdown reaches every established client
    s.server_events.clear();
    for (auto& v : s.client_events) v.clear();
    s.server.shutdown(s.now);
    s.pump();
    EXPECT_EQ(s.server.session_count(), 0U);
    EXPECT_EQ(count(s.server_events, nc::event_kind::closed), 99U);
    for (const rec& r : s.server_events) {
        EXPECT_EQ(r.reason, nc::make_error_code(nc::errc::draining));
    }
    for (std::size_t i = 0; i < 100; ++i) {
        if (i == 7) continue;
        EXPECT_EQ(s.clients[i]->state(), nc::session_state::draining) << i;
        EXPECT_EQ(count(s.client_events[i], nc::event_kind::server_shutdown), 1U) << i;
    }
    EXPECT_FALSE(s.server.deadline().has_value());
}

TEST(server, shutdown_reaches_more_clients_than_the_send_queue_holds) {
    auto cfg = neutrino::test::pair::server_cfg();
    cfg.send_queue_capacity = 4;
    star s(10, cfg);
    for (std::size_t i = 0; i < 10; ++i) {  // one at a time: HELLO2s fit the small queue
        ASSERT_TRUE(s.clients[i]->connect(s.now));
        s.pump();
    }
    ASSERT_EQ(s.server.session_count(), 10U);
    s.server.shutdown(s.now);
    EXPECT_TRUE(s.server.is_shut_down());
    s.pump();
    for (std::size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(s.clients[i]->state(), nc::session_state::draining) << i;
    }
    // afterwards everything is dropped
    s.advance(3100ms);  // clients drain (2000 ms) and redial (1000 ms later)
    EXPECT_EQ(s.server.session_count(), 0U);
    EXPECT_GE(s.server.stats().dropped(nc::errc::closed), 10U);
}

// A layered server's SHUTDOWNs that wait for room in the send queue are sealed after their
// sessions closed: no packet_sent event may name a session after its closed event (the layer
// above would keep state for a session it was told is gone).
TEST(server, shutdown_backlog_reports_no_packet_sent_for_closed_sessions) {
    auto cfg = neutrino::test::pair::server_cfg();
    cfg.send_queue_capacity = 4;
    cfg.dialect = neutrino::test::layered_dialect;
    star s(10, cfg);
    for (std::size_t i = 0; i < 10; ++i) {
        ASSERT_TRUE(s.clients[i]->connect(s.now));
        s.pump();
    }
    ASSERT_EQ(s.server.session_count(), 10U);
    s.server_events.clear();
    s.server.shutdown(s.now);
    s.pump();
    std::vector<std::uint64_t> closed;
    std::size_t sent_before_close = 0;
    for (const auto& r : s.server_events) {
        if (r.kind == nc::event_kind::closed) closed.push_back(r.sid);
        if (r.kind == nc::event_kind::packet_sent) {
            EXPECT_EQ(std::count(closed.begin(), closed.end(), r.sid), 0) << r.sid;
            ++sent_before_close;
        }
    }
    EXPECT_EQ(closed.size(), 10U);
    EXPECT_GE(sent_before_close, 1U);  // the SHUTDOWNs that fitted at once are reported
    EXPECT_LT(sent_before_close, 10U);  // the rest waited for room
    for (std::size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(s.clients[i]->state(), nc::session_state::draining) << i;
    }
}

TEST(server, lost_hello3_pending_entry_expires_after_250_ms) {
    neutrino::test::pair p(31);
    std::vector<rec> server_events, client_events;
    p.link.on_a_event = [&](const nc::event& e) { client_events.push_back(copy(e, p.link.now())); };
    p.link.on_b_event = [&](const nc::event& e) { server_events.push_back(copy(e, p.link.now())); };
    bool hello3_lost = false;
    time_point t_hello2{};
    p.link.set_filter([&](auto& d) {
        if (!d.to_b && d.bytes.at(5) == std::byte{2} && t_hello2 == time_point{}) {
            t_hello2 = p.link.now();  // the first HELLO2 only (sent at 1 ms)
        }
        if (d.to_b && d.bytes.at(5) == std::byte{3} && !hello3_lost) {
            hello3_lost = true;
            return false;
        }
        return true;
    });
    ASSERT_TRUE(p.client.connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.established(); }, 100ms));
    const std::uint64_t sid = p.client.session_id();
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::pending);
    EXPECT_EQ(p.server.pending_count(), 1U);

    ASSERT_TRUE(p.link.run_until([&] { return p.server.session_count() == 0; }, 1000ms));
    ASSERT_EQ(server_events.size(), 1U);
    EXPECT_EQ(server_events[0].kind, nc::event_kind::closed);
    EXPECT_EQ(server_events[0].sid, sid);
    EXPECT_EQ(server_events[0].reason, nc::make_error_code(nc::errc::timed_out));
    // pending lifetime 250 ms from the HELLO1; the scan runs at most every ~100 ms
    const auto lived = server_events[0].at - t_hello2;
    EXPECT_GE(lived, 250ms);
    EXPECT_LE(lived, 350ms);
    EXPECT_EQ(p.server.pending_count(), 0U);

    // the client believes it is connected; its KEEP_ALIVE finds no session, it expires after
    // 1500 ms and redials 1000 ms later (spec: neutrino.md §10.3, about 2.5 s lost)
    ASSERT_TRUE(p.link.run_until(
        [&] { return p.client.established() && p.client.session_id() != sid; }, 3000ms));
    EXPECT_GE(p.server.stats().dropped(nc::errc::unknown_session), 1U);
    const auto closed = std::find_if(client_events.begin(), client_events.end(),
                                     [](const rec& r) { return r.kind == nc::event_kind::closed; });
    ASSERT_NE(closed, client_events.end());
    EXPECT_EQ(closed->reason, nc::make_error_code(nc::errc::timed_out));
    EXPECT_EQ(closed->at - t_hello2, 1500ms + 1ms);  // 1500 ms after HELLO2 arrived
    p.link.run_for(5ms);
    EXPECT_EQ(p.server.state_of(p.client.session_id()), nc::session_state::established);
}

TEST(server, established_session_times_out_without_traffic) {
    neutrino::test::pair p(32);
    ASSERT_TRUE(p.connect());
    const std::uint64_t sid = p.client.session_id();
    p.link.set_filter([](auto&) { return false; });
    p.link.run_for(1400ms);
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);
    p.link.run_for(300ms);
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::none);
    EXPECT_FALSE(p.server.deadline().has_value());
}

TEST(server, drop_session_forgets_without_telling_the_client) {
    neutrino::test::pair p(33);
    ASSERT_TRUE(p.connect());
    const std::uint64_t sid = p.client.session_id();
    p.server.drop_session(sid, p.link.now());
    EXPECT_EQ(p.server.session_count(), 0U);
    ASSERT_FALSE(p.server_events.empty());
    p.link.run_for(1ms);
    EXPECT_EQ(p.server_events.back(), nc::event_kind::closed);
    // the client's next packet is unknown; it times out and comes back with a new session
    ASSERT_TRUE(p.client.send(nc::words("anyone?"), p.link.now()));
    p.link.run_for(5ms);
    EXPECT_GE(p.server.stats().dropped(nc::errc::unknown_session), 1U);
    EXPECT_TRUE(p.server_data.empty());
    ASSERT_TRUE(p.link.run_until(
        [&] { return p.client.established() && p.client.session_id() != sid; }, 3000ms));
}

TEST(server, refused_session_gets_no_answer) {
    auto cfg = neutrino::test::pair::server_cfg();
    std::size_t asked = 0;
    cfg.accept = [&asked](const peer_address&) {
        ++asked;
        return false;
    };
    star s(1, cfg);
    s.connect_all();
    EXPECT_EQ(asked, 1U);
    EXPECT_EQ(s.server.session_count(), 0U);
    EXPECT_EQ(s.server.stats().dropped(nc::errc::refused), 1U);
    EXPECT_EQ(s.server.stats().datagrams_sent, 0U);
    EXPECT_EQ(s.clients[0]->state(), nc::session_state::pending);
}
