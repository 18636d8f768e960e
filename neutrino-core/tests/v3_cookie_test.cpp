#include "neutrino/core/v3/cookie.hpp"

// Cookies (spec: neutrino-v3.md §8) against tests/vectors/neutrino-v3.json scenario
// `ik_reliable_cookie`: address bytes, cookie, COOKIE_REPLY byte-exact and opened, mac2 and
// the HELLO1 resent with it; the must_reject entries `cookie_reply` and mac2; secret rotation.

#include <gtest/gtest.h>

#define BOOST_BIND_GLOBAL_PLACEHOLDERS
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace v3 = neutrino::core::v3;
namespace pt = boost::property_tree;
using neutrino::peer_address;
using namespace std::chrono_literals;

namespace {

using bytes = std::vector<std::byte>;

bytes from_hex(std::string_view hex) {
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    bytes out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        const int hi = nib(hex[i]), lo = nib(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            ADD_FAILURE() << "bad hex: " << hex;
            return {};
        }
        out.push_back(static_cast<std::byte>((hi << 4) | lo));
    }
    return out;
}
std::string hex(std::span<const std::byte> b) { return neutrino::to_hex(b); }
template <std::size_t N>
std::array<std::byte, N> fixed(const std::string& h) {
    std::array<std::byte, N> a{};
    auto b = from_hex(h);
    EXPECT_EQ(b.size(), N) << h;
    std::copy_n(b.begin(), std::min(N, b.size()), a.begin());
    return a;
}

const pt::ptree& doc() {
    static const pt::ptree t = [] {
        pt::ptree r;
        pt::read_json(std::string(NEUTRINO_TEST_VECTORS_DIR) + "/neutrino-v3.json", r);
        return r;
    }();
    return t;
}
const pt::ptree& cookie_scenario() {
    for (const auto& [_, sc] : doc().get_child("scenarios")) {
        if (sc.get<std::string>("name") == "ik_reliable_cookie") return sc;
    }
    throw std::runtime_error("ik_reliable_cookie missing");
}
bytes datagram(const pt::ptree& sc, std::size_t index) {
    std::size_t i = 0;
    for (const auto& [_, d] : sc.get_child("datagrams")) {
        if (i++ == index) return from_hex(d.get<std::string>("wire_hex"));
    }
    ADD_FAILURE() << "no datagram " << index;
    return {};
}
peer_address parse_v4(const std::string& ip, std::uint16_t port) {
    std::array<std::uint8_t, 4> o{};
    std::size_t pos = 0;
    for (auto& x : o) {
        const std::size_t dot = ip.find('.', pos);
        x = static_cast<std::uint8_t>(std::stoul(ip.substr(pos, dot - pos)));
        pos = dot + 1;
    }
    return peer_address::v4(o, port);
}
v3::cookie_secret secret_of(const std::string& h) {
    const auto a = fixed<32>(h);
    return v3::cookie_secret(a);
}

struct fixture {
    const pt::ptree& sc = cookie_scenario();
    peer_address addr = parse_v4(sc.get<std::string>("inputs.cookie.client_ip"),
                                 sc.get<std::uint16_t>("inputs.cookie.client_port"));
    v3::cookie_secret secret = secret_of(sc.get<std::string>("inputs.cookie.cookie_secret"));
    v3::derived_key cookie_key = fixed<32>(doc().get<std::string>("keys.cookie_key"));
    v3::mac_value mac1 = fixed<16>(sc.get<std::string>("derived.mac1_hex"));
    bytes hello1 = datagram(sc, 0), reply = datagram(sc, 1), hello1_mac2 = datagram(sc, 2);
};

}  // namespace

TEST(v3_cookie, address_bytes_and_cookie) {
    neutrino::ensure_sodium();
    fixture f;
    EXPECT_EQ(hex(v3::cookie_address::of(f.addr).view()), f.sc.get<std::string>("derived.cookie.address_bytes_hex"));
    EXPECT_EQ(hex(v3::make_cookie(f.secret, f.addr)), f.sc.get<std::string>("derived.cookie.cookie_hex"));
    const auto v6 = peer_address::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0x1234);
    EXPECT_EQ(hex(v3::cookie_address::of(v6).view()), "0620010db8000000000000000000000001" "3412");
}

TEST(v3_cookie, cookie_reply_byte_exact_and_opened) {
    neutrino::ensure_sodium();
    fixture f;
    const auto nonce = fixed<24>(f.sc.get<std::string>("inputs.cookie.reply_nonce"));
    std::array<std::byte, v3::cookie_reply_size> out{};
    auto n = v3::write_cookie_reply(out, f.cookie_key, nonce, f.mac1, v3::make_cookie(f.secret, f.addr));
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, v3::cookie_reply_size);
    EXPECT_EQ(hex(out), hex(f.reply));
    std::size_t i = 0;
    for (const auto& [_, d] : f.sc.get_child("datagrams")) {
        if (i++ != 1) continue;
        EXPECT_EQ(d.get<std::string>("fields.nonce_hex"), hex(nonce));
        EXPECT_EQ(d.get<std::string>("fields.aad_hex"), hex(std::span(out).first(14)) + hex(f.mac1));
    }
    auto c = v3::open_cookie_reply(f.reply, f.cookie_key, f.mac1);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(hex(*c), f.sc.get<std::string>("derived.cookie.cookie_hex"));
    // bound to the HELLO1 it answers: another mac1 does not open it
    v3::mac_value other = f.mac1;
    other[0] ^= std::byte{1};
    EXPECT_EQ(v3::open_cookie_reply(f.reply, f.cookie_key, other).error(), v3::errc::decryption_failed);
    EXPECT_EQ(v3::open_cookie_reply(std::span(f.reply).first(69), f.cookie_key, f.mac1).error(), v3::errc::bad_size);
}

TEST(v3_cookie, client_sets_mac2_and_server_verifies_it) {
    neutrino::ensure_sodium();
    fixture f;
    const v3::cookie c = v3::make_cookie(f.secret, f.addr);
    bytes h = f.hello1;
    ASSERT_TRUE(v3::set_mac2(h, c));
    EXPECT_EQ(hex(h), hex(f.hello1_mac2));  // same bytes 0..1264, new mac2
    EXPECT_EQ(hex(std::span(h).subspan(v3::mac2_offset)), f.sc.get<std::string>("derived.cookie.mac2_hex"));
    ASSERT_TRUE(v3::set_mac2(h, std::nullopt));
    EXPECT_EQ(hex(h), hex(f.hello1));

    const auto t0 = neutrino::time_point{} + 1000s;
    const v3::cookie_secrets secrets(f.secret, t0);
    const auto derived_mac1_key = v3::derive_mac1_key(
        fixed<32>(doc().get<std::string>("keys.server_static_public")));
    ASSERT_TRUE(v3::check_hello1(f.hello1_mac2, derived_mac1_key));  // mac1 unchanged by mac2
    EXPECT_TRUE(secrets.check_mac2(f.hello1_mac2, f.addr));
    EXPECT_EQ(secrets.check_mac2(f.hello1, f.addr).error(), v3::errc::bad_mac2);  // no cookie
    EXPECT_EQ(secrets.check_mac2(f.hello1_mac2, parse_v4("127.0.0.1", 40001)).error(), v3::errc::bad_mac2);
}

// spec: neutrino-v3.md §18.4 must_reject, checks `cookie_reply` and the mac2 `hello1` entry.
TEST(v3_cookie, must_reject_cookie_reply_and_mac2_mutations) {
    neutrino::ensure_sodium();
    fixture f;
    const v3::cookie_secrets secrets(f.secret, neutrino::time_point{});
    int checked = 0;
    for (const auto& [_, m] : doc().get_child("must_reject")) {
        const std::string check = m.get<std::string>("check");
        const bool mac2_case = check == "hello1" && m.get<std::size_t>("datagram") == 2;
        if (check != "cookie_reply" && !mac2_case) continue;
        SCOPED_TRACE(m.get<std::string>("what"));
        ASSERT_EQ(m.get<std::string>("scenario"), "ik_reliable_cookie");
        bytes w = datagram(f.sc, m.get<std::size_t>("datagram"));
        const bytes orig = w;
        w.at(m.get<std::size_t>("offset")) ^= static_cast<std::byte>(m.get<unsigned>("xor"));
        if (mac2_case) {
            ASSERT_TRUE(secrets.check_mac2(orig, f.addr));
            EXPECT_EQ(secrets.check_mac2(w, f.addr).error(), v3::errc::bad_mac2);
        } else {
            ASSERT_TRUE(v3::open_cookie_reply(orig, f.cookie_key, f.mac1));
            auto r = v3::open_cookie_reply(w, f.cookie_key, f.mac1);
            ASSERT_FALSE(r);
            // The header mutation (session id 2 → 3) fails the layout check before the AEAD,
            // which would reject it too since the header is associated data.
            EXPECT_EQ(r.error(), m.get<std::size_t>("offset") < v3::clear_header_size ? v3::errc::bad_header
                                                                                      : v3::errc::decryption_failed);
            if (m.get<std::size_t>("offset") < v3::clear_header_size) {
                // and the AEAD alone rejects it as well: the header is associated data
                std::array<std::byte, 30> ad{};
                std::copy_n(w.begin(), 14, ad.begin());
                std::copy(f.mac1.begin(), f.mac1.end(), ad.begin() + 14);
                v3::cookie c{};
                EXPECT_FALSE(v3::aead_xchacha20poly1305_ietf::open(
                    c, std::span(w).subspan(38), ad, std::span<const std::byte, 24>(w.data() + 14, 24), f.cookie_key));
            } else {
                EXPECT_EQ(r.error(), neutrino::core::condition::unauthenticated);
            }
        }
        ++checked;
    }
    EXPECT_EQ(checked, 3);
}

// spec: neutrino-v3.md §8.3, §8.4: rotation every 120 s keeping the previous secret; a cookie
// is accepted for its whole 120 s client lifetime, and rejected after two rotations.
TEST(v3_cookie, rotation_current_and_previous_accepted_older_rejected) {
    neutrino::ensure_sodium();
    fixture f;
    neutrino::seeded_random rnd(7);
    const auto t0 = neutrino::time_point{} + 10000s;
    v3::cookie_secrets s(f.secret, t0);
    bytes h = f.hello1;
    ASSERT_TRUE(v3::set_mac2(h, s.cookie_for(f.addr)));
    EXPECT_FALSE(s.rotate_if_due(t0 + 119s, rnd));
    EXPECT_TRUE(s.check_mac2(h, f.addr));
    EXPECT_TRUE(s.rotate_if_due(t0 + 120s, rnd));  // the cookie's secret is now the previous one
    EXPECT_TRUE(s.check_mac2(h, f.addr));
    EXPECT_FALSE(s.rotate_if_due(t0 + 239s, rnd));
    EXPECT_TRUE(s.rotate_if_due(t0 + 240s, rnd));  // two rotations later: gone
    EXPECT_EQ(s.check_mac2(h, f.addr).error(), v3::errc::bad_mac2);

    // A cookie made at any moment stays valid for its whole client lifetime, whatever the
    // (lazy) rotation calls in between.
    for (int issue = 0; issue < 240; issue += 7) {
        v3::cookie_secrets srv(f.secret, t0);
        const auto issued_at = t0 + std::chrono::seconds(issue);
        for (auto t = t0; t <= issued_at; t += 13s) srv.rotate_if_due(t, rnd);
        srv.rotate_if_due(issued_at, rnd);
        const v3::held_cookie held{srv.cookie_for(f.addr), issued_at};
        ASSERT_TRUE(v3::set_mac2(h, held.value));
        for (auto t = issued_at; held.fresh(t); t += 11s) {
            srv.rotate_if_due(t, rnd);
            ASSERT_TRUE(srv.check_mac2(h, f.addr)) << "issued +" << issue << " s, checked +"
                                                   << std::chrono::duration_cast<std::chrono::seconds>(t - issued_at).count();
        }
    }
    const v3::held_cookie hc{{}, t0};
    EXPECT_TRUE(hc.fresh(t0 + 119s));
    EXPECT_FALSE(hc.fresh(t0 + 120s));
}
