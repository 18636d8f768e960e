// The reliable stack under io::endpoint: async_send waits while the send window is full and
// resumes on the layer's `writable` event; every message arrives once, in order, with no
// would_block in the test's code.
#include "neutrino/io/endpoint.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "io_support.hpp"
#include "neutrino/io/memory_transport.hpp"
#include "reliable_support.hpp"

namespace nio = neutrino::io;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using namespace neutrino::reliable_test;

namespace {

using client_ep = nio::endpoint<client_t, nio::memory_transport>;
using server_ep = nio::endpoint<server_t, nio::memory_transport>;

nr::config small_window() {
    nr::config c;
    c.send_window = 8;  // a burst of 200 sends must wait for acknowledgements many times
    return c;
}

struct reliable_net {
    net::io_context ctx;
    nio::memory_network network;
    server_ep server{server_t(server_cfg(), small_window(), nc::null_observer{}, neutrino::seeded_random(7)),
                     {}, std::in_place, ctx.get_executor(), network, neutrino::test::server_address};
    client_ep client{client_t(client_cfg(), small_window(), nc::null_observer{}, neutrino::seeded_random(8)),
                     {}, std::in_place, ctx.get_executor(), network, neutrino::test::client_address};

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds max = 10000ms) {
        return neutrino::test::run_until(ctx, done, max);
    }
};

}  // namespace

TEST(reliable_io, async_send_waits_for_room_and_keeps_order) {
    reliable_net n;
    constexpr int count = 200;
    std::vector<std::string> payloads;
    for (int i = 0; i < count; ++i) payloads.push_back("m" + std::to_string(i));

    std::vector<std::string> received;
    int completed = 0;
    int failed = 0;
    server_ep::session accepted;
    std::function<void()> receive_next = [&] {
        accepted.async_receive([&](boost::system::error_code rec, nio::message m) {
            if (rec) return;
            received.emplace_back(m.text(0));
            receive_next();
        });
    };
    n.server.async_accept([&](boost::system::error_code ec, server_ep::session s) {
        ASSERT_FALSE(ec);
        accepted = s;
        receive_next();
    });
    n.client.async_connect([&](boost::system::error_code ec) {
        ASSERT_FALSE(ec) << ec.message();
        for (const auto& p : payloads) {  // all 200 pending at once: no would_block here
            n.client.async_send(nc::words(p), [&](boost::system::error_code sec) {
                (sec ? failed : completed) += 1;
            });
        }
    });
    ASSERT_TRUE(n.run_until([&] { return static_cast<int>(received.size()) == count && completed + failed == count; }));
    EXPECT_EQ(completed, count);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(received, payloads);
    // The window (8) was full many times: the sends waited, and writable events resumed them.
    EXPECT_GT(n.client.counters().sends_waited, 100u);
    EXPECT_LE(n.client.layer().unacknowledged(), 8u);
}

TEST(reliable_io, server_sessions_send_with_backpressure_too) {
    reliable_net n;
    constexpr int count = 100;
    std::vector<std::string> payloads;
    for (int i = 0; i < count; ++i) payloads.push_back(std::to_string(i * 7));

    std::vector<std::string> received;
    auto connected = n.client.async_connect(net::use_future);
    auto accepted = n.server.async_accept(net::use_future);
    ASSERT_TRUE(n.run_until([&] { return accepted.wait_for(0s) == std::future_status::ready; }));
    server_ep::session s = accepted.get();
    std::vector<std::future<void>> sends;
    for (const auto& p : payloads) sends.push_back(s.async_send(nc::words(p), net::use_future));
    std::function<void()> next = [&] {
        n.client.async_receive([&](boost::system::error_code ec, nio::message m) {
            if (ec) return;
            received.emplace_back(m.text(0));
            next();
        });
    };
    next();
    // Every send completes (its completion is posted after the layer took it) and every
    // message arrives.
    auto all_done = [&] {
        for (auto& f : sends) {
            if (f.wait_for(0s) != std::future_status::ready) return false;
        }
        return static_cast<int>(received.size()) == count;
    };
    ASSERT_TRUE(n.run_until(all_done));
    EXPECT_EQ(received, payloads);
    for (auto& f : sends) {
        ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
        EXPECT_NO_THROW(f.get());
    }
    EXPECT_GT(n.server.counters().sends_waited, 50u);
}

// The writable event itself, on the machine: reported once after a refusal, when room is back.
TEST(reliable_io, writable_follows_a_refusal_once_room_is_back) {
    client_t c(client_cfg(), small_window(), nc::null_observer{}, neutrino::seeded_random(test_seed(91)));
    server_t s(server_cfg(), small_window(), nc::null_observer{}, neutrino::seeded_random(test_seed(92)));
    neutrino::memory_link<client_t, server_t> link(c, neutrino::test::client_address, s,
                                                   neutrino::test::server_address);
    int writable = 0;
    link.on_a_event = [&](const nc::event& e) { writable += e.kind == nc::event_kind::writable ? 1 : 0; };
    ASSERT_TRUE(c.connect(link.now()));
    ASSERT_TRUE(link.run_until([&] { return c.established(); }, std::chrono::seconds(5)));
    std::size_t sent = 0;
    for (;;) {
        auto r = c.send(nc::words("x"), link.now());
        if (!r) {
            ASSERT_EQ(r.error(), nc::errc::would_block);
            break;
        }
        ++sent;
    }
    EXPECT_EQ(sent, 8u);
    EXPECT_EQ(writable, 0);
    ASSERT_TRUE(link.run_until([&] { return writable > 0; }, std::chrono::seconds(5)));
    EXPECT_EQ(writable, 1);
    EXPECT_TRUE(c.can_send());
    // No refusal since: no second report, however long it runs.
    link.run_until([] { return false; }, std::chrono::seconds(2));
    EXPECT_EQ(writable, 1);
}
