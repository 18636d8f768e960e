#include "neutrino/p2p/link.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/nat.hpp"
#include "neutrino/inspector/network.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/path_manager.hpp"
#include "neutrino/random.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"
#include "p2p_test_support.hpp"
#include "test_seed.hpp"

namespace {

namespace nc = neutrino::core;
namespace ni = neutrino::inspector;
namespace nr = neutrino::reliable;
namespace p2p = neutrino::p2p;
using p2p_test::test_relay;
namespace v3 = neutrino::core::v3;
using namespace std::chrono_literals;
using neutrino::peer_address;
using neutrino::time_point;
using neutrino::test::test_seed;
using p2p::path_kind;

p2p::node_id id_of(std::uint8_t b) {
    p2p::node_id id{};
    id.fill(std::byte{b});
    id[0] = std::byte{0xa0};  // the handle takes the first 16 bytes: make them not all equal
    return id;
}

constexpr std::uint64_t attempt = 0x11a4'0000'0000'0016ULL;
constexpr std::uint64_t relay = 0x0102'0304'0506'0708ULL;
const p2p::node_id client_id = id_of(0x01);
const p2p::node_id server_id = id_of(0x02);
const peer_address server = peer_address::v4({192, 0, 2, 10}, 3478);

p2p::probe_key_bytes test_key() {
    p2p::probe_key_bytes k{};
    k.fill(std::byte{0x42});
    return k;
}

// ---- unit: a scripted upper layer ----

// An upper layer that sends what the test queues and records what it is given.
class scripted_upper {
public:
    using event_type = int;

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                           time_point /*now*/) {
        received.emplace_back(from,
                              std::string(reinterpret_cast<const char*>(in.data()), in.size()));
        if (refuse) return neutrino::fail(p2p::errc::path_unknown_source);
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point) {
        if (outgoing.empty()) return std::nullopt;
        auto [to, s] = outgoing.front();
        outgoing.pop_front();
        std::copy_n(reinterpret_cast<const std::byte*>(s.data()), s.size(), out.begin());
        return neutrino::transmit{s.size(), to};
    }
    std::optional<event_type> poll_event() {
        if (events.empty()) return std::nullopt;
        const int e = events.front();
        events.pop_front();
        return e;
    }
    [[nodiscard]] std::optional<time_point> deadline() const { return timer; }
    void handle_deadline(time_point now) { fired.push_back(now); }

    std::deque<std::pair<peer_address, std::string>> outgoing;
    std::vector<std::pair<peer_address, std::string>> received;
    std::deque<int> events;
    std::optional<time_point> timer;
    std::vector<time_point> fired;
    bool refuse = false;
};

using scripted_link = p2p::basic_link<scripted_upper, neutrino::seeded_random>;
static_assert(neutrino::datagram_layer<scripted_link>);

const time_point t0 = time_point{} + 1h;
const peer_address direct = peer_address::v4({198, 51, 100, 1}, 40000);

p2p::path_config unit_config(std::optional<peer_address> start_direct) {
    p2p::path_config c;
    c.self = client_id;
    c.peer = server_id;
    c.attempt_id = attempt;
    c.key = test_key();
    c.server = server;
    c.relay_id = relay;
    c.direct = start_direct;
    c.timers.keepalive = 1s;
    c.timers.liveness = 3s;
    c.timers.reprobe = 2s;
    return c;
}

std::string text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

TEST(p2p_link, the_peer_handle_names_the_node_id_not_an_address) {
    const auto h = p2p::peer_handle_of(server_id);
    EXPECT_EQ(h.family, peer_address::family_type::opaque);
    EXPECT_EQ(h.port, 0);
    EXPECT_EQ(h.bytes[0], 0xa0);
    EXPECT_EQ(h.bytes[15], 0x02);
    EXPECT_FALSE(h.is_ip());
    EXPECT_NE(h, p2p::peer_handle_of(client_id));
}

TEST(p2p_link, frames_upper_datagrams_for_the_current_path_and_drops_other_destinations) {
    scripted_link l(unit_config(direct), t0, neutrino::seeded_random(test_seed(180)));
    const auto handle = l.peer_handle();
    l.upper().outgoing.emplace_back(handle, "one");
    l.upper().outgoing.emplace_back(direct, "leak");  // not the handle: never sent
    l.upper().outgoing.emplace_back(handle, "two");
    std::array<std::byte, 1500> out{};
    auto t = l.poll_datagram(out, t0);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, direct);
    EXPECT_EQ(text(std::span(out).first(t->size)), std::string("\x01one"));
    t = l.poll_datagram(out, t0);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, direct);
    EXPECT_EQ(text(std::span(out).first(t->size)), std::string("\x01two"));
    EXPECT_FALSE(l.poll_datagram(out, t0));
    EXPECT_EQ(l.stats().sent, 2U);
    EXPECT_EQ(l.stats().dropped_unroutable, 1U);

    // Relay first: the same upper datagram goes to the server behind the relay header.
    scripted_link r(unit_config(std::nullopt), t0, neutrino::seeded_random(test_seed(181)));
    r.upper().outgoing.emplace_back(r.peer_handle(), "hi");
    t = r.poll_datagram(out, t0);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, server);
    ASSERT_EQ(t->size, p2p::relay_header_size + 1 + 2);
    EXPECT_EQ(out[0], std::byte{0x04});
    EXPECT_EQ(text(std::span(out).subspan(p2p::relay_header_size, 3)), std::string("\x01hi"));

    // Too small an output buffer for the framing: nothing is taken from the upper layer.
    r.upper().outgoing.emplace_back(r.peer_handle(), "x");
    std::array<std::byte, scripted_link::overhead_size> tiny{};
    EXPECT_FALSE(r.poll_datagram(tiny, t0));
    EXPECT_EQ(r.upper().outgoing.size(), 1U);
}

TEST(p2p_link, hands_peer_data_up_from_the_peer_handle_whatever_the_path) {
    scripted_link l(unit_config(direct), t0, neutrino::seeded_random(test_seed(182)));
    EXPECT_TRUE(l.handle_datagram(p2p_test::as_bytes("\x01"
                                                     "direct"),
                                  direct, t0));
    std::vector<std::byte> relayed(p2p::relay_header_size + 8);
    ASSERT_TRUE(p2p::encode_relayed(relay,
                                    p2p_test::as_bytes("\x01"
                                                       "relayed"),
                                    relayed));
    EXPECT_TRUE(l.handle_datagram(relayed, server, t0));
    // From a stranger: the path manager drops it, the upper layer never sees it.
    const auto stranger = peer_address::v4({203, 0, 113, 66}, 5555);
    EXPECT_EQ(p2p_test::error_of(l.handle_datagram(p2p_test::as_bytes("\x01"
                                                                      "spoof"),
                                                   stranger, t0)),
              p2p::errc::path_unknown_source);
    ASSERT_EQ(l.upper().received.size(), 2U);
    EXPECT_EQ(l.upper().received[0].first, l.peer_handle());
    EXPECT_EQ(l.upper().received[0].second, "direct");
    EXPECT_EQ(l.upper().received[1].first, l.peer_handle());
    EXPECT_EQ(l.upper().received[1].second, "relayed");
    EXPECT_EQ(l.stats().delivered, 2U);

    // The upper layer's refusal is returned and counted.
    l.upper().refuse = true;
    EXPECT_FALSE(l.handle_datagram(p2p_test::as_bytes("\x01"
                                                      "bad"),
                                   direct, t0));
    EXPECT_EQ(l.stats().rejected_by_upper, 1U);
}

TEST(p2p_link, reports_both_event_sources_and_the_earlier_deadline) {
    scripted_link l(unit_config(direct), t0, neutrino::seeded_random(test_seed(183)));
    l.upper().events.push_back(7);
    std::vector<scripted_link::event_type> events;
    while (auto e = l.poll_event()) events.push_back(*e);
    // path_up{relay}, path_up{direct}, then the upper layer's event.
    ASSERT_EQ(events.size(), 3U);
    ASSERT_TRUE(std::holds_alternative<p2p::path_event>(events[0]));
    EXPECT_EQ(std::get<p2p::path_up>(std::get<p2p::path_event>(events[0])).kind, path_kind::relay);
    EXPECT_EQ(std::get<p2p::path_up>(std::get<p2p::path_event>(events[1])).kind, path_kind::direct);
    ASSERT_TRUE(std::holds_alternative<int>(events[2]));
    EXPECT_EQ(std::get<int>(events[2]), 7);

    // The path manager's keepalive (t0 + 1 s) is earlier than the upper timer.
    l.upper().timer = t0 + 5s;
    EXPECT_EQ(l.deadline(), t0 + 1s);
    l.handle_deadline(t0 + 1s);
    EXPECT_TRUE(l.upper().fired.empty());  // not due yet
    l.upper().timer = t0 + 500ms;
    EXPECT_EQ(l.deadline(), t0 + 500ms);
    l.handle_deadline(t0 + 1s);
    EXPECT_EQ(l.upper().fired.size(), 1U);
    // The keepalive PROBE went out first, to the direct address.
    std::array<std::byte, 1500> out{};
    const auto t = l.poll_datagram(out, t0 + 1s);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, direct);
    EXPECT_EQ(out[0], std::byte{0x02});
}

// ---- simulation: a reliable v3 pair over two links, behind EIM NATs, with a relay ----

using core_client = v3::basic_client<nc::null_observer, neutrino::seeded_random>;
using core_server = v3::basic_server<nc::null_observer, neutrino::seeded_random>;
using client_stack = nr::basic_client<core_client>;
using server_stack = nr::basic_server<core_server>;
using client_link = p2p::basic_link<client_stack, neutrino::seeded_random>;
using server_link = p2p::basic_link<server_stack, neutrino::seeded_random>;
static_assert(neutrino::datagram_layer<client_link>);
static_assert(neutrino::datagram_layer<server_link>);

nc::keypair server_keys() {
    return *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
}


// Message i of a stream: "<tag><i>:" padded to a size varying with i (up to ~1 KB).
std::string message(char tag, std::size_t i) {
    std::string m = tag + std::to_string(i) + ":";
    m.append((i * 137) % 1000, static_cast<char>('a' + i % 26));
    return m;
}

// One node: a link around a reliable stack, plus what the rest of a node would do on the same
// socket: a registration keepalive to the server every second (it holds the NAT mapping the
// relay answers through; the rendezvous client's job), and an application that offers
// message i of its stream from `first_send + i * period`, retrying what the reliable layer's
// send window refuses.
template <class Link>
class node {
public:
    using event_type = typename Link::event_type;

    template <class... Args>
    node(time_point start, char tag, std::size_t count, time_point first_send,
         std::chrono::milliseconds period, const p2p::path_config& cfg, std::uint64_t seed,
         Args&&... upper_args)
        : link(cfg, start, neutrino::seeded_random(seed), std::forward<Args>(upper_args)...),
          server_(cfg.server),
          tag_(tag),
          count_(count),
          first_send_(first_send),
          period_(period),
          next_register_(start) {}

    neutrino::result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                           time_point now) {
        return link.handle_datagram(in, from, now);
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        if (register_due_) {
            register_due_ = false;
            out[0] = std::byte{0x03};
            return neutrino::transmit{1, server_};
        }
        offer(now);
        return link.poll_datagram(out, now);
    }
    std::optional<event_type> poll_event() { return link.poll_event(); }
    [[nodiscard]] std::optional<time_point> deadline() const {
        std::optional<time_point> d = link.deadline();
        auto consider = [&d](time_point t) {
            if (!d || t < *d) d = t;
        };
        consider(next_register_);
        // While the send window is full the next offer waits for `writable` (or any traffic):
        // a release time in the past would be a deadline that never moves.
        if (established && !blocked && sent_ < count_) consider(release_time(sent_));
        return d;
    }
    void handle_deadline(time_point now) {
        link.handle_deadline(now);
        if (now >= next_register_) {
            register_due_ = true;
            next_register_ += 1s;
        }
        offer(now);
    }

    /// Sends to the session `session_id` (server side) or the server (client side).
    std::uint64_t session_id = 0;
    Link link;
    std::vector<std::string> data;  // messages received, in order
    std::size_t closed = 0;
    std::vector<std::pair<time_point, p2p::path_event>> path_log;
    bool established = false;  // set once the session is established
    bool blocked = false;      // the last send was refused (window full) until `writable`
    [[nodiscard]] std::size_t sent() const { return sent_; }

private:
    [[nodiscard]] time_point release_time(std::size_t i) const {
        return first_send_ + static_cast<std::int64_t>(i) * period_;
    }
    void offer(time_point now) {
        while (established && sent_ < count_ && release_time(sent_) <= now) {
            const std::string m = message(tag_, sent_);
            neutrino::result<void> r;
            if constexpr (std::is_same_v<Link, client_link>) {
                r = link.upper().send(nc::words(m), now);
            } else {
                r = link.upper().send(session_id, nc::words(m), now);
            }
            if (!r) {
                blocked = true;  // the send window is full: retried on `writable` or traffic
                return;
            }
            blocked = false;
            ++sent_;
        }
    }

    peer_address server_;
    char tag_;
    std::size_t count_;
    time_point first_send_;
    std::chrono::milliseconds period_;
    time_point next_register_;
    bool register_due_ = false;
    std::size_t sent_ = 0;
};

template <class E, class Node>
std::vector<std::pair<time_point, E>> logged(const Node& n) {
    std::vector<std::pair<time_point, E>> out;
    for (const auto& [t, e] : n.path_log) {
        if (const auto* x = std::get_if<E>(&e)) out.emplace_back(t, *x);
    }
    return out;
}

// Two nodes behind EIM + address-and-port-dependent-filtering NATs, a relay on the internet,
// a reliable v3 client on node A and server on node B, each inside a link.
struct scenario {
    static constexpr std::size_t client_messages = 2000;
    static constexpr std::size_t server_messages = 200;

    explicit scenario(std::uint64_t seed, bool direct_at_start)
        : start(time_point{} + 1h),
          net(net_config(seed, start)),
          site_a(net.add_nat(nat(peer_address::v4({203, 0, 113, 1}, 0), seed + 1))),
          site_b(net.add_nat(nat(peer_address::v4({198, 51, 100, 1}, 0), seed + 2))),
          relay_node(public_a, public_b, relay),
          a(start, 'c', client_messages, start + 1s, 5ms,
            path(client_id, server_id, direct_at_start ? std::optional(public_b) : std::nullopt),
            seed + 3, client_cfg(), nr::config{}, v3::client_options{}, nc::null_observer{},
            neutrino::seeded_random(seed + 4)),
          b(start, 's', server_messages, start + 1s, 50ms,
            path(server_id, client_id, direct_at_start ? std::optional(public_a) : std::nullopt),
            seed + 5, server_cfg(), nr::config{}, v3::server_options{}, nc::null_observer{},
            neutrino::seeded_random(seed + 6)) {}

    static ni::network_config net_config(std::uint64_t seed, time_point start) {
        ni::network_config c;
        c.internet.delay = 20ms;
        c.internet.drop = 0.01;  // some loss everywhere, from the seed
        c.seed = seed;
        c.start = start;
        return c;
    }
    static ni::nat_config nat(peer_address pub, std::uint64_t s) {
        ni::nat_config c;
        c.public_address = pub;
        c.mapping = ni::nat_mapping::endpoint_independent;
        c.filtering = ni::nat_filtering::address_and_port_dependent;
        c.seed = s;
        return c;
    }
    static p2p::path_config path(const p2p::node_id& self, const p2p::node_id& peer,
                                 std::optional<peer_address> other) {
        p2p::path_config c;
        c.self = self;
        c.peer = peer;
        c.attempt_id = attempt;
        c.key = test_key();
        c.server = server;
        c.relay_id = relay;
        c.direct = other;  // as a puncher validated it
        c.timers.keepalive = 500ms;
        c.timers.liveness = 1500ms;
        c.timers.reprobe = 1s;
        c.timers.switch_back_after = 2;
        return c;
    }
    static nc::client_config client_cfg() {
        nc::client_config c;
        c.server_key = server_keys().pk;
        c.server = p2p::peer_handle_of(server_id);  // the peer identity, not an address
        return c;
    }
    static nc::server_config server_cfg() {
        nc::server_config s;
        s.keys = server_keys();
        return s;
    }

    // Adds the nodes (with event logging) and starts the handshake.
    void start_nodes() {
        net.add_node(relay_node, server);
        net.add_node(a, peer_address::v4({10, 0, 1, 2}, 40000), site_a,
                     std::function<void(const client_link::event_type&)>(
                         [this](const client_link::event_type& e) { on_event(a, e); }));
        net.add_node(b, peer_address::v4({10, 0, 2, 2}, 40000), site_b,
                     std::function<void(const server_link::event_type&)>(
                         [this](const server_link::event_type& e) { on_event(b, e); }));
        ASSERT_TRUE(a.link.upper().connect(net.now()));
    }

    template <class Node, class Event>
    void on_event(Node& n, const Event& e) {
        if (const auto* p = std::get_if<p2p::path_event>(&e)) {
            n.path_log.emplace_back(net.now(), *p);
            return;
        }
        const nc::event& ev = std::get<0>(e);
        if (ev.kind == nc::event_kind::established) {
            n.established = true;
            if constexpr (std::is_same_v<Node, node<server_link>>) n.session_id = ev.session_id;
            EXPECT_EQ(ev.peer,
                      p2p::peer_handle_of(std::is_same_v<Node, node<server_link>> ? client_id
                                                                                  : server_id));
        }
        if (ev.kind == nc::event_kind::writable) n.blocked = false;
        if (ev.kind == nc::event_kind::data) n.data.emplace_back(nc::as_string(ev.words[0]));
        if (ev.kind == nc::event_kind::closed) ++n.closed;
    }

    [[nodiscard]] bool all_delivered() const {
        return b.data.size() >= client_messages && a.data.size() >= server_messages;
    }

    void expect_every_message_once_in_order() const {
        ASSERT_EQ(b.data.size(), client_messages);
        ASSERT_EQ(a.data.size(), server_messages);
        for (std::size_t i = 0; i < client_messages; ++i) {
            ASSERT_EQ(b.data[i], message('c', i)) << "client message " << i;
        }
        for (std::size_t i = 0; i < server_messages; ++i) {
            ASSERT_EQ(a.data[i], message('s', i)) << "server message " << i;
        }
        EXPECT_EQ(a.closed + b.closed, 0U);  // the reliable session survived
        EXPECT_TRUE(a.link.upper().established());
        EXPECT_EQ(a.link.stats().dropped_unroutable + b.link.stats().dropped_unroutable, 0U);
    }

    const peer_address public_a = peer_address::v4({203, 0, 113, 1}, 40000);
    const peer_address public_b = peer_address::v4({198, 51, 100, 1}, 40000);
    time_point start;
    ni::network net;
    ni::site_id site_a;
    ni::site_id site_b;
    test_relay relay_node;
    node<client_link> a;
    node<server_link> b;
};

TEST(p2p_link_network, a_reliable_session_survives_a_fallback_to_the_relay_and_back) {
    const auto seed = test_seed(190);
    const auto outage_from = 4s;
    const auto outage_to = 9s;
    scenario s(seed, true);
    // The direct path between the NATs goes black for [4 s, 9 s), both ways, while the client
    // streams (message i offered at 1 s + 5 ms i, the last at ~11 s); the relay stays up.
    ni::impairment_config black;
    black.delay = 20ms;
    black.drop = 0.01;
    black.blackholes = {ni::interval{outage_from, outage_to}};
    s.net.set_path(s.site_a, s.site_b, black);
    s.net.set_path(s.site_b, s.site_a, black);
    s.start_nodes();

    const bool done = s.net.run_until([&s] { return s.all_delivered(); }, 30s);
    const auto took = s.net.now() - s.start;
    ASSERT_TRUE(done) << s.b.data.size() << " of " << scenario::client_messages << " and "
                      << s.a.data.size() << " of " << scenario::server_messages;
    // Completion bound: the stream is offered until ~11 s; the outage costs at most liveness
    // (1.5 s) of loss, repaired over the relay: everything is in within 2 s of the last offer.
    EXPECT_LT(took, 13s);
    s.expect_every_message_once_in_order();
    EXPECT_GT(s.net.stats().dropped_on_path, 0U);  // the outage did bite
    EXPECT_GT(s.relay_node.forwarded, 0U);

    auto check = [&](const auto& n, const char* who) {
        SCOPED_TRACE(who);
        // One fallback within liveness of the outage, one switch back within two re-probe
        // rounds of its end; the peer's direct address never moved.
        const auto down = logged<p2p::path_down>(n);
        ASSERT_EQ(down.size(), 1U);
        EXPECT_GT(down[0].first, s.start + outage_from);
        EXPECT_LE(down[0].first, s.start + outage_from + 1500ms + 20ms);
        const auto switched = logged<p2p::path_switched>(n);
        ASSERT_EQ(switched.size(), 2U);
        EXPECT_EQ(switched[0].second.to, path_kind::relay);
        EXPECT_EQ(switched[1].second.to, path_kind::direct);
        EXPECT_GT(switched[1].first, s.start + outage_to);
        EXPECT_LE(switched[1].first, s.start + outage_to + 2s + 100ms);
        EXPECT_TRUE(logged<p2p::peer_address_changed>(n).empty());
        EXPECT_TRUE(n.link.paths().direct_is_current());
        const auto& ps = n.link.paths().stats();
        EXPECT_GT(ps.data_sent_relayed, 0U);
        EXPECT_GT(ps.data_received_relayed, 0U);
        EXPECT_GT(ps.data_received_direct, 0U);
        EXPECT_EQ(ps.dropped_unauthenticated, 0U);
        EXPECT_EQ(n.link.stats().dropped_unsendable, 0U);
        std::printf("%s: fell back at %.3f s, back to direct at %.3f s, %llu sent relayed\n", who,
                    std::chrono::duration<double>(down[0].first - s.start).count(),
                    std::chrono::duration<double>(switched[1].first - s.start).count(),
                    static_cast<unsigned long long>(ps.data_sent_relayed));
    };
    check(s.a, "client node");
    check(s.b, "server node");
    // The outage cost the client's reliable layer resends, which repaired it.
    EXPECT_GT(s.a.link.upper().stats().retransmitted + s.a.link.upper().stats().probes, 0U);
    std::printf("all %zu + %zu messages delivered at %.3f s\n", scenario::client_messages,
                scenario::server_messages, std::chrono::duration<double>(took).count());
}

TEST(p2p_link_network, relay_first_then_upgrade_with_use_direct) {
    const auto seed = test_seed(200);
    scenario s(seed, false);
    s.start_nodes();

    // Relay only: the handshake and the first messages go through the relay.
    s.net.run_for(3s);
    EXPECT_TRUE(s.a.link.upper().established());
    EXPECT_FALSE(s.a.link.paths().direct_is_current());
    EXPECT_FALSE(s.b.link.paths().direct_is_current());
    EXPECT_GT(s.b.data.size(), 0U);
    EXPECT_EQ(s.a.link.paths().stats().data_sent_direct, 0U);
    const auto relayed_before = s.relay_node.forwarded;
    EXPECT_GT(relayed_before, 0U);

    // A late punch validated the pair: both sides take it.
    const auto upgrade = s.net.now();
    s.a.link.paths().use_direct(s.public_b, upgrade);
    s.b.link.paths().use_direct(s.public_a, upgrade);

    const bool done = s.net.run_until([&s] { return s.all_delivered(); }, 30s);
    const auto took = s.net.now() - s.start;
    ASSERT_TRUE(done) << s.b.data.size() << " of " << scenario::client_messages << " and "
                      << s.a.data.size() << " of " << scenario::server_messages;
    // Offered until ~11 s, no outage: done within a second of the last offer.
    EXPECT_LT(took, 13s);
    s.expect_every_message_once_in_order();

    auto check = [&](const auto& n, const char* who) {
        SCOPED_TRACE(who);
        const auto switched = logged<p2p::path_switched>(n);
        ASSERT_EQ(switched.size(), 1U);
        EXPECT_EQ(switched[0].first, upgrade);
        EXPECT_EQ(switched[0].second.to, path_kind::direct);
        EXPECT_TRUE(logged<p2p::path_down>(n).empty());  // the upgraded path held
        EXPECT_TRUE(n.link.paths().direct_is_current());
        const auto& ps = n.link.paths().stats();
        EXPECT_GT(ps.data_received_relayed, 0U);
        EXPECT_GT(ps.data_received_direct, 0U);
    };
    check(s.a, "client node");
    check(s.b, "server node");
    // After the upgrade the relay carried at most what was in flight or queued at that instant.
    EXPECT_LT(s.relay_node.forwarded - relayed_before, 64U);
    std::printf("relay first: upgraded at %.3f s, all delivered at %.3f s, %llu relayed\n",
                std::chrono::duration<double>(upgrade - s.start).count(),
                std::chrono::duration<double>(took).count(),
                static_cast<unsigned long long>(s.relay_node.forwarded));
}

}  // namespace
