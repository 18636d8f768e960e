// The monitor on wire v3 (neutrino::core::v3 machines): a session recorded to pcapng with its
// key log (NEUTRINO3_HANDSHAKE_HASH, NEUTRINO3_C2S_0, NEUTRINO3_S2C_0, spec: neutrino-v3.md
// §16.3), decrypted packet by packet across forced key updates (§11) and a retransmission
// re-sealed under a newer phase (§10.1); the terminal and JSON-lines views of v3 traffic,
// COOKIE_REPLY included.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "monitor_test_support.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/monitor/decrypt.hpp"
#include "neutrino/monitor/describe.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/jsonl_observer.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"
#include "neutrino/monitor/recording_observer.hpp"
#include "neutrino/monitor/terminal_observer.hpp"

namespace nm = neutrino::monitor;
namespace nc = neutrino::core;
namespace v3 = neutrino::core::v3;
using namespace neutrino::monitor::test;

namespace {

/// A v3 client and server with the given observers on a memory link.
template <class Observer>
struct v3_pair {
    using client_type = v3::basic_client<Observer, neutrino::seeded_random>;
    using server_type = v3::basic_server<Observer, neutrino::seeded_random>;

    struct settings {
        std::uint64_t client_update_every = 0;  ///< force a key update after that many packets
        std::uint64_t server_update_every = 0;
        bool require_cookie = false;
    };

    static nc::client_config ccfg() {
        nc::client_config c;
        c.server_key = server_keys().pk;
        c.server = server_address;
        return c;
    }
    static nc::server_config scfg() {
        nc::server_config s;
        s.keys = server_keys();
        return s;
    }
    static v3::client_options copt(const settings& s) {
        v3::client_options o;
        o.key_update.force_every_packets = s.client_update_every;
        return o;
    }
    static v3::server_options sopt(const settings& s) {
        v3::server_options o;
        o.key_update.force_every_packets = s.server_update_every;
        o.always_require_cookie = s.require_cookie;
        return o;
    }

    v3_pair(Observer c, Observer s, settings set)
        : client(ccfg(), copt(set), std::move(c), neutrino::seeded_random(3)),
          server(scfg(), sopt(set), std::move(s), neutrino::seeded_random(4)),
          link(client, client_address, server, server_address) {}

    bool connect() {
        if (!client.connect(link.now())) return false;
        return link.run_until(
            [this] {
                return client.established() &&
                       server.state_of(client.session_id()) == nc::session_state::established;
            },
            std::chrono::seconds(10));
    }

    /// `n` rounds: the server sends ["374", i, "3.5"], the client answers ["630", i].
    void exchange(int n, int first = 0) {
        for (int i = first; i < first + n; ++i) {
            const std::string k = std::to_string(i);
            EXPECT_TRUE(server.send(client.session_id(), nc::words("374", k, "3.5"), link.now()));
            link.run_for(std::chrono::milliseconds(5));
            EXPECT_TRUE(client.send(nc::words("630", k), link.now()));
            link.run_for(std::chrono::milliseconds(5));
        }
    }

    client_type client;
    server_type server;
    neutrino::memory_link<client_type, server_type> link;
};

std::string sid_hex(std::uint64_t sid) {
    std::array<char, 20> b{};
    std::snprintf(b.data(), b.size(), "%016llx", static_cast<unsigned long long>(sid));
    return b.data();
}

/// A v3 datagram of a capture.
struct captured {
    std::uint8_t type_byte = 0;
    std::uint64_t session_id = 0;
    std::uint64_t pn = 0;  ///< transport packets: the pn field
    std::size_t size = 0;
    std::string comment;
    std::vector<std::string> words;  ///< decrypted packets: the words (when they parse)
    bool decrypted = false;
};

std::vector<captured> read_capture(const std::vector<std::byte>& file) {
    std::vector<captured> out;
    nm::pcapng_reader reader(file);
    while (auto rec = reader.next()) {
        EXPECT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        EXPECT_TRUE(udp);
        if (!udp) continue;
        const auto d = udp->payload;
        EXPECT_GE(d.size(), 22U);
        EXPECT_EQ(std::to_integer<int>(d[4]), 3) << "every datagram is wire v3";
        captured c;
        c.type_byte = std::to_integer<std::uint8_t>(d[5]);
        c.session_id = neutrino::load_le<std::uint64_t>(d.data() + 6);
        c.size = d.size();
        c.comment = rec->comment;
        const std::string_view marker(reinterpret_cast<const char*>(d.data() + 14), 8);
        c.decrypted = marker == nm::decrypted_marker;
        if (c.decrypted) {
            c.pn = neutrino::load_le<std::uint64_t>(d.data() + 22);
            EXPECT_EQ(neutrino::load_le<std::uint32_t>(d.data() + 30), 0U) << "keyword";
            if (auto w = nc::words_view::parse(d.subspan(34))) {
                for (nc::word x : *w) c.words.emplace_back(nc::as_string(x));
            } else {
                ADD_FAILURE() << "decrypted words do not parse";
            }
        } else if (v3::is_transport_type(c.type_byte & v3::type_code_mask)) {
            c.pn = neutrino::load_le<std::uint64_t>(d.data() + 14);
        }
        out.push_back(std::move(c));
    }
    return out;
}

struct recorded_v3 {
    std::vector<std::byte> capture;
    std::string key_log_text;
    std::uint64_t session_id = 0;
    std::uint64_t client_phase = 0, server_phase = 0;
    std::uint64_t resealed = 0;
};

/// Client and server record what they send (each datagram once) into one capture, and both
/// write the key log. Key updates are forced every few packets; with 10 rounds or more, a DATA
/// sealed in phase 0 is retransmitted after round 10 (re-sealed under the then current phase,
/// while its key is still held); CLIENT_GOOD_BYE at the end.
recorded_v3 record_v3(bool embed_keys, int rounds = 20) {
    recorded_v3 out;
    const auto keylog = temp_path("v3_keys.log");
    std::filesystem::remove(keylog);
    {
        auto writer = std::make_shared<nm::pcapng_writer>(out.capture);
        auto keys = std::make_shared<nm::key_log_writer>(keylog);
        nm::recording_observer c(writer, {client_address, "client", true, false, embed_keys, keys});
        nm::recording_observer s(writer, {server_address, "server", true, false, false, keys});
        v3_pair<nm::recording_observer> p(c, s, {4, 6, false});
        std::vector<std::byte> first_data;  // the client's first DATA, sealed in phase 0
        std::uint64_t first_pn = 0;
        p.link.set_filter([&](auto& d) {
            if (d.to_b && first_data.empty() &&
                (std::to_integer<std::uint8_t>(d.bytes[5]) & v3::type_code_mask) == 0x47) {
                first_data = d.bytes;
                first_pn = neutrino::load_le<std::uint64_t>(d.bytes.data() + 14);
            }
            return true;
        });
        EXPECT_TRUE(p.connect());
        const int before = std::min(rounds, 10);
        p.exchange(before);
        if (rounds >= 10) {
            EXPECT_FALSE(first_data.empty());
            EXPECT_GE(p.client.send_phase(), 1U);
            EXPECT_TRUE(p.client.resend(first_data, first_pn, p.link.now()));
            p.link.run_for(std::chrono::milliseconds(5));
        }
        p.exchange(rounds - before, before);
        out.session_id = p.client.session_id();
        out.client_phase = p.client.send_phase();
        out.server_phase = p.server.phases_of(out.session_id).first;
        out.resealed = p.client.stats().resealed;
        p.client.close(p.link.now());
        p.link.run_for(std::chrono::milliseconds(5));
    }
    out.key_log_text = read_text(keylog);
    std::filesystem::remove(keylog);
    return out;
}

std::size_t count(const std::string& s, std::string_view what) {
    std::size_t n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST(v3_capture, key_log_has_the_handshake_hash_and_phase0_keys_of_both_sides) {
    const auto r = record_v3(false, 2);
    const std::string sid = sid_hex(r.session_id);
    std::istringstream in(r.key_log_text);
    std::map<std::string, std::vector<std::string>> values;  // label → values for our session
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string label, id, value, extra;
        f >> label >> id >> value >> extra;
        EXPECT_EQ(id, sid) << line;
        EXPECT_TRUE(extra.empty()) << line;
        values[label].push_back(value);
    }
    // One set of lines per side (client and server share the writer here), equal values.
    ASSERT_EQ(values.size(), 3U) << r.key_log_text;
    for (const auto& [label, v] : values) {
        ASSERT_EQ(v.size(), 2U) << label;
        EXPECT_EQ(v[0], v[1]) << label << ": both sides log the same value";
    }
    EXPECT_EQ(values["NEUTRINO3_HANDSHAKE_HASH"][0].size(), 128U);
    EXPECT_EQ(values["NEUTRINO3_C2S_0"][0].size(), 64U);
    EXPECT_EQ(values["NEUTRINO3_S2C_0"][0].size(), 64U);
    EXPECT_NE(values["NEUTRINO3_C2S_0"][0], values["NEUTRINO3_S2C_0"][0]);
    EXPECT_EQ(r.key_log_text.find(std::string(nc::example_secret_key_hex)), std::string::npos)
        << "never the long-term key";
    nm::key_log parsed;
    std::vector<std::string> problems;
    parsed.parse(r.key_log_text, &problems);
    EXPECT_TRUE(problems.empty());
    const auto* s = parsed.find(r.session_id);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->wire_version, 3);
    EXPECT_TRUE(s->c2s && s->s2c && s->handshake_hash);
}

TEST(v3_capture, every_packet_decrypts_across_key_updates_and_a_resealed_retransmission) {
    for (const bool embed : {false, true}) {
        SCOPED_TRACE(embed ? "keys embedded in the capture" : "keys from the key log");
        const auto r = record_v3(embed);
        EXPECT_GE(r.client_phase, 3U) << "the forced key updates happened";
        EXPECT_GE(r.server_phase, 3U);
        EXPECT_EQ(r.resealed, 1U) << "the phase-0 DATA was re-sealed under the current phase";
        nm::key_log keys;
        if (!embed) keys.parse(r.key_log_text);
        std::vector<std::byte> out;
        nm::pcapng_writer w(out);
        const auto st = nm::decrypt_capture(r.capture, keys, w);
        for (const auto& p : st.problems) ADD_FAILURE() << p;
        EXPECT_EQ(st.failed, 0U);
        EXPECT_EQ(st.no_key, 0U);
        EXPECT_EQ(st.clear, 2U) << "HELLO1 and HELLO2";
        EXPECT_EQ(st.v3, st.neutrino);
        EXPECT_EQ(st.decrypted + st.clear, st.neutrino);
        EXPECT_GE(st.max_phase, 3U);

        // Every transport datagram of the input appears decrypted, in order, with its pn.
        const auto in = read_capture(r.capture);
        const auto dec = read_capture(out);
        std::vector<std::uint64_t> in_pns, out_pns;
        for (const auto& c : in) {
            if (v3::is_transport_type(c.type_byte & v3::type_code_mask)) in_pns.push_back(c.pn);
        }
        std::map<std::string, int> data_words;  // "374,3" / "630,3" → count
        std::map<std::string, int> phases;      // "NEUTRINO3_C2S phase 2" → count
        int hello3 = 0, good_bye = 0;
        for (const auto& c : dec) {
            if (!c.decrypted) continue;
            out_pns.push_back(c.pn);
            EXPECT_EQ(c.session_id, r.session_id);
            const auto at = c.comment.find("NEUTRINO3_");
            ASSERT_NE(at, std::string::npos) << c.comment;
            ++phases[c.comment.substr(at, c.comment.find(" of session") - at)];
            const auto code = c.type_byte & v3::type_code_mask;
            if (code == 0x03) ++hello3;
            if (code == 0x05) ++good_bye;
            if (code == 0x47 && !c.words.empty()) {
                ++data_words[c.words[0] + "," + (c.words.size() > 1 ? c.words[1] : "")];
            }
        }
        EXPECT_EQ(in_pns.size(), st.decrypted);
        EXPECT_EQ(out_pns, in_pns);
        EXPECT_EQ(hello3, 1);
        EXPECT_EQ(good_bye, 2);  // core::client_config::good_bye_copies
        for (int i = 0; i < 20; ++i) {
            EXPECT_EQ(data_words["374," + std::to_string(i)], 1) << i;
            EXPECT_EQ(data_words["630," + std::to_string(i)], i == 0 ? 2 : 1) << i;  // + the resend
        }
        // Phases 0 … 3 at least, each direction.
        for (int p = 0; p <= 3; ++p) {
            EXPECT_GT(phases["NEUTRINO3_C2S phase " + std::to_string(p)], 0) << p;
            EXPECT_GT(phases["NEUTRINO3_S2C phase " + std::to_string(p)], 0) << p;
        }
    }
}

TEST(v3_capture, a_capture_of_one_side_sent_and_received_decrypts_too) {
    std::vector<std::byte> capture;
    std::string key_lines;
    {
        auto writer = std::make_shared<nm::pcapng_writer>(capture);
        nm::recording_observer c(writer, {client_address, "client", true, true, true, nullptr});
        nm::recording_observer s(nullptr, {server_address, "server", false, false, false, nullptr});
        v3_pair<nm::recording_observer> p(c, s, {0, 3, false});
        ASSERT_TRUE(p.connect());
        p.exchange(15);
        EXPECT_GE(p.client.receive_phase(), 3U);
    }
    std::vector<std::byte> out;
    nm::pcapng_writer w(out);
    const auto st = nm::decrypt_capture(capture, {}, w);
    EXPECT_EQ(st.failed, 0U);
    EXPECT_EQ(st.no_key, 0U);
    EXPECT_EQ(st.clear, 2U);
    EXPECT_EQ(st.decrypted + st.clear, st.neutrino);
    EXPECT_GE(st.decrypted, 1U + 2U * 15U);
    EXPECT_GE(st.max_phase, 3U);
}

TEST(v3_capture, decrypt_reports_wrong_keys_and_copies_the_datagrams) {
    const auto r = record_v3(false, 2);
    nm::key_log keys;
    std::string wrong = r.key_log_text;
    // Flip one hex digit of every C2S key: c2s packets no longer open, s2c ones still do.
    for (auto at = wrong.find("NEUTRINO3_C2S_0 "); at != std::string::npos;
         at = wrong.find("NEUTRINO3_C2S_0 ", at + 1)) {
        char& ch = wrong[at + 16 + 17];
        ch = ch == '0' ? '1' : '0';
    }
    keys.parse(wrong);
    std::vector<std::byte> out;
    nm::pcapng_writer w(out);
    const auto st = nm::decrypt_capture(r.capture, keys, w);
    EXPECT_GT(st.failed, 0U);
    EXPECT_GT(st.decrypted, 0U);
    EXPECT_EQ(st.decrypted + st.failed + st.clear, st.neutrino);
    ASSERT_FALSE(st.problems.empty());
    EXPECT_NE(st.problems[0].find("does not open"), std::string::npos) << st.problems[0];
}

TEST(v3_capture, tool_decrypts_a_file_capture_with_embedded_keys) {
    const auto capture = temp_path("v3_in.pcapng"), decrypted = temp_path("v3_out.pcapng");
    {
        auto writer = std::make_shared<nm::pcapng_writer>(capture);
        nm::recording_observer c(writer, {client_address, "client", true, false, true, nullptr});
        nm::recording_observer s(writer, {server_address, "server", true, false, false, nullptr});
        v3_pair<nm::recording_observer> p(c, s, {2, 0, false});
        ASSERT_TRUE(p.connect());
        p.exchange(3);
    }
    const std::string cmd = std::string(NEUTRINO_MONITOR_TOOL) + " decrypt " + capture.string() + " " +
                            decrypted.string() + " 2>&1";
    std::string log;
    std::FILE* f = ::popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) log.append(buf.data(), n);
    EXPECT_EQ(::pclose(f), 0) << log;
    // HELLO3 + 3 × (request, answer) = 7 transport datagrams; HELLO1, HELLO2 clear.
    EXPECT_NE(log.find("7 decrypted, 2 clear, 0 without key, 0 failed"), std::string::npos) << log;
    EXPECT_NE(log.find("9 of them wire v3, key phases up to"), std::string::npos) << log;
    std::filesystem::remove(capture);
    std::filesystem::remove(decrypted);
}

TEST(v3_capture, terminal_and_jsonl_name_v3_types_cookie_reply_included) {
    std::FILE* term = std::tmpfile();
    std::FILE* json = std::tmpfile();
    {
        nm::terminal_options o;
        o.out = term;
        o.protocol = &nm::neutrino_v3_description();
        using obs = nm::fanout<nm::terminal_observer, nm::jsonl_observer>;
        obs c(nm::terminal_observer(o), nm::jsonl_observer(json, nm::neutrino_v3_description()));
        obs s(nm::terminal_observer(o), nm::jsonl_observer(json, nm::neutrino_v3_description()));
        v3_pair<obs> p(c, s, {0, 0, true});  // the server requires a cookie: COOKIE_REPLY first
        ASSERT_TRUE(p.connect());
        p.exchange(2);
        EXPECT_EQ(p.client.stats().cookies_received, 1U);
        // An unnumbered pn is shown in its own space.
        nc::packet_info info;
        info.side = nc::role::client;
        info.type = static_cast<nc::packet_type>(0x09);
        info.session_id = p.client.session_id();
        info.packet_number = v3::unnumbered_base + 1;
        p.client.observer().get<0>().on_packet_sent(info, p.link.now());
    }
    auto slurp = [](std::FILE* f) {
        std::string out;
        std::rewind(f);
        std::array<char, 4096> buf{};
        for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) out.append(buf.data(), n);
        std::fclose(f);
        return out;
    };
    const std::string t = slurp(term), j = slurp(json);
    EXPECT_EQ(count(t, "COOKIE_REPLY (0x07) COOKIE (retry with mac2) session=NONE (2) size=70"), 2U)
        << "sent by the server, received by the client:\n"
        << t;
    EXPECT_EQ(count(t, "CLIENT_HELLO1 (0x01) NOISE MESSAGE 1 (1/3) session=NONE (2) size=1280"), 3U)
        << "two HELLO1s sent (without and with mac2), the second one accepted:\n"
        << t;
    EXPECT_EQ(count(t, "SERVER_HELLO2 (0x02) NOISE MESSAGE 2 (2/3)"), 2U) << t;
    EXPECT_EQ(count(t, "CLIENT_HELLO3 (0x03) KEY CONFIRMATION (3/3)"), 2U) << t;
    EXPECT_NE(t.find("PATH_RESPONSE (0x09) session="), std::string::npos) << t;
    EXPECT_NE(t.find("pn=u1 "), std::string::npos) << t;
    EXPECT_NE(t.find("size=43 pn=1 "), std::string::npos) << "HELLO3: 43 bytes, pn 1\n" << t;
    EXPECT_EQ(count(j, R"("type":"COOKIE_REPLY","code":7)"), 2U) << j;
    EXPECT_EQ(count(j, R"("type":"DATA","code":71)"), 8U) << j;
}
