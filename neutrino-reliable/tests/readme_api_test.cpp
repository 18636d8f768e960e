// The README's API section, compiled and run: the same two coroutines (templated on the
// endpoint so they run over the in-memory transport here; the README's run over UDP).
#include "neutrino/io/endpoint.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "io_support.hpp"
#include "neutrino/io/memory_transport.hpp"
#include "reliable_support.hpp"

namespace nio = neutrino::io;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using namespace neutrino::reliable_test;

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
namespace {

std::ostringstream out;  // the README prints to std::cout

template <class Endpoint>
net::awaitable<void> ask(Endpoint& ep) {
    co_await ep.async_connect(net::use_awaitable);
    co_await ep.async_send(nc::words("374", "7", "1.5"), net::use_awaitable);
    nio::message answer = co_await ep.async_receive(net::use_awaitable);
    out << answer.text(1) << '\n';
    ep.disconnect();
}

template <class Endpoint>
net::awaitable<void> serve(Endpoint& ep) {
    for (;;) {
        auto session = co_await ep.async_accept(net::use_awaitable);
        net::co_spawn(ep.get_executor(), [session]() mutable -> net::awaitable<void> {
            for (;;) {
                nio::message m = co_await session.async_receive(net::use_awaitable);
                co_await session.async_send(m.words(), net::use_awaitable);
            }
        }, net::detached);
    }
}

}  // namespace

TEST(readme_api, the_coroutine_client_and_server_work_as_written) {
    out.str({});
    net::io_context ctx;
    nio::memory_network network;
    nio::endpoint<server_t, nio::memory_transport> server{
        server_t(server_cfg(), nc::null_observer{}, neutrino::seeded_random(1)), {}, std::in_place,
        ctx.get_executor(), network, neutrino::test::server_address};
    nio::endpoint<client_t, nio::memory_transport> client{
        client_t(client_cfg(), nc::null_observer{}, neutrino::seeded_random(2)), {}, std::in_place,
        ctx.get_executor(), network, neutrino::test::client_address};
    net::co_spawn(ctx, serve(server), net::detached);
    net::co_spawn(ctx, ask(client), net::detached);
    neutrino::test::run_until(ctx, [&] { return !client.is_open(); }, 10s);
    EXPECT_FALSE(client.is_open());  // disconnect() ran: the whole exchange completed
    EXPECT_EQ(out.str(), "7\n");     // the echo of ["374", "7", "1.5"]
    server.close();
    ctx.run_for(100ms);
}
#endif
