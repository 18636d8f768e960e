#include "neutrino/core/v3/wire.hpp"

// The v3 wire policy (spec: neutrino-v3.md §16.1) and a full in-memory handshake + transport
// round trip through the v3 building blocks with fresh random keys (no vectors).

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <optional>

#include "neutrino/core/wire_v2.hpp"
#include "neutrino/random.hpp"

namespace nc = neutrino::core;
namespace v3 = neutrino::core::v3;
using namespace std::chrono_literals;

static_assert(nc::wire::v3::version == 3 && nc::wire::v2::version == 2);
static_assert(nc::wire::v3::max_payload_size == 1238 && nc::wire::v2::max_payload_size == 1214);
static_assert(nc::wire::v3::overhead == 42);
static_assert(nc::wire::v3::is_unnumbered(nc::wire::v3::unnumbered_pn(1)));
static_assert(!nc::wire::v3::is_unnumbered(1) && !nc::wire::v3::is_unnumbered((std::uint64_t{1} << 63) - 1));

namespace {
v3::secret_key random_key(neutrino::seeded_random& r) {
    std::array<std::byte, 32> b{};
    r.fill(b);
    return v3::secret_key(b);
}
}  // namespace

TEST(v3_wire, first_packet_number_is_one) {
    neutrino::seeded_random r(1);
    EXPECT_EQ(nc::wire::v3::first_packet_number(r), 1U);
}

TEST(v3_wire, random_ik_handshake_with_cookie_then_transport_both_ways) {
    neutrino::ensure_sodium();
    neutrino::seeded_random rnd(42);
    const auto server_sk = random_key(rnd), client_sk = random_key(rnd);
    const auto server_pk = v3::public_key_of(server_sk);
    const auto mac1_key = v3::derive_mac1_key(server_pk);
    const auto cookie_key = v3::derive_cookie_key(server_pk);
    const auto client_addr = neutrino::peer_address::v4({10, 0, 0, 7}, 5555);
    const auto now = neutrino::time_point{} + 1000s;

    v3::offer o;
    o.variants_mask = 0x02;
    o.preferred_variant = 1;
    std::array<std::byte, v3::hello1_size> hello1{};
    auto client = v3::client_handshake::write_hello1(hello1, server_pk, mac1_key, random_key(rnd), &client_sk, o);
    ASSERT_TRUE(client);

    // server under load: mac1 passes, no cookie → COOKIE_REPLY
    auto secrets = v3::cookie_secrets::generate(rnd, now);
    ASSERT_TRUE(v3::check_hello1(hello1, mac1_key));
    ASSERT_EQ(secrets.check_mac2(hello1, client_addr).error(), v3::errc::bad_mac2);
    std::array<std::byte, 24> nonce{};
    rnd.fill(nonce);
    std::array<std::byte, v3::cookie_reply_size> reply{};
    ASSERT_TRUE(v3::write_cookie_reply(reply, cookie_key, nonce, v3::hello1_mac1(hello1), secrets.cookie_for(client_addr)));

    // client: opens it, sets mac2, resends
    auto c = v3::open_cookie_reply(reply, cookie_key, client->mac1());
    ASSERT_TRUE(c);
    ASSERT_TRUE(v3::set_mac2(hello1, *c));
    ASSERT_TRUE(v3::check_hello1(hello1, mac1_key));
    ASSERT_TRUE(secrets.check_mac2(hello1, client_addr));

    auto server = v3::server_handshake::read_hello1(hello1, server_sk, server_pk);
    ASSERT_TRUE(server);
    ASSERT_TRUE(server->client_static());
    EXPECT_EQ(*server->client_static(), v3::public_key_of(client_sk));
    ASSERT_TRUE(server->client_offer());
    std::array<std::byte, v3::hello2_size> hello2{};
    const v3::answer a{v3::hello2_status::accepted, 1, 0, 0x123456789abcdefULL};
    ASSERT_TRUE(server->write_hello2(hello2, random_key(rnd), a));
    auto got = client->read_hello2(hello2);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, a);
    ASSERT_TRUE(v3::check_answer(o, *got));
    EXPECT_EQ(client->handshake_hash(), server->handshake_hash());
    const auto ck = client->split(), sk = server->split();

    // HELLO3 (pn 1) and DATA both ways, then a client-initiated key update
    v3::send_keys client_tx(ck.c2s), server_tx(sk.s2c);
    v3::receive_keys server_rx(sk.c2s), client_rx(ck.s2c);
    v3::replay_guard server_win, client_win;
    std::array<std::byte, v3::max_datagram_size> d{}, scratch{};
    const std::array<std::byte, 1> empty_list{std::byte{0}};
    auto n = nc::wire::v3::seal(d, v3::packet_type::client_hello3, a.session_id, 1, 0, empty_list, 0, client_tx);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 43U);
    auto p = nc::wire::v3::receive(std::span(d).first(*n), v3::role::server, server_rx, server_win, now, scratch);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->header.type, v3::packet_type::client_hello3);

    client_tx.advance();  // phase 1
    n = nc::wire::v3::seal(d, v3::packet_type::data, a.session_id, 2, 0, empty_list, 100, client_tx);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 100U);
    p = nc::wire::v3::receive(std::span(d).first(*n), v3::role::server, server_rx, server_win, now, scratch);
    ASSERT_TRUE(p);
    EXPECT_EQ(server_rx.phase(), 1U);
    if (server_tx.phase() < server_rx.phase()) server_tx.advance();  // §11.3: the responder follows
    n = nc::wire::v3::seal(d, v3::packet_type::data, a.session_id, 1, 0, empty_list, 0, server_tx);
    ASSERT_TRUE(n);
    p = nc::wire::v3::receive(std::span(d).first(*n), v3::role::client, client_rx, client_win, now, scratch);
    ASSERT_TRUE(p);
    EXPECT_EQ(client_rx.phase(), 1U);
}
