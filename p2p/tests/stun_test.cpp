#include "neutrino/p2p/stun.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "neutrino/p2p/detail/crc32.hpp"
#include "p2p_test_support.hpp"
#include "vectors/rfc5769.hpp"

namespace {

using namespace neutrino::p2p;
using neutrino::peer_address;
using p2p_test::as_bytes;
using p2p_test::error_of;

constexpr std::uint16_t priority = 0x0024;        // ICE (RFC 8445), comprehension-required
constexpr std::uint16_t ice_controlled = 0x8029;  // ICE, comprehension-optional

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

const peer_address sample_v4 = peer_address::v4({192, 0, 2, 1}, 32853);
const peer_address sample_v6 = peer_address::v6({0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                                 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77},
                                                32853);

TEST(p2p_stun, message_type_bits) {
    EXPECT_EQ(stun_message_type(stun_method_binding, stun_class::request), 0x0001);
    EXPECT_EQ(stun_message_type(stun_method_binding, stun_class::indication), 0x0011);
    EXPECT_EQ(stun_message_type(stun_method_binding, stun_class::success_response), 0x0101);
    EXPECT_EQ(stun_message_type(stun_method_binding, stun_class::error_response), 0x0111);
    for (std::uint16_t method :
         std::initializer_list<std::uint16_t>{0x001, 0x00F, 0x070, 0xF80, 0xFFF}) {
        for (auto c : {stun_class::request, stun_class::indication, stun_class::success_response,
                       stun_class::error_response}) {
            const auto t = stun_message_type(method, c);
            EXPECT_EQ(stun_method_of(t), method);
            EXPECT_EQ(stun_class_of(t), c);
            EXPECT_EQ(t & 0xC000, 0);
        }
    }
}

TEST(p2p_stun, rfc5769_request_decodes) {
    const auto m = decode_stun(rfc5769::request);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->method(), stun_method_binding);
    EXPECT_EQ(m->cls(), stun_class::request);
    EXPECT_EQ(m->transaction_id, rfc5769::transaction_id);
    ASSERT_TRUE(m->software);
    EXPECT_TRUE(same_bytes(*m->software, as_bytes("STUN test client")));
    ASSERT_TRUE(m->username);
    EXPECT_TRUE(same_bytes(*m->username, as_bytes("evtj:h6vY")));
    EXPECT_FALSE(m->xor_mapped_address);
    EXPECT_TRUE(m->has_fingerprint);
    ASSERT_TRUE(m->integrity_offset);
    // PRIORITY is comprehension-required and not interpreted here; ICE-CONTROLLED is optional.
    EXPECT_EQ(m->unknown_required_count, 1u);
    EXPECT_EQ(m->unknown_required[0], priority);
    const auto prio = find_stun_attribute(*m, priority);
    ASSERT_TRUE(prio);
    EXPECT_EQ(neutrino::to_hex(*prio), "6e0001ff");
    const auto controlled = find_stun_attribute(*m, ice_controlled);
    ASSERT_TRUE(controlled);
    EXPECT_EQ(neutrino::to_hex(*controlled), "932ff9b151263b36");
    EXPECT_FALSE(find_stun_attribute(*m, stun_attribute::error_code));

    EXPECT_TRUE(verify_stun_integrity(*m, as_bytes(rfc5769::password)));
    EXPECT_EQ(error_of(verify_stun_integrity(*m, as_bytes("VOkJxbRl1RmTxUk/WvJxBu"))),
              errc::stun_integrity_mismatch);
    EXPECT_EQ(error_of(verify_stun_integrity(*m, {})), errc::stun_integrity_mismatch);
}

TEST(p2p_stun, rfc5769_responses_decode) {
    struct sample {
        std::span<const std::byte> bytes;
        peer_address address;
    };
    for (const sample& s :
         {sample{rfc5769::ipv4_response, sample_v4}, sample{rfc5769::ipv6_response, sample_v6}}) {
        const auto m = decode_stun(s.bytes);
        ASSERT_TRUE(m) << m.error().message();
        EXPECT_EQ(m->cls(), stun_class::success_response);
        EXPECT_EQ(m->method(), stun_method_binding);
        EXPECT_EQ(m->transaction_id, rfc5769::transaction_id);
        ASSERT_TRUE(m->xor_mapped_address);
        EXPECT_EQ(*m->xor_mapped_address, s.address);
        ASSERT_TRUE(m->software);
        EXPECT_TRUE(same_bytes(*m->software, as_bytes("test vector")));
        EXPECT_TRUE(m->has_fingerprint);
        EXPECT_EQ(m->unknown_required_count, 0u);
        EXPECT_TRUE(verify_stun_integrity(*m, as_bytes(rfc5769::password)));
        EXPECT_EQ(error_of(verify_stun_integrity(*m, as_bytes("wrong password"))),
                  errc::stun_integrity_mismatch);
    }
}

TEST(p2p_stun, rfc5769_request_encodes_byte_for_byte) {
    std::array<std::byte, 256> out{};
    stun_encoder enc(out, stun_message_type(stun_method_binding, stun_class::request),
                     rfc5769::transaction_id);
    // The RFC's samples pad with spaces.
    enc.padding_byte(std::byte{0x20})
        .add_software(as_bytes("STUN test client"))
        .add(priority, p2p_test::from_hex("6e0001ff"))
        .add(ice_controlled, p2p_test::from_hex("932ff9b151263b36"))
        .add(stun_attribute::username, as_bytes("evtj:h6vY"))
        .add_message_integrity(as_bytes(rfc5769::password))
        .add_fingerprint();
    const auto n = enc.finish();
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(neutrino::to_hex(std::span(out).first(*n)), neutrino::to_hex(rfc5769::request));
}

TEST(p2p_stun, rfc5769_responses_encode_byte_for_byte) {
    struct sample {
        std::span<const std::byte> bytes;
        peer_address address;
    };
    for (const sample& s :
         {sample{rfc5769::ipv4_response, sample_v4}, sample{rfc5769::ipv6_response, sample_v6}}) {
        std::array<std::byte, 256> out{};
        stun_encoder enc(out, stun_message_type(stun_method_binding, stun_class::success_response),
                         rfc5769::transaction_id);
        enc.padding_byte(std::byte{0x20})
            .add_software(as_bytes("test vector"))
            .add_xor_mapped_address(s.address)
            .add_message_integrity(as_bytes(rfc5769::password))
            .add_fingerprint();
        const auto n = enc.finish();
        ASSERT_TRUE(n) << n.error().message();
        EXPECT_EQ(neutrino::to_hex(std::span(out).first(*n)), neutrino::to_hex(s.bytes));
    }
}

// Every single-byte change of a sample is rejected, except one: a change in FINGERPRINT's own
// attribute type, which turns it into another attribute (the CRC covers only what precedes it).
// Such a message may decode, but then without a fingerprint; its MESSAGE-INTEGRITY, which
// precedes the change, still verifies.
TEST(p2p_stun, every_flipped_byte_is_rejected_or_loses_the_fingerprint) {
    for (std::span<const std::byte> sample : {std::span<const std::byte>(rfc5769::request),
                                              std::span<const std::byte>(rfc5769::ipv4_response),
                                              std::span<const std::byte>(rfc5769::ipv6_response)}) {
        std::vector<std::byte> copy(sample.begin(), sample.end());
        const std::size_t fingerprint_type = copy.size() - 8;
        for (std::size_t i = 0; i < copy.size(); ++i) {
            for (std::uint8_t mask : std::initializer_list<std::uint8_t>{0x01, 0x80, 0xFF}) {
                copy[i] ^= std::byte{mask};
                const auto m = decode_stun(copy);
                if (i < fingerprint_type || i >= fingerprint_type + 2) {
                    EXPECT_FALSE(m) << "byte " << i << " mask " << int{mask};
                } else if (m) {
                    EXPECT_FALSE(m->has_fingerprint) << i;
                    EXPECT_TRUE(verify_stun_integrity(*m, as_bytes(rfc5769::password))) << i;
                }
                copy[i] ^= std::byte{mask};
            }
        }
        EXPECT_TRUE(decode_stun(copy));
    }
}

TEST(p2p_stun, every_truncation_is_rejected) {
    for (std::span<const std::byte> sample : {std::span<const std::byte>(rfc5769::request),
                                              std::span<const std::byte>(rfc5769::ipv4_response),
                                              std::span<const std::byte>(rfc5769::ipv6_response)}) {
        for (std::size_t n = 0; n < sample.size(); ++n) {
            // a copy of exactly n bytes, so a sanitizer sees any read beyond
            std::vector<std::byte> prefix(sample.begin(), sample.begin() + static_cast<long>(n));
            const auto m = decode_stun(prefix);
            ASSERT_FALSE(m) << n;
            EXPECT_EQ(m.error(),
                      n < stun_header_size ? errc::stun_too_short : errc::stun_bad_length)
                << n;
            EXPECT_FALSE(looks_like_stun(prefix)) << n;
        }
        EXPECT_TRUE(looks_like_stun(sample));
    }
}

TEST(p2p_stun, header_checks) {
    std::vector<std::byte> m(rfc5769::ipv4_response.begin(), rfc5769::ipv4_response.end());
    m[0] |= std::byte{0x40};
    EXPECT_EQ(error_of(decode_stun(m)), errc::not_stun);
    EXPECT_FALSE(looks_like_stun(m));
    m[0] = std::byte{0x01};
    m[5] = std::byte{0x13};
    EXPECT_EQ(error_of(decode_stun(m)), errc::not_stun);
    EXPECT_FALSE(looks_like_stun(m));
    // a bare header with length 0 is a message without attributes
    const auto bare = p2p_test::from_hex("000100002112a442000000000000000000000000");
    EXPECT_TRUE(looks_like_stun(bare));
    const auto d = decode_stun(bare);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->has_fingerprint);
    EXPECT_EQ(error_of(verify_stun_integrity(*d, as_bytes("x"))), errc::stun_integrity_missing);
    // a length that is not a multiple of 4, and one that matches but is not
    auto odd = p2p_test::from_hex("000100022112a4420000000000000000000000000000");
    EXPECT_EQ(error_of(decode_stun(odd)), errc::stun_bad_length);
    EXPECT_FALSE(looks_like_stun(odd));
}

TEST(p2p_stun, attribute_errors) {
    const stun_transaction_id id{};
    const auto type = stun_message_type(stun_method_binding, stun_class::success_response);
    auto encode = [&](auto&& fill) {
        std::vector<std::byte> out(128);
        stun_encoder enc(out, type, id);
        fill(enc);
        const auto n = enc.finish();
        EXPECT_TRUE(n);
        out.resize(n ? *n : 0);
        return out;
    };
    // XOR-MAPPED-ADDRESS of family 3, of a wrong size
    auto bad_family = encode([](stun_encoder& e) {
        e.add(stun_attribute::xor_mapped_address, p2p_test::from_hex("0003000001020304"));
    });
    EXPECT_EQ(error_of(decode_stun(bad_family)), errc::stun_bad_attribute);
    auto bad_size = encode([](stun_encoder& e) {
        e.add(stun_attribute::mapped_address, p2p_test::from_hex("000100000102030405"));
    });
    EXPECT_EQ(error_of(decode_stun(bad_size)), errc::stun_bad_attribute);
    // an attribute whose value runs past the end
    auto truncated = encode([](stun_encoder& e) { e.add(0x8001, p2p_test::from_hex("00000000")); });
    truncated[23] = std::byte{5};
    EXPECT_EQ(error_of(decode_stun(truncated)), errc::stun_attribute_truncated);
    // an attribute after FINGERPRINT
    auto after = encode([](stun_encoder& e) { e.add_fingerprint(); });
    const std::array<std::byte, 4> extra{std::byte{0x80}, std::byte{0x01}, std::byte{0},
                                         std::byte{0}};
    after.insert(after.end(), extra.begin(), extra.end());
    after[3] = std::byte{12};
    // a valid FINGERPRINT for the new length, so only the order is wrong
    const std::uint32_t crc =
        neutrino::p2p::detail::crc32(std::span(after).first(20)) ^ stun_fingerprint_xor;
    for (std::size_t i = 0; i < 4; ++i) after[24 + i] = static_cast<std::byte>(crc >> (24 - 8 * i));
    EXPECT_TRUE(looks_like_stun(after));
    EXPECT_EQ(error_of(decode_stun(after)), errc::stun_fingerprint_not_last);
    // MAPPED-ADDRESS decodes (not xored)
    auto mapped = encode([](stun_encoder& e) {
        e.add(stun_attribute::mapped_address, p2p_test::from_hex("00018055c0000201"));
    });
    const auto d = decode_stun(mapped);
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->mapped_address);
    EXPECT_EQ(*d->mapped_address, sample_v4);
    // more unknown comprehension-required attributes than are kept: all counted
    auto many = encode([](stun_encoder& e) {
        for (std::uint16_t t = 0x7000; t < 0x700A; ++t) e.add(t, {});
    });
    const auto u = decode_stun(many);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->unknown_required_count, 10u);
    EXPECT_EQ(u->unknown_required[7], 0x7007);
}

TEST(p2p_stun, error_response_round_trip) {
    const stun_transaction_id id{std::byte{1}, std::byte{2}};
    std::array<std::byte, 128> out{};
    stun_encoder enc(out, stun_message_type(stun_method_binding, stun_class::error_response), id);
    enc.add_error_code(420, as_bytes("Unknown Attribute")).add_fingerprint();
    const auto n = enc.finish();
    ASSERT_TRUE(n);
    const auto m = decode_stun(std::span(out).first(*n));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->cls(), stun_class::error_response);
    ASSERT_TRUE(m->error_code);
    EXPECT_EQ(m->error_code->code, 420);
    EXPECT_TRUE(same_bytes(m->error_code->reason, as_bytes("Unknown Attribute")));
    EXPECT_EQ(m->transaction_id, id);
    EXPECT_TRUE(m->has_fingerprint);

    // class 7, number 100, and a value shorter than 4 bytes are malformed on decode
    for (const char* value : {"00000701", "00000464", "000004"}) {
        std::array<std::byte, 64> raw{};
        stun_encoder e(raw, 0x0111, id);
        e.add(stun_attribute::error_code, p2p_test::from_hex(value));
        const auto size = e.finish();
        ASSERT_TRUE(size);
        EXPECT_EQ(error_of(decode_stun(std::span(raw).first(*size))), errc::stun_bad_attribute)
            << value;
    }

    stun_encoder bad(out, 0x0111, id);
    bad.add_error_code(299, {});
    EXPECT_EQ(error_of(bad.finish()), errc::stun_bad_error_code);
}

TEST(p2p_stun, encoder_errors) {
    const stun_transaction_id id{};
    std::array<std::byte, 19> tiny{};
    EXPECT_EQ(error_of(stun_encoder(tiny, 0x0001, id).finish()), errc::buffer_too_small);

    // each size short of the sample's fails cleanly with buffer_too_small
    for (std::size_t size = 0; size < rfc5769::ipv4_response.size(); ++size) {
        std::vector<std::byte> out(size);
        stun_encoder enc(out, 0x0101, rfc5769::transaction_id);
        enc.add_software(as_bytes("test vector"))
            .add_xor_mapped_address(sample_v4)
            .add_message_integrity(as_bytes(rfc5769::password))
            .add_fingerprint();
        EXPECT_EQ(error_of(enc.finish()), errc::buffer_too_small) << size;
    }

    std::array<std::byte, 2048> out{};
    stun_encoder order(out, 0x0001, id);
    order.add_message_integrity(as_bytes("k")).add_software(as_bytes("late"));
    EXPECT_EQ(error_of(order.finish()), errc::stun_attribute_order);
    stun_encoder after_fp(out, 0x0001, id);
    after_fp.add_fingerprint().add_fingerprint();
    EXPECT_EQ(error_of(after_fp.finish()), errc::stun_attribute_order);

    stun_encoder opaque(out, 0x0101, id);
    opaque.add_xor_mapped_address(peer_address::opaque({}, 1));
    EXPECT_EQ(error_of(opaque.finish()), errc::stun_bad_address);

    const std::vector<std::byte> long_text(stun_max_software_size + 1, std::byte{'a'});
    stun_encoder sw(out, 0x0101, id);
    sw.add_software(long_text);
    EXPECT_EQ(error_of(sw.finish()), errc::stun_value_too_large);
}

TEST(p2p_stun, integrity_then_fingerprint_round_trip_with_zero_padding) {
    std::array<std::byte, 128> out{};
    const stun_transaction_id id{std::byte{9}};
    stun_encoder enc(out, 0x0001, id);
    enc.add(stun_attribute::username, as_bytes("a:b")).add_message_integrity(as_bytes("pw"));
    const auto n = enc.finish();
    ASSERT_TRUE(n);
    EXPECT_EQ(out[20 + 4 + 3], std::byte{0});  // default padding
    const auto m = decode_stun(std::span(out).first(*n));
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->has_fingerprint);
    EXPECT_TRUE(verify_stun_integrity(*m, as_bytes("pw")));
    EXPECT_EQ(error_of(verify_stun_integrity(*m, as_bytes("pv"))), errc::stun_integrity_mismatch);
}

TEST(p2p_stun, error_codes_map_to_conditions) {
    EXPECT_EQ(std::error_code(errc::stun_bad_length), neutrino::condition::malformed);
    EXPECT_EQ(std::error_code(errc::stun_integrity_mismatch), neutrino::condition::unauthenticated);
    EXPECT_EQ(std::error_code(errc::buffer_too_small), neutrino::condition::misuse);
    EXPECT_EQ(std::string(error_category().name()), "neutrino.p2p");
    EXPECT_NE(std::error_code(errc::probe_bad_mac).message(), "unknown neutrino.p2p error");
}

}  // namespace
