#include "neutrino/qotp/message.hpp"

#include <gtest/gtest.h>

#include <array>

#include "qotp_vectors.hpp"

namespace {

using namespace qotp_test;
using qotp::errc;
using qotp::message_type;

constexpr message_type all_types[] = {message_type::init_snd, message_type::init_rcv,
                                      message_type::init_crypto_snd, message_type::init_crypto_rcv,
                                      message_type::data};

bytes datagram_of(message_type t, std::size_t size) {
    bytes d(size, std::byte{0x5A});
    if (!d.empty()) d[0] = qotp::type_byte(t);
    return d;
}

// spec §3 table, §4.6 and §23 (106 and 74, not the typst spec's 105 and 73)
TEST(qotp_message, layout_sizes) {
    EXPECT_EQ(qotp::type_byte(message_type::init_snd), std::byte{0x00});
    EXPECT_EQ(qotp::type_byte(message_type::init_rcv), std::byte{0x20});
    EXPECT_EQ(qotp::type_byte(message_type::init_crypto_snd), std::byte{0x40});
    EXPECT_EQ(qotp::type_byte(message_type::init_crypto_rcv), std::byte{0x60});
    EXPECT_EQ(qotp::type_byte(message_type::data), std::byte{0x80});
    EXPECT_EQ(qotp::header_size(message_type::init_rcv), 73U);
    EXPECT_EQ(qotp::header_size(message_type::init_crypto_snd), 65U);
    EXPECT_EQ(qotp::header_size(message_type::init_crypto_rcv), 41U);
    EXPECT_EQ(qotp::header_size(message_type::data), 9U);
    EXPECT_EQ(qotp::min_size(message_type::init_snd), 1232U);
    EXPECT_EQ(qotp::min_size(message_type::init_crypto_snd), 1232U);
    EXPECT_EQ(qotp::min_size(message_type::init_rcv), 106U);
    EXPECT_EQ(qotp::min_size(message_type::init_crypto_rcv), 74U);
    EXPECT_EQ(qotp::min_size(message_type::data), 42U);
    EXPECT_EQ(qotp::max_init_crypto_snd_payload, 1232U - (65U + 22U + 2U));
}

TEST(qotp_message, every_type_byte) {
    for (unsigned b = 0; b < 256; ++b) {
        bytes d(64, std::byte{0});
        d[0] = static_cast<std::byte>(b);
        auto t = qotp::parse_type(d);
        if ((b & 0x1F) != 0) {
            EXPECT_EQ(error_of(t), errc::bad_version) << b;
        } else if ((b >> 5) > 4) {
            EXPECT_EQ(error_of(t), errc::bad_message_type) << b;
        } else {
            ASSERT_TRUE(t.has_value()) << b;
            EXPECT_EQ(qotp::type_byte(*t), static_cast<std::byte>(b));
        }
    }
}

TEST(qotp_message, shorter_than_42_is_dropped_first) {
    for (std::size_t n = 0; n < qotp::min_datagram_size; ++n) {
        bytes d(n, std::byte{0xFF});  // also a bad type byte: the size check comes first
        if (n > 0) d[0] = std::byte{0xFF};
        EXPECT_EQ(error_of(qotp::parse_type(d)), errc::datagram_too_short) << n;
        EXPECT_EQ(error_of(qotp::parse_connection_id(d)), errc::datagram_too_short) << n;
    }
}

// Each parser accepts its type from min_size on, and rejects every shorter length.
TEST(qotp_message, every_type_truncated_at_every_length) {
    for (const auto t : all_types) {
        SCOPED_TRACE(static_cast<int>(t));
        for (std::size_t n = 0; n <= qotp::min_size(t) + 1; ++n) {
            const bytes d = datagram_of(t, n);
            const bool long_enough = n >= qotp::min_size(t);
            const auto check = [&](auto r) {
                EXPECT_EQ(r.has_value(), long_enough) << n;
                if (!long_enough) {
                    EXPECT_EQ(error_of(r), errc::datagram_too_short) << n;
                }
            };
            switch (t) {
                case message_type::init_snd: check(qotp::parse_init_snd(d)); break;
                case message_type::init_crypto_snd: check(qotp::parse_init_crypto_snd(d)); break;
                case message_type::init_rcv: check(qotp::parse_init_rcv(d)); break;
                case message_type::init_crypto_rcv: check(qotp::parse_init_crypto_rcv(d)); break;
                case message_type::data: check(qotp::parse_data(d)); break;
            }
            if (qotp::is_encrypted(t)) check(qotp::parse_sealed(d));
        }
    }
}

TEST(qotp_message, typed_parsers_reject_other_types) {
    for (const auto t : all_types) {
        const bytes d = datagram_of(t, 1300);
        EXPECT_EQ(qotp::parse_init_snd(d).has_value(), t == message_type::init_snd);
        EXPECT_EQ(qotp::parse_init_crypto_snd(d).has_value(), t == message_type::init_crypto_snd);
        EXPECT_EQ(qotp::parse_init_rcv(d).has_value(), t == message_type::init_rcv);
        EXPECT_EQ(qotp::parse_init_crypto_rcv(d).has_value(), t == message_type::init_crypto_rcv);
        EXPECT_EQ(qotp::parse_data(d).has_value(), t == message_type::data);
        EXPECT_EQ(qotp::parse_sealed(d).has_value(), t != message_type::init_snd);
        if (t != message_type::data) {
            EXPECT_EQ(error_of(qotp::parse_data(d)), errc::unexpected_message);
        }
    }
}

TEST(qotp_message, views_of_the_init_rcv_vector) {
    const bytes d = vector_bytes("initrcv_sn0");
    auto m = qotp::parse_init_rcv(d);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->sealed.type, message_type::init_rcv);
    EXPECT_EQ(m->sealed.id, qotp::connection_id::of(public_key_named("epI")));
    EXPECT_EQ(hex(m->ephemeral_key), hex(public_key_named("epR")));
    EXPECT_EQ(hex(m->identity_key), hex(public_key_named("idR")));
    EXPECT_EQ(m->sealed.header.size(), 73U);
    EXPECT_EQ(m->sealed.header.data(), d.data());  // a view, not a copy
    EXPECT_EQ(m->sealed.protected_part.size(), d.size() - 73U);
}

TEST(qotp_message, views_of_the_other_vectors) {
    const bytes icr = vector_bytes("initcryptorcv_sn0");
    auto a = qotp::parse_init_crypto_rcv(icr);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(hex(a->ephemeral_key), hex(public_key_named("epR")));
    EXPECT_EQ(a->sealed.header.size(), 41U);

    const bytes ics = vector_bytes("initcryptosnd_hex");
    auto b = qotp::parse_init_crypto_snd(ics);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(hex(b->ephemeral_key), hex(public_key_named("epI")));
    EXPECT_EQ(hex(b->identity_key), hex(public_key_named("idI")));
    EXPECT_EQ(b->sealed.id, qotp::connection_id::of(public_key_named("epI")));

    const bytes data = vector_bytes("data_r2i_sn0");
    auto c = qotp::parse_data(data);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->header.size(), 9U);
    auto id = qotp::parse_connection_id(data);
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id->value, 0x31f82734d9470d7bU);  // spec §4.8, §19
}

TEST(qotp_message, connection_id_bytes) {
    const qotp::connection_id id{0x31f82734d9470d7bU};
    std::array<std::byte, 8> out{};
    id.write(out);
    EXPECT_EQ(hex(out), "7b0d47d93427f831");
    EXPECT_EQ(qotp::connection_id::from_bytes(out), id);
}

TEST(qotp_message, init_snd_needs_room) {
    std::array<std::byte, 1231> small{};
    auto n = qotp::write_init_snd(small, {}, 1232);
    EXPECT_EQ(error_of(n), errc::buffer_too_small);
}

// Bytes after 66 are padding the receiver ignores, and longer datagrams are fine.  spec §4.1
TEST(qotp_message, init_snd_ignores_padding) {
    std::array<std::byte, 1400> out{};
    ASSERT_TRUE(qotp::write_init_snd(out,
                                     qotp::announced_keys{.ephemeral = public_key_named("epI"),
                                                          .identity = public_key_named("idI")},
                                     65488));
    std::fill(out.begin() + 67, out.end(), std::byte{0xFF});
    auto m = qotp::parse_init_snd(out);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->max_payload, 65488);
}

}  // namespace
