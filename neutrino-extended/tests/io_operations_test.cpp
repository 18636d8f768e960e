// The extended stack under io::endpoint: a message far beyond one datagram goes out with one
// async_send (the layer's queue and the reliable window wait inside the driver) and comes back
// whole from async_receive, with coroutines on both ends.
#include "neutrino/io/endpoint.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "extended_support.hpp"
#include "io_support.hpp"
#include "neutrino/io/memory_transport.hpp"

namespace nio = neutrino::io;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using namespace neutrino::extended_test;

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
TEST(extended_io, large_messages_through_async_send_and_async_receive) {
    using client_ep = nio::endpoint<client_t, nio::memory_transport>;
    using server_ep = nio::endpoint<server_t, nio::memory_transport>;
    net::io_context ctx;
    nio::memory_network network;
    server_ep server{server_t(server_cfg(), ne::config{}, nr::config{}, nc::null_observer{}, neutrino::seeded_random(5)),
                     {}, std::in_place, ctx.get_executor(), network, neutrino::test::server_address};
    client_ep client{client_t(client_cfg(), ne::config{}, nr::config{}, nc::null_observer{}, neutrino::seeded_random(6)),
                     {}, std::in_place, ctx.get_executor(), network, neutrino::test::client_address};

    // Three messages of 300 KB, 1 byte and 2 MB, each word a pattern of its index.
    const std::vector<std::size_t> sizes{300'000, 1, 2'000'000};
    std::vector<std::string> payloads;
    for (std::size_t i = 0; i < sizes.size(); ++i) payloads.emplace_back(sizes[i], static_cast<char>('a' + i));
    std::vector<std::size_t> echoed;
    bool server_done = false, client_done = false;

    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            auto s = co_await server.async_accept(net::use_awaitable);
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                nio::message m = co_await s.async_receive(net::use_awaitable);
                EXPECT_EQ(m.text(1), payloads[i]);
                co_await s.async_send(nc::words("ok", std::to_string(m.bytes())), net::use_awaitable);
            }
            server_done = true;
        },
        net::detached);
    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            co_await client.async_connect(net::use_awaitable);
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                co_await client.async_send(nc::words(std::to_string(i), payloads[i]), net::use_awaitable);
            }
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                nio::message m = co_await client.async_receive(net::use_awaitable);
                echoed.push_back(std::stoul(std::string(m.text(1))));
            }
            client_done = true;
        },
        net::detached);
    ASSERT_TRUE(neutrino::test::run_until(ctx, [&] { return server_done && client_done; }, 20s));
    ASSERT_EQ(echoed.size(), sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(echoed[i], sizes[i] + std::to_string(i).size());
}
#endif
