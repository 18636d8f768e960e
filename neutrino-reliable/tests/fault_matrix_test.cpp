// Fault matrix of the reliable layer (issue #4): both directions transfer N messages of seeded
// random sizes at once through the inspector's simulator on virtual time, under one impairment
// per case. Every message must arrive exactly once, in order, byte-identical, within a bound on
// the virtual completion time derived from the loss-free time of the same traffic.
//
// The link: 5 ms one way (10 ms RTT), no rate limit, so the loss-free transfer is limited by
// the send window (256 packets per ~RTT). Each case names its seed (base seed + case offset;
// NEUTRINO_TEST_SEED replays) and prints its virtual completion time and bound.
//
// Two controllers: `fixed_window` tests the recovery machinery alone (requests, repairs,
// probes) with no congestion response, on v2 and v3; the stack's default (bbr) runs the same
// impairments with bounds of its own (see default_controller_cases).

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/inspector/simulator.hpp"
#include "reliable_support.hpp"

namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using namespace neutrino::reliable_test;
using neutrino::duration;
using neutrino::time_point;

namespace {

// N per direction. 20 000 keeps the whole matrix within the wall budget of the Debug build
// (see the report printed per case); lower it here if the machine is slower.
constexpr std::size_t messages = 20000;

struct side_check {
    std::uint64_t stream = 0;
    const std::vector<std::uint16_t>* sizes = nullptr;
    std::size_t received = 0;
    std::size_t mismatches = 0;  // wrong content, wrong size, duplicate or out of order
    std::vector<std::byte> expect;
    std::optional<std::error_code> closed;
    std::size_t received_after_close = 0;
    time_point* last = nullptr;
    std::function<time_point()> clock;

    void on_data(const nc::event& e) {
        if (closed) ++received_after_close;
        *last = clock();
        if (received >= sizes->size()) {
            ++mismatches;
            return;
        }
        fill_message(expect, stream, received, (*sizes)[received]);
        auto it = e.words.begin();
        const bool ok = e.words.size() == 1 && (*it).size() == expect.size() &&
                        std::equal((*it).begin(), (*it).end(), expect.begin());
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

struct run_result {
    bool established = false;
    bool complete = false;
    duration elapsed{};  // virtual, from the first DATA to the last delivery
    std::size_t c2s = 0, s2c = 0, mismatches = 0;
    std::size_t client_sent = 0, server_sent = 0;
    std::optional<std::error_code> client_closed, server_closed;
    std::size_t delivered_after_close = 0;
    nr::stats client_stats, server_stats;
    std::size_t max_client_unacked = 0, max_client_out_of_order = 0, max_server_unacked = 0;
    double wall_s = 0;
};

ni::impairment_config with_delay(ni::impairment_config c) {
    if (c.delay == duration::zero()) c.delay = 5ms;
    return c;
}

// The wire below the reliable layer: v2 (the reference's) or v3.  spec: neutrino-v3.md §14.1
enum class wire { v2, v3 };

// The congestion controller of both ends: `fixed_window` (the recovery machinery alone, with
// no congestion response: the bounds below were set for it) or the stack's default (bbr).
enum class controller { fixed_window, default_ };

template <class Controller>
struct v2_stack {
    using client = nr::basic_client<core_client, Controller>;
    using server = nr::basic_server<core_server, Controller>;
    static client make_client(nr::config r, std::uint64_t seed) {
        return client(client_cfg(), r, nc::null_observer{}, neutrino::seeded_random(seed));
    }
    static server make_server(nr::config r, std::uint64_t seed) {
        return server(server_cfg(), r, nc::null_observer{}, neutrino::seeded_random(seed));
    }
};

template <class Controller>
struct v3_stack {
    using client = nr::basic_client<nc::v3::basic_client<nc::null_observer, neutrino::seeded_random>, Controller>;
    using server = nr::basic_server<nc::v3::basic_server<nc::null_observer, neutrino::seeded_random>, Controller>;
    static client make_client(nr::config r, std::uint64_t seed) {
        return client(client_cfg(), r, nc::v3::client_options{}, nc::null_observer{}, neutrino::seeded_random(seed));
    }
    static server make_server(nr::config r, std::uint64_t seed) {
        return server(server_cfg(), r, nc::v3::server_options{}, nc::null_observer{}, neutrino::seeded_random(seed));
    }
};

template <class Stack>
run_result run_on(const ni::impairment_config& link, std::uint64_t seed, std::uint64_t link_seed,
                  std::size_t n, duration max_virtual, nr::config rcfg) {
    using client_t = typename Stack::client;
    using server_t = typename Stack::server;
    const auto wall0 = std::chrono::steady_clock::now();
    std::uint64_t s = seed;
    std::vector<std::uint16_t> c_sizes(n), s_sizes(n);
    for (auto& x : c_sizes) x = static_cast<std::uint16_t>(1 + mix(s) % max_word);
    for (auto& x : s_sizes) x = static_cast<std::uint16_t>(1 + mix(s) % max_word);

    client_t client = Stack::make_client(rcfg, seed + 1);
    server_t server = Stack::make_server(rcfg, seed + 2);
    ni::simulator_config sc;
    sc.a_to_b = with_delay(link);
    sc.b_to_a = with_delay(link);
    sc.seed = link_seed;
    ni::simulator<client_t, server_t> sim(client, neutrino::test::client_address, server,
                                          neutrino::test::server_address, sc);

    side_check at_server, at_client;
    at_server.stream = 1;
    at_server.sizes = &c_sizes;
    at_client.stream = 2;
    at_client.sizes = &s_sizes;
    sim.on_a_event = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) at_client.on_data(e);
        if (e.kind == nc::event_kind::closed && !at_client.closed) at_client.closed = e.reason;
    };
    sim.on_b_event = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::data) at_server.on_data(e);
        if (e.kind == nc::event_kind::closed && !at_server.closed) at_server.closed = e.reason;
    };

    run_result r;
    if (!client.connect(sim.now())) return r;
    r.established = sim.run_until(
        [&] { return client.established() && server.can_send(client.session_id()); }, 60s);
    if (!r.established) return r;
    // Attempts that failed before this session (a lost HELLO3 expires the server's pending
    // entry, then the client's session) closed other sessions: only this one counts.
    at_client.closed.reset();
    at_server.closed.reset();
    const std::uint64_t sid = client.session_id();
    const time_point t0 = sim.now();
    const time_point limit = t0 + max_virtual;
    std::vector<std::byte> msg;
    time_point last_delivery = t0;
    at_server.last = &last_delivery;
    at_client.last = &last_delivery;
    at_server.clock = [&] { return sim.now(); };
    at_client.clock = at_server.clock;
    std::size_t cs = 0, ss = 0;
    auto done = [&] { return at_server.received == n && at_client.received == n; };
    auto dead = [&] { return at_client.closed.has_value() || at_server.closed.has_value(); };
    while (!done() && !dead()) {
        for (bool progress = true; progress;) {
            progress = false;
            if (cs < n && client.can_send()) {
                fill_message(msg, 1, cs, c_sizes[cs]);
                const nc::word w(msg);
                auto x = client.send({&w, 1}, sim.now());
                if (x) {
                    ++cs;
                    progress = true;
                } else if (x.error() != make_error_code(nc::errc::would_block)) {
                    ADD_FAILURE() << "client send: " << x.error().message();
                    break;
                }
            }
            if (ss < n && server.can_send(sid)) {
                fill_message(msg, 2, ss, s_sizes[ss]);
                const nc::word w(msg);
                auto x = server.send(sid, {&w, 1}, sim.now());
                if (x) {
                    ++ss;
                    progress = true;
                } else if (x.error() != make_error_code(nc::errc::would_block)) {
                    ADD_FAILURE() << "server send: " << x.error().message();
                    break;
                }
            }
            sim.flush();  // the core's send queue (64 datagrams) empties into the link
        }
        r.max_client_unacked = std::max(r.max_client_unacked, client.unacknowledged());
        r.max_client_out_of_order = std::max(r.max_client_out_of_order, client.out_of_order());
        r.max_server_unacked = std::max(r.max_server_unacked, server.unacknowledged(sid));
        if (!sim.step(limit) && sim.now() >= limit) break;
    }
    // Let whatever is in flight land (nothing may arrive twice or after a close).
    sim.run_for(3s);
    r.complete = done();
    r.elapsed = last_delivery - t0;
    r.c2s = at_server.received;
    r.s2c = at_client.received;
    r.mismatches = at_server.mismatches + at_client.mismatches;
    r.client_sent = cs;
    r.server_sent = ss;
    r.client_closed = at_client.closed;
    r.server_closed = at_server.closed;
    r.delivered_after_close = at_client.received_after_close + at_server.received_after_close;
    r.client_stats = client.stats();
    if (std::getenv("NEUTRINO_RELIABLE_DEBUG") != nullptr) {
        const auto& cst = client.next_layer().stats();
        const auto& sst = server.next_layer().stats();
        std::printf("  client: max_send_buffered %zu, max_receive_buffered %zu, ignored %llu, "
                    "outside_window %llu, replayed %llu | server: max_send_buffered %zu, "
                    "max_receive_buffered %zu, ignored %llu, outside_window %llu, replayed %llu\n",
                    client.stats().max_send_buffered, client.stats().max_receive_buffered,
                    static_cast<unsigned long long>(client.stats().requests_ignored),
                    static_cast<unsigned long long>(cst.by_reason[static_cast<std::size_t>(nc::errc::outside_window)]),
                    static_cast<unsigned long long>(cst.by_reason[static_cast<std::size_t>(nc::errc::replayed)]),
                    server.stats().max_send_buffered, server.stats().max_receive_buffered,
                    static_cast<unsigned long long>(server.stats().requests_ignored),
                    static_cast<unsigned long long>(sst.by_reason[static_cast<std::size_t>(nc::errc::outside_window)]),
                    static_cast<unsigned long long>(sst.by_reason[static_cast<std::size_t>(nc::errc::replayed)]));
    }
    r.server_stats = server.stats();
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    return r;
}

run_result run(const ni::impairment_config& link, std::uint64_t seed, std::uint64_t link_seed,
               std::size_t n, duration max_virtual, nr::config rcfg = {}, wire w = wire::v2,
               controller cc = controller::fixed_window) {
    using fixed = neutrino::congestion::fixed_window;
    using dflt = nr::default_controller;
    if (cc == controller::default_) {
        return w == wire::v3 ? run_on<v3_stack<dflt>>(link, seed, link_seed, n, max_virtual, rcfg)
                             : run_on<v2_stack<dflt>>(link, seed, link_seed, n, max_virtual, rcfg);
    }
    return w == wire::v3 ? run_on<v3_stack<fixed>>(link, seed, link_seed, n, max_virtual, rcfg)
                         : run_on<v2_stack<fixed>>(link, seed, link_seed, n, max_virtual, rcfg);
}

double ms(duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct fault_case {
    const char* name;
    std::uint64_t seed_offset;
    ni::impairment_config link;
    double k;          // bound: completion ≤ k × loss-free + c
    duration c;
    wire w = wire::v2;
    controller cc = controller::fixed_window;
    std::size_t n = messages;  // per direction (the loss-free time is always that of `messages`)
};

ni::impairment_config loss(double p) {
    ni::impairment_config c;
    c.drop = p;
    return c;
}
ni::impairment_config burst() {
    ni::impairment_config c;
    c.burst = {0.01, 0.25, 1.0, 0.0};  // mean burst 4, stationary loss ≈ 3.8 %
    return c;
}
ni::impairment_config dup() {
    ni::impairment_config c;
    c.duplicate = 0.10;
    return c;
}
ni::impairment_config reorder(std::size_t depth) {
    ni::impairment_config c;
    c.reorder = {0.10, depth, 10ms};
    return c;
}
ni::impairment_config corrupt() {
    ni::impairment_config c;
    c.corrupt.probability = 0.01;
    return c;
}
ni::impairment_config jitter() {
    ni::impairment_config c;
    c.delay = 20ms;
    c.jitter = 15ms;
    c.jitter_reorders = true;
    return c;
}

// The loss-free completion time of the same traffic (same seed ⇒ same sizes), measured once
// per seed, wire and controller.
duration loss_free(std::uint64_t seed, wire w, controller cc) {
    static std::optional<std::pair<std::uint64_t, duration>> cache[2][2];
    auto& cached = cache[static_cast<int>(w)][static_cast<int>(cc)];
    if (!cached || cached->first != seed) {
        auto r = run(loss(0.0), seed, seed, messages, 600s, {}, w, cc);
        EXPECT_TRUE(r.complete) << "the loss-free run did not complete";
        cached = {seed, r.elapsed};
        std::printf("[fault] loss-free reference (%s, %s): seed %llu, %.1f ms virtual (%.2f s wall)\n",
                    w == wire::v3 ? "v3" : "v2", cc == controller::default_ ? "default" : "fixed_window",
                    static_cast<unsigned long long>(seed), ms(r.elapsed), r.wall_s);
    }
    return cached->second;
}

class fault_matrix : public ::testing::TestWithParam<fault_case> {};

}  // namespace

TEST_P(fault_matrix, exactly_once_in_order_both_ways_within_bound) {
    const fault_case& fc = GetParam();
    const std::uint64_t seed = test_seed(100);  // same sizes as the loss-free reference
    const std::uint64_t link_seed = test_seed(fc.seed_offset);
    const duration t_free = loss_free(seed, fc.w, fc.cc);
    const duration bound = std::chrono::duration_cast<duration>(t_free * fc.k) + fc.c;
    auto r = run(fc.link, seed, link_seed, fc.n, bound + 30s, {}, fc.w, fc.cc);
    std::printf("[fault] %-12s seed %llu: %s, c2s %zu/%zu, s2c %zu/%zu, %.1f ms virtual "
                "(bound %.1f ms = %.1f × %.1f + %.0f), requests %llu/%llu (spurious %llu/%llu), "
                "probes %llu/%llu, "
                "%.2f s wall\n",
                fc.name, static_cast<unsigned long long>(link_seed),
                r.complete ? "complete" : "INCOMPLETE", r.c2s, fc.n, r.s2c, fc.n,
                ms(r.elapsed), ms(bound), fc.k, ms(t_free), ms(fc.c),
                static_cast<unsigned long long>(r.client_stats.requests_sent),
                static_cast<unsigned long long>(r.server_stats.requests_sent),
                static_cast<unsigned long long>(r.client_stats.spurious_requests),
                static_cast<unsigned long long>(r.server_stats.spurious_requests),
                static_cast<unsigned long long>(r.client_stats.probes),
                static_cast<unsigned long long>(r.server_stats.probes), r.wall_s);
    ASSERT_TRUE(r.established);
    EXPECT_EQ(r.mismatches, 0U);
    EXPECT_FALSE(r.client_closed) << r.client_closed->message();
    EXPECT_FALSE(r.server_closed) << r.server_closed->message();
    EXPECT_EQ(r.c2s, fc.n);
    EXPECT_EQ(r.s2c, fc.n);
    EXPECT_TRUE(r.complete);
    EXPECT_LE(r.elapsed, bound);
}

// k per case, fixed_window. The loss-free transfer is window-limited (a 512-packet window per
// 10 ms RTT).
// A lost packet holds delivery behind it for one recovery round (its request and its resend,
// about one RTT after a reorder delay of RTT/4); a round fails with probability
// q = 1 − (1 − p)², and failed rounds back off (2, 4, 4 … × 2·RTT). While a loss is being
// repaired the window fills, so the stalls of the ~p·N losses per direction add up rather than
// overlap: T ≈ T0 + p·N·(RTT + q·backoff)/(window/N_in_flight). Up to 5% this stays within a
// few T0; at 10–30% repeated failures dominate (q = 0.19, 0.36, 0.51). The k below were set
// at about 1.5–2× the time measured with these seeds (loss 10%: 3.4 s, 20%: 9.2 s,
// 30%: 16.7 s; T0 = 0.4 s), so a regression in recovery fails the test. c covers tail losses
// recovered by a probe and the handshake.
std::vector<fault_case> matrix_cases(wire w) {
    std::vector<fault_case> v{fault_case{"loss_0", 1, loss(0.0), 1.0, 50ms, w},
        fault_case{"loss_1", 2, loss(0.01), 3.0, 1s, w},
        fault_case{"loss_5", 3, loss(0.05), 4.0, 1s, w},
        fault_case{"loss_10", 4, loss(0.10), 15.0, 1s, w},
        fault_case{"loss_20", 5, loss(0.20), 35.0, 2s, w},
        fault_case{"loss_30", 6, loss(0.30), 60.0, 3s, w},
        fault_case{"burst", 7, burst(), 6.0, 1s, w},
        fault_case{"dup_10", 8, dup(), 2.0, 200ms, w},
        fault_case{"reorder_1", 9, reorder(1), 2.0, 200ms, w},
        fault_case{"reorder_8", 10, reorder(8), 2.0, 200ms, w},
        fault_case{"reorder_64", 11, reorder(64), 3.0, 500ms, w},
        fault_case{"corrupt_1", 12, corrupt(), 3.0, 1s, w},
        fault_case{"jitter", 13, jitter(), 6.0, 1s, w}};
    return v;
}

// The same impairments with the default controller (bbr) at both ends, v2. Where a congestion
// response plays no part (no loss, duplication, little reordering) the bounds are the fixed
// window's. BBRv3 answers loss (draft-ietf-ccwg-bbr: bw_lo and inflight_lo shrink after a round
// with loss outside ProbeBW_UP, here only while the loss rate averaged over ~4 rounds is above
// loss_thresh = 2%, see bbr/model.hpp; inflight_hi after a round above 2%), and on this link of
// 10 ms with no bottleneck it spends much of a lossy transfer between probes, below the fixed
// window's rate. Those bounds are about 1.5x the longest time measured over thirteen seeds
// (NEUTRINO_TEST_SEED 0-11 and the default): loss 1%: 0.83-1.47 s; corruption 1%: 0.93-1.71 s;
// loss 5%: 22-34 s; 5 000 messages at 10%: 9.9-19 s; 2 000 at 20%: 13.5-21 s; 1 000 at 30%:
// 13-34 s; bursts: 5.6-9.9 s; reordering up to 64 deep: 0.54-4.1 s (most seeds 0.54 s; in the
// slow ones the reordering's early requests read as losses). Jitter of +-15 ms around 20 ms keeps
// min_rtt at a quarter of the mean RTT, so bbr's window (2 x bandwidth x min_rtt) is half what
// the mean RTT needs: 7.5-21 s. Fewer messages at 10-30% keep the wall time small.
std::vector<fault_case> default_controller_cases() {
    const auto w = wire::v2;
    const auto d = controller::default_;
    return {fault_case{"loss_0", 1, loss(0.0), 1.0, 50ms, w, d},
            fault_case{"loss_1", 2, loss(0.01), 3.0, 1s, w, d},
            fault_case{"loss_5", 3, loss(0.05), 100.0, 1s, w, d},
            fault_case{"loss_10", 4, loss(0.10), 62.0, 1s, w, d, 5000},
            fault_case{"loss_20", 5, loss(0.20), 60.0, 2s, w, d, 2000},
            fault_case{"loss_30", 6, loss(0.30), 110.0, 3s, w, d, 1000},
            fault_case{"burst", 7, burst(), 40.0, 1s, w, d},
            fault_case{"dup_10", 8, dup(), 2.0, 200ms, w, d},
            fault_case{"reorder_1", 9, reorder(1), 2.0, 200ms, w, d},
            fault_case{"reorder_8", 10, reorder(8), 2.0, 200ms, w, d},
            fault_case{"reorder_64", 11, reorder(64), 12.0, 800ms, w, d},
            fault_case{"corrupt_1", 12, corrupt(), 4.0, 1s, w, d},
            fault_case{"jitter", 13, jitter(), 60.0, 1s, w, d}};
}

INSTANTIATE_TEST_SUITE_P(reliable, fault_matrix, ::testing::ValuesIn(matrix_cases(wire::v2)),
                         [](const ::testing::TestParamInfo<fault_case>& i) { return std::string(i.param.name); });
// The same matrix on the v3 wire (spec: neutrino-v3.md §14.1): reliable runs unchanged on it.
INSTANTIATE_TEST_SUITE_P(reliable_v3, fault_matrix, ::testing::ValuesIn(matrix_cases(wire::v3)),
                         [](const ::testing::TestParamInfo<fault_case>& i) { return std::string(i.param.name); });
INSTANTIATE_TEST_SUITE_P(reliable_default_controller, fault_matrix, ::testing::ValuesIn(default_controller_cases()),
                         [](const ::testing::TestParamInfo<fault_case>& i) { return std::string(i.param.name); });

// Memory: a long transfer at 5 % loss never holds more than the configured bounds. The send
// buffer holds DATA (≤ send_window) plus up to 16 control packets (KEEP_ALIVEs), the receive
// buffer at most receive_window packets.  spec: neutrino.md §18.2 item 13, config.hpp
TEST(fault_matrix_memory, bounded_by_configuration_at_5_percent_loss) {
    nr::config rcfg;
    rcfg.send_window = 64;
    rcfg.receive_window = 128;
    const std::uint64_t seed = test_seed(200);
    auto r = run(loss(0.05), seed, seed, messages / 2, 120s, rcfg);
    std::printf("[fault] memory_5%% seed %llu: %s, c2s %zu, s2c %zu, %.1f ms virtual; client max "
                "send %zu / receive %zu, server max send %zu / receive %zu\n",
                static_cast<unsigned long long>(seed), r.complete ? "complete" : "INCOMPLETE", r.c2s,
                r.s2c, ms(r.elapsed), r.client_stats.max_send_buffered,
                r.client_stats.max_receive_buffered, r.server_stats.max_send_buffered,
                r.server_stats.max_receive_buffered);
    EXPECT_LE(r.client_stats.max_send_buffered, rcfg.send_window + 16);
    EXPECT_LE(r.server_stats.max_send_buffered, rcfg.send_window + 16);
    EXPECT_LE(r.client_stats.max_receive_buffered, rcfg.receive_window);
    EXPECT_LE(r.server_stats.max_receive_buffered, rcfg.receive_window);
    EXPECT_LE(r.max_client_unacked, rcfg.send_window + 16);
    EXPECT_LE(r.max_server_unacked, rcfg.send_window + 16);
    EXPECT_LE(r.max_client_out_of_order, rcfg.receive_window);
    EXPECT_EQ(r.mismatches, 0U);
    EXPECT_TRUE(r.complete) << "c2s " << r.c2s << ", s2c " << r.s2c;
}

// A 2-second blackhole (both directions) in the middle of the transfer. The core ends a session
// after 1500 ms without an accepted packet (spec: neutrino.md §3.4), before the link returns,
// so the reliable layer cannot recover it: what is right is a clear error on both sides
// (closed with timed_out, or unrecoverable_loss), everything delivered before it exact and in
// order, nothing delivered twice or after the close.
TEST(fault_matrix_blackhole, two_seconds_ends_the_session_with_a_clear_error) {
    ni::impairment_config hole;
    hole.blackholes.push_back({std::chrono::milliseconds(150), std::chrono::milliseconds(2150)});
    const std::uint64_t seed = test_seed(300);
    auto r = run(hole, seed, seed, messages, 30s);
    std::printf("[fault] blackhole_2s seed %llu: c2s %zu/%zu delivered of %zu sent, s2c %zu/%zu of "
                "%zu, client closed: %s, server closed: %s\n",
                static_cast<unsigned long long>(seed), r.c2s, messages, r.client_sent, r.s2c,
                messages, r.server_sent,
                r.client_closed ? r.client_closed->message().c_str() : "no",
                r.server_closed ? r.server_closed->message().c_str() : "no");
    ASSERT_TRUE(r.established);
    EXPECT_EQ(r.mismatches, 0U);
    EXPECT_EQ(r.delivered_after_close, 0U);
    ASSERT_TRUE(r.client_closed);
    ASSERT_TRUE(r.server_closed);
    auto clear = [](std::error_code e) {
        return e == make_error_code(nc::errc::timed_out) ||
               e == make_error_code(nr::errc::unrecoverable_loss);
    };
    EXPECT_TRUE(clear(*r.client_closed)) << r.client_closed->message();
    EXPECT_TRUE(clear(*r.server_closed)) << r.server_closed->message();
    EXPECT_LE(r.c2s, r.client_sent);
    EXPECT_LE(r.s2c, r.server_sent);
    EXPECT_LT(r.c2s, messages);  // the session ended before the transfer could complete
}
