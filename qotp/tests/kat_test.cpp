// Known-answer tests: every line of tests/vectors/qotp/vectors.txt (spec qotp.md §21), produced
// by the Go reference. A line whose name no test here knows fails `every_line_is_checked`.

#include <sodium.h>

#include <array>
#include <set>
#include <string>

#include "neutrino/endian.hpp"
#include "neutrino/qotp/key_log.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"
#include "neutrino/qotp/packet_protection.hpp"
#include "neutrino/qotp/payload.hpp"
#include "neutrino/qotp/receive_window.hpp"
#include "qotp_vectors.hpp"

namespace {

using namespace qotp_test;
using qotp::message_type;
using qotp::sender;

std::string sha256_hex(std::span<const std::byte> b) {
    std::array<std::byte, crypto_hash_sha256_BYTES> h{};
    crypto_hash_sha256(reinterpret_cast<unsigned char*>(h.data()),
                       reinterpret_cast<const unsigned char*>(b.data()), b.size());
    return hex(h);
}

qotp::connection_id conn_id() { return qotp::connection_id::of(public_key_named("epI")); }

// Names handled by the tests below; prefixes end in '*'.
const std::set<std::string> handled = {"idI_prv",
                                       "idI_pub",
                                       "idR_prv",
                                       "idR_pub",
                                       "epI_prv",
                                       "epI_pub",
                                       "epR_prv",
                                       "epR_pub",
                                       "connId_u64",
                                       "ss_session",
                                       "ss_0rtt",
                                       "seedString(my-secret-seed)_prv",
                                       "rwnd",
                                       "rwnd_dec",
                                       "proto_data_noack",
                                       "proto_ackonly",
                                       "proto_data_ack",
                                       "proto_close_ext",
                                       "proto_ping_unrel",
                                       "proto_initrcv_payload",
                                       "data_i2r_sn0",
                                       "data_i2r_sn1",
                                       "data_i2r_sn123456789a",
                                       "data_r2i_sn0",
                                       "initrcv_sn0",
                                       "initcryptorcv_sn0",
                                       "initcryptosnd_len",
                                       "initcryptosnd_first80",
                                       "initcryptosnd_last40",
                                       "initcryptosnd_hex",
                                       "initsnd_first67"};

TEST(qotp_kat, every_line_is_checked) {
    ASSERT_GE(vector_lines().size(), 60U);
    for (const auto& v : vector_lines()) EXPECT_TRUE(handled.contains(v.name)) << v.name;
}

TEST(qotp_kat, keys) {
    for (const char* name : {"idI", "idR", "epI", "epR"}) {
        SCOPED_TRACE(name);
        const auto prv = vector_fields(std::string(name) + "_prv").at(0);
        const auto pub = vector_fields(std::string(name) + "_pub").at(0);
        auto key = qotp::private_key_from_hex(prv);
        ASSERT_TRUE(key.has_value());
        EXPECT_EQ(hex(qotp::public_key_of(*key)), pub);
        auto prefixed = qotp::private_key_from_hex("0x" + prv);  // spec §2: 0x optional
        ASSERT_TRUE(prefixed.has_value());
        EXPECT_TRUE(prefixed->equals(*key));
        auto parsed_pub = qotp::public_key_from_hex("0X" + pub);
        ASSERT_TRUE(parsed_pub.has_value());
        EXPECT_EQ(hex(*parsed_pub), pub);
    }
}

TEST(qotp_kat, connection_id_and_key_log_id) {
    const auto f = vector_fields("connId_u64");
    ASSERT_EQ(f.size(), 3U);
    ASSERT_EQ(f[1], "keylog_hex");
    EXPECT_EQ(conn_id().value, std::stoull(f[0], nullptr, 16));
    const auto s = secret_named("ss_session");
    std::string line;
    qotp::append_key_log_line(line, qotp::key_log_label::session, conn_id(), s);
    EXPECT_EQ(line.substr(0, line.find(' ', 19)), "QOTP_SHARED_SECRET " + f[2]);
}

// "ss_* <secret> true": both sides derive it (X25519 is symmetric).  spec §5
TEST(qotp_kat, session_and_0rtt_secrets) {
    struct {
        const char* vector;
        const char* a;
        const char* b;
    } const cases[] = {{"ss_session", "epI", "epR"}, {"ss_0rtt", "epI", "idR"}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.vector);
        const auto f = vector_fields(c.vector);
        ASSERT_EQ(f.size(), 2U);
        EXPECT_EQ(f[1], "true");
        auto ab = qotp::x25519(private_key_of(c.a), public_key_named(c.b));
        auto ba = qotp::x25519(private_key_of(c.b), public_key_named(c.a));
        ASSERT_TRUE(ab.has_value());
        ASSERT_TRUE(ba.has_value());
        EXPECT_EQ(hex(ab->bytes()), f[0]);
        EXPECT_EQ(hex(ba->bytes()), f[0]);
    }
}

TEST(qotp_kat, key_log_lines_of_spec_21_2) {
    std::string log;
    qotp::append_key_log_line(log, qotp::key_log_label::session, conn_id(),
                              secret_named("ss_session"));
    qotp::append_key_log_line(log, qotp::key_log_label::zero_rtt, conn_id(),
                              secret_named("ss_0rtt"));
    EXPECT_EQ(log,
              "QOTP_SHARED_SECRET 31f82734d9470d7b "
              "3c528e9fd39731b15d10de8feb5f71d3f65b73c993581dedb03315a9ed177730\n"
              "QOTP_SHARED_SECRET_ID 31f82734d9470d7b "
              "1fdc192faa0212a9aae7bb4f41b580227fd5ad3e5d777faae230dfe973f3e805\n");
}

TEST(qotp_kat, string_seed) {
    const auto f = vector_fields("seedString(my-secret-seed)_prv");
    ASSERT_EQ(f.size(), 3U);
    ASSERT_EQ(f[1], "pub");
    const auto key = qotp::private_key_from_string("my-secret-seed");
    EXPECT_EQ(hex(key.bytes()), f[0]);
    EXPECT_EQ(hex(qotp::public_key_of(key)), f[2]);
}

TEST(qotp_kat, receive_window_rows) {
    int rows = 0;
    for (const auto& v : vector_lines()) {
        if (v.name == "rwnd") {  // rwnd <bytes> -> <code> -> <decoded>
            ASSERT_EQ(v.fields.size(), 5U);
            const auto bytes_in = std::stoull(v.fields[0]);
            const auto code = static_cast<std::uint8_t>(std::stoul(v.fields[2]));
            EXPECT_EQ(qotp::encode_receive_window(bytes_in), code) << bytes_in;
            EXPECT_EQ(qotp::decode_receive_window(code), std::stoull(v.fields[4])) << bytes_in;
            ++rows;
        } else if (v.name == "rwnd_dec") {  // rwnd_dec <code> -> <decoded>
            ASSERT_EQ(v.fields.size(), 3U);
            const auto code = static_cast<std::uint8_t>(std::stoul(v.fields[0]));
            EXPECT_EQ(qotp::decode_receive_window(code), std::stoull(v.fields[2])) << int{code};
            ++rows;
        }
    }
    EXPECT_EQ(rows, 17 + 15);
}

struct payload_case {
    const char* vector;
    qotp::transport_payload (*fields)();
};
const payload_case payload_cases[] = {
    {"proto_data_noack", payload_p1}, {"proto_ackonly", payload_p2},
    {"proto_data_ack", payload_p3},   {"proto_close_ext", payload_p4},
    {"proto_ping_unrel", payload_p5}, {"proto_initrcv_payload", payload_pi},
};

TEST(qotp_kat, transport_payloads_encode) {
    for (const auto& c : payload_cases) {
        SCOPED_TRACE(c.vector);
        const bytes want = vector_bytes(c.vector);
        const auto p = c.fields();
        EXPECT_EQ(qotp::encoded_size(p), want.size());
        bytes out(want.size() + 8, std::byte{0xEE});
        auto n = qotp::encode_payload(p, out);
        ASSERT_TRUE(n.has_value()) << n.error().message();
        out.resize(*n);
        EXPECT_EQ(hex(out), hex(want));
    }
}

TEST(qotp_kat, transport_payloads_decode) {
    for (const auto& c : payload_cases) {
        SCOPED_TRACE(c.vector);
        const bytes wire = vector_bytes(c.vector);
        auto p = qotp::decode_payload(wire);
        ASSERT_TRUE(p.has_value()) << p.error().message();
        expect_same_payload(*p, c.fields());
    }
}

// Seals `payload` as the vector's message and compares; then opens it back.
struct datagram_case {
    const char* vector;
    message_type type;
    sender from;
    std::uint64_t sn;
    const char* payload_vector;
};
const datagram_case datagram_cases[] = {
    {"data_i2r_sn0", message_type::data, sender::initiator, 0, "proto_data_noack"},
    {"data_i2r_sn1", message_type::data, sender::initiator, 1, "proto_data_noack"},
    {"data_i2r_sn123456789a", message_type::data, sender::initiator, 0x123456789a,
     "proto_data_noack"},
    {"data_r2i_sn0", message_type::data, sender::responder, 0, "proto_ackonly"},
    {"initrcv_sn0", message_type::init_rcv, sender::responder, 0, "proto_initrcv_payload"},
    {"initcryptorcv_sn0", message_type::init_crypto_rcv, sender::responder, 0,
     "proto_initrcv_payload"},
    {"initcryptosnd_hex", message_type::init_crypto_snd, sender::initiator, 0, "proto_data_noack"},
};

qotp::shared_secret key_for(message_type t) {
    return secret_named(t == message_type::init_crypto_snd ? "ss_0rtt" : "ss_session");
}

qotp::result<std::size_t> seal_as(const datagram_case& c, std::span<const std::byte> payload,
                                  std::span<std::byte> out) {
    const auto key = key_for(c.type);
    switch (c.type) {
        case message_type::data: return qotp::seal_data(out, conn_id(), payload, key, c.sn, c.from);
        case message_type::init_rcv:
            return qotp::seal_init_rcv(out, conn_id(),
                                       qotp::announced_keys{.ephemeral = public_key_named("epR"),
                                                            .identity = public_key_named("idR")},
                                       payload, key, c.sn);
        case message_type::init_crypto_rcv:
            return qotp::seal_init_crypto_rcv(out, conn_id(), public_key_named("epR"), payload, key,
                                              c.sn);
        case message_type::init_crypto_snd:
            return qotp::seal_init_crypto_snd(
                out,
                qotp::announced_keys{.ephemeral = public_key_named("epI"),
                                     .identity = public_key_named("idI")},
                payload, key, c.sn);
        case message_type::init_snd: break;
    }
    return qotp::fail(qotp::errc::unexpected_message);
}

TEST(qotp_kat, datagrams_seal) {
    for (const auto& c : datagram_cases) {
        SCOPED_TRACE(c.vector);
        const bytes want = vector_bytes(c.vector);
        std::array<std::byte, 1500> out{};
        auto n = seal_as(c, vector_bytes(c.payload_vector), out);
        ASSERT_TRUE(n.has_value()) << n.error().message();
        EXPECT_EQ(hex(std::span(out).first(*n)), hex(want));
    }
}

TEST(qotp_kat, datagrams_seal_in_place) {
    // The payload encoded straight into the datagram buffer, where sealing leaves it.
    for (const auto& c : datagram_cases) {
        if (c.type == message_type::init_crypto_snd) continue;  // filler placement differs
        SCOPED_TRACE(c.vector);
        const bytes payload = vector_bytes(c.payload_vector);
        std::array<std::byte, 1500> out{};
        const auto at = std::span(out).subspan(
            qotp::header_size(c.type) + qotp::sequence_number_size, payload.size());
        std::copy(payload.begin(), payload.end(), at.begin());
        auto n = seal_as(c, at, out);
        ASSERT_TRUE(n.has_value()) << n.error().message();
        EXPECT_EQ(hex(std::span(out).first(*n)), hex(vector_bytes(c.vector)));
    }
}

TEST(qotp_kat, datagrams_open) {
    for (const auto& c : datagram_cases) {
        SCOPED_TRACE(c.vector);
        bytes d = vector_bytes(c.vector);
        auto opened = qotp::open_message(d, key_for(c.type), c.from);
        ASSERT_TRUE(opened.has_value()) << opened.error().message();
        EXPECT_EQ(opened->sequence_number, c.sn);
        EXPECT_EQ(opened->secret_index, 0U);
        EXPECT_EQ(hex(opened->payload), hex(vector_bytes(c.payload_vector)));
    }
}

// spec §21.5: "encSn = 3a79d29685ba … gives 000000000000"
TEST(qotp_kat, sequence_number_layer_of_spec_21_5) {
    const bytes d = vector_bytes("data_i2r_sn0");
    EXPECT_EQ(hex(std::span(d).subspan(9, 6)), "3a79d29685ba");
}

TEST(qotp_kat, init_crypto_snd_summary_lines) {
    const bytes full = vector_bytes("initcryptosnd_hex");
    const auto len = vector_fields("initcryptosnd_len");
    ASSERT_EQ(len.size(), 3U);
    EXPECT_EQ(full.size(), std::stoul(len[0]));
    EXPECT_EQ(full.size(), qotp::init_datagram_size);
    EXPECT_EQ(len[1], "sha256");
    EXPECT_EQ(sha256_hex(full), len[2]);
    EXPECT_EQ(hex(std::span(full).first(80)), vector_fields("initcryptosnd_first80").at(0));
    EXPECT_EQ(hex(std::span(full).last(40)), vector_fields("initcryptosnd_last40").at(0));
    // fillLen = 1232 − (65 + 22 + 2 + 16) = 1127 (spec §21.5), inside the ciphertext: open it.
    bytes d = full;
    auto opened = qotp::open_in_place(d, qotp::header_size(message_type::init_crypto_snd),
                                      std::array{static_cast<const qotp::shared_secret*>(nullptr)},
                                      sender::initiator);
    EXPECT_FALSE(opened.has_value());
    const auto s0 = secret_named("ss_0rtt");
    const std::array candidates{&s0};
    opened = qotp::open_in_place(d, qotp::header_size(message_type::init_crypto_snd), candidates,
                                 sender::initiator);
    ASSERT_TRUE(opened.has_value());
    EXPECT_EQ(opened->payload.size(), 2U + 1127U + 16U);
    EXPECT_EQ(neutrino::load_le(opened->payload.first(2)), 1127U);
}

TEST(qotp_kat, init_snd) {
    const auto f = vector_fields("initsnd_first67");
    ASSERT_EQ(f.size(), 3U);
    ASSERT_EQ(f[1], "sha256");
    std::array<std::byte, 1300> out{};
    out.fill(std::byte{0xAA});
    auto n = qotp::write_init_snd(out,
                                  qotp::announced_keys{.ephemeral = public_key_named("epI"),
                                                       .identity = public_key_named("idI")},
                                  1452);
    ASSERT_TRUE(n.has_value());
    ASSERT_EQ(*n, qotp::init_datagram_size);
    const auto d = std::span(out).first(*n);
    EXPECT_EQ(hex(d.first(67)), f[0]);
    EXPECT_EQ(sha256_hex(d), f[2]);

    auto m = qotp::parse_init_snd(d);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(hex(m->ephemeral_key), hex(public_key_named("epI")));
    EXPECT_EQ(hex(m->identity_key), hex(public_key_named("idI")));
    EXPECT_EQ(m->max_payload, 1452);
    EXPECT_EQ(m->id, conn_id());
}

}  // namespace
