// Speed of the inspector's discrete-event simulator: simulated datagrams per second of wall
// time (issue goal: ≥ 1 million/s with trivial layers). items_per_second is that figure: every
// datagram a layer hands to the simulator for the other side (`sent_by_a + sent_by_b`), i.e.
// every datagram that passes through an impairment, whether it is then delivered or dropped.
//  - BM_trivial_layers:   two 64-byte ping-pong layers, 20 % loss and 1 ms delay each way;
//  - BM_core_data:        the core client and server (wire v2, null observer, as in
//                         inspector/tests/simulator_test.cpp) exchanging DATA, 20 % loss, 5 ms;
//  - BM_impairment_alone: one impairment (20 % loss, 1 ms delay), submit + poll, no layers.
// Each benchmark keeps one simulator for all its iterations; an iteration advances virtual time.
// Rates are per wall second (UseRealTime).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/simulator.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"

namespace nc = neutrino::core;
namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;

namespace {

const peer_address a_address = peer_address::v4({10, 0, 0, 1}, 1000);
const peer_address b_address = peer_address::v4({10, 0, 0, 2}, 2000);

// A trivial layer: answers every datagram it receives with one of its own (ping-pong) and, as
// the initiator, injects `burst` new balls every `interval` so that loss never stops the game.
class ping_pong {
public:
    struct event_type {};
    static constexpr std::size_t size = 64;

    ping_pong(peer_address peer, std::size_t burst, neutrino::duration interval)
        : peer_(peer), burst_(burst), interval_(interval) {}

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address&,
                                           time_point) {
        if (in.size() < 8) return neutrino::fail(nc::errc::datagram_too_short);
        ++owed_;
        ++received_;
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point) {
        if (owed_ == 0) return std::nullopt;
        --owed_;
        neutrino::store_le(out.data(), ++sent_);
        std::fill(out.begin() + 8, out.begin() + size, std::byte{0x5a});
        return neutrino::transmit{size, peer_};
    }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const {
        if (burst_ == 0) return std::nullopt;
        return next_;
    }
    void handle_deadline(time_point now) {
        if (now < next_) return;
        owed_ += burst_;
        next_ = now + interval_;
    }

    [[nodiscard]] std::uint64_t received() const { return received_; }

private:
    peer_address peer_;
    std::size_t burst_;
    neutrino::duration interval_;
    std::size_t owed_ = 0;
    std::uint64_t sent_ = 0;
    std::uint64_t received_ = 0;
    time_point next_{};
};
static_assert(neutrino::datagram_layer<ping_pong>);

std::uint64_t moved(const ni::simulator_stats& s) { return s.sent_by_a + s.sent_by_b; }

void BM_trivial_layers(benchmark::State& state) {
    ping_pong a(b_address, 64, 1ms);  // initiator: 64 new balls per virtual millisecond
    ping_pong b(a_address, 0, 1ms);
    ni::simulator_config cfg;
    cfg.a_to_b.drop = 0.2;
    cfg.a_to_b.delay = 1ms;
    cfg.b_to_a.drop = 0.2;
    cfg.b_to_a.delay = 1ms;
    ni::simulator sim(a, a_address, b, b_address, cfg);
    sim.run_for(100ms);  // warm: steady state, buffers allocated
    const std::uint64_t before = moved(sim.stats());
    for (auto _ : state) {
        sim.run_for(1ms);
    }
    const auto& s = sim.stats();
    const std::uint64_t n = moved(s) - before;
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
    state.counters["dropped_frac"] =
        static_cast<double>(sim.a_to_b().stats().dropped() + sim.b_to_a().stats().dropped()) /
        static_cast<double>(std::max<std::uint64_t>(moved(s), 1));
    state.counters["dgrams_per_vms"] =
        static_cast<double>(n) / static_cast<double>(std::max<std::int64_t>(state.iterations(), 1));
}
BENCHMARK(BM_trivial_layers)->Unit(benchmark::kMicrosecond)->UseRealTime();

using client_type = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
using server_type = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;

const peer_address client_address = peer_address::v4({127, 0, 0, 1}, 40000);
const peer_address server_address = peer_address::v4({127, 0, 0, 1}, 22753);

void BM_core_data(benchmark::State& state) {
    const auto keys = *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    nc::client_config ccfg;
    ccfg.server_key = keys.pk;
    ccfg.server = server_address;
    nc::server_config scfg;
    scfg.keys = keys;
    client_type client(ccfg, nc::null_observer{}, neutrino::seeded_random(1));
    server_type server(scfg, nc::null_observer{}, neutrino::seeded_random(1001));
    ni::simulator_config cfg;
    cfg.a_to_b.drop = 0.2;
    cfg.a_to_b.delay = 5ms;
    cfg.b_to_a.drop = 0.2;
    cfg.b_to_a.delay = 5ms;
    cfg.seed = 7;
    ni::simulator sim(client, client_address, server, server_address, cfg);
    std::uint64_t data_events = 0;
    sim.on_b_event = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) ++data_events;
    };
    if (!client.connect(sim.now()) ||
        !sim.run_until([&] { return client.established(); }, 60s)) {
        state.SkipWithError("no session within 60 s of virtual time");
        return;
    }
    const auto message = nc::words("m", "x");
    constexpr int per_tick = 32;  // DATA per virtual millisecond (half the send queue)
    const std::uint64_t before = moved(sim.stats());
    std::uint64_t refused = 0;
    for (auto _ : state) {
        for (int i = 0; i < per_tick; ++i) {
            if (!client.send(message, sim.now())) ++refused;
        }
        sim.run_for(1ms);
    }
    const std::uint64_t n = moved(sim.stats()) - before;
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
    state.counters["data_delivered"] = static_cast<double>(data_events);
    state.counters["send_refused"] = static_cast<double>(refused);
}
BENCHMARK(BM_core_data)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_impairment_alone(benchmark::State& state) {
    ni::impairment_config cfg;
    cfg.drop = 0.2;
    cfg.delay = 1ms;
    ni::impairment link(cfg, ni::derive_seed(1, 0));
    std::array<std::byte, 64> datagram{};
    datagram.fill(std::byte{0x5a});
    constexpr int batch = 64;
    time_point now{};
    std::uint64_t delivered = 0;
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) link.submit(datagram, now);
        now += 64us;
        while (auto d = link.poll(now)) {
            benchmark::DoNotOptimize(d->bytes.data());
            ++delivered;
        }
    }
    state.SetItemsProcessed(state.iterations() * batch);
    state.counters["delivered_frac"] =
        static_cast<double>(delivered) / static_cast<double>(link.stats().submitted);
}
BENCHMARK(BM_impairment_alone)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
