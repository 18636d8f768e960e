#include "neutrino/core/client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "neutrino/core/server.hpp"
#include "neutrino/memory_link.hpp"
#include "test_support.hpp"

// The client machine on virtual time over a memory link (1 ms each way): keep-alive, expiry,
// redial, lost handshake packets, server shutdown, close.  spec: neutrino.md §10.3, §11

namespace nc = neutrino::core;
using neutrino::time_point;
using namespace std::chrono_literals;

namespace {

using ms = std::chrono::milliseconds;

struct ev {
    nc::event_kind kind;
    std::uint64_t sid;
    std::error_code reason;
    time_point at;
};
struct wire_record {
    time_point at;  // when it was sent
    bool to_server;
    std::uint8_t type;
    std::vector<std::byte> bytes;
    bool lost;
};

/// A pair that records every event (with its time) and every datagram, and can lose datagrams.
struct harness {
    explicit harness(std::uint64_t seed = 21) : p(seed) {
        p.link.on_a_event = [this](const nc::event& e) {
            client.push_back({e.kind, e.session_id, e.reason, p.link.now()});
        };
        p.link.on_b_event = [this](const nc::event& e) {
            server.push_back({e.kind, e.session_id, e.reason, p.link.now()});
        };
        p.link.set_filter([this](auto& d) {
            wire_record r{p.link.now(), d.to_b, std::to_integer<std::uint8_t>(d.bytes.at(5)),
                          d.bytes, false};
            r.lost = lose && lose(r);
            wire.push_back(r);
            return !r.lost;
        });
    }
    time_point now() const { return p.link.now(); }
    std::vector<wire_record> sent(bool to_server, nc::packet_type t, time_point from = {}) const {
        std::vector<wire_record> out;
        for (const auto& r : wire) {
            if (r.to_server == to_server && r.type == static_cast<std::uint8_t>(t) && r.at >= from) {
                out.push_back(r);
            }
        }
        return out;
    }
    std::vector<ev> of(const std::vector<ev>& v, nc::event_kind k) const {
        std::vector<ev> out;
        std::copy_if(v.begin(), v.end(), std::back_inserter(out),
                     [k](const ev& e) { return e.kind == k; });
        return out;
    }

    neutrino::test::pair p;
    std::vector<ev> client, server;
    std::vector<wire_record> wire;
    std::function<bool(const wire_record&)> lose;
};

template <class T>
std::error_code err(const neutrino::result<T>& r) {
    return r ? std::error_code() : r.error();
}

ms since(time_point a, time_point b) { return std::chrono::duration_cast<ms>(a - b); }

}  // namespace

TEST(client, keep_alive_after_475_ms_idle_and_exactly_one_answer) {
    harness h;
    ASSERT_TRUE(h.p.connect());
    const auto hello3 = h.sent(true, nc::packet_type::client_hello3);
    ASSERT_EQ(hello3.size(), 1U);
    const time_point t3 = hello3[0].at;

    h.p.link.run_for(2000ms);
    const auto c_ka = h.sent(true, nc::packet_type::keep_alive);
    const auto s_ka = h.sent(false, nc::packet_type::keep_alive);
    ASSERT_GE(c_ka.size(), 4U);
    // the first after 475 ms without sending (spec: 500 − 25), then one per idle period
    EXPECT_EQ(since(c_ka[0].at, t3), 475ms);
    for (std::size_t i = 1; i < c_ka.size(); ++i) {
        EXPECT_GE(since(c_ka[i].at, c_ka[i - 1].at), 475ms);
        EXPECT_LE(since(c_ka[i].at, c_ka[i - 1].at), 500ms);
    }
    // the server never starts one and answers each with exactly one, right away
    ASSERT_EQ(s_ka.size(), c_ka.size());
    for (std::size_t i = 0; i < s_ka.size(); ++i) {
        EXPECT_EQ(since(s_ka[i].at, c_ka[i].at), 1ms);  // the link's latency
        EXPECT_EQ(s_ka[i].bytes.size(), 67U);
        EXPECT_EQ(c_ka[i].bytes.size(), 67U);
    }
    // nothing else crossed; both sides stay established
    EXPECT_EQ(h.wire.size(), 3U + c_ka.size() + s_ka.size());
    EXPECT_TRUE(h.p.client.established());
    EXPECT_EQ(h.p.server.state_of(h.p.client.session_id()), nc::session_state::established);
    EXPECT_TRUE(h.of(h.client, nc::event_kind::closed).empty());
    EXPECT_TRUE(h.of(h.server, nc::event_kind::closed).empty());
}

TEST(client, keep_alive_while_sending_but_not_receiving) {
    // spec: neutrino.md §11.1 second rule: nothing received for 475 ms and no KEEP_ALIVE sent
    // for 475 ms → KEEP_ALIVE, even while DATA flows out
    harness h;
    ASSERT_TRUE(h.p.connect());
    const time_point t0 = h.now();
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(h.p.client.send(nc::words("tick"), h.now()));
        h.p.link.run_for(100ms);
    }
    const auto c_ka = h.sent(true, nc::packet_type::keep_alive, t0);
    EXPECT_GE(c_ka.size(), 3U);
    EXPECT_LE(c_ka.size(), 5U);
    EXPECT_EQ(h.sent(false, nc::packet_type::keep_alive, t0).size(), c_ka.size());
    EXPECT_TRUE(h.p.client.established());
}

TEST(client, session_expires_after_1500_ms_of_silence_on_both_sides_then_redials) {
    harness h;
    ASSERT_TRUE(h.p.connect());
    const std::uint64_t sid = h.p.client.session_id();
    const time_point t_client_rx = h.sent(false, nc::packet_type::server_hello2).at(0).at + 1ms;
    const time_point t_server_rx = h.sent(true, nc::packet_type::client_hello3).at(0).at + 1ms;
    h.lose = [](const wire_record&) { return true; };  // the link goes dark

    h.p.link.run_for(1600ms);
    auto cc = h.of(h.client, nc::event_kind::closed);
    ASSERT_EQ(cc.size(), 1U);
    EXPECT_EQ(cc[0].reason, nc::make_error_code(nc::errc::timed_out));
    EXPECT_EQ(cc[0].sid, sid);
    EXPECT_EQ(since(cc[0].at, t_client_rx), 1500ms);
    auto sc = h.of(h.server, nc::event_kind::closed);
    ASSERT_EQ(sc.size(), 1U);
    EXPECT_EQ(sc[0].reason, nc::make_error_code(nc::errc::timed_out));
    EXPECT_EQ(sc[0].sid, sid);
    EXPECT_GE(since(sc[0].at, t_server_rx), 1500ms);
    EXPECT_LE(since(sc[0].at, t_server_rx), 1600ms);  // the server scans every ~100 ms
    EXPECT_EQ(h.p.server.session_count(), 0U);
    // the client kept trying: KEEP_ALIVEs went out (and were lost)
    EXPECT_FALSE(h.sent(true, nc::packet_type::keep_alive).empty());

    // redial 1000 ms after the expiry, then every 3000 ms while the link stays dark
    const time_point te = cc[0].at;
    h.p.link.run_for(te + 1000ms + 3000ms + 10ms - h.now());
    auto h1 = h.sent(true, nc::packet_type::client_hello1, te);
    ASSERT_EQ(h1.size(), 2U);
    EXPECT_EQ(since(h1[0].at, te), 1000ms);
    EXPECT_EQ(since(h1[1].at, h1[0].at), 3000ms);
    EXPECT_EQ(h.p.client.state(), nc::session_state::pending);
    EXPECT_EQ(h.of(h.client, nc::event_kind::connecting).size(), 3U);  // the first dial + 2

    // the link comes back: the next attempt establishes a new session
    h.lose = nullptr;
    ASSERT_TRUE(h.p.link.run_until([&] { return h.p.client.established(); }, 3100ms));
    EXPECT_EQ(since(h.now(), h1[1].at), 3000ms + 2ms);
    EXPECT_NE(h.p.client.session_id(), sid);
    h.p.link.run_for(5ms);
    EXPECT_EQ(h.p.server.state_of(h.p.client.session_id()), nc::session_state::established);
    ASSERT_TRUE(h.p.client.send(nc::words("back"), h.now()));
    h.p.link.run_for(5ms);
    EXPECT_EQ(h.of(h.server, nc::event_kind::data).size(), 1U);
}

TEST(client, redial_after_expiry_when_the_link_returns_at_once) {
    harness h;
    ASSERT_TRUE(h.p.connect());
    h.lose = [](const wire_record&) { return true; };
    ASSERT_TRUE(h.p.link.run_until(
        [&] { return !h.of(h.client, nc::event_kind::closed).empty(); }, 2000ms));
    const time_point te = h.now();
    h.lose = nullptr;
    ASSERT_TRUE(h.p.link.run_until([&] { return h.p.client.established(); }, 2000ms));
    const auto h1 = h.sent(true, nc::packet_type::client_hello1, te);
    ASSERT_EQ(h1.size(), 1U);
    EXPECT_EQ(since(h1[0].at, te), 1000ms);
}

TEST(client, lost_hello2_means_a_new_hello1_with_a_new_key_after_3000_ms) {
    harness h;
    int hello2_lost = 0;
    h.lose = [&](const wire_record& r) {
        if (!r.to_server && r.type == 0x02 && hello2_lost == 0) {
            ++hello2_lost;
            return true;
        }
        return false;
    };
    ASSERT_TRUE(h.p.client.connect(h.now()));
    ASSERT_TRUE(h.p.link.run_until([&] { return h.p.client.established(); }, 5000ms));
    EXPECT_EQ(hello2_lost, 1);
    const auto h1 = h.sent(true, nc::packet_type::client_hello1);
    ASSERT_EQ(h1.size(), 2U);
    EXPECT_EQ(since(h1[1].at, h1[0].at), 3000ms);
    ASSERT_EQ(h1[0].bytes.size(), 1280U);
    ASSERT_EQ(h1[1].bytes.size(), 1280U);
    // same header, pn and framing; a different ephemeral key (spec: neutrino.md §7.1)
    EXPECT_TRUE(std::equal(h1[0].bytes.begin(), h1[0].bytes.begin() + 29, h1[1].bytes.begin()));
    EXPECT_FALSE(std::equal(h1[0].bytes.begin() + 29, h1[0].bytes.begin() + 61,
                            h1[1].bytes.begin() + 29));
    EXPECT_TRUE(std::equal(h1[0].bytes.begin() + 61, h1[0].bytes.end(), h1[1].bytes.begin() + 61));
    // the server's first pending entry timed out on its own
    auto sc = h.of(h.server, nc::event_kind::closed);
    ASSERT_EQ(sc.size(), 1U);
    EXPECT_EQ(sc[0].reason, nc::make_error_code(nc::errc::timed_out));
    h.p.link.run_for(5ms);
    EXPECT_EQ(h.p.server.session_count(), 1U);
    EXPECT_EQ(h.of(h.client, nc::event_kind::connecting).size(), 2U);
}

TEST(client, server_shutdown_drains_for_2000_ms_then_redials_after_1000_ms) {
    harness h;
    ASSERT_TRUE(h.p.connect());
    const std::uint64_t sid = h.p.client.session_id();
    h.p.link.run_for(10ms);
    h.p.server.shutdown(h.now());
    ASSERT_TRUE(h.p.link.run_until(
        [&] { return h.p.client.state() == nc::session_state::draining; }, 10ms));
    const time_point ts = h.now();
    auto sd = h.of(h.client, nc::event_kind::server_shutdown);
    ASSERT_EQ(sd.size(), 1U);
    EXPECT_EQ(sd[0].sid, sid);
    EXPECT_EQ(err(h.p.client.send(nc::words("x"), h.now())), nc::errc::draining);
    // the server ended the session on its side at once
    auto sc = h.of(h.server, nc::event_kind::closed);
    ASSERT_EQ(sc.size(), 1U);
    EXPECT_EQ(sc[0].reason, nc::make_error_code(nc::errc::draining));

    h.p.link.run_for(2100ms);
    auto cc = h.of(h.client, nc::event_kind::closed);
    ASSERT_EQ(cc.size(), 1U);
    EXPECT_EQ(cc[0].reason, nc::make_error_code(nc::errc::draining));
    EXPECT_EQ(since(cc[0].at, ts), 2000ms);
    // no KEEP_ALIVE (or anything else) while draining
    for (const auto& r : h.wire) {
        if (r.to_server && r.at >= ts) {
            EXPECT_EQ(r.type, 0x01) << "sent while draining";
        }
    }
    h.p.link.run_for(ts + 2000ms + 1000ms + 10ms - h.now());
    const auto h1 = h.sent(true, nc::packet_type::client_hello1, ts);
    ASSERT_EQ(h1.size(), 1U);
    EXPECT_EQ(since(h1[0].at, cc[0].at), 1000ms);
    // the shut-down server drops it
    EXPECT_GE(h.p.server.stats().dropped(nc::errc::closed), 1U);
    EXPECT_EQ(h.p.client.state(), nc::session_state::pending);
}

TEST(client, close_is_final) {
    // spec: neutrino.md §18.4 item 21: no spurious second destroy event and no redial
    harness h;
    ASSERT_TRUE(h.p.connect());
    const std::uint64_t sid = h.p.client.session_id();
    h.p.client.close(h.now());
    h.p.link.run_for(10ms);
    auto cc = h.of(h.client, nc::event_kind::closed);
    ASSERT_EQ(cc.size(), 1U);
    EXPECT_EQ(cc[0].reason, nc::make_error_code(nc::errc::closed));
    EXPECT_EQ(cc[0].sid, sid);
    const auto gb = h.sent(true, nc::packet_type::client_good_bye);
    ASSERT_EQ(gb.size(), 2U);  // client_config::good_bye_copies: one may be lost
    EXPECT_EQ(gb[0].bytes.size(), 67U);
    EXPECT_NE(gb[0].bytes, gb[1].bytes);  // two packets, two numbers
    auto sc = h.of(h.server, nc::event_kind::closed);
    ASSERT_EQ(sc.size(), 1U);
    EXPECT_EQ(sc[0].reason, nc::make_error_code(nc::errc::closed));
    EXPECT_EQ(h.p.server.session_count(), 0U);

    const std::size_t wire_before = h.wire.size();
    const std::size_t events_before = h.client.size();
    h.p.link.run_for(10s);
    EXPECT_EQ(h.wire.size(), wire_before) << "the client sent something after close";
    EXPECT_EQ(h.client.size(), events_before) << "an event after close";
    EXPECT_EQ(h.p.client.state(), nc::session_state::closed);
    EXPECT_FALSE(h.p.client.deadline().has_value());
    h.p.client.close(h.now());  // idempotent
    h.p.link.run_for(10ms);
    EXPECT_EQ(h.client.size(), events_before);

    // dialling again is the application's decision
    ASSERT_TRUE(h.p.connect());
    EXPECT_NE(h.p.client.session_id(), sid);
}

TEST(client, a_clean_close_survives_the_loss_of_one_good_bye) {
    // issue #17 item 6: the server must not time out a client that closed cleanly
    harness h;
    ASSERT_TRUE(h.p.connect());
    bool lost_one = false;
    h.lose = [&](const wire_record& r) {
        if (r.type != static_cast<std::uint8_t>(nc::packet_type::client_good_bye) || lost_one) return false;
        lost_one = true;
        return true;
    };
    h.p.client.close(h.now());
    h.p.link.run_for(10ms);
    EXPECT_TRUE(lost_one);
    auto sc = h.of(h.server, nc::event_kind::closed);
    ASSERT_EQ(sc.size(), 1U);
    EXPECT_EQ(sc[0].reason, nc::make_error_code(nc::errc::closed)) << sc[0].reason.message();
    EXPECT_EQ(h.p.server.session_count(), 0U);
    // the second copy found no session: a counted drop, nothing else
    EXPECT_EQ(h.p.server.stats().dropped(nc::errc::unknown_session), 0U);
}

TEST(client, close_while_pending_stops_dialling) {
    harness h;
    h.lose = [](const wire_record&) { return true; };
    ASSERT_TRUE(h.p.client.connect(h.now()));
    h.p.link.run_for(100ms);
    h.p.client.close(h.now());
    h.p.link.run_for(10s);
    EXPECT_EQ(h.sent(true, nc::packet_type::client_hello1).size(), 1U);
    EXPECT_EQ(h.sent(true, nc::packet_type::client_good_bye).size(), 0U);  // nothing to say bye to
    EXPECT_FALSE(h.p.client.deadline().has_value());
}

TEST(client, reconnect_disabled_does_not_redial_after_expiry) {
    auto cfg = neutrino::test::pair::client_cfg();
    cfg.reconnect = false;
    using client_type = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
    using server_type = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
    client_type c(cfg, nc::null_observer{}, neutrino::seeded_random(1));
    server_type s(neutrino::test::pair::server_cfg(), nc::null_observer{}, neutrino::seeded_random(2));
    neutrino::memory_link<client_type, server_type> link(c, neutrino::test::client_address, s,
                                                         neutrino::test::server_address);
    ASSERT_TRUE(c.connect(link.now()));
    ASSERT_TRUE(link.run_until([&] { return c.established(); }, 100ms));
    std::size_t hello1 = 0;
    link.set_filter([&](auto& d) {
        if (d.to_b && d.bytes.at(5) == std::byte{1}) ++hello1;
        return false;
    });
    link.run_for(10s);
    EXPECT_EQ(c.state(), nc::session_state::closed);
    EXPECT_EQ(hello1, 0U);
    EXPECT_FALSE(c.deadline().has_value());
}
