#include "neutrino/qotp/endpoint.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "neutrino/qotp/packet_protection.hpp"
#include "qotp_sim.hpp"

namespace {

using namespace qotp_sim;
using qotp::drop_reason;
using qotp::errc;

qotp::endpoint_config config() {
    qotp::endpoint_config c;
    c.connection.max_payload = 1452;
    return c;
}

// A client that dials, streams `to_server`, and a server that echoes nothing but reads.
struct transfer {
    transfer(sim& s, std::size_t size, bool zero_rtt = false)
        : net(s), to_server(pattern(size, 3)) {
        id = *s.client.connect(s.server_address, s.now,
                               zero_rtt ? std::optional(s.server.identity()) : std::nullopt);
        s.on_step = [this] {
            if (auto* c = net.client.find(id)) pump(*c, to_server, sent);
            if (auto* c = net.server.find(id)) drain(*c, at_server);
        };
    }
    [[nodiscard]] bool done() const { return at_server.size() == to_server.size(); }
    sim& net;
    bytes to_server;
    bytes at_server;
    std::size_t sent = 0;
    qotp::connection_id id;
};

bytes forged_init_snd(qotp::connection_id id, std::uint8_t salt) {
    qotp::announced_keys keys;
    for (std::size_t i = 0; i < keys.ephemeral.size(); ++i) {
        keys.ephemeral[i] = std::byte{static_cast<std::uint8_t>(salt + i * 7)};
    }
    id.write(std::span<std::byte, 8>(keys.ephemeral.data(), 8));  // the live id
    bytes d(qotp::init_datagram_size);
    EXPECT_TRUE(qotp::write_init_snd(d, keys, 1232));
    return d;
}

TEST(qotp_endpoint, forged_init_snd_on_a_live_id_does_not_disturb_it) {
    sim s(config(), config());
    transfer t(s, 200000);
    ASSERT_TRUE(s.run_until(
        [&] { return s.server.find(t.id) != nullptr && t.at_server.size() > 1000; }, 5s));
    const auto peer_key = s.server.find(t.id)->peer_ephemeral();
    for (std::uint8_t i = 0; i < 20; ++i) {
        s.inject_to_server(forged_init_snd(t.id, i), address_of(9));
    }
    ASSERT_TRUE(s.run_until([&] { return t.done(); }, 30s));
    EXPECT_EQ(t.at_server, t.to_server);
    EXPECT_EQ(s.server.stats().drops(drop_reason::init_for_live_connection), 20U);
    EXPECT_EQ(s.server.find(t.id)->peer_ephemeral(), peer_key);
    EXPECT_EQ(s.server.stats().connections_accepted, 1U);
    EXPECT_EQ(s.server.size(), 1U);
}

// 100 000 junk datagrams (random bytes, truncated real messages, flipped bits, real messages
// with the live id) at a server whose live connection must still finish its transfer.
TEST(qotp_endpoint, junk_flood_is_counted_and_the_live_connection_finishes) {
    auto c = config();
    c.max_half_open = 8;
    sim s(config(), c);
    // Material: a complete exchange on another pair, in both directions.
    sim donor(config(), config(), 77);
    transfer dt(donor, 5000, true);
    ASSERT_TRUE(donor.run_until([&] { return dt.done(); }, 5s));
    std::vector<bytes> real = donor.client_log;
    real.insert(real.end(), donor.server_log.begin(), donor.server_log.end());

    transfer t(s, 300000);
    ASSERT_TRUE(
        s.run_until([&] { return s.server.find(t.id) != nullptr && t.at_server.size() > 0; }, 5s));
    std::mt19937_64 rng(4242);
    std::size_t injected = 0;
    auto junk = [&]() -> bytes {
        const auto kind = rng() % 4;
        if (kind == 0) {  // random bytes, random size, type byte often valid
            bytes d(rng() % 1500);
            for (auto& b : d) b = static_cast<std::byte>(rng());
            if (!d.empty() && rng() % 2 == 0) d[0] = static_cast<std::byte>((rng() % 5) << 5);
            return d;
        }
        bytes d = real[rng() % real.size()];
        if (kind == 1) {  // truncated
            d.resize(rng() % d.size());
        } else if (kind == 2) {  // one bit flipped
            d[rng() % d.size()] ^= static_cast<std::byte>(1U << (rng() % 8));
        } else {  // a real message with the live connection id
            if (d.size() >= 9) t.id.write(std::span<std::byte, 8>(d.data() + 1, 8));
        }
        return d;
    };
    bool closed_early = false;
    s.on_step = [&, app = s.on_step] {
        if (!t.done() && s.server.find(t.id) == nullptr) closed_early = true;
        for (int i = 0; i < 500 && injected < 100000; ++i, ++injected) {
            (void)s.server.handle_datagram(
                junk(), address_of(static_cast<std::uint8_t>(10 + rng() % 200)), s.now);
        }
        app();
    };
    ASSERT_TRUE(s.run_until([&] { return t.done() && injected == 100000; }, 120s))
        << injected << " " << t.at_server.size();
    EXPECT_EQ(t.at_server, t.to_server);
    const auto& st = s.server.stats();
    EXPECT_GT(st.drops(drop_reason::too_short), 0U);
    EXPECT_GT(st.drops(drop_reason::bad_header), 0U);
    EXPECT_GT(st.drops(drop_reason::unknown_connection), 0U);
    EXPECT_GT(st.drops(drop_reason::decryption_failed), 0U);
    EXPECT_GT(st.drops(drop_reason::half_open_limit), 0U);
    EXPECT_GE(st.total_drops(), 90000U);
    EXPECT_LE(s.server.half_open(), 8U);
    EXPECT_FALSE(closed_early);
    for (const auto& e : s.server_events) {
        // Once the transfer is done the client goes quiet: only the idle timeout may end it.
        if (e.what == qotp::endpoint_event::kind::closed && e.id == t.id) {
            EXPECT_EQ(e.error, errc::idle_timeout);
        }
    }
}

// Amplification (spec §4.7, §24.7a): an attacker spoofs the victim's address in a 0-RTT
// InitCryptoSnd announcing maxPayload 65000 to a server that answers at once with 50 KB.
TEST(qotp_endpoint, unvalidated_address_never_gets_more_than_three_times_what_it_sent) {
    for (const bool zero_rtt : {true, false}) {
        SCOPED_TRACE(zero_rtt ? "0-RTT" : "1-RTT");
        auto big = config();
        big.connection.max_payload = 65000;
        sim s(big, big);
        const auto victim = address_of(3);
        std::size_t from_victim = 0;
        // Only the attacker's first datagram reaches the server, with the victim's address.
        s.filter = [](const sent_info& d) {
            return d.from_client ? action{action::kind::drop, {}} : action{};
        };
        const auto id = *s.client.connect(
            s.server_address, s.now, zero_rtt ? std::optional(s.server.identity()) : std::nullopt);
        (void)s.client.find(id)->send(pattern(500, 1));
        std::array<std::byte, 65535> buf{};
        const auto first = s.client.poll_datagram(buf, s.now);
        ASSERT_TRUE(first);
        from_victim += first->size;
        // The server's application answers at once, before its first reply goes out.
        (void)s.server.handle_datagram(std::span(buf).first(first->size), victim, s.now);
        const auto accepted = s.server.poll_event();
        ASSERT_TRUE(accepted);
        s.accepted = accepted->id;
        const bytes reply = pattern(50000, 5);
        ASSERT_TRUE(s.server.find(accepted->id)->send(reply));
        s.run_until([] { return false; }, 20s);
        ASSERT_TRUE(s.accepted.has_value());
        std::size_t to_victim = 0;
        for (const auto& [to, n] : s.server_sent) {
            if (to == victim) to_victim += n;
        }
        EXPECT_GT(to_victim, 0U);
        EXPECT_LE(to_victim, 3 * from_victim);
        if (zero_rtt) {
            // the cap, not the reply size, is what held it
            EXPECT_GT(s.server.stats().drops(drop_reason::amplification_limit), 0U);
        }
        EXPECT_EQ(s.server.size(), 0U);  // the half-open connection gave up
    }
}

TEST(qotp_endpoint, replayed_zero_rtt_message_creates_no_connection) {
    sim s(config(), config());
    transfer t(s, 500, true);
    ASSERT_TRUE(s.run_until([&] { return t.done(); }, 5s));
    const bytes first = s.client_log.front();
    ASSERT_EQ(first[0], qotp::type_byte(qotp::message_type::init_crypto_snd));
    // While the connection lives: a re-sent copy, dropped by the replay window under S0.
    s.inject_to_server(first, s.client_address);
    s.run_until([] { return false; }, 50ms);
    EXPECT_EQ(s.server.stats().drops(drop_reason::replayed), 1U);
    // After it is gone: the 0-RTT cache refuses it (the reference would deliver the data again).
    s.server.find(t.id)->close();
    s.server.handle_deadline(s.now);
    ASSERT_EQ(s.server.find(t.id), nullptr);
    s.inject_to_server(first, address_of(8));
    s.run_until([] { return false; }, 50ms);
    EXPECT_EQ(s.server.stats().drops(drop_reason::zero_rtt_replay), 1U);
    EXPECT_EQ(s.server.stats().connections_accepted, 1U);
}

TEST(qotp_endpoint, zero_rtt_cache_forgets_after_its_lifetime) {
    auto c = config();
    c.zero_rtt_cache_lifetime = std::chrono::milliseconds(1000);
    sim s(config(), c);
    transfer t(s, 500, true);
    ASSERT_TRUE(s.run_until([&] { return t.done(); }, 5s));
    const bytes first = s.client_log.front();
    s.server.find(t.id)->close();
    s.server.handle_deadline(s.now);
    s.now += 2s;
    s.inject_to_server(first, address_of(8));
    s.run_until([] { return false; }, 50ms);
    EXPECT_EQ(s.server.stats().connections_accepted, 2U);  // the stated limit of the rule
}

TEST(qotp_endpoint, half_open_and_connection_limits) {
    auto c = config();
    c.max_half_open = 4;
    c.max_connections = 6;
    sim s(config(), c);
    for (std::uint8_t i = 0; i < 10; ++i) {
        qotp::announced_keys keys;
        keys.ephemeral = qotp::public_key_of(s.client_keys.generate());
        bytes d(qotp::init_datagram_size);
        ASSERT_TRUE(qotp::write_init_snd(d, keys, 1232));
        const auto r =
            s.server.handle_datagram(d, address_of(static_cast<std::uint8_t>(20 + i)), s.now);
        if (i < 4) {
            EXPECT_TRUE(r) << int{i};
        } else {
            EXPECT_EQ(r.error(), drop_reason::half_open_limit) << int{i};
            EXPECT_EQ(r.error(), neutrino::condition::refused);
        }
    }
    EXPECT_EQ(s.server.size(), 4U);
    EXPECT_EQ(s.server.stats().drops(drop_reason::half_open_limit), 6U);
}

TEST(qotp_endpoint, low_order_ephemeral_key_is_refused_without_state) {
    sim s(config(), config());
    qotp::announced_keys keys;  // all-zero epI: X25519 output is zero (spec §2)
    bytes d(qotp::init_datagram_size);
    ASSERT_TRUE(qotp::write_init_snd(d, keys, 1232));
    const auto r = s.server.handle_datagram(d, address_of(5), s.now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), drop_reason::decryption_failed);
    EXPECT_EQ(r.error(), neutrino::condition::unauthenticated);
    EXPECT_EQ(s.server.size(), 0U);
    EXPECT_EQ(s.server.stats().drops(drop_reason::decryption_failed), 1U);
}

TEST(qotp_endpoint, data_for_an_unknown_id_and_short_datagrams_are_counted) {
    sim s(config(), config());
    bytes d(60, std::byte{0});
    d[0] = qotp::type_byte(qotp::message_type::data);
    const auto unknown = s.server.handle_datagram(d, address_of(5), s.now);
    const auto short_one = s.server.handle_datagram(std::span(d).first(41), address_of(5), s.now);
    d[0] = std::byte{0x81};
    const auto bad = s.server.handle_datagram(d, address_of(5), s.now);
    // Each drop comes back as the reason it was counted under (datagram_layer's result<void>).
    ASSERT_FALSE(unknown);
    ASSERT_FALSE(short_one);
    ASSERT_FALSE(bad);
    EXPECT_EQ(unknown.error(), drop_reason::unknown_connection);
    EXPECT_EQ(short_one.error(), drop_reason::too_short);
    EXPECT_EQ(bad.error(), drop_reason::bad_header);
    EXPECT_EQ(bad.error(), neutrino::condition::malformed);
    EXPECT_EQ(bad.error().category().name(), std::string("neutrino.qotp.drop"));
    EXPECT_FALSE(bad.error().message().empty());
    EXPECT_EQ(s.server.stats().drops(drop_reason::unknown_connection), 1U);
    EXPECT_EQ(s.server.stats().drops(drop_reason::too_short), 1U);
    EXPECT_EQ(s.server.stats().drops(drop_reason::bad_header), 1U);
    EXPECT_EQ(s.server.stats().total_drops(), 3U);
}

}  // namespace
