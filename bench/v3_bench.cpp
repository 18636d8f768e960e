// Wire v3 against wire v2 in the same run (spec: neutrino-v3.md §19): (a) seal and open of a
// full 1280-byte DATA packet, (b) complete handshakes (client HELLO1 → server → HELLO2 →
// client → HELLO3 → server established) through the sans-IO machines, NK and IK, (c) loopback
// throughput of reliable<core::v3> against reliable<core v2> through the Asio driver
// `neutrino::io::basic_endpoint`. Each v3 figure is printed as a ratio of time per operation to
// its v2 counterpart (below 1: v3 is cheaper; for (c) below 1 means v3 moves more bytes per
// second). §19 measured 0.80–0.82 (seal), 0.95–0.96 (open), ≈3.2× (NK) and ≈5× (IK) the
// server's handshake cost; the goal for (c) is v3 ≥ v2, i.e. a ratio ≤ 1.
//
// To register it, append to bench/CMakeLists.txt:
//
//   # Wire v3 against wire v2 in the same run (neutrino-v3.md §19): seal/open of 1280 B, NK/IK
//   # handshakes per second, and reliable<v3> vs reliable<v2> loopback goodput through the driver.
//   add_executable(neutrino_bench_v3 v3_bench.cpp)
//   target_link_libraries(neutrino_bench_v3 PRIVATE neutrino::reliable benchmark::benchmark)
//   neutrino_set_warnings(neutrino_bench_v3)
//
// (c) runs both endpoints on one io_context in one thread: it measures the whole CPU cost of a
// delivered message (seal, send, receive, open, acknowledge) rather than a two-core pipeline
// (bench/reliable_bench.cpp does that for v2), which is what the ratio needs.

#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/packet_protection.hpp"
#include "neutrino/core/v3/replay_guard.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"
#include "ratio_reporter.hpp"

namespace {
namespace nc = neutrino::core;
namespace v3 = neutrino::core::v3;
namespace nr = neutrino::reliable;
namespace nio = neutrino::io;
namespace net = neutrino::net;
using neutrino::peer_address;
using neutrino::time_point;

nc::secret_key test_key() {
    std::array<std::byte, 32> k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i);
    return nc::secret_key(k);
}

nc::keypair example_keys() {
    auto k = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!k) throw std::runtime_error("bad example key");
    return *k;
}

// ---- (a) seal and open of a full datagram -----------------------------------------------------

// One word filling the payload: v2 1 + 2 + 1211 = 1214 bytes, v3 1 + 2 + 1235 = 1238 bytes, so
// both datagrams are exactly 1280 bytes (v3 carries 24 bytes more of application data).
constexpr std::size_t v2_word_size = nc::max_payload_size - 3;
constexpr std::size_t v3_word_size = v3::max_payload_size - 3;
constexpr std::uint64_t session_id = 1234567;

void v2_seal(benchmark::State& state) {
    std::vector<std::byte> payload(v2_word_size, std::byte{0x5a});
    const nc::word w(payload);
    std::array<std::byte, nc::max_datagram_size> out{};
    const auto key = test_key();
    neutrino::system_random rnd;
    std::uint64_t pn = 64;
    for (auto _ : state) {
        auto n = nc::wire::v2::seal(out, nc::packet_type::data, session_id, pn++, 0, {&w, 1}, 0, key, rnd);
        if (!n || *n != nc::max_datagram_size) state.SkipWithError("v2 seal failed");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(v2_seal);

void v3_seal(benchmark::State& state) {
    std::vector<std::byte> payload(v3_word_size, std::byte{0x5a});
    const nc::word w(payload);
    std::array<std::byte, v3::max_payload_size> framed{};
    std::array<std::byte, v3::max_datagram_size> out{};
    const auto key = test_key();
    std::uint64_t pn = 1;
    for (auto _ : state) {
        // the word encoding is part of the cost, as in wire::v2::seal
        auto f = nc::word_codec::encode({&w, 1}, framed);
        auto n = v3::seal_transport(out, v3::packet_type::data, 0, session_id, pn++, 0,
                                    {framed.data(), *f}, 0, key);
        if (!n || *n != v3::max_datagram_size) state.SkipWithError("v3 seal failed");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(v3::max_datagram_size));
}
BENCHMARK(v3_seal);

void v2_open(benchmark::State& state) {
    std::vector<std::byte> payload(v2_word_size, std::byte{0x5a});
    const nc::word w(payload);
    std::array<std::byte, nc::max_datagram_size> d{}, scratch{};
    const auto key = test_key();
    neutrino::system_random rnd;
    const auto n = *nc::wire::v2::seal(d, nc::packet_type::data, session_id, 64, 0, {&w, 1}, 0, key, rnd);
    const std::span<const std::byte> datagram(d.data(), n);
    for (auto _ : state) {
        auto h = nc::clear_header::parse(datagram);
        auto p = nc::wire::v2::open(datagram, *h, key, scratch);
        if (!p) state.SkipWithError("v2 open failed");
        auto words = nc::words_view::parse(p->payload);
        benchmark::DoNotOptimize(words);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(v2_open);

void v3_open(benchmark::State& state) {
    std::vector<std::byte> payload(v3_word_size, std::byte{0x5a});
    const nc::word w(payload);
    std::array<std::byte, v3::max_payload_size> framed{};
    std::array<std::byte, v3::max_datagram_size> d{}, scratch{};
    const auto key = test_key();
    const auto f = *nc::word_codec::encode({&w, 1}, framed);
    const auto n = *v3::seal_transport(d, v3::packet_type::data, 0, session_id, 5000, 0, {framed.data(), f}, 0, key);
    const std::span<const std::byte> datagram(d.data(), n);
    v3::replay_guard window;
    window.commit(4000);  // a realistic window: the pn is fresh and inside it
    for (auto _ : state) {
        // §10.5 steps 1–6 and the word decoding; the window update (step 7) is left out so
        // that the same datagram stays fresh
        auto h = v3::transport_header::parse(datagram, v3::role::server);
        if (!h || !window.precheck(h->pn_field)) state.SkipWithError("v3 header or window");
        auto p = v3::open_transport(datagram, *h, key, scratch);
        if (!p) state.SkipWithError("v3 open failed");
        auto words = nc::words_view::parse(p->payload);
        benchmark::DoNotOptimize(words);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(v3::max_datagram_size));
}
BENCHMARK(v3_open);

// ---- (b) handshakes through the machines --------------------------------------------------------

const peer_address client_addr = peer_address::v4({127, 0, 0, 1}, 40000);
const peer_address server_addr = peer_address::v4({127, 0, 0, 1}, 22753);

nc::client_config handshake_client_config() {
    nc::client_config c;
    c.server_key = example_keys().pk;
    c.server = server_addr;
    c.reconnect = false;
    return c;
}
nc::server_config handshake_server_config() {
    nc::server_config c;
    c.keys = example_keys();
    c.hello_rate = 1'000'000'000;  // the v2 token bucket must not be what is measured
    c.hello_burst = 1'000'000'000;
    return c;
}
v3::server_options handshake_server_options() {
    v3::server_options o;
    o.load_handshakes_per_second = UINT32_MAX;  // never under load: no cookie round trip
    o.load_pending = SIZE_MAX;
    return o;
}

/// One complete handshake per iteration, then an authenticated close (GOOD_BYE) so that the
/// server's tables stay the same size. `time` advances 1 ms per handshake.
template <class Client, class Server>
void run_handshakes(benchmark::State& state, Client& c, Server& s) {
    std::array<std::byte, 1280> buf{};
    time_point now = time_point{} + std::chrono::hours(1);
    auto pump = [&] {
        for (int round = 0; round < 4; ++round) {
            bool any = false;
            while (auto t = c.poll_datagram(buf, now)) {
                any = true;
                (void)s.handle_datagram({buf.data(), t->size}, client_addr, now);
            }
            while (auto t = s.poll_datagram(buf, now)) {
                any = true;
                (void)c.handle_datagram({buf.data(), t->size}, server_addr, now);
            }
            while (c.poll_event()) {
            }
            while (s.poll_event()) {
            }
            if (!any) return;
        }
    };
    for (auto _ : state) {
        if (!c.connect(now)) state.SkipWithError("connect failed");
        pump();
        if (!c.established() || s.state_of(c.session_id()) != nc::session_state::established) {
            state.SkipWithError("no session");
            break;
        }
        c.close(now);
        pump();
        now += std::chrono::milliseconds(1);
    }
    if (s.session_count() != 0) state.SkipWithError("sessions left behind");
    state.counters["handshakes/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                        benchmark::Counter::kIsRate);
}

void v2_handshake(benchmark::State& state) {
    nc::client c(handshake_client_config());
    nc::server s(handshake_server_config());
    run_handshakes(state, c, s);
}
BENCHMARK(v2_handshake)->Unit(benchmark::kMicrosecond);

void v3_handshake_nk(benchmark::State& state) {
    v3::client c(handshake_client_config());
    v3::server s(handshake_server_config(), handshake_server_options());
    run_handshakes(state, c, s);
}
BENCHMARK(v3_handshake_nk)->Unit(benchmark::kMicrosecond);

void v3_handshake_ik(benchmark::State& state) {
    v3::client_options o;
    std::array<std::byte, 32> k{};
    k.fill(std::byte{0x42});
    o.static_key = nc::secret_key(k);
    v3::client c(handshake_client_config(), o);
    v3::server s(handshake_server_config(), handshake_server_options());
    run_handshakes(state, c, s);
}
BENCHMARK(v3_handshake_ik)->Unit(benchmark::kMicrosecond);

// ---- (c) reliable<core> over the Asio driver on loopback ----------------------------------------

constexpr std::size_t message_size = 1200;  ///< one word per DATA message, as reliable_bench
constexpr std::size_t messages_per_iteration = 4096;

const net::ip::udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

/// Both endpoints on one io_context; each iteration sends `messages_per_iteration` messages
/// and waits until the server has delivered all of them, in order.
template <class Client, class Server>
void run_loopback(benchmark::State& state) {
    net::io_context ctx;
    nio::endpoint_options opt;  // GSO/GRO probed at run time, as in the other benchmarks
    nc::server_config sc;
    sc.keys = example_keys();
    nio::basic_endpoint<Server> server(ctx, loopback_any, Server(sc), opt);
    nc::client_config cc;
    cc.server_key = sc.keys.pk;
    cc.server = peer_address::v4({127, 0, 0, 1}, server.local_endpoint().port());
    cc.reconnect = false;
    nio::basic_endpoint<Client> client(ctx, loopback_any, Client(cc), opt);

    std::uint64_t delivered = 0;
    std::uint64_t disorder = 0;
    server.set_event_handler([&](const nc::event& e) {
        if (e.kind != nc::event_kind::data || e.words.size() != 1) return;
        std::uint64_t seq = 0;
        std::memcpy(&seq, e.words[0].data(), sizeof seq);
        if (seq != delivered + 1) ++disorder;
        ++delivered;
    });
    bool established = false;
    client.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::established) established = true;
        if (e.kind == nc::event_kind::closed) established = false;
    });
    if (!client.layer().connect(neutrino::clock::now())) {
        state.SkipWithError("connect failed");
        return;
    }
    client.flush();
    const auto give_up = neutrino::clock::now() + std::chrono::seconds(5);
    while (!established && neutrino::clock::now() < give_up) ctx.run_one_for(std::chrono::milliseconds(10));
    if (!established) {
        state.SkipWithError("no session");
        return;
    }

    std::vector<std::byte> payload(message_size, std::byte{0x5a});
    const nc::word w(payload);
    std::uint64_t sent = 0;
    for (auto _ : state) {
        const std::uint64_t target = sent + messages_per_iteration;
        const auto deadline = neutrino::clock::now() + std::chrono::seconds(20);
        while (delivered < target) {
            const time_point now = neutrino::clock::now();
            if (now > deadline || !established) {
                state.SkipWithError("transfer stalled or session lost");
                return;
            }
            bool flushed = false;
            while (sent < target && client.layer().can_send()) {
                const std::uint64_t seq = sent + 1;
                std::memcpy(payload.data(), &seq, sizeof seq);
                auto r = client.layer().send({&w, 1}, now);
                if (!r) {
                    if (flushed) break;
                    client.flush();  // the core's datagram queue is full: hand it to the socket
                    flushed = true;
                    continue;
                }
                flushed = false;
                ++sent;
            }
            client.flush();
            if (ctx.poll() == 0) ctx.run_one_for(std::chrono::milliseconds(1));
        }
    }
    if (disorder != 0) state.SkipWithError("delivered out of order");
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetBytesProcessed(iterations * static_cast<std::int64_t>(messages_per_iteration * message_size));
    state.counters["msgs/s"] = benchmark::Counter(
        static_cast<double>(iterations) * static_cast<double>(messages_per_iteration), benchmark::Counter::kIsRate);
}

void v2_reliable_loopback(benchmark::State& state) { run_loopback<nr::client, nr::server>(state); }
BENCHMARK(v2_reliable_loopback)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void v3_reliable_loopback(benchmark::State& state) {
    run_loopback<nr::basic_client<v3::client>, nr::basic_server<v3::server>>(state);
}
BENCHMARK(v3_reliable_loopback)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
    if (sodium_init() < 0) return 1;
    benchmark::Initialize(&argc, argv);
    neutrino::bench::ratio_reporter reporter({{"v3_seal", "v2_seal"},
                                              {"v3_open", "v2_open"},
                                              {"v3_handshake_nk", "v2_handshake"},
                                              {"v3_handshake_ik", "v2_handshake"},
                                              {"v3_reliable_loopback", "v2_reliable_loopback"}});
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
