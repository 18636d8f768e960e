#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"

// The v3 client and server machines (spec: neutrino-v3.md §7–§13) over a small virtual
// network on virtual time: handshakes, loss and duplicates of every handshake message,
// cookies under load, a HELLO1 flood, refusals, replays and tampering, key updates, close,
// and path validation with the amplification limit.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "neutrino/core/crypto.hpp"

namespace nc = neutrino::core;
namespace v3 = neutrino::core::v3;
using neutrino::peer_address;
using neutrino::time_point;
using namespace std::chrono_literals;

namespace {

using client_t = v3::basic_client<nc::null_observer, neutrino::seeded_random>;
using server_t = v3::basic_server<nc::null_observer, neutrino::seeded_random>;
static_assert(neutrino::datagram_layer<client_t>);
static_assert(neutrino::datagram_layer<server_t>);

const peer_address client_addr = peer_address::v4({10, 0, 0, 1}, 40000);
const peer_address server_addr = peer_address::v4({10, 0, 0, 2}, 22753);

std::uint64_t seed() {
    static const std::uint64_t s = [] {
        const char* e = std::getenv("NEUTRINO_TEST_SEED");
        const std::uint64_t v = e != nullptr ? std::strtoull(e, nullptr, 10) : 7;
        std::printf("v3 machine tests: NEUTRINO_TEST_SEED=%llu\n", static_cast<unsigned long long>(v));
        return v;
    }();
    return s;
}

nc::keypair server_keys() { return *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex); }

nc::client_config client_cfg(nc::variant v = nc::variant::basic) {
    nc::client_config c;
    c.server_key = server_keys().pk;
    c.server = server_addr;
    c.variant = v;
    return c;
}
nc::server_config server_cfg(nc::variant v = nc::variant::basic) {
    nc::server_config s;
    s.keys = server_keys();
    s.variant = v;
    return s;
}

std::vector<std::string> strings(const nc::words_view& w) {
    std::vector<std::string> out;
    for (nc::word x : w) out.emplace_back(nc::as_string(x));
    return out;
}

/// What a test keeps of an event (events view the machine's buffers).
struct seen_event {
    nc::event_kind kind;
    std::uint64_t session_id;
    std::uint64_t pn;
    nc::packet_type type;
    std::vector<std::string> words;
    std::error_code reason;
    peer_address peer;
    peer_address old_peer;
};

/// One datagram in flight.
struct flight {
    time_point at;
    bool to_server;
    peer_address from;
    peer_address to;
    std::vector<std::byte> bytes;
};

std::uint8_t type_code(const flight& f) { return std::to_integer<std::uint8_t>(f.bytes[5]) & 0x7f; }

/// A client and a server on a virtual network. The client's datagrams reach the server from
/// `client_source` (a NAT mapping tests can change); the server's reach the client only when
/// addressed to the current `client_source`.
struct net {
    client_t client;
    server_t server;
    peer_address client_source = client_addr;
    time_point now{};
    std::chrono::milliseconds latency{1};
    std::deque<flight> wire;
    std::function<bool(flight&)> filter;  ///< false: lost
    std::vector<seen_event> client_events, server_events;
    std::map<std::uint8_t, std::vector<std::size_t>> sizes;  ///< per type code, sent sizes
    std::map<std::string, std::uint64_t> bytes_to;           ///< server → address key
    std::size_t misaddressed = 0;

    net(nc::client_config cc, v3::client_options co, nc::server_config sc, v3::server_options so, std::uint64_t s = seed())
        : client(std::move(cc), std::move(co), {}, neutrino::seeded_random(s)),
          server(std::move(sc), std::move(so), {}, neutrino::seeded_random(s + 1000)) {}
    explicit net(nc::variant v = nc::variant::basic)
        : net(client_cfg(v), {}, server_cfg(v), {}) {}

    static std::string key(const peer_address& a) {
        return std::to_string(a.bytes[3]) + ":" + std::to_string(a.port);
    }

    template <class L>
    void drain_events(L& l, std::vector<seen_event>& out) {
        while (auto e = l.poll_event()) {
            out.push_back({e->kind, e->session_id, e->packet_number, e->type, strings(e->words), e->reason, e->peer,
                           e->old_peer});
        }
    }

    void flush() {
        std::array<std::byte, 1280> buf;
        for (bool more = true; more;) {
            more = false;
            drain_events(client, client_events);
            drain_events(server, server_events);
            while (auto t = client.poll_datagram(buf, now)) {
                more = true;
                enqueue({now + latency, true, client_source, t->to, {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)}});
            }
            while (auto t = server.poll_datagram(buf, now)) {
                more = true;
                bytes_to[key(t->to)] += t->size;
                enqueue({now + latency, false, server_addr, t->to, {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)}});
            }
        }
    }

    void enqueue(flight f) {
        sizes[type_code(f)].push_back(f.bytes.size());
        if (filter && !filter(f)) return;
        auto pos = std::upper_bound(wire.begin(), wire.end(), f.at, [](time_point at, const flight& x) { return at < x.at; });
        wire.insert(pos, std::move(f));
    }

    /// Injects bytes as if they arrived now.
    neutrino::result<void> to_server(std::span<const std::byte> b, const peer_address& from) {
        auto r = server.handle_datagram(b, from, now);
        flush();
        return r;
    }

    bool step(time_point limit) {
        flush();
        std::optional<time_point> next;
        auto consider = [&next](std::optional<time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        if (!wire.empty()) consider(wire.front().at);
        consider(client.deadline());
        consider(server.deadline());
        if (!next || *next > limit) {
            now = std::max(now, limit);
            return false;
        }
        now = std::max(now, *next);
        while (!wire.empty() && wire.front().at <= now) {
            flight f = std::move(wire.front());
            wire.pop_front();
            if (f.to_server) {
                if (f.to == server_addr) (void)server.handle_datagram(f.bytes, f.from, now);
            } else if (f.to == client_source) {
                (void)client.handle_datagram(f.bytes, f.from, now);
            } else {
                ++misaddressed;
            }
            flush();
        }
        if (auto t = client.deadline(); t && *t <= now) client.handle_deadline(now);
        if (auto t = server.deadline(); t && *t <= now) server.handle_deadline(now);
        flush();
        return true;
    }

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds max) {
        const time_point limit = now + max;
        while (!done()) {
            if (!step(limit) && now >= limit) return done();
        }
        return true;
    }
    void run_for(std::chrono::milliseconds d) {
        const time_point limit = now + d;
        while (step(limit)) {
        }
    }

    bool both_established() {
        return client.established() && server.state_of(client.session_id()) == nc::session_state::established;
    }
    bool connect(std::chrono::milliseconds max = 10s) {
        if (!client.connect(now)) return false;
        return run_until([this] { return both_established(); }, max);
    }

    std::size_t count(const std::vector<seen_event>& ev, nc::event_kind k) const {
        return static_cast<std::size_t>(std::count_if(ev.begin(), ev.end(), [k](const seen_event& e) { return e.kind == k; }));
    }
    std::vector<std::vector<std::string>> data(const std::vector<seen_event>& ev) const {
        std::vector<std::vector<std::string>> out;
        for (const auto& e : ev) {
            if (e.kind == nc::event_kind::data) out.push_back(e.words);
        }
        return out;
    }
};

// --- handshake ------------------------------------------------------------------------------

TEST(V3Machine, NkHandshakeSizesAndData) {
    net n;
    ASSERT_TRUE(n.connect());
    // spec: neutrino-v3.md §3.2: HELLO1 1280, HELLO2 78, HELLO3 43
    EXPECT_EQ(n.sizes[0x01], std::vector<std::size_t>{1280});
    EXPECT_EQ(n.sizes[0x02], std::vector<std::size_t>{78});
    EXPECT_EQ(n.sizes[0x03], std::vector<std::size_t>{43});
    EXPECT_EQ(n.server.stats().dh_operations, 3U);  // es, keygen, ee
    EXPECT_EQ(n.client.stats().dh_operations, 3U);  // keygen, es, ee
    EXPECT_EQ(n.count(n.client_events, nc::event_kind::established), 1U);
    EXPECT_EQ(n.count(n.server_events, nc::event_kind::established), 1U);
    EXPECT_GE(n.client.session_id(), 64U);

    ASSERT_TRUE(n.client.send(nc::words("hello", "v3"), n.now));
    ASSERT_TRUE(n.server.send(n.client.session_id(), nc::words("back"), n.now));
    n.run_for(10ms);
    EXPECT_EQ(n.data(n.server_events), (std::vector<std::vector<std::string>>{{"hello", "v3"}}));
    EXPECT_EQ(n.data(n.client_events), (std::vector<std::vector<std::string>>{{"back"}}));

    // basic keep-alives keep the session up for a long idle time
    n.run_for(5000ms);
    EXPECT_TRUE(n.both_established());
}

TEST(V3Machine, IkHandshakeAuthenticatesTheClientKey) {
    nc::secret_key c;
    neutrino::seeded_random r(seed() + 5);
    r.fill(c.bytes());
    v3::client_options co;
    co.static_key = c;
    std::optional<nc::public_key> seen;
    v3::server_options so;
    so.require_client_key = true;
    so.accept_client_key = [&seen](const nc::public_key& k) {
        seen = k;
        return true;
    };
    net n(client_cfg(), co, server_cfg(), so);
    ASSERT_TRUE(n.connect());
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(*seen, nc::public_key_of(c));
    EXPECT_EQ(n.server.stats().dh_operations, 5U);  // es, ss, keygen, ee, se
    EXPECT_EQ(n.sizes[0x01], std::vector<std::size_t>{1280});
    ASSERT_TRUE(n.client.send(nc::words("ik"), n.now));
    n.run_for(10ms);
    EXPECT_EQ(n.data(n.server_events).size(), 1U);
}

}  // namespace
