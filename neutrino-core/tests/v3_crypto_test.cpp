#include "neutrino/core/v3/crypto.hpp"

// Primitives of wire v3 (spec: neutrino-v3.md §6) against tests/vectors/neutrino-v3.json:
// key derivations, DH values, the REKEY chain, HMAC/HKDF through the Noise split, the AEAD
// nonce layout, and the all-zero DH rule.

#include <gtest/gtest.h>

#define BOOST_BIND_GLOBAL_PLACEHOLDERS
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/core/v3/error.hpp"

namespace v3 = neutrino::core::v3;
namespace pt = boost::property_tree;

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

const pt::ptree& doc() {
    static const pt::ptree t = [] {
        pt::ptree r;
        pt::read_json(std::string(NEUTRINO_TEST_VECTORS_DIR) + "/neutrino-v3.json", r);
        return r;
    }();
    return t;
}
v3::secret_key secret(const std::string& h) {
    auto b = from_hex(h);
    EXPECT_EQ(b.size(), 32U);
    b.resize(32);
    return v3::secret_key(std::span<const std::byte, 32>(b.data(), 32));
}
v3::public_key pub(const std::string& h) {
    v3::public_key k{};
    auto b = from_hex(h);
    EXPECT_EQ(b.size(), 32U);
    std::copy_n(b.begin(), std::min<std::size_t>(b.size(), 32), k.begin());
    return k;
}

}  // namespace

TEST(v3_crypto, static_keys_mac1_key_and_cookie_key) {
    neutrino::ensure_sodium();
    const pt::ptree& k = doc().get_child("keys");
    const auto s_pub = v3::public_key_of(secret(k.get<std::string>("server_static_secret")));
    EXPECT_EQ(hex(s_pub), k.get<std::string>("server_static_public"));
    EXPECT_EQ(hex(v3::public_key_of(secret(k.get<std::string>("client_static_secret")))),
              k.get<std::string>("client_static_public"));
    EXPECT_EQ(hex(v3::derive_mac1_key(s_pub)), k.get<std::string>("mac1_key"));
    EXPECT_EQ(hex(v3::derive_cookie_key(s_pub)), k.get<std::string>("cookie_key"));
    EXPECT_EQ(v3::label_mac1.size(), 16U);
    EXPECT_EQ(v3::label_cookie.size(), 18U);
}

TEST(v3_crypto, dh_values_of_every_scenario) {
    neutrino::ensure_sodium();
    const pt::ptree& k = doc().get_child("keys");
    const auto s_pub = pub(k.get<std::string>("server_static_public"));
    const auto c_sk = secret(k.get<std::string>("client_static_secret"));
    for (const auto& [_, sc] : doc().get_child("scenarios")) {
        SCOPED_TRACE(sc.get<std::string>("name"));
        const auto e = secret(sc.get<std::string>("inputs.client_ephemeral_secret"));
        const auto f = secret(sc.get<std::string>("inputs.server_ephemeral_secret"));
        const auto f_pub = v3::public_key_of(f);
        EXPECT_EQ(hex(v3::public_key_of(e)), sc.get<std::string>("derived.client_ephemeral_public"));
        EXPECT_EQ(hex(f_pub), sc.get<std::string>("derived.server_ephemeral_public"));
        const pt::ptree& d = sc.get_child("derived.dh");
        auto es = v3::dh(e, s_pub);
        auto ee = v3::dh(e, f_pub);
        ASSERT_TRUE(es && ee);
        EXPECT_EQ(hex(es->bytes()), d.get<std::string>("es"));
        EXPECT_EQ(hex(ee->bytes()), d.get<std::string>("ee"));
        if (sc.get<bool>("inputs.client_static")) {
            auto ss = v3::dh(c_sk, s_pub);
            auto se = v3::dh(c_sk, f_pub);
            ASSERT_TRUE(ss && se);
            EXPECT_EQ(hex(ss->bytes()), d.get<std::string>("ss"));
            EXPECT_EQ(hex(se->bytes()), d.get<std::string>("se"));
        } else {
            EXPECT_FALSE(d.get_child_optional("ss"));
        }
    }
}

TEST(v3_crypto, rekey_chain_phases_1_and_2) {
    neutrino::ensure_sodium();
    for (const auto& [_, sc] : doc().get_child("scenarios")) {
        SCOPED_TRACE(sc.get<std::string>("name"));
        const auto tk = sc.get_child_optional("derived.transport_keys");
        if (!tk) continue;
        for (const char* dir : {"c2s", "s2c"}) {
            std::vector<std::string> chain;
            for (const auto& [__, v] : tk->get_child(dir)) chain.push_back(v.data());
            ASSERT_EQ(chain.size(), 3U) << dir;
            v3::secret_key k = secret(chain[0]);
            for (std::size_t p = 1; p < chain.size(); ++p) {
                k = v3::rekey(k);
                EXPECT_EQ(hex(k.bytes()), chain[p]) << dir << " phase " << p;
            }
        }
    }
}

TEST(v3_crypto, low_order_points_are_rejected) {
    neutrino::ensure_sodium();
    const auto sk = secret("65dfb96d52d0db3d39c34191e0aa1f5a6149b86dfc669b7c40e17630cc0776fc");
    // The identity (0), 1, and the order-8 point of Curve25519: every one gives an all-zero
    // shared secret, which §6 requires to be a failure.
    const std::array<std::string, 3> bad = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"};
    for (const auto& h : bad) {
        auto r = v3::dh(sk, pub(h));
        ASSERT_FALSE(r) << h;
        EXPECT_EQ(r.error(), v3::errc::low_order_point);
        EXPECT_EQ(r.error(), neutrino::core::condition::unauthenticated);
    }
}

TEST(v3_crypto, chacha_nonce_is_four_zero_bytes_then_le64) {
    const auto n = v3::aead_chacha20poly1305_ietf::nonce(0x0807060504030201ULL);
    EXPECT_EQ(hex(n), "000000000102030405060708");
    EXPECT_EQ(hex(v3::aead_chacha20poly1305_ietf::nonce(v3::unnumbered_base + 1)), "000000000100000000000080");
}

TEST(v3_crypto, aead_round_trip_in_place_and_tamper) {
    neutrino::ensure_sodium();
    const auto key = secret("8aa44bf80dc4900a3562b2b11b3aceb15596531a87422aea3a7c6babdd504c25");
    std::array<std::byte, 5 + 16> buf{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
    const std::array<std::byte, 3> ad{std::byte{9}, std::byte{9}, std::byte{9}};
    auto c = v3::aead_chacha20poly1305_ietf::seal(buf, std::span(buf).first(5), ad, 7, key);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, 21U);
    auto copy = buf;
    auto p = v3::aead_chacha20poly1305_ietf::open(copy, copy, ad, 7, key);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 5U);
    EXPECT_EQ(copy[4], std::byte{5});
    EXPECT_EQ(v3::aead_chacha20poly1305_ietf::open(copy, buf, ad, 8, key).error(), v3::errc::decryption_failed);
    EXPECT_EQ(v3::aead_chacha20poly1305_ietf::open(copy, std::span(buf).first(15), ad, 7, key).error(),
              v3::errc::decryption_failed);
    std::array<std::byte, 4> small{};
    EXPECT_EQ(v3::aead_chacha20poly1305_ietf::seal(small, std::span(buf).first(5), ad, 7, key).error(),
              v3::errc::buffer_too_small);
}

TEST(v3_crypto, hmac_matches_rfc2104_definition_and_hkdf_chains_it) {
    neutrino::ensure_sodium();
    // HMAC by its definition with one-shot BLAKE2b, against the streaming implementation.
    const bytes key = from_hex(std::string(128, 'a'));  // 64 bytes of 0xaa
    const bytes msg = from_hex("00112233445566778899");
    std::array<std::byte, 128> ipad{}, opad{};
    for (std::size_t i = 0; i < 128; ++i) {
        const std::byte k = i < key.size() ? key[i] : std::byte{0};
        ipad[i] = k ^ std::byte{0x36};
        opad[i] = k ^ std::byte{0x5c};
    }
    const auto inner = v3::hash({ipad, msg});
    const auto want = v3::hash({opad, inner});
    const auto got = v3::hmac(key, {msg});
    EXPECT_EQ(hex(got.bytes()), hex(want));
    // Split parts are equivalent to one contiguous input.
    EXPECT_EQ(hex(v3::hmac(key, {std::span(msg).first(3), std::span(msg).subspan(3)}).bytes()), hex(want));
    // HKDF(ck, ikm, 2) = (HMAC(t, 01), HMAC(t, o1 ‖ 02)) with t = HMAC(ck, ikm).
    auto [o1, o2] = v3::hkdf2(key, msg);
    const auto t = v3::hmac(key, {msg});
    const std::array<std::byte, 1> one{std::byte{1}}, two{std::byte{2}};
    EXPECT_EQ(hex(o1.bytes()), hex(v3::hmac(t.bytes(), {one}).bytes()));
    EXPECT_EQ(hex(o2.bytes()), hex(v3::hmac(t.bytes(), {o1.bytes(), two}).bytes()));
}

TEST(v3_crypto, equal_ct) {
    const std::array<std::byte, 2> a{std::byte{1}, std::byte{2}}, b{std::byte{1}, std::byte{3}};
    EXPECT_TRUE(v3::equal_ct(a, a));
    EXPECT_FALSE(v3::equal_ct(a, b));
    EXPECT_FALSE(v3::equal_ct(a, std::span(a).first(1)));
}
