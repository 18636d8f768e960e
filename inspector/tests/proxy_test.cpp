// udp_proxy over real UDP on 127.0.0.1 (ephemeral ports), each test bounded by a few seconds.
#include "neutrino/inspector/io/udp_proxy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "test_seed.hpp"

namespace ni = neutrino::inspector;
namespace nio = neutrino::inspector::io;
namespace nc = neutrino::core;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using udp = net::ip::udp;

namespace {

const udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

/// A plain non-blocking UDP socket playing a client or a server the proxy knows nothing about.
class udp_peer {
public:
    explicit udp_peer(net::io_context& ctx, udp::endpoint local = loopback_any)
        : socket_(ctx, udp::v4()), buffer_(65536) {
        socket_.set_option(net::socket_base::receive_buffer_size(4 * 1024 * 1024));
        socket_.set_option(net::socket_base::send_buffer_size(4 * 1024 * 1024));
        socket_.bind(local);
        socket_.non_blocking(true);
    }

    [[nodiscard]] udp::endpoint local() const { return socket_.local_endpoint(); }

    /// Sends one datagram; false when the kernel refused it (e.g. a full buffer).
    bool send(std::span<const std::byte> bytes, const udp::endpoint& to) {
        boost::system::error_code ec;
        socket_.send_to(net::buffer(bytes.data(), bytes.size()), to, 0, ec);
        return !ec;
    }

    /// One waiting datagram, if any.
    std::optional<std::vector<std::byte>> try_receive(udp::endpoint* from = nullptr) {
        boost::system::error_code ec;
        udp::endpoint sender;
        const std::size_t n =
            socket_.receive_from(net::buffer(buffer_.data(), buffer_.size()), sender, 0, ec);
        if (ec) return std::nullopt;
        if (from != nullptr) *from = sender;
        return std::vector<std::byte>(buffer_.begin(),
                                      buffer_.begin() + static_cast<std::ptrdiff_t>(n));
    }

    void close() { socket_.close(); }

private:
    udp::socket socket_;
    std::vector<std::byte> buffer_;
};

/// Runs `ctx` until `done()` or `max` passed; returns whether `done()` returned true. `done`
/// may consume what it checks: it is not called again once it returned true.
template <class Pred>
bool run_until(net::io_context& ctx, Pred done, std::chrono::milliseconds max = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + max;
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        if (ctx.poll() == 0) ctx.run_one_for(1ms);
    }
}

void run_for(net::io_context& ctx, std::chrono::milliseconds t) {
    (void)run_until(ctx, [] { return false; }, t);
}

std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::byte> v(n);
    for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

nio::proxy_config loopback_config(const udp::endpoint& target) {
    nio::proxy_config cfg;
    cfg.listen = loopback_any;
    cfg.target = target;
    cfg.seed = neutrino::test::test_seed(300);
    return cfg;
}

/// received + duplicated = forwarded + dropped + in flight, for one direction.
void expect_balanced(const nio::direction_summary& s) {
    EXPECT_EQ(s.received() + s.impairment.duplicated, s.forwarded() + s.dropped() + s.in_flight);
}

}  // namespace

TEST(udp_proxy, forwards_byte_identical_datagrams_of_every_size_both_ways) {
    net::io_context ctx;
    udp_peer server(ctx);
    nio::udp_proxy proxy(ctx, loopback_config(server.local()));
    udp_peer client(ctx);
    const udp::endpoint via = proxy.local_endpoint();

    std::mt19937_64 rng(neutrino::test::test_seed(1));
    std::vector<std::size_t> sizes = {0, 65507, 1, 1280, 2048, 2049, 65535 - 28 - 1};
    std::uniform_int_distribution<std::size_t> any_size(0, 65507);
    while (sizes.size() < 1000) sizes.push_back(any_size(rng));

    for (std::size_t i = 0; i < sizes.size(); ++i) {
        SCOPED_TRACE("datagram " + std::to_string(i) + " of " + std::to_string(sizes[i]) + " bytes");
        const auto up = random_bytes(rng, sizes[i]);
        ASSERT_TRUE(client.send(up, via));
        std::optional<std::vector<std::byte>> got;
        udp::endpoint upstream;
        ASSERT_TRUE(run_until(ctx, [&] { return (got = server.try_receive(&upstream)).has_value(); }));
        ASSERT_EQ(*got, up);

        const auto down = random_bytes(rng, sizes[sizes.size() - 1 - i]);
        ASSERT_TRUE(server.send(down, upstream));
        udp::endpoint from;
        got.reset();
        ASSERT_TRUE(run_until(ctx, [&] { return (got = client.try_receive(&from)).has_value(); }));
        ASSERT_EQ(*got, down);
        EXPECT_EQ(from, via);
    }
    for (const auto& s : {proxy.client_to_server_summary(), proxy.server_to_client_summary()}) {
        EXPECT_EQ(s.received(), 1000U);
        EXPECT_EQ(s.forwarded(), 1000U);
        EXPECT_EQ(s.dropped(), 0U);
        expect_balanced(s);
    }
    EXPECT_EQ(proxy.clients(), 1U);
    EXPECT_FALSE(proxy.last_error());
}

TEST(udp_proxy, a_burst_arrives_whole_and_in_order) {
    net::io_context ctx;
    udp_peer server(ctx);
    nio::udp_proxy proxy(ctx, loopback_config(server.local()));
    udp_peer client(ctx);
    std::mt19937_64 rng(neutrino::test::test_seed(2));
    std::vector<std::vector<std::byte>> sent;
    for (std::size_t i = 0; i < 500; ++i) {
        // Runs of equal sizes (GSO/GRO batches) broken by other sizes.
        sent.push_back(random_bytes(rng, i % 7 == 0 ? i * 3 : 1280));
        ASSERT_TRUE(client.send(sent.back(), proxy.local_endpoint()));
    }
    std::vector<std::vector<std::byte>> got;
    ASSERT_TRUE(run_until(ctx, [&] {
        while (auto d = server.try_receive()) got.push_back(std::move(*d));
        return got.size() == sent.size();
    }));
    EXPECT_EQ(got, sent);
}

TEST(udp_proxy, with_half_loss_the_counts_add_up) {
    net::io_context ctx;
    udp_peer server(ctx);
    auto cfg = loopback_config(server.local());
    cfg.client_to_server.drop = 0.5;
    cfg.server_to_client.drop = 0.5;
    nio::udp_proxy proxy(ctx, cfg);
    udp_peer client(ctx);

    constexpr std::size_t total = 1000;
    std::size_t at_server = 0;
    std::size_t at_client = 0;
    auto echo = [&] {
        udp::endpoint from;
        while (auto d = server.try_receive(&from)) {
            ++at_server;
            server.send(*d, from);
        }
        while (client.try_receive()) ++at_client;
    };
    std::array<std::byte, 100> payload{};
    for (std::size_t i = 0; i < total; ++i) {
        std::memcpy(payload.data(), &i, sizeof i);
        ASSERT_TRUE(client.send(payload, proxy.local_endpoint()));
        if (i % 100 == 99) run_for(ctx, 5ms);
        echo();
    }
    ASSERT_TRUE(run_until(ctx, [&] {
        echo();
        const auto c2s = proxy.client_to_server_summary();
        const auto s2c = proxy.server_to_client_summary();
        return c2s.received() == total && s2c.received() == at_server &&
               at_client == s2c.forwarded() && c2s.in_flight == 0 && s2c.in_flight == 0;
    }));

    const auto c2s = proxy.client_to_server_summary();
    EXPECT_EQ(c2s.forwarded() + c2s.dropped(), total);
    EXPECT_EQ(c2s.dropped(), c2s.impairment.dropped_random);
    EXPECT_EQ(at_server, c2s.forwarded());
    EXPECT_GT(c2s.dropped(), total * 4 / 10);
    EXPECT_LT(c2s.dropped(), total * 6 / 10);
    const auto s2c = proxy.server_to_client_summary();
    EXPECT_EQ(s2c.forwarded() + s2c.dropped(), s2c.received());
    EXPECT_EQ(at_client, s2c.forwarded());
    expect_balanced(c2s);
    expect_balanced(s2c);
}

TEST(udp_proxy, a_target_that_is_not_there_does_not_stop_it) {
    net::io_context ctx;
    udp::endpoint target;
    {
        udp_peer reserve(ctx);  // a port nobody listens on once closed
        target = reserve.local();
    }
    nio::udp_proxy proxy(ctx, loopback_config(target));
    udp_peer client(ctx);
    std::array<std::byte, 64> payload{};
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(client.send(payload, proxy.local_endpoint()));
        run_for(ctx, 1ms);  // each ICMP port unreachable comes back before the next send
    }
    ASSERT_TRUE(run_until(ctx, [&] { return proxy.client_to_server_summary().received() == 50; }));
    run_for(ctx, 50ms);
    EXPECT_TRUE(proxy.is_open());
    EXPECT_FALSE(proxy.last_error());
    const auto refused = proxy.counters().upstream_receive.errors.connection_refused;
    std::printf("ECONNREFUSED seen by the upstream socket: %llu\n",
                static_cast<unsigned long long>(refused));
    expect_balanced(proxy.client_to_server_summary());

    // The target comes up on the same port: traffic flows again, both ways.
    std::unique_ptr<udp_peer> server;
    try {
        server = std::make_unique<udp_peer>(ctx, target);
    } catch (const boost::system::system_error&) {
        GTEST_SKIP() << "the port was taken meanwhile";
    }
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.send(payload, proxy.local_endpoint()));
    std::size_t at_server = 0;
    udp::endpoint upstream;
    ASSERT_TRUE(run_until(ctx, [&] {
        while (server->try_receive(&upstream)) ++at_server;
        return at_server == 10;
    }));
    ASSERT_TRUE(server->send(payload, upstream));
    ASSERT_TRUE(run_until(ctx, [&] { return client.try_receive().has_value(); }));

    // The client vanishes: answers to it go nowhere, and the proxy goes on.
    client.close();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(server->send(payload, upstream));
    ASSERT_TRUE(
        run_until(ctx, [&] { return proxy.server_to_client_summary().received() == 11; }));
    run_for(ctx, 20ms);
    EXPECT_TRUE(proxy.is_open());
    EXPECT_FALSE(proxy.last_error());
    expect_balanced(proxy.server_to_client_summary());
}

TEST(udp_proxy, an_hour_of_delay_holds_no_more_than_the_cap) {
    net::io_context ctx;
    udp_peer server(ctx);
    auto cfg = loopback_config(server.local());
    constexpr std::size_t cap = 256 * 1024;
    cfg.client_to_server.delay = 1h;
    cfg.client_to_server.max_held_size = cap;
    nio::udp_proxy proxy(ctx, cfg);
    udp_peer client(ctx);
    std::array<std::byte, 1280> payload{};
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(client.send(payload, proxy.local_endpoint()));
        if (i % 100 == 99) run_for(ctx, 2ms);
    }
    // Plus the largest datagram, which needs a 64 KiB buffer.
    std::vector<std::byte> large(65507);
    ASSERT_TRUE(client.send(large, proxy.local_endpoint()));
    ASSERT_TRUE(
        run_until(ctx, [&] { return proxy.client_to_server_summary().received() == 1001; }));
    run_for(ctx, 20ms);

    const auto s = proxy.client_to_server_summary();
    EXPECT_LE(s.impairment.peak_held_size, cap);
    EXPECT_LE(s.impairment.held_size, cap);
    EXPECT_EQ(s.in_flight, cap / 2048);  // a 1280-byte copy costs a 2048-byte buffer
    EXPECT_EQ(s.impairment.dropped_memory, 1001 - cap / 2048);
    EXPECT_EQ(s.forwarded(), 0U);
    expect_balanced(s);
    EXPECT_FALSE(server.try_receive().has_value());
}

TEST(udp_proxy, more_clients_than_the_limit_are_counted_and_idle_ones_unmapped) {
    net::io_context ctx;
    udp_peer server(ctx);
    auto cfg = loopback_config(server.local());
    cfg.max_clients = 2;
    cfg.idle_timeout = 100ms;
    nio::udp_proxy proxy(ctx, cfg);
    std::vector<std::unique_ptr<udp_peer>> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<udp_peer>(ctx));
    std::array<std::byte, 8> payload{};
    for (auto& c : clients) ASSERT_TRUE(c->send(payload, proxy.local_endpoint()));
    ASSERT_TRUE(
        run_until(ctx, [&] { return proxy.client_to_server_summary().received() == 3; }));
    EXPECT_EQ(proxy.clients(), 2U);
    EXPECT_EQ(proxy.counters().client_to_server.no_client_slot, 1U);
    ASSERT_TRUE(run_until(ctx, [&] { return proxy.clients() == 0; }, 2000ms));
    EXPECT_EQ(proxy.counters().clients_evicted, 2U);
    // The third client gets a mapping now.
    ASSERT_TRUE(clients[2]->send(payload, proxy.local_endpoint()));
    std::size_t at_server = 0;
    ASSERT_TRUE(run_until(ctx, [&] {
        while (server.try_receive()) ++at_server;
        return at_server == 3;  // two from the first clients, one from the third
    }));
    EXPECT_EQ(proxy.counters().clients_mapped, 3U);
    EXPECT_EQ(proxy.client_to_server_summary().forwarded(), 3U);
}

TEST(udp_proxy, the_core_example_protocol_works_through_loss_and_duplication) {
    net::io_context ctx;
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    ASSERT_TRUE(keys);
    nc::server_config server_cfg;
    server_cfg.keys = *keys;
    neutrino::io::basic_endpoint<nc::server> server(ctx, loopback_any,
                                                     nc::server(std::move(server_cfg)));

    auto cfg = loopback_config(server.local_endpoint());
    for (auto* d : {&cfg.client_to_server, &cfg.server_to_client}) {
        d->drop = 0.10;
        d->duplicate = 0.05;
    }
    std::printf("proxy seed %llu\n", static_cast<unsigned long long>(cfg.seed));
    nio::udp_proxy proxy(ctx, cfg);

    nc::client_config client_cfg;
    client_cfg.server_key = keys->pk;
    client_cfg.server = neutrino::io::to_peer_address(proxy.local_endpoint());
    client_cfg.timers.redial_interval = 300ms;  // a lost handshake costs less waiting
    neutrino::io::basic_endpoint<nc::client> client(ctx, loopback_any, nc::client(client_cfg));

    std::vector<int> at_client;
    std::vector<int> at_server;
    client.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) at_client.push_back(std::stoi(std::string(nc::as_string(e.words[0]))));
    });
    server.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) at_server.push_back(std::stoi(std::string(nc::as_string(e.words[0]))));
    });

    ASSERT_TRUE(client.layer().connect(neutrino::clock::now()));
    client.flush();
    const auto dial = std::chrono::steady_clock::now();
    ASSERT_TRUE(run_until(
        ctx,
        [&] {
            return client.layer().established() &&
                   server.layer().state_of(client.layer().session_id()) ==
                       nc::session_state::established;
        },
        10000ms))
        << "no session within 10 s";
    std::printf("session established after %lld ms\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - dial)
                                           .count()));

    constexpr int messages = 100;
    const std::uint64_t id = client.layer().session_id();
    for (int i = 0; i < messages; ++i) {
        const std::string text = std::to_string(i);
        const auto now = neutrino::clock::now();
        ASSERT_TRUE(client.layer().send(nc::words(text), now));
        client.flush();
        ASSERT_TRUE(server.layer().send(id, nc::words(text), now));
        server.flush();
        run_for(ctx, 2ms);
    }
    run_for(ctx, 100ms);

    for (const auto* got : {&at_client, &at_server}) {
        EXPECT_TRUE(std::is_sorted(got->begin(), got->end()));
        EXPECT_EQ(std::adjacent_find(got->begin(), got->end()), got->end()) << "a duplicate";
        EXPECT_LE(got->size(), static_cast<std::size_t>(messages));
        EXPECT_GT(got->size(), static_cast<std::size_t>(messages / 2));
        EXPECT_TRUE(std::all_of(got->begin(), got->end(), [](int v) { return v >= 0 && v < messages; }));
    }
    const auto c2s = proxy.client_to_server_summary();
    const auto s2c = proxy.server_to_client_summary();
    std::printf("c2s: received %llu forwarded %llu dropped %llu duplicated %llu; "
                "s2c: received %llu forwarded %llu dropped %llu duplicated %llu\n",
                static_cast<unsigned long long>(c2s.received()),
                static_cast<unsigned long long>(c2s.forwarded()),
                static_cast<unsigned long long>(c2s.dropped()),
                static_cast<unsigned long long>(c2s.impairment.duplicated),
                static_cast<unsigned long long>(s2c.received()),
                static_cast<unsigned long long>(s2c.forwarded()),
                static_cast<unsigned long long>(s2c.dropped()),
                static_cast<unsigned long long>(s2c.impairment.duplicated));
    EXPECT_GT(c2s.impairment.dropped_random + s2c.impairment.dropped_random, 0U);
    expect_balanced(c2s);
    expect_balanced(s2c);
}

#if defined(NEUTRINO_INSPECTOR_BINARY)
TEST(neutrino_inspector, prints_a_summary_per_direction_and_exits_0) {
    const std::string command = std::string(NEUTRINO_INSPECTOR_BINARY) +
                                " --listen 127.0.0.1:0 --target 127.0.0.1:9 --seed 3 --drop 0.1"
                                " --s2c-delay 5 --blackhole 10:20 --drop-nth 3 --classifier neutrino"
                                " --drop-type 0x04 --duration 0.3 --log-level warn 2>&1";
    std::FILE* p = ::popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) out += buf.data();
    const int status = ::pclose(p);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("c2s: forwarded 0, dropped 0 (random 0"), std::string::npos) << out;
    EXPECT_NE(out.find("s2c: forwarded 0, dropped 0"), std::string::npos) << out;
}
#endif
