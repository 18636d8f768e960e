// io::endpoint's application operations (async_connect, async_send, async_receive,
// async_accept and the session's) with each completion-token kind: callbacks, use_future,
// use_awaitable. Both ends run on an io::memory_transport, so no port is needed; the clock is
// real but nothing waits on a timer.
#include "neutrino/io/endpoint.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/io/memory_transport.hpp"
#include "io_support.hpp"
#include "test_support.hpp"

namespace nc = neutrino::core;
namespace nio = neutrino::io;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using neutrino::test::client_address;
using neutrino::test::server_address;

namespace {

using client_ep = nio::endpoint<nc::client, nio::memory_transport>;
using server_ep = nio::endpoint<nc::server, nio::memory_transport>;

struct net_pair {
    net::io_context ctx;
    nio::memory_network network;
    server_ep server{nc::server(neutrino::test::basic_pair<>::server_cfg()), {}, std::in_place,
                     ctx.get_executor(), network, server_address};
    client_ep client{nc::client(neutrino::test::basic_pair<>::client_cfg()), {}, std::in_place,
                     ctx.get_executor(), network, client_address};

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds max = 5000ms) {
        return neutrino::test::run_until(ctx, done, max);
    }
    template <class T>
    bool ready(std::future<T>& f, std::chrono::milliseconds max = 5000ms) {
        return run_until([&] { return f.wait_for(0s) == std::future_status::ready; }, max);
    }
    /// Connects the client and accepts it: the server's handle (`!valid()` when either failed).
    server_ep::session open() {
        auto accept = server.async_accept(net::use_future);
        auto connect = client.async_connect(net::use_future);
        if (!ready(connect) || !ready(accept)) return {};
        try {
            connect.get();
            return accept.get();
        } catch (const boost::system::system_error&) {
            return {};
        }
    }
};

/// What a use_future operation completed with: its error, empty on success.
template <class T>
boost::system::error_code error_of(std::future<T>& f) {
    try {
        (void)f.get();
        return {};
    } catch (const boost::system::system_error& e) {
        return e.code();
    }
}

std::vector<std::string> texts(const nio::message& m) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < m.size(); ++i) out.emplace_back(m.text(i));
    return out;
}

}  // namespace

TEST(io_operations, message_owns_its_words) {
    const auto w = nc::words("374", "", "1.5");
    nio::message m(w);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m.text(0), "374");
    EXPECT_TRUE(m[1].empty());
    EXPECT_EQ(m.text(2), "1.5");
    EXPECT_EQ(m.bytes(), 6u);
    nio::message moved = std::move(m);
    EXPECT_EQ(texts(moved), (std::vector<std::string>{"374", "", "1.5"}));
    const auto list = moved.words();
    EXPECT_EQ(list.size(), 3u);
}

TEST(io_operations, errors_keep_their_category_across_boost) {
    const std::error_code e = nc::make_error_code(nc::errc::timed_out);
    const boost::system::error_code b = nio::to_boost(e);
    EXPECT_TRUE(b.failed());
    EXPECT_EQ(b.message(), e.message());
    EXPECT_EQ(nio::to_std(b), nc::errc::timed_out);
    EXPECT_FALSE(nio::to_boost(std::error_code{}).failed());
}

// Callbacks: connect, accept, send both ways, receive both ways; no flush, no clock.
TEST(io_operations, callbacks) {
    net_pair p;
    std::optional<boost::system::error_code> connected;
    std::optional<server_ep::session> accepted;
    std::vector<std::string> at_server, at_client;
    int sends_done = 0;

    p.server.async_accept([&](boost::system::error_code ec, server_ep::session s) {
        ASSERT_FALSE(ec) << ec.message();
        accepted = s;
        s.async_receive([&, s](boost::system::error_code rec, nio::message m) mutable {
            ASSERT_FALSE(rec) << rec.message();
            at_server = texts(m);
            EXPECT_EQ(m.session_id, s.id());
            s.async_send(nc::words("pong", m.text(0)), [&](boost::system::error_code sec) {
                EXPECT_FALSE(sec) << sec.message();
                ++sends_done;
            });
        });
    });
    p.client.async_connect([&](boost::system::error_code ec) {
        connected = ec;
        p.client.async_send(nc::words("ping", "7"), [&](boost::system::error_code sec) {
            EXPECT_FALSE(sec) << sec.message();
            ++sends_done;
        });
        p.client.async_receive([&](boost::system::error_code rec, nio::message m) {
            ASSERT_FALSE(rec) << rec.message();
            at_client = texts(m);
        });
    });
    ASSERT_TRUE(p.run_until([&] { return !at_client.empty(); }));
    ASSERT_TRUE(connected.has_value());
    EXPECT_FALSE(*connected);
    ASSERT_TRUE(accepted.has_value());
    EXPECT_EQ(accepted->id(), p.client.layer().session_id());
    EXPECT_EQ(accepted->peer(), client_address);
    EXPECT_EQ(at_server, (std::vector<std::string>{"ping", "7"}));
    EXPECT_EQ(at_client, (std::vector<std::string>{"pong", "ping"}));
    EXPECT_EQ(sends_done, 2);
}

TEST(io_operations, use_future) {
    net_pair p;
    auto accept = p.server.async_accept(net::use_future);
    auto connect = p.client.async_connect(net::use_future);
    ASSERT_TRUE(p.ready(connect));
    EXPECT_NO_THROW(connect.get());
    ASSERT_TRUE(p.ready(accept));
    server_ep::session s = accept.get();
    EXPECT_TRUE(s.valid());

    auto receive = s.async_receive(net::use_future);
    auto sent = p.client.async_send(nc::words("a", "bb"), net::use_future);
    ASSERT_TRUE(p.ready(sent));
    EXPECT_NO_THROW(sent.get());
    ASSERT_TRUE(p.ready(receive));
    EXPECT_EQ(texts(receive.get()), (std::vector<std::string>{"a", "bb"}));

    auto back = p.client.async_receive(net::use_future);
    auto reply = s.async_send(nc::words("ccc"), net::use_future);
    ASSERT_TRUE(p.ready(reply));
    EXPECT_NO_THROW(reply.get());
    ASSERT_TRUE(p.ready(back));
    EXPECT_EQ(texts(back.get()), (std::vector<std::string>{"ccc"}));

    // A refused send surfaces as the machine's error, through the future's exception.
    std::vector<std::string> too_many(300, "x");
    std::vector<nc::word> list;
    for (const auto& t : too_many) list.push_back(nc::as_word(t));
    auto refused = p.client.async_send(list, net::use_future);
    ASSERT_TRUE(p.ready(refused));
    EXPECT_EQ(nio::to_std(error_of(refused)), nc::errc::too_many_words) << "300 words were accepted";
}

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
TEST(io_operations, use_awaitable) {
    net_pair p;
    std::vector<std::string> echoed;
    bool server_done = false, client_done = false;

    net::co_spawn(
        p.ctx,
        [&]() -> net::awaitable<void> {
            auto s = co_await p.server.async_accept(net::use_awaitable);
            for (int i = 0; i < 3; ++i) {
                nio::message m = co_await s.async_receive(net::use_awaitable);
                co_await s.async_send(m.words(), net::use_awaitable);
            }
            server_done = true;
        },
        net::detached);
    net::co_spawn(
        p.ctx,
        [&]() -> net::awaitable<void> {
            co_await p.client.async_connect(net::use_awaitable);
            for (int i = 0; i < 3; ++i) {
                const std::string n = std::to_string(i);
                co_await p.client.async_send(nc::words("echo", n), net::use_awaitable);
                nio::message m = co_await p.client.async_receive(net::use_awaitable);
                echoed.emplace_back(m.text(1));
            }
            client_done = true;
        },
        net::detached);
    ASSERT_TRUE(p.run_until([&] { return server_done && client_done; }));
    EXPECT_EQ(echoed, (std::vector<std::string>{"0", "1", "2"}));
}
#endif

// Many operations pending at once: receives queued before any message, sends issued in a
// burst; every message arrives once, in order, to the receive that was waiting longest.
TEST(io_operations, many_pending_operations_complete_in_order) {
    net_pair p;
    server_ep::session s = p.open();
    ASSERT_TRUE(s.valid());

    constexpr int n = 50;
    std::vector<int> order;
    for (int i = 0; i < n; ++i) {
        s.async_receive([&order, i](boost::system::error_code ec, nio::message m) {
            ASSERT_FALSE(ec);
            EXPECT_EQ(m.text(0), std::to_string(i));
            order.push_back(i);
        });
    }
    std::vector<std::string> payloads;
    for (int i = 0; i < n; ++i) payloads.push_back(std::to_string(i));
    int sent = 0;
    for (int i = 0; i < n; ++i) {
        p.client.async_send(nc::words(payloads[static_cast<std::size_t>(i)]),
                            [&](boost::system::error_code ec) { sent += ec ? 0 : 1; });
    }
    ASSERT_TRUE(p.run_until([&] { return static_cast<int>(order.size()) == n; }));
    EXPECT_EQ(sent, n);
    for (int i = 0; i < n; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
    EXPECT_EQ(p.client.counters().messages_dropped, 0u);
}

// A session the server ends: its pending receive completes with core::errc::closed. Wire v2
// has no server-side close, so the client's completes with timed_out once its keep-alives go
// unanswered (spec: neutrino.md: drop_session).
TEST(io_operations, pending_receives_end_with_the_sessions_reason) {
    net_pair p;
    server_ep::session s = p.open();
    ASSERT_TRUE(s.valid());
    auto at_server = s.async_receive(net::use_future);
    auto at_client = p.client.async_receive(net::use_future);
    p.run_until([] { return false; }, 30ms);
    s.close();
    ASSERT_TRUE(p.ready(at_server));
    EXPECT_EQ(nio::to_std(error_of(at_server)), nc::errc::closed) << "a closed session delivered a message";
    ASSERT_TRUE(p.ready(at_client, 10000ms));
    EXPECT_EQ(nio::to_std(error_of(at_client)), nc::errc::timed_out) << "the client got a message from a dropped session";
    // The handle outlived its session: its operations are refused, not undefined.
    auto late = s.async_receive(net::use_future);
    ASSERT_TRUE(p.ready(late));
    EXPECT_THROW(late.get(), boost::system::system_error);
}

// A session that ends while the application has nothing pending on it keeps its reason for the
// next receive (once), instead of being forgotten unreported (which answered unknown_session).
TEST(io_operations, an_unobserved_end_is_reported_to_the_next_receive) {
    net_pair p;
    server_ep::session s = p.open();
    ASSERT_TRUE(s.valid());
    s.close();
    p.run_until([] { return false; }, 30ms);
    auto late = s.async_receive(net::use_future);
    ASSERT_TRUE(p.ready(late));
    EXPECT_EQ(nio::to_std(error_of(late)), nc::errc::closed);
    // reported: now forgotten
    auto again = s.async_receive(net::use_future);
    ASSERT_TRUE(p.ready(again));
    EXPECT_EQ(nio::to_std(error_of(again)), nc::errc::unknown_session);
}

// Nobody answers: the v2 client keeps dialling, and async_connect completes with timed_out
// after endpoint_options::connect_timeout, not never.
TEST(io_operations, connect_to_nobody_completes_with_timed_out) {
    net::io_context ctx;
    nio::memory_network network;
    nio::endpoint_options options;
    options.connect_timeout = 300ms;
    client_ep lonely{nc::client(neutrino::test::basic_pair<>::client_cfg()), options, std::in_place,
                     ctx.get_executor(), network, client_address};
    auto connect = lonely.async_connect(net::use_future);
    ASSERT_TRUE(neutrino::test::run_until(ctx, [&] { return connect.wait_for(0s) == std::future_status::ready; }));
    EXPECT_EQ(nio::to_std(error_of(connect)), nc::errc::timed_out) << "connected to nobody";
    EXPECT_GT(network.counters().unroutable, 0u);
}

// A default-constructed handle refuses, it does not crash.
TEST(io_operations, an_empty_session_handle_refuses) {
    server_ep::session none;
    EXPECT_FALSE(none.valid());
    auto r = none.async_receive(net::use_future);
    auto s = none.async_send(nc::words("x"), net::use_future);
    ASSERT_EQ(r.wait_for(5s), std::future_status::ready);
    ASSERT_EQ(s.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(error_of(r), net::error::bad_descriptor);
    EXPECT_THROW(s.get(), boost::system::system_error);
}

// Messages that arrive before the application asks are kept for async_receive once an
// operation was started (here: async_accept at start, the receive long after the message).
TEST(io_operations, messages_wait_for_a_late_receive) {
    net_pair p;
    server_ep::session s = p.open();
    ASSERT_TRUE(s.valid());
    auto sent = p.client.async_send(nc::words("early"), net::use_future);
    ASSERT_TRUE(p.ready(sent));
    p.run_until([] { return false; }, 50ms);
    auto receive = s.async_receive(net::use_future);
    ASSERT_TRUE(p.ready(receive));
    EXPECT_EQ(texts(receive.get()), (std::vector<std::string>{"early"}));
}

// close() completes everything still pending with operation_aborted.
TEST(io_operations, close_aborts_what_is_pending) {
    net_pair p;
    auto accept = p.server.async_accept(net::use_future);
    auto receive = p.client.async_receive(net::use_future);
    p.server.close();
    p.client.close();
    ASSERT_TRUE(p.ready(accept));
    ASSERT_TRUE(p.ready(receive));
    EXPECT_EQ(error_of(accept), net::error::operation_aborted);
    EXPECT_EQ(error_of(receive), net::error::operation_aborted);
}

// A send made through layer() is flushed by the driver in the same turn: no flush() call.
TEST(io_operations, layer_calls_are_flushed_by_the_driver) {
    net_pair p;
    server_ep::session s = p.open();
    ASSERT_TRUE(s.valid());
    auto receive = s.async_receive(net::use_future);
    ASSERT_TRUE(p.client.layer().send(nc::words("direct"), p.client.now()));
    ASSERT_TRUE(p.ready(receive, 200ms));  // far below the client's ~475 ms timer
    EXPECT_EQ(texts(receive.get()), (std::vector<std::string>{"direct"}));
}

TEST(io_operations, memory_network_counts_what_it_cannot_deliver) {
    net::io_context ctx;
    nio::memory_network network(2);
    nio::memory_transport a(ctx.get_executor(), network, client_address);
    nio::memory_transport b(ctx.get_executor(), network, server_address);
    EXPECT_THROW(nio::memory_transport(ctx.get_executor(), network, client_address), std::invalid_argument);
    for (int i = 0; i < 3; ++i) {
        auto slot = a.prepare_send();
        slot[0] = std::byte{static_cast<unsigned char>(i)};
        a.commit_send(1, server_address);
    }
    auto slot = a.prepare_send();
    a.commit_send(slot.size() > 0 ? 1 : 0, neutrino::peer_address::v4({10, 0, 0, 1}, 1));
    EXPECT_FALSE(a.flush_sends());
    EXPECT_EQ(network.counters().delivered, 2u);
    EXPECT_EQ(network.counters().overflowed, 1u);
    EXPECT_EQ(network.counters().unroutable, 1u);
    std::vector<int> got;
    boost::system::error_code ec;
    b.receive_batch([&](std::span<const std::byte> d, const neutrino::peer_address& from) {
        EXPECT_EQ(from, client_address);
        got.push_back(static_cast<int>(d[0]));
    }, ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(got, (std::vector<int>{0, 1}));
    b.receive_batch([](std::span<const std::byte>, const neutrino::peer_address&) {}, ec);
    EXPECT_EQ(ec, net::error::would_block);
}
