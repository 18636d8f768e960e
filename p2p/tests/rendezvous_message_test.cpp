#include "neutrino/p2p/rendezvous_message.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <variant>
#include <vector>

#include "neutrino/random.hpp"
#include "p2p_test_support.hpp"
#include "test_seed.hpp"

namespace {

using namespace neutrino::p2p;
using neutrino::condition;
using neutrino::peer_address;
using p2p_test::error_of;

node_id id_of(std::uint8_t b) {
    node_id id{};
    for (std::size_t i = 0; i < id.size(); ++i) id[i] = std::byte(b + i);
    return id;
}

candidate_list some_candidates(std::size_t n) {
    candidate_list cs;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 2 == 0) {
            cs.push_back({peer_address::v4({10, 0, 0, static_cast<std::uint8_t>(i)},
                                           static_cast<std::uint16_t>(4000 + i)),
                          candidate_kind::host});
        } else {
            std::array<std::uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
            b[15] = static_cast<std::uint8_t>(i);
            cs.push_back(
                {peer_address::v6(b, static_cast<std::uint16_t>(5000 + i)), candidate_kind::ipv6});
        }
    }
    return cs;
}

std::vector<std::byte> encode(const rendezvous_message& m) {
    std::vector<std::byte> out(max_rendezvous_message_size);
    auto n = encode_rendezvous(m, out);
    EXPECT_TRUE(n) << n.error().message();
    out.resize(n ? *n : 0);
    return out;
}

// One of every message, with every optional field present (at their largest where it matters).
std::vector<rendezvous_message> every_message() {
    static const std::array<std::byte, 64> realm = [] {
        std::array<std::byte, 64> r{};
        r.fill(std::byte{'r'});
        return r;
    }();
    static const std::array<std::byte, 5> token{std::byte{1}, std::byte{2}, std::byte{3},
                                                std::byte{4}, std::byte{5}};
    std::vector<rendezvous_message> all;
    all.emplace_back(register_message{id_of(1), realm, token, some_candidates(8),
                                      capability_ipv6 | capability_tcp_relay});
    all.emplace_back(registered_message{peer_address::v4({203, 0, 113, 7}, 40000), 60, 123456789});
    all.emplace_back(keepalive_message{0xfedcba9876543210ULL});
    std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    all.emplace_back(keepalive_ack_message{7, peer_address::v6(v6, 3478)});
    all.emplace_back(connect_message{id_of(2), 0x0102030405060708ULL});
    introduce_message intro{id_of(3), {}, some_candidates(3), 99, true, {}, 0xabcdef, 5555};
    intro.peer_key.fill(std::byte{0x11});
    intro.punch_secret.fill(std::byte{0x22});
    all.emplace_back(intro);
    all.emplace_back(peer_update_message{id_of(4), some_candidates(2)});
    all.emplace_back(error_message{rendezvous_error::over_quota, 42});
    all.emplace_back(bye_message{});
    return all;
}

bool same(const rendezvous_message& a, const rendezvous_message& b) {
    if (a.index() != b.index()) return false;
    return std::visit(
        [&b](const auto& x) {
            using alternative = std::decay_t<decltype(x)>;
            const auto& y = std::get<alternative>(b);
            auto eq = [](std::span<const std::byte> p, std::span<const std::byte> q) {
                return p.size() == q.size() &&
                       (p.empty() || std::memcmp(p.data(), q.data(), p.size()) == 0);
            };
            if constexpr (std::is_same_v<alternative, register_message>) {
                return x.id == y.id && eq(x.realm, y.realm) && eq(x.token, y.token) &&
                       x.candidates == y.candidates && x.capabilities == y.capabilities;
            } else if constexpr (std::is_same_v<alternative, registered_message>) {
                return x.reflexive == y.reflexive && x.lease_seconds == y.lease_seconds &&
                       x.server_time_ms == y.server_time_ms;
            } else if constexpr (std::is_same_v<alternative, keepalive_message>) {
                return x.sequence == y.sequence;
            } else if constexpr (std::is_same_v<alternative, keepalive_ack_message>) {
                return x.sequence == y.sequence && x.reflexive == y.reflexive;
            } else if constexpr (std::is_same_v<alternative, connect_message>) {
                return x.target == y.target && x.attempt_id == y.attempt_id;
            } else if constexpr (std::is_same_v<alternative, introduce_message>) {
                return x.peer == y.peer && x.peer_key == y.peer_key &&
                       x.candidates == y.candidates && x.attempt_id == y.attempt_id &&
                       x.initiator == y.initiator && x.punch_secret == y.punch_secret &&
                       x.relay_id == y.relay_id && x.start_time_ms == y.start_time_ms;
            } else if constexpr (std::is_same_v<alternative, peer_update_message>) {
                return x.peer == y.peer && x.candidates == y.candidates;
            } else if constexpr (std::is_same_v<alternative, error_message>) {
                return x.code == y.code && x.attempt_id == y.attempt_id;
            } else {
                return true;
            }
        },
        a);
}

TEST(p2p_rendezvous_message, every_message_round_trips) {
    for (const auto& m : every_message()) {
        const auto bytes = encode(m);
        ASSERT_FALSE(bytes.empty());
        EXPECT_EQ(std::to_integer<std::uint8_t>(bytes[0]), static_cast<std::uint8_t>(type_of(m)));
        const auto back = decode_rendezvous(bytes);
        ASSERT_TRUE(back) << back.error().message() << " type " << m.index();
        EXPECT_TRUE(same(m, *back)) << "type " << m.index();
        EXPECT_LE(bytes.size(), max_rendezvous_message_size);
    }
}

TEST(p2p_rendezvous_message, minimal_messages_round_trip) {
    // no optional fields: absent realm, token, candidates, capabilities, attempt id
    for (const rendezvous_message& m :
         {rendezvous_message{register_message{id_of(9), {}, {}, {}, 0}},
          rendezvous_message{peer_update_message{id_of(9), {}}},
          rendezvous_message{error_message{rendezvous_error::not_found, 0}}}) {
        const auto back = decode_rendezvous(encode(m));
        ASSERT_TRUE(back);
        EXPECT_TRUE(same(m, *back));
    }
}

TEST(p2p_rendezvous_message, requests_are_padded_to_at_least_their_replies) {
    for (const rendezvous_message& m :
         {rendezvous_message{register_message{id_of(1), {}, {}, {}, 0}},
          rendezvous_message{keepalive_message{1}},
          rendezvous_message{connect_message{id_of(2), 1}}}) {
        EXPECT_GE(encode(m).size(), min_request_size);
    }
    // the largest replies to them
    std::array<std::uint8_t, 16> v6{};
    EXPECT_LE(encode(registered_message{peer_address::v6(v6, 1), ~0U, ~0ULL}).size(),
              min_request_size);
    EXPECT_LE(encode(keepalive_ack_message{~0ULL, peer_address::v6(v6, 1)}).size(),
              min_request_size);
    EXPECT_LE(encode(error_message{rendezvous_error::not_found, ~0ULL}).size(), min_request_size);
}

TEST(p2p_rendezvous_message, every_truncation_is_rejected) {
    for (const auto& m : every_message()) {
        const auto bytes = encode(m);
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            const auto r = decode_rendezvous(std::span(bytes).first(n));
            ASSERT_FALSE(r) << "cut at " << n << " of type " << m.index();
            EXPECT_TRUE(r.error() == make_error_code(errc::rendezvous_truncated) ||
                        r.error() == make_error_code(errc::rendezvous_missing_field))
                << r.error().message() << " at " << n << " of type " << m.index();
            EXPECT_EQ(r.error().default_error_condition(),
                      make_error_condition(condition::malformed));
        }
    }
}

TEST(p2p_rendezvous_message, truncation_inside_a_field_is_truncated) {
    const auto bytes = encode(connect_message{id_of(2), 5});
    ASSERT_EQ(bytes.size(), min_request_size);
    // type, padding (3 + 15), node id (3 + 16), attempt id (3 + 8)
    EXPECT_EQ(error_of(decode_rendezvous(std::span(bytes).first(10))),
              make_error_code(errc::rendezvous_truncated));
    EXPECT_EQ(error_of(decode_rendezvous(std::span(bytes).first(2))),
              make_error_code(errc::rendezvous_truncated));
    EXPECT_EQ(error_of(decode_rendezvous({})), make_error_code(errc::rendezvous_truncated));
    // cut right after the node id: the attempt id is missing
    EXPECT_EQ(error_of(decode_rendezvous(std::span(bytes).first(37))),
              make_error_code(errc::rendezvous_missing_field));
}

std::vector<std::byte> tlv(std::uint8_t tag, std::vector<std::byte> value) {
    std::vector<std::byte> out{std::byte{tag}, std::byte(value.size() & 0xff),
                               std::byte(value.size() >> 8)};
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

std::vector<std::byte> message(std::uint8_t type, std::vector<std::vector<std::byte>> tlvs) {
    std::vector<std::byte> out{std::byte{type}};
    for (auto& t : tlvs) out.insert(out.end(), t.begin(), t.end());
    return out;
}

std::vector<std::byte> v4_candidate(std::uint8_t kind) {
    return {std::byte{kind}, std::byte{4}, std::byte{1},    std::byte{2},
            std::byte{3},    std::byte{4}, std::byte{0x50}, std::byte{0}};
}

std::vector<std::byte> node_id_value() { return std::vector<std::byte>(16, std::byte{7}); }

TEST(p2p_rendezvous_message, oversized_counts_are_rejected) {
    std::vector<std::byte> nine;
    for (int i = 0; i < 9; ++i) {
        const auto c = v4_candidate(0);
        nine.insert(nine.end(), c.begin(), c.end());
    }
    EXPECT_EQ(error_of(decode_rendezvous(message(1, {tlv(1, node_id_value()), tlv(4, nine)}))),
              make_error_code(errc::rendezvous_too_many_candidates));
    nine.resize(std::size_t{8} * 8);  // eight are fine
    EXPECT_TRUE(decode_rendezvous(message(1, {tlv(1, node_id_value()), tlv(4, nine)})));

    const std::vector<std::byte> long_realm(65, std::byte{'x'});
    EXPECT_EQ(
        error_of(decode_rendezvous(message(1, {tlv(1, node_id_value()), tlv(2, long_realm)}))),
        make_error_code(errc::rendezvous_field_too_large));
    EXPECT_EQ(
        error_of(decode_rendezvous(message(1, {tlv(1, node_id_value()), tlv(3, long_realm)}))),
        make_error_code(errc::rendezvous_field_too_large));

    // and the encoder refuses them
    std::array<std::byte, max_rendezvous_message_size> out{};
    EXPECT_EQ(error_of(encode_rendezvous(register_message{id_of(1), long_realm, {}, {}, 0}, out)),
              make_error_code(errc::rendezvous_field_too_large));
    candidate_list full = some_candidates(8);
    EXPECT_FALSE(full.push_back(full[0]));
    EXPECT_EQ(full.size(), 8U);
}

TEST(p2p_rendezvous_message, unknown_tlvs_and_padding_are_skipped) {
    const auto m = message(5, {tlv(0x7f, {std::byte{1}, std::byte{2}}), tlv(1, node_id_value()),
                               tlv(0, std::vector<std::byte>(30)), tlv(0xff, {}),
                               tlv(0x0a, std::vector<std::byte>(8, std::byte{1})), tlv(0, {})});
    const auto r = decode_rendezvous(m);
    ASSERT_TRUE(r) << r.error().message();
    const auto& c = std::get<connect_message>(*r);
    EXPECT_EQ(c.attempt_id, 0x0101010101010101ULL);
    // a known field that CONNECT does not use is skipped too
    EXPECT_TRUE(
        decode_rendezvous(message(5, {tlv(1, node_id_value()), tlv(0x0a, std::vector<std::byte>(8)),
                                      tlv(0x09, std::vector<std::byte>(8))})));
}

TEST(p2p_rendezvous_message, bad_fields_are_rejected) {
    const auto id = tlv(1, node_id_value());
    const auto attempt = tlv(0x0a, std::vector<std::byte>(8));
    auto code = [](const std::vector<std::byte>& m) { return error_of(decode_rendezvous(m)); };
    // node id of 15 bytes
    EXPECT_EQ(code(message(5, {tlv(1, std::vector<std::byte>(15)), attempt})),
              make_error_code(errc::rendezvous_bad_field));
    // attempt id of 7 bytes
    EXPECT_EQ(code(message(5, {id, tlv(0x0a, std::vector<std::byte>(7))})),
              make_error_code(errc::rendezvous_bad_field));
    // duplicate
    EXPECT_EQ(code(message(5, {id, attempt, attempt})),
              make_error_code(errc::rendezvous_duplicate_field));
    // candidate kind 3 (peer-reflexive is never announced), family 5, trailing byte
    EXPECT_EQ(code(message(1, {id, tlv(4, v4_candidate(3))})),
              make_error_code(errc::rendezvous_bad_field));
    auto bad_family = v4_candidate(0);
    bad_family[1] = std::byte{5};
    EXPECT_EQ(code(message(1, {id, tlv(4, bad_family)})),
              make_error_code(errc::rendezvous_bad_field));
    auto trailing = v4_candidate(0);
    trailing.push_back(std::byte{0});
    EXPECT_EQ(code(message(1, {id, tlv(4, trailing)})),
              make_error_code(errc::rendezvous_bad_field));
    // reflexive address: IPv4 family with 16 bytes
    std::vector<std::byte> addr(19);
    addr[0] = std::byte{4};
    EXPECT_EQ(code(message(4, {tlv(9, std::vector<std::byte>(8)), tlv(6, addr)})),
              make_error_code(errc::rendezvous_bad_field));
    // role 2
    EXPECT_EQ(code(message(6, {tlv(0x0c, {std::byte{2}})})),
              make_error_code(errc::rendezvous_bad_field));
    // encoding an opaque address
    std::array<std::byte, max_rendezvous_message_size> out{};
    EXPECT_EQ(
        error_of(encode_rendezvous(keepalive_ack_message{1, peer_address::opaque({}, 1)}, out)),
        make_error_code(errc::rendezvous_bad_address));
    EXPECT_EQ(make_error_code(errc::rendezvous_bad_address).default_error_condition(),
              make_error_condition(condition::misuse));
}

TEST(p2p_rendezvous_message, flipped_type_byte) {
    auto bytes = encode(connect_message{id_of(2), 5});
    for (int t : {0x00, 0x0a, 0x80, 0xff}) {
        bytes[0] = std::byte(t);
        EXPECT_EQ(error_of(decode_rendezvous(bytes)),
                  make_error_code(errc::rendezvous_unknown_type));
    }
    // CONNECT's fields read as an INTRODUCE: required fields missing
    bytes[0] = std::byte{0x06};
    EXPECT_EQ(error_of(decode_rendezvous(bytes)), make_error_code(errc::rendezvous_missing_field));
    // as a PEER_UPDATE they are a valid one (node id is all it requires)
    bytes[0] = std::byte{0x07};
    EXPECT_TRUE(decode_rendezvous(bytes));
}

TEST(p2p_rendezvous_message, buffer_too_small_at_every_size) {
    for (const auto& m : every_message()) {
        const auto full = encode(m);
        for (std::size_t n = 0; n < full.size(); ++n) {
            std::vector<std::byte> out(n);
            EXPECT_EQ(error_of(encode_rendezvous(m, out)), make_error_code(errc::buffer_too_small))
                << n;
        }
    }
}

// Random messages of every type with random fields round-trip; random byte flips of their
// encodings either fail to decode or decode to something that re-encodes.
TEST(p2p_rendezvous_message, random_messages_round_trip) {
    neutrino::seeded_random rng(
        neutrino::test::env_seed_or(20240601, "p2p_rendezvous_message.random_messages_round_trip"));
    std::array<std::byte, 64> realm{}, token{};
    auto any_candidates = [&rng] {
        candidate_list cs;
        const auto n = rng.uniform(0, max_rendezvous_candidates);
        for (std::uint64_t i = 0; i < n; ++i) {
            std::array<std::uint8_t, 16> b{};
            rng.fill(std::as_writable_bytes(std::span(b)));
            const auto port = static_cast<std::uint16_t>(rng.uniform(0, 65535));
            const auto kind = static_cast<candidate_kind>(rng.uniform(0, 2));
            cs.push_back({rng.uniform(0, 1) == 0 ? peer_address::v4({b[0], b[1], b[2], b[3]}, port)
                                                 : peer_address::v6(b, port),
                          kind});
        }
        return cs;
    };
    auto any_id = [&rng] {
        node_id id{};
        rng.fill(id);
        return id;
    };
    auto any_address = [&any_candidates] {
        candidate_list cs;
        while (cs.empty()) cs = any_candidates();
        return cs[0].address;
    };
    for (int round = 0; round < 2000; ++round) {
        rendezvous_message m;
        switch (rng.uniform(0, 8)) {
            case 0: {
                rng.fill(realm);
                rng.fill(token);
                m = register_message{any_id(), std::span(realm).first(rng.uniform(0, 64)),
                                     std::span(token).first(rng.uniform(0, 64)), any_candidates(),
                                     static_cast<std::uint8_t>(rng.uniform(0, 255))};
                break;
            }
            case 1:
                m = registered_message{any_address(),
                                       static_cast<std::uint32_t>(rng.uniform(0, UINT32_MAX)),
                                       rng.uniform(0, UINT64_MAX)};
                break;
            case 2: m = keepalive_message{rng.uniform(0, UINT64_MAX)}; break;
            case 3: m = keepalive_ack_message{rng.uniform(0, UINT64_MAX), any_address()}; break;
            case 4: m = connect_message{any_id(), rng.uniform(0, UINT64_MAX)}; break;
            case 5: {
                introduce_message i{any_id(),
                                    {},
                                    any_candidates(),
                                    rng.uniform(0, UINT64_MAX),
                                    rng.uniform(0, 1) == 1,
                                    {},
                                    rng.uniform(0, UINT64_MAX),
                                    rng.uniform(0, UINT64_MAX)};
                rng.fill(i.peer_key);
                rng.fill(i.punch_secret);
                m = i;
                break;
            }
            case 6: m = peer_update_message{any_id(), any_candidates()}; break;
            case 7:
                m = error_message{static_cast<rendezvous_error>(rng.uniform(0, 65535)),
                                  rng.uniform(0, UINT64_MAX)};
                break;
            default: m = bye_message{}; break;
        }
        auto bytes = encode(m);
        const auto back = decode_rendezvous(bytes);
        ASSERT_TRUE(back) << "round " << round;
        ASSERT_TRUE(same(m, *back)) << "round " << round << " type " << m.index();

        const auto pos = rng.uniform(0, bytes.size() - 1);
        bytes[pos] ^= std::byte(rng.uniform(1, 255));
        if (const auto mutated = decode_rendezvous(bytes)) {
            std::array<std::byte, max_rendezvous_message_size> out{};
            EXPECT_TRUE(encode_rendezvous(*mutated, out)) << "round " << round;
        }
    }
}

TEST(p2p_rendezvous_message, every_new_code_has_a_condition_and_a_message) {
    for (int e = static_cast<int>(errc::rendezvous_truncated);
         e <= static_cast<int>(errc::relay_rate_limited); ++e) {
        const auto ec = make_error_code(static_cast<errc>(e));
        EXPECT_NE(ec.message(), "unknown neutrino.p2p error") << e;
        EXPECT_EQ(ec.default_error_condition().category(),
                  make_error_condition(condition::malformed).category());
    }
    EXPECT_EQ(make_error_code(errc::rendezvous_truncated).default_error_condition(),
              make_error_condition(condition::malformed));
    EXPECT_EQ(make_error_code(errc::relay_wrong_source).default_error_condition(),
              make_error_condition(condition::unauthenticated));
    EXPECT_EQ(make_error_code(errc::relay_rate_limited).default_error_condition(),
              make_error_condition(condition::refused));
}

}  // namespace
