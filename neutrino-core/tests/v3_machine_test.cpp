#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"

// The v3 client and server machines (spec: neutrino-v3.md §7–§13) over a small virtual
// network on virtual time: handshakes, loss and duplicates of every handshake message,
// cookies under load, a HELLO1 flood, refusals, replays and tampering, key updates, close,
// and path validation with the amplification limit.

#include <gtest/gtest.h>

#include "test_dialects.hpp"
#include "test_seed.hpp"

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
#include "neutrino/memory_link.hpp"

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
    static const std::uint64_t s = neutrino::test::env_seed_or(7, "v3 machine tests");
    return s;
}

nc::keypair server_keys() {
    return *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
}

nc::client_config client_cfg(nc::dialect v = nc::basic_dialect) {
    nc::client_config c;
    c.server_key = server_keys().pk;
    c.server = server_addr;
    c.dialect = v;
    return c;
}
nc::server_config server_cfg(nc::dialect v = nc::basic_dialect) {
    nc::server_config s;
    s.keys = server_keys();
    s.dialect = v;
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
    std::function<bool(flight&)> filter;           ///< false: lost
    std::function<bool(const flight&)> duplicate;  ///< true: delivered twice
    std::vector<seen_event> client_events, server_events;
    std::map<std::uint8_t, std::vector<std::size_t>> sizes;  ///< per type code, sent sizes
    std::map<std::string, std::uint64_t> bytes_to;           ///< server → address key
    std::size_t misaddressed = 0;

    net(nc::client_config cc, v3::client_options co, nc::server_config sc, v3::server_options so,
        std::uint64_t s = seed())
        : client(std::move(cc), std::move(co), {}, neutrino::seeded_random(s)),
          server(std::move(sc), std::move(so), {}, neutrino::seeded_random(s + 1000)) {}
    explicit net(nc::dialect v = nc::basic_dialect) : net(client_cfg(v), {}, server_cfg(v), {}) {}

    static std::string key(const peer_address& a) {
        return std::to_string(a.bytes[3]) + ":" + std::to_string(a.port);
    }

    template <class L>
    void drain_events(L& l, std::vector<seen_event>& out) {
        while (auto e = l.poll_event()) {
            out.push_back({e->kind, e->session_id, e->packet_number, e->type, strings(e->words),
                           e->reason, e->peer, e->old_peer});
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
                enqueue({now + latency,
                         true,
                         client_source,
                         t->to,
                         {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)}});
            }
            while (auto t = server.poll_datagram(buf, now)) {
                more = true;
                bytes_to[key(t->to)] += t->size;
                enqueue({now + latency,
                         false,
                         server_addr,
                         t->to,
                         {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)}});
            }
        }
    }

    void enqueue(flight f) {
        sizes[type_code(f)].push_back(f.bytes.size());
        if (filter && !filter(f)) return;
        if (duplicate && duplicate(f)) insert(f);
        insert(std::move(f));
    }
    void insert(flight f) {
        auto pos = std::upper_bound(wire.begin(), wire.end(), f.at,
                                    [](time_point at, const flight& x) { return at < x.at; });
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
        return client.established() &&
               server.state_of(client.session_id()) == nc::session_state::established;
    }
    bool connect(std::chrono::milliseconds max = 10s) {
        if (!client.connect(now)) return false;
        return run_until([this] { return both_established(); }, max);
    }

    std::size_t count(const std::vector<seen_event>& ev, nc::event_kind k) const {
        return static_cast<std::size_t>(
            std::count_if(ev.begin(), ev.end(), [k](const seen_event& e) { return e.kind == k; }));
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

// --- handshake loss and retransmission (§7.9) -----------------------------------------------

bool is(const flight& f, std::uint8_t code, bool to_server) {
    return f.to_server == to_server && type_code(f) == code;
}

TEST(V3Machine, Hello1LossIsRepairedByRetransmission) {
    net n;
    int dropped = 0;
    n.filter = [&dropped](flight& f) { return !(is(f, 0x01, true) && dropped++ < 2); };
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.client.stats().hello1_sent, 3U);
    // 250 ms, then 500 ms more: the third copy leaves at 750 ms
    EXPECT_GE(n.now - time_point{}, 750ms);
    EXPECT_LT(n.now - time_point{}, 800ms);
    EXPECT_EQ(n.server.stats().dh_operations, 3U);
}

TEST(V3Machine, Hello2LossIsAnsweredFromThePendingSessionWithoutASecondDh) {
    net n;
    int dropped = 0;
    n.filter = [&dropped](flight& f) { return !(is(f, 0x02, false) && dropped++ < 1); };
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.client.stats().hello1_sent, 2U);
    EXPECT_EQ(n.server.stats().hello2_resent, 1U);
    EXPECT_EQ(n.server.stats().handshakes_read, 1U);
    EXPECT_EQ(n.server.stats().dh_operations, 3U);  // one handshake's worth
    EXPECT_EQ(n.server.session_count(), 1U);
    EXPECT_EQ(n.sizes[0x02], (std::vector<std::size_t>{78, 78}));
}

TEST(V3Machine, DuplicatedHello1CostsOneDh) {
    net n;
    n.duplicate = [](const flight& f) { return is(f, 0x01, true); };
    ASSERT_TRUE(n.connect());
    n.run_for(20ms);
    EXPECT_EQ(n.server.stats().handshakes_read, 1U);
    EXPECT_EQ(n.server.stats().dh_operations, 3U);
    EXPECT_EQ(n.server.stats().hello2_resent, 1U);
    EXPECT_EQ(n.server.session_count(), 1U);
    // the second HELLO2 reaches an established client: dropped (§7.9 "late HELLO2")
    EXPECT_EQ(n.client.stats().dropped(nc::errc::unexpected_packet), 1U);
    EXPECT_TRUE(n.both_established());
}

TEST(V3Machine, Hello3LossIsRepairedByTheNextPacket) {
    net n;
    n.filter = [](flight& f) { return !is(f, 0x03, true); };
    ASSERT_TRUE(n.client.connect(n.now));
    ASSERT_TRUE(n.run_until([&] { return n.client.established(); }, 1s));
    n.run_for(5ms);
    EXPECT_EQ(n.server.state_of(n.client.session_id()), nc::session_state::pending);
    ASSERT_TRUE(n.client.send(nc::words("first"), n.now));  // pn 2 confirms (§7.7)
    n.run_for(5ms);
    EXPECT_EQ(n.server.state_of(n.client.session_id()), nc::session_state::established);
    ASSERT_EQ(n.data(n.server_events), (std::vector<std::vector<std::string>>{{"first"}}));
    EXPECT_EQ(n.server_events.front().kind, nc::event_kind::established);
}

TEST(V3Machine, Hello3LossIsRepairedByTheKeepAliveWithoutData) {
    net n;
    n.filter = [](flight& f) { return !is(f, 0x03, true); };
    ASSERT_TRUE(n.client.connect(n.now));
    ASSERT_TRUE(n.run_until([&] { return n.client.established(); }, 1s));
    const auto at = n.now;
    ASSERT_TRUE(n.run_until([&] { return n.both_established(); }, 2s));
    EXPECT_LE(n.now - at, 500ms);  // the 475 ms keep-alive rule
}

TEST(V3Machine, AllHello1LostFailsAfterFourCopiesThenRetriesWithAFreshKey) {
    net n;
    std::vector<std::vector<std::byte>> hellos;
    n.filter = [&hellos](flight& f) {
        if (is(f, 0x01, true)) {
            hellos.push_back(f.bytes);
            return false;
        }
        return true;
    };
    ASSERT_TRUE(n.client.connect(n.now));
    ASSERT_TRUE(
        n.run_until([&] { return n.count(n.client_events, nc::event_kind::closed) == 1; }, 10s));
    // 0, 250, 750, 1750; failure 2000 ms after the last
    EXPECT_EQ(n.now - time_point{}, 3750ms);
    ASSERT_EQ(hellos.size(), 4U);
    for (const auto& h : hellos) EXPECT_EQ(h, hellos[0]);
    EXPECT_EQ(n.client_events.back().reason, nc::make_error_code(nc::errc::timed_out));
    ASSERT_TRUE(n.run_until([&] { return hellos.size() == 5; }, 10s));
    EXPECT_EQ(n.now - time_point{}, 6750ms);  // CLIENT_REATTEMPT
    EXPECT_NE(hellos[4], hellos[0]);          // a fresh ephemeral key
    EXPECT_EQ(n.server.stats().dh_operations, 0U);
}

// --- cookies (§8) ---------------------------------------------------------------------------

TEST(V3Machine, CookieFlowUnderForcedLoadAndSecretRotation) {
    net n;
    n.server.set_under_load(true);
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.sizes[0x07], std::vector<std::size_t>{70});
    EXPECT_EQ(n.sizes[0x01], (std::vector<std::size_t>{1280, 1280}));
    EXPECT_EQ(n.server.stats().cookie_replies_sent, 1U);
    EXPECT_EQ(n.client.stats().cookies_received, 1U);
    EXPECT_EQ(n.server.stats().handshakes_read, 1U);  // the cookie-less HELLO1 cost no DH
    EXPECT_EQ(n.server.stats().dh_operations, 3U);
    EXPECT_EQ(n.server.stats().dropped(nc::errc::rate_limited), 1U);

    // The cookie arrived at 2 ms, made under the secret created at 1 ms. A HELLO1 sent at
    // 120.001 s reaches the server at 120.002 s: the secret rotates first, and the cookie
    // (fresh for the client until 120.002 s) still passes under the previous secret.
    n.client.close(n.now);
    n.run_for(100ms);
    ASSERT_EQ(n.server.session_count(), 0U);
    n.run_for(120001ms -
              std::chrono::duration_cast<std::chrono::milliseconds>(n.now - time_point{}));
    ASSERT_EQ(n.now - time_point{}, 120001ms);
    ASSERT_TRUE(n.client.has_cookie(n.now));
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.server.stats().cookie_rotations, 1U);
    EXPECT_EQ(n.server.stats().cookie_replies_sent, 1U);  // no new round trip

    // Much later the client's cookie has expired: one more COOKIE_REPLY.
    n.client.close(n.now);
    n.run_for(250s);
    EXPECT_FALSE(n.client.has_cookie(n.now));
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.server.stats().cookie_replies_sent, 2U);
    EXPECT_EQ(n.server.stats().cookie_rotations, 2U);
}

TEST(V3Machine, ForgedHello1FloodAtALoadedServerCostsNoDh) {
    net n;
    ASSERT_TRUE(n.connect());
    const std::uint64_t id = n.client.session_id();
    n.server.set_under_load(true);
    const auto dh = n.server.stats().dh_operations;
    const auto reads = n.server.stats().handshakes_read;

    // A HELLO1 with a valid mac1 (the attacker knows the server's public key) ...
    std::array<std::byte, 1280> valid{};
    {
        nc::secret_key e;
        neutrino::seeded_random r(seed() + 77);
        r.fill(e.bytes());
        auto hs = v3::client_handshake::write_hello1(valid, server_keys().pk,
                                                     v3::derive_mac1_key(server_keys().pk), e,
                                                     nullptr, v3::offer{});
        ASSERT_TRUE(hs);
    }
    neutrino::seeded_random junk(seed() + 78);
    std::array<std::byte, 1280> d{};
    std::array<std::byte, 1280> out{};
    std::size_t replies = 0;
    constexpr std::size_t flood = 100000;
    for (std::size_t i = 0; i < flood; ++i) {
        const peer_address from = peer_address::v4(
            {172, 16, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
            static_cast<std::uint16_t>(1024 + i % 50000));
        if (i % 3 == 0) {
            d = valid;  // valid mac1, no mac2
        } else if (i % 3 == 1) {
            d = valid;  // valid mac1, forged mac2
            junk.fill(std::span(d).subspan(1264, 16));
        } else {
            junk.fill(d);  // forged mac1 behind a valid header
            std::copy_n(valid.begin(), 16, d.begin());
        }
        EXPECT_FALSE(n.server.handle_datagram(d, from, n.now));
        while (auto t = n.server.poll_datagram(out, n.now)) {
            ++replies;
            EXPECT_EQ(t->size, 70U);  // COOKIE_REPLY only, never more than 70 bytes per 1280
        }
    }
    EXPECT_EQ(n.server.stats().dh_operations, dh);
    EXPECT_EQ(n.server.stats().handshakes_read, reads);
    EXPECT_EQ(n.server.session_count(), 1U);
    EXPECT_EQ(n.server.stats().dropped(nc::errc::bad_hello), flood / 3);  // mac1
    EXPECT_LE(replies, 10000U);  // the global COOKIE_REPLY rate limit (one virtual second)
    EXPECT_EQ(replies, n.server.stats().cookie_replies_sent);
    std::printf("flood of %zu HELLO1s: %llu DH operations, %zu COOKIE_REPLYs\n", flood,
                static_cast<unsigned long long>(n.server.stats().dh_operations - dh), replies);
    // The established session is untouched.
    EXPECT_EQ(n.server.state_of(id), nc::session_state::established);
    ASSERT_TRUE(n.client.send(nc::words("still", "here"), n.now));
    ASSERT_TRUE(n.server.send(id, nc::words("yes"), n.now));
    n.run_for(10ms);
    EXPECT_EQ(n.data(n.server_events), (std::vector<std::vector<std::string>>{{"still", "here"}}));
    EXPECT_EQ(n.data(n.client_events), (std::vector<std::vector<std::string>>{{"yes"}}));
    EXPECT_EQ(n.client.session_id(), id);
}

// --- refusals (§9) --------------------------------------------------------------------------

TEST(V3Machine, VariantMismatchIsRefusedWithStatus2AndNoRedial) {
    net n(client_cfg(nc::basic_dialect), {}, server_cfg(neutrino::test::layered_dialect), {});
    ASSERT_TRUE(n.client.connect(n.now));
    n.run_for(100ms);
    ASSERT_EQ(n.client.refusal(), v3::hello2_status::no_common_variant);
    EXPECT_EQ(n.client.state(), nc::session_state::closed);
    EXPECT_EQ(n.client_events.back().kind, nc::event_kind::closed);
    EXPECT_EQ(n.client_events.back().reason, nc::make_error_code(nc::errc::refused));
    EXPECT_FALSE(n.client.deadline().has_value());  // configuration error: no redial
    EXPECT_EQ(n.server.session_count(), 0U);
    EXPECT_EQ(n.sizes[0x02], std::vector<std::size_t>{78});
    n.run_for(10s);
    EXPECT_EQ(n.client.stats().hello1_sent, 1U);
}

TEST(V3Machine, ClientAuthenticationRequiredIsStatus3) {
    v3::server_options so;
    so.require_client_key = true;
    net n(client_cfg(), {}, server_cfg(), so);
    ASSERT_TRUE(n.client.connect(n.now));
    n.run_for(100ms);
    EXPECT_EQ(n.client.refusal(), v3::hello2_status::client_auth_required);
    EXPECT_EQ(n.server.session_count(), 0U);
}

TEST(V3Machine, ApplicationRefusalIsStatus1AndTheClientRedials) {
    v3::client_options co;
    co.static_key.emplace();
    neutrino::seeded_random(seed() + 9).fill(co.static_key->bytes());
    v3::server_options so;
    int asked = 0;
    so.accept_client_key = [&asked](const nc::public_key&) { return ++asked > 1; };
    net n(client_cfg(), co, server_cfg(), so);
    ASSERT_TRUE(n.client.connect(n.now));
    n.run_for(100ms);
    EXPECT_EQ(n.client.refusal(), v3::hello2_status::refused);
    ASSERT_TRUE(n.client.deadline().has_value());
    ASSERT_TRUE(n.run_until([&] { return n.both_established(); }, 5s));
    EXPECT_EQ(asked, 2);
}

TEST(V3Machine, BadOfferIsStatus4WithoutASession) {
    net n;
    std::array<std::byte, 1280> h{};
    nc::secret_key e;
    neutrino::seeded_random(seed() + 10).fill(e.bytes());
    v3::offer bad;
    bad.variants_mask = 0x08;  // no such variant
    auto hs = v3::client_handshake::write_hello1(
        h, server_keys().pk, v3::derive_mac1_key(server_keys().pk), e, nullptr, bad);
    ASSERT_TRUE(hs);
    ASSERT_TRUE(n.server.handle_datagram(h, client_addr, n.now));
    std::array<std::byte, 1280> out{};
    auto t = n.server.poll_datagram(out, n.now);
    ASSERT_TRUE(t);
    ASSERT_EQ(t->size, 78U);
    auto a = hs->read_hello2(std::span<const std::byte>(out.data(), t->size));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, v3::hello2_status::bad_offer);
    EXPECT_EQ(a->session_id, v3::session_id_none);
    EXPECT_EQ(n.server.session_count(), 0U);
}

// --- replays and tampering (§7.4 step 4, §10.3, §10.5) ---------------------------------------

TEST(V3Machine, ReplayedHello1AfterEstablishmentIsDropped) {
    net n;
    std::vector<std::byte> hello1;
    n.filter = [&hello1](flight& f) {
        if (is(f, 0x01, true)) hello1 = f.bytes;
        return true;
    };
    ASSERT_TRUE(n.connect());
    const auto dh = n.server.stats().dh_operations;
    EXPECT_EQ(n.to_server(hello1, client_addr).error(), nc::make_error_code(nc::errc::replayed));
    EXPECT_EQ(n.to_server(hello1, peer_address::v4({192, 0, 2, 1}, 999)).error(),
              nc::make_error_code(nc::errc::replayed));
    EXPECT_EQ(n.server.stats().dh_operations, dh);
    EXPECT_EQ(n.server.session_count(), 1U);
    EXPECT_EQ(n.sizes[0x02].size(), 1U);
    EXPECT_TRUE(n.both_established());
}

TEST(V3Machine, TamperedAndReplayedTransportPacketsAreDroppedWithoutStateChange) {
    net n;
    std::vector<std::byte> data, back, fresh;
    bool hold = false;
    n.filter = [&](flight& f) {
        if (is(f, 0x47, true) && data.empty()) data = f.bytes;
        if (is(f, 0x47, false) && back.empty()) back = f.bytes;
        if (hold && is(f, 0x47, true)) {
            fresh = f.bytes;  // held back: the tests below forge copies of it first
            return false;
        }
        return true;
    };
    ASSERT_TRUE(n.connect());
    ASSERT_TRUE(n.client.send(nc::words("once"), n.now));
    ASSERT_TRUE(n.server.send(n.client.session_id(), nc::words("back"), n.now));
    n.run_for(10ms);
    ASSERT_EQ(n.data(n.server_events).size(), 1U);
    ASSERT_FALSE(data.empty());
    hold = true;
    ASSERT_TRUE(n.client.send(nc::words("twice"), n.now));
    n.flush();
    hold = false;
    ASSERT_FALSE(fresh.empty());
    const auto accepted = n.server.stats().packets_accepted;

    using nc::errc;
    auto expect_drop = [&](const std::vector<std::byte>& d, errc why) {
        auto r = n.to_server(d, client_addr);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), nc::make_error_code(why));
    };
    expect_drop(data, errc::replayed);  // §10.3
    auto t = fresh;
    t.back() ^= std::byte{1};  // tag
    expect_drop(t, errc::decryption_failed);
    t = fresh;
    t[5] = std::byte{0x05};  // DATA retyped into CLIENT_GOOD_BYE (§13)
    expect_drop(t, errc::decryption_failed);
    t = fresh;
    t[14] = static_cast<std::byte>(std::to_integer<unsigned>(t[14]) + 100U);  // pn (AD)
    expect_drop(t, errc::decryption_failed);
    t = fresh;
    t[5] ^= std::byte{0x80};  // key phase
    expect_drop(t, errc::decryption_failed);
    t = fresh;
    t[30] ^= std::byte{0x40};  // ciphertext
    expect_drop(t, errc::decryption_failed);
    t = fresh;
    t[6] ^= std::byte{0x01};  // session id
    expect_drop(t, errc::unknown_session);
    t = fresh;
    for (std::size_t i = 14; i < 22; ++i) t[i] = std::byte{0};  // pn 0 is never sent
    expect_drop(t, errc::bad_shape);
    t = fresh;
    t.resize(42);  // below the minimum transport size
    expect_drop(t, errc::datagram_too_short);

    EXPECT_EQ(n.server.stats().failed_auth, 5U);
    EXPECT_EQ(n.server.stats().dropped(errc::replayed), 1U);
    EXPECT_EQ(n.server.stats().packets_accepted, accepted);
    EXPECT_EQ(n.server.phases_of(n.client.session_id()),
              (std::pair<std::uint64_t, std::uint64_t>{0, 0}));
    EXPECT_EQ(n.data(n.server_events).size(), 1U);
    // none of the forgeries moved the window (§10.3: updated only after authentication): the
    // genuine packet, delayed, is still accepted
    ASSERT_TRUE(n.to_server(fresh, client_addr));
    EXPECT_EQ(n.data(n.server_events),
              (std::vector<std::vector<std::string>>{{"once"}, {"twice"}}));
    // the client side too: a replayed server packet, and one from elsewhere
    ASSERT_FALSE(back.empty());
    EXPECT_EQ(n.client.handle_datagram(back, server_addr, n.now).error(),
              nc::make_error_code(errc::replayed));
    EXPECT_EQ(n.client.handle_datagram(back, client_addr, n.now).error(),
              nc::make_error_code(errc::wrong_peer));
    // and the session carries on
    ASSERT_TRUE(n.client.send(nc::words("thrice"), n.now));
    n.run_for(10ms);
    EXPECT_EQ(n.data(n.server_events).size(), 3U);
    EXPECT_TRUE(n.both_established());
}

// --- key update (§11) -----------------------------------------------------------------------

// The client sends, then (after it arrived) the server answers.
void trade(net& n, const std::string& tag) {
    ASSERT_TRUE(n.client.send(nc::words("c" + tag), n.now));
    n.run_for(10ms);
    ASSERT_TRUE(n.server.send(n.client.session_id(), nc::words("s" + tag), n.now));
    n.run_for(10ms);
    ASSERT_FALSE(n.data(n.server_events).empty());
    EXPECT_EQ(n.data(n.server_events).back(), std::vector<std::string>{"c" + tag});
    EXPECT_EQ(n.data(n.client_events).back(), std::vector<std::string>{"s" + tag});
}

TEST(V3Machine, KeyUpdateInitiatedByTheClient) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    trade(n, "0");
    ASSERT_TRUE(n.client.update_keys(n.now));
    EXPECT_EQ(n.client.send_phase(), 1U);
    EXPECT_EQ(n.client.receive_phase(), 0U);
    // §11.2 condition 1: not again before the server followed
    EXPECT_EQ(n.client.update_keys(n.now).error(), nc::make_error_code(nc::errc::would_block));
    trade(n, "1");
    EXPECT_EQ(n.server.phases_of(id), (std::pair<std::uint64_t, std::uint64_t>{1, 1}));
    EXPECT_EQ(n.client.receive_phase(), 1U);
    EXPECT_EQ(n.server.stats().key_updates_followed, 1U);
    ASSERT_TRUE(n.client.update_keys(n.now));
    trade(n, "2");
    EXPECT_EQ(n.server.phases_of(id), (std::pair<std::uint64_t, std::uint64_t>{2, 2}));
    EXPECT_EQ(n.server.stats().failed_auth + n.client.stats().failed_auth, 0U);
}

TEST(V3Machine, KeyUpdateInitiatedByTheServer) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    ASSERT_TRUE(n.server.update_keys(id, n.now));
    EXPECT_EQ(n.server.update_keys(id, n.now).error(), nc::make_error_code(nc::errc::would_block));
    trade(n, "1");  // the client's packet still in phase 0, the server's in phase 1
    EXPECT_EQ(n.client.send_phase(), 1U);
    EXPECT_EQ(n.client.receive_phase(), 1U);
    EXPECT_EQ(n.server.phases_of(id), (std::pair<std::uint64_t, std::uint64_t>{1, 0}));
    trade(n, "2");  // the client followed: its packet completes the switch
    EXPECT_EQ(n.server.phases_of(id), (std::pair<std::uint64_t, std::uint64_t>{1, 1}));
    EXPECT_EQ(n.client.stats().key_updates_followed, 1U);
}

TEST(V3Machine, KeyUpdateByBothSidesAtOnce) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    for (int round = 1; round <= 3; ++round) {
        ASSERT_TRUE(n.client.update_keys(n.now));
        ASSERT_TRUE(n.server.update_keys(id, n.now));
        trade(n, std::to_string(round));
        const auto p = static_cast<std::uint64_t>(round);
        EXPECT_EQ(n.server.phases_of(id), (std::pair<std::uint64_t, std::uint64_t>{p, p}));
        EXPECT_EQ(n.client.send_phase(), p);
        EXPECT_EQ(n.client.receive_phase(), p);
    }
    EXPECT_EQ(n.server.stats().key_updates_followed + n.client.stats().key_updates_followed, 0U);
    EXPECT_EQ(n.server.stats().failed_auth + n.client.stats().failed_auth, 0U);
}

TEST(V3Machine, PacketDelayedAcrossTheSwitchOpensWithThePreviousKey) {
    net n;
    ASSERT_TRUE(n.connect());
    bool delay = true;
    n.filter = [&delay](flight& f) {
        if (delay && is(f, 0x47, true)) {
            f.at += 50ms;
            delay = false;
        }
        return true;
    };
    ASSERT_TRUE(n.client.send(nc::words("old phase"), n.now));
    ASSERT_TRUE(n.client.update_keys(n.now));
    ASSERT_TRUE(n.client.send(nc::words("new phase"), n.now));
    n.run_for(100ms);
    EXPECT_EQ(n.data(n.server_events),
              (std::vector<std::vector<std::string>>{{"new phase"}, {"old phase"}}));
    EXPECT_EQ(n.server.phases_of(n.client.session_id()).second, 1U);
    EXPECT_EQ(n.server.stats().failed_auth, 0U);  // rx_next failed, rx_prev opened it
}

TEST(V3Machine, AutomaticKeyUpdateAfterTimeNotBeforeTheMinimumInterval) {
    v3::client_options co;
    co.key_update.after_time = 30s;
    net n(client_cfg(), co, server_cfg(), {});
    ASSERT_TRUE(n.connect());
    n.run_for(29s);
    EXPECT_EQ(n.client.send_phase(), 0U);
    n.run_for(2s);  // keep-alives carry on every 475 ms
    EXPECT_EQ(n.client.send_phase(), 1U);
    EXPECT_EQ(n.server.phases_of(n.client.session_id()),
              (std::pair<std::uint64_t, std::uint64_t>{1, 1}));
    EXPECT_TRUE(n.both_established());
}

// --- close (§13) ----------------------------------------------------------------------------

TEST(V3Machine, AuthenticatedClientGoodBye) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    n.client.close(n.now);
    n.run_for(10ms);
    EXPECT_EQ(n.sizes[0x05], (std::vector<std::size_t>{43, 43}));  // good_bye_copies: 2
    EXPECT_EQ(n.server.session_count(), 0U);
    ASSERT_EQ(n.server_events.back().kind, nc::event_kind::closed);
    EXPECT_EQ(n.server_events.back().session_id, id);
    EXPECT_EQ(n.server_events.back().reason, nc::make_error_code(nc::errc::closed));
    EXPECT_EQ(n.client.state(), nc::session_state::closed);
}

TEST(V3Machine, ServerShutdownDrainsTheClient) {
    net n;
    ASSERT_TRUE(n.connect());
    n.server.shutdown(n.now);
    n.run_for(10ms);
    EXPECT_EQ(n.sizes[0x06], std::vector<std::size_t>{43});
    EXPECT_EQ(n.client.state(), nc::session_state::draining);
    EXPECT_EQ(n.count(n.client_events, nc::event_kind::server_shutdown), 1U);
    const auto at = n.now;
    ASSERT_TRUE(n.run_until([&] { return n.client.state() == nc::session_state::closed; }, 5s));
    EXPECT_GE(n.now - at, 1900ms);
    EXPECT_EQ(n.client_events.back().reason, nc::make_error_code(nc::errc::draining));
}

// --- path validation (§12) -------------------------------------------------------------------

TEST(V3Machine, NatRebindingIsValidatedBeforeTheSessionMoves) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    const peer_address moved = peer_address::v4({10, 0, 0, 9}, 50000);
    n.client_source = moved;
    ASSERT_TRUE(n.client.send(nc::words("from", "elsewhere"), n.now));
    n.step(n.now + 1s);  // the DATA arrives: delivered, challenge to the new address
    EXPECT_EQ(n.data(n.server_events).size(), 1U);
    EXPECT_EQ(n.server.peer_of(id), client_addr);
    EXPECT_EQ(n.server.candidate_of(id), moved);
    n.run_for(10ms);
    EXPECT_EQ(n.server.stats().path_challenges_sent, 1U);
    EXPECT_EQ(n.client.stats().path_responses_sent, 1U);
    EXPECT_EQ(n.server.stats().path_validations, 1U);
    EXPECT_EQ(n.server.peer_of(id), moved);
    ASSERT_EQ(n.count(n.server_events, nc::event_kind::address_changed), 1U);
    const auto& e = *std::find_if(
        n.server_events.begin(), n.server_events.end(),
        [](const seen_event& x) { return x.kind == nc::event_kind::address_changed; });
    EXPECT_EQ(e.peer, moved);
    EXPECT_EQ(e.old_peer, client_addr);
    ASSERT_TRUE(n.server.send(id, nc::words("to", "the", "new", "place"), n.now));
    n.run_for(10ms);
    EXPECT_EQ(n.data(n.client_events),
              (std::vector<std::vector<std::string>>{{"to", "the", "new", "place"}}));
}

TEST(V3Machine, PathChallengesKeepToThreeTimesTheBytesReceived) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    const peer_address moved = peer_address::v4({10, 0, 0, 9}, 50000);
    n.client_source = moved;
    int from_moved = 0;
    n.filter = [&from_moved](flight& f) {
        return !f.to_server || from_moved++ < 1;
    };                                      // one packet only
    ASSERT_TRUE(n.client.send({}, n.now));  // 43 bytes
    n.run_for(1200ms);  // the candidate lives 1 s; the session (silent client) 1.5 s
    const auto received = 43U;
    EXPECT_EQ(n.sizes[0x47].back(), received);
    EXPECT_EQ(n.server.stats().path_challenges_sent, 2U);  // 53 + 53 ≤ 129; a third would not fit
    EXPECT_EQ(n.server.stats().amplification_blocked, 1U);
    EXPECT_LE(n.bytes_to[net::key(moved)], 3U * received);
    EXPECT_EQ(n.server.peer_of(id), client_addr);  // never validated
    EXPECT_FALSE(n.server.candidate_of(id));       // dropped after 1 s
}

TEST(V3Machine, ReplayFromAnotherAddressCreatesNoCandidateAndANewerPacketCancelsOne) {
    net n;
    std::vector<std::byte> captured;
    bool hold = false;
    n.filter = [&](flight& f) {
        if (is(f, 0x47, true)) {
            captured = f.bytes;
            if (hold) return false;  // the attacker races it; the original is late
        }
        return true;
    };
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    const peer_address attacker = peer_address::v4({198, 51, 100, 7}, 4444);
    ASSERT_TRUE(n.client.send(nc::words("a"), n.now));
    n.run_for(10ms);
    // a replay from elsewhere fails the window: no candidate
    EXPECT_EQ(n.to_server(captured, attacker).error(), nc::make_error_code(nc::errc::replayed));
    EXPECT_FALSE(n.server.candidate_of(id));
    // an on-path race: a fresh packet's copy from the attacker first
    hold = true;
    ASSERT_TRUE(n.client.send(nc::words("b"), n.now));
    n.flush();
    hold = false;
    ASSERT_TRUE(n.to_server(captured, attacker));
    EXPECT_EQ(n.server.candidate_of(id), attacker);
    EXPECT_EQ(n.server.peer_of(id), client_addr);
    // the real client's next packet from the validated address cancels the candidate
    ASSERT_TRUE(n.client.send(nc::words("c"), n.now));
    n.run_for(10ms);
    EXPECT_FALSE(n.server.candidate_of(id));
    EXPECT_EQ(n.server.peer_of(id), client_addr);
    EXPECT_EQ(n.data(n.server_events),
              (std::vector<std::vector<std::string>>{{"a"}, {"b"}, {"c"}}));
}

// --- over the core's memory link --------------------------------------------------------------

TEST(V3Machine, NkAndIkOverTheMemoryLink) {
    for (bool ik : {false, true}) {
        v3::client_options co;
        if (ik) {
            co.static_key.emplace();
            neutrino::seeded_random(seed() + 21).fill(co.static_key->bytes());
        }
        client_t c(client_cfg(), co, {}, neutrino::seeded_random(seed() + 22));
        server_t s(server_cfg(), {}, {}, neutrino::seeded_random(seed() + 23));
        neutrino::memory_link<client_t, server_t> link(c, client_addr, s, server_addr);
        std::vector<std::vector<std::string>> got;
        link.on_b_event = [&got](const nc::event& e) {
            if (e.kind == nc::event_kind::data) got.push_back(strings(e.words));
        };
        ASSERT_TRUE(c.connect(link.now()));
        ASSERT_TRUE(link.run_until(
            [&] {
                return c.established() &&
                       s.state_of(c.session_id()) == nc::session_state::established;
            },
            5s))
            << (ik ? "IK" : "NK");
        ASSERT_TRUE(c.send(nc::words(ik ? "ik" : "nk"), link.now()));
        link.run_for(10ms);
        EXPECT_EQ(got, (std::vector<std::vector<std::string>>{{ik ? "ik" : "nk"}}));
        EXPECT_EQ(s.stats().dh_operations, ik ? 5U : 3U);
        EXPECT_EQ(link.misaddressed, 0U);
    }
}

// --- load by handshake rate (§8.3) ------------------------------------------------------------

TEST(V3Machine, HandshakeRateTurnsOnCookies) {
    v3::server_options so;
    so.load_handshakes_per_second = 1;
    net n(client_cfg(), {}, server_cfg(), so);
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.server.stats().cookie_replies_sent, 0U);
    n.client.close(n.now);
    n.run_for(10ms);
    ASSERT_TRUE(n.connect());  // within the same second: one handshake already counted
    EXPECT_EQ(n.server.stats().cookie_replies_sent, 1U);
    n.client.close(n.now);
    n.run_for(2s);
    EXPECT_FALSE(n.server.under_load(n.now));
}

// --- never two plaintexts under one (key, pn) (§10.1, §17.3 item 8) ----------------------------

TEST(V3Machine, ResealRepeatsTheOriginalPlaintextAndResendFollowsTheKeyPhase) {
    net n(neutrino::test::layered_dialect);
    std::vector<std::vector<std::byte>> held;
    bool hold = false;
    n.filter = [&](flight& f) {
        if (hold && f.to_server) {
            held.push_back(f.bytes);
            return false;
        }
        return true;
    };
    ASSERT_TRUE(n.connect());
    hold = true;
    std::array<std::byte, 8> a{}, b{};
    b[0] = std::byte{1};
    const std::array<nc::word, 2> first{nc::word(a), nc::word(a)}, other{nc::word(b), nc::word(b)};
    auto ka = n.client.send_packet(nc::packet_type::keep_alive, first, n.now);
    ASSERT_TRUE(ka);
    n.flush();
    ASSERT_TRUE(n.client.reseal(*ka, nc::packet_type::keep_alive, other, n.now));
    n.flush();
    ASSERT_EQ(held.size(), 2U);
    EXPECT_EQ(held[0], held[1]);  // same key, same pn: byte for byte the same datagram

    auto d = n.client.send_packet(nc::packet_type::data, nc::words("payload"), n.now);
    ASSERT_TRUE(d);
    n.flush();
    ASSERT_EQ(held.size(), 3U);
    const auto original = held[2];
    ASSERT_TRUE(n.client.update_keys(n.now));
    ASSERT_TRUE(n.client.resend(original, *d, n.now));
    ASSERT_TRUE(n.client.reseal(*ka, nc::packet_type::keep_alive, other, n.now));
    n.flush();
    ASSERT_EQ(held.size(), 5U);
    EXPECT_EQ(n.client.stats().resealed, 1U);
    EXPECT_EQ(std::to_integer<unsigned>(held[3][5]), 0xc7U);  // DATA in phase 1
    EXPECT_EQ(std::to_integer<unsigned>(held[4][5]), 0x84U);  // KEEP_ALIVE in phase 1
    EXPECT_NE(held[3], original);
    EXPECT_EQ(held[3].size(), original.size());
    // the re-sealed copies open at the server (and follow it into phase 1)
    hold = false;
    n.server_events.clear();
    ASSERT_TRUE(n.to_server(held[3], client_addr));
    ASSERT_TRUE(n.to_server(held[4], client_addr));
    ASSERT_EQ(n.server_events.size(), 2U);
    EXPECT_EQ(n.server_events[0].kind, nc::event_kind::packet_received);
    EXPECT_EQ(n.server_events[0].pn, *d);
    EXPECT_EQ(n.server_events[0].words, std::vector<std::string>{"payload"});
    EXPECT_EQ(n.server_events[1].pn, *ka);
    EXPECT_EQ(n.server.phases_of(n.client.session_id()).second, 1U);
    // the stale phase-0 original is now a replay
    EXPECT_EQ(n.to_server(original, client_addr).error(), nc::make_error_code(nc::errc::replayed));
    // a number never sent cannot be re-sealed
    EXPECT_EQ(n.client.reseal(*d + 5, nc::packet_type::keep_alive, other, n.now).error(),
              nc::make_error_code(nc::errc::protocol_violation));
}

// --- reliable markers (§14.1) ------------------------------------------------------------------

TEST(V3Machine, LayeredVariantsReportThePacketNumberZeroMarker) {
    net n(neutrino::test::layered_dialect);
    ASSERT_TRUE(n.connect());
    n.run_for(10ms);
    // client: HELLO2 as pn 0, then established, then HELLO3 sent as pn 1
    ASSERT_GE(n.client_events.size(), 4U);
    EXPECT_EQ(n.client_events[0].kind, nc::event_kind::connecting);
    EXPECT_EQ(n.client_events[1].kind, nc::event_kind::packet_received);
    EXPECT_EQ(n.client_events[1].pn, 0U);
    EXPECT_EQ(n.client_events[1].type, nc::packet_type::server_hello2);
    EXPECT_EQ(n.client_events[2].kind, nc::event_kind::established);
    EXPECT_EQ(n.client_events[3].kind, nc::event_kind::packet_sent);
    EXPECT_EQ(n.client_events[3].pn, 1U);
    EXPECT_EQ(n.client_events[3].type, nc::packet_type::client_hello3);
    // server: established, the pn-0 marker, then HELLO3 as pn 1
    ASSERT_GE(n.server_events.size(), 3U);
    EXPECT_EQ(n.server_events[0].kind, nc::event_kind::established);
    EXPECT_EQ(n.server_events[1].kind, nc::event_kind::packet_received);
    EXPECT_EQ(n.server_events[1].pn, 0U);
    EXPECT_EQ(n.server_events[2].kind, nc::event_kind::packet_received);
    EXPECT_EQ(n.server_events[2].pn, 1U);
    EXPECT_EQ(n.server_events[2].type, nc::packet_type::client_hello3);
    // the server's first numbered packet is s2c pn 1
    auto pn =
        n.server.send_packet(n.client.session_id(), nc::packet_type::data, nc::words("x"), n.now);
    ASSERT_TRUE(pn);
    EXPECT_EQ(*pn, 1U);
}

// --- failure loop (house style §9.5): lose datagram k of the exchange, k = 0, 1, 2, … ---------

TEST(V3Machine, LosingAnyOneDatagramOfTheHandshakeStillEstablishes) {
    for (int k = 0; k < 8; ++k) {
        for (bool cookie : {false, true}) {
            net n;
            n.server.set_under_load(cookie);
            int i = 0;
            n.filter = [&i, k](flight&) { return i++ != k; };
            ASSERT_TRUE(n.client.connect(n.now));
            ASSERT_TRUE(n.run_until([&] { return n.both_established(); }, 5s))
                << "k=" << k << " cookie=" << cookie;
            n.filter = nullptr;  // basic DATA is not repaired: lose only handshake datagrams
            ASSERT_TRUE(n.client.send(nc::words("k", std::to_string(k)), n.now));
            ASSERT_TRUE(n.server.send(n.client.session_id(), nc::words("ok"), n.now));
            n.run_for(20ms);
            EXPECT_EQ(n.data(n.server_events),
                      (std::vector<std::vector<std::string>>{{"k", std::to_string(k)}}));
            EXPECT_EQ(n.data(n.client_events), (std::vector<std::vector<std::string>>{{"ok"}}));
            EXPECT_EQ(n.server.session_count(), 1U);
            EXPECT_EQ(n.server.stats().handshakes_read, 1U) << "k=" << k;  // never a second DH
        }
    }
}

TEST(V3Machine, ShutdownReachesEverySessionEvenBeyondTheSendQueue) {
    nc::server_config sc = server_cfg();
    sc.send_queue_capacity = 2;
    server_t server(sc, {}, {}, neutrino::seeded_random(seed() + 31));
    std::vector<client_t> clients;
    for (std::uint64_t i = 0; i < 5; ++i)
        clients.emplace_back(client_cfg(), v3::client_options{}, nc::null_observer{},
                             neutrino::seeded_random(seed() + 40 + i));
    std::array<std::byte, 1280> buf{};
    const time_point now{};
    auto addr = [](std::size_t i) {
        return peer_address::v4({10, 0, 1, static_cast<std::uint8_t>(i)}, 4000);
    };
    auto pump = [&] {
        for (bool more = true; more;) {
            more = false;
            for (std::size_t i = 0; i < clients.size(); ++i) {
                while (auto t = clients[i].poll_datagram(buf, now)) {
                    more = true;
                    (void)server.handle_datagram(std::span(buf).first(t->size), addr(i), now);
                }
                while (clients[i].poll_event()) {
                }
            }
            while (auto t = server.poll_datagram(buf, now)) {
                more = true;
                for (std::size_t i = 0; i < clients.size(); ++i) {
                    if (t->to == addr(i))
                        (void)clients[i].handle_datagram(std::span(buf).first(t->size), server_addr,
                                                         now);
                }
            }
            while (server.poll_event()) {
            }
        }
    };
    for (auto& c : clients) {
        ASSERT_TRUE(c.connect(now));
        pump();
    }
    pump();
    ASSERT_EQ(server.session_count(), 5U);
    server.shutdown(now);
    pump();
    for (auto& c : clients) EXPECT_EQ(c.state(), nc::session_state::draining);
    EXPECT_EQ(server.session_count(), 0U);
}

TEST(V3Machine, PathResponseFromTheWrongAddressValidatesNothing) {
    net n;
    ASSERT_TRUE(n.connect());
    const auto id = n.client.session_id();
    const peer_address moved = peer_address::v4({10, 0, 0, 9}, 50000);
    const peer_address other = peer_address::v4({203, 0, 113, 5}, 7777);
    std::vector<std::byte> response;
    n.filter = [&response](flight& f) {
        if (is(f, 0x09, true) && response.empty()) {
            response = f.bytes;
            return false;
        }
        return true;
    };
    n.client_source = moved;
    ASSERT_TRUE(n.client.send(nc::words("x"), n.now));
    n.run_for(5ms);
    ASSERT_FALSE(response.empty());
    ASSERT_EQ(n.server.candidate_of(id), moved);
    // authentic, but from an address that is not the candidate: nothing is validated
    ASSERT_TRUE(n.to_server(response, other));
    EXPECT_EQ(n.server.peer_of(id), client_addr);
    EXPECT_EQ(n.server.candidate_of(id), moved);
    EXPECT_EQ(n.server.stats().path_validations, 0U);
    // the next challenge (250 ms later) is answered from the candidate address
    n.run_for(300ms);
    EXPECT_EQ(n.server.stats().path_challenges_sent, 2U);
    EXPECT_EQ(n.server.stats().path_validations, 1U);
    EXPECT_EQ(n.server.peer_of(id), moved);
}

// --- negotiation (§9.3) --------------------------------------------------------------------

TEST(V3Machine, ExtendedIsNegotiatedWithBothLimitsAndRawFragmentsPassUp) {
    net n(neutrino::test::raw_dialect);
    std::vector<std::byte> fragment(1238, std::byte{0x5a});  // a full raw fragment
    std::vector<std::pair<std::uint32_t, std::size_t>> got;  // keyword, payload size
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.client.negotiated_dialect(), neutrino::test::raw_dialect);
    EXPECT_EQ(n.client.peer_message_limit(), 262144U);
    EXPECT_EQ(n.server.dialect_of(n.client.session_id()), neutrino::test::raw_dialect);
    auto pn = n.client.send_encoded(2, fragment, n.now);
    ASSERT_TRUE(pn);
    n.flush();
    ASSERT_FALSE(n.sizes[0x47].empty());
    EXPECT_EQ(n.sizes[0x47].back(), 1280U);  // 42 + 1238: a raw fragment is never padded
    std::vector<std::byte> big(1239, std::byte{1});
    EXPECT_EQ(n.client.send_encoded(1, big, n.now).error(),
              nc::make_error_code(nc::errc::payload_too_large));
    n.server_events.clear();
    n.run_for(10ms);
    ASSERT_FALSE(n.server_events.empty());
    EXPECT_EQ(n.server_events.back().kind, nc::event_kind::packet_received);
    EXPECT_EQ(n.server_events.back().pn, *pn);
}

TEST(V3Machine, ServerPicksTheClientsPreferenceAmongSeveralVariants) {
    v3::client_options co;
    co.also_offer = {nc::basic_dialect};  // basic too; prefers the configured one (layered)
    v3::server_options so;
    so.also_serve = {neutrino::test::layered_dialect, neutrino::test::raw_dialect};
    net n(client_cfg(neutrino::test::layered_dialect), co, server_cfg(nc::basic_dialect), so);
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.client.negotiated_dialect(), neutrino::test::layered_dialect);
    EXPECT_EQ(n.server.dialect_of(n.client.session_id()), neutrino::test::layered_dialect);
    EXPECT_EQ(n.client.peer_message_limit(), 0U);  // only id 2 carries a limit
}

TEST(V3Machine, ServerFallsBackToItsOwnDialectWhenThePreferenceIsNotServed) {
    v3::client_options co;
    co.also_offer = {nc::basic_dialect};  // prefers raw (id 2), accepts basic
    net n(client_cfg(neutrino::test::raw_dialect), co, server_cfg(nc::basic_dialect), {});
    ASSERT_TRUE(n.connect());
    EXPECT_EQ(n.client.negotiated_dialect(), nc::basic_dialect);
    EXPECT_EQ(n.server.dialect_of(n.client.session_id()), nc::basic_dialect);
}

TEST(V3Machine, DialectIdsMustBeDistinctAndFitTheMask) {
    v3::client_options co;
    co.also_offer = {nc::dialect{.id = 3}};
    EXPECT_THROW(client_t(client_cfg(), co, {}, neutrino::seeded_random(1)),
                 std::invalid_argument);
    v3::server_options so;
    so.also_serve = {nc::basic_dialect};  // the configured one again
    EXPECT_THROW(server_t(server_cfg(), so, {}, neutrino::seeded_random(2)),
                 std::invalid_argument);
}

}  // namespace
