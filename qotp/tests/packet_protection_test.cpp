#include "neutrino/qotp/packet_protection.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>

#include "neutrino/endian.hpp"
#include "qotp_vectors.hpp"
#include "test_seed.hpp"

namespace {

using namespace qotp_test;
using qotp::errc;
using qotp::message_type;
using qotp::sender;

// The complete encrypted datagrams of the vectors, with the key and the Data sender.
struct sealed_vector {
    const char* name;
    const char* secret;
    sender data_sender;
};
const sealed_vector sealed_vectors[] = {
    {"data_i2r_sn0", "ss_session", sender::initiator},
    {"data_i2r_sn1", "ss_session", sender::initiator},
    {"data_i2r_sn123456789a", "ss_session", sender::initiator},
    {"data_r2i_sn0", "ss_session", sender::responder},
    {"initrcv_sn0", "ss_session", sender::responder},
    {"initcryptorcv_sn0", "ss_session", sender::responder},
    {"initcryptosnd_hex", "ss_0rtt", sender::initiator},
};

TEST(qotp_packet_protection, every_datagram_truncated_at_every_length) {
    for (const auto& v : sealed_vectors) {
        SCOPED_TRACE(v.name);
        const bytes full = vector_bytes(v.name);
        const auto key = secret_named(v.secret);
        for (std::size_t n = 0; n < full.size(); ++n) {
            bytes d(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            auto r = qotp::open_message(d, key, v.data_sender);
            ASSERT_FALSE(r.has_value()) << n;
            const bool too_short = n < qotp::min_datagram_size ||
                                   (n > 0 && n < qotp::min_size(*qotp::parse_type(full)));
            EXPECT_EQ(error_of(r), too_short ? errc::datagram_too_short : errc::decryption_failed)
                << n;
        }
    }
}

TEST(qotp_packet_protection, every_bit_of_every_byte_flipped) {
    for (const auto& v : sealed_vectors) {
        SCOPED_TRACE(v.name);
        const bytes full = vector_bytes(v.name);
        const auto key = secret_named(v.secret);
        for (std::size_t i = 0; i < full.size(); ++i) {
            for (int bit = 0; bit < 8; ++bit) {
                bytes d = full;
                d[i] ^= static_cast<std::byte>(1 << bit);
                auto r = qotp::open_message(d, key, v.data_sender);
                ASSERT_FALSE(r.has_value()) << i << "/" << bit;
                if (i > 0) {  // a flipped type byte fails earlier (version, type, size)
                    EXPECT_EQ(error_of(r), errc::decryption_failed) << i << "/" << bit;
                }
            }
        }
        bytes d = full;  // and the untouched datagram still opens
        EXPECT_TRUE(qotp::open_message(d, key, v.data_sender).has_value());
    }
}

TEST(qotp_packet_protection, wrong_key_or_direction_fails) {
    for (const auto& v : sealed_vectors) {
        SCOPED_TRACE(v.name);
        const bytes full = vector_bytes(v.name);
        const auto other =
            secret_named(std::string_view(v.secret) == "ss_session" ? "ss_0rtt" : "ss_session");
        bytes d = full;
        EXPECT_EQ(error_of(qotp::open_message(d, other, v.data_sender)), errc::decryption_failed);
        EXPECT_EQ(d, full);  // a failed try leaves the buffer as it was
        if (*qotp::parse_type(full) == message_type::data) {
            const sender wrong =
                v.data_sender == sender::initiator ? sender::responder : sender::initiator;
            EXPECT_EQ(error_of(qotp::open_message(d, secret_named(v.secret), wrong)),
                      errc::decryption_failed);
        }
    }
}

// spec §6.4: current, previous, next; the first that verifies wins, nulls are skipped.
TEST(qotp_packet_protection, candidates_in_order) {
    const auto s = secret_named("ss_session");
    const auto s0 = secret_named("ss_0rtt");
    const bytes full = vector_bytes("data_i2r_sn1");
    bytes d = full;
    const std::array<const qotp::shared_secret*, 3> candidates{&s0, nullptr, &s};
    auto r = qotp::open_message(d, candidates, sender::initiator);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->secret_index, 2U);
    EXPECT_EQ(r->sequence_number, 1U);
    EXPECT_EQ(hex(r->payload), hex(vector_bytes("proto_data_noack")));
    EXPECT_EQ(r->payload.data(), d.data() + 15);  // decrypted in place

    d = full;
    const std::array<const qotp::shared_secret*, 2> none{nullptr, &s0};
    EXPECT_EQ(error_of(qotp::open_message(d, none, sender::initiator)), errc::decryption_failed);
    EXPECT_EQ(error_of(qotp::open_message(d, std::span<const qotp::shared_secret* const>{},
                                          sender::initiator)),
              errc::decryption_failed);
}

TEST(qotp_packet_protection, init_snd_is_not_sealed) {
    std::array<std::byte, 1232> d{};
    ASSERT_TRUE(qotp::write_init_snd(d,
                                     qotp::announced_keys{.ephemeral = public_key_named("epI"),
                                                          .identity = public_key_named("idI")},
                                     1452));
    EXPECT_EQ(error_of(qotp::open_message(d, secret_named("ss_session"), sender::initiator)),
              errc::unexpected_message);
}

TEST(qotp_packet_protection, seal_errors) {
    const auto s = secret_named("ss_session");
    const bytes payload = vector_bytes("proto_data_noack");
    const qotp::connection_id id{1};
    std::array<std::byte, 2000> out{};
    const std::size_t need = 9 + 22 + payload.size();
    for (std::size_t n = 0; n < need; ++n) {
        EXPECT_EQ(error_of(qotp::seal_data(std::span(out).first(n), id, payload, s, 0,
                                           sender::initiator)),
                  errc::buffer_too_small)
            << n;
    }
    EXPECT_EQ(error_of(qotp::seal_data(out, id, payload, s, qotp::max_sequence_number + 1,
                                       sender::initiator)),
              errc::sequence_exhausted);
    EXPECT_TRUE(qotp::seal_data(out, id, payload, s, qotp::max_sequence_number, sender::initiator)
                    .has_value());
    EXPECT_EQ(
        error_of(qotp::seal_data(out, id, std::span(payload).first(10), s, 0, sender::initiator)),
        errc::payload_too_short);
    EXPECT_TRUE(qotp::seal_data(out, id, std::span(payload).first(11), s, 0, sender::initiator)
                    .has_value());
    // seal_in_place itself only needs the 24-byte sn nonce: 8 plaintext bytes
    EXPECT_EQ(error_of(qotp::seal_in_place(out, 9, 7, s, 0, sender::initiator)),
              errc::payload_too_short);
    EXPECT_TRUE(qotp::seal_in_place(out, 9, 8, s, 0, sender::initiator).has_value());
    EXPECT_EQ(error_of(qotp::seal_init_rcv(std::span(out).first(105), id, {},
                                           std::span(payload).first(11), s, 0)),
              errc::buffer_too_small);
    EXPECT_EQ(error_of(qotp::seal_init_crypto_rcv(std::span(out).first(73), id, {},
                                                  std::span(payload).first(11), s, 0)),
              errc::buffer_too_small);
}

TEST(qotp_packet_protection, init_crypto_snd_payload_limits) {
    const auto s0 = secret_named("ss_0rtt");
    const bytes big(qotp::max_init_crypto_snd_payload + 1, std::byte{7});
    std::array<std::byte, 1232> out{};
    EXPECT_EQ(error_of(qotp::seal_init_crypto_snd(out, {}, big, s0, 0)), errc::payload_too_large);
    EXPECT_EQ(error_of(qotp::seal_init_crypto_snd(std::span(out).first(1231), {},
                                                  std::span(big).first(11), s0, 0)),
              errc::buffer_too_small);
    for (const std::size_t len :
         {std::size_t{0}, std::size_t{11}, qotp::max_init_crypto_snd_payload}) {
        auto n = qotp::seal_init_crypto_snd(
            out, qotp::announced_keys{.ephemeral = public_key_named("epI")},
            std::span(big).first(len), s0, 5);
        ASSERT_TRUE(n.has_value()) << len;
        EXPECT_EQ(*n, 1232U);
        auto r = qotp::open_message(out, s0, sender::responder);  // the data sender does not apply
        ASSERT_TRUE(r.has_value()) << len;
        EXPECT_EQ(r->payload.size(), len);
        EXPECT_EQ(r->sequence_number, 5U);
    }
}

// fillLen is attacker-chosen: one that overruns the plaintext is rejected.  spec §4.2
TEST(qotp_packet_protection, init_crypto_snd_bad_filler) {
    const auto s0 = secret_named("ss_0rtt");
    std::array<std::byte, 1232> out{};
    out[0] = qotp::type_byte(message_type::init_crypto_snd);
    const std::size_t h = qotp::header_size(message_type::init_crypto_snd);
    const std::size_t plain = 1232 - h - qotp::protection_overhead;
    for (const std::size_t fill : {plain - 2 + 1, plain, std::size_t{0xFFFF}}) {
        neutrino::store_le(std::span(out).subspan(h + 6, 2), fill);
        ASSERT_TRUE(qotp::seal_in_place(out, h, plain, s0, 0, sender::initiator).has_value());
        EXPECT_EQ(error_of(qotp::open_message(out, s0, sender::initiator)), errc::bad_filler)
            << fill;
    }
    neutrino::store_le(std::span(out).subspan(h + 6, 2), plain - 2);  // exactly fills: empty payload
    ASSERT_TRUE(qotp::seal_in_place(out, h, plain, s0, 0, sender::initiator).has_value());
    auto r = qotp::open_message(out, s0, sender::initiator);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->payload.empty());
}

// Seeded round trips of every encrypted type: random payloads, sequence numbers, senders.
TEST(qotp_packet_protection, random_round_trips) {
    std::mt19937_64 rng(neutrino::test::env_seed_or(3, "qotp_packet_protection"));
    const auto s = secret_named("ss_session");
    const qotp::connection_id id{rng()};
    std::array<std::byte, 1600> out{};
    bytes payload(1400);
    for (int i = 0; i < 2000; ++i) {
        for (auto& b : payload) b = static_cast<std::byte>(rng());
        const auto p = std::span(payload).first(qotp::min_payload_size + rng() % 1300);
        const std::uint64_t sn = rng() & qotp::max_sequence_number;
        const sender from = rng() % 2 ? sender::initiator : sender::responder;
        qotp::result<std::size_t> n;
        switch (rng() % 3) {
            case 0: n = qotp::seal_data(out, id, p, s, sn, from); break;
            case 1: n = qotp::seal_init_rcv(out, id, {}, p, s, sn); break;
            default: n = qotp::seal_init_crypto_rcv(out, id, {}, p, s, sn); break;
        }
        ASSERT_TRUE(n.has_value());
        const auto d = std::span(out).first(*n);
        auto r = qotp::open_message(d, s, from);
        ASSERT_TRUE(r.has_value()) << i;
        EXPECT_EQ(r->sequence_number, sn);
        EXPECT_EQ(hex(r->payload), hex(std::span(payload).first(p.size())));
        EXPECT_EQ(qotp::parse_connection_id(d)->value, id.value);
    }
}

}  // namespace
