#include "neutrino/inspector/simulator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/inspector/classifier.hpp"
#include "neutrino/result.hpp"
#include "test_seed.hpp"

namespace nc = neutrino::core;
namespace ni = neutrino::inspector;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;

namespace {

using neutrino::test::test_seed;

// --- a minimal layer: any datagram_layer stack runs in the simulator ----------------------

// Sends `count` numbered datagrams of `size` bytes, `burst` every `interval`, to `peer`;
// echoes nothing. Receives and records numbers.
class numbered_sender {
public:
    struct event_type {
        std::uint64_t number;
    };
    numbered_sender(peer_address peer, std::uint64_t count, std::size_t size, std::size_t burst,
                    neutrino::duration interval)
        : peer_(peer), count_(count), size_(size), burst_(burst), interval_(interval) {}

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address&,
                                           time_point) {
        if (in.size() < 8) return neutrino::fail(nc::errc::datagram_too_short);
        received.push_back(neutrino::load_le<std::uint64_t>(in.data()));
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point) {
        if (budget_ == 0 || sent_ == count_) return std::nullopt;
        --budget_;
        ++sent_;
        neutrino::store_le(out.data(), sent_);
        std::fill(out.begin() + 8, out.begin() + static_cast<std::ptrdiff_t>(size_),
                  std::byte{0x5a});
        return neutrino::transmit{size_, peer_};
    }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const {
        if (sent_ == count_) return std::nullopt;
        return next_;
    }
    void handle_deadline(time_point now) {
        if (now < next_) return;
        budget_ = burst_;
        next_ = now + interval_;
    }

    std::vector<std::uint64_t> received;
    [[nodiscard]] std::uint64_t sent() const { return sent_; }

private:
    peer_address peer_;
    std::uint64_t count_;
    std::size_t size_;
    std::size_t burst_;
    neutrino::duration interval_;
    std::size_t budget_ = 0;
    std::uint64_t sent_ = 0;
    time_point next_{};
};

// Answers every datagram with the same bytes, once.
class echo {
public:
    struct event_type {};
    explicit echo(peer_address peer) : peer_(peer) {}

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address&,
                                           time_point) {
        pending_.assign(in.begin(), in.end());
        has_ = true;
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point) {
        if (!has_) return std::nullopt;
        has_ = false;
        std::copy(pending_.begin(), pending_.end(), out.begin());
        return neutrino::transmit{pending_.size(), peer_};
    }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point) {}

private:
    peer_address peer_;
    std::vector<std::byte> pending_;
    bool has_ = false;
};

static_assert(neutrino::datagram_layer<numbered_sender>);
static_assert(neutrino::datagram_layer<echo>);

const peer_address a_address = peer_address::v4({10, 0, 0, 1}, 1000);
const peer_address b_address = peer_address::v4({10, 0, 0, 2}, 2000);

}  // namespace

TEST(simulator, echo_over_a_lossy_delayed_link_is_reproducible) {
    auto once = [](std::uint64_t seed) {
        numbered_sender a(b_address, 10'000, 200, 10, 10ms);
        echo b(a_address);
        ni::simulator_config cfg;
        cfg.seed = seed;
        cfg.a_to_b.drop = 0.1;
        cfg.a_to_b.delay = 20ms;
        cfg.b_to_a.drop = 0.1;
        cfg.b_to_a.delay = 30ms;
        ni::simulator sim(a, a_address, b, b_address, cfg);
        sim.run_for(20s);
        return std::pair{a.received, sim.stats()};
    };
    const auto [received, stats] = once(test_seed(0));
    // 10 000 datagrams, 10 every 10 ms: the last leaves at 9.99 s and is back 50 ms later.
    EXPECT_EQ(stats.sent_by_a, 10'000U);
    EXPECT_EQ(stats.sent_by_b, stats.delivered_to_b);
    EXPECT_EQ(stats.delivered_to_a, received.size());
    // Survives both directions with probability 0.81; 5 σ ≈ 196.
    EXPECT_NEAR(static_cast<double>(received.size()), 8100.0, 200.0);
    EXPECT_TRUE(std::is_sorted(received.begin(), received.end()));
    EXPECT_EQ(stats.misaddressed, 0U);
    EXPECT_EQ(once(test_seed(0)).first, received);
    EXPECT_NE(once(test_seed(0) + 1).first, received);
}

TEST(simulator, completion_time_is_bounded_in_virtual_time) {
    numbered_sender a(b_address, 1000, 100, 1000, 1s);
    echo b(a_address);
    ni::simulator_config cfg;
    cfg.a_to_b.delay = 40ms;
    cfg.b_to_a.delay = 60ms;
    ni::simulator sim(a, a_address, b, b_address, cfg);
    ASSERT_TRUE(sim.run_until([&] { return a.received.size() == 1000; }, 10s));
    EXPECT_EQ(sim.now(), time_point{} + 100ms);  // all sent at 0, back after one round trip
    std::vector<std::uint64_t> expected(1000);
    for (std::uint64_t i = 0; i < 1000; ++i) expected[i] = i + 1;
    EXPECT_EQ(a.received, expected);
}

TEST(simulator, misaddressed_datagrams_are_counted_and_discarded) {
    numbered_sender a(peer_address::v4({10, 0, 0, 9}, 1), 5, 16, 5, 1s);
    echo b(a_address);
    ni::simulator sim(a, a_address, b, b_address);
    sim.run_for(1s);
    EXPECT_EQ(sim.stats().misaddressed, 5U);
    EXPECT_EQ(sim.stats().delivered_to_b, 0U);
}

TEST(simulator, reports_its_speed) {
    // 100 000 datagrams each way with 10 % loss on the way out; the wall time is reported,
    // not asserted (a Debug build is several times slower than a Release one).
    numbered_sender a(b_address, 100'000, 100, 50, 1ms);
    echo b(a_address);
    ni::simulator_config cfg;
    cfg.a_to_b.drop = 0.1;
    cfg.a_to_b.delay = 5ms;
    cfg.b_to_a.delay = 5ms;
    ni::simulator sim(a, a_address, b, b_address, cfg);
    const auto t0 = std::chrono::steady_clock::now();
    sim.run_for(3s);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto moved =
        sim.stats().delivered_to_a + sim.stats().delivered_to_b + sim.a_to_b().stats().dropped();
    EXPECT_EQ(a.sent(), 100'000U);
    EXPECT_EQ(sim.stats().sent_by_a + sim.stats().sent_by_b, moved);
    std::printf("simulator: %llu datagrams in %.3f s wall (%.2f M datagrams/s)\n",
                static_cast<unsigned long long>(moved), wall,
                static_cast<double>(moved) / wall / 1e6);
}

// --- the core client and server ---------------------------------------------------------

namespace {

using client_type = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
using server_type = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;

const peer_address client_address = peer_address::v4({127, 0, 0, 1}, 40000);
const peer_address server_address = peer_address::v4({127, 0, 0, 1}, 22753);

nc::keypair test_server_keys() {
    return *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
}

std::string joined(const nc::words_view& w) {
    std::string s;
    for (nc::word x : w) {
        if (!s.empty()) s += '|';
        s += nc::as_string(x);
    }
    return s;
}

// A client and a server of Neutrino basic joined by the simulator; records what they report.
struct session_pair {
    static nc::client_config client_cfg() {
        nc::client_config c;
        c.server_key = test_server_keys().pk;
        c.server = server_address;
        return c;
    }
    static nc::server_config server_cfg() {
        nc::server_config s;
        s.keys = test_server_keys();
        return s;
    }

    explicit session_pair(ni::simulator_config cfg, std::uint64_t seed = 1)
        : client(client_cfg(), nc::null_observer{}, neutrino::seeded_random(seed)),
          server(server_cfg(), nc::null_observer{}, neutrino::seeded_random(seed + 1000)),
          sim(client, client_address, server, server_address, std::move(cfg)) {
        sim.on_a_event = [this](const nc::event& e) {
            if (e.kind == nc::event_kind::data) client_data.push_back(joined(e.words));
            if (e.kind == nc::event_kind::established) client_established.push_back(sim.now());
            if (e.kind == nc::event_kind::closed) client_closed.emplace_back(sim.now(), e.reason);
        };
        sim.on_b_event = [this](const nc::event& e) {
            if (e.kind == nc::event_kind::data) server_data.push_back(joined(e.words));
            if (e.kind == nc::event_kind::established) ++server_established;
            if (e.kind == nc::event_kind::closed) ++server_closed;
        };
    }

    [[nodiscard]] bool both_established() const {
        return client.established() &&
               server.state_of(client.session_id()) == nc::session_state::established;
    }

    // Dials and runs until both sides are established, at most `max` of virtual time.
    bool connect(neutrino::duration max) {
        if (!client.connect(sim.now())) return false;
        return sim.run_until([this] { return both_established(); }, max);
    }

    // The client sends `count` DATA messages `gap` apart; returns those it accepted.
    std::vector<std::string> client_sends(std::size_t count, neutrino::duration gap,
                                          std::size_t pad = 0) {
        std::vector<std::string> sent;
        for (std::size_t i = 0; i < count; ++i) {
            const std::string text = "m" + std::to_string(i) + std::string(pad, '.');
            if (client.send(nc::words(text, "x"), sim.now())) sent.push_back(text + "|x");
            sim.run_for(gap);
        }
        return sent;
    }

    client_type client;
    server_type server;
    ni::simulator<client_type, server_type> sim;
    std::vector<std::string> client_data, server_data;
    std::vector<time_point> client_established;
    std::vector<std::pair<time_point, std::error_code>> client_closed;
    std::size_t server_established = 0;
    std::size_t server_closed = 0;
};

// True when `got` is `sent` with some elements left out: in order, no duplicates, nothing new.
bool is_subsequence(const std::vector<std::string>& got, const std::vector<std::string>& sent) {
    auto it = sent.begin();
    for (const auto& g : got) {
        it = std::find(it, sent.end(), g);
        if (it == sent.end()) return false;
        ++it;
    }
    return true;
}

ni::simulator_config symmetric(const ni::impairment_config& c, std::uint64_t seed) {
    ni::simulator_config cfg;
    cfg.a_to_b = c;
    cfg.b_to_a = c;
    cfg.seed = seed;
    return cfg;
}

}  // namespace

TEST(simulator_core, clean_link_handshake_and_data_both_ways) {
    ni::impairment_config c;
    c.delay = 10ms;
    session_pair p(symmetric(c, test_seed(1)), test_seed(1));
    ASSERT_TRUE(p.connect(1s));
    EXPECT_LE(p.sim.now(), time_point{} + 30ms);  // HELLO1, HELLO2, HELLO3: three one-way trips
    const auto sent = p.client_sends(100, 5ms);
    ASSERT_EQ(sent.size(), 100U);
    ASSERT_TRUE(p.server.send(p.client.session_id(), nc::words("630", "144"), p.sim.now()));
    p.sim.run_for(20ms);
    EXPECT_EQ(p.server_data, sent);
    EXPECT_EQ(p.client_data, (std::vector<std::string>{"630|144"}));
}

TEST(simulator_core, twenty_percent_loss_establishes_within_bound_and_never_garbles) {
    ni::impairment_config c;
    c.drop = 0.2;
    c.delay = 20ms;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(test_seed(seed)));
        session_pair p(symmetric(c, test_seed(seed)), test_seed(seed));
        // Each dial (HELLO1 every 3 s) succeeds with probability 0.8³ ≈ 0.5: 60 s is ~20 tries.
        ASSERT_TRUE(p.connect(60s));
        const auto sent = p.client_sends(200, 10ms);
        p.sim.run_for(1s);
        EXPECT_TRUE(is_subsequence(p.server_data, sent));
        // While the client's session is down (its keep-alive answers lost), send() refuses; of
        // what it accepted 80 % arrive (5 σ ≈ 14 % at 200).
        EXPECT_GE(sent.size(), 100U);
        EXPECT_GE(p.server_data.size() * 100, sent.size() * 66);
        EXPECT_EQ(p.sim.stats().misaddressed, 0U);
    }
}

TEST(simulator_core, duplicates_are_never_delivered_twice) {
    ni::impairment_config c;
    c.duplicate = 0.1;
    c.delay = 5ms;
    session_pair p(symmetric(c, test_seed(3)), test_seed(3));
    ASSERT_TRUE(p.connect(1s));
    const auto sent = p.client_sends(500, 2ms);
    p.sim.run_for(100ms);
    EXPECT_EQ(p.server_data, sent);  // no loss configured: everything, once, in order
    EXPECT_GT(p.sim.a_to_b().stats().duplicated, 20U);
    EXPECT_GE(p.server.stats().dropped(nc::errc::replayed), p.sim.a_to_b().stats().duplicated - 2);
}

TEST(simulator_core, reordered_data_is_delivered_once_each) {
    ni::impairment_config c;
    c.reorder = {.probability = 0.1, .positions = 3, .delay = 50ms};
    c.delay = 5ms;
    session_pair p(symmetric(c, test_seed(4)), test_seed(4));
    ASSERT_TRUE(p.connect(5s));
    const auto sent = p.client_sends(500, 2ms);
    p.sim.run_for(200ms);
    EXPECT_NE(p.server_data, sent);  // some arrive out of order …
    auto got = p.server_data;
    auto want = sent;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);  // … but every one exactly once (the replay window is wide enough)
}

TEST(simulator_core, corruption_never_delivers_a_modified_message) {
    ni::impairment_config c;
    c.delay = 5ms;
    c.corrupt = {.probability = 0.2,
                 .flip_bits = 1,
                 .truncate = 0.05,
                 .extend = 0.05,
                 .max_extend_size = 16};
    session_pair p(symmetric(c, test_seed(5)), test_seed(5));
    ASSERT_TRUE(p.connect(30s));
    const auto sent = p.client_sends(500, 2ms, 40);
    p.sim.run_for(100ms);
    EXPECT_TRUE(is_subsequence(p.server_data, sent));
    const auto corrupted = p.sim.a_to_b().stats().corrupted;
    EXPECT_GT(corrupted, 50U);
    // Every corrupted datagram is rejected: what arrived intact is all that was delivered.
    EXPECT_GE(p.server.stats().dropped_total, corrupted - 5);
    EXPECT_GE(p.server_data.size(), 500U - corrupted);
}

TEST(simulator_core, blackhole_expires_the_session_then_it_comes_back) {
    ni::impairment_config c;
    c.delay = 10ms;
    c.blackholes = {{1s, 3s}};
    session_pair p(symmetric(c, test_seed(6)), test_seed(6));
    ASSERT_TRUE(p.connect(500ms));
    ASSERT_EQ(p.client_established.size(), 1U);
    // Keep-alives stop getting through at 1 s: the client expires 1.5 s after its last
    // answer, so by 2.6 s, and redials 1 s later (every 3 s while pending).
    ASSERT_TRUE(p.sim.run_until([&] { return !p.client_closed.empty(); }, 3s));
    EXPECT_EQ(p.client_closed[0].second, make_error_code(nc::errc::timed_out));
    EXPECT_GE(p.client_closed[0].first, time_point{} + 2s);
    EXPECT_LE(p.client_closed[0].first, time_point{} + 2600ms);
    ASSERT_TRUE(p.sim.run_until([&] { return p.both_established(); }, 10s));
    EXPECT_LE(p.sim.now(), time_point{} + 7s);
    EXPECT_GE(p.sim.now(), time_point{} + 3s);
    EXPECT_EQ(p.client_established.size(), 2U);
    EXPECT_GE(p.server_closed, 1U);  // the server's session timed out as well
    const auto sent = p.client_sends(10, 10ms);
    p.sim.run_for(50ms);
    EXPECT_EQ(p.server_data, sent);
}

TEST(simulator_core, dropping_every_keep_alive_expires_an_idle_session) {
    ni::impairment_config to_client;
    to_client.script.drop_if = ni::neutrino_type_is{nc::packet_type::keep_alive};
    ni::simulator_config cfg;
    cfg.b_to_a = to_client;
    cfg.seed = test_seed(7);
    session_pair p(std::move(cfg), test_seed(7));
    ASSERT_TRUE(p.connect(100ms));
    ASSERT_TRUE(p.sim.run_until([&] { return !p.client_closed.empty(); }, 5s));
    EXPECT_EQ(p.client_closed[0].second, make_error_code(nc::errc::timed_out));
    EXPECT_GT(p.sim.b_to_a().stats().dropped_rule, 0U);
}

TEST(simulator_core, delay_and_jitter_keep_delivery) {
    // The server forgets a pending handshake after 250 ms, so basic needs HELLO2 + HELLO3
    // within that: at most 2 × 110 ms here.
    ni::impairment_config c;
    c.delay = 80ms;
    c.jitter = 30ms;
    session_pair p(symmetric(c, test_seed(8)), test_seed(8));
    ASSERT_TRUE(p.connect(1s));
    EXPECT_LE(p.sim.now(), time_point{} + 3 * 110ms);
    const auto sent = p.client_sends(100, 5ms);
    const time_point last_sent = p.sim.now() - 5ms;
    ASSERT_TRUE(p.sim.run_until([&] { return p.server_data.size() == sent.size(); }, 1s));
    EXPECT_LE(p.sim.now(), last_sent + 110ms);
    EXPECT_EQ(p.server_data, sent);
}

TEST(simulator_core, ten_minutes_of_keep_alives_with_twenty_percent_loss) {
    ni::impairment_config c;
    c.drop = 0.2;
    c.delay = 20ms;
    c.jitter = 5ms;
    session_pair p(symmetric(c, test_seed(9)), test_seed(9));
    ASSERT_TRUE(p.client.connect(p.sim.now()));
    const auto t0 = std::chrono::steady_clock::now();
    p.sim.run_for(10min);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(p.sim.now(), time_point{} + 10min);
    EXPECT_GE(p.client_established.size(), 1U);
    // Each expiry was followed by a redial; every session but the current one ended.
    EXPECT_LE(p.client_closed.size(), p.client_established.size());
    EXPECT_GE(p.client_closed.size() + 1, p.client_established.size());
    for (const auto& [at, reason] : p.client_closed)
        EXPECT_EQ(reason, make_error_code(nc::errc::timed_out));
    // A keep-alive every 475 ms, 80 % of them through, less the time spent redialling.
    EXPECT_GT(p.sim.stats().delivered_to_b, 500U);
    std::printf(
        "10 simulated minutes, 20%% loss: %.3f s wall, %zu sessions, %zu expiries, "
        "%llu datagrams delivered\n",
        wall, p.client_established.size(), p.client_closed.size(),
        static_cast<unsigned long long>(p.sim.stats().delivered_to_a) +
            static_cast<unsigned long long>(p.sim.stats().delivered_to_b));
}
