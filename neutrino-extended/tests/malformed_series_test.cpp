// Every malformed fragment series a peer can send gives a clear error (message_failed) and no
// delivery, and the session goes on: the next valid message arrives. The peer is a reliable
// server speaking the Extended variant, which sends any (keyword, payload) it is given.
// spec: neutrino.md §13.3

#include <gtest/gtest.h>

#include <chrono>
#include <utility>
#include <vector>

#include "extended_support.hpp"
#include "neutrino/extended/detail/fragmenter.hpp"

using namespace neutrino::extended_test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t frag = client_t::fragment_size;
using raw_server_t = neutrino::reliable_test::server_t;

struct raw_pair {
    explicit raw_pair(ne::config ecfg = {}, ni::simulator_config sc = {})
        : client(client_cfg(), ecfg, nr::config{}, nc::null_observer{}, neutrino::seeded_random(11)),
          server(extended_variant(), nr::config{}, nc::null_observer{}, neutrino::seeded_random(12)),
          sim(client, neutrino::test::client_address, server, neutrino::test::server_address, std::move(sc)) {
        sim.on_a_event = [this](const ne::event& e) {
            if (e.kind == ne::event_kind::message) {
                auto enc = e.words.encoded();
                messages.emplace_back(enc.begin(), enc.end());
            }
            if (e.kind == ne::event_kind::message_failed) errors.push_back(e.reason);
        };
        EXPECT_TRUE(client.connect(sim.now()));
        EXPECT_TRUE(sim.run_until([&] { return client.established(); }, 10s));
        sim.run_for(50ms);
    }
    static nc::server_config extended_variant() {
        auto c = server_cfg();
        c.dialect = neutrino::extended::wire_dialect;
        return c;
    }
    // Sends (keyword, payload) DATA packets in order, each once the server's congestion
    // window and pacer have room for it, then lets them arrive.
    void send(const std::vector<std::pair<std::uint32_t, std::vector<std::byte>>>& packets) {
        for (const auto& [k, p] : packets) {
            for (int i = 0; i < 2000 && !server.can_send(client.session_id()); ++i) sim.run_for(1ms);
            auto r = server.send_encoded(client.session_id(), k, p, sim.now());
            ASSERT_TRUE(r) << r.error().message();
            sim.flush();
        }
        sim.run_for(200ms);
    }
    client_t client;
    raw_server_t server;
    ni::simulator<client_t, raw_server_t> sim;
    std::vector<std::vector<std::byte>> messages;
    std::vector<std::error_code> errors;
};

std::vector<std::byte> encode_one(std::size_t size, unsigned seed) {
    std::vector<std::byte> w(size);
    for (std::size_t i = 0; i < size; ++i) w[i] = static_cast<std::byte>((i * 7 + seed) % 253);
    const nc::word word(w);
    std::vector<std::byte> out(*nc::extended_word_codec::encoded_size({&word, 1}));
    EXPECT_TRUE(nc::extended_word_codec::encode({&word, 1}, out));
    return out;
}

// The fragments of a message of `size` word bytes: (keyword, payload) in order.
std::vector<std::pair<std::uint32_t, std::vector<std::byte>>> fragments(const std::vector<std::byte>& b) {
    ne::detail::fragmenter f(b, frag);
    std::vector<std::pair<std::uint32_t, std::vector<std::byte>>> v;
    for (std::uint64_t i = 0; i < f.count(); ++i) {
        auto p = f.payload(i);
        v.emplace_back(f.keyword(i), std::vector<std::byte>(p.begin(), p.end()));
    }
    return v;
}

using packets = std::vector<std::pair<std::uint32_t, std::vector<std::byte>>>;

// Sends `bad`, then a valid small message: exactly one error `expected`, and only the small
// message is delivered.
void expect_refused(const packets& bad, ne::errc expected, ne::config ecfg = {}) {
    raw_pair p(ecfg);
    p.send(bad);
    const auto ok = encode_one(10, 3);
    p.send({{0, ok}});
    ASSERT_EQ(p.errors.size(), 1U);
    EXPECT_EQ(p.errors[0], expected) << p.errors[0].message();
    ASSERT_EQ(p.messages.size(), 1U) << "a malformed series was delivered";
    EXPECT_EQ(p.messages[0], ok);
    EXPECT_EQ(p.client.stats().messages_failed, 1U);
    EXPECT_TRUE(p.client.established());
    EXPECT_EQ(p.client.reassembly_bytes(), 0U);
}

}  // namespace

TEST(malformed_series, a_valid_series_from_the_raw_peer_is_delivered) {
    raw_pair p;
    const auto b = encode_one(5 * frag - 100, 1);
    p.send(fragments(b));
    ASSERT_EQ(p.messages.size(), 1U);
    EXPECT_EQ(p.messages[0], b);
    EXPECT_TRUE(p.errors.empty());
}

TEST(malformed_series, wrong_countdown) {
    auto f = fragments(encode_one(5 * frag - 100, 1));  // keywords 5 4 3 2 1
    f[2].first = 4;                                      // 5 4 4 2 1
    expect_refused(f, ne::errc::broken_series);
}

TEST(malformed_series, gap_in_the_countdown) {
    auto f = fragments(encode_one(5 * frag - 100, 1));
    f.erase(f.begin() + 2);  // 5 4 2 1
    expect_refused(f, ne::errc::broken_series);
}

TEST(malformed_series, oversize_announce_is_refused_before_buffering) {
    ne::config ecfg;
    ecfg.max_message_size = 64 * 1024;
    auto f = fragments(encode_one(100 * 1024, 1));  // 85 fragments announced: over the maximum
    expect_refused(f, ne::errc::message_too_large, ecfg);
}

TEST(malformed_series, huge_announce_from_one_packet_reserves_nothing) {
    raw_pair p;
    std::vector<std::byte> chunk(frag, std::byte{1});
    p.send({{0xffffffffU, chunk}});  // 4 billion fragments announced: 5 TB
    ASSERT_EQ(p.errors.size(), 1U);
    EXPECT_EQ(p.errors[0], ne::errc::message_too_large);
    EXPECT_EQ(p.client.stats().max_reassembly_bytes, 0U);
}

TEST(malformed_series, unfragmented_data_inside_a_series) {
    // Another DATA inside a series breaks it; that DATA itself is a valid message and arrives.
    auto f = fragments(encode_one(5 * frag - 100, 1));
    const auto inner = encode_one(20, 4);
    f.insert(f.begin() + 2, {0, inner});
    raw_pair p;
    p.send(f);
    ASSERT_EQ(p.errors.size(), 1U);  // the broken series; its orphaned rest is skipped
    EXPECT_EQ(p.errors[0], ne::errc::broken_series);
    ASSERT_EQ(p.messages.size(), 1U);
    EXPECT_EQ(p.messages[0], inner);
}

TEST(malformed_series, fragment_after_keyword_one) {
    auto f = fragments(encode_one(3 * frag - 100, 1));  // 3 2 1
    f.push_back({1, f.back().second});                   // 3 2 1 1
    raw_pair p;
    p.send(f);
    ASSERT_EQ(p.messages.size(), 1U);  // the valid series is delivered once
    ASSERT_EQ(p.errors.size(), 1U);    // the stray fragment is an error, not a message
    EXPECT_EQ(p.errors[0], ne::errc::broken_series);
}

TEST(malformed_series, short_fragment_inside_a_series) {
    auto f = fragments(encode_one(4 * frag - 100, 1));
    f[1].second.resize(100);
    expect_refused(f, ne::errc::bad_fragment);
}

TEST(malformed_series, reassembled_bytes_that_are_not_a_word_list) {
    packets f{{2, std::vector<std::byte>(frag, std::byte{0xff})}, {1, std::vector<std::byte>(10, std::byte{0xff})}};
    expect_refused(f, ne::errc::malformed_message);
}

TEST(malformed_series, unfragmented_data_that_is_not_a_word_list) {
    expect_refused({{0, std::vector<std::byte>{std::byte{5}, std::byte{0}, std::byte{1}}}},
                   ne::errc::malformed_message);
}

// A KEEP_ALIVE between two fragments is not part of the series: the reliable layer consumes
// it (spec: neutrino.md §13.2 lists the draft's defect of appending it), and the message is
// delivered whole. Our own senders interleave KEEP_ALIVEs in long series on purpose, so that
// acknowledgements keep flowing in both directions.
TEST(malformed_series, keep_alive_inside_a_series_is_not_part_of_it) {
    raw_pair p;
    const auto b = encode_one(3 * frag - 100, 1);
    auto f = fragments(b);
    const std::uint64_t sid = p.client.session_id();
    ASSERT_TRUE(p.server.send_encoded(sid, f[0].first, f[0].second, p.sim.now()));
    std::array<std::byte, 8> t{}, a{};
    const std::array<nc::word, 2> ka{nc::word(t), nc::word(a)};
    ASSERT_TRUE(p.server.next_layer().send_packet(sid, nc::packet_type::keep_alive, ka, p.sim.now()));
    p.sim.flush();
    p.send({f[1], f[2]});
    ASSERT_EQ(p.messages.size(), 1U);
    EXPECT_EQ(p.messages[0], b);
    EXPECT_TRUE(p.errors.empty());
}

TEST(malformed_series, series_cut_by_reordering_in_the_network_still_arrives_in_order) {
    // Reordering is the reliable layer's business: the series is validated in delivery order.
    ni::simulator_config sc;
    sc.b_to_a.reorder = {0.5, 8, 5ms};
    raw_pair p({}, sc);
    const auto b = encode_one(20 * frag, 2);
    p.send(fragments(b));
    p.sim.run_for(1s);
    ASSERT_EQ(p.messages.size(), 1U);
    EXPECT_EQ(p.messages[0], b);
    EXPECT_TRUE(p.errors.empty());
}
