#include "neutrino/p2p/probe.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <vector>

#include "neutrino/p2p/envelope.hpp"
#include "p2p_test_support.hpp"

namespace {

using namespace neutrino::p2p;
using p2p_test::error_of;

probe_key_bytes test_key(std::uint8_t fill) {
    probe_key_bytes k{};
    k.fill(std::byte{fill});
    return k;
}

probe sample_probe() {
    probe p;
    p.attempt_id = 0x1122334455667788ull;
    for (std::size_t i = 0; i < node_id_size; ++i) p.sender[i] = static_cast<std::byte>(0xA0 + i);
    p.nonce = 0x0102030405060708ull;
    p.echo_nonce = 0xF0E0D0C0B0A09080ull;
    return p;
}

TEST(p2p_probe, layout_is_little_endian_and_57_bytes) {
    static_assert(probe_size == 1 + 8 + 16 + 8 + 8 + 16);
    const auto key = test_key(7);
    std::array<std::byte, 64> out{};
    const auto n = encode_probe(sample_probe(), key, out);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, probe_size);
    EXPECT_EQ(neutrino::to_hex(std::span(out).first(41)),
              "02"
              "8877665544332211"
              "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
              "0807060504030201"
              "8090a0b0c0d0e0f0");
    // the MAC is keyed BLAKE2b-128 over the first 41 bytes
    std::array<std::byte, 16> mac{};
    crypto_generichash(reinterpret_cast<unsigned char*>(mac.data()), mac.size(),
                       reinterpret_cast<const unsigned char*>(out.data()), 41,
                       reinterpret_cast<const unsigned char*>(key.data()), key.size());
    EXPECT_EQ(neutrino::to_hex(std::span(out).subspan(41, 16)), neutrino::to_hex(mac));
    EXPECT_EQ(classify(std::span(out).first(*n)), datagram_kind::peer_control);
}

TEST(p2p_probe, round_trip_and_wrong_key) {
    const auto key = test_key(7);
    std::array<std::byte, probe_size> out{};
    ASSERT_TRUE(encode_probe(sample_probe(), key, out));
    const auto d = decode_probe(out, key);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, sample_probe());
    const auto peek = peek_probe(out);
    ASSERT_TRUE(peek);
    EXPECT_EQ(*peek, sample_probe());
    EXPECT_EQ(error_of(decode_probe(out, test_key(8))), errc::probe_bad_mac);
}

TEST(p2p_probe, every_flipped_bit_is_rejected) {
    const auto key = test_key(3);
    std::array<std::byte, probe_size> out{};
    ASSERT_TRUE(encode_probe(sample_probe(), key, out));
    for (std::size_t i = 0; i < out.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            out[i] ^= static_cast<std::byte>(1 << bit);
            const auto d = decode_probe(out, key);
            ASSERT_FALSE(d) << i << ":" << bit;
            EXPECT_EQ(d.error(), i == 0 ? errc::bad_envelope_type : errc::probe_bad_mac);
            out[i] ^= static_cast<std::byte>(1 << bit);
        }
    }
    EXPECT_TRUE(decode_probe(out, key));
}

TEST(p2p_probe, sizes) {
    const auto key = test_key(1);
    std::vector<std::byte> out(probe_size + 1);
    ASSERT_TRUE(encode_probe(sample_probe(), key, out));
    EXPECT_EQ(error_of(decode_probe(out, key)), errc::probe_bad_size);  // one trailing byte
    for (std::size_t n = 1; n < probe_size; ++n) {
        EXPECT_EQ(error_of(decode_probe(std::span(out).first(n), key)), errc::probe_bad_size);
    }
    EXPECT_EQ(error_of(decode_probe({}, key)), errc::envelope_empty);
    std::vector<std::byte> small(probe_size - 1);
    EXPECT_EQ(error_of(encode_probe(sample_probe(), key, small)), errc::buffer_too_small);
}

TEST(p2p_probe, node_id_is_blake2b_256_prefix) {
    std::array<std::byte, 32> pk{};
    for (std::size_t i = 0; i < pk.size(); ++i) pk[i] = static_cast<std::byte>(i);
    std::array<std::byte, 32> h{};
    crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), h.size(),
                       reinterpret_cast<const unsigned char*>(pk.data()), pk.size(), nullptr, 0);
    const node_id id = node_id_of(pk);
    EXPECT_EQ(neutrino::to_hex(id), neutrino::to_hex(std::span(h).first(16)));
    pk[31] ^= std::byte{1};
    EXPECT_NE(node_id_of(pk), id);
}

TEST(p2p_probe, probe_key_is_symmetric_and_depends_on_both_secrets) {
    ASSERT_GE(sodium_init(), 0);
    // two static X25519 key pairs: both sides compute the same shared secret, so the same key
    std::array<unsigned char, 32> a_sk{}, a_pk{}, b_sk{}, b_pk{};
    crypto_box_keypair(a_pk.data(), a_sk.data());
    crypto_box_keypair(b_pk.data(), b_sk.data());
    std::array<std::byte, 32> ab{}, ba{};
    ASSERT_EQ(
        crypto_scalarmult(reinterpret_cast<unsigned char*>(ab.data()), a_sk.data(), b_pk.data()),
        0);
    ASSERT_EQ(
        crypto_scalarmult(reinterpret_cast<unsigned char*>(ba.data()), b_sk.data(), a_pk.data()),
        0);
    std::array<std::byte, 32> punch{};
    punch.fill(std::byte{0x5a});
    const auto k1 = probe_key(punch, ab);
    const auto k2 = probe_key(punch, ba);
    EXPECT_EQ(k1, k2);
    auto other_punch = punch;
    other_punch[0] ^= std::byte{1};
    EXPECT_NE(probe_key(other_punch, ab), k1);
    auto other_shared = ab;
    other_shared[0] ^= std::byte{1};
    EXPECT_NE(probe_key(punch, other_shared), k1);

    // the label is part of the derivation: BLAKE2b-256(key = punch, label || shared)
    const std::string_view label = "neutrino p2p probe key v1";
    std::vector<unsigned char> msg(label.begin(), label.end());
    for (std::byte b : ab) msg.push_back(std::to_integer<unsigned char>(b));
    std::array<std::byte, 32> expect{};
    crypto_generichash(reinterpret_cast<unsigned char*>(expect.data()), expect.size(), msg.data(),
                       msg.size(), reinterpret_cast<const unsigned char*>(punch.data()),
                       punch.size());
    EXPECT_EQ(k1, expect);
}

}  // namespace
