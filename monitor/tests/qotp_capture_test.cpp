// QOTP in `neutrino-monitor decrypt` (issue #14): captures of real in-memory qotp exchanges,
// written with pcapng_writer and decrypted with the key log the machines produced; the §21
// complete-datagram vectors as a known-answer test; bad input; one key log for both protocols.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "monitor_test_support.hpp"
#include "neutrino/monitor/decrypt.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"
#include "neutrino/monitor/recording_observer.hpp"
#include "neutrino/qotp/packet_protection.hpp"
#include "neutrino/qotp/payload.hpp"
#include "qotp_sim.hpp"
#include "qotp_vectors.hpp"

namespace nm = neutrino::monitor;
namespace nc = neutrino::core;
namespace qotp = neutrino::qotp;
using namespace std::chrono_literals;

namespace {

const neutrino::peer_address qotp_client = neutrino::peer_address::v4({10, 0, 0, 1}, 40001);
const neutrino::peer_address qotp_server = neutrino::peer_address::v4({10, 0, 0, 2}, 4242);

// One decrypted QOTP datagram as the output holds it.
struct decrypted {
    qotp::message_type type = qotp::message_type::data;
    std::uint64_t id = 0;
    std::uint64_t sn = 0;
    bool to_server = true;
    qotp_test::bytes payload;
    std::string comment;
};

struct output {
    std::vector<decrypted> opened;
    std::vector<qotp_test::bytes> copied;  ///< UDP payloads copied as they were
};

output read_output(const std::vector<std::byte>& capture) {
    output o;
    nm::pcapng_reader r(capture);
    std::map<std::uint32_t, std::string> names;
    std::uint32_t next_iface = 0;
    while (auto rec = r.next()) {
        EXPECT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
        if (rec->what == nm::pcapng_record::kind::interface) ++next_iface;
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        if (!udp) {
            ADD_FAILURE() << "not UDP";
            continue;
        }
        const auto& d = udp->payload;
        if (!rec->comment.starts_with("qotp: decrypted")) {
            o.copied.emplace_back(d.begin(), d.end());
            continue;
        }
        // Not parse_type: a decrypted ACK-only Data packet is below the 42 bytes of §4.6.
        decrypted x;
        const auto type = static_cast<qotp::message_type>(std::to_integer<std::uint8_t>(d[0]) >> 5);
        x.type = type;
        x.id = qotp::connection_id::from_bytes(d.subspan(1).first<8>()).value;
        const std::size_t h = qotp::header_size(type);
        if (d.size() < h + 14) {
            ADD_FAILURE() << "short decrypted datagram";
            continue;
        }
        const std::string_view marker(reinterpret_cast<const char*>(d.data() + h), 8);
        EXPECT_EQ(marker, nm::qotp_decrypted_marker);
        for (std::size_t i = 0; i < 6; ++i) {
            x.sn |= std::uint64_t{std::to_integer<std::uint8_t>(d[h + 8 + i])} << (8 * i);
        }
        x.payload.assign(d.begin() + static_cast<long>(h + 14), d.end());
        x.to_server = udp->dst == qotp_server;
        x.comment = rec->comment;
        o.opened.push_back(std::move(x));
    }
    return o;
}

// A qotp exchange in both directions on virtual time, every datagram written to a pcapng
// capture in memory as it is sent; the key log is the client's (the server's is the same).
struct recorded_exchange {
    std::vector<std::byte> capture;
    std::string key_log_text;
    qotp_test::bytes to_server = qotp_sim::pattern(6000, 11);
    qotp_test::bytes to_client = qotp_sim::pattern(3000, 12);
    std::uint64_t id = 0;
    std::size_t sent = 0;
    std::size_t init_snd = 0;

    explicit recorded_exchange(bool zero_rtt, std::uint64_t seed = 3) {
        qotp::key_log_buffer client_log;
        qotp::endpoint_config cc;
        cc.connection.key_log = &client_log;
        qotp::endpoint_config sc;
        qotp_sim::sim s(cc, sc, seed);
        nm::pcapng_writer w(capture, nm::clock_origin{s.start, {}});
        const auto iface = w.add_interface("qotp-sim");
        s.filter = [&](const qotp_sim::sent_info& i) {
            w.write_udp(iface, s.now, i.from_client ? qotp_client : qotp_server,
                        i.from_client ? qotp_server : qotp_client, i.bytes);
            ++sent;
            if (std::to_integer<std::uint8_t>(i.bytes[0]) == 0) ++init_snd;
            return qotp_sim::action{};
        };
        const auto cid = *s.client.connect(
            s.server_address, s.now, zero_rtt ? std::optional(s.server.identity()) : std::nullopt);
        id = cid.value;
        qotp_test::bytes at_server, at_client;
        std::size_t sent_c = 0, sent_s = 0;
        s.on_step = [&] {
            if (auto* c = s.client.find(cid)) {
                qotp_sim::pump(*c, to_server, sent_c);
                qotp_sim::drain(*c, at_client);
            }
            if (auto* c = s.server.find(cid)) {
                qotp_sim::pump(*c, to_client, sent_s);
                qotp_sim::drain(*c, at_server);
            }
        };
        EXPECT_TRUE(s.run_until(
            [&] {
                return at_server.size() == to_server.size() && at_client.size() == to_client.size();
            },
            10s));
        EXPECT_EQ(at_server, to_server);
        EXPECT_EQ(at_client, to_client);
        w.flush();
        key_log_text = client_log.take();
    }
};

// Puts the stream bytes of decrypted payloads in place by offset, per direction.
qotp_test::bytes reassemble(const output& o, bool to_server, std::size_t size) {
    qotp_test::bytes stream(size);
    std::vector<bool> have(size);
    for (const auto& x : o.opened) {
        if (x.to_server != to_server) continue;
        auto p = qotp::decode_payload(x.payload);
        EXPECT_TRUE(p.has_value()) << x.comment;
        if (!p || !p->stream) continue;
        const auto& f = *p->stream;
        EXPECT_LE(f.offset + f.data.size(), size);
        if (f.offset + f.data.size() > size) continue;
        std::copy(f.data.begin(), f.data.end(), stream.begin() + static_cast<long>(f.offset));
        std::fill(have.begin() + static_cast<long>(f.offset),
                  have.begin() + static_cast<long>(f.offset + f.data.size()), true);
    }
    EXPECT_TRUE(std::all_of(have.begin(), have.end(), [](bool b) { return b; }))
        << "every stream byte was in some decrypted datagram";
    return stream;
}

void check_exchange(bool zero_rtt) {
    recorded_exchange x(zero_rtt);
    ASSERT_FALSE(x.key_log_text.empty());
    nm::key_log keys;
    std::vector<std::string> problems;
    keys.parse(x.key_log_text, &problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(keys.qotp_size(), 1U);
    EXPECT_EQ(keys.size(), 0U) << "no Neutrino session from QOTP lines";

    std::vector<std::byte> out_bytes;
    nm::pcapng_writer out(out_bytes);
    const auto st = nm::decrypt_capture(x.capture, keys, out);
    out.flush();
    EXPECT_EQ(st.packets, x.sent);
    EXPECT_EQ(st.neutrino, 0U);
    EXPECT_EQ(st.qotp, x.sent);
    EXPECT_EQ(st.qotp_clear, x.init_snd);
    EXPECT_EQ(zero_rtt, x.init_snd == 0);
    EXPECT_EQ(st.qotp_decrypted, x.sent - x.init_snd);
    EXPECT_EQ(st.qotp_no_key, 0U);
    EXPECT_EQ(st.qotp_failed, 0U);
    EXPECT_TRUE(st.problems.empty()) << st.problems.front();

    const output o = read_output(out_bytes);
    EXPECT_EQ(o.opened.size(), st.qotp_decrypted);
    EXPECT_EQ(o.copied.size(), x.init_snd);
    // The plaintexts, byte for byte: both streams rebuilt from the decrypted payloads alone.
    EXPECT_EQ(reassemble(o, true, x.to_server.size()), x.to_server);
    EXPECT_EQ(reassemble(o, false, x.to_client.size()), x.to_client);
    for (const auto& d : o.opened) {
        EXPECT_EQ(d.id, x.id);
        const bool crypto_snd = d.type == qotp::message_type::init_crypto_snd;
        EXPECT_NE(d.comment.find(crypto_snd ? "with QOTP_SHARED_SECRET_ID of connection"
                                            : "with QOTP_SHARED_SECRET of connection"),
                  std::string::npos)
            << d.comment;
        EXPECT_NE(d.comment.find(d.to_server ? "initiator to responder" : "responder to initiator"),
                  std::string::npos)
            << d.comment;
    }
    if (zero_rtt) {
        EXPECT_EQ(o.opened.front().type, qotp::message_type::init_crypto_snd);
        EXPECT_NE(o.opened.front().comment.find("QOTP_SHARED_SECRET_ID"), std::string::npos);
    }
}

TEST(qotp_capture, one_rtt_exchange_decrypts_to_both_streams_byte_for_byte) {
    check_exchange(false);
}

TEST(qotp_capture, zero_rtt_exchange_decrypts_to_both_streams_byte_for_byte) {
    check_exchange(true);
}

// spec: qotp.md §21 — the complete datagrams of the Go reference, decrypted with a key log
// holding the vectors' S and S0 for connection 31f82734d9470d7b.
TEST(qotp_capture, reference_datagrams_decrypt_to_the_vector_payloads) {
    using namespace qotp_test;
    struct kat {
        const char* datagram;
        const char* payload;
        std::uint64_t sn;
        bool to_server;
    };
    const kat cases[] = {
        {"data_i2r_sn0", "proto_data_noack", 0, true},
        {"data_i2r_sn1", "proto_data_noack", 1, true},
        {"data_i2r_sn123456789a", "proto_data_noack", 0x123456789a, true},
        {"data_r2i_sn0", "proto_ackonly", 0, false},
        {"initrcv_sn0", "proto_initrcv_payload", 0, false},
        {"initcryptorcv_sn0", "proto_initrcv_payload", 0, false},
        {"initcryptosnd_hex", "proto_data_noack", 0, true},
    };
    std::vector<std::byte> capture;
    {
        nm::pcapng_writer w(capture);
        const auto iface = w.add_interface("vectors");
        bytes init_snd = vector_bytes("initsnd_first67");
        init_snd.resize(qotp::init_datagram_size);  // zero padding, spec §4.1
        w.write_udp(iface, neutrino::time_point{}, qotp_client, qotp_server, init_snd);
        for (const auto& c : cases) {
            w.write_udp(iface, neutrino::time_point{}, c.to_server ? qotp_client : qotp_server,
                        c.to_server ? qotp_server : qotp_client, vector_bytes(c.datagram));
        }
    }
    const auto id = vector_fields("connId_u64").at(2);  // the key log form of the id
    nm::key_log keys;
    std::vector<std::string> problems;
    keys.parse("QOTP_SHARED_SECRET " + id + " " + vector_fields("ss_session").at(0) + "\n" +
                   "QOTP_SHARED_SECRET_ID " + id + " " + vector_fields("ss_0rtt").at(0) + "\n",
               &problems);
    ASSERT_TRUE(problems.empty()) << problems.front();
    std::vector<std::byte> out_bytes;
    nm::pcapng_writer out(out_bytes);
    const auto st = nm::decrypt_capture(capture, keys, out);
    out.flush();
    EXPECT_EQ(st.qotp, std::size(cases) + 1);
    EXPECT_EQ(st.qotp_clear, 1U);
    EXPECT_EQ(st.qotp_decrypted, std::size(cases));
    const output o = read_output(out_bytes);
    ASSERT_EQ(o.opened.size(), std::size(cases));
    ASSERT_EQ(o.copied.size(), 1U);
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        SCOPED_TRACE(cases[i].datagram);
        const auto& d = o.opened[i];
        EXPECT_EQ(d.sn, cases[i].sn);
        EXPECT_EQ(hex(d.payload), hex(vector_bytes(cases[i].payload)));
        EXPECT_EQ(d.id, std::stoull(std::string(id), nullptr, 16));
        // The clear header is the datagram's, as sent.
        const bytes orig = vector_bytes(cases[i].datagram);
        EXPECT_EQ(d.comment.find("datagram was " + std::to_string(orig.size()) + " bytes") !=
                      std::string::npos,
                  true)
            << d.comment;
    }
}

// Truncated, bit-flipped, unknown and rotated-key datagrams are counted, noted and copied
// unchanged; malformed QOTP key log lines are reported; nothing crashes.
TEST(qotp_capture, bad_datagrams_and_lines_are_counted_and_copied) {
    recorded_exchange x(false);
    nm::key_log keys;
    std::vector<std::string> problems;
    keys.parse(x.key_log_text + "QOTP_SHARED_SECRET 1 2\n" + "QOTP_SHARED_SECRET_ID zz " +
                   std::string(64, 'a') + "\n" + "  QOTP_SHARED_SECRET 1 " + std::string(64, 'b') +
                   "\r\n",
               &problems);
    ASSERT_EQ(problems.size(), 2U);
    EXPECT_NE(problems[0].find("line 2"), std::string::npos) << problems[0];
    ASSERT_NE(keys.find_qotp(1), nullptr) << "leading blanks are allowed";

    // Take the first Data datagram of the capture and spoil copies of it.
    nm::pcapng_reader r(x.capture);
    qotp_test::bytes data;
    while (auto rec = r.next()) {
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        if (udp && std::to_integer<std::uint8_t>(udp->payload[0]) == 0x80) {
            data.assign(udp->payload.begin(), udp->payload.end());
            break;
        }
    }
    ASSERT_FALSE(data.empty());
    std::vector<qotp_test::bytes> spoilt;
    for (std::size_t n = 0; n < data.size(); n += 7)
        spoilt.emplace_back(data.begin(), data.begin() + static_cast<long>(n));
    for (std::size_t i = 0; i < data.size(); ++i) {
        spoilt.push_back(data);
        spoilt.back()[i] ^= std::byte{0x10};
    }
    qotp_test::bytes unknown = data;
    unknown[1] ^= std::byte{0xff};  // another connection id
    spoilt.push_back(unknown);
    std::vector<std::byte> capture;
    {
        nm::pcapng_writer w(capture);
        const auto iface = w.add_interface("spoilt");
        for (const auto& d : spoilt)
            w.write_udp(iface, neutrino::time_point{}, qotp_client, qotp_server, d);
    }
    std::vector<std::byte> out_bytes;
    nm::pcapng_writer out(out_bytes);
    const auto st = nm::decrypt_capture(capture, keys, out);
    out.flush();
    EXPECT_EQ(st.packets, spoilt.size());
    EXPECT_EQ(st.qotp_decrypted, 0U);
    EXPECT_GT(st.qotp_failed, data.size() - 20);
    EXPECT_GE(st.qotp_no_key, 2U);  // the spoilt ids, unknown included
    const output o = read_output(out_bytes);
    ASSERT_EQ(o.copied.size(), spoilt.size());
    for (std::size_t i = 0; i < spoilt.size(); ++i) EXPECT_EQ(o.copied[i], spoilt[i]);
}

// One key log holds both protocols: a Neutrino capture decrypts byte-identically whether the
// key log also holds QOTP lines or not, and so does a capture holding both protocols.
TEST(qotp_capture, one_key_log_for_both_protocols_leaves_neutrino_output_unchanged) {
    using namespace nm::test;
    const auto keylog = temp_path("qotp_mixed_keys.log");
    std::filesystem::remove(keylog);
    std::vector<std::byte> neutrino_capture;
    {
        auto writer = std::make_shared<nm::pcapng_writer>(neutrino_capture);
        auto keys = std::make_shared<nm::key_log_writer>(keylog);
        nm::recording_observer c(writer, {client_address, "client", true, true, false, keys});
        nm::recording_observer s(writer, {server_address, "server", true, true, false, nullptr});
        observed_pair<nm::recording_observer> p(c, s);
        ASSERT_TRUE(p.connect());
        p.exchange(2);
    }
    const auto raw = read_bytes(keylog);
    const std::string neutrino_lines(reinterpret_cast<const char*>(raw.data()), raw.size());
    std::filesystem::remove(keylog);
    ASSERT_FALSE(neutrino_lines.empty());
    recorded_exchange x(true);

    auto decrypt = [](const std::vector<std::byte>& in, const std::string& lines) {
        nm::key_log keys;
        keys.parse(lines);
        std::vector<std::byte> out_bytes;
        {
            nm::pcapng_writer out(out_bytes);
            (void)nm::decrypt_capture(in, keys, out);
        }
        return out_bytes;
    };
    EXPECT_EQ(decrypt(neutrino_capture, neutrino_lines),
              decrypt(neutrino_capture, x.key_log_text + neutrino_lines + x.key_log_text));

    // Both protocols in one capture (the Neutrino packets, then the QOTP ones) and one log.
    std::vector<std::byte> both = neutrino_capture;
    both.insert(both.end(), x.capture.begin(), x.capture.end());  // a second section
    nm::key_log keys;
    keys.parse(neutrino_lines + x.key_log_text);
    std::vector<std::byte> out_bytes;
    nm::pcapng_writer out(out_bytes);
    const auto st = nm::decrypt_capture(both, keys, out);
    EXPECT_GT(st.decrypted, 0U);
    EXPECT_EQ(st.failed + st.no_key, 0U);
    EXPECT_EQ(st.qotp_decrypted, x.sent);
    EXPECT_EQ(st.qotp_failed + st.qotp_no_key, 0U);
}

// The sink that writes a qotp endpoint's lines to a key_log_writer file, next to Neutrino's.
TEST(qotp_capture, key_log_sink_writes_lines_the_decryptor_reads) {
    const auto path = nm::test::temp_path("qotp_keylog.txt");
    std::filesystem::remove(path);
    const auto writer = std::make_shared<nm::key_log_writer>(path);
    nm::qotp_key_log_sink sink(writer);
    const auto s = qotp_test::secret_named("ss_session");
    sink.on_secret(
        qotp::key_log_entry{qotp::key_log_label::session, qotp::connection_id{0xabc}, s});
    sink.on_secret(
        qotp::key_log_entry{qotp::key_log_label::zero_rtt, qotp::connection_id{0xabc}, s});
    EXPECT_EQ(sink.lost(), 0U);
    nm::key_log keys;
    std::vector<std::string> problems;
    keys.load(path, &problems);
    EXPECT_TRUE(problems.empty());
    const auto* q = keys.find_qotp(0xabc);
    ASSERT_NE(q, nullptr);
    ASSERT_EQ(q->session.size(), 1U);
    ASSERT_EQ(q->zero_rtt.size(), 1U);
    EXPECT_TRUE(q->session[0].equals(s));
    std::filesystem::remove(path);
}

}  // namespace

namespace {

// The tool: one --keylog file with the QOTP lines, a summary line for QOTP.
TEST(qotp_capture, tool_decrypts_a_qotp_capture_file) {
    recorded_exchange x(false);
    const auto in = nm::test::temp_path("qotp_tool_in.pcapng");
    const auto out = nm::test::temp_path("qotp_tool_out.pcapng");
    const auto keys = nm::test::temp_path("qotp_tool_keys.log");
    for (const auto& [path, text] :
         {std::pair{in,
                    std::string(reinterpret_cast<const char*>(x.capture.data()), x.capture.size())},
          std::pair{keys, x.key_log_text}}) {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
        std::fclose(f);
    }
    const std::string cmd = std::string(NEUTRINO_MONITOR_TOOL) + " decrypt --keylog " +
                            keys.string() + " " + in.string() + " " + out.string() + " 2>&1";
    std::string log;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;)
        log.append(buf.data(), n);
    EXPECT_EQ(::pclose(p), 0) << log;
    const std::string want =
        std::to_string(x.sent) + " QOTP datagrams: " + std::to_string(x.sent - x.init_snd) +
        " decrypted, " + std::to_string(x.init_snd) + " clear, 0 without key, 0 failed";
    EXPECT_NE(log.find(want), std::string::npos) << log;
    const output o = read_output(nm::test::read_bytes(out));
    EXPECT_EQ(o.opened.size(), x.sent - x.init_snd);
    for (const auto& path : {in, out, keys}) std::filesystem::remove(path);
}

}  // namespace
