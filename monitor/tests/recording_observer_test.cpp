#include "neutrino/monitor/recording_observer.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "monitor_test_support.hpp"
#include "neutrino/monitor/decrypt.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"

namespace nm = neutrino::monitor;
namespace nc = neutrino::core;
using namespace neutrino::monitor::test;

namespace {

struct recorded {
    std::vector<std::byte> capture;
    std::string key_log_text;
    std::uint64_t session_id = 0;
};

// A client and a server sharing one capture (one interface each); keys embedded and/or logged.
recorded record_pair(bool embed_keys, int rounds = 3) {
    recorded out;
    const auto keylog = temp_path("keys.log");
    std::filesystem::remove(keylog);
    {
        auto writer = std::make_shared<nm::pcapng_writer>(out.capture);
        auto keys = std::make_shared<nm::key_log_writer>(keylog);
        nm::recording_observer c(writer, {client_address, "client", true, true, embed_keys, keys});
        nm::recording_observer s(writer, {server_address, "server", true, true, embed_keys, nullptr});
        observed_pair<nm::recording_observer> p(c, s);
        EXPECT_TRUE(p.connect());
        p.exchange(rounds);
        out.session_id = p.client.session_id();
    }
    out.key_log_text = read_text(keylog);
    std::filesystem::remove(keylog);
    return out;
}

}  // namespace

TEST(recording_observer, records_every_datagram_both_ways_with_real_addresses) {
    const auto r = record_pair(false);
    nm::pcapng_reader reader(r.capture);
    std::map<std::string, int> flows;  // "iface src>dst" → count
    int hello1 = 0;
    while (auto rec = reader.next()) {
        ASSERT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        ASSERT_TRUE(udp);
        auto h = nc::clear_header::parse(udp->payload);
        ASSERT_TRUE(h);
        if (h->type == 1) {
            ++hello1;
            EXPECT_EQ(udp->payload.size(), 1280U);
        }
        ++flows[std::to_string(rec->interface_id) + " " + nm::to_string(udp->src) + ">" + nm::to_string(udp->dst)];
    }
    EXPECT_EQ(hello1, 2);  // sent by the client, received by the server
    // Interface 0 is the client's: it sent c→s and received s→c; same counts on the server's.
    const std::string c2s = "127.0.0.1:40000>127.0.0.1:22753", s2c = "127.0.0.1:22753>127.0.0.1:40000";
    EXPECT_EQ(flows["0 " + c2s], flows["1 " + c2s]);
    EXPECT_EQ(flows["0 " + s2c], flows["1 " + s2c]);
    EXPECT_GE(flows["0 " + c2s], 5);  // HELLO1, HELLO3, 3 answers
    EXPECT_GE(flows["0 " + s2c], 4);  // HELLO2, 3 requests
}

TEST(recording_observer, key_log_has_both_directions_and_no_long_term_key) {
    const auto r = record_pair(false);
    char sid[17];
    std::snprintf(sid, sizeof sid, "%016llx", static_cast<unsigned long long>(r.session_id));
    std::istringstream in(r.key_log_text);
    std::string line;
    std::map<std::string, std::string> by_label_from_client;
    int lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        std::istringstream f(line);
        std::string label, id, key;
        f >> label >> id >> key;
        EXPECT_EQ(id, sid);
        EXPECT_EQ(key.size(), 64U);
        EXPECT_TRUE(label == "NEUTRINO2_C2S" || label == "NEUTRINO2_S2C") << label;
        by_label_from_client[label] = key;
    }
    EXPECT_EQ(lines, 2);  // only the client wrote to this key log
    EXPECT_EQ(r.key_log_text.find(nc::example_secret_key_hex), std::string::npos);
    EXPECT_EQ(r.key_log_text.find(nc::example_public_key_hex), std::string::npos);
    nm::key_log parsed;
    std::vector<std::string> problems;
    parsed.parse(r.key_log_text, &problems);
    EXPECT_TRUE(problems.empty());
    const auto* s = parsed.find(r.session_id);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->c2s && s->s2c);
}

TEST(recording_observer, decrypts_with_the_key_log_and_with_embedded_secrets) {
    for (const bool embed : {false, true}) {
        const auto r = record_pair(embed);
        nm::key_log keys;
        if (!embed) keys.parse(r.key_log_text);
        std::vector<std::byte> out;
        nm::pcapng_writer w(out);
        const auto st = nm::decrypt_capture(r.capture, keys, w);
        EXPECT_EQ(st.failed, 0U);
        EXPECT_EQ(st.no_key, 0U);
        EXPECT_EQ(st.clear, 2U);
        EXPECT_EQ(st.decrypted + st.clear, st.neutrino);
        EXPECT_EQ(st.decrypted, 16U);  // HELLO2, HELLO3, 6 DATA: each sent and received
        // The decrypted packets carry the marker and the plaintext words.
        nm::pcapng_reader reader(out);
        int marked = 0;
        bool saw_630 = false;
        while (auto rec = reader.next()) {
            ASSERT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
            if (rec->what != nm::pcapng_record::kind::packet) continue;
            auto udp = nm::parse_udp(rec->linktype, rec->data);
            ASSERT_TRUE(udp);
            const std::string_view pl(reinterpret_cast<const char*>(udp->payload.data()), udp->payload.size());
            if (pl.substr(14, 8) == nm::decrypted_marker) {
                ++marked;
                EXPECT_NE(rec->comment.find("decrypted with NEUTRINO2_"), std::string::npos);
                if (pl.find("630") != std::string_view::npos) saw_630 = true;
            }
        }
        EXPECT_EQ(static_cast<std::uint64_t>(marked), st.decrypted);
        EXPECT_TRUE(saw_630);
    }
}

TEST(recording_observer, decrypt_reports_wrong_keys_and_corrupt_records_and_goes_on) {
    auto r = record_pair(false);
    // A wrong key for the session: every encrypted datagram fails, one message each.
    nm::key_log wrong;
    char sid[17];
    std::snprintf(sid, sizeof sid, "%016llx", static_cast<unsigned long long>(r.session_id));
    wrong.parse(std::string("NEUTRINO2_C2S ") + sid + " " + std::string(64, '1') + "\n");
    std::vector<std::byte> out;
    {
        nm::pcapng_writer w(out);
        const auto st = nm::decrypt_capture(r.capture, wrong, w);
        EXPECT_EQ(st.decrypted, 0U);
        EXPECT_GT(st.failed, 0U);
        EXPECT_EQ(st.problems.size(), st.failed);
        EXPECT_NE(st.problems[0].find("does not open"), std::string::npos);
    }
    // Truncate the capture mid-block: the packets before decrypt, one problem for the rest.
    nm::key_log keys;
    keys.parse(r.key_log_text);
    auto cut = r.capture;
    cut.resize(cut.size() - 100);
    out.clear();
    nm::pcapng_writer w(out);
    const auto st = nm::decrypt_capture(cut, keys, w);
    EXPECT_GT(st.decrypted, 10U);
    EXPECT_EQ(st.bad_records, 1U);
    ASSERT_FALSE(st.problems.empty());
    EXPECT_NE(st.problems.back().find("block"), std::string::npos);
}

TEST(recording_observer, key_log_from_environment_is_opt_in) {
    ::unsetenv("NEUTRINO_KEYLOGFILE");
    EXPECT_EQ(nm::key_log_writer::from_environment(), nullptr);
    const auto path = temp_path("env.keys");
    ::setenv("NEUTRINO_KEYLOGFILE", path.c_str(), 1);
    EXPECT_NE(nm::key_log_writer::from_environment(), nullptr);
    ::unsetenv("NEUTRINO_KEYLOGFILE");
    std::filesystem::remove(path);
}

TEST(key_log, skips_foreign_labels_and_reports_malformed_lines) {
    nm::key_log k;
    std::vector<std::string> problems;
    k.parse("# comment\nCLIENT_RANDOM aa bb\nNEUTRINO2_C2S zz 00\n\nNEUTRINO2_S2C 40 " + std::string(64, 'a') + "\r\n",
            &problems);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_NE(problems[0].find("line 3"), std::string::npos);
    ASSERT_NE(k.find(0x40), nullptr);
    EXPECT_TRUE(k.find(0x40)->s2c.has_value());
    EXPECT_FALSE(k.find(0x40)->c2s.has_value());
}

#ifdef NEUTRINO_MONITOR_HAVE_INSPECTOR
#include "neutrino/inspector/simulator.hpp"

TEST(recording_observer, dumps_a_simulated_run_with_synthetic_addresses) {
    std::vector<std::byte> capture;
    auto writer = std::make_shared<nm::pcapng_writer>(
        capture, nm::clock_origin{neutrino::time_point{}, std::chrono::system_clock::time_point{std::chrono::seconds(1700000000)}});
    const auto a = neutrino::peer_address::v4({192, 0, 2, 1}, 50000), b = neutrino::peer_address::v4({192, 0, 2, 2}, 22753);
    using pair_t = observed_pair<nm::recording_observer>;
    auto ccfg = pair_t::client_cfg();
    ccfg.server = b;
    pair_t::client_type client(ccfg, nm::recording_observer(writer, {a, "client", true, false, true, nullptr}),
                               neutrino::seeded_random(5));
    pair_t::server_type server(pair_t::server_cfg(),
                               nm::recording_observer(writer, {b, "server", true, false, true, nullptr}),
                               neutrino::seeded_random(6));
    neutrino::inspector::simulator_config cfg;
    cfg.a_to_b.drop = 0.2;
    cfg.seed = 3;
    neutrino::inspector::simulator sim(client, a, server, b, cfg);
    ASSERT_TRUE(client.connect(sim.now()));
    sim.run_until([&] { return client.established(); }, std::chrono::seconds(30));
    for (int i = 0; i < 20 && client.established(); ++i) {
        (void)client.send(nc::words("630", std::to_string(i)), sim.now());
        sim.run_until([] { return false; }, std::chrono::milliseconds(10));
    }
    writer->flush();
    nm::pcapng_reader reader(capture);
    int sent_by_client = 0;
    std::uint64_t first_ts = 0;
    while (auto rec = reader.next()) {
        ASSERT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        if (first_ts == 0) first_ts = rec->timestamp_ns;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        ASSERT_TRUE(udp);
        if (udp->src == a) ++sent_by_client;
    }
    EXPECT_GE(sent_by_client, 20);
    EXPECT_GE(first_ts, 1700000000000000000ULL);  // virtual time mapped onto the given origin
    std::vector<std::byte> out;
    nm::pcapng_writer w(out);
    const auto st = nm::decrypt_capture(capture, {}, w);  // keys embedded
    EXPECT_EQ(st.failed, 0U);
    EXPECT_GT(st.decrypted, 20U);
}
#endif
