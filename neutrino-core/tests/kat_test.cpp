#include "neutrino/core/wire_v2.hpp"

// Known-answer tests against the datagrams the Python reference produced
// (tests/vectors/neutrino-python.json, spec: neutrino.md §1). Codec-level checks run over
// every scenario and every datagram; the basic scenarios are also replayed through the
// client and server machines with the recorded randomness, datagram for datagram.

#include <gtest/gtest.h>

// Boost 1.74's JSON parser includes the deprecated <boost/bind.hpp>; keep its note quiet.
#define BOOST_BIND_GLOBAL_PLACEHOLDERS
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/words.hpp"
#include "scripted_random.hpp"

namespace nc = neutrino::core;
namespace pt = boost::property_tree;
using neutrino::peer_address;
using neutrino::time_point;
using neutrino::test::scripted_random;

namespace {

using bytes = std::vector<std::byte>;

// --- loading the vector file ------------------------------------------------------------------

bytes from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bytes out;
    if (hex.size() % 2 != 0) {
        ADD_FAILURE() << "odd-length hex in the vector file: " << hex;
        return out;
    }
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]);
        const int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            ADD_FAILURE() << "bad hex in the vector file: " << hex;
            return {};
        }
        out.push_back(static_cast<std::byte>((hi << 4) | lo));
    }
    return out;
}

std::string hex(std::span<const std::byte> b) { return neutrino::to_hex(b); }

std::uint64_t to_u64(const std::string& s) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) {
        ADD_FAILURE() << "not a u64 decimal string in the vector file: '" << s << "'";
    }
    return v;
}

std::vector<std::string> string_array(const pt::ptree& parent, const std::string& key) {
    std::vector<std::string> out;
    if (auto node = parent.get_child_optional(key)) {
        for (const auto& [k, v] : *node) out.push_back(v.data());
    }
    return out;
}

struct packet_vector {
    std::size_t index = 0;
    bool c2s = true;
    std::string harness_action;  ///< "null" when forwarded unchanged
    std::int64_t relay_t_ms = 0;
    std::size_t length = 0;
    bytes wire;
    std::uint8_t version = 0;
    std::uint8_t type = 0;
    std::string type_name;
    std::uint64_t session_id = 0;
    bool encrypted = false;
    std::string key;  ///< key_c2s / key_s2c
    bytes nonce, ciphertext_with_tag, plaintext_right, payload;
    std::uint64_t packet_number = 0;
    std::uint32_t keyword = 0;
    std::size_t word_count = 0;
    std::vector<std::string> words_hex;
    std::size_t trailing_padding = 0;

    [[nodiscard]] bool dropped() const { return harness_action == "dropped"; }
    [[nodiscard]] bool duplicate_copy() const { return harness_action.starts_with("duplicated"); }
    [[nodiscard]] nc::packet_type ptype() const { return static_cast<nc::packet_type>(type); }
    [[nodiscard]] std::vector<bytes> words() const {
        std::vector<bytes> w;
        for (const auto& h : words_hex) w.push_back(from_hex(h));
        return w;
    }
};

struct event_vector {
    std::int64_t t_ms = 0;
    std::string name;
    pt::ptree args;
};

struct scenario_vector {
    std::string name, variant;
    std::map<std::string, std::string> keys_hex;
    std::vector<packet_vector> packets;
    std::vector<event_vector> server_events, client_events;
    std::vector<std::vector<std::string>> client_app_received;

    [[nodiscard]] bytes key(const std::string& k) const {
        auto it = keys_hex.find(k);
        if (it == keys_hex.end()) {
            ADD_FAILURE() << name << ": no key named " << k;
            return {};
        }
        return from_hex(it->second);
    }
    [[nodiscard]] std::array<std::byte, nc::key_size> key32(const std::string& k) const {
        std::array<std::byte, nc::key_size> out{};
        auto it = keys_hex.find(k);
        if (it == keys_hex.end()) {
            ADD_FAILURE() << name << ": no key named " << k;
            return out;
        }
        auto parsed = nc::parse_key_hex(it->second);
        if (!parsed) {
            ADD_FAILURE() << name << ": key " << k << " is not 32 bytes of hex";
            return out;
        }
        return *parsed;
    }
    [[nodiscard]] nc::secret_key secret(const std::string& k) const {
        return nc::secret_key(key32(k));
    }
};

struct vector_file {
    std::string schema;
    pt::ptree root;
    std::vector<scenario_vector> scenarios;

    [[nodiscard]] const scenario_vector* find(std::string_view name) const {
        for (const auto& s : scenarios) {
            if (s.name == name) return &s;
        }
        return nullptr;
    }
};

std::vector<event_vector> load_events(const pt::ptree& list) {
    std::vector<event_vector> out;
    for (const auto& [k, e] : list) {
        event_vector ev;
        ev.t_ms = e.get<std::int64_t>("t_ms");
        ev.name = e.get<std::string>("event");
        ev.args = e;
        out.push_back(std::move(ev));
    }
    return out;
}

vector_file load_vectors() {
    vector_file f;
    const std::string path = std::string(NEUTRINO_TEST_VECTORS_DIR) + "/neutrino-python.json";
    pt::read_json(path, f.root);
    f.schema = f.root.get<std::string>("schema");
    for (const auto& [sk, s] : f.root.get_child("scenarios")) {
        scenario_vector sc;
        sc.name = s.get<std::string>("name");
        sc.variant = s.get<std::string>("variant");
        for (const auto& [k, v] : s.get_child("keys")) sc.keys_hex[k] = v.data();
        for (const auto& [pk, p] : s.get_child("packets")) {
            packet_vector pv;
            pv.index = p.get<std::size_t>("index");
            pv.c2s = p.get<std::string>("direction") == "c2s";
            pv.harness_action = p.get<std::string>("harness_action");
            pv.relay_t_ms = p.get<std::int64_t>("relay_t_ms");
            pv.length = p.get<std::size_t>("length");
            pv.wire = from_hex(p.get<std::string>("wire_hex"));
            pv.type = static_cast<std::uint8_t>(p.get<unsigned>("header.packet_type"));
            pv.version = static_cast<std::uint8_t>(p.get<unsigned>("header.protocol_version"));
            pv.type_name = p.get<std::string>("header.packet_type_name");
            pv.session_id = to_u64(p.get<std::string>("header.session_id"));
            pv.encrypted = p.get<bool>("encrypted");
            if (pv.encrypted) {
                pv.key = p.get<std::string>("key");
                pv.nonce = from_hex(p.get<std::string>("nonce_hex"));
                pv.ciphertext_with_tag = from_hex(p.get<std::string>("ciphertext_with_tag_hex"));
                pv.plaintext_right = from_hex(p.get<std::string>("plaintext_right_hex"));
                EXPECT_EQ(p.get<std::string>("aad_hex"), "") << "AD is always empty (§7.3)";
            }
            pv.packet_number = to_u64(p.get<std::string>("packet_number"));
            pv.keyword = p.get<std::uint32_t>("packet_keyword");
            pv.payload = from_hex(p.get<std::string>("payload_hex"));
            pv.word_count = p.get<std::size_t>("payload_word_count");
            pv.words_hex = string_array(p, "payload_words_hex");
            pv.trailing_padding = p.get<std::size_t>("trailing_padding_len");
            sc.packets.push_back(std::move(pv));
        }
        sc.server_events = load_events(s.get_child("events.server"));
        sc.client_events = load_events(s.get_child("events.client"));
        for (const auto& [k, list] : s.get_child("client_app_received_words_hex")) {
            std::vector<std::string> words;
            for (const auto& [k2, w] : list) words.push_back(w.data());
            sc.client_app_received.push_back(std::move(words));
        }
        f.scenarios.push_back(std::move(sc));
    }
    return f;
}

const vector_file& vectors() {
    static const vector_file f = load_vectors();
    return f;
}

std::string trace(const scenario_vector& sc, const packet_vector& p) {
    std::ostringstream s;
    s << sc.name << " packet #" << p.index << " " << (p.c2s ? "c2s " : "s2c ") << p.type_name
      << " at " << p.relay_t_ms << " ms";
    if (p.harness_action != "null") s << " (" << p.harness_action << ")";
    return s.str();
}

std::vector<std::string> words_hex(const nc::words_view& w) {
    std::vector<std::string> out;
    for (nc::word x : w) out.push_back(hex(x));
    return out;
}

std::string join(const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
    return s + "]";
}

nc::secret_key direction_key(const scenario_vector& sc, const packet_vector& p) {
    return sc.secret(p.key);
}

// --- the file itself ----------------------------------------------------------------------------

TEST(kat, file_schema_generator_and_constants) {
    const auto& f = vectors();
    EXPECT_EQ(f.schema, "neutrino-python-vectors/1");
    EXPECT_TRUE(f.root.get<std::string>("generator.reference_commit").starts_with("43c12bd"));
    EXPECT_EQ(f.root.get<std::string>("generator.pynacl"), "1.5.0");
    const pt::ptree& c = f.root.get_child("constants.Neutrino");
    EXPECT_EQ(c.get<std::uint32_t>("PROTOCOL_IDENTIFIER"), nc::protocol_identifier);
    EXPECT_EQ(c.get<unsigned>("PROTOCOL_VERSION"), nc::wire::v2::version);
    EXPECT_EQ(c.get<std::size_t>("HEADER_SIZE_LEFT"), nc::clear_header_size);
    EXPECT_EQ(c.get<std::size_t>("HEADER_SIZE_RIGHT"), nc::protected_header_size);
    EXPECT_EQ(c.get<std::size_t>("TOTAL_HEADER_SIZE"), nc::total_header_size);
    EXPECT_EQ(c.get<std::size_t>("MAX_PACKET_SIZE"), nc::max_datagram_size);
    EXPECT_EQ(c.get<std::size_t>("PACKET_ENCRYPTION_OVERHEAD"), nc::wire::v2::overhead);
    EXPECT_EQ(c.get<std::size_t>("MAX_PAYLOAD_SIZE"), nc::wire::v2::max_payload_size);
    EXPECT_EQ(c.get<std::size_t>("MAX_AMOUNT_OF_PAYLOAD_WORDS"), nc::word_codec::max_count);
    EXPECT_EQ(c.get<std::size_t>("MAX_PAYLOAD_WORD_SIZE"), nc::word_codec::max_size);
    EXPECT_EQ(c.get<std::uint64_t>("INITIAL_PACKET_NUMBER_RANGE_MIN"), nc::min_initial_packet_number);
    EXPECT_EQ(c.get<std::uint64_t>("INITIAL_PACKET_NUMBER_RANGE_MAX"), nc::max_initial_packet_number);
    EXPECT_EQ(c.get<std::uint64_t>("PACKET_NUMBER_NONE"), nc::packet_number_none);
    EXPECT_EQ(c.get<std::uint64_t>("PACKET_NUMBER_PENDING"), nc::packet_number_pending);
    EXPECT_EQ(c.get<std::uint64_t>("MIN_SESSION_ID_SIZE"), nc::min_session_id);
    EXPECT_EQ(c.get<std::uint64_t>("SESSION_ID_NONE"), nc::session_id_none);
    EXPECT_EQ(to_u64(c.get<std::string>("MAX_SESSION_ID_SIZE")), UINT64_MAX);
    for (auto [name, t] : {std::pair{"PACKET_TYPE_CLIENT_HELLO1", nc::packet_type::client_hello1},
                           std::pair{"PACKET_TYPE_SERVER_HELLO2", nc::packet_type::server_hello2},
                           std::pair{"PACKET_TYPE_CLIENT_HELLO3", nc::packet_type::client_hello3},
                           std::pair{"PACKET_TYPE_KEEP_ALIVE", nc::packet_type::keep_alive},
                           std::pair{"PACKET_TYPE_CLIENT_GOOD_BYE", nc::packet_type::client_good_bye},
                           std::pair{"PACKET_TYPE_SERVER_SHUTDOWN", nc::packet_type::server_shutdown},
                           std::pair{"PACKET_TYPE_DATA", nc::packet_type::data}}) {
        EXPECT_EQ(c.get<unsigned>(name), static_cast<unsigned>(t)) << name;
    }
    ASSERT_EQ(f.scenarios.size(), 4U);
    for (const char* n : {"basic_session", "basic_shutdown", "reliable_session", "reliable_reorder"}) {
        EXPECT_NE(f.find(n), nullptr) << n;
    }
}

// --- 1. key schedule (spec: neutrino.md §7.2) ---------------------------------------------------

TEST(kat, key_schedule_crypto_kx) {
    neutrino::ensure_sodium();
    for (const auto& sc : vectors().scenarios) {
        SCOPED_TRACE(sc.name);
        auto server = nc::keypair_from_hex(sc.keys_hex.at("server_public_key"),
                                           sc.keys_hex.at("server_secret_key"));
        ASSERT_TRUE(server) << "server public key does not belong to the secret key";
        nc::keypair client;
        client.sk = sc.secret("client_secret_key");
        client.pk = nc::public_key_of(client.sk);
        EXPECT_EQ(hex(client.pk), sc.keys_hex.at("client_public_key"));

        auto ck = nc::client_session_keys(client, server->pk);
        ASSERT_TRUE(ck);
        EXPECT_EQ(hex(ck->rx.bytes()), sc.keys_hex.at("key_s2c"));
        EXPECT_EQ(hex(ck->tx.bytes()), sc.keys_hex.at("key_c2s"));
        EXPECT_EQ(hex(ck->rx.bytes()), sc.keys_hex.at("client_rx"));
        EXPECT_EQ(hex(ck->tx.bytes()), sc.keys_hex.at("client_tx"));

        auto sk = nc::server_session_keys(*server, client.pk);
        ASSERT_TRUE(sk);
        EXPECT_EQ(hex(sk->rx.bytes()), sc.keys_hex.at("key_c2s"));
        EXPECT_EQ(hex(sk->tx.bytes()), sc.keys_hex.at("key_s2c"));
        EXPECT_EQ(hex(sk->rx.bytes()), sc.keys_hex.at("server_rx"));
        EXPECT_EQ(hex(sk->tx.bytes()), sc.keys_hex.at("server_tx"));
    }
}

// --- 2. every encrypted datagram opens (spec: neutrino.md §4.3, §7.3) --------------------------

TEST(kat, open_every_encrypted_datagram) {
    neutrino::ensure_sodium();
    std::size_t opened = 0;
    for (const auto& sc : vectors().scenarios) {
        for (const auto& p : sc.packets) {
            SCOPED_TRACE(trace(sc, p));
            EXPECT_EQ(p.wire.size(), p.length);
            auto h = nc::clear_header::parse(p.wire);
            ASSERT_TRUE(h) << h.error().message();
            EXPECT_EQ(h->version, p.version);
            EXPECT_EQ(h->type, p.type);
            EXPECT_EQ(nc::to_string(p.ptype()), p.type_name);
            EXPECT_EQ(h->session_id, p.session_id);
            EXPECT_TRUE(nc::valid_session_id(h->session_id));
            if (!p.encrypted) {
                EXPECT_EQ(p.ptype(), nc::packet_type::client_hello1) << "only HELLO1 is clear";
                continue;
            }
            EXPECT_EQ(p.key, p.c2s ? "key_c2s" : "key_s2c");
            EXPECT_EQ(hex(std::span(p.wire).subspan(nc::clear_header_size, nc::wire::v2::nonce_size)),
                      hex(p.nonce));
            EXPECT_EQ(hex(std::span(p.wire).subspan(nc::clear_header_size + nc::wire::v2::nonce_size)),
                      hex(p.ciphertext_with_tag));

            std::array<std::byte, nc::max_datagram_size> scratch{};
            auto o = nc::wire::v2::open(p.wire, *h, direction_key(sc, p), scratch);
            ASSERT_TRUE(o) << o.error().message();
            ++opened;
            EXPECT_EQ(hex(o->plaintext.first(nc::clear_header_size)),
                      hex(std::span(p.wire).first(nc::clear_header_size)));
            EXPECT_EQ(hex(o->plaintext.subspan(nc::clear_header_size)), hex(p.plaintext_right));
            EXPECT_EQ(o->type, p.ptype());
            EXPECT_EQ(o->session_id, p.session_id);
            EXPECT_EQ(o->packet_number, p.packet_number);
            EXPECT_EQ(o->keyword, p.keyword);
            EXPECT_EQ(o->payload.size(), p.payload.size() + p.trailing_padding);

            auto words = nc::words_view::parse(o->payload);
            ASSERT_TRUE(words) << words.error().message();
            EXPECT_EQ(words->size(), p.word_count);
            EXPECT_EQ(words_hex(*words), p.words_hex);
            EXPECT_EQ(hex(words->encoded()), hex(p.payload));

            // The other direction's key must not open it (directional keys, §7.3).
            const auto other = sc.secret(p.c2s ? "key_s2c" : "key_c2s");
            auto wrong = nc::wire::v2::open(p.wire, *h, other, scratch);
            ASSERT_FALSE(wrong);
            EXPECT_EQ(wrong.error(), nc::errc::decryption_failed);
        }
    }
    EXPECT_GE(opened, 36U);
}

// --- 3. sealing reproduces every encrypted datagram (spec: neutrino.md §4.3, §4.5) -------------

TEST(kat, seal_with_nonce_reproduces_every_encrypted_datagram) {
    neutrino::ensure_sodium();
    for (const auto& sc : vectors().scenarios) {
        for (const auto& p : sc.packets) {
            if (!p.encrypted) continue;
            SCOPED_TRACE(trace(sc, p));
            ASSERT_EQ(p.nonce.size(), nc::wire::v2::nonce_size);
            std::array<std::byte, nc::max_datagram_size> out{};
            // The plaintext target covers any trailing zero padding the reference added.
            const std::size_t min_plain = nc::clear_header_size + p.plaintext_right.size();
            auto n = nc::wire::v2::seal_with_nonce(
                out, p.ptype(), p.session_id, p.packet_number, p.keyword, p.payload, min_plain,
                direction_key(sc, p), std::span<const std::byte, nc::wire::v2::nonce_size>(p.nonce));
            ASSERT_TRUE(n) << n.error().message();
            EXPECT_EQ(hex(std::span(out).first(*n)), hex(p.wire));

            // Without a padding target the size is 66 + P plus nothing (no padding in the file).
            if (p.trailing_padding == 0) {
                auto m = nc::wire::v2::seal_with_nonce(
                    out, p.ptype(), p.session_id, p.packet_number, p.keyword, p.payload, 0,
                    direction_key(sc, p),
                    std::span<const std::byte, nc::wire::v2::nonce_size>(p.nonce));
                ASSERT_TRUE(m);
                EXPECT_EQ(*m, 66 + p.payload.size());
                EXPECT_EQ(hex(std::span(out).first(*m)), hex(p.wire));
            }
        }
    }
}

// --- HELLO1 (spec: neutrino.md §6.1) ------------------------------------------------------------

TEST(kat, hello1_written_and_read_exactly) {
    std::size_t seen = 0;
    for (const auto& sc : vectors().scenarios) {
        for (const auto& p : sc.packets) {
            if (p.ptype() != nc::packet_type::client_hello1) continue;
            SCOPED_TRACE(trace(sc, p));
            ++seen;
            EXPECT_FALSE(p.encrypted);
            EXPECT_TRUE(p.c2s);
            EXPECT_EQ(p.session_id, nc::session_id_pending);
            EXPECT_EQ(p.packet_number, nc::packet_number_pending);
            EXPECT_EQ(p.trailing_padding, 1219U);
            const auto client_pk = sc.key32("client_public_key");

            std::array<std::byte, nc::max_datagram_size> out{};
            out.fill(std::byte{0xee});  // write_hello1 must clear the padding itself
            const std::size_t n = nc::wire::v2::write_hello1(out, client_pk);
            ASSERT_EQ(n, nc::max_datagram_size);
            EXPECT_EQ(hex(std::span(out).first(n)), hex(p.wire));

            auto pk = nc::wire::v2::read_hello1(p.wire);
            ASSERT_TRUE(pk) << pk.error().message();
            EXPECT_EQ(hex(*pk), sc.keys_hex.at("client_public_key"));

            auto h = nc::clear_header::parse(p.wire);
            ASSERT_TRUE(h);
            auto r = nc::wire::v2::read_protected(*h, p.wire);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->packet_number, p.packet_number);
            EXPECT_EQ(r->keyword, p.keyword);
            auto words = nc::words_view::parse(r->payload);
            ASSERT_TRUE(words);
            EXPECT_EQ(words_hex(*words), p.words_hex);
            EXPECT_EQ(hex(words->encoded()), hex(p.payload));
        }
    }
    EXPECT_EQ(seen, 4U);
}

// --- 4. word codec (spec: neutrino.md §5) -------------------------------------------------------

TEST(kat, word_codec_both_ways) {
    for (const auto& sc : vectors().scenarios) {
        for (const auto& p : sc.packets) {
            SCOPED_TRACE(trace(sc, p));
            auto words = nc::words_view::parse(p.payload);
            ASSERT_TRUE(words) << words.error().message();
            EXPECT_EQ(words->size(), p.word_count);
            EXPECT_EQ(words_hex(*words), p.words_hex);
            EXPECT_EQ(words->encoded().size(), p.payload.size());

            const std::vector<bytes> owned = p.words();
            std::vector<nc::word> list(owned.begin(), owned.end());
            auto need = nc::word_codec::encoded_size(list);
            ASSERT_TRUE(need);
            EXPECT_EQ(*need, p.payload.size());
            std::array<std::byte, nc::max_payload_size> out{};
            auto n = nc::word_codec::encode(list, out);
            ASSERT_TRUE(n) << n.error().message();
            EXPECT_EQ(hex(std::span(out).first(*n)), hex(p.payload));
        }
    }
}

// --- 5. machine replay ------------------------------------------------------------------------
//
// Each machine gets the recorded randomness through `scripted_random` and the recorded peer's
// datagrams at the relay's times (virtual clock: time_point{} + relay_t_ms). Everything it
// emits must equal the recorded datagrams byte for byte, and its events must match the
// reference's callbacks where they correspond.

const peer_address client_address = peer_address::v4({127, 0, 0, 1}, 40000);
const peer_address server_address = peer_address::v4({127, 0, 0, 1}, 22753);

time_point at(std::int64_t ms) { return time_point{} + std::chrono::milliseconds(ms); }
std::int64_t ms_of(time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - time_point{}).count();
}

/// An event reduced to what both implementations report, as readable text.
std::string describe(nc::event_kind kind, std::uint64_t sid, const std::vector<std::string>& words,
                     std::error_code reason) {
    std::ostringstream s;
    switch (kind) {
        case nc::event_kind::connecting: s << "connecting"; break;
        case nc::event_kind::established: s << "established sid=" << sid; break;
        case nc::event_kind::data: s << "data sid=" << sid << " words=" << join(words); break;
        case nc::event_kind::server_shutdown: s << "server_shutdown sid=" << sid; break;
        case nc::event_kind::closed: s << "closed sid=" << sid << " reason=" << reason.message(); break;
        case nc::event_kind::address_changed: s << "address_changed sid=" << sid; break;
        case nc::event_kind::path_candidate: s << "path_candidate sid=" << sid; break;
        case nc::event_kind::writable: s << "writable sid=" << sid; break;
        case nc::event_kind::packet_received: s << "packet_received sid=" << sid; break;
        case nc::event_kind::packet_sent: s << "packet_sent sid=" << sid; break;
        case nc::event_kind::packet_beyond_window: s << "packet_beyond_window sid=" << sid; break;
    }
    return s.str();
}

std::string describe(const nc::event& e) {
    return describe(e.kind, e.session_id, e.kind == nc::event_kind::data ? words_hex(e.words)
                                                                         : std::vector<std::string>{},
                    e.reason);
}

/// The session id the scenario's server assigned (from its SERVER_HELLO2).
std::uint64_t scenario_session_id(const scenario_vector& sc) {
    for (const auto& p : sc.packets) {
        if (p.ptype() == nc::packet_type::server_hello2) return p.session_id;
    }
    ADD_FAILURE() << sc.name << ": no SERVER_HELLO2";
    return 0;
}

/// The reference server callbacks translated to the events our server reports.
/// spec: neutrino.md §3.5, §14.2
std::vector<std::string> expected_server_events(const scenario_vector& sc) {
    const std::uint64_t sid = scenario_session_id(sc);
    std::vector<std::string> out;
    for (const auto& e : sc.server_events) {
        if (e.name == "base_server_event_on_session_established") {
            out.push_back(describe(nc::event_kind::established,
                                   to_u64(e.args.get<std::string>("session_id")), {}, {}));
        } else if (e.name == "base_event_on_packet_received" &&
                   e.args.get<unsigned>("packet_type") == static_cast<unsigned>(nc::packet_type::data)) {
            out.push_back(describe(nc::event_kind::data, to_u64(e.args.get<std::string>("session_id")),
                                   string_array(e.args, "payload_words_hex"), {}));
        } else if (e.name == "base_server_event_on_client_unregistered") {
            // 1 CLIENT_GOOD_BYE, 3 CLIENT_TIMEOUT, 4 PROTOCOL_VIOLATION (2 never creates a session here)
            const unsigned reason = e.args.get<unsigned>("reason");
            const nc::errc ours = reason == 1   ? nc::errc::closed
                                  : reason == 3 ? nc::errc::timed_out
                                                : nc::errc::protocol_violation;
            out.push_back(describe(nc::event_kind::closed, to_u64(e.args.get<std::string>("session_id")),
                                   {}, make_error_code(ours)));
        } else if (e.name == "base_server_event_on_shutdown") {
            // The reference has one shutdown callback; ours closes every session with `draining`.
            out.push_back(describe(nc::event_kind::closed, sid, {}, make_error_code(nc::errc::draining)));
        }
    }
    return out;
}

/// The reference client callbacks translated to the events our client reports.
std::vector<std::string> expected_client_events(const scenario_vector& sc) {
    const std::uint64_t sid = scenario_session_id(sc);
    std::vector<std::string> out;
    for (const auto& e : sc.client_events) {
        if (e.name == "base_client_event_on_request_session") {
            out.push_back(describe(nc::event_kind::connecting, 0, {}, {}));
        } else if (e.name == "base_client_event_on_session_establishing") {
            out.push_back(describe(nc::event_kind::established,
                                   to_u64(e.args.get<std::string>("session_id")), {}, {}));
        } else if (e.name == "base_event_on_packet_received" &&
                   e.args.get<unsigned>("packet_type") == static_cast<unsigned>(nc::packet_type::data)) {
            out.push_back(describe(nc::event_kind::data, sid, string_array(e.args, "payload_words_hex"), {}));
        } else if (e.name == "base_client_event_on_server_shutdown") {
            out.push_back(describe(nc::event_kind::server_shutdown, sid, {}, {}));
        } else if (e.name == "base_client_event_on_session_destroyed") {
            // 1 CLIENT_GOOD_BYE, 2 SERVER_TIMEOUT, 3 SERVER_SHUTDOWN, 4 PROTOCOL_VIOLATION
            const unsigned reason = e.args.get<unsigned>("reason");
            const nc::errc ours = reason == 1   ? nc::errc::closed
                                  : reason == 2 ? nc::errc::timed_out
                                  : reason == 3 ? nc::errc::draining
                                                : nc::errc::protocol_violation;
            out.push_back(describe(nc::event_kind::closed, sid, {}, make_error_code(ours)));
        }
    }
    return out;
}

/// One datagram a machine emitted, with the virtual time it was emitted at.
struct emitted {
    bytes wire;
    time_point when;
};

/// Drives one machine: deadlines up to a time, draining its datagrams and events.
template <class Machine>
struct driver {
    driver(Machine& machine, const peer_address& to) : m(machine), expected_to(to) {}

    Machine& m;
    peer_address expected_to;
    time_point now{};
    std::deque<emitted> out;
    std::vector<std::string> events;
    std::vector<time_point> closed_at;

    void drain() {
        std::array<std::byte, nc::max_datagram_size> buf{};
        while (auto t = m.poll_datagram(buf, now)) {
            EXPECT_EQ(t->to, expected_to) << "datagram addressed to the wrong peer";
            out.push_back({bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)), now});
        }
        // Events view the receive buffer: describe them before the next call into the machine.
        while (auto e = m.poll_event()) {
            EXPECT_EQ(e->peer, expected_to) << describe(*e);
            events.push_back(describe(*e));
            if (e->kind == nc::event_kind::closed) closed_at.push_back(now);
        }
    }
    /// Fires every deadline up to and including `t`, then moves the clock to `t`.
    void advance(time_point t) {
        for (int i = 0; i < 64; ++i) {
            const auto d = m.deadline();
            if (!d || *d > t) break;
            now = std::max(now, *d);
            m.handle_deadline(now);
            drain();
            if (i == 63) ADD_FAILURE() << "deadline() does not advance past " << ms_of(*d) << " ms";
        }
        now = std::max(now, t);
    }
};

using kat_server = nc::basic_server<nc::wire::v2, nc::null_observer, scripted_random>;
using kat_client = nc::basic_client<nc::wire::v2, nc::null_observer, scripted_random>;

/// Replays a basic scenario against our server, in the reference server's place.
void replay_server(const scenario_vector& sc) {
    const std::uint64_t sid = scenario_session_id(sc);
    // spec: neutrino.md §8: the server draws the session id, then its first packet number, then
    // one nonce per datagram it seals (HELLO2 first).
    scripted_random script;
    bool first = true;
    for (const auto& p : sc.packets) {
        if (p.c2s || p.duplicate_copy()) continue;
        if (first) {
            EXPECT_EQ(p.ptype(), nc::packet_type::server_hello2);
            script.expect_uniform(p.session_id, "session id");
            script.expect_uniform(p.packet_number, "first server packet number");
            first = false;
        }
        script.expect_fill(p.nonce, "nonce of s2c #" + std::to_string(p.index) + " " + p.type_name);
    }

    nc::server_config cfg;
    auto keys = nc::keypair_from_hex(sc.keys_hex.at("server_public_key"),
                                     sc.keys_hex.at("server_secret_key"));
    ASSERT_TRUE(keys);
    cfg.keys = *keys;
    kat_server server(std::move(cfg), nc::null_observer{}, std::move(script));
    driver<kat_server> d(server, client_address);

    for (const auto& p : sc.packets) {
        SCOPED_TRACE(trace(sc, p));
        d.advance(at(p.relay_t_ms));
        if (p.c2s) {
            if (p.dropped()) continue;
            auto r = server.handle_datagram(p.wire, client_address, d.now);
            EXPECT_TRUE(r) << r.error().message();
            d.drain();
            continue;
        }
        if (p.duplicate_copy()) continue;
        if (d.out.empty()) {
            // Not a reaction to a datagram: the application caused it.
            switch (p.ptype()) {
                case nc::packet_type::data: {
                    const std::vector<bytes> owned = p.words();
                    const std::vector<nc::word> list(owned.begin(), owned.end());
                    auto r = server.send(sid, list, d.now);
                    EXPECT_TRUE(r) << r.error().message();
                    break;
                }
                case nc::packet_type::server_shutdown: server.shutdown(d.now); break;
                default: ADD_FAILURE() << "the server did not send this by itself"; break;
            }
            d.drain();
        }
        if (d.out.empty()) {
            ADD_FAILURE() << "the server emitted nothing where the reference sent this";
            continue;
        }
        EXPECT_EQ(hex(d.out.front().wire), hex(p.wire)) << "server datagram differs";
        d.out.pop_front();
    }
    for (const auto& extra : d.out) {
        ADD_FAILURE() << "the server emitted an unrecorded datagram at " << ms_of(extra.when)
                      << " ms: " << hex(extra.wire);
    }
    EXPECT_EQ(server.random().remaining(), 0U)
        << "the server did not draw '" << server.random().next_step() << "'";
    EXPECT_EQ(d.events, expected_server_events(sc));
    EXPECT_EQ(server.session_count(), 0U);
}

/// Replays a basic scenario against our client, in the reference client's place.
void replay_client(const scenario_vector& sc) {
    // spec: neutrino.md §7.1, §8.2: the ephemeral secret, then (on HELLO2) the first packet
    // number, then one nonce per sealed datagram (HELLO3 first).
    scripted_random script;
    script.expect_fill(sc.key("client_secret_key"), "ephemeral client secret key");
    bool first = true;
    for (const auto& p : sc.packets) {
        if (!p.c2s || !p.encrypted || p.duplicate_copy()) continue;
        if (first) {
            EXPECT_EQ(p.ptype(), nc::packet_type::client_hello3);
            script.expect_uniform(p.packet_number, "first client packet number");
            first = false;
        }
        script.expect_fill(p.nonce, "nonce of c2s #" + std::to_string(p.index) + " " + p.type_name);
    }

    nc::client_config cfg;
    cfg.server_key = sc.key32("server_public_key");
    cfg.server = server_address;
    cfg.good_bye_copies = 1;  // the reference sends one; ours repeats it by default (issue #17)
    kat_client client(std::move(cfg), nc::null_observer{}, std::move(script));
    driver<kat_client> d(client, server_address);
    std::optional<time_point> shutdown_seen;

    for (const auto& p : sc.packets) {
        SCOPED_TRACE(trace(sc, p));
        const time_point t = at(p.relay_t_ms);
        d.advance(t);
        if (!p.c2s) {
            if (p.dropped()) continue;
            const std::size_t before = d.events.size();
            auto r = client.handle_datagram(p.wire, server_address, d.now);
            EXPECT_TRUE(r) << r.error().message();
            d.drain();
            for (std::size_t i = before; i < d.events.size(); ++i) {
                if (d.events[i].starts_with("server_shutdown")) shutdown_seen = d.now;
            }
            continue;
        }
        if (p.duplicate_copy()) continue;
        if (d.out.empty()) {
            // Not a reaction to a datagram or a timer: the application caused it.
            switch (p.ptype()) {
                case nc::packet_type::client_hello1: {
                    auto r = client.connect(d.now);
                    EXPECT_TRUE(r) << r.error().message();
                    break;
                }
                case nc::packet_type::data: {
                    const std::vector<bytes> owned = p.words();
                    const std::vector<nc::word> list(owned.begin(), owned.end());
                    auto r = client.send(list, d.now);
                    EXPECT_TRUE(r) << r.error().message();
                    break;
                }
                case nc::packet_type::client_good_bye: client.close(d.now); break;
                default: ADD_FAILURE() << "the client did not send this by itself (by "
                                       << p.relay_t_ms << " ms)"; break;
            }
            d.drain();
        }
        if (d.out.empty()) {
            ADD_FAILURE() << "the client emitted nothing where the reference sent this";
            continue;
        }
        EXPECT_EQ(hex(d.out.front().wire), hex(p.wire)) << "client datagram differs";
        if (p.ptype() == nc::packet_type::keep_alive) {
            // Timing, not bytes: our client sends at exactly 475 ms idle (spec: neutrino.md
            // §11.1); the reference checks on a ≥ 25 ms tick, so it sends a little later.
            const auto late = ms_of(t) - ms_of(d.out.front().when);
            EXPECT_GE(late, 0) << "our KEEP_ALIVE came after the reference's";
            EXPECT_LE(late, 50) << "our KEEP_ALIVE came far earlier than the reference's";
        }
        d.out.pop_front();
    }

    if (shutdown_seen) {
        // spec: neutrino.md §11.3: drain for exactly 2000 ms, then closed (draining); no more
        // sending meanwhile, then a redial 1000 ms later (not driven: the script has no keys).
        const time_point end = *shutdown_seen + std::chrono::milliseconds(2000);
        EXPECT_EQ(client.state(), nc::session_state::draining);
        d.advance(end - std::chrono::milliseconds(1));
        EXPECT_TRUE(d.closed_at.empty()) << "closed before the 2000 ms drain ended";
        d.advance(end);
        ASSERT_EQ(d.closed_at.size(), 1U);
        EXPECT_EQ(ms_of(d.closed_at[0]), ms_of(end));
        EXPECT_EQ(client.state(), nc::session_state::closed);
        ASSERT_TRUE(client.deadline());
        EXPECT_EQ(ms_of(*client.deadline()), ms_of(end) + 1000);
    } else {
        EXPECT_EQ(client.state(), nc::session_state::closed);
        EXPECT_FALSE(client.deadline()) << "a closed client keeps no timer";
    }
    for (const auto& extra : d.out) {
        ADD_FAILURE() << "the client emitted an unrecorded datagram at " << ms_of(extra.when)
                      << " ms: " << hex(extra.wire);
    }
    EXPECT_EQ(client.random().remaining(), 0U)
        << "the client did not draw '" << client.random().next_step() << "'";
    EXPECT_EQ(d.events, expected_client_events(sc));

    std::vector<std::string> expected_app;
    for (const auto& w : sc.client_app_received) {
        expected_app.push_back(describe(nc::event_kind::data, scenario_session_id(sc), w, {}));
    }
    std::vector<std::string> got_app;
    for (const auto& e : d.events) {
        if (e.starts_with("data")) got_app.push_back(e);
    }
    EXPECT_EQ(got_app, expected_app);
}

const scenario_vector& scenario(std::string_view name) {
    const auto* s = vectors().find(name);
    if (s == nullptr) throw std::runtime_error("no scenario " + std::string(name));
    return *s;
}

TEST(kat_replay, basic_session_server) { replay_server(scenario("basic_session")); }
TEST(kat_replay, basic_session_client) { replay_client(scenario("basic_session")); }
TEST(kat_replay, basic_shutdown_server) { replay_server(scenario("basic_shutdown")); }
TEST(kat_replay, basic_shutdown_client) { replay_client(scenario("basic_shutdown")); }

}  // namespace
