// The reliable client and server over real UDP on 127.0.0.1 through the in-process udp_proxy
// (loss plus duplication both ways): both directions send N seeded messages at once; each must
// arrive exactly once, in order, byte-identical, and every case must finish within a wall-time
// bound. Each case prints its proxy seed and wall time (NEUTRINO_TEST_SEED replays).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "neutrino/core/crypto.hpp"
#include "neutrino/inspector/io/udp_proxy.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"
#include "test_seed.hpp"

namespace nio = neutrino::inspector::io;
namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace net = neutrino::net;
using namespace std::chrono_literals;
using udp = net::ip::udp;

namespace {

const udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

constexpr std::size_t messages = 3000;   // per direction
constexpr std::size_t max_size = 1200;   // bytes per message (one word), at least 1
constexpr auto wall_limit = 10s;         // per case, from the first socket to the last check

/// SplitMix64 step.
std::uint64_t mix(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// Message `i` of `stream`: `size` bytes that depend on (stream, i), checked without a copy.
void fill_message(std::vector<std::byte>& out, std::uint64_t stream, std::uint64_t i,
                  std::size_t size) {
    out.resize(size);
    std::uint64_t s = stream * 0x100000001b3ULL + i;
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < size; ++k) {
        if (k % 8 == 0) v = mix(s);
        out[k] = static_cast<std::byte>(v >> (8 * (k % 8)));
    }
}

/// Checks what one side receives: message `received` of `stream`, nothing more.
struct receiver_check {
    std::uint64_t stream = 0;
    const std::vector<std::size_t>* sizes = nullptr;
    std::size_t received = 0;
    std::size_t mismatches = 0;  // wrong content or size, a duplicate, out of order, one too many
    std::optional<std::error_code> closed;
    std::vector<std::byte> expect;

    void on_event(const nc::event& e) {
        if (e.kind == nc::event_kind::closed && !closed) closed = e.reason;
        if (e.kind != nc::event_kind::data) return;
        if (received >= sizes->size()) {
            ADD_FAILURE() << "stream " << stream << ": a message past the last one";
            ++mismatches;
            return;
        }
        fill_message(expect, stream, received, (*sizes)[received]);
        bool ok = e.words.size() == 1;
        if (ok) {
            const auto w = *e.words.begin();
            ok = w.size() == expect.size() && std::equal(w.begin(), w.end(), expect.begin());
        }
        if (!ok) {
            if (mismatches < 5) {
                ADD_FAILURE() << "stream " << stream << ": message " << received
                              << " differs (duplicate, reordered or corrupted), pn "
                              << e.packet_number;
            }
            ++mismatches;
        }
        ++received;
    }
};

/// Runs `ctx` until `done()` or `end`; returns whether `done()` returned true.
template <class Pred>
bool run_until(net::io_context& ctx, Pred done, std::chrono::steady_clock::time_point end) {
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        if (ctx.poll() == 0) ctx.run_one_for(1ms);
    }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_case(double drop, double duplicate, std::uint64_t seed_offset) {
    const auto wall0 = std::chrono::steady_clock::now();
    const auto end = wall0 + wall_limit;
    const std::uint64_t seed = neutrino::test::test_seed(seed_offset);

    std::uint64_t s = seed;
    std::vector<std::size_t> c_sizes(messages), s_sizes(messages);
    for (auto& x : c_sizes) x = 1 + mix(s) % max_size;
    for (auto& x : s_sizes) x = 1 + mix(s) % max_size;

    net::io_context ctx;
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    ASSERT_TRUE(keys);
    nc::server_config server_cfg;
    server_cfg.keys = *keys;
    neutrino::io::basic_endpoint<nr::server> server(ctx, loopback_any,
                                                     nr::server(std::move(server_cfg)));

    nio::proxy_config pcfg;
    pcfg.listen = loopback_any;
    pcfg.target = server.local_endpoint();
    pcfg.seed = seed;
    for (auto* d : {&pcfg.client_to_server, &pcfg.server_to_client}) {
        d->drop = drop;
        d->duplicate = duplicate;
    }
    nio::udp_proxy proxy(ctx, pcfg);

    nc::client_config client_cfg;
    client_cfg.server_key = keys->pk;
    client_cfg.server = neutrino::io::to_peer_address(proxy.local_endpoint());
    client_cfg.timers.redial_interval = 300ms;  // a lost handshake costs less waiting
    neutrino::io::basic_endpoint<nr::client> client(ctx, loopback_any, nr::client(client_cfg));

    receiver_check at_server, at_client;
    at_server.stream = 1;
    at_server.sizes = &c_sizes;
    at_client.stream = 2;
    at_client.sizes = &s_sizes;
    client.set_event_handler([&](const nc::event& e) { at_client.on_event(e); });
    server.set_event_handler([&](const nc::event& e) { at_server.on_event(e); });

    std::printf("[%.0f%% loss, %.0f%% duplication] proxy seed %llu, %zu messages of 1..%zu "
                "bytes each way\n",
                drop * 100, duplicate * 100, static_cast<unsigned long long>(seed), messages,
                max_size);

    ASSERT_TRUE(client.layer().connect(neutrino::clock::now()));
    client.flush();
    ASSERT_TRUE(run_until(
        ctx,
        [&] {
            return client.layer().established() &&
                   server.layer().can_send(client.layer().session_id());
        },
        end))
        << "no session within " << seconds_since(wall0) << " s";
    const double established_s = seconds_since(wall0);
    // Handshake attempts lost before this session may have closed earlier ones.
    at_client.closed.reset();
    at_server.closed.reset();
    const std::uint64_t sid = client.layer().session_id();

    // Sending: every millisecond, each side fills its window until would_block, then flushes.
    std::size_t cs = 0, ss = 0;
    std::size_t send_errors = 0;
    std::vector<std::byte> msg;
    net::steady_timer timer(ctx);
    bool stop = false;
    std::function<void()> tick = [&] {
        const auto now = neutrino::clock::now();
        while (cs < messages) {
            fill_message(msg, 1, cs, c_sizes[cs]);
            const nc::word w(msg);
            auto r = client.layer().send({&w, 1}, now);
            if (r) {
                ++cs;
            } else {
                if (r.error() != make_error_code(nc::errc::would_block) && send_errors++ < 5) {
                    ADD_FAILURE() << "client send: " << r.error().message();
                }
                break;
            }
        }
        client.flush();
        while (ss < messages) {
            fill_message(msg, 2, ss, s_sizes[ss]);
            const nc::word w(msg);
            auto r = server.layer().send(sid, {&w, 1}, now);
            if (r) {
                ++ss;
            } else {
                if (r.error() != make_error_code(nc::errc::would_block) && send_errors++ < 5) {
                    ADD_FAILURE() << "server send: " << r.error().message();
                }
                break;
            }
        }
        server.flush();
        if (stop || (cs == messages && ss == messages)) return;
        timer.expires_after(1ms);
        timer.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) tick();
        });
    };
    const auto t0 = std::chrono::steady_clock::now();
    tick();

    auto done = [&] { return at_server.received == messages && at_client.received == messages; };
    auto dead = [&] { return at_client.closed.has_value() || at_server.closed.has_value(); };
    const bool complete = run_until(ctx, [&] { return done() || dead(); }, end) && done();
    const double transfer_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stop = true;
    timer.cancel();

    // Whatever is still in flight (duplicates, retransmissions) must not be delivered again.
    (void)run_until(ctx, [] { return false; }, std::min(end, std::chrono::steady_clock::now() + 200ms));
    const double wall_s = seconds_since(wall0);

    const auto c2s = proxy.client_to_server_summary();
    const auto s2c = proxy.server_to_client_summary();
    const auto& cst = client.layer().stats();
    const auto& sst = server.layer().stats();
    std::printf("  session after %.3f s, transfer %.3f s, wall %.3f s (limit %lld s); "
                "delivered c2s %zu/%zu s2c %zu/%zu, sent %zu/%zu\n",
                established_s, transfer_s, wall_s, static_cast<long long>(wall_limit.count()),
                at_server.received, messages, at_client.received, messages, cs, ss);
    std::printf("  proxy c2s: received %llu forwarded %llu dropped %llu duplicated %llu; "
                "s2c: received %llu forwarded %llu dropped %llu duplicated %llu\n",
                static_cast<unsigned long long>(c2s.received()),
                static_cast<unsigned long long>(c2s.forwarded()),
                static_cast<unsigned long long>(c2s.dropped()),
                static_cast<unsigned long long>(c2s.impairment.duplicated),
                static_cast<unsigned long long>(s2c.received()),
                static_cast<unsigned long long>(s2c.forwarded()),
                static_cast<unsigned long long>(s2c.dropped()),
                static_cast<unsigned long long>(s2c.impairment.duplicated));
    std::printf("  client: requests sent %llu, retransmitted %llu, probes %llu | server: requests "
                "sent %llu, retransmitted %llu, probes %llu\n",
                static_cast<unsigned long long>(cst.requests_sent),
                static_cast<unsigned long long>(cst.retransmitted),
                static_cast<unsigned long long>(cst.probes),
                static_cast<unsigned long long>(sst.requests_sent),
                static_cast<unsigned long long>(sst.retransmitted),
                static_cast<unsigned long long>(sst.probes));

    EXPECT_TRUE(complete) << "not complete within " << wall_limit.count() << " s: c2s "
                          << at_server.received << ", s2c " << at_client.received;
    EXPECT_EQ(at_server.received, messages);
    EXPECT_EQ(at_client.received, messages);
    EXPECT_EQ(at_server.mismatches + at_client.mismatches, 0U);
    EXPECT_EQ(send_errors, 0U);
    EXPECT_FALSE(at_client.closed) << "client closed: " << at_client.closed->message();
    EXPECT_FALSE(at_server.closed) << "server closed: " << at_server.closed->message();
    EXPECT_LT(wall_s, std::chrono::duration<double>(wall_limit).count());
    if (drop > 0) {
        EXPECT_GT(c2s.impairment.dropped_random, 0U);
        EXPECT_GT(s2c.impairment.dropped_random, 0U);
    }
    if (duplicate > 0) {
        EXPECT_GT(c2s.impairment.duplicated, 0U);
        EXPECT_GT(s2c.impairment.duplicated, 0U);
    }
    EXPECT_FALSE(proxy.last_error()) << proxy.last_error().message();
    EXPECT_FALSE(client.last_error()) << client.last_error().message();
    EXPECT_FALSE(server.last_error()) << server.last_error().message();
}

}  // namespace

TEST(reliable_proxy, one_percent_loss_five_percent_duplication) { run_case(0.01, 0.05, 500); }

TEST(reliable_proxy, ten_percent_loss_five_percent_duplication) { run_case(0.10, 0.05, 510); }
