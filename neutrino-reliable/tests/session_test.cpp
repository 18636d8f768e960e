// Unit tests of one reliable session over an in-memory link (1 ms one way, virtual time):
// request service, receive and send windows, giving up, and the KEEP_ALIVE words.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "neutrino/core/observer.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/memory_link.hpp"
#include "reliable_support.hpp"

using namespace std::chrono_literals;
using namespace neutrino::reliable_test;
using neutrino::time_point;

namespace {

struct sent_packet {
    nc::role side;
    nc::packet_type type;
    std::uint64_t pn;
    std::vector<std::uint64_t> u64_words;  // 8-byte words only
    time_point at;
};
struct recording_observer : nc::null_observer {
    std::shared_ptr<std::vector<sent_packet>> log;
    void on_packet_sent(const nc::packet_info& i, time_point now) {
        sent_packet s{i.side, i.type, i.packet_number, {}, now};
        for (nc::word w : i.sent_words) {
            if (w.size() == 8) s.u64_words.push_back(neutrino::load_le<std::uint64_t>(w.data()));
        }
        log->push_back(std::move(s));
    }
};
using rec_client = nr::basic_client<nc::basic_client<nc::wire::v2, recording_observer, neutrino::seeded_random>>;
using rec_server = nr::basic_server<nc::basic_server<nc::wire::v2, recording_observer, neutrino::seeded_random>>;

struct fixture {
    explicit fixture(nr::config ccfg = {}, nr::config scfg = {}, std::uint64_t seed = test_seed(400))
        : client(client_cfg(), ccfg, recording_observer{{}, log}, neutrino::seeded_random(seed)),
          server(server_cfg(), scfg, recording_observer{{}, log}, neutrino::seeded_random(seed + 1)),
          link(client, neutrino::test::client_address, server, neutrino::test::server_address) {
        link.on_a_event = [this](const nc::event& e) {
            if (e.kind == nc::event_kind::data) client_data.push_back(neutrino::test::to_strings(e.words));
            if (e.kind == nc::event_kind::closed) client_closed.push_back({e.reason, link.now()});
        };
        link.on_b_event = [this](const nc::event& e) {
            if (e.kind == nc::event_kind::data) {
                server_data.push_back(neutrino::test::to_strings(e.words));
                server_pns.push_back(e.packet_number);
            }
            if (e.kind == nc::event_kind::closed) server_closed.push_back({e.reason, link.now()});
        };
        client_pns_hook = [this](const nc::event& e) { client_pns.push_back(e.packet_number); };
        auto inner = link.on_a_event;
        link.on_a_event = [this, inner](const nc::event& e) {
            if (e.kind == nc::event_kind::data) client_pns_hook(e);
            inner(e);
        };
    }
    bool connect() {
        if (!client.connect(link.now())) return false;
        return link.run_until([this] { return client.established() && server.can_send(client.session_id()); }, 10s);
    }
    std::shared_ptr<std::vector<sent_packet>> log = std::make_shared<std::vector<sent_packet>>();
    rec_client client;
    rec_server server;
    neutrino::memory_link<rec_client, rec_server> link;
    std::vector<std::vector<std::string>> client_data, server_data;
    std::vector<std::uint64_t> client_pns, server_pns;
    std::function<void(const nc::event&)> client_pns_hook;
    std::vector<std::pair<std::error_code, time_point>> client_closed, server_closed;
};

std::uint64_t sent_by_server(const fixture& f) { return f.server.next_layer().stats().datagrams_sent; }

}  // namespace

TEST(session, requests_for_unknown_or_acknowledged_numbers_are_ignored_and_counted) {
    fixture f;
    ASSERT_TRUE(f.connect());
    const auto sid = f.client.session_id();
    auto sr = f.server.send(sid, nc::words("x"), f.link.now());
    ASSERT_TRUE(sr) << sr.error().message();
    ASSERT_TRUE(f.link.run_until([&] { return f.client_pns.size() == 1; }, 5s));
    const std::uint64_t acked = f.client_pns[0];
    f.link.run_for(50ms);  // the client acknowledges within ack_delay (5 ms)
    // (what stays unacknowledged is the server's own KEEP_ALIVE answer, acked by the next one)
    EXPECT_LE(f.server.unacknowledged(sid), 1U);
    const auto sent = sent_by_server(f);
    const auto ignored = f.server.stats().requests_ignored;
    const auto probes = f.server.stats().probes;
    const auto answers_before = std::count_if(f.log->begin(), f.log->end(), [](const sent_packet& x) {
        return x.side == nc::role::server && x.type == nc::packet_type::keep_alive;
    });
    // never sent (far ahead), long acknowledged, and just acknowledged
    ASSERT_TRUE(f.client.next_layer().send_request(acked + 1000, f.link.now()));
    ASSERT_TRUE(f.client.next_layer().send_request(1, f.link.now()));
    ASSERT_TRUE(f.client.next_layer().send_request(acked, f.link.now()));
    f.link.run_for(5ms);
    EXPECT_EQ(f.server.stats().requests_ignored, ignored + 3);
    EXPECT_EQ(f.server.stats().retransmitted, 0U);
    // the server's own tail-loss probes (of its unacknowledged KEEP_ALIVE answer) may go out
    // and its KEEP_ALIVE answers to the client's own acknowledgements
    const auto answers = std::count_if(f.log->begin(), f.log->end(), [](const sent_packet& x) {
        return x.side == nc::role::server && x.type == nc::packet_type::keep_alive;
    }) - answers_before;
    EXPECT_EQ(sent_by_server(f) - sent, f.server.stats().probes - probes + static_cast<std::uint64_t>(answers))
        << "an ignored request was answered";
    EXPECT_EQ(f.server.state_of(sid), nc::session_state::established);
}

TEST(session, a_request_is_served_at_most_once_per_guard_interval) {
    fixture f;
    ASSERT_TRUE(f.connect());
    const auto sid = f.client.session_id();
    f.link.set_filter([](auto& d) { return !d.to_b; });  // client acknowledgements are lost
    ASSERT_TRUE(f.server.send(sid, nc::words("x"), f.link.now()));
    ASSERT_TRUE(f.link.run_until([&] { return f.client_pns.size() == 1; }, 5s));
    f.link.set_filter({});
    const std::uint64_t pn = f.client_pns[0];
    const auto before = f.server.stats().retransmitted;
    ASSERT_TRUE(f.client.next_layer().send_request(pn, f.link.now()));
    ASSERT_TRUE(f.client.next_layer().send_request(pn, f.link.now()));
    ASSERT_TRUE(f.client.next_layer().send_request(pn, f.link.now()));
    f.link.run_for(2ms);
    EXPECT_EQ(f.server.stats().retransmitted, before + 1) << "served more than once in the guard interval";
    EXPECT_GE(f.server.stats().requests_ignored, 2U);
    EXPECT_EQ(f.client_data.size(), 1U) << "a retransmission was delivered twice";
}

TEST(session, requests_never_change_the_session_address) {
    fixture f;
    ASSERT_TRUE(f.connect());
    const auto sid = f.client.session_id();
    const neutrino::peer_address elsewhere = neutrino::peer_address::v4({10, 9, 8, 7}, 5555);
    ASSERT_TRUE(f.server.send(sid, nc::words("x"), f.link.now()));
    ASSERT_TRUE(f.link.run_until([&] { return f.client_pns.size() == 1; }, 5s));
    // every client datagram now seems to come from elsewhere; the requests among them must not
    // move the session (only the highest numbered packet may, spec: neutrino.md §18.1 item 4)
    f.link.set_filter([&](auto& d) {
        if (d.to_b) d.from = elsewhere;
        return true;
    });
    ASSERT_TRUE(f.client.next_layer().send_request(f.client_pns[0], f.link.now()));
    f.link.run_for(1ms);
    EXPECT_EQ(f.server.next_layer().peer_of(sid), neutrino::test::client_address);
    EXPECT_EQ(f.link.misaddressed, 0U) << "the retransmission went to the request's address";
}

TEST(session, a_packet_beyond_the_receive_window_is_dropped_then_accepted_on_retransmission) {
    nr::config small;
    small.receive_window = 8;
    fixture f({}, small);
    ASSERT_TRUE(f.connect());
    int data_seen = 0;
    f.link.set_filter([&](auto& d) {
        // lose the first client DATA (large datagrams only: KEEP_ALIVEs and requests are small)
        if (d.to_b && d.bytes.size() > 200 && ++data_seen == 1) return false;
        return true;
    });
    std::vector<std::vector<std::string>> expect;
    const std::string pad(300, 'p');
    for (int i = 0; i < 30; ++i) {
        const std::string w = "m" + std::to_string(i) + pad;
        ASSERT_TRUE(f.client.send(nc::words(w), f.link.now()));
        expect.push_back({w});
        f.link.flush();
    }
    ASSERT_TRUE(f.link.run_until([&] { return f.server_data.size() == 30; }, 10s))
        << "delivered " << f.server_data.size() << ", outside_window drops "
        << f.server.next_layer().stats().by_reason[static_cast<std::size_t>(nc::errc::outside_window)]
        << ", requests sent " << f.server.stats().requests_sent << ", retransmitted "
        << f.client.stats().retransmitted << ", ignored " << f.client.stats().requests_ignored
        << ", closed " << f.client_closed.size() << "/" << f.server_closed.size();
    EXPECT_EQ(f.server_data, expect);
    const auto& st = f.server.next_layer().stats();
    EXPECT_GT(st.by_reason[static_cast<std::size_t>(nc::errc::outside_window)], 0U);
    EXPECT_LE(f.server.stats().max_receive_buffered, 8U);
    EXPECT_TRUE(f.client_closed.empty());
}

TEST(session, send_window_would_block_at_the_bound_and_room_returns_after_acknowledgements) {
    nr::config w;
    w.send_window = 4;
    fixture f(w);
    ASSERT_TRUE(f.connect());
    f.link.set_filter([](auto&) { return false; });  // nothing crosses: no acknowledgement
    for (int i = 0; i < 4; ++i) {
        auto r = f.client.send(nc::words("d" + std::to_string(i)), f.link.now());
        ASSERT_TRUE(r) << "DATA #" << i << " of a window of 4: " << r.error().message()
                       << " (unacknowledged " << f.client.unacknowledged() << ")";
    }
    EXPECT_FALSE(f.client.can_send());
    auto r = f.client.send(nc::words("d4"), f.link.now());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(nc::errc::would_block));
    EXPECT_EQ(f.client.unacknowledged(), 4U);
    f.link.set_filter({});
    ASSERT_TRUE(f.link.run_until([&] { return f.client.can_send() && f.server_data.size() == 4; }, 1s));
    EXPECT_TRUE(f.client.send(nc::words("d4"), f.link.now()));
    ASSERT_TRUE(f.link.run_until([&] { return f.server_data.size() == 5; }, 1s));
}

TEST(session, a_peer_that_stops_answering_ends_the_session_with_a_clear_error) {
    fixture f;
    ASSERT_TRUE(f.connect());
    const time_point cut = f.link.now();
    f.link.set_filter([](auto&) { return false; });
    ASSERT_TRUE(f.client.send(nc::words("lost"), f.link.now()));
    ASSERT_TRUE(f.server.send(f.client.session_id(), nc::words("lost too"), f.link.now()));
    ASSERT_TRUE(f.link.run_until([&] { return !f.client_closed.empty() && !f.server_closed.empty(); }, 12s));
    auto clear = [](std::error_code e) {
        return e == make_error_code(nc::errc::timed_out) || e == make_error_code(nr::errc::unrecoverable_loss);
    };
    EXPECT_TRUE(clear(f.client_closed[0].first)) << f.client_closed[0].first.message();
    EXPECT_TRUE(clear(f.server_closed[0].first)) << f.server_closed[0].first.message();
    // the core's 1500 ms expiry (+ the server's 100 ms scan) comes before give_up_after (10 s)
    EXPECT_LE(f.client_closed[0].second - cut, 1600ms);
    EXPECT_LE(f.server_closed[0].second - cut, 1700ms);
    EXPECT_TRUE(f.client_data.empty());
    EXPECT_TRUE(f.server_data.empty());
}

TEST(session, keep_alive_words_timestamp_and_true_contiguous_ack_and_the_echo) {
    fixture f;
    ASSERT_TRUE(f.connect());
    const auto sid = f.client.session_id();
    // three server DATA, the middle one lost once: the client's acknowledgement must be the
    // true contiguous edge at the time it is sent
    int s2c_data = 0;
    f.link.set_filter([&](auto& d) { return d.to_b || d.bytes.size() < 200 || ++s2c_data != 2; });
    const std::string pad(300, 'q');
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.server.send(sid, nc::words("s" + std::to_string(i) + pad), f.link.now()));
    ASSERT_TRUE(f.link.run_until([&] { return f.client_data.size() == 3; }, 5s));
    f.link.run_for(3s);  // idle: keep-alives every ~475 ms
    std::size_t client_kas = 0, answers = 0;
    std::vector<std::uint64_t> stamps;
    for (const auto& s : *f.log) {
        if (s.type != nc::packet_type::keep_alive) continue;
        ASSERT_EQ(s.u64_words.size(), 2U);
        if (s.side == nc::role::client) {
            ++client_kas;
            const auto ms_now = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(s.at.time_since_epoch()).count());
            EXPECT_EQ(s.u64_words[0], ms_now) << "timestamp = the client's clock in ms";
            // ack: every server pn ≤ it was delivered, and it is at least the last delivered DATA
            std::uint64_t edge = 0;
            for (auto pn : f.client_pns) edge = std::max(edge, pn);
            if (s.at > f.link.now() - 2s) {
                EXPECT_GE(s.u64_words[1], edge);
            }
            stamps.push_back(s.u64_words[0]);
        } else {
            ++answers;
            EXPECT_NE(std::find(stamps.begin(), stamps.end(), s.u64_words[0]), stamps.end())
                << "the server's KEEP_ALIVE does not echo a client timestamp";
        }
    }
    EXPECT_GE(client_kas, 4U);
    EXPECT_EQ(answers, client_kas) << "the server answers each KEEP_ALIVE exactly once (lossless link now)";
}

// Memory follows the flight (issue #13): an idle session's receive side holds a few KB (not its
// window of 1024 × 1.3 KB); a lossy flight grows it to what the flight needs, within the
// window, and a second flight like it allocates nothing more.
TEST(session, receive_memory_follows_the_flight) {
    fixture f;
    ASSERT_TRUE(f.connect());
    const auto sid = f.client.session_id();
    f.link.run_for(100ms);
    const std::size_t idle_client = f.client.receive_memory();
    const std::size_t idle_server = f.server.receive_memory();
    std::printf("[session] idle receive memory: client %zu bytes, server (one session) %zu bytes\n", idle_client,
                idle_server);
    EXPECT_LE(idle_client, std::size_t{16 * 1024});
    EXPECT_LE(idle_server, std::size_t{16 * 1024});
    const std::string pad(1000, 'p');
    std::vector<std::size_t> after;
    std::size_t expected_count = 0;
    // the first flight also warms the congestion window up: the next two are alike
    for (int flight = 0; flight < 3; ++flight) {
        int data_seen = 0;
        // the first DATA of each flight is lost: the rest waits out of order behind it
        f.link.set_filter([&](auto& d) { return !(!d.to_b && d.bytes.size() > 900 && ++data_seen == 1); });
        std::vector<std::vector<std::string>> expect;
        for (int i = 0; i < 400; ++i) {
            const std::string w = "f" + std::to_string(flight) + "m" + std::to_string(i) + pad;
            while (!f.server.can_send(sid)) ASSERT_TRUE(f.link.run_until([&] { return f.server.can_send(sid); }, 5s));
            ASSERT_TRUE(f.server.send(sid, nc::words(w), f.link.now()));
            expect.push_back({w});
        }
        expected_count += expect.size();
        ASSERT_TRUE(f.link.run_until([&] { return f.client_data.size() == expected_count; }, 10s));
        EXPECT_TRUE(std::equal(expect.begin(), expect.end(), f.client_data.end() - 400));
        f.link.run_for(50ms);
        f.link.set_filter({});  // it counts in this iteration's data_seen
        after.push_back(f.client.receive_memory());
    }
    std::printf("[session] client receive memory after lossy flights of 400: %zu, %zu, %zu bytes (max out of "
                "order %zu)\n",
                after[0], after[1], after[2], f.client.stats().max_receive_buffered);
    EXPECT_GT(after[1], 300 * nr::detail::receive_pool::block_size) << "the flight was held out of order";
    EXPECT_LE(after[1], 1024 * 1400u);
    EXPECT_LE(after[2], after[1]) << "the third flight allocated again";
    EXPECT_TRUE(f.client_closed.empty());
}

// A server's receive budget caps the payload it keeps across sessions: the window stops at what
// the budget holds, packets beyond it are dropped by the core and requested later (the sender
// slows down), none is lost or delivered twice.
TEST(session, a_server_receive_budget_is_held_without_losing_data) {
    nr::config budget;
    budget.receive_budget = 32 * nr::detail::receive_pool::block_size;
    fixture f({}, budget);
    ASSERT_TRUE(f.connect());
    std::uint64_t data_seen = 0;
    // every 50th client DATA is lost: the server holds what follows out of order
    f.link.set_filter([&](auto& d) { return !(d.to_b && d.bytes.size() > 900 && ++data_seen % 50 == 1); });
    const std::string pad(1000, 'p');
    std::vector<std::vector<std::string>> expect;
    for (int i = 0; i < 600; ++i) {
        const std::string w = "m" + std::to_string(i) + pad;
        while (!f.client.can_send()) ASSERT_TRUE(f.link.run_until([&] { return f.client.can_send(); }, 10s));
        ASSERT_TRUE(f.client.send(nc::words(w), f.link.now()));
        expect.push_back({w});
    }
    ASSERT_TRUE(f.link.run_until([&] { return f.server_data.size() == expect.size(); }, 20s))
        << "delivered " << f.server_data.size() << ", refused " << f.server.stats().receive_budget_refused
        << ", beyond " << f.server.stats().beyond_window << ", requests " << f.server.stats().requests_sent
        << " deferred " << f.server.stats().requests_deferred << ", retransmitted " << f.client.stats().retransmitted
        << " ignored " << f.client.stats().requests_ignored << ", closed " << f.client_closed.size() << "/"
        << f.server_closed.size() << ", unacked " << f.client.unacknowledged() << ", out of order "
        << f.server.stats().max_receive_buffered
        << (f.server_closed.empty() ? std::string() : ", server closed: " + f.server_closed[0].first.message())
        << (f.client_closed.empty() ? std::string() : ", client closed: " + f.client_closed[0].first.message())
        << ", gave up " << f.server.stats().gave_up << "/" << f.client.stats().gave_up;
    EXPECT_EQ(f.server_data, expect);
    std::printf("[session] server under a budget of 32 blocks: %zu bytes, refused %llu, max out of order %zu\n",
                f.server.receive_memory(), static_cast<unsigned long long>(f.server.stats().receive_budget_refused),
                f.server.stats().max_receive_buffered);
    const auto& core_stats = f.server.next_layer().stats();
    EXPECT_GT(core_stats.by_reason[static_cast<std::size_t>(nc::errc::outside_window)], 0U) << "the window was cut";
    EXPECT_LE(f.server.stats().max_receive_buffered, 32u);
    EXPECT_LE(f.server.receive_memory(), 32 * nr::detail::receive_pool::block_size + 16 * 1024);
    EXPECT_TRUE(f.client_closed.empty());
    EXPECT_TRUE(f.server_closed.empty());
}
