#include "neutrino/monitor/terminal_observer.hpp"

#include <gtest/gtest.h>

#include "monitor_test_support.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/jsonl_observer.hpp"
#include "neutrino/monitor/report.hpp"

namespace nm = neutrino::monitor;
namespace nc = neutrino::core;
using namespace neutrino::monitor::test;

namespace {

std::string run_with(nm::terminal_options copt, nm::terminal_options sopt, int rounds = 3) {
    std::FILE* f = std::tmpfile();
    copt.out = f;
    sopt.out = f;
    {
        observed_pair<nm::terminal_observer> p{nm::terminal_observer(copt), nm::terminal_observer(sopt)};
        EXPECT_TRUE(p.connect());
        p.exchange(rounds);
        // A replayed datagram is a DUPLIC; garbage is a DROP.
        std::array<std::byte, 100> junk{};
        (void)p.server.handle_datagram(junk, client_address, p.link.now());
        p.link.run_for(std::chrono::seconds(2));  // keep-alives, summaries
    }
    std::string out;
    std::rewind(f);
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) out.append(buf.data(), n);
    std::fclose(f);
    return out;
}

std::size_t count(const std::string& s, std::string_view what) {
    std::size_t n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST(terminal_observer, prints_one_line_per_event_in_the_reference_style) {
    const std::string out = run_with({}, {});
    EXPECT_EQ(out.find("\x1b["), std::string::npos) << "no colour off a TTY";
    EXPECT_NE(out.find("Client SEND"), std::string::npos);
    EXPECT_NE(out.find("CLIENT_HELLO1 (0x01) REQUEST SESSION (1/3) session=PENDING (2) size=1280 pn=2"),
              std::string::npos) << out;
    EXPECT_NE(out.find("SERVER_HELLO2 (0x02) SESSION ESTABLISHING (2/3)"), std::string::npos);
    EXPECT_NE(out.find("CLIENT_HELLO3 (0x03) SESSION ESTABLISHED (3/3)"), std::string::npos);
    EXPECT_NE(out.find(R"(words=["374", "1", "3.5"])"), std::string::npos) << out;
    EXPECT_NE(out.find("Server RECV"), std::string::npos);
    EXPECT_NE(out.find("Server DROP"), std::string::npos);
    EXPECT_NE(out.find("STATUS"), std::string::npos);
    EXPECT_NE(out.find("pending -> established"), std::string::npos);
    EXPECT_NE(out.find("STATS"), std::string::npos) << "a summary line after a second";
    EXPECT_NE(out.find("rtt -"), std::string::npos);
}

TEST(terminal_observer, filters_by_type_event_and_session) {
    nm::terminal_options o;
    ASSERT_EQ(nm::apply_filter("types=DATA events=send", o), "");
    const std::string out = run_with(o, o);
    EXPECT_EQ(count(out, "\n"), count(out, " SEND ")) << out;
    EXPECT_EQ(count(out, "DATA (0x47)"), 6U) << out;  // 3 requests + 3 answers
    nm::terminal_options bad;
    EXPECT_NE(nm::apply_filter("types=NOPE", bad), "");
    EXPECT_NE(nm::apply_filter("colour=red", bad), "");
    EXPECT_NE(nm::apply_filter("session=xyz", bad), "");
    nm::terminal_options other;
    ASSERT_EQ(nm::apply_filter("session=1234 events=send,recv,state", other), "");
    EXPECT_EQ(run_with(other, other).find("DATA"), std::string::npos);
}

TEST(terminal_observer, cuts_long_words_and_shows_binary_as_hex) {
    std::FILE* f = std::tmpfile();
    nm::terminal_options o;
    o.out = f;
    nm::terminal_observer t(o);
    const std::string long_word(100, 'x');
    const std::array<std::byte, 3> bin{std::byte{0}, std::byte{1}, std::byte{0xff}};
    const auto w = nc::words(long_word, bin);
    nc::packet_info info;
    info.type = nc::packet_type::data;
    info.session_id = 0x1234;
    info.sent_words = w;
    t.on_packet_sent(info, neutrino::clock::now());
    std::rewind(f);
    std::array<char, 1024> buf{};
    const std::string out(buf.data(), std::fread(buf.data(), 1, buf.size(), f));
    std::fclose(f);
    EXPECT_NE(out.find("\"" + std::string(16, 'x') + "..." + std::string(16, 'x') + "\""), std::string::npos) << out;
    EXPECT_NE(out.find("0x0001ff"), std::string::npos) << out;
    EXPECT_NE(out.find("session=0000000000001234"), std::string::npos);
}

TEST(jsonl_observer, logs_events_and_the_report_draws_them) {
    const auto path = temp_path("events.jsonl");
    {
        nm::jsonl_observer j(path);
        nm::fanout<nm::jsonl_observer, nc::null_observer> f(j, {});
        observed_pair<decltype(f), nc::null_observer> p(f, {});
        ASSERT_TRUE(p.connect());
        p.exchange(5);
        // What a later layer reports reaches the log through the fanout.
        p.client.observer().on_rtt_sample(p.client.session_id(), nc::role::client, std::chrono::milliseconds(12), p.link.now());
        p.client.observer().on_packet_lost(p.client.session_id(), nc::role::client, std::uint64_t{99}, p.link.now());
        nc::congestion_info cc{.window = 24000, .pacing_rate = 1.5e6, .bytes_in_flight = 12000,
                               .smoothed_rtt = std::chrono::milliseconds(12), .min_rtt = std::chrono::milliseconds(10),
                               .state = "startup"};
        p.client.observer().on_congestion(p.client.session_id(), nc::role::client, cc, p.link.now());
        cc.state = "drain";
        cc.window = 20000;
        p.client.observer().on_congestion(p.client.session_id(), nc::role::client, cc, p.link.now() + std::chrono::milliseconds(20));
        p.client.observer().on_refused(p.client.session_id(), nc::role::server, nc::refusal::amplification_budget,
                                       client_address, p.link.now());
        j.flush();
    }
    const std::string log = read_text(path);
    std::filesystem::remove(path);
    EXPECT_NE(log.find(R"("ev":"send","role":"client")"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("type":"DATA","code":71)"), std::string::npos);
    EXPECT_NE(log.find(R"("ev":"state")"), std::string::npos);
    EXPECT_NE(log.find(R"("ev":"rtt")"), std::string::npos);
    EXPECT_NE(log.find(R"("ev":"cc","role":"client")"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("cwnd":24000,"inflight":12000,"pacing":1500000,"srtt_ns":12000000,"min_rtt_ns":10000000,"cc_state":"startup")"),
              std::string::npos) << log;
    EXPECT_NE(log.find(R"("ev":"refused","role":"server")"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("what":"amplification_budget")"), std::string::npos);
    std::vector<std::string> problems;
    const std::string html = nm::render_report(log + "not json\n", "test <run>", &problems);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_NE(html.find("<title>test &lt;run&gt;</title>"), std::string::npos);
    EXPECT_NE(html.find(R"(data-series="send-client" data-count="6")"), std::string::npos) << html;  // HELLO3 + 5 answers
    EXPECT_NE(html.find(R"(data-series="recv-client" data-count="6")"), std::string::npos);   // HELLO2 + 5 requests
    EXPECT_NE(html.find(R"(data-series="goodput-client")"), std::string::npos);
    EXPECT_NE(html.find(R"(data-series="rtt-client" data-count="1")"), std::string::npos);
    EXPECT_NE(html.find(R"(data-series="lost-client" data-count="1")"), std::string::npos);
    // the congestion controller beside goodput: window and flight, pacing rate, its states
    EXPECT_NE(html.find(R"(data-series="cwnd-client" data-count="2")"), std::string::npos) << html;
    EXPECT_NE(html.find(R"(data-series="inflight-client" data-count="2")"), std::string::npos);
    EXPECT_NE(html.find(R"(data-series="pacing-client" data-count="2")"), std::string::npos);
    EXPECT_NE(html.find("client congestion control startup → drain"), std::string::npos);
    EXPECT_EQ(html.find("http://") , html.find("http://www.w3.org"));  // only namespaces, no fetches
    EXPECT_EQ(html.find("<script"), std::string::npos);
    // Well formed: every opened element is closed, in order.
    std::vector<std::string> stack;
    for (std::size_t i = html.find('<'); i != std::string::npos; i = html.find('<', i + 1)) {
        if (html.compare(i, 2, "<!") == 0) continue;
        const std::size_t end = html.find('>', i);
        ASSERT_NE(end, std::string::npos);
        std::string tag = html.substr(i + 1, end - i - 1);
        if (tag.back() == '/') continue;
        const bool closing = tag.front() == '/';
        std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" \n", closing ? 1 : 0) - (closing ? 1 : 0));
        if (closing) {
            ASSERT_FALSE(stack.empty()) << name;
            ASSERT_EQ(stack.back(), name);
            stack.pop_back();
        } else {
            stack.push_back(name);
        }
    }
    EXPECT_TRUE(stack.empty());
}

TEST(terminal_observer, counts_refusals_in_the_session_summary) {
    std::FILE* f = std::tmpfile();
    nm::terminal_options opt;
    opt.out = f;
    {
        nm::terminal_observer t(opt);
        const auto t0 = neutrino::time_point{} + std::chrono::hours(1);
        nc::packet_info info;
        info.session_id = 0x42;
        info.type = nc::packet_type::data;
        t.on_packet_sent(info, t0);
        t.on_refused(0x42, nc::role::server, nc::refusal::request_budget, client_address, t0);
        t.on_refused(0x42, nc::role::server, nc::refusal::migration, client_address, t0);
        t.on_refused(0x42, nc::role::server, nc::refusal::request_budget, client_address, t0);
        t.tick(t0 + std::chrono::seconds(2));
    }
    std::string out;
    std::rewind(f);
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) out.append(buf.data(), n);
    std::fclose(f);
    EXPECT_NE(out.find("refused amp 0 req 2 mig 1"), std::string::npos) << out;
}
