// One server socket speaking wire v2 and wire v3 at once (core::basic_dual_server), with the
// reliable layer on top unchanged: a v2 client and a v3 client exchange messages with it at
// the same time, each session on its own version.  spec: neutrino-v3.md §2.3

#include "neutrino/core/dual_server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "neutrino/core/v3/client.hpp"
#include "reliable_support.hpp"

using namespace neutrino::reliable_test;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;

namespace {

namespace v3 = nc::v3;
using dual_t = nc::basic_dual_server<nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>,
                                     v3::basic_server<nc::null_observer, neutrino::seeded_random>>;
using server = nr::basic_server<dual_t>;
using v2_client = client_t;
using v3_client = nr::basic_client<v3::basic_client<nc::null_observer, neutrino::seeded_random>>;
static_assert(neutrino::datagram_layer<server>);

const peer_address a2 = peer_address::v4({127, 0, 0, 1}, 41002);
const peer_address a3 = peer_address::v4({127, 0, 0, 1}, 41003);

// Three parties on one virtual clock, datagrams delivered at once.
struct hub {
    hub(server& srv, v2_client& x2, v3_client& x3) : s(srv), c2(x2), c3(x3) {}
    server& s;
    v2_client& c2;
    v3_client& c3;
    time_point now{};
    std::vector<std::string> at_server_from2, at_server_from3, at_c2, at_c3;
    std::array<std::byte, 2048> buf{};

    static std::string text(const nc::event& e) { return std::string(nc::as_string(*e.words.begin())); }

    bool move_datagrams() {
        bool moved = false;
        while (auto t = c2.poll_datagram(buf, now)) {
            (void)s.handle_datagram(std::span<const std::byte>(buf).first(t->size), a2, now);
            moved = true;
        }
        while (auto t = c3.poll_datagram(buf, now)) {
            (void)s.handle_datagram(std::span<const std::byte>(buf).first(t->size), a3, now);
            moved = true;
        }
        while (auto t = s.poll_datagram(buf, now)) {
            const auto d = std::span<const std::byte>(buf).first(t->size);
            if (t->to == a2) (void)c2.handle_datagram(d, neutrino::test::server_address, now);
            if (t->to == a3) (void)c3.handle_datagram(d, neutrino::test::server_address, now);
            moved = true;
        }
        while (auto e = s.poll_event()) {
            if (e->kind != nc::event_kind::data) continue;
            (s.next_layer().version_of(e->session_id) == 3 ? at_server_from3 : at_server_from2).push_back(text(*e));
        }
        while (auto e = c2.poll_event()) {
            if (e->kind == nc::event_kind::data) at_c2.push_back(text(*e));
        }
        while (auto e = c3.poll_event()) {
            if (e->kind == nc::event_kind::data) at_c3.push_back(text(*e));
        }
        return moved;
    }
    void settle() {
        while (move_datagrams()) {
        }
    }
    void run_for(std::chrono::milliseconds d) {
        const time_point end = now + d;
        while (now < end) {
            now += 1ms;
            if (auto t = s.deadline(); t && *t <= now) s.handle_deadline(now);
            if (auto t = c2.deadline(); t && *t <= now) c2.handle_deadline(now);
            if (auto t = c3.deadline(); t && *t <= now) c3.handle_deadline(now);
            settle();
        }
    }
};


}  // namespace

TEST(dual_server, serves_a_v2_and_a_v3_client_at_once) {
    server s(server_cfg(), nr::config{}, v3::server_options{}, nc::null_observer{}, neutrino::seeded_random(41),
             neutrino::seeded_random(42));
    v2_client c2(client_cfg(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(43));
    v3_client c3(client_cfg(), nr::config{}, v3::client_options{}, nc::null_observer{}, neutrino::seeded_random(44));
    hub h(s, c2, c3);
    ASSERT_TRUE(c2.connect(h.now));
    ASSERT_TRUE(c3.connect(h.now));
    h.run_for(100ms);
    ASSERT_TRUE(c2.established());
    ASSERT_TRUE(c3.established());
    EXPECT_EQ(s.next_layer().version_of(c2.session_id()), 2);
    EXPECT_EQ(s.next_layer().version_of(c3.session_id()), 3);
    EXPECT_EQ(s.session_count(), 2U);

    std::vector<std::string> e2, e3, back2, back3;
    for (int i = 0; i < 300; ++i) {
        e2.push_back("v2-" + std::to_string(i));
        e3.push_back("v3-" + std::to_string(i));
        back2.push_back("to-v2-" + std::to_string(i));
        back3.push_back("to-v3-" + std::to_string(i));
        ASSERT_TRUE(c2.send(nc::words(e2.back()), h.now));
        ASSERT_TRUE(c3.send(nc::words(e3.back()), h.now));
        ASSERT_TRUE(s.send(c2.session_id(), nc::words(back2.back()), h.now));
        ASSERT_TRUE(s.send(c3.session_id(), nc::words(back3.back()), h.now));
        h.settle();
    }
    h.run_for(200ms);
    EXPECT_EQ(h.at_server_from2, e2);
    EXPECT_EQ(h.at_server_from3, e3);
    EXPECT_EQ(h.at_c2, back2);
    EXPECT_EQ(h.at_c3, back3);
    // unknown ids are refused clearly
    auto r = s.next_layer().send(12345, nc::words("x"), h.now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), nc::errc::unknown_session);
}
