// The reliable layer with a real congestion controller through a bottleneck: the inspector's
// rate stage (20 Mbit/s, a drop-tail queue of one bandwidth-delay product) and 20 ms each way,
// on virtual time. The same upload runs with the fixed 512-packet window (the default before
// congestion control), cubic and bbr, in the same test, so the comparison is a ratio measured
// here (issue 13). RTT is the client's latest sample, averaged over the simulator's steps.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "neutrino/congestion/bbr.hpp"
#include "neutrino/congestion/cubic.hpp"
#include "neutrino/congestion/fixed_window.hpp"
#include "neutrino/inspector/simulator.hpp"
#include "reliable_support.hpp"

namespace ni = neutrino::inspector;
namespace ncc = neutrino::congestion;
using namespace std::chrono_literals;
using namespace neutrino::reliable_test;

namespace {

constexpr double link_bytes_per_s = 20e6 / 8;
constexpr auto one_way = 20ms;
constexpr std::size_t bdp = static_cast<std::size_t>(link_bytes_per_s * 0.040);  // 100 000 bytes

/// The bottleneck an upload crosses: its rate, the delay each way, a drop-tail queue of one BDP,
/// and (window_packets > 0) send and receive windows of that many packets instead of the default
/// 512 / 1024, as the bottleneck lab sizes them for long paths.
struct bottleneck_path {
    double bytes_per_s = link_bytes_per_s;
    neutrino::duration one_way = ::one_way;
    std::size_t window_packets = 0;
    bool infer_from_requests = false;  ///< nr::config::infer_from_requests
    bool back_off_until_rtt_sample = false;  ///< nr::config::back_off_until_rtt_sample
    [[nodiscard]] std::size_t bdp_bytes() const {
        return static_cast<std::size_t>(bytes_per_s *
                                        std::chrono::duration<double>(2 * one_way).count());
    }
};

struct upload_result {
    double goodput_bytes_per_s = 0;
    std::uint64_t retransmitted = 0;
    std::uint64_t queue_drops = 0;
    std::size_t delivered = 0;
    bool in_order = true;
    double mean_rtt_ms = 0;
    std::size_t window = 0;
    double pacing_rate = 0;
    neutrino::duration min_rtt{};
    bool session_lost = false;  ///< a side ended the session (errc::unrecoverable_loss)
    nr::stats sender{}, receiver{};
    std::optional<neutrino::duration> startup_exit;  ///< when the sender's bbr left Startup
    bool startup_loss_exit = false;    ///< on loss (inflight_hi set), not on the plateau
    std::uint64_t drops_at_exit = 0;   ///< queue drops by then
    std::uint64_t losses_at_exit = 0;  ///< losses the controller had heard of by then
};

/// Moves `n` messages of ~1000 bytes from the client to the server (or, `Download`, from the
/// server to the client) through the bottleneck in that direction, both ends with controller
/// `C`; measures from the first send to the last delivery.
template <class C, bool Download = false>
upload_result upload(std::size_t n, std::uint64_t seed, double random_loss = 0.0,
                     const bottleneck_path& path = {}) {
    using client = nr::basic_client<core_client, C>;
    using server = nr::basic_server<core_server, C>;
    nr::config rc;
    if (path.window_packets > 0) rc.send_window = rc.receive_window = path.window_packets;
    rc.infer_from_requests = path.infer_from_requests;
    rc.back_off_until_rtt_sample = path.back_off_until_rtt_sample;
    client a(client_cfg(), rc, nc::null_observer{}, neutrino::seeded_random(test_seed(seed)));
    server b(server_cfg(), rc, nc::null_observer{}, neutrino::seeded_random(test_seed(seed + 1)));
    ni::simulator_config sc;
    sc.a_to_b.delay = path.one_way;
    sc.b_to_a.delay = path.one_way;
    auto& forward = Download ? sc.b_to_a : sc.a_to_b;
    forward.rate = ni::rate_limit{.bytes_per_second = static_cast<std::uint64_t>(path.bytes_per_s),
                                  .burst_size = 1500,
                                  .max_queue_size = path.bdp_bytes()};
    forward.drop = random_loss;
    sc.seed = test_seed(seed + 2);
    ni::simulator<client, server> sim(a, neutrino::test::client_address, b, neutrino::test::server_address, sc);
    upload_result r;
    std::size_t expected = 0;
    auto receive = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::closed) r.session_lost = true;
        if (e.kind != nc::event_kind::data) return;
        r.in_order = r.in_order && nc::as_string(e.words[0]) == std::to_string(expected);
        ++expected;
    };
    auto sender_side = [&](const nc::event& e) {
        if (e.kind == nc::event_kind::closed) r.session_lost = true;
    };
    if constexpr (Download) {
        sim.on_a_event = receive;
        sim.on_b_event = sender_side;
    } else {
        sim.on_b_event = receive;
        sim.on_a_event = sender_side;
    }
    EXPECT_TRUE(a.connect(sim.now()));
    EXPECT_TRUE(sim.run_until([&] { return a.established() && b.can_send(a.session_id()); }, 10s));
    const std::string filler(1000, 'x');
    std::size_t next = 0;
    const auto start = sim.now();
    double rtt_sum = 0;
    std::size_t rtt_n = 0;
    EXPECT_TRUE(sim.run_until(
        [&] {
            if constexpr (Download) {
                const std::uint64_t sid = a.session_id();
                while (next < n && b.can_send(sid) && b.send(sid, nc::words(std::to_string(next), filler), sim.now())) {
                    ++next;
                }
            } else {
                while (next < n && a.can_send() && a.send(nc::words(std::to_string(next), filler), sim.now())) ++next;
            }
            if (a.rtt_estimator().has_sample()) {
                rtt_sum += std::chrono::duration<double, std::milli>(a.rtt_estimator().latest()).count();
                ++rtt_n;
            }
            if constexpr (!Download && requires { a.controller().state(); }) {
                if (!r.startup_exit && a.controller().state() != ncc::bbr_state::startup) {
                    r.startup_exit = sim.now() - start;
                    r.startup_loss_exit =
                        a.controller().model().inflight_hi != ncc::bbr_detail::infinite;
                    r.drops_at_exit = sim.a_to_b().stats().dropped_rate_queue;
                    r.losses_at_exit = a.stats().retransmitted;
                }
            }
            return expected == n || r.session_lost;
        },
        600s));
    const double seconds = std::chrono::duration<double>(sim.now() - start).count();
    r.delivered = expected;
    r.goodput_bytes_per_s = static_cast<double>(expected) * 1000.0 / seconds;
    r.retransmitted = Download ? b.stats().retransmitted : a.stats().retransmitted;
    r.queue_drops = (Download ? sim.b_to_a() : sim.a_to_b()).stats().dropped_rate_queue;
    r.sender = Download ? b.stats() : a.stats();
    r.receiver = Download ? a.stats() : b.stats();
    r.mean_rtt_ms = rtt_n == 0 ? 0 : rtt_sum / static_cast<double>(rtt_n);
    // what an observer sees of the sender's congestion control at the end
    const auto cs = Download ? b.congestion(a.session_id()) : std::optional{a.congestion()};
    EXPECT_TRUE(cs.has_value());
    if (cs) {
        r.window = cs->window;
        r.pacing_rate = cs->pacing_rate;
        r.min_rtt = cs->min_rtt;
    }
    return r;
}

}  // namespace

TEST(congestion_bottleneck, cubic_and_bbr_stop_overflowing_the_queue_that_the_fixed_window_overflows) {
    constexpr std::size_t n = 20000;  // ~20 MB, ~8 s at the link rate
    const auto fixed = upload<ncc::fixed_window>(n, 401);
    const auto cub = upload<ncc::cubic>(n, 411);
    const auto bbr = upload<ncc::bbr>(n, 421);
    std::printf("20 Mbit/s x 40 ms, 1-BDP queue, %zu x 1 KB upload:\n"
                "  fixed_window: goodput %.2f Mbit/s, %llu retransmitted, %llu queue drops, RTT %.1f ms\n"
                "  cubic:        goodput %.2f Mbit/s, %llu retransmitted, %llu queue drops, RTT %.1f ms\n",
                n, fixed.goodput_bytes_per_s * 8e-6, static_cast<unsigned long long>(fixed.retransmitted),
                static_cast<unsigned long long>(fixed.queue_drops), fixed.mean_rtt_ms,
                cub.goodput_bytes_per_s * 8e-6, static_cast<unsigned long long>(cub.retransmitted),
                static_cast<unsigned long long>(cub.queue_drops), cub.mean_rtt_ms);
    std::printf("  bbr:          goodput %.2f Mbit/s, %llu retransmitted, %llu queue drops, RTT %.1f ms\n",
                bbr.goodput_bytes_per_s * 8e-6, static_cast<unsigned long long>(bbr.retransmitted),
                static_cast<unsigned long long>(bbr.queue_drops), bbr.mean_rtt_ms);
    EXPECT_EQ(bbr.delivered, n);
    EXPECT_TRUE(bbr.in_order);
    // Exactly once, in order, both ways of controlling.
    EXPECT_EQ(fixed.delivered, n);
    EXPECT_TRUE(fixed.in_order);
    EXPECT_EQ(cub.delivered, n);
    EXPECT_TRUE(cub.in_order);
    // Measured at seed 20240601: fixed 9.2 Mbit/s with ~20 000 retransmissions (the window
    // overflows the queue again and again, as issue 13 measured on a real path); cubic 17.0
    // Mbit/s of payload (1000 of each ~1100-byte datagram) with ~200.
    EXPECT_GE(cub.goodput_bytes_per_s, 1.5 * fixed.goodput_bytes_per_s);
    EXPECT_GE(cub.goodput_bytes_per_s, 0.75 * link_bytes_per_s);
    EXPECT_LE(cub.retransmitted * 20, fixed.retransmitted);
    // bbr: 16.1 Mbit/s with ~90 retransmissions, and no standing queue (RTT ~43 ms on a 40 ms
    // path, where cubic keeps the buffer full at ~65 ms).
    EXPECT_GE(bbr.goodput_bytes_per_s, 0.75 * link_bytes_per_s);
    EXPECT_LE(bbr.retransmitted * 20, fixed.retransmitted);
    EXPECT_LE(bbr.mean_rtt_ms, 1.25 * 40.0);
    EXPECT_LT(bbr.mean_rtt_ms, cub.mean_rtt_ms);
    // the observer's view: fixed_window unpaced at its 512 packets; the real ones paced
    EXPECT_EQ(fixed.pacing_rate, 0.0);
    EXPECT_EQ(fixed.window, 512u * nc::max_datagram_size);
    EXPECT_GT(bbr.pacing_rate, 0.5 * link_bytes_per_s);
    EXPECT_LT(bbr.pacing_rate, 2.0 * link_bytes_per_s);
    EXPECT_GT(cub.pacing_rate, 0.0);
    EXPECT_GE(bbr.min_rtt, 40ms);
}

TEST(congestion_bottleneck, at_one_percent_random_loss) {
    constexpr std::size_t n = 20000;
    const auto fixed = upload<ncc::fixed_window>(n, 431, 0.01);
    const auto cub = upload<ncc::cubic>(n, 441, 0.01);
    const auto bbr = upload<ncc::bbr>(n, 451, 0.01);
    for (const auto& [name, r] : {std::pair{"fixed_window", fixed}, std::pair{"cubic", cub}, std::pair{"bbr", bbr}}) {
        std::printf("  1%% loss %-12s goodput %.2f Mbit/s, %llu retransmitted, %llu queue drops, RTT %.1f ms, "
                    "%llu requests ignored of %llu (%llu repeats)\n",
                    name, r.goodput_bytes_per_s * 8e-6, static_cast<unsigned long long>(r.retransmitted),
                    static_cast<unsigned long long>(r.queue_drops), r.mean_rtt_ms,
                    static_cast<unsigned long long>(r.sender.requests_ignored),
                    static_cast<unsigned long long>(r.sender.requests_received),
                    static_cast<unsigned long long>(r.receiver.requests_repeated));
        EXPECT_EQ(r.delivered, n);
        EXPECT_TRUE(r.in_order);
    }
    // Measured over seven seeds (NEUTRINO_TEST_SEED 0-5 and the default): fixed 6.7-7.2 Mbit/s
    // (~18 800 retransmissions), cubic 1.5-1.7 (it halves on random loss, as loss-based control
    // does), bbr 7.1-13.0 (2.1-9.3 before its lower bounds waited for an averaged 2% loss rate).
    // Below issue 13's 80% goal: the reliable wire acknowledges cumulatively only, so every hole
    // stalls the acknowledgements (and the delivery-rate samples) for a round trip until its
    // retransmission arrives. With config::infer_from_requests (off here) bbr measured 12.4, 13.6,
    // 12.2, 12.2 Mbit/s at the default seed and 0, 1, 2 (7.1-12.0 without).
    EXPECT_GE(bbr.goodput_bytes_per_s, fixed.goodput_bytes_per_s);
    EXPECT_GE(bbr.goodput_bytes_per_s, 2.0 * cub.goodput_bytes_per_s);
}

// The server sends: its controller has no echoed timestamps and takes its RTT samples from the
// acknowledgement timing (the client's acknowledgement delay included).
TEST(congestion_bottleneck, downloads_from_the_server_are_controlled_too) {
    constexpr std::size_t n = 20000;
    const auto fixed = upload<ncc::fixed_window, true>(n, 461);
    const auto cub = upload<ncc::cubic, true>(n, 471);
    const auto bbr = upload<ncc::bbr, true>(n, 481);
    for (const auto& [name, r] : {std::pair{"fixed_window", fixed}, std::pair{"cubic", cub}, std::pair{"bbr", bbr}}) {
        std::printf("  download %-12s goodput %.2f Mbit/s, %llu retransmitted, %llu queue drops, RTT %.1f ms\n",
                    name, r.goodput_bytes_per_s * 8e-6, static_cast<unsigned long long>(r.retransmitted),
                    static_cast<unsigned long long>(r.queue_drops), r.mean_rtt_ms);
        EXPECT_EQ(r.delivered, n);
        EXPECT_TRUE(r.in_order);
    }
    // Measured: fixed 8.4 Mbit/s (~19 300 retransmissions), cubic 18.0 (~200), bbr 16.5 (~30)
    // at RTT ~43 ms.
    for (const auto* r : {&cub, &bbr}) {
        EXPECT_GE(r->goodput_bytes_per_s, 0.75 * link_bytes_per_s);
        EXPECT_LE(r->retransmitted * 20, fixed.retransmitted);
    }
    EXPECT_LE(bbr.mean_rtt_ms, 1.25 * 40.0);
}

// Issue 13, the bottleneck lab's long fat path: 100 Mbit/s x 200 ms, a one-BDP (2.5 MB) queue,
// windows of 3 BDP (7500 packets of ~1 KB) as the lab sizes them. Startup overshoots the queue, and
// the holes lie thousands of packets behind the newest: the session must repair every one, not end
// with unrecoverable_loss.
TEST(congestion_bottleneck, bbr_survives_startup_on_a_long_fat_path) {
    constexpr std::size_t n = 40000;  // ~40 MB, ~3.2 s at the link rate
    const bottleneck_path long_fat{
        .bytes_per_s = 100e6 / 8, .one_way = 100ms, .window_packets = 7500};
    const auto bbr = upload<ncc::bbr>(n, 491, 0.0, long_fat);
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("100 Mbit/s x 200 ms, 1-BDP queue, 7500-packet windows, %zu x 1 KB upload:\n", n);
    std::printf("  bbr: goodput %.2f Mbit/s, %llu retransmitted, %llu queue drops, RTT %.1f ms%s\n",
                bbr.goodput_bytes_per_s * 8e-6, u(bbr.retransmitted), u(bbr.queue_drops),
                bbr.mean_rtt_ms, bbr.session_lost ? ", SESSION LOST" : "");
    std::printf("  Startup left at %.2f s (%s, %llu queue drops by then, %llu losses signalled)\n",
                bbr.startup_exit ? std::chrono::duration<double>(*bbr.startup_exit).count() : -1.0,
                bbr.startup_loss_exit ? "loss" : "plateau", u(bbr.drops_at_exit),
                u(bbr.losses_at_exit));
    std::printf("  receiver: %llu requests sent (%llu repeats), %llu rounds deferred by the budget\n",
                u(bbr.receiver.requests_sent), u(bbr.receiver.requests_repeated),
                u(bbr.receiver.requests_deferred));
    std::printf("  sender: %llu requests received, %llu ignored\n", u(bbr.sender.requests_received),
                u(bbr.sender.requests_ignored));
    EXPECT_FALSE(bbr.session_lost);
    EXPECT_EQ(bbr.sender.gave_up + bbr.receiver.gave_up, 0u);
    EXPECT_EQ(bbr.delivered, n);
    EXPECT_TRUE(bbr.in_order);
    // Measured: 62.5 Mbit/s from the first send to the last delivery, Startup included (it
    // leaves on loss at 2.9 s after 72 queue drops), 133 retransmissions. Before the core's replay
    // window spanned the receive window (1024 numbers then) the session ended at 12.4 s with
    // unrecoverable_loss after those same 72 drops: every retransmission of a hole more than 1024
    // packets behind the newest was dropped as a replay, the acknowledgement stalled there, and
    // bbr got no rate sample and never left Startup. With the replay window alone, 55.8 Mbit/s
    // and ~7900 retransmissions: Startup's loss exit waited for the first repaired hole (3.8 s,
    // ~4500 queue drops) until it was also checked at losses while acknowledgements stall.
    EXPECT_GE(bbr.goodput_bytes_per_s, 0.55 * long_fat.bytes_per_s);
    EXPECT_LE(bbr.retransmitted, 1000u);
    ASSERT_TRUE(bbr.startup_exit.has_value());
    EXPECT_TRUE(bbr.startup_loss_exit);
    EXPECT_LE(*bbr.startup_exit, 3500ms);
}

// Issue 13's lab case: the long fat path (100 Mbit/s x 200 ms, 1-BDP queue, 7500-packet windows)
// at 1% random loss, with and without config::infer_from_requests. With cumulative
// acknowledgements only, every hole holds everything sent since it "in flight" for the round trip
// of its repair (at 1% there is always a hole), so bbr is window-limited and its delivery samples
// stall (the lab measured 0.05x kernel BBR).
TEST(congestion_bottleneck, bbr_keeps_a_long_fat_path_busy_at_one_percent_random_loss_when_inferring) {
    constexpr std::size_t n = 20000;  // ~20 MB: without inferring, within the 600 s
    bottleneck_path long_fat{.bytes_per_s = 100e6 / 8, .one_way = 100ms, .window_packets = 7500};
    const auto plain = upload<ncc::bbr>(n, 501, 0.01, long_fat);
    long_fat.infer_from_requests = true;
    const auto inferred = upload<ncc::bbr>(n, 501, 0.01, long_fat);
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("100 Mbit/s x 200 ms, 1%% loss, %zu x 1 KB upload:\n", n);
    for (const auto& [name, r] : {std::pair{"cumulative only", plain}, std::pair{"inferring", inferred}}) {
        std::printf("  bbr %-15s goodput %.2f Mbit/s, %zu delivered, %llu retransmitted, %llu queue drops, "
                    "RTT %.1f ms, %llu requests ignored of %llu (%llu repeats)%s\n",
                    name, r.goodput_bytes_per_s * 8e-6, r.delivered, u(r.retransmitted), u(r.queue_drops),
                    r.mean_rtt_ms, u(r.sender.requests_ignored), u(r.sender.requests_received),
                    u(r.receiver.requests_repeated),
                    r.session_lost ? ", SESSION LOST" : "");
    }
    EXPECT_FALSE(inferred.session_lost);
    EXPECT_EQ(inferred.delivered, n);
    EXPECT_TRUE(inferred.in_order);
    // Measured (NEUTRINO_TEST_SEED default, 0, 1, 2): cumulative only 3.6, 0.5, 15.9, 1.2 Mbit/s;
    // inferring 40.0, 39.2, 40.8, 37.9 (with 40 MB, 0.4-0.95 against 37.5-56.3, but without
    // inferring the 40 MB are not always delivered within the 600 s).
    EXPECT_GE(inferred.goodput_bytes_per_s, 0.30 * long_fat.bytes_per_s);
    EXPECT_GE(inferred.goodput_bytes_per_s, 2.0 * plain.goodput_bytes_per_s);
}

// Issue 13: the server of an upload sends no DATA, so its only RTT samples are answers to numbers
// it requested once. With initial_rtt (20 ms) on a 200 ms path it re-requested every gap before the
// answer came, Karn's rule took no sample from the answers, and the estimate stayed at 20 ms.
// config::back_off_until_rtt_sample keeps the backoff across gaps until a sample comes.
TEST(congestion_bottleneck, a_receiver_without_an_rtt_sample_stops_repeating_its_requests) {
    constexpr std::size_t n = 20000;
    bottleneck_path long_fat{.bytes_per_s = 100e6 / 8, .one_way = 100ms, .window_packets = 7500};
    const auto plain = upload<ncc::bbr>(n, 501, 0.01, long_fat);
    long_fat.back_off_until_rtt_sample = true;
    const auto held = upload<ncc::bbr>(n, 501, 0.01, long_fat);
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    for (const auto& [name, r] : {std::pair{"4x cap", plain}, std::pair{"held backoff", held}}) {
        std::printf("  %-12s goodput %.2f Mbit/s, %llu requests (%llu repeats), %llu ignored\n", name,
                    r.goodput_bytes_per_s * 8e-6, u(r.receiver.requests_sent), u(r.receiver.requests_repeated),
                    u(r.sender.requests_ignored));
    }
    EXPECT_EQ(held.delivered, n);
    EXPECT_TRUE(held.in_order);
    EXPECT_FALSE(held.session_lost);
    // Measured (NEUTRINO_TEST_SEED default, 0, 1, 2): repeats 386, 403, 400, 496 of 578-743
    // requests (192-255 ignored) with the cap; 5, 4, 7, 11 of 192-254 (1-4 ignored) held.
    EXPECT_LE(held.receiver.requests_repeated * 10, held.receiver.requests_sent);
    EXPECT_LE(held.sender.requests_ignored * 10, held.sender.requests_received);
    EXPECT_GE(plain.receiver.requests_repeated, 5 * held.receiver.requests_repeated);
}
