// The extended layer end to end on virtual time: round trips of the issue's sizes, streaming
// send and receive, the fault matrix on extended messages, bounded memory, and the errors of
// API misuse.  spec: neutrino.md §13.3

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <numeric>

#include "extended_support.hpp"
#include "test_dialects.hpp"
#include "neutrino/extended/stream_decoder.hpp"

using namespace neutrino::extended_test;
using namespace std::chrono_literals;

namespace {

constexpr auto frag = client_t::fragment_size;

// Runs until both checks are done (or `max` virtual time passed), feeding both sources.
bool exchange(pair& p, message_source& up, message_check& at_server, message_source& down,
              message_check& at_client, std::chrono::seconds max) {
    const std::uint64_t sid = p.client.session_id();
    p.on_server = [&](const ne::event& e) { at_server.on_event(e); };
    p.on_client = [&](const ne::event& e) { at_client.on_event(e); };
    const auto limit = p.sim.now() + max;
    while (!(at_server.done() && at_client.done()) && !at_server.closed && !at_client.closed) {
        up.pump([&](nc::word_list w) { return p.client.send(w, p.sim.now()); });
        down.pump([&](nc::word_list w) { return p.server.send(sid, w, p.sim.now()); });
        if (!p.sim.step(limit) && p.sim.now() >= limit) break;
    }
    p.sim.run_for(2s);  // nothing may arrive twice
    return at_server.done() && at_client.done();
}

}  // namespace

TEST(extended, round_trips_the_issue_sizes_both_ways) {
    pair p;
    ASSERT_TRUE(p.established);
    const std::vector<std::size_t> sizes{0, 1, frag - 6, frag - 5, frag, frag + 1, 64 * 1024,
                                         1024 * 1024, 16 * 1024 * 1024 - 6};
    message_source up{1, sizes}, down{2, sizes};
    message_check at_server{1, sizes}, at_client{2, sizes};
    ASSERT_TRUE(exchange(p, up, at_server, down, at_client, 300s));
    EXPECT_EQ(at_server.mismatches + at_client.mismatches, 0U);
    EXPECT_EQ(at_server.received, sizes.size());
    // 16 MiB − 6 + 6 bytes of framing is exactly the default maximum
    EXPECT_EQ(p.client.stats().messages_received, sizes.size());
    EXPECT_GT(p.client.stats().fragments_received, (16U << 20) / frag);
    EXPECT_EQ(p.server.stats().messages_sent, sizes.size());
    // the largest buffer reserved is the largest message's fragments, once
    EXPECT_LE(p.client.stats().max_reassembly_bytes, ((16U << 20) / frag + 1) * frag);
    EXPECT_EQ(p.client.reassembly_bytes(), 0U);  // released after the message
}

TEST(extended, empty_word_list_is_a_message) {
    pair p;
    ASSERT_TRUE(p.established);
    std::size_t got = 0;
    p.on_server = [&](const ne::event& e) {
        if (e.kind == ne::event_kind::message) {
            EXPECT_EQ(e.words.size(), 0U);
            ++got;
        }
    };
    ASSERT_TRUE(p.client.send({}, p.sim.now()));
    p.sim.run_for(100ms);
    EXPECT_EQ(got, 1U);
}

TEST(extended, several_words_keep_their_boundaries) {
    pair p;
    ASSERT_TRUE(p.established);
    std::vector<std::byte> a(3000, std::byte{1}), b, c(70000, std::byte{3});
    const std::array<nc::word, 3> w{nc::word(a), nc::word(b), nc::word(c)};
    std::vector<std::size_t> seen;
    p.on_client = [&](const ne::event& e) {
        if (e.kind != ne::event_kind::message) return;
        for (auto x : e.words) seen.push_back(x.size());
    };
    ASSERT_TRUE(p.server.send(p.client.session_id(), w, p.sim.now()));
    p.sim.run_for(1s);
    EXPECT_EQ(seen, (std::vector<std::size_t>{3000, 0, 70000}));
}

TEST(extended, oversized_message_and_misuse_give_clear_errors) {
    ne::config ecfg;
    ecfg.max_message_size = 100000;
    ecfg.max_queued_bytes = 250000;
    pair p({}, ecfg);
    ASSERT_TRUE(p.established);
    std::vector<std::byte> big(100000);
    const nc::word w(big);
    auto r = p.client.send({&w, 1}, p.sim.now());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ne::errc::message_too_large);
    // write without begin_message
    auto n = p.client.write(big, p.sim.now());
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error(), ne::errc::stream_not_open);
    // a whole message while a streamed one is open
    const std::uint64_t sizes[] = {10};
    ASSERT_TRUE(p.client.begin_message(sizes, p.sim.now()));
    std::vector<std::byte> small(10);
    const nc::word ws(small);
    r = p.client.send({&ws, 1}, p.sim.now());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ne::errc::busy);
    // more bytes than announced
    std::vector<std::byte> eleven(11);
    n = p.client.write(eleven, p.sim.now());
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error(), ne::errc::stream_not_open);
    ASSERT_TRUE(p.client.write(small, p.sim.now()));
    EXPECT_FALSE(p.client.writing());
    // the queue bound gives would_block, then a writable event
    std::vector<std::byte> m(90000);
    const nc::word wm(m);
    bool blocked = false;
    for (int i = 0; i < 10 && !blocked; ++i) {
        auto x = p.client.send({&wm, 1}, p.sim.now());
        if (!x) {
            EXPECT_EQ(x.error(), nc::errc::would_block);
            blocked = true;
        }
    }
    EXPECT_TRUE(blocked);
    bool writable = false;
    p.on_client = [&](const ne::event& e) { writable = writable || e.kind == ne::event_kind::writable; };
    p.sim.run_for(1s);
    EXPECT_TRUE(writable);
    // not connected
    p.client.close(p.sim.now());
    r = p.client.send({&ws, 1}, p.sim.now());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), nc::errc::not_connected);
}

// Streaming both ways: the sender writes a 4 MiB word in odd-sized pieces as the window
// admits; the receiver (stream_above = 64 KiB) gets it in order, part by part, and never
// reserves reassembly memory for it.
TEST(extended, streamed_send_and_receive_hold_one_fragment) {
    ne::config ecfg;
    ecfg.stream_above = 64 * 1024;
    pair p({}, ecfg);
    ASSERT_TRUE(p.established);
    const std::size_t size = 4 * 1024 * 1024 + 17;
    std::vector<std::byte> data;
    fill_message(data, 9, 0, size);

    ne::stream_decoder dec;
    std::size_t got = 0, parts = 0, firsts = 0, lasts = 0;
    std::uint64_t expect_offset = 0;
    bool bad = false;
    p.on_server = [&](const ne::event& e) {
        if (e.kind == ne::event_kind::message_failed) ADD_FAILURE() << e.reason.message();
        if (e.kind != ne::event_kind::message_part) return;
        ++parts;
        firsts += e.first;
        lasts += e.last;
        EXPECT_EQ(e.offset, expect_offset);
        expect_offset += e.bytes.size();
        auto ec = dec.feed(e.bytes, [&](const ne::stream_decoder::chunk& c) {
            if (c.word != 0 || c.word_size != size) bad = true;
            for (std::byte b : c.bytes) {
                if (got >= size || b != data[got]) bad = true;
                ++got;
            }
        });
        EXPECT_FALSE(ec);
        if (e.last) {
            EXPECT_TRUE(dec.complete());
        }
    };
    const std::uint64_t sizes[] = {size};
    ASSERT_TRUE(p.client.begin_message(sizes, p.sim.now()));
    std::size_t written = 0, step = 1;
    const auto limit = p.sim.now() + 60s;
    while (p.client.writing() && p.sim.now() < limit) {
        const std::size_t want = std::min<std::size_t>(size - written, 777 * step++ % 40000 + 1);
        auto n = p.client.write(std::span<const std::byte>(data).subspan(written, want), p.sim.now());
        ASSERT_TRUE(n) << n.error().message();
        written += *n;
        if (*n < want) p.sim.step(limit);
    }
    p.sim.run_for(2s);
    EXPECT_EQ(written, size);
    EXPECT_EQ(got, size);
    EXPECT_FALSE(bad);
    EXPECT_EQ(firsts, 1U);
    EXPECT_EQ(lasts, 1U);
    EXPECT_EQ(parts, (size + 6 + frag - 1) / frag);
    EXPECT_EQ(p.server.stats().max_reassembly_bytes, 0U);
    EXPECT_EQ(p.server.stats().messages_received, 1U);
    // the sender held at most the queue of one fragment beyond the reliable window
    EXPECT_LE(p.client.pending_bytes(), frag);
}

// --- fault matrix on extended messages ----------------------------------------------------

namespace {

struct fault_case {
    const char* name;
    std::uint64_t seed_offset;
    ni::impairment_config link;
};

ni::impairment_config base() {
    ni::impairment_config c;
    c.delay = 5ms;
    return c;
}

std::vector<fault_case> cases() {
    std::vector<fault_case> v;
    for (double p : {0.01, 0.05, 0.20}) {
        auto c = base();
        c.drop = p;
        v.push_back({p == 0.01 ? "loss_1" : p == 0.05 ? "loss_5" : "loss_20", 600 + static_cast<std::uint64_t>(p * 100), c});
    }
    {
        auto c = base();
        c.burst = {0.01, 0.25, 1.0, 0.0};
        v.push_back({"burst", 630, c});
    }
    {
        auto c = base();
        c.duplicate = 0.10;
        v.push_back({"duplicate_10", 631, c});
    }
    {
        auto c = base();
        c.reorder = {0.10, 32, 10ms};
        v.push_back({"reorder_32", 632, c});
    }
    {
        auto c = base();
        c.corrupt.probability = 0.01;
        v.push_back({"corrupt_1", 633, c});
    }
    {
        auto c = base();
        c.drop = 0.05;
        c.duplicate = 0.05;
        c.reorder = {0.05, 16, 10ms};
        v.push_back({"mixed", 634, c});
    }
    return v;
}

}  // namespace

class extended_faults : public ::testing::TestWithParam<fault_case> {};

TEST_P(extended_faults, every_message_arrives_exactly_once_in_order) {
    const auto& fc = GetParam();
    const std::uint64_t seed = test_seed(fc.seed_offset);
    ni::simulator_config sc;
    sc.a_to_b = fc.link;
    sc.b_to_a = fc.link;
    sc.seed = seed;
    pair p(sc, {}, {}, seed);
    ASSERT_TRUE(p.established) << fc.name;
    // messages of 1 B … 200 KiB, most spanning several fragments: 8 MiB or so each way
    std::uint64_t s = seed;
    std::vector<std::size_t> a(80), b(80);
    for (auto& x : a) x = 1 + mix(s) % (200 * 1024);
    for (auto& x : b) x = 1 + mix(s) % (200 * 1024);
    message_source up{1, a}, down{2, b};
    message_check at_server{1, a}, at_client{2, b};
    const auto t0 = p.sim.now();
    const bool ok = exchange(p, up, at_server, down, at_client, 600s);
    std::printf("[extended-fault] %s seed %llu: %zu/%zu and %zu/%zu messages, %.0f ms virtual\n", fc.name,
                static_cast<unsigned long long>(seed), at_server.received, a.size(), at_client.received,
                b.size(), std::chrono::duration<double, std::milli>(p.sim.now() - t0).count());
    EXPECT_TRUE(ok) << fc.name;
    EXPECT_EQ(at_server.mismatches + at_client.mismatches, 0U);
    EXPECT_EQ(at_server.failures + at_client.failures, 0U);
    EXPECT_FALSE(at_server.closed.has_value()) << at_server.closed.value_or(std::error_code{}).message();
    EXPECT_FALSE(at_client.closed.has_value()) << at_client.closed.value_or(std::error_code{}).message();
}

INSTANTIATE_TEST_SUITE_P(matrix, extended_faults, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<fault_case>& i) { return std::string(i.param.name); });

// A streamed message whose bytes turn out malformed: the parts already delivered are followed
// by message_failed, and the session goes on.
TEST(extended, streamed_message_that_turns_out_malformed_is_reported) {
    ne::config ecfg;
    ecfg.stream_above = 2 * frag;
    ni::simulator_config sc;
    neutrino::reliable_test::server_t raw(
        [] {
            auto c = server_cfg();
            c.dialect = neutrino::extended::wire_dialect;
            return c;
        }(),
        nr::config{}, nc::null_observer{}, neutrino::seeded_random(5));
    client_t client(client_cfg(), ecfg, nr::config{}, nc::null_observer{}, neutrino::seeded_random(6));
    ni::simulator<client_t, neutrino::reliable_test::server_t> sim(client, neutrino::test::client_address, raw,
                                                                   neutrino::test::server_address);
    std::size_t parts = 0;
    std::vector<std::error_code> failed;
    std::size_t messages = 0;
    sim.on_a_event = [&](const ne::event& e) {
        parts += e.kind == ne::event_kind::message_part;
        messages += e.kind == ne::event_kind::message;
        if (e.kind == ne::event_kind::message_failed) failed.push_back(e.reason);
    };
    ASSERT_TRUE(client.connect(sim.now()));
    ASSERT_TRUE(sim.run_until([&] { return client.established(); }, 10s));
    sim.run_for(50ms);
    // count 1, size 5000, then 5000 bytes would need 5006 bytes: announce 4 fragments of
    // which the words end early, the rest being non-zero junk
    std::vector<std::byte> f(frag, std::byte{7});
    f[0] = std::byte{1};
    f[1] = std::byte{0};
    f[2] = std::byte{0x10};
    f[3] = std::byte{0};
    f[4] = std::byte{0};
    f[5] = std::byte{0};  // one word of 16 bytes; everything after it must be zero padding
    const std::uint64_t sid = client.session_id();
    ASSERT_TRUE(raw.send_encoded(sid, 4, f, sim.now()));
    for (std::uint32_t k = 3; k >= 1; --k) ASSERT_TRUE(raw.send_encoded(sid, k, f, sim.now()));
    const std::array<std::byte, 3> ok{std::byte{0}, std::byte{0}, std::byte{0}};  // zero words
    ASSERT_TRUE(raw.send_encoded(sid, 0, ok, sim.now()));
    sim.run_for(200ms);
    EXPECT_EQ(parts, 0U);  // the junk is in the first fragment: nothing is handed out
    ASSERT_EQ(failed.size(), 1U);
    EXPECT_EQ(failed[0], ne::errc::malformed_message);
    EXPECT_EQ(messages, 1U);
    EXPECT_TRUE(client.established());
}

// An application that feeds datagrams without draining events in between still gets every
// message intact: the events left queued are settled with owned copies of their bytes.
TEST(extended, events_not_drained_between_datagrams_keep_their_bytes) {
    pair p;
    ASSERT_TRUE(p.established);
    const std::uint64_t sid = p.client.session_id();
    p.sim.run_for(100ms);
    std::vector<std::vector<std::byte>> sent;
    for (std::size_t i = 0; i < 4; ++i) {
        std::vector<std::byte> m;
        fill_message(m, 7, i, 3000 + 1000 * i);  // 3–6 fragments each
        const nc::word w(m);
        ASSERT_TRUE(p.server.send(sid, {&w, 1}, p.sim.now()));
        sent.push_back(m);
    }
    // Move the datagrams both ways by hand, on a clock of our own, without polling the
    // client's events: the server's congestion window and pacer let the fragments out over a
    // few round trips, as the client's acknowledgements come back.
    std::array<std::byte, 2048> buf;
    std::size_t fed = 0;
    neutrino::time_point now = p.sim.now();
    for (const auto until = now + 2s; fed < 17 && now < until; now += 1ms) {
        while (auto t = p.server.poll_datagram(buf, now)) {
            (void)p.client.handle_datagram(std::span<const std::byte>(buf).first(t->size),
                                           neutrino::test::server_address, now);
            ++fed;
        }
        while (auto t = p.client.poll_datagram(buf, now)) {
            (void)p.server.handle_datagram(std::span<const std::byte>(buf).first(t->size),
                                           neutrino::test::client_address, now);
        }
        if (auto d = p.client.deadline(); d && *d <= now) p.client.handle_deadline(now);
        if (auto d = p.server.deadline(); d && *d <= now) p.server.handle_deadline(now);
    }
    ASSERT_GE(fed, 17U);  // 3 + 4 + 5 + 5 fragments
    std::vector<std::vector<std::byte>> got;
    while (auto e = p.client.poll_event()) {
        if (e->kind == ne::event_kind::message) {
            ASSERT_EQ(e->words.size(), 1U);
            auto w = *e->words.begin();
            got.emplace_back(w.begin(), w.end());
        }
    }
    EXPECT_EQ(got, sent);
}

// The layers are movable (io::basic_endpoint takes its layer by value), and a moved endpoint
// keeps working: its sessions' shared state does not move.
static_assert(std::is_move_constructible_v<client_t>);
static_assert(std::is_move_constructible_v<server_t>);

TEST(extended, a_moved_client_keeps_its_session_state) {
    ne::config ecfg;
    ecfg.max_reassembly_bytes = 1 << 20;
    client_t original(client_cfg(), ecfg, nr::config{}, nc::null_observer{}, neutrino::seeded_random(31));
    client_t client(std::move(original));
    server_t server(server_cfg(), ne::config{}, nr::config{}, nc::null_observer{}, neutrino::seeded_random(32));
    ni::simulator<client_t, server_t> sim(client, neutrino::test::client_address, server, neutrino::test::server_address);
    std::size_t got = 0;
    sim.on_a_event = [&](const ne::event& e) { got += e.kind == ne::event_kind::message; };
    ASSERT_TRUE(client.connect(sim.now()));
    ASSERT_TRUE(sim.run_until([&] { return client.established(); }, 10s));
    sim.run_for(50ms);
    std::vector<std::byte> m(300000, std::byte{5});
    const nc::word w(m);
    ASSERT_TRUE(server.send(client.session_id(), {&w, 1}, sim.now()));
    sim.run_for(1s);
    EXPECT_EQ(got, 1U);
    EXPECT_EQ(client.stats().messages_received, 1U);
    EXPECT_EQ(client.stats().max_reassembly_bytes, ((300006 + frag - 1) / frag) * frag);
    EXPECT_EQ(client.reassembly_bytes(), 0U);
}

// A streamed message that turns out malformed after parts were delivered: the parts come
// first, then message_failed voids them; the rest of the series is skipped.
TEST(extended, streamed_message_failing_late_voids_the_parts_delivered) {
    ne::config ecfg;
    ecfg.stream_above = 2 * frag;
    neutrino::reliable_test::server_t raw(
        [] {
            auto c = server_cfg();
            c.dialect = neutrino::extended::wire_dialect;
            return c;
        }(),
        nr::config{}, nc::null_observer{}, neutrino::seeded_random(7));
    client_t client(client_cfg(), ecfg, nr::config{}, nc::null_observer{}, neutrino::seeded_random(8));
    ni::simulator<client_t, neutrino::reliable_test::server_t> sim(client, neutrino::test::client_address, raw,
                                                                   neutrino::test::server_address);
    std::vector<ne::event_kind> seen;
    sim.on_a_event = [&](const ne::event& e) {
        if (e.kind == ne::event_kind::message_part || e.kind == ne::event_kind::message_failed ||
            e.kind == ne::event_kind::message) {
            seen.push_back(e.kind);
        }
    };
    ASSERT_TRUE(client.connect(sim.now()));
    ASSERT_TRUE(sim.run_until([&] { return client.established(); }, 10s));
    sim.run_for(50ms);
    // one word of 2 × frag bytes: it ends inside the third fragment; non-zero bytes follow it
    const std::size_t word = 2 * frag;
    std::vector<std::byte> all(4 * frag, std::byte{9});
    all[0] = std::byte{1};
    all[1] = std::byte{0};
    neutrino::store_le<std::uint32_t>(all.data() + 2, static_cast<std::uint32_t>(word));
    const std::uint64_t sid = client.session_id();
    for (std::uint32_t k = 4; k >= 1; --k) {
        const auto chunk = std::span<const std::byte>(all).subspan((4 - k) * frag, frag);
        ASSERT_TRUE(raw.send_encoded(sid, k, chunk, sim.now()));
    }
    const std::array<std::byte, 2> empty_list{};
    ASSERT_TRUE(raw.send_encoded(sid, 0, empty_list, sim.now()));
    sim.run_for(200ms);
    const std::vector<ne::event_kind> expect{ne::event_kind::message_part, ne::event_kind::message_part,
                                             ne::event_kind::message_failed, ne::event_kind::message};
    EXPECT_EQ(seen, expect);
    EXPECT_EQ(client.stats().messages_failed, 1U);
}

// Core's tests drive the raw-DATA path with a copy of this layer's dialect (core may not name
// extended); the copy must stay what extended declares: reliable's, with id 2 and raw DATA.
TEST(extended_dialect, core_tests_copy_is_the_layers_declaration) {
    static_assert(neutrino::extended::wire_dialect == neutrino::test::raw_dialect);
    EXPECT_EQ(neutrino::extended::wire_dialect.id, 2);
    EXPECT_TRUE(neutrino::extended::wire_dialect.raw_data);
    EXPECT_TRUE(neutrino::extended::wire_dialect.layered);
}
