#include "neutrino/p2p/envelope.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "p2p_test_support.hpp"
#include "vectors/rfc5769.hpp"

namespace {

using namespace neutrino::p2p;
using p2p_test::error_of;
using p2p_test::from_hex;

TEST(p2p_envelope, classify_by_type_byte) {
    EXPECT_EQ(classify({}), datagram_kind::unknown);
    EXPECT_EQ(classify(from_hex("01aabb")), datagram_kind::peer_data);
    EXPECT_EQ(classify(from_hex("02")), datagram_kind::peer_control);
    EXPECT_EQ(classify(from_hex("03ff")), datagram_kind::server_control);
    EXPECT_EQ(classify(from_hex("040000000000000000")), datagram_kind::relayed_data);
    for (int b : {0x00, 0x05, 0x7f, 0x80, 0xff}) {
        const std::array<std::byte, 3> d{static_cast<std::byte>(b), std::byte{1}, std::byte{2}};
        EXPECT_EQ(classify(d), datagram_kind::unknown) << b;
    }
}

TEST(p2p_envelope, classify_recognises_stun_first) {
    EXPECT_EQ(classify(rfc5769::request), datagram_kind::stun);
    // starts with 0x01 like peer data, but carries the cookie and a matching length
    EXPECT_EQ(classify(rfc5769::ipv4_response), datagram_kind::stun);
    EXPECT_EQ(classify(rfc5769::ipv6_response), datagram_kind::stun);
    // one byte more and the length no longer matches: the envelope byte decides
    std::vector<std::byte> longer(rfc5769::ipv4_response.begin(), rfc5769::ipv4_response.end());
    longer.push_back(std::byte{0});
    EXPECT_EQ(classify(longer), datagram_kind::peer_data);
}

TEST(p2p_envelope, relay_header_round_trip) {
    const auto payload = from_hex("deadbeef00");
    std::array<std::byte, 64> out{};
    const auto n = encode_relayed(0x0102030405060708ull, payload, out);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, relay_header_size + payload.size());
    // little-endian relay id after the type byte
    EXPECT_EQ(neutrino::to_hex(std::span(out).first(*n)), "040807060504030201deadbeef00");
    EXPECT_EQ(classify(std::span(out).first(*n)), datagram_kind::relayed_data);
    const auto d = decode_relayed(std::span(out).first(*n));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->relay_id, 0x0102030405060708ull);
    EXPECT_EQ(neutrino::to_hex(d->payload), "deadbeef00");
    EXPECT_EQ(d->payload.data(), out.data() + relay_header_size);

    const auto empty = decode_relayed(std::span(out).first(relay_header_size));
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->payload.empty());
}

TEST(p2p_envelope, relay_errors) {
    EXPECT_EQ(error_of(decode_relayed({})), errc::envelope_empty);
    EXPECT_EQ(error_of(decode_relayed(from_hex("010000000000000000"))), errc::bad_envelope_type);
    for (std::size_t n = 1; n < relay_header_size; ++n) {
        std::vector<std::byte> d(n);
        d[0] = std::byte{0x04};
        EXPECT_EQ(error_of(decode_relayed(d)), errc::relay_truncated) << n;
    }
    const auto payload = from_hex("0102");
    for (std::size_t size = 0; size < relay_header_size + payload.size(); ++size) {
        std::vector<std::byte> out(size);
        EXPECT_EQ(error_of(encode_relayed(1, payload, out)), errc::buffer_too_small) << size;
    }
}

}  // namespace
