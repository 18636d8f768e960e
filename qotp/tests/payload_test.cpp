#include "neutrino/qotp/payload.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>

#include "qotp_vectors.hpp"
#include "test_seed.hpp"

namespace {

using namespace qotp_test;
using qotp::errc;

bytes encode(const qotp::transport_payload& p) {
    bytes out(qotp::encoded_size(p));
    auto n = qotp::encode_payload(p, out);
    EXPECT_TRUE(n.has_value()) << (n ? "" : n.error().message());
    out.resize(n.value_or(0));
    return out;
}

qotp::public_key key_filled(std::uint8_t v) {
    qotp::public_key k{};
    k.fill(std::byte{v});
    return k;
}

TEST(qotp_payload, sizes_of_spec_9_4) {
    EXPECT_EQ(encode(payload_p2()).size(), 13U);  // ACK-only
    EXPECT_EQ(encode(payload_p5()).size(), 11U);  // smallest: ping
    auto p = payload_pi();
    p.ack->offset = 0x1000000;  // extend: both offsets u48
    EXPECT_EQ(qotp::encoded_size(p), 4U + 12U + 10U);
    p.key_update = key_filled(1);
    p.key_update_ack = key_filled(2);
    EXPECT_EQ(qotp::encoded_size(p), 4U + 12U + 32U + 32U + 10U);
}

TEST(qotp_payload, extend_iff_an_offset_needs_it) {
    auto p = payload_p3();
    p.ack->offset = 0xFFFFFF;
    p.stream->offset = 0xFFFFFF;
    EXPECT_EQ(encode(p)[0], std::byte{0x03});
    p.ack->offset = 0x1000000;
    EXPECT_EQ(encode(p)[0], std::byte{0x07});
    p.ack->offset = 0;
    p.stream->offset = qotp::max_offset;
    const bytes wire = encode(p);
    EXPECT_EQ(wire[0], std::byte{0x07});
    auto back = qotp::decode_payload(wire);
    ASSERT_TRUE(back.has_value());
    expect_same_payload(*back, p);
}

TEST(qotp_payload, key_update_fields_round_trip) {
    auto p = payload_p1();
    p.key_update = key_filled(0xA1);
    p.key_update_ack = key_filled(0xB2);
    const bytes wire = encode(p);
    EXPECT_EQ(wire[0], std::byte{0x32});  // hasStream | KU | KUA
    EXPECT_EQ(wire[4], std::byte{0xA1});  // KU right after the fixed part (no ACK)
    EXPECT_EQ(wire[36], std::byte{0xB2});
    auto back = qotp::decode_payload(wire);
    ASSERT_TRUE(back.has_value());
    expect_same_payload(*back, p);
}

// spec §9.4: a stream header whenever there is no ACK, or a KU or a KUA.
TEST(qotp_payload, encoder_presence_rules) {
    qotp::transport_payload nothing;
    std::array<std::byte, 128> out{};
    EXPECT_EQ(error_of(qotp::encode_payload(nothing, out)), errc::missing_stream_header);
    auto ku = payload_p2();
    ku.key_update = key_filled(1);
    EXPECT_EQ(error_of(qotp::encode_payload(ku, out)), errc::missing_stream_header);
    auto kua = payload_p2();
    kua.key_update_ack = key_filled(1);
    EXPECT_EQ(error_of(qotp::encode_payload(kua, out)), errc::missing_stream_header);
    auto bad_id = payload_p1();
    bad_id.stream->stream_id = qotp::max_stream_id + 1;
    EXPECT_EQ(error_of(qotp::encode_payload(bad_id, out)), errc::bad_stream_id);
    auto far = payload_p3();
    far.ack->offset = qotp::max_offset + 1;
    EXPECT_EQ(error_of(qotp::encode_payload(far, out)), errc::offset_too_large);
    far = payload_p3();
    far.stream->offset = qotp::max_offset + 1;
    EXPECT_EQ(error_of(qotp::encode_payload(far, out)), errc::offset_too_large);
}

TEST(qotp_payload, encoder_needs_room_at_every_size) {
    const auto p = payload_p3();
    const std::size_t need = qotp::encoded_size(p);
    bytes out(need);
    for (std::size_t n = 0; n < need; ++n) {
        EXPECT_EQ(error_of(qotp::encode_payload(p, std::span(out).first(n))),
                  errc::buffer_too_small)
            << n;
    }
    EXPECT_TRUE(qotp::encode_payload(p, out).has_value());
}

TEST(qotp_payload, decoder_errors) {
    for (std::size_t n = 0; n < 4; ++n) {
        const bytes b(n, std::byte{0});
        EXPECT_EQ(error_of(qotp::decode_payload(b)), errc::payload_too_short) << n;
    }
    // ACK-only plus a byte: trailing bytes  spec §9.5
    bytes ack_only = vector_bytes("proto_ackonly");
    ack_only.push_back(std::byte{0});
    EXPECT_EQ(error_of(qotp::decode_payload(ack_only)), errc::trailing_bytes);
    // nothing at all after the fixed part and no flags: accepted, nothing present
    const bytes bare = from_hex("00ac0582");
    auto p = qotp::decode_payload(bare);
    ASSERT_TRUE(p.has_value());
    EXPECT_FALSE(p->ack || p->stream || p->key_update || p->key_update_ack);
    EXPECT_EQ(error_of(qotp::decode_payload(from_hex("00ac058200"))), errc::trailing_bytes);
}

// Cutting any vector payload inside its fixed blocks is an error; cutting its stream data
// only shortens the data.
TEST(qotp_payload, every_vector_truncated_at_every_length) {
    for (const char* name : {"proto_data_noack", "proto_ackonly", "proto_data_ack",
                             "proto_close_ext", "proto_ping_unrel", "proto_initrcv_payload"}) {
        SCOPED_TRACE(name);
        const bytes wire = vector_bytes(name);
        auto full = qotp::decode_payload(wire);
        ASSERT_TRUE(full.has_value());
        const std::size_t data = full->stream ? full->stream->data.size() : 0;
        const std::size_t blocks_end = wire.size() - data;
        for (std::size_t n = 0; n < wire.size(); ++n) {
            auto cut = qotp::decode_payload(std::span(wire).first(n));
            if (n < 4) {
                EXPECT_EQ(error_of(cut), errc::payload_too_short) << n;
            } else if (n < blocks_end) {
                EXPECT_EQ(error_of(cut), errc::payload_truncated) << n;
            } else {
                ASSERT_TRUE(cut.has_value()) << n;
                EXPECT_EQ(cut->stream->data.size(), n - blocks_end);
            }
        }
    }
}

TEST(qotp_payload, keys_truncated) {
    auto p = payload_p1();
    p.key_update = key_filled(7);
    const bytes wire = encode(p);
    for (std::size_t n = 4; n < 4 + 32 + 7; ++n) {
        EXPECT_EQ(error_of(qotp::decode_payload(std::span(wire).first(n))), errc::payload_truncated)
            << n;
    }
}

// Reserved bits are ignored, and so is a close flag without a stream header; re-encoding
// drops both.  spec §9.2, §9.5
TEST(qotp_payload, reserved_bits_and_orphan_close) {
    bytes wire = vector_bytes("proto_ackonly");
    wire[0] |= std::byte{0xC8};
    auto p = qotp::decode_payload(wire);
    ASSERT_TRUE(p.has_value());
    expect_same_payload(*p, payload_p2());
    EXPECT_EQ(hex(encode(*p)), hex(vector_bytes("proto_ackonly")));
}

// spec §7.1, §9.5: as if an empty stream packet on stream 0, offset 0, had arrived.
TEST(qotp_payload, implied_init_snd_payload) {
    const auto p = qotp::implied_init_snd_payload();
    EXPECT_EQ(p.max_payload, 0);
    EXPECT_EQ(p.receive_window, 0);
    EXPECT_FALSE(p.ack || p.key_update || p.key_update_ack);
    ASSERT_TRUE(p.stream.has_value());
    EXPECT_EQ(p.stream->stream_id, 0U);
    EXPECT_EQ(p.stream->offset, 0U);
    EXPECT_FALSE(p.stream->best_effort || p.stream->close);
    EXPECT_TRUE(p.stream->data.empty());
    EXPECT_EQ(hex(encode(p)),
              "02000000"
              "00000000"
              "000000");  // as a peer would have sent it
}

TEST(qotp_payload, best_effort_bit_is_split_off) {
    auto p = qotp::decode_payload(vector_bytes("proto_ping_unrel"));
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->stream->stream_id, 9U);
    EXPECT_TRUE(p->stream->best_effort);
    EXPECT_TRUE(p->stream->data.empty());
}

// Seeded random payloads: decode(encode(p)) == p and re-encoding gives the same bytes.
TEST(qotp_payload, random_round_trips) {
    std::mt19937_64 rng(neutrino::test::env_seed_or(2, "qotp_payload"));
    bytes data(300);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    for (int i = 0; i < 20000; ++i) {
        qotp::transport_payload p;
        p.max_payload = static_cast<std::uint16_t>(rng());
        p.receive_window = static_cast<std::uint8_t>(rng());
        const auto offset = [&] {
            return rng() % 2 ? rng() % 0x1000000 : rng() & qotp::max_offset;
        };
        if (rng() % 2)
            p.ack = qotp::ack_block{static_cast<std::uint32_t>(rng()) & qotp::max_stream_id,
                                    offset(), static_cast<std::uint16_t>(rng())};
        if (rng() % 4 == 0) p.key_update = key_filled(static_cast<std::uint8_t>(rng()));
        if (rng() % 4 == 0) p.key_update_ack = key_filled(static_cast<std::uint8_t>(rng()));
        if (!p.ack || p.key_update || p.key_update_ack || rng() % 2) {
            p.stream = qotp::stream_frame{static_cast<std::uint32_t>(rng()) & qotp::max_stream_id,
                                          rng() % 2 == 0, offset(), rng() % 2 == 0,
                                          std::span(data).first(rng() % data.size())};
        }
        const bytes wire = encode(p);
        ASSERT_EQ(wire.size(), qotp::encoded_size(p));
        auto back = qotp::decode_payload(wire);
        ASSERT_TRUE(back.has_value()) << hex(wire);
        expect_same_payload(*back, p);
        ASSERT_EQ(hex(encode(*back)), hex(wire));
    }
}

}  // namespace
