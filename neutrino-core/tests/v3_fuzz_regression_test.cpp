#include "neutrino/core/v3/packet_protection.hpp"

// Regressions found by the v3 fuzz targets (fuzz/fuzz_v3_handshake.cpp, fuzz_v3_receive.cpp).

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/core/crypto.hpp"
#include "test_dialects.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"

namespace nc = neutrino::core;
namespace v3 = neutrino::core::v3;
using neutrino::peer_address;
using neutrino::time_point;

namespace {

nc::secret_key test_key() {
    std::array<std::byte, 32> k{};
    k.fill(std::byte{7});
    return nc::secret_key(k);
}

// An empty payload (e.g. an empty raw Extended fragment, send_encoded with keyword ≥ 1) sealed
// into a 42-byte datagram that every receiver drops as too short (§3.2: 43 bytes at least):
// the sender now refuses it instead of sending what can never be accepted.
TEST(V3FuzzRegression, EmptyPayloadIsNotSealed) {
    std::array<std::byte, v3::max_datagram_size> out{};
    auto n = v3::seal_transport(out, v3::packet_type::data, 0, 64, 1, 1, {}, 0, test_key());
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error(), v3::errc::bad_size);
    const std::array<std::byte, 1> empty_list{};
    n = v3::seal_transport(out, v3::packet_type::data, 0, 64, 1, 1, empty_list, 0, test_key());
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, v3::min_transport_size);
    EXPECT_TRUE(v3::transport_header::parse({out.data(), *n}, v3::role::server));
}

TEST(V3FuzzRegression, EmptyRawFragmentIsRefusedByTheMachine) {
    using client_t = v3::basic_client<nc::null_observer, neutrino::seeded_random>;
    using server_t = v3::basic_server<nc::null_observer, neutrino::seeded_random>;
    const auto keys = *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    const auto ca = peer_address::v4({10, 0, 0, 1}, 40000);
    const auto sa = peer_address::v4({10, 0, 0, 2}, 22753);
    nc::client_config cc;
    cc.server_key = keys.pk;
    cc.server = sa;
    cc.dialect = neutrino::test::raw_dialect;
    nc::server_config sc;
    sc.keys = keys;
    sc.dialect = neutrino::test::raw_dialect;
    client_t c(cc, {}, neutrino::seeded_random(1));
    server_t s(sc, {}, neutrino::seeded_random(2));
    const time_point now{};
    std::array<std::byte, v3::max_datagram_size> buf{};
    auto pump = [&] {
        for (int i = 0; i < 4; ++i) {
            while (auto t = c.poll_datagram(buf, now)) (void)s.handle_datagram({buf.data(), t->size}, ca, now);
            while (auto t = s.poll_datagram(buf, now)) (void)c.handle_datagram({buf.data(), t->size}, sa, now);
            while (c.poll_event()) {
            }
            while (s.poll_event()) {
            }
        }
    };
    ASSERT_TRUE(c.connect(now));
    pump();
    ASSERT_TRUE(c.established());
    ASSERT_EQ(s.state_of(c.session_id()), nc::session_state::established);
    EXPECT_FALSE(c.send_encoded(1, {}, now));
    EXPECT_FALSE(s.send_encoded(c.session_id(), 1, {}, now));
    EXPECT_FALSE(c.poll_datagram(buf, now));
    EXPECT_FALSE(s.poll_datagram(buf, now));
    // the packet number was not used up: the next fragment is accepted
    const std::array<std::byte, 1> one{std::byte{0x5a}};
    ASSERT_TRUE(c.send_encoded(1, one, now));
    auto t = c.poll_datagram(buf, now);
    ASSERT_TRUE(t);
    EXPECT_TRUE(s.handle_datagram({buf.data(), t->size}, ca, now));
}

}  // namespace
