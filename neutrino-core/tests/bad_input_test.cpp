#include "neutrino/core/server.hpp"

#include <gtest/gtest.h>

#include "test_seed.hpp"
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/memory_link.hpp"
#include "test_support.hpp"

// Hostile and malformed input against established machines (spec: neutrino.md §9.4, §18.1,
// §18.2), and misuse of the application API. Every rejection must be a counted drop that
// changes nothing: no event, no datagram, no state change.

namespace nc = neutrino::core;
using neutrino::peer_address;
using neutrino::time_point;
using namespace std::chrono_literals;

namespace {

using bytes = std::vector<std::byte>;
using test_pair = neutrino::test::pair;
using client_type = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
using server_type = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
using neutrino::test::client_address;
using neutrino::test::server_address;

/// The error of a result, or an empty error_code when it holds a value (never UB in a test).
template <class T>
std::error_code err(const neutrino::result<T>& r) {
    return r ? std::error_code() : r.error();
}

const peer_address stranger = peer_address::v4({192, 0, 2, 7}, 40000);

std::uint64_t test_seed(const char* what) { return neutrino::test::env_seed_or_random(what); }

// --- datagram builders ------------------------------------------------------------------------

void set_type(bytes& d, std::uint8_t t) { d.at(5) = std::byte{t}; }
void set_type(bytes& d, nc::packet_type t) { set_type(d, static_cast<std::uint8_t>(t)); }
void set_session_id(bytes& d, std::uint64_t sid) { neutrino::store_le<std::uint64_t>(d.data() + 6, sid); }
bytes with_type(bytes d, nc::packet_type t) {
    set_type(d, t);
    return d;
}
bytes with_session_id(bytes d, std::uint64_t sid) {
    set_session_id(d, sid);
    return d;
}
bytes prefix(const bytes& d, std::size_t n) {
    return {d.begin(), d.begin() + static_cast<std::ptrdiff_t>(std::min(n, d.size()))};
}
bytes flipped(bytes d, std::size_t at, std::uint8_t mask = 0x01) {
    d.at(at) ^= std::byte{mask};
    return d;
}

nc::public_key fresh_public_key(neutrino::seeded_random& r) {
    nc::secret_key sk;
    r.fill(sk.bytes());
    return nc::public_key_of(sk);
}

bytes make_hello1(const nc::public_key& pk) {
    bytes d(nc::max_datagram_size);
    EXPECT_EQ(nc::wire::v2::write_hello1(d, pk), nc::max_datagram_size);
    return d;
}

/// A clear datagram (session id field as given) in the plaintext form the reference reads for
/// session id 2: header, pn, keyword 0, the encoded words, zero padding up to `size`.
bytes make_clear(nc::packet_type t, std::uint64_t sid, std::uint64_t pn, nc::word_list words,
                 std::size_t size = 0) {
    bytes d(nc::max_datagram_size + 100, std::byte{0});
    nc::clear_header{2, static_cast<std::uint8_t>(t), sid}.write(d);
    neutrino::store_le<std::uint64_t>(d.data() + nc::clear_header_size, pn);
    auto n = nc::word_codec::encode(words, std::span(d).subspan(nc::total_header_size));
    EXPECT_TRUE(n);
    d.resize(std::max(size, nc::total_header_size + n.value_or(0)));
    return d;
}

nc::public_key key_from_hex(std::string_view hex) {
    auto k = nc::parse_key_hex(hex);
    EXPECT_TRUE(k);
    return *k;
}

// --- what must stay unchanged ------------------------------------------------------------------

struct server_view {
    std::size_t sessions = 0;
    std::size_t pending = 0;
    nc::session_state state = nc::session_state::none;
    std::optional<peer_address> peer;
    bool operator==(const server_view&) const = default;
};
server_view view_of(const server_type& s, std::uint64_t sid) {
    return {s.session_count(), s.pending_count(), s.state_of(sid), s.peer_of(sid)};
}

struct client_view {
    nc::session_state state = nc::session_state::none;
    std::uint64_t sid = 0;
    bool operator==(const client_view&) const = default;
};
client_view view_of(const client_type& c) { return {c.state(), c.session_id()}; }

/// Feeds `d` and checks that it was rejected for `want` and changed nothing: the drop is
/// counted, no packet accepted, no event, nothing queued to send, `view()` unchanged.
template <class M, class View>
void expect_drop(M& m, std::span<const std::byte> d, const peer_address& from, time_point now,
                 nc::errc want, View view) {
    const nc::stats before = m.stats();
    const auto v0 = view();
    auto r = m.handle_datagram(d, from, now);
    ASSERT_FALSE(r) << "accepted, expected " << nc::make_error_code(want).message();
    EXPECT_EQ(r.error(), nc::make_error_code(want)) << r.error().message();
    EXPECT_EQ(m.stats().dropped(want), before.dropped(want) + 1);
    EXPECT_EQ(m.stats().dropped_total, before.dropped_total + 1);
    EXPECT_EQ(m.stats().datagrams_received, before.datagrams_received + 1);
    EXPECT_EQ(m.stats().packets_accepted, before.packets_accepted);
    EXPECT_FALSE(m.poll_event().has_value()) << "an event was produced";
    std::array<std::byte, nc::max_datagram_size> out;
    EXPECT_FALSE(m.poll_datagram(out, now).has_value()) << "a datagram was queued";
    EXPECT_TRUE(view() == v0) << "state changed";
}

/// Everything `m` queued, as datagrams.
template <class M>
std::vector<std::pair<bytes, peer_address>> drain(M& m, time_point now) {
    std::vector<std::pair<bytes, peer_address>> out;
    std::array<std::byte, nc::max_datagram_size> buf;
    while (auto t = m.poll_datagram(buf, now)) {
        out.emplace_back(bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)),
                         t->to);
    }
    return out;
}
template <class M>
std::vector<nc::event> events(M& m) {
    std::vector<nc::event> out;
    while (auto e = m.poll_event()) out.push_back(*e);
    return out;
}

/// Delivers everything queued on either side to the other, with no delay, until both are quiet.
/// Datagrams addressed elsewhere are discarded. Events stay queued.
void pump(client_type& c, const peer_address& c_addr, server_type& s, time_point now) {
    for (bool more = true; more;) {
        more = false;
        for (auto& [d, to] : drain(c, now)) {
            more = true;
            (void)s.handle_datagram(d, c_addr, now);
        }
        for (auto& [d, to] : drain(s, now)) {
            if (!(to == c_addr)) continue;
            more = true;
            (void)c.handle_datagram(d, server_address, now);
        }
    }
}

/// A client and a server over a memory link, established, every queue drained.
class bad_input_established : public ::testing::Test {
protected:
    void SetUp() override {
        // record the handshake so tests can replay it
        p.link.set_filter([this](auto& d) {
            handshake.push_back(d.bytes);
            return true;
        });
        ASSERT_TRUE(p.connect());
        p.link.run_for(5ms);
        p.link.set_filter(nullptr);
        sid = p.client.session_id();
        ASSERT_EQ(p.server.state_of(sid), nc::session_state::established);
        ASSERT_EQ(handshake.size(), 3U);
        p.server_events.clear();
        p.client_events.clear();
    }

    time_point now() const { return p.link.now(); }
    server_view sview() const { return view_of(p.server, sid); }
    client_view cview() const { return view_of(p.client); }

    /// A genuine client → server DATA, not delivered.
    bytes client_data(std::string_view text = "hello") {
        EXPECT_TRUE(p.client.send(nc::words(text), now()));
        auto d = drain(p.client, now());
        EXPECT_EQ(d.size(), 1U);
        return d.empty() ? bytes{} : d[0].first;
    }
    /// A genuine server → client DATA, not delivered.
    bytes server_data(std::string_view text = "hello") {
        EXPECT_TRUE(p.server.send(sid, nc::words(text), now()));
        auto d = drain(p.server, now());
        EXPECT_EQ(d.size(), 1U);
        return d.empty() ? bytes{} : d[0].first;
    }
    /// Lets the link run until the first datagram of `type` in the given direction is sent,
    /// takes it off the wire (it is not delivered) and returns it.
    bytes capture(bool to_server, nc::packet_type type) {
        std::optional<bytes> got;
        p.link.set_filter([&](auto& d) {
            if (!got && d.to_b == to_server && d.bytes.size() > 5 &&
                d.bytes[5] == std::byte{static_cast<std::uint8_t>(type)}) {
                got = d.bytes;
                return false;
            }
            return true;
        });
        EXPECT_TRUE(p.link.run_until([&] { return got.has_value(); }, 5s));
        p.link.set_filter(nullptr);
        return got.value_or(bytes{});
    }

    void server_drop(const bytes& d, nc::errc want, const peer_address& from = client_address) {
        expect_drop(p.server, d, from, now(), want, [this] { return sview(); });
    }
    void client_drop(const bytes& d, nc::errc want, const peer_address& from = server_address) {
        expect_drop(p.client, d, from, now(), want, [this] { return cview(); });
    }

    test_pair p{7};
    std::uint64_t sid = 0;
    std::vector<bytes> handshake;  // HELLO1, HELLO2, HELLO3 as they crossed the link
};

/// Malformed headers and sizes every receiver must drop; `g` is a genuine encrypted datagram
/// of the session `sid`.
template <class Drop>
void header_cases(const bytes& g, std::uint64_t sid, Drop drop) {
    {
        SCOPED_TRACE("protocol identifier");
        drop(flipped(g, 0), nc::errc::bad_protocol_identifier);
        drop(flipped(g, 3, 0x80), nc::errc::bad_protocol_identifier);
    }
    for (std::uint8_t v : std::array<std::uint8_t, 5>{0, 1, 3, 0x42, 0xff}) {
        SCOPED_TRACE(::testing::Message() << "version " << int{v});
        bytes d = g;
        d[4] = std::byte{v};
        drop(d, nc::errc::bad_version);
    }
    for (std::uint8_t t :
         std::array<std::uint8_t, 10>{0x00, 0x07, 0x08, 0x20, 0x21, 0x22, 0x46, 0x48, 0x81, 0xff}) {
        SCOPED_TRACE(::testing::Message() << "type " << int{t});
        bytes d = g;
        set_type(d, t);
        drop(d, nc::errc::bad_packet_type);
    }
    for (std::size_t n : {std::size_t{1281}, std::size_t{1400}, std::size_t{2048},
                          std::size_t{65507}}) {
        SCOPED_TRACE(::testing::Message() << "size " << n);
        bytes d = g;
        d.resize(n, std::byte{0});
        drop(d, nc::errc::datagram_too_large);
    }
    for (std::size_t n : std::array<std::size_t, 7>{0, 1, 4, 6, 13, 14, 25}) {
        SCOPED_TRACE(::testing::Message() << "size " << n);
        drop(prefix(g, n), nc::errc::datagram_too_short);
    }
    // spec: neutrino.md §9.4: 38–53 bytes with a known session id escaped the reference; every
    // length that cannot hold header, nonce, protected header, one payload byte and tag is short
    for (std::size_t n = nc::total_header_size; n < nc::wire::v2::min_sealed_size; ++n) {
        SCOPED_TRACE(::testing::Message() << "encrypted type, known session, size " << n);
        drop(prefix(g, n), nc::errc::datagram_too_short);
    }
    {
        SCOPED_TRACE("tag, ciphertext, nonce, length altered");
        drop(flipped(g, g.size() - 1, 0x80), nc::errc::decryption_failed);
        drop(flipped(g, g.size() - 16), nc::errc::decryption_failed);
        drop(flipped(g, nc::clear_header_size + 24), nc::errc::decryption_failed);
        drop(flipped(g, nc::clear_header_size + 3), nc::errc::decryption_failed);
        drop(prefix(g, g.size() - 1), nc::errc::decryption_failed);
        bytes longer = g;
        longer.push_back(std::byte{0});
        drop(longer, nc::errc::decryption_failed);
    }
    {
        SCOPED_TRACE("unknown session id");
        drop(with_session_id(g, sid + 1), nc::errc::unknown_session);
        drop(with_session_id(g, sid ^ (std::uint64_t{1} << 40)), nc::errc::unknown_session);
        drop(with_session_id(g, 64), nc::errc::unknown_session);
        drop(with_session_id(g, UINT64_MAX), nc::errc::unknown_session);
    }
    for (std::uint64_t bad : std::array<std::uint64_t, 6>{0, 1, 3, 4, 17, 63}) {
        SCOPED_TRACE(::testing::Message() << "session id " << bad);
        drop(with_session_id(g, bad), nc::errc::bad_session_id);
    }
    {
        SCOPED_TRACE("session id 2 on an encrypted type");
        drop(with_session_id(g, nc::session_id_pending), nc::errc::bad_session_id);
    }
}

}  // namespace

// --- headers, sizes, authentication ---------------------------------------------------------

TEST_F(bad_input_established, server_drops_malformed_headers_sizes_and_forgeries) {
    const bytes g = client_data("genuine");
    header_cases(g, sid, [this](const bytes& d, nc::errc e) { server_drop(d, e); });
    // nothing above consumed the genuine datagram's packet number
    ASSERT_TRUE(p.server.handle_datagram(g, client_address, now()));
    auto ev = events(p.server);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].kind, nc::event_kind::data);
    EXPECT_EQ(nc::as_string(ev[0].words[0]), "genuine");
}

TEST_F(bad_input_established, client_drops_malformed_headers_sizes_and_forgeries) {
    const bytes g = server_data("genuine");
    header_cases(g, sid, [this](const bytes& d, nc::errc e) {
        // the client checks the header before the source, then the session id
        client_drop(d, e);
    });
    ASSERT_TRUE(p.client.handle_datagram(g, server_address, now()));
    auto ev = events(p.client);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(nc::as_string(ev[0].words[0]), "genuine");
}

TEST_F(bad_input_established, datagram_of_65507_bytes_is_rejected_without_reading_past_the_limit) {
    // The datagram's bytes after the first page are unreadable: reading them would crash.
    const std::size_t page = 4096;
    const std::size_t size = 65507;
    const std::size_t mapped = ((size + page - 1) / page + 1) * page;
    void* mem = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto* base = static_cast<std::byte*>(mem);
    const bytes g = client_data();
    std::copy(g.begin(), g.end(), base);
    ASSERT_EQ(mprotect(base + page, mapped - page, PROT_NONE), 0);
    const std::span<const std::byte> huge(base, size);
    expect_drop(p.server, huge, client_address, now(), nc::errc::datagram_too_large,
                [this] { return sview(); });
    expect_drop(p.client, huge, server_address, now(), nc::errc::datagram_too_large,
                [this] { return cview(); });
    munmap(mem, mapped);
}

// --- CLIENT_HELLO1 checks  spec: neutrino.md §9.4, §10.2, §18.1 items 8–9 ---------------------

TEST_F(bad_input_established, malformed_hello1_is_dropped_and_never_answered) {
    neutrino::seeded_random r(99);
    const nc::public_key pk = fresh_public_key(r);
    const bytes good = make_hello1(pk);
    const peer_address from = peer_address::v4({10, 0, 0, 1}, 1000);
    auto drop = [&](const bytes& d, nc::errc e) { server_drop(d, e, from); };

    for (std::size_t n : {std::size_t{1279}, std::size_t{1200}, std::size_t{640},
                          std::size_t{67}, std::size_t{62}, std::size_t{61}, std::size_t{27},
                          std::size_t{26}}) {
        SCOPED_TRACE(::testing::Message() << "short HELLO1 " << n);
        drop(prefix(good, n), nc::errc::bad_hello);
    }
    {
        SCOPED_TRACE("long HELLO1");
        bytes d = good;
        d.push_back(std::byte{0});
        drop(d, nc::errc::datagram_too_large);
    }
    for (std::uint64_t pn : std::array<std::uint64_t, 5>{0, 1, 3, 64, 1000}) {
        SCOPED_TRACE(::testing::Message() << "HELLO1 pn " << pn);
        bytes d = good;
        neutrino::store_le<std::uint64_t>(d.data() + nc::clear_header_size, pn);
        drop(d, nc::errc::bad_hello);
    }
    const nc::word key(pk.data(), pk.size());
    {
        SCOPED_TRACE("HELLO1 with 0 words");
        drop(make_clear(nc::packet_type::client_hello1, 2, 2, {}, 1280), nc::errc::bad_hello);
    }
    {
        SCOPED_TRACE("HELLO1 with 2 words");
        const std::array<nc::word, 2> two{key, key};
        drop(make_clear(nc::packet_type::client_hello1, 2, 2, two, 1280), nc::errc::bad_hello);
        const std::array<nc::word, 2> key_and_empty{key, nc::word()};
        drop(make_clear(nc::packet_type::client_hello1, 2, 2, key_and_empty, 1280),
             nc::errc::bad_hello);
    }
    for (std::size_t len : std::array<std::size_t, 5>{0, 1, 31, 33, 64}) {
        SCOPED_TRACE(::testing::Message() << "HELLO1 key of " << len << " bytes");
        const bytes k(len, std::byte{9});
        const std::array<nc::word, 1> one{nc::word(k)};
        drop(make_clear(nc::packet_type::client_hello1, 2, 2, one, 1280), nc::errc::bad_hello);
    }
    for (std::size_t at : {std::size_t{61}, std::size_t{62}, std::size_t{700}, std::size_t{1279}}) {
        SCOPED_TRACE(::testing::Message() << "HELLO1 non-zero padding at " << at);
        drop(flipped(good, at), nc::errc::bad_hello);
    }
    {
        SCOPED_TRACE("HELLO1 with a size overrunning the datagram");
        bytes d = good;
        neutrino::store_le<std::uint16_t>(d.data() + 27, 1300);
        drop(d, nc::errc::bad_hello);
    }
    {
        SCOPED_TRACE("HELLO1 with a session id other than 2");
        drop(with_session_id(good, 64), nc::errc::bad_session_id);
        drop(with_session_id(good, sid), nc::errc::bad_session_id);
        drop(with_session_id(good, 3), nc::errc::bad_session_id);
    }
    // the same HELLO1, untouched, is accepted: the cases above failed for the stated reason
    const auto before = sview();
    ASSERT_TRUE(p.server.handle_datagram(good, from, now()));
    EXPECT_EQ(p.server.session_count(), before.sessions + 1);
    auto out = drain(p.server, now());
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].second, from);
    EXPECT_EQ(out[0].first.size(), 67U);  // spec: neutrino.md §6.2
    EXPECT_EQ(std::to_integer<int>(out[0].first[5]), 0x02);
}

TEST_F(bad_input_established, low_order_hello1_key_is_dropped) {
    // spec: neutrino.md §7.2, §18.1 item 9: the reference's key derivation failure escaped
    const char* const points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",  // all zero
        "0100000000000000000000000000000000000000000000000000000000000000",  // u = 1
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  // order 8
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  // order 8
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p − 1
    };
    for (const char* hex : points) {
        SCOPED_TRACE(hex);
        const peer_address from = peer_address::v4({10, 0, 0, 2}, 1000);
        server_drop(make_hello1(key_from_hex(hex)), nc::errc::low_order_key, from);
    }
}

TEST_F(bad_input_established, hello1_from_an_established_address_does_not_touch_that_session) {
    // spec: neutrino.md §18.1 item 7: the reference unregistered the live client
    neutrino::seeded_random r(12);
    const bytes hello1 = make_hello1(fresh_public_key(r));  // spoofed from the client's address
    ASSERT_TRUE(p.server.handle_datagram(hello1, client_address, now()));
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);
    EXPECT_EQ(p.server.peer_of(sid), client_address);
    EXPECT_EQ(p.server.session_count(), 2U);  // a separate PENDING entry, keyed by its own id
    EXPECT_EQ(p.server.pending_count(), 1U);
    EXPECT_TRUE(events(p.server).empty());
    // the HELLO2 for the spoofed attempt reaches the real client, which drops it
    auto out = drain(p.server, now());
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].first.size(), 67U);
    client_drop(out[0].first, nc::errc::unknown_session);
    const std::uint64_t spoofed = neutrino::load_le<std::uint64_t>(out[0].first.data() + 6);

    // the established session keeps working both ways
    ASSERT_TRUE(p.client.send(nc::words("still here"), now()));
    p.link.run_for(5ms);
    ASSERT_EQ(p.server_data.size(), 1U);
    EXPECT_EQ(p.server_data[0][0], "still here");
    ASSERT_TRUE(p.server.send(sid, nc::words("yes"), now()));
    p.link.run_for(5ms);
    ASSERT_EQ(p.client_data.size(), 1U);
    // the spoofed pending entry times out alone (250 ms, scanned at most every 100 ms)
    EXPECT_EQ(p.server.state_of(spoofed), nc::session_state::pending);
    p.link.run_for(400ms);
    EXPECT_EQ(p.server.state_of(spoofed), nc::session_state::none);
    EXPECT_EQ(p.server.session_count(), 1U);
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);
    EXPECT_TRUE(p.client.established());
}

// --- unencrypted packets after the handshake  spec: neutrino.md §18.1 item 1 ------------------

TEST_F(bad_input_established, clear_session_id_2_packets_are_dropped_by_the_server) {
    using pt = nc::packet_type;
    for (pt t : {pt::data, pt::client_good_bye, pt::keep_alive, pt::client_hello3,
                 pt::server_shutdown, pt::server_hello2}) {
        for (std::size_t size : {std::size_t{0}, std::size_t{67}, std::size_t{1280}}) {
            SCOPED_TRACE(::testing::Message() << nc::to_string(t) << " size " << size);
            const auto w = nc::words("forged");
            const nc::word_list list = t == pt::data ? nc::word_list(w) : nc::word_list();
            const bytes d = make_clear(t, nc::session_id_pending, 1000, list, size);
            server_drop(d, nc::errc::bad_session_id);
            server_drop(d, nc::errc::bad_session_id, stranger);
        }
    }
    EXPECT_TRUE(p.server_data.empty());
}

TEST_F(bad_input_established, clear_session_id_2_packets_are_dropped_by_the_client) {
    using pt = nc::packet_type;
    for (pt t : {pt::data, pt::server_shutdown, pt::keep_alive, pt::server_hello2,
                 pt::client_hello1}) {
        SCOPED_TRACE(nc::to_string(t));
        const auto w = nc::words("forged");
        const nc::word_list list = t == pt::data ? nc::word_list(w) : nc::word_list();
        const bytes d = make_clear(t, nc::session_id_pending, 1000, list, 100);
        client_drop(d, nc::errc::bad_session_id);       // even from the server's address
        client_drop(d, nc::errc::wrong_peer, stranger);  // and from anywhere else
    }
    EXPECT_EQ(p.client.state(), nc::session_state::established);
}

// --- retyped encrypted packets  spec: neutrino.md §18.1 item 2 --------------------------------

TEST_F(bad_input_established, data_retyped_to_good_bye_does_not_end_the_session) {
    const bytes g = client_data("payload");
    using pt = nc::packet_type;
    // the payload shape betrays the original type
    for (pt t : {pt::client_good_bye, pt::keep_alive, pt::client_hello3, pt::server_shutdown,
                 pt::server_hello2}) {
        SCOPED_TRACE(nc::to_string(t));
        server_drop(with_type(g, t), nc::errc::bad_shape);
    }
    server_drop(with_type(g, pt::client_hello1), nc::errc::bad_session_id);
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);
    // and the original is still fresh
    ASSERT_TRUE(p.server.handle_datagram(g, client_address, now()));
    EXPECT_EQ(events(p.server).size(), 1U);

    // the same on the client: server DATA retyped to SERVER_SHUTDOWN
    const bytes s = server_data("payload");
    for (pt t : {pt::server_shutdown, pt::keep_alive, pt::server_hello2, pt::client_good_bye}) {
        SCOPED_TRACE(nc::to_string(t));
        client_drop(with_type(s, t), nc::errc::bad_shape);
    }
    EXPECT_EQ(p.client.state(), nc::session_state::established);
}

TEST_F(bad_input_established, retyped_keep_alive_is_limited_by_the_replay_window) {
    using pt = nc::packet_type;
    // A basic KEEP_ALIVE, GOOD_BYE and SHUTDOWN all carry an empty word list, so v2 cannot tell
    // them apart once retyped (v3 authenticates the header). The replay window limits the
    // attack to a fresh datagram the attacker withholds from its receiver.
    const bytes ka1 = capture(true, pt::keep_alive);
    ASSERT_FALSE(ka1.empty());
    // not allowed in this state: dropped, no state change (the reference unregistered)
    server_drop(with_type(ka1, pt::client_hello3), nc::errc::unexpected_packet);
    server_drop(with_type(ka1, pt::server_shutdown), nc::errc::unexpected_packet);
    server_drop(with_type(ka1, pt::server_hello2), nc::errc::unexpected_packet);
    // the original arrives first: the retyped copy is a replay
    ASSERT_TRUE(p.server.handle_datagram(ka1, client_address, now()));
    auto reply = drain(p.server, now());
    ASSERT_EQ(reply.size(), 1U);  // one KEEP_ALIVE back
    const bytes server_ka = reply[0].first;
    EXPECT_EQ(std::to_integer<int>(server_ka[5]), 0x04);
    server_drop(with_type(ka1, pt::client_good_bye), nc::errc::replayed);
    server_drop(ka1, nc::errc::replayed);
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);

    // client side: the server's KEEP_ALIVE retyped to SERVER_SHUTDOWN after the original
    ASSERT_TRUE(p.client.handle_datagram(server_ka, server_address, now()));
    client_drop(with_type(server_ka, pt::server_shutdown), nc::errc::replayed);
    client_drop(with_type(server_ka, pt::server_hello2), nc::errc::replayed);
    EXPECT_EQ(p.client.state(), nc::session_state::established);

    // A fresh, withheld KEEP_ALIVE retyped to GOOD_BYE passes every v2 check: the session ends
    // as if the client had said good-bye. This is the documented v2 limit; assert it so a change
    // is noticed. A replay of the retyped datagram then finds no session.
    const bytes ka2 = capture(true, pt::keep_alive);
    const bytes forged = with_type(ka2, pt::client_good_bye);
    ASSERT_TRUE(p.server.handle_datagram(forged, client_address, now()));
    auto ev = events(p.server);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].kind, nc::event_kind::closed);
    EXPECT_EQ(ev[0].reason, nc::make_error_code(nc::errc::closed));
    EXPECT_EQ(p.server.session_count(), 0U);
    expect_drop(p.server, forged, client_address, now(), nc::errc::unknown_session,
                [this] { return sview(); });
}

TEST_F(bad_input_established, fresh_server_keep_alive_retyped_to_shutdown_then_replayed) {
    using pt = nc::packet_type;
    // obtain a fresh server KEEP_ALIVE without delivering it to the client
    const bytes ka = capture(true, pt::keep_alive);
    ASSERT_TRUE(p.server.handle_datagram(ka, client_address, now()));
    auto reply = drain(p.server, now());
    ASSERT_EQ(reply.size(), 1U);
    const bytes forged = with_type(reply[0].first, pt::server_shutdown);
    // v2 limit (see above): the client starts draining
    ASSERT_TRUE(p.client.handle_datagram(forged, server_address, now()));
    EXPECT_EQ(p.client.state(), nc::session_state::draining);
    auto ev = events(p.client);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].kind, nc::event_kind::server_shutdown);
    // its replay, and the original, are replays
    client_drop(forged, nc::errc::replayed);
    client_drop(reply[0].first, nc::errc::replayed);
}

// --- replays and address changes  spec: neutrino.md §18.1 items 3–4 --------------------------

TEST_F(bad_input_established, exact_replay_of_data_is_delivered_once) {
    const bytes g = client_data("once");
    ASSERT_TRUE(p.server.handle_datagram(g, client_address, now()));
    ASSERT_EQ(events(p.server).size(), 1U);
    for (int i = 0; i < 3; ++i) server_drop(g, nc::errc::replayed);
    // replays of the handshake
    server_drop(handshake.at(2), nc::errc::replayed);  // HELLO3
    client_drop(handshake.at(1), nc::errc::replayed);  // HELLO2

    const bytes s = server_data("once");
    ASSERT_TRUE(p.client.handle_datagram(s, server_address, now()));
    ASSERT_EQ(events(p.client).size(), 1U);
    for (int i = 0; i < 3; ++i) client_drop(s, nc::errc::replayed);
}

TEST_F(bad_input_established, replay_from_another_address_does_not_move_the_session) {
    const peer_address a = client_address;
    const peer_address b = peer_address::v4({198, 51, 100, 9}, 61000);
    const peer_address b_port = peer_address::v4({127, 0, 0, 1}, 40001);

    const bytes g1 = client_data("1");
    ASSERT_TRUE(p.server.handle_datagram(g1, a, now()));
    (void)events(p.server);
    server_drop(g1, nc::errc::replayed, b);
    server_drop(g1, nc::errc::replayed, b_port);
    EXPECT_EQ(p.server.peer_of(sid), a);

    // a fresh but older packet from elsewhere is delivered and does not move the session
    const bytes g2 = client_data("2");
    const bytes g3 = client_data("3");
    ASSERT_TRUE(p.server.handle_datagram(g3, a, now()));
    ASSERT_TRUE(p.server.handle_datagram(g2, b, now()));
    auto ev = events(p.server);
    ASSERT_EQ(ev.size(), 2U);
    EXPECT_EQ(ev[0].kind, nc::event_kind::data);
    EXPECT_EQ(ev[1].kind, nc::event_kind::data);
    EXPECT_EQ(nc::as_string(ev[1].words[0]), "2");
    EXPECT_EQ(p.server.peer_of(sid), a);

    // a fresh newest packet from a new address does not move it: the address becomes a
    // candidate, and replies keep going to the validated address (basic v2 has no way to
    // validate it; spec: neutrino.md §18.1 items 4-5, issue #11)
    const bytes g4 = client_data("4");
    ASSERT_TRUE(p.server.handle_datagram(g4, b, now()));
    ev = events(p.server);
    ASSERT_EQ(ev.size(), 2U);
    EXPECT_EQ(ev[0].kind, nc::event_kind::path_candidate);
    EXPECT_EQ(ev[0].peer, b);
    EXPECT_EQ(ev[0].old_peer, a);
    EXPECT_EQ(ev[0].session_id, sid);
    EXPECT_EQ(ev[1].kind, nc::event_kind::data);
    EXPECT_EQ(p.server.peer_of(sid), a);
    // replays change nothing
    server_drop(g4, nc::errc::replayed, a);
    server_drop(g3, nc::errc::replayed, a);
    EXPECT_EQ(p.server.peer_of(sid), a);
    // the server answers to the validated address
    ASSERT_TRUE(p.server.send(sid, nc::words("to a"), now()));
    auto out = drain(p.server, now());
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].second, a);
    // the validated address speaks again with the newest number: the candidacy ends
    const bytes g5 = client_data("5");
    ASSERT_TRUE(p.server.handle_datagram(g5, a, now()));
    EXPECT_EQ(p.server.stats().migrations_refused, 1U);
    EXPECT_EQ(p.server.peer_of(sid), a);
}

TEST_F(bad_input_established, a_session_heard_only_from_an_unvalidated_address_ends_clearly) {
    const peer_address b = peer_address::v4({127, 0, 0, 1}, 40001);
    // only the new address speaks from now on: it does not refresh the session, which ends
    // with path_not_validated once the validated address has been silent for the timeout
    time_point t = now();
    std::vector<nc::event> ev;
    for (int i = 0; i < 40 && p.server.session_count() == 1; ++i) {
        ASSERT_TRUE(p.server.handle_datagram(client_data("x"), b, t));
        for (const auto& d : drain(p.server, t)) EXPECT_NE(d.second, b);  // nothing goes there
        t += 50ms;
        p.server.handle_deadline(t);
        for (auto& e : events(p.server)) ev.push_back(e);
    }
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev.back().kind, nc::event_kind::closed);
    EXPECT_EQ(ev.back().reason, nc::errc::path_not_validated);
    EXPECT_EQ(p.server.session_count(), 0U);
    EXPECT_LE(t - now(), 1700ms);  // the established timeout (1500 ms) plus one scan
}

TEST_F(bad_input_established, client_checks_source_and_session_id) {
    // spec: neutrino.md §18.1 item 10
    const bytes s = server_data("x");
    client_drop(s, nc::errc::wrong_peer, stranger);
    client_drop(s, nc::errc::wrong_peer, peer_address::v4({127, 0, 0, 1}, 22754));
    client_drop(s, nc::errc::wrong_peer, client_address);
    client_drop(with_session_id(s, sid + 1), nc::errc::unknown_session);
    client_drop(with_session_id(s, 64), nc::errc::unknown_session);
    // the genuine datagram from the server is still accepted
    ASSERT_TRUE(p.client.handle_datagram(s, server_address, now()));
    EXPECT_EQ(events(p.client).size(), 1U);
}

TEST_F(bad_input_established, client_drops_types_it_never_receives) {
    // a client → server packet reflected back cannot be opened with the client's rx key
    const bytes g = client_data("reflected");
    client_drop(g, nc::errc::decryption_failed);
    // a fresh server KEEP_ALIVE retyped to client-only types is dropped without state change
    const bytes ka = capture(true, nc::packet_type::keep_alive);
    ASSERT_TRUE(p.server.handle_datagram(ka, client_address, now()));
    auto reply = drain(p.server, now());
    ASSERT_EQ(reply.size(), 1U);
    client_drop(with_type(reply[0].first, nc::packet_type::server_hello2),
                nc::errc::unexpected_packet);
    client_drop(with_type(reply[0].first, nc::packet_type::client_hello1), nc::errc::bad_shape);
}

TEST_F(bad_input_established, client_drops_client_only_types_from_the_server) {
    // spec: neutrino.md §10.3 (ESTABLISHED accepts KEEP_ALIVE, DATA, SERVER_SHUTDOWN) and §9.4
    // ("any packet type not allowed in the client's current state: client: dropped").
    // A fresh server KEEP_ALIVE retyped to CLIENT_GOOD_BYE or CLIENT_HELLO3 passes the shape
    // check (empty word list) and the replay window; it must still be refused by type.
    const bytes ka = capture(true, nc::packet_type::keep_alive);
    ASSERT_TRUE(p.server.handle_datagram(ka, client_address, now()));
    auto reply = drain(p.server, now());
    ASSERT_EQ(reply.size(), 1U);
    client_drop(with_type(reply[0].first, nc::packet_type::client_good_bye),
                nc::errc::unexpected_packet);
    client_drop(with_type(reply[0].first, nc::packet_type::client_hello3),
                nc::errc::unexpected_packet);
    // still fresh: the genuine KEEP_ALIVE is accepted afterwards
    ASSERT_TRUE(p.client.handle_datagram(reply[0].first, server_address, now()));
}

TEST_F(bad_input_established, replayed_handshake_cannot_replay_a_live_session) {
    // v2 session keys depend only on the client's ephemeral key and the server's static key, so
    // a replayed HELLO1 yields a session with the *same* keys. The clear header is not
    // authenticated, so the recorded HELLO3 and DATA can be re-addressed to the new session id,
    // and its fresh replay window accepts them: the application receives the recorded DATA a
    // second time (spec: neutrino.md §18.1 item 3 defeated). Clients draw a fresh key for every
    // HELLO1 (§7.1, §18.5), so a HELLO1 whose key belongs to a live session is always a replay
    // and can be refused compatibly.
    const peer_address attacker = peer_address::v4({203, 0, 113, 5}, 4444);
    const bytes g = client_data("transfer 100");
    ASSERT_TRUE(p.server.handle_datagram(g, client_address, now()));
    ASSERT_EQ(events(p.server).size(), 1U);
    const auto before = p.server.session_count();
    auto r = p.server.handle_datagram(handshake.at(0), attacker, now());
    EXPECT_FALSE(r) << "replayed HELLO1 accepted";
    EXPECT_EQ(p.server.session_count(), before);
    auto out = drain(p.server, now());
    if (out.empty()) return;
    // what the attacker can do with the new session otherwise
    const std::uint64_t sid2 = neutrino::load_le<std::uint64_t>(out[0].first.data() + 6);
    ASSERT_TRUE(p.server.handle_datagram(with_session_id(handshake.at(2), sid2), attacker, now()));
    ASSERT_TRUE(p.server.handle_datagram(with_session_id(g, sid2), attacker, now()));
    auto ev = events(p.server);
    ASSERT_EQ(ev.size(), 2U);
    EXPECT_NE(ev[1].kind, nc::event_kind::data) << "recorded DATA delivered a second time";
}

// --- handshake in progress ----------------------------------------------------------------------

TEST(bad_input, pending_server_entry_accepts_only_hello3_from_its_address) {
    const server_type::config cfg = neutrino::test::pair::server_cfg();
    server_type server(cfg, {}, neutrino::seeded_random(5));
    client_type client(neutrino::test::pair::client_cfg(), {}, neutrino::seeded_random(6));
    const time_point now{};
    ASSERT_TRUE(client.connect(now));
    auto hello1 = drain(client, now);
    ASSERT_EQ(hello1.size(), 1U);
    ASSERT_EQ(events(client).size(), 1U);  // connecting
    ASSERT_TRUE(server.handle_datagram(hello1[0].first, client_address, now));
    auto hello2 = drain(server, now);
    ASSERT_EQ(hello2.size(), 1U);
    const std::uint64_t sid = neutrino::load_le<std::uint64_t>(hello2[0].first.data() + 6);
    ASSERT_EQ(server.state_of(sid), nc::session_state::pending);
    // the client in PENDING drops anything but HELLO2, and HELLO2 from elsewhere
    expect_drop(client, hello2[0].first, stranger, now, nc::errc::wrong_peer,
                [&] { return view_of(client); });
    expect_drop(client, with_type(hello2[0].first, nc::packet_type::keep_alive), server_address,
                now, nc::errc::unexpected_packet, [&] { return view_of(client); });
    expect_drop(client, flipped(hello2[0].first, 60), server_address, now,
                nc::errc::decryption_failed, [&] { return view_of(client); });
    ASSERT_TRUE(client.handle_datagram(hello2[0].first, server_address, now));
    (void)events(client);
    auto hello3 = drain(client, now);
    ASSERT_EQ(hello3.size(), 1U);
    auto sv = [&] { return view_of(server, sid); };
    // HELLO3 retyped: PENDING accepts HELLO3 only (no teardown, unlike the reference)
    expect_drop(server, with_type(hello3[0].first, nc::packet_type::keep_alive), client_address,
                now, nc::errc::unexpected_packet, sv);
    expect_drop(server, with_type(hello3[0].first, nc::packet_type::client_good_bye),
                client_address, now, nc::errc::unexpected_packet, sv);
    // from another address
    expect_drop(server, hello3[0].first, stranger, now, nc::errc::wrong_peer, sv);
    // the same HELLO1 again is a replay (its key is taken)
    expect_drop(server, hello1[0].first, client_address, now, nc::errc::replayed, sv);
    // a second HELLO1 (new key) from the same address is a separate attempt
    neutrino::seeded_random other_key(77);
    ASSERT_TRUE(server.handle_datagram(make_hello1(fresh_public_key(other_key)), client_address, now));
    EXPECT_EQ(server.state_of(sid), nc::session_state::pending);
    EXPECT_EQ(server.session_count(), 2U);
    (void)drain(server, now);
    // the genuine HELLO3
    ASSERT_TRUE(server.handle_datagram(hello3[0].first, client_address, now));
    EXPECT_EQ(server.state_of(sid), nc::session_state::established);
    auto ev = events(server);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].kind, nc::event_kind::established);
    EXPECT_EQ(ev[0].session_id, sid);
    expect_drop(server, hello3[0].first, client_address, now, nc::errc::replayed, sv);
}

TEST(bad_input, server_never_answers_with_more_bytes_than_it_received) {
    // spec: neutrino.md §6.1, §18.5: anti-amplification, also with padding configured
    for (std::size_t min_size : {std::size_t{0}, std::size_t{1280}, std::size_t{5000}}) {
        SCOPED_TRACE(::testing::Message() << "min_datagram_size " << min_size);
        server_type::config cfg = neutrino::test::pair::server_cfg();
        cfg.min_datagram_size = min_size;
        server_type server(cfg, {}, neutrino::seeded_random(5));
        neutrino::seeded_random r(11);
        const time_point now{};
        for (std::uint16_t i = 0; i < 20; ++i) {
            const peer_address from = peer_address::v4({10, 1, 0, 1}, static_cast<std::uint16_t>(1000 + i));
            const bytes h = make_hello1(fresh_public_key(r));
            ASSERT_TRUE(server.handle_datagram(h, from, now));
            auto out = drain(server, now);
            ASSERT_EQ(out.size(), 1U);
            EXPECT_LE(out[0].first.size(), h.size());
            if (min_size == 0) {
                EXPECT_EQ(out[0].first.size(), 67U);
            }
            // a shorter HELLO1 gets no answer at all
            expect_drop(server, prefix(h, 1279), from, now, nc::errc::bad_hello,
                        [&] { return server.session_count(); });
        }
    }
}

// --- floods and limits  spec: neutrino.md §10.4, §18.1 item 8 --------------------------------

namespace {

struct flood_result {
    std::size_t accepted = 0;
    std::map<nc::errc, std::size_t> dropped;
};

// Sends `n` HELLO1s built from `templ`, each from its own address and with its own client key
// (the key's first bytes carry the index: a repeated key would be refused as a replay).
flood_result flood(server_type& server, const bytes& templ, std::uint32_t first, std::size_t n,
                   time_point now) {
    flood_result r;
    std::array<std::byte, nc::max_datagram_size> out;
    bytes hello1 = templ;
    for (std::uint32_t i = first; i < first + n; ++i) {
        neutrino::store_le<std::uint32_t>(hello1.data() + 29, i);
        const peer_address from = peer_address::v4(
            {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
             static_cast<std::uint8_t>(i)},
            static_cast<std::uint16_t>(1024 + i % 50000));
        auto res = server.handle_datagram(hello1, from, now);
        if (res) {
            ++r.accepted;
        } else {
            ++r.dropped[static_cast<nc::errc>(res.error().value())];
        }
        while (auto t = server.poll_datagram(out, now)) {
            EXPECT_EQ(t->to, from);
            EXPECT_LE(t->size, hello1.size());
        }
    }
    return r;
}

}  // namespace

TEST_F(bad_input_established, hello1_flood_is_rate_limited_and_the_session_survives) {
    neutrino::seeded_random r(3);
    const bytes hello1 = make_hello1(fresh_public_key(r));
    const auto cfg = p.server.configuration();
    const time_point t0 = now();
    const std::size_t sessions_before = p.server.session_count();
    const nc::stats stats_before = p.server.stats();

    // 10 000 HELLO1 from 10 000 addresses in the same virtual millisecond
    auto f1 = flood(p.server, hello1, 0, 10000, t0);
    EXPECT_LE(f1.accepted, cfg.hello_burst);
    EXPECT_GT(f1.accepted, 0U);
    EXPECT_EQ(f1.accepted + f1.dropped[nc::errc::rate_limited], 10000U);
    EXPECT_EQ(p.server.stats().dropped(nc::errc::rate_limited) -
                  stats_before.dropped(nc::errc::rate_limited),
              10000U - f1.accepted);
    EXPECT_EQ(p.server.stats().packets_accepted - stats_before.packets_accepted, f1.accepted);
    EXPECT_EQ(p.server.session_count(), sessions_before + f1.accepted);
    EXPECT_LE(p.server.pending_count(), cfg.max_pending);
    EXPECT_TRUE(events(p.server).empty());

    // 10 ms later the bucket has refilled by rate × 10 ms only
    const time_point t1 = t0 + 10ms;
    auto f2 = flood(p.server, hello1, 10000, 10000, t1);
    const auto refill = static_cast<std::size_t>(cfg.hello_rate) * 10 / 1000;
    EXPECT_LE(f2.accepted, refill);
    EXPECT_LE(p.server.session_count() - sessions_before,
              cfg.hello_burst + static_cast<std::size_t>(cfg.hello_rate) *
                                    static_cast<std::size_t>((t1 - neutrino::time_point{}) / 1ms) /
                                    1000);

    // the established session still works both ways
    ASSERT_EQ(p.server.state_of(sid), nc::session_state::established);
    ASSERT_TRUE(p.client.send(nc::words("after the flood"), now()));
    p.link.run_for(5ms);
    ASSERT_FALSE(p.server_data.empty());
    EXPECT_EQ(p.server_data.back()[0], "after the flood");
    ASSERT_TRUE(p.server.send(sid, nc::words("still serving"), now()));
    p.link.run_for(5ms);
    ASSERT_FALSE(p.client_data.empty());
    EXPECT_EQ(p.client_data.back()[0], "still serving");
    // the flood's entries time out; the established session does not
    p.link.run_for(400ms);
    EXPECT_EQ(p.server.session_count(), 1U);
    EXPECT_EQ(p.server.pending_count(), 0U);
    EXPECT_TRUE(p.client.established());
}

TEST(bad_input, hello1_flood_pending_entries_are_capped) {
    server_type::config cfg = neutrino::test::pair::server_cfg();
    cfg.max_pending = 100;
    cfg.hello_burst = 100000;  // take the token bucket out of the picture
    cfg.hello_rate = 1000000;
    server_type server(cfg, {}, neutrino::seeded_random(5));
    client_type client(neutrino::test::pair::client_cfg(), {}, neutrino::seeded_random(6));
    time_point now{};
    ASSERT_TRUE(client.connect(now));
    pump(client, client_address, server, now);
    ASSERT_TRUE(client.established());
    (void)events(client);
    (void)events(server);

    neutrino::seeded_random r(3);
    const bytes hello1 = make_hello1(fresh_public_key(r));
    auto f = flood(server, hello1, 0, 10000, now);
    EXPECT_EQ(f.accepted, 100U);
    EXPECT_EQ(f.dropped[nc::errc::session_limit], 9900U);
    EXPECT_EQ(server.pending_count(), 100U);
    EXPECT_EQ(server.session_count(), 101U);
    EXPECT_EQ(server.stats().dropped(nc::errc::session_limit), 9900U);

    // the established session still works
    ASSERT_TRUE(client.send(nc::words("ping"), now));
    pump(client, client_address, server, now);
    auto ev = events(server);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(nc::as_string(ev[0].words[0]), "ping");
    ASSERT_TRUE(server.send(client.session_id(), nc::words("pong"), now));
    pump(client, client_address, server, now);
    auto cev = events(client);
    ASSERT_EQ(cev.size(), 1U);
    EXPECT_EQ(nc::as_string(cev[0].words[0]), "pong");

    // once the pending entries expire, new handshakes are accepted again
    now += 300ms;
    server.handle_deadline(now);
    EXPECT_EQ(server.pending_count(), 0U);
    auto f2 = flood(server, hello1, 20000, 10, now);
    EXPECT_EQ(f2.accepted, 10U);
}

TEST_F(bad_input_established, per_host_limit_is_32_entries) {
    neutrino::seeded_random r(4);
    const bytes hello1 = make_hello1(fresh_public_key(r));  // never accepted: limits come first
    // the established client already holds one entry for 127.0.0.1
    for (std::uint16_t port = 50000; port < 50031; ++port) {
        ASSERT_TRUE(p.server.handle_datagram(make_hello1(fresh_public_key(r)),
                                             peer_address::v4({127, 0, 0, 1}, port), now()))
            << port;
        EXPECT_EQ(drain(p.server, now()).size(), 1U);
    }
    EXPECT_EQ(p.server.session_count(), 32U);
    server_drop(hello1, nc::errc::session_limit, peer_address::v4({127, 0, 0, 1}, 50031));
    server_drop(hello1, nc::errc::session_limit, peer_address::v4({127, 0, 0, 1}, 1));

    // another host: 32 entries, the 33rd is refused
    for (std::uint16_t port = 1; port <= 32; ++port) {
        ASSERT_TRUE(p.server.handle_datagram(make_hello1(fresh_public_key(r)),
                                             peer_address::v4({10, 7, 7, 7}, port), now()));
        (void)drain(p.server, now());
    }
    server_drop(hello1, nc::errc::session_limit, peer_address::v4({10, 7, 7, 7}, 33));
    // a third host is unaffected
    ASSERT_TRUE(p.server.handle_datagram(make_hello1(fresh_public_key(r)),
                                         peer_address::v4({10, 7, 7, 8}, 1), now()));
    (void)drain(p.server, now());
    // the established session is untouched
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);
}

// --- random garbage  spec: neutrino.md §18.2 item 15 -----------------------------------------

TEST_F(bad_input_established, random_datagrams_are_all_dropped_and_the_session_survives) {
    const std::uint64_t seed = test_seed("random_datagrams");
    std::mt19937_64 rng(seed);
    // genuine datagrams, already delivered, to mutate
    std::vector<bytes> genuine_c2s, genuine_s2c;
    for (int i = 0; i < 8; ++i) {
        bytes g = client_data(std::string(static_cast<std::size_t>(i * 37), 'c'));
        ASSERT_TRUE(p.server.handle_datagram(g, client_address, now()));
        genuine_c2s.push_back(std::move(g));
        bytes s = server_data(std::string(static_cast<std::size_t>(i * 41), 's'));
        ASSERT_TRUE(p.client.handle_datagram(s, server_address, now()));
        genuine_s2c.push_back(std::move(s));
    }
    (void)events(p.server);
    (void)events(p.client);
    const std::uint8_t types[] = {1, 2, 3, 4, 5, 6, 0x21, 0x47};

    auto make = [&](const std::vector<bytes>& genuine) {
        bytes d;
        switch (rng() % 4) {
            case 0: {  // pure noise
                d.resize(rng() % 1401);
                for (auto& b : d) b = static_cast<std::byte>(rng());
                break;
            }
            case 1:
            case 2: {  // a plausible header over noise
                d.resize(rng() % 1401);
                for (auto& b : d) b = static_cast<std::byte>(rng());
                if (d.size() >= nc::clear_header_size) {
                    std::uint64_t s = 0;
                    switch (rng() % 4) {
                        case 0: s = sid; break;
                        case 1: s = nc::session_id_pending; break;
                        case 2: s = rng() % 64; break;
                        default: s = rng(); break;
                    }
                    nc::clear_header{static_cast<std::uint8_t>(rng() % 10 == 0 ? rng() : 2),
                                     types[rng() % std::size(types)], s}
                        .write(d);
                    if (rng() % 8 == 0 && d.size() >= nc::total_header_size) {
                        neutrino::store_le<std::uint64_t>(d.data() + nc::clear_header_size, 2);
                    }
                }
                break;
            }
            default: {  // a delivered genuine datagram with a few bytes changed or cut
                d = genuine[rng() % genuine.size()];
                const auto flips = 1 + rng() % 3;
                for (std::uint64_t k = 0; k < flips; ++k) {
                    d[rng() % d.size()] ^= static_cast<std::byte>(1 + rng() % 255);
                }
                if (rng() % 4 == 0) d.resize(rng() % (d.size() + 1));
                break;
            }
        }
        return d;
    };

    const nc::stats s0 = p.server.stats();
    const nc::stats c0 = p.client.stats();
    std::array<std::byte, nc::max_datagram_size> out;
    std::size_t server_accepted = 0, client_accepted = 0, queued = 0, produced = 0;
    for (int i = 0; i < 100000; ++i) {
        const bytes a = make(genuine_c2s);
        const peer_address from_a = rng() % 2 ? client_address : stranger;
        if (p.server.handle_datagram(a, from_a, now())) ++server_accepted;
        const bytes b = make(genuine_s2c);
        if (p.client.handle_datagram(b, server_address, now())) ++client_accepted;
        if (p.server.poll_datagram(out, now())) ++queued;
        if (p.client.poll_datagram(out, now())) ++queued;
        if (p.server.poll_event()) ++produced;
        if (p.client.poll_event()) ++produced;
    }
    EXPECT_EQ(server_accepted, 0U) << "seed " << seed;
    EXPECT_EQ(client_accepted, 0U) << "seed " << seed;
    EXPECT_EQ(queued, 0U) << "seed " << seed;
    EXPECT_EQ(produced, 0U) << "seed " << seed;
    EXPECT_EQ(p.server.stats().dropped_total - s0.dropped_total, 100000U);
    EXPECT_EQ(p.client.stats().dropped_total - c0.dropped_total, 100000U);
    EXPECT_EQ(p.server.stats().packets_accepted, s0.packets_accepted);
    EXPECT_EQ(p.server.session_count(), 1U);
    EXPECT_EQ(p.server.state_of(sid), nc::session_state::established);
    EXPECT_EQ(p.client.state(), nc::session_state::established);

    ASSERT_TRUE(p.client.send(nc::words("alive"), now()));
    ASSERT_TRUE(p.server.send(sid, nc::words("alive too"), now()));
    p.link.run_for(5ms);
    ASSERT_FALSE(p.server_data.empty());
    EXPECT_EQ(p.server_data.back()[0], "alive");
    ASSERT_FALSE(p.client_data.empty());
    EXPECT_EQ(p.client_data.back()[0], "alive too");
}

// --- API misuse --------------------------------------------------------------------------------

TEST_F(bad_input_established, api_payload_and_word_limits) {
    const std::string fits(1211, 'x');  // 1 + 2 + 1211 = 1214
    const std::string too_big(1212, 'x');
    ASSERT_TRUE(p.client.send(nc::words(fits), now()));
    ASSERT_TRUE(p.server.send(sid, nc::words(fits), now()));
    auto c = drain(p.client, now());
    ASSERT_EQ(c.size(), 1U);
    EXPECT_EQ(c[0].first.size(), nc::max_datagram_size);
    auto s = drain(p.server, now());
    ASSERT_EQ(s.size(), 1U);
    EXPECT_EQ(s[0].first.size(), nc::max_datagram_size);

    EXPECT_EQ(err(p.client.send(nc::words(too_big), now())), nc::errc::payload_too_large);
    EXPECT_EQ(err(p.server.send(sid, nc::words(too_big), now())), nc::errc::payload_too_large);
    const std::string w610(610, 'y');  // 1 + 2 × 612 = 1225
    EXPECT_EQ(err(p.client.send(nc::words(w610, w610), now())), nc::errc::payload_too_large);

    const std::vector<nc::word> w255(255, nc::as_word("a"));
    const std::vector<nc::word> w256(256, nc::as_word("a"));
    EXPECT_TRUE(p.client.send(w255, now()));
    EXPECT_EQ(err(p.client.send(w256, now())), nc::errc::too_many_words);
    EXPECT_EQ(err(p.server.send(sid, w256, now())), nc::errc::too_many_words);
    EXPECT_EQ(p.server.send_to_all(w256, now()), 0U);
    const std::vector<std::byte> huge(65536);
    const std::array<nc::word, 1> one{nc::word(huge)};
    EXPECT_EQ(err(p.client.send(one, now())), nc::errc::word_too_large);
    EXPECT_EQ(drain(p.client, now()).size(), 1U);  // only the 255-word datagram
    EXPECT_TRUE(drain(p.server, now()).empty());
}

TEST(api_misuse, bad_keys) {
    const std::string good(nc::example_public_key_hex);
    EXPECT_TRUE(nc::parse_key_hex(good));
    EXPECT_EQ(err(nc::parse_key_hex(good.substr(0, 63))), nc::errc::bad_key);
    EXPECT_EQ(err(nc::parse_key_hex(good + "0")), nc::errc::bad_key);
    EXPECT_EQ(err(nc::parse_key_hex("")), nc::errc::bad_key);
    for (char bad : {'g', 'G', ' ', 'x', '\0', '-'}) {
        std::string k = good;
        k[17] = bad;
        EXPECT_EQ(err(nc::parse_key_hex(k)), nc::errc::bad_key) << int{bad};
    }
    std::string upper = good;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char ch) { return static_cast<char>(std::toupper(static_cast<unsigned char>(ch))); });
    EXPECT_EQ(*nc::parse_key_hex(upper), *nc::parse_key_hex(good));

    EXPECT_TRUE(nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex));
    std::string other_pk = good;
    other_pk[0] = other_pk[0] == '0' ? '1' : '0';
    EXPECT_EQ(err(nc::keypair_from_hex(other_pk, nc::example_secret_key_hex)), nc::errc::bad_key);
    EXPECT_EQ(err(nc::keypair_from_hex(nc::example_secret_key_hex, nc::example_public_key_hex)),
              nc::errc::bad_key);
    EXPECT_EQ(err(nc::keypair_from_hex(good.substr(1), nc::example_secret_key_hex)),
              nc::errc::bad_key);
    EXPECT_EQ(err(nc::keypair_from_hex(nc::example_public_key_hex, "zz")), nc::errc::bad_key);
}

TEST(api_misuse, client_send_before_connect_and_while_pending) {
    client_type client(neutrino::test::pair::client_cfg(), {}, neutrino::seeded_random(1));
    const time_point now{};
    EXPECT_EQ(err(client.send(nc::words("x"), now)), nc::errc::not_connected);
    ASSERT_TRUE(client.connect(now));
    EXPECT_EQ(client.state(), nc::session_state::pending);
    EXPECT_EQ(err(client.send(nc::words("x"), now)), nc::errc::not_connected);
    auto out = drain(client, now);
    ASSERT_EQ(out.size(), 1U);  // the HELLO1 only
    EXPECT_EQ(out[0].first.size(), nc::max_datagram_size);
}

TEST(api_misuse, client_with_a_low_order_server_key_cannot_connect) {
    auto cfg = neutrino::test::pair::client_cfg();
    cfg.server_key = nc::public_key{};
    client_type client(cfg, {}, neutrino::seeded_random(1));
    EXPECT_EQ(err(client.connect(time_point{})), nc::errc::low_order_key);
    std::array<std::byte, nc::max_datagram_size> out;
    EXPECT_FALSE(client.poll_datagram(out, time_point{}));
}

TEST_F(bad_input_established, api_send_while_draining_and_after_close) {
    p.server.shutdown(now());
    EXPECT_EQ(err(p.server.send(sid, nc::words("x"), now())), nc::errc::closed);
    EXPECT_EQ(p.server.send_to_all(nc::words("x"), now()), 0U);
    p.link.run_for(5ms);
    ASSERT_EQ(p.client.state(), nc::session_state::draining);
    EXPECT_EQ(err(p.client.send(nc::words("x"), now())), nc::errc::draining);
    p.client.close(now());
    EXPECT_EQ(err(p.client.send(nc::words("x"), now())), nc::errc::not_connected);
}

TEST_F(bad_input_established, api_send_queue_full_would_block) {
    const std::size_t cap = p.client.configuration().send_queue_capacity;
    ASSERT_EQ(p.client.send_capacity(), cap);
    for (std::size_t i = 0; i < cap; ++i) ASSERT_TRUE(p.client.send(nc::words("q"), now())) << i;
    EXPECT_EQ(p.client.send_capacity(), 0U);
    EXPECT_EQ(err(p.client.send(nc::words("q"), now())), nc::errc::would_block);
    std::array<std::byte, nc::max_datagram_size> out;
    ASSERT_TRUE(p.client.poll_datagram(out, now()));
    EXPECT_TRUE(p.client.send(nc::words("q"), now()));

    const std::size_t scap = p.server.configuration().send_queue_capacity;
    for (std::size_t i = 0; i < scap; ++i) ASSERT_TRUE(p.server.send(sid, nc::words("q"), now()));
    EXPECT_EQ(err(p.server.send(sid, nc::words("q"), now())), nc::errc::would_block);
    // a HELLO1 that would need a HELLO2 is dropped rather than queued beyond capacity
    neutrino::seeded_random r(8);
    const auto before = sview();
    const auto blocked = p.server.stats().dropped(nc::errc::would_block);
    EXPECT_EQ(err(p.server.handle_datagram(make_hello1(fresh_public_key(r)),
                                           peer_address::v4({10, 0, 0, 9}, 1), now())),
              nc::errc::would_block);
    EXPECT_EQ(p.server.stats().dropped(nc::errc::would_block), blocked + 1);
    EXPECT_TRUE(sview() == before);
    // a too-small output buffer keeps the datagram queued
    std::array<std::byte, 10> tiny;
    EXPECT_FALSE(p.server.poll_datagram(tiny, now()));
    EXPECT_TRUE(p.server.poll_datagram(out, now()));
}

TEST(api_misuse, server_send_to_unknown_or_pending_session) {
    server_type server(neutrino::test::pair::server_cfg(), {}, neutrino::seeded_random(2));
    client_type client(neutrino::test::pair::client_cfg(), {}, neutrino::seeded_random(3));
    const time_point now{};
    EXPECT_EQ(err(server.send(64, nc::words("x"), now)), nc::errc::unknown_session);
    ASSERT_TRUE(client.connect(now));
    auto h1 = drain(client, now);
    ASSERT_TRUE(server.handle_datagram(h1.at(0).first, client_address, now));
    auto h2 = drain(server, now);
    const std::uint64_t sid = neutrino::load_le<std::uint64_t>(h2.at(0).first.data() + 6);
    EXPECT_EQ(err(server.send(sid, nc::words("x"), now)), nc::errc::not_connected);
    EXPECT_EQ(server.send_to_all(nc::words("x"), now), 0U);
}
