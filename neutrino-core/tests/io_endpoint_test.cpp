#include "neutrino/io/basic_endpoint.hpp"

#include <gtest/gtest.h>

#include "io_support.hpp"
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <new>
#include <thread>
#include <vector>

#include "neutrino/datagram_layer.hpp"

// Heap allocations are counted by the replacement operator new in allocation_test.cpp.
namespace neutrino::test {
std::uint64_t heap_allocation_count() noexcept;
}  // namespace neutrino::test

namespace {

using namespace std::chrono_literals;
using neutrino::clock;
using neutrino::peer_address;
using neutrino::result;
using neutrino::time_point;
using neutrino::transmit;
namespace net = neutrino::net;
namespace io = neutrino::io;

const net::ip::udp::endpoint loopback_any{net::ip::make_address_v4("127.0.0.1"), 0};

using neutrino::test::run_until;

// ---------------------------------------------------------------------------------------------
// Test layers

/// What the echo layer reports: one event per datagram it received.
struct echo_event {
    std::size_t size = 0;
    peer_address from;
};

/// Echoes every datagram back to its sender. Fixed rings, no allocation after construction.
class echo_layer {
public:
    using event_type = echo_event;
    static constexpr std::size_t capacity = 1024;
    static constexpr std::size_t slot_size = 2048;

    echo_layer() : data_(capacity * slot_size) {}

    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point /*now*/) {
        if (pending_ == capacity || in.size() > slot_size) {
            ++rejected;
            return neutrino::fail(std::errc::no_buffer_space);
        }
        const std::size_t slot = (head_ + pending_) % capacity;
        std::memcpy(data_.data() + slot * slot_size, in.data(), in.size());
        size_[slot] = in.size();
        to_[slot] = from;
        ++pending_;
        ++received;
        if (events_pending_ < capacity) {
            events_[(events_head_ + events_pending_) % capacity] = {in.size(), from};
            ++events_pending_;
        }
        return {};
    }

    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point /*now*/) {
        if (pending_ == 0) return std::nullopt;
        const std::size_t slot = head_;
        head_ = (head_ + 1) % capacity;
        --pending_;
        std::memcpy(out.data(), data_.data() + slot * slot_size, size_[slot]);
        return transmit{size_[slot], to_[slot]};
    }

    std::optional<echo_event> poll_event() {
        if (events_pending_ == 0) return std::nullopt;
        const echo_event e = events_[events_head_];
        events_head_ = (events_head_ + 1) % capacity;
        --events_pending_;
        return e;
    }

    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point /*now*/) {}

    std::uint64_t received = 0;
    std::uint64_t rejected = 0;

private:
    std::vector<std::byte> data_;
    std::array<std::size_t, capacity> size_{};
    std::array<peer_address, capacity> to_{};
    std::size_t head_ = 0;
    std::size_t pending_ = 0;
    std::array<echo_event, capacity> events_{};
    std::size_t events_head_ = 0;
    std::size_t events_pending_ = 0;
};

/// What the client layer reports: one event per echo.
struct client_event {
    std::uint64_t sequence = 0;
    std::size_t size = 0;
};

/// Sends numbered datagrams to one peer (`send(n)`), at most `window` unanswered, and counts
/// the echoes. With a tick period it asks for a deadline every period; a tick without progress
/// forgets the unanswered datagrams (declared lost) so the window reopens.
class client_layer {
public:
    using event_type = client_event;
    static constexpr std::size_t max_events = 1024;

    struct config {
        peer_address peer;
        std::size_t datagram_size = 100;
        std::size_t window = 64;
        std::optional<neutrino::duration> tick{};
        time_point start{};
    };

    explicit client_layer(const config& c) : config_(c) {
        if (config_.tick) next_tick_ = config_.start + *config_.tick;
    }

    void send(std::size_t n) { to_send_ += n; }
    void set_peer(const peer_address& p) { config_.peer = p; }

    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& /*from*/,
                                 time_point /*now*/) {
        if (in.size() < 8) return neutrino::fail(std::errc::message_size);
        std::uint64_t seq = 0;
        std::memcpy(&seq, in.data(), 8);
        ++echoes;
        echo_bytes += in.size();
        if (in_flight_ > 0) --in_flight_;
        progress_ = true;
        if (events_pending_ < max_events) {
            events_[(events_head_ + events_pending_) % max_events] = {seq, in.size()};
            ++events_pending_;
        }
        return {};
    }

    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point /*now*/) {
        if (to_send_ == 0 || in_flight_ >= config_.window) return std::nullopt;
        const std::size_t n = std::max<std::size_t>(config_.datagram_size, 8);
        std::memset(out.data(), 0x5a, n);
        std::memcpy(out.data(), &sent, 8);
        ++sent;
        --to_send_;
        ++in_flight_;
        return transmit{n, config_.peer};
    }

    std::optional<client_event> poll_event() {
        if (events_pending_ == 0) return std::nullopt;
        const client_event e = events_[events_head_];
        events_head_ = (events_head_ + 1) % max_events;
        --events_pending_;
        return e;
    }

    [[nodiscard]] std::optional<time_point> deadline() const { return next_tick_; }

    void handle_deadline(time_point now) {
        ++ticks;
        if (next_tick_ && now < *next_tick_) ++early_ticks;
        if (!progress_ && in_flight_ > 0) {
            declared_lost += in_flight_;
            in_flight_ = 0;
        }
        progress_ = false;
        if (config_.tick) next_tick_ = now + *config_.tick;
    }

    std::uint64_t sent = 0;
    std::uint64_t echoes = 0;
    std::uint64_t echo_bytes = 0;
    std::uint64_t ticks = 0;
    std::uint64_t early_ticks = 0;
    std::uint64_t declared_lost = 0;

private:
    config config_;
    std::size_t to_send_ = 0;
    std::size_t in_flight_ = 0;
    bool progress_ = false;
    std::optional<time_point> next_tick_;
    std::array<client_event, max_events> events_{};
    std::size_t events_head_ = 0;
    std::size_t events_pending_ = 0;
};

static_assert(neutrino::datagram_layer<echo_layer>);
static_assert(neutrino::datagram_layer<client_layer>);

using echo_endpoint = io::basic_endpoint<echo_layer>;
using client_endpoint = io::basic_endpoint<client_layer>;

client_layer::config client_config(const echo_endpoint& server, std::size_t size = 100,
                                   std::size_t window = 64) {
    client_layer::config c;
    c.peer = server.local_address();
    c.datagram_size = size;
    c.window = window;
    return c;
}

// ---------------------------------------------------------------------------------------------

// (a) Callbacks: a completion-handler loop collects the echoes.
TEST(io_endpoint, echo_round_trip_with_callbacks) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});
    client_endpoint client(ctx, loopback_any, client_layer{client_config(server)});

    std::vector<std::uint64_t> seen;
    std::function<void(boost::system::error_code, client_event)> on_event;
    on_event = [&](boost::system::error_code ec, client_event e) {
        if (ec) return;
        seen.push_back(e.sequence);
        if (seen.size() == 5) {
            client.close();
            server.close();
            return;
        }
        client.async_next_event(on_event);
    };
    client.async_next_event(on_event);
    client.layer().send(5);
    client.flush();

    ctx.run_for(5s);
    ASSERT_EQ(seen.size(), 5U);
    for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(seen[i], i);
    EXPECT_EQ(server.layer().received, 5U);
    EXPECT_EQ(server.queued_events(), 5U);  // nobody asked the server for its events
    EXPECT_EQ(server.socket().counters().datagrams_out, 5U);
    EXPECT_TRUE(ctx.stopped());  // close() let run() return
}

// (b) use_future, with the io_context running on a test thread.
TEST(io_endpoint, echo_with_use_future) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});
    client_endpoint client(ctx, loopback_any, client_layer{client_config(server)});

    std::future<client_event> first = client.async_next_event(net::use_future);
    client.layer().send(1);
    client.flush();  // sends right away: the socket is non-blocking
    std::thread runner([&] { ctx.run_for(10s); });

    ASSERT_EQ(first.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(first.get().sequence, 0U);

    // From now on the endpoint is touched only on its executor.
    std::promise<std::future<client_event>> second_promise;
    net::post(ctx, [&] {
        second_promise.set_value(client.async_next_event(net::use_future));
        client.layer().send(1);
        client.flush();
    });
    auto second = second_promise.get_future().get();
    ASSERT_EQ(second.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(second.get().sequence, 1U);

    // A waiting operation completes with operation_aborted on close(): the future throws.
    std::promise<std::future<client_event>> third_promise;
    net::post(ctx, [&] {
        third_promise.set_value(client.async_next_event(net::use_future));
        client.close();
        server.close();
    });
    auto third = third_promise.get_future().get();
    ASSERT_EQ(third.wait_for(5s), std::future_status::ready);
    try {
        (void)third.get();
        ADD_FAILURE() << "expected operation_aborted";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), net::error::operation_aborted);
    }
    runner.join();
}

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
// (c) use_awaitable via co_spawn.
TEST(io_endpoint, echo_with_use_awaitable) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});
    client_endpoint client(ctx, loopback_any, client_layer{client_config(server, 300)});

    std::vector<client_event> seen;
    bool finished = false;
    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            client.layer().send(3);
            client.flush();
            for (int i = 0; i < 3; ++i) {
                seen.push_back(co_await client.async_next_event(net::use_awaitable));
            }
            client.close();
            try {
                (void)co_await client.async_next_event(net::use_awaitable);
            } catch (const boost::system::system_error& e) {
                finished = e.code() == net::error::operation_aborted;
            }
            server.close();
        },
        net::detached);
    ctx.run_for(5s);
    ASSERT_EQ(seen.size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(seen[i].sequence, i);
        EXPECT_EQ(seen[i].size, 300U);
    }
    EXPECT_TRUE(finished);
}
#else
TEST(io_endpoint, echo_with_use_awaitable) { GTEST_SKIP() << "no co_await in this build"; }
#endif

// (d) ICMP port unreachable: counted, and the receive loop lives on.
TEST(io_endpoint, connection_refused_is_transient) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});

    peer_address closed;
    {
        net::ip::udp::socket s(ctx, loopback_any);
        closed = io::to_peer_address(s.local_endpoint());
    }
    auto cfg = client_config(server);
    cfg.peer = closed;
    client_endpoint client(ctx, loopback_any, client_layer{cfg});
    boost::system::error_code ec;
    client.socket().connect(closed, ec);  // Linux reports ICMP errors on connected sockets only
    ASSERT_FALSE(ec) << ec.message();

    client.layer().send(1);
    client.flush();
    const auto& errors = client.socket().counters().receive_errors;
    run_until(
        ctx, [&] { return errors.connection_refused > 0; }, 3000ms);
    EXPECT_GE(errors.connection_refused, 1U);
    EXPECT_TRUE(client.is_open());
    EXPECT_FALSE(client.last_error());

    // The loop is still alive: a following echo arrives.
    client.socket().connect(server.local_address(), ec);
    ASSERT_FALSE(ec) << ec.message();
    client.layer().set_peer(server.local_address());
    client.layer().send(1);
    client.flush();
    run_until(
        ctx, [&] { return client.layer().echoes >= 1; }, 3000ms);
    EXPECT_EQ(client.layer().echoes, 1U);
}

// (e) The timer calls handle_deadline at (never before) the layer's deadline, re-armed each time.
TEST(io_endpoint, timer_fires_at_layer_deadline) {
    net::io_context ctx;
    client_layer::config cfg;
    cfg.peer = peer_address::v4({127, 0, 0, 1}, 9);
    cfg.tick = 20ms;
    cfg.start = clock::now();
    client_endpoint client(ctx, loopback_any, client_layer{cfg});

    const auto started = clock::now();
    ctx.run_for(210ms);
    const auto elapsed = clock::now() - started;
    const auto ticks = client.layer().ticks;
    EXPECT_GE(ticks, 5U);
    EXPECT_LE(static_cast<std::int64_t>(ticks), elapsed / 20ms + 1);
    EXPECT_EQ(client.layer().early_ticks, 0U);
    EXPECT_EQ(client.counters().deadlines, ticks);
    EXPECT_EQ(client.counters().timer_arms, ticks + 1);
}

// A deadline that moves earlier through the layer API is picked up by flush().
TEST(io_endpoint, flush_rearms_changed_deadline) {
    net::io_context ctx;
    client_layer::config cfg;
    cfg.peer = peer_address::v4({127, 0, 0, 1}, 9);
    cfg.tick = 10s;
    cfg.start = clock::now();
    client_endpoint client(ctx, loopback_any, client_layer{cfg});
    ctx.run_for(20ms);
    EXPECT_EQ(client.layer().ticks, 0U);

    client.layer() = client_layer{[&] {
        auto c = cfg;
        c.tick = 10ms;
        c.start = clock::now();
        return c;
    }()};
    client.flush();
    ctx.restart();
    ctx.run_for(100ms);
    EXPECT_GE(client.layer().ticks, 3U);
}

class io_endpoint_batch : public ::testing::TestWithParam<bool> {};

// (f) 10 000 datagrams through the echo server, paced by the client's window.
TEST_P(io_endpoint_batch, ten_thousand_datagrams) {
    const bool offload = GetParam();
    io::endpoint_options options;
    options.socket.gso = offload;
    options.socket.gro = offload;
    constexpr std::size_t total = 10000;

    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{}, options);
    auto cfg = client_config(server, 1200, 256);
    cfg.tick = 20ms;
    cfg.start = clock::now();
    client_endpoint client(ctx, loopback_any, client_layer{cfg}, options);

    std::uint64_t handled = 0;
    client.set_event_handler([&](const client_event&) {
        if (++handled + client.layer().declared_lost >= total) {
            client.close();
            server.close();
        }
    });
    client.layer().send(total);
    client.flush();
    ctx.run_for(15s);

    const auto& c = client.socket().counters();
    const auto& s = server.socket().counters();
    std::printf(
        "[ offload=%d gso=%d gro=%d ] client out %llu (gso msgs %llu, calls %llu) server in %llu "
        "(gro bufs %llu, calls %llu) echoes %llu lost %llu\n",
        offload, client.socket().gso_enabled(), server.socket().gro_enabled(),
        static_cast<unsigned long long>(c.datagrams_out),
        static_cast<unsigned long long>(c.gso_messages),
        static_cast<unsigned long long>(c.send_calls),
        static_cast<unsigned long long>(s.datagrams_in),
        static_cast<unsigned long long>(s.gro_buffers),
        static_cast<unsigned long long>(s.receive_calls),
        static_cast<unsigned long long>(client.layer().echoes),
        static_cast<unsigned long long>(client.layer().declared_lost));
    EXPECT_EQ(client.layer().sent, total);
    EXPECT_GE(server.layer().received, total * 99 / 100);
    EXPECT_GE(client.layer().echoes, total * 99 / 100);
    EXPECT_EQ(handled, client.layer().echoes);
    EXPECT_EQ(client.layer().echo_bytes, client.layer().echoes * 1200);
    if (!offload) {
        EXPECT_EQ(c.gso_messages, 0U);
        EXPECT_EQ(s.gro_buffers, 0U);
    }
}

INSTANTIATE_TEST_SUITE_P(io_endpoint, io_endpoint_batch, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                             return p.param ? "offload" : "plain";
                         });

// (g) A GSO send the kernel refuses (SO_NO_CHECK makes UDP GSO return EINVAL) falls back to
// plain sendmmsg: GSO is switched off and every datagram still arrives.
TEST(io_endpoint, gso_refused_falls_back_to_plain_sends) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});
    client_endpoint client(ctx, loopback_any, client_layer{client_config(server, 1000, 64)});
    if (!client.socket().gso_enabled()) GTEST_SKIP() << "no UDP GSO on this kernel";

    const int one = 1;
    ASSERT_EQ(::setsockopt(client.socket().next_layer().native_handle(), SOL_SOCKET, SO_NO_CHECK,
                           &one, sizeof one),
              0);
    client.layer().send(64);
    client.flush();
    EXPECT_EQ(client.socket().counters().gso_fallbacks, 1U);
    EXPECT_FALSE(client.socket().gso_enabled());
    EXPECT_EQ(client.socket().counters().datagrams_out, 64U);
    EXPECT_EQ(client.socket().counters().send_dropped, 0U);

    run_until(ctx, [&] { return client.layer().echoes >= 64; });
    EXPECT_EQ(server.layer().received, 64U);
    EXPECT_EQ(client.layer().echoes, 64U);
}

// The view-safe handler path allocates nothing per datagram in the steady state.
TEST(io_endpoint, handler_path_does_not_allocate_per_datagram) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});
    auto cfg = client_config(server, 1200, 32);
    client_endpoint client(ctx, loopback_any, client_layer{cfg});
    std::uint64_t events = 0;
    server.set_event_handler([&](const echo_event&) {});
    client.set_event_handler([&](const client_event&) { ++events; });

    // The predicates read the layer through a const endpoint: `layer()` on a non-const one
    // schedules a drain, which is an Asio post.
    client.layer().send(500);  // warm-up: Asio's per-thread handler memory, lazily made state
    client.flush();
    run_until(ctx, [&] { return std::as_const(client).layer().echoes >= 500; });
    ASSERT_EQ(client.layer().echoes, 500U);

    const auto before = neutrino::test::heap_allocation_count();
    client.layer().send(5000);
    client.flush();
    run_until(
        ctx, [&] { return std::as_const(client).layer().echoes >= 5500; }, 10000ms);
    const auto allocations = neutrino::test::heap_allocation_count() - before;
    EXPECT_GE(client.layer().echoes, 5400U);
    EXPECT_EQ(allocations, 0U);
}

// Without a waiter and without a handler, events are queued up to the capacity, oldest dropped.
TEST(io_endpoint, event_queue_is_bounded) {
    net::io_context ctx;
    io::endpoint_options options;
    options.event_queue_capacity = 10;
    echo_endpoint server(ctx, loopback_any, echo_layer{}, options);
    client_endpoint client(ctx, loopback_any, client_layer{client_config(server, 50, 100)});
    client.layer().send(30);
    client.flush();
    run_until(ctx, [&] { return client.layer().echoes >= 30; });
    EXPECT_EQ(server.queued_events(), 10U);
    EXPECT_EQ(server.counters().events_dropped, 20U);
    EXPECT_EQ(server.counters().events, 30U);

    // Queued events complete immediately (but asynchronously), oldest kept is #20.
    std::size_t got = 0;
    server.async_next_event([&](boost::system::error_code ec, echo_event e) {
        EXPECT_FALSE(ec);
        EXPECT_EQ(e.size, 50U);
        EXPECT_EQ(e.from, client.local_address());
        ++got;
    });
    EXPECT_EQ(got, 0U);  // never invoked from inside the initiating function
    ctx.restart();
    ctx.poll();
    EXPECT_EQ(got, 1U);
    EXPECT_EQ(server.queued_events(), 9U);
}

// A second concurrent async_next_event is refused with already_started.
TEST(io_endpoint, second_waiter_is_refused) {
    net::io_context ctx;
    echo_endpoint server(ctx, loopback_any, echo_layer{});
    boost::system::error_code first, second;
    server.async_next_event([&](boost::system::error_code ec, echo_event) { first = ec; });
    server.async_next_event([&](boost::system::error_code ec, echo_event) { second = ec; });
    ctx.poll();
    EXPECT_EQ(second, net::error::already_started);
    server.close();
    ctx.run_for(1s);
    EXPECT_EQ(first, net::error::operation_aborted);
}

// Destroying an endpoint with work pending is safe; run() then finishes.
TEST(io_endpoint, destroy_while_running) {
    net::io_context ctx;
    {
        echo_endpoint server(ctx, loopback_any, echo_layer{});
        client_endpoint client(ctx, loopback_any, client_layer{client_config(server)});
        client.layer().send(3);
        client.flush();
        ctx.run_for(1ms);
    }
    ctx.restart();
    ctx.run_for(1s);
    EXPECT_TRUE(ctx.stopped());
}

}  // namespace
