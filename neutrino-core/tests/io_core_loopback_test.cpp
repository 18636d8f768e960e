// The core client and server machines over real UDP on 127.0.0.1 through basic_endpoint.
#include "neutrino/io/basic_endpoint.hpp"

#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "io_support.hpp"
#include "test_support.hpp"

namespace nc = neutrino::core;
namespace net = neutrino::net;
using namespace std::chrono_literals;

namespace {

struct loopback {
    net::io_context ctx;
    neutrino::io::basic_endpoint<nc::server> server{
        ctx, net::ip::udp::endpoint(net::ip::make_address("127.0.0.1"), 0),
        nc::server(neutrino::test::basic_pair<>::server_cfg())};
    std::unique_ptr<neutrino::io::basic_endpoint<nc::client>> client;

    loopback() {
        nc::client_config cfg = neutrino::test::basic_pair<>::client_cfg();
        cfg.server = server.local_address();
        client = std::make_unique<neutrino::io::basic_endpoint<nc::client>>(
            ctx, net::ip::udp::endpoint(net::ip::make_address("127.0.0.1"), 0), nc::client(cfg));
    }

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds max = 5000ms) {
        return neutrino::test::run_until(ctx, done, max);
    }
};

}  // namespace

TEST(io_core_loopback, batched_data_then_good_bye_keeps_every_word) {
    loopback l;
    std::vector<std::string> received;
    bool closed = false;
    l.server.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) received.emplace_back(nc::as_string(e.words[0]));
        if (e.kind == nc::event_kind::closed) closed = true;
    });
    ASSERT_TRUE(l.client->layer().connect(neutrino::clock::now()));
    l.client->flush();
    ASSERT_TRUE(l.run_until([&] { return l.server.layer().session_count() == 1 &&
                                         l.client->layer().established(); }));
    ASSERT_TRUE(l.run_until([&] {
        return l.server.layer().state_of(l.client->layer().session_id()) == nc::session_state::established;
    }));

    // Ten DATA and the GOOD_BYE leave in one flush: one sendmmsg/GSO batch, one recvmmsg/GRO batch.
    std::vector<std::string> sent;
    for (int i = 0; i < 10; ++i) {
        sent.push_back("message-" + std::to_string(i) + std::string(static_cast<std::size_t>(i * 7), 'x'));
        ASSERT_TRUE(l.client->layer().send(nc::words(sent.back()), neutrino::clock::now()));
    }
    l.client->layer().close(neutrino::clock::now());
    l.client->flush();
    ASSERT_TRUE(l.run_until([&] { return closed; }));
    EXPECT_EQ(received, sent);
}

TEST(io_core_loopback, async_next_event_owns_its_words) {
    loopback l;
    ASSERT_TRUE(l.client->layer().connect(neutrino::clock::now()));
    l.client->flush();
    ASSERT_TRUE(l.run_until([&] {
        return l.client->layer().established() &&
               l.server.layer().state_of(l.client->layer().session_id()) == nc::session_state::established;
    }));
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(l.client->layer().send(nc::words("w" + std::to_string(i)), neutrino::clock::now()));
    }
    l.client->flush();
    std::vector<std::string> got;
    std::function<void()> next = [&] {
        l.server.async_next_event([&](boost::system::error_code ec, nc::owned_event e) {
            if (ec) return;
            if (e.kind == nc::event_kind::data) {
                got.emplace_back(reinterpret_cast<const char*>(e.words.at(0).data()), e.words.at(0).size());
            }
            if (got.size() < 3) next();
        });
    };
    next();
    ASSERT_TRUE(l.run_until([&] { return got.size() == 3; }));
    EXPECT_EQ(got, (std::vector<std::string>{"w0", "w1", "w2"}));
}

TEST(io_core_loopback, flush_then_close_inside_a_drain_still_sends) {
    loopback l;
    // A second client, whose session the application will drop.
    nc::client_config cfg = neutrino::test::basic_pair<>::client_cfg();
    cfg.server = l.server.local_address();
    neutrino::io::basic_endpoint<nc::client> other(
        l.ctx, net::ip::udp::endpoint(net::ip::make_address("127.0.0.1"), 0), nc::client(cfg));
    bool shutdown_seen = false;
    l.client->set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::server_shutdown) shutdown_seen = true;
    });
    for (auto* c : {l.client.get(), &other}) {
        ASSERT_TRUE(c->layer().connect(neutrino::clock::now()));
        c->flush();
    }
    ASSERT_TRUE(l.run_until([&] {
        return l.client->layer().established() && other.layer().established() &&
               l.server.layer().state_of(l.client->layer().session_id()) == nc::session_state::established &&
               l.server.layer().state_of(other.layer().session_id()) == nc::session_state::established;
    }));
    // The `closed` event of the dropped session is delivered from inside flush()'s drain; its
    // handler shuts the server down and closes the endpoint there. The SERVER_SHUTDOWN it
    // queued must still leave before the socket closes.
    l.server.set_event_handler([&](const nc::event& e) {
        if (e.kind != nc::event_kind::closed || e.session_id != other.layer().session_id()) return;
        l.server.layer().shutdown(neutrino::clock::now());
        l.server.flush();
        l.server.close();
    });
    l.server.layer().drop_session(other.layer().session_id(), neutrino::clock::now());
    l.server.flush();
    ASSERT_TRUE(l.run_until([&] { return shutdown_seen; }));
    EXPECT_EQ(l.client->layer().state(), nc::session_state::draining);
}
