#include "neutrino/core/v3/handshake.hpp"

// The v3 handshake (spec: neutrino-v3.md §7, §9) byte for byte against
// tests/vectors/neutrino-v3.json (every scenario: HELLO1, server read, HELLO2, client read,
// the 12/16-step trace, handshake hash, chaining key, Split) and against Noise's published
// vectors for Noise_NK/IK_25519_ChaChaPoly_BLAKE2b, run through the same message functions.

#include <gtest/gtest.h>

#define BOOST_BIND_GLOBAL_PLACEHOLDERS
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace v3 = neutrino::core::v3;
namespace pt = boost::property_tree;

namespace {

using bytes = std::vector<std::byte>;

bytes from_hex(std::string_view hex) {
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    bytes out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        const int hi = nib(hex[i]), lo = nib(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            ADD_FAILURE() << "bad hex: " << hex;
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
    EXPECT_TRUE(ec == std::errc{} && end == s.data() + s.size()) << s;
    return v;
}
v3::secret_key secret(const std::string& h) {
    auto b = from_hex(h);
    EXPECT_EQ(b.size(), 32U);
    b.resize(32);
    return v3::secret_key(std::span<const std::byte, 32>(b.data(), 32));
}
v3::public_key pub(const std::string& h) {
    v3::public_key k{};
    auto b = from_hex(h);
    EXPECT_EQ(b.size(), 32U);
    std::copy_n(b.begin(), std::min<std::size_t>(b.size(), 32), k.begin());
    return k;
}

const pt::ptree& doc() {
    static const pt::ptree t = [] {
        pt::ptree r;
        pt::read_json(std::string(NEUTRINO_TEST_VECTORS_DIR) + "/neutrino-v3.json", r);
        return r;
    }();
    return t;
}

/// One recorded trace step: op, h, ck, k ("null" without a key).
struct step {
    std::string op, h, ck, k;
    friend bool operator==(const step&, const step&) = default;
};
std::ostream& operator<<(std::ostream& o, const step& s) {
    return o << s.op << " h=" << s.h.substr(0, 16) << "… ck=" << s.ck.substr(0, 16) << "… k=" << s.k.substr(0, 16);
}
struct recorder {
    std::vector<step> steps;
    v3::trace_sink sink() {
        return {[](void* ctx, std::string_view op, const v3::symmetric_state& s) noexcept {
                    auto* self = static_cast<recorder*>(ctx);
                    self->steps.push_back({std::string(op), hex(s.h()), hex(s.ck()),
                                           s.k() ? hex(s.k()->bytes()) : std::string("null")});
                },
                this};
    }
};

v3::offer offer_of(const pt::ptree& o) {
    v3::offer r;
    EXPECT_EQ(o.get<unsigned>("format"), 1U);
    r.variants_mask = static_cast<std::uint8_t>(o.get<unsigned>("variants_mask"));
    r.preferred_variant = static_cast<std::uint8_t>(o.get<unsigned>("preferred_variant"));
    r.extended_max_message_size = o.get<std::uint32_t>("extended_max_message_size");
    return r;
}
v3::answer answer_of(const pt::ptree& a) {
    v3::answer r;
    r.status = static_cast<v3::hello2_status>(a.get<unsigned>("status"));
    r.variant = static_cast<std::uint8_t>(a.get<unsigned>("variant"));
    r.extended_max_message_size = a.get<std::uint32_t>("extended_max_message_size");
    r.session_id = to_u64(a.get<std::string>("session_id"));
    return r;
}

/// Everything a scenario's handshake needs, loaded once.
struct scenario {
    std::string name;
    const pt::ptree* node = nullptr;
    v3::handshake_pattern pattern = v3::handshake_pattern::nk;
    v3::secret_key e, f;
    std::optional<v3::secret_key> c;
    v3::offer offer;
    v3::answer answer;
    bytes hello1, hello2;  ///< the first HELLO1 (no mac2) and the HELLO2
    std::size_t hello2_index = 0;
};

struct keys {
    v3::secret_key server_sk, client_sk;
    v3::public_key server_pk;
    v3::derived_key mac1_key;
};
const keys& static_keys() {
    static const keys k = [] {
        const pt::ptree& n = doc().get_child("keys");
        keys r;
        r.server_sk = secret(n.get<std::string>("server_static_secret"));
        r.client_sk = secret(n.get<std::string>("client_static_secret"));
        r.server_pk = pub(n.get<std::string>("server_static_public"));
        r.mac1_key = v3::derive_mac1_key(r.server_pk);
        return r;
    }();
    return k;
}

std::vector<scenario> scenarios() {
    std::vector<scenario> out;
    for (const auto& [_, sc] : doc().get_child("scenarios")) {
        scenario s;
        s.name = sc.get<std::string>("name");
        s.node = &sc;
        const pt::ptree& in = sc.get_child("inputs");
        s.pattern = in.get<bool>("client_static") ? v3::handshake_pattern::ik : v3::handshake_pattern::nk;
        s.e = secret(in.get<std::string>("client_ephemeral_secret"));
        s.f = secret(in.get<std::string>("server_ephemeral_secret"));
        if (in.get<bool>("client_static")) s.c = static_keys().client_sk;
        s.offer = offer_of(in.get_child("offer"));
        s.answer = answer_of(in.get_child("answer"));
        std::size_t i = 0;
        for (const auto& [__, d] : sc.get_child("datagrams")) {
            const std::string n = d.get<std::string>("name");
            if (n == "CLIENT_HELLO1" && s.hello1.empty()) s.hello1 = from_hex(d.get<std::string>("wire_hex"));
            if (n == "SERVER_HELLO2") {
                s.hello2 = from_hex(d.get<std::string>("wire_hex"));
                s.hello2_index = i;
            }
            ++i;
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<step> expected_trace(const scenario& s) {
    std::vector<step> t;
    for (const auto& [_, e] : s.node->get_child("derived.trace")) {
        t.push_back({e.get<std::string>("op"), e.get<std::string>("h"), e.get<std::string>("ck"),
                     e.get<std::string>("k")});
    }
    return t;
}

}  // namespace

TEST(v3_handshake, file_has_four_scenarios_and_the_constants_match) {
    const pt::ptree& c = doc().get_child("constants");
    EXPECT_EQ(doc().get<std::string>("schema"), "neutrino-v3-vectors/1");
    EXPECT_EQ(c.get<std::uint32_t>("protocol_identifier"), v3::protocol_identifier);
    EXPECT_EQ(c.get<unsigned>("protocol_version"), v3::protocol_version);
    EXPECT_EQ(c.get<std::size_t>("clear_header_size"), v3::clear_header_size);
    EXPECT_EQ(c.get<std::size_t>("authenticated_prefix_size"), v3::prefix_size);
    EXPECT_EQ(c.get<std::size_t>("tag_size"), v3::tag_size);
    EXPECT_EQ(c.get<std::size_t>("keyword_size"), v3::keyword_size);
    EXPECT_EQ(c.get<std::size_t>("max_datagram_size"), v3::max_datagram_size);
    EXPECT_EQ(c.get<std::size_t>("max_payload_size"), v3::max_payload_size);
    EXPECT_EQ(c.get<std::size_t>("hello1_size"), v3::hello1_size);
    EXPECT_EQ(c.get<std::size_t>("mac1_offset"), v3::mac1_offset);
    EXPECT_EQ(c.get<std::size_t>("mac2_offset"), v3::mac2_offset);
    EXPECT_EQ(c.get<std::size_t>("hello2_size"), v3::hello2_size);
    EXPECT_EQ(c.get<std::size_t>("cookie_reply_size"), v3::cookie_reply_size);
    EXPECT_EQ(c.get<std::size_t>("min_transport_datagram"), v3::min_transport_size);
    EXPECT_EQ(c.get<unsigned>("key_phase_bit"), v3::key_phase_bit);
    EXPECT_EQ(to_u64(c.get<std::string>("unnumbered_base")), v3::unnumbered_base);
    EXPECT_EQ(c.get<std::uint64_t>("session_id_none"), v3::session_id_none);
    EXPECT_EQ(c.get<std::size_t>("replay_window"), v3::replay_window_size);
    for (const auto& [name, code] : c.get_child("packet_types")) {
        SCOPED_TRACE(name);
        const unsigned v = code.get_value<unsigned>();
        if (v == 1 || v == 2 || v == 7) {
            EXPECT_FALSE(v3::is_transport_type(static_cast<std::uint8_t>(v)));
        } else {
            EXPECT_TRUE(v3::is_transport_type(static_cast<std::uint8_t>(v)));
        }
    }
    EXPECT_EQ(scenarios().size(), 4U);
}

// spec: neutrino-v3.md §18.5 item 1: the client builds HELLO1 byte-exact and its trace so far.
TEST(v3_handshake, client_builds_hello1_byte_exact) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    for (const scenario& s : scenarios()) {
        SCOPED_TRACE(s.name);
        const pt::ptree& der = s.node->get_child("derived");
        std::array<std::byte, v3::hello1_size> out{};
        recorder rec;
        auto hs = v3::client_handshake::write_hello1(out, k.server_pk, k.mac1_key, s.e,
                                                     s.c ? &*s.c : nullptr, s.offer, rec.sink());
        ASSERT_TRUE(hs) << hs.error().message();
        EXPECT_EQ(hex(out), hex(s.hello1));
        EXPECT_EQ(hex(std::span(out).first(v3::prologue_size)), der.get<std::string>("prologue_hex"));
        EXPECT_EQ(v3::protocol_name(s.pattern), der.get<std::string>("protocol_name"));
        EXPECT_EQ(v3::hello1_payload_size(s.pattern), der.get<std::size_t>("hello1_payload_len"));
        EXPECT_EQ(hex(hs->mac1()), der.get<std::string>("mac1_hex"));
        std::array<std::byte, v3::offer_size> ob;
        s.offer.write(ob);
        EXPECT_EQ(hex(ob), der.get<std::string>("hello1_payload_offer_hex"));
        auto want = expected_trace(s);
        const std::size_t msg1_steps = s.pattern == v3::handshake_pattern::ik ? 8 : 6;
        ASSERT_EQ(rec.steps.size(), msg1_steps);
        for (std::size_t i = 0; i < msg1_steps; ++i) EXPECT_EQ(rec.steps[i], want[i]) << "step " << i;
    }
}

// spec: neutrino-v3.md §18.5 item 2: the server reads HELLO1 and produces HELLO2 byte-exact.
TEST(v3_handshake, server_reads_hello1_and_writes_hello2_byte_exact) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    for (const scenario& s : scenarios()) {
        SCOPED_TRACE(s.name);
        const pt::ptree& der = s.node->get_child("derived");
        auto pat = v3::check_hello1(s.hello1, k.mac1_key);
        ASSERT_TRUE(pat) << pat.error().message();
        EXPECT_EQ(*pat, s.pattern);
        EXPECT_EQ(hex(v3::hello1_mac1(s.hello1)), der.get<std::string>("mac1_hex"));
        recorder rec;
        auto hs = v3::server_handshake::read_hello1(s.hello1, k.server_sk, k.server_pk, rec.sink());
        ASSERT_TRUE(hs) << hs.error().message();
        EXPECT_EQ(hex(hs->client_ephemeral()), der.get<std::string>("client_ephemeral_public"));
        if (s.pattern == v3::handshake_pattern::ik) {
            ASSERT_TRUE(hs->client_static());
            EXPECT_EQ(hex(*hs->client_static()), doc().get<std::string>("keys.client_static_public"));
        } else {
            EXPECT_FALSE(hs->client_static());
        }
        ASSERT_TRUE(hs->client_offer());
        EXPECT_EQ(*hs->client_offer(), s.offer);

        std::array<std::byte, v3::hello2_size> out{};
        auto n = hs->write_hello2(out, s.f, s.answer, rec.sink());
        ASSERT_TRUE(n) << n.error().message();
        EXPECT_EQ(*n, v3::hello2_size);
        EXPECT_EQ(hex(out), hex(s.hello2));
        std::array<std::byte, v3::answer_size> ab;
        s.answer.write(ab);
        EXPECT_EQ(hex(ab), der.get<std::string>("hello2_payload_hex"));
        EXPECT_EQ(rec.steps, expected_trace(s));  // both sides produce the same trace
        EXPECT_EQ(hex(hs->handshake_hash()), der.get<std::string>("handshake_hash"));
        EXPECT_EQ(hex(hs->state().ck()), der.get<std::string>("final_chaining_key"));
        const auto tk = hs->split();
        std::vector<std::string> c2s, s2c;
        for (const auto& [_, v] : der.get_child("transport_keys.c2s")) c2s.push_back(v.data());
        for (const auto& [_, v] : der.get_child("transport_keys.s2c")) s2c.push_back(v.data());
        ASSERT_FALSE(c2s.empty() || s2c.empty());
        EXPECT_EQ(hex(tk.c2s.bytes()), c2s[0]);
        EXPECT_EQ(hex(tk.s2c.bytes()), s2c[0]);
    }
}

// spec: neutrino-v3.md §7.5 and §18.5 item 1: the client reads HELLO2, full trace, keys.
TEST(v3_handshake, client_reads_hello2_trace_hash_and_keys) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    for (const scenario& s : scenarios()) {
        SCOPED_TRACE(s.name);
        const pt::ptree& der = s.node->get_child("derived");
        std::array<std::byte, v3::hello1_size> h1{};
        recorder rec;
        auto hs = v3::client_handshake::write_hello1(h1, k.server_pk, k.mac1_key, s.e,
                                                     s.c ? &*s.c : nullptr, s.offer, rec.sink());
        ASSERT_TRUE(hs);
        auto a = hs->read_hello2(s.hello2, rec.sink());
        ASSERT_TRUE(a) << a.error().message();
        EXPECT_EQ(*a, s.answer);
        EXPECT_TRUE(v3::check_answer(s.offer, *a));
        EXPECT_EQ(rec.steps, expected_trace(s));
        EXPECT_EQ(hex(hs->handshake_hash()), der.get<std::string>("handshake_hash"));
        EXPECT_EQ(hex(hs->state().ck()), der.get<std::string>("final_chaining_key"));
        const auto tk = hs->split();
        std::vector<std::string> c2s, s2c;
        for (const auto& [_, v] : der.get_child("transport_keys.c2s")) c2s.push_back(v.data());
        for (const auto& [_, v] : der.get_child("transport_keys.s2c")) s2c.push_back(v.data());
        EXPECT_EQ(hex(tk.c2s.bytes()), c2s.at(0));
        EXPECT_EQ(hex(tk.s2c.bytes()), s2c.at(0));
        if (a->status == v3::hello2_status::accepted) {
            EXPECT_GE(a->session_id, v3::min_session_id);
        } else {
            EXPECT_EQ(a->session_id, v3::session_id_none);
        }
    }
}

TEST(v3_handshake, variant_mismatch_refusal_carries_the_server_mask) {
    neutrino::ensure_sodium();
    for (const scenario& s : scenarios()) {
        if (s.name != "nk_variant_mismatch") continue;
        EXPECT_EQ(s.answer.status, v3::hello2_status::no_common_variant);
        EXPECT_EQ(s.answer.variant, 0x03);
        EXPECT_EQ(s.answer.session_id, v3::session_id_none);
        EXPECT_EQ(hex(std::span(s.hello2).subspan(6, 8)), "0200000000000000");
        return;
    }
    FAIL() << "nk_variant_mismatch missing";
}

// spec: neutrino-v3.md §18.4 must_reject, checks `hello1` and `hello2` (the COOKIE_REPLY and
// mac2 entries are in v3_cookie_test.cpp, the transport ones in v3_packet_protection_test.cpp).
TEST(v3_handshake, must_reject_hello1_and_hello2_mutations) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    const auto all = scenarios();
    int checked = 0;
    for (const auto& [_, m] : doc().get_child("must_reject")) {
        const std::string check = m.get<std::string>("check");
        if (check != "hello2" && !(check == "hello1" && m.get<std::size_t>("datagram") == 0)) continue;
        const auto it = std::find_if(all.begin(), all.end(),
                                     [&](const scenario& s) { return s.name == m.get<std::string>("scenario"); });
        ASSERT_NE(it, all.end());
        const scenario& s = *it;
        SCOPED_TRACE(s.name + ": " + m.get<std::string>("what"));
        bytes w = check == "hello1" ? s.hello1 : s.hello2;
        ASSERT_EQ(m.get<std::size_t>("datagram"), check == "hello1" ? 0U : s.hello2_index);
        w.at(m.get<std::size_t>("offset")) ^= static_cast<std::byte>(m.get<unsigned>("xor"));
        if (check == "hello1") {
            ASSERT_TRUE(v3::check_hello1(s.hello1, k.mac1_key));  // control
            auto r = v3::check_hello1(w, k.mac1_key);
            ASSERT_FALSE(r);
            // The version byte is checked before mac1; both are drops before any DH.
            EXPECT_EQ(r.error(), m.get<std::size_t>("offset") == 4 ? v3::errc::bad_header : v3::errc::bad_mac1);
            // Even without mac1, Noise itself rejects it (prologue / ciphertext changed).
            EXPECT_FALSE(v3::server_handshake::read_hello1(w, k.server_sk, k.server_pk));
        } else {
            std::array<std::byte, v3::hello1_size> h1{};
            auto hs = v3::client_handshake::write_hello1(h1, k.server_pk, k.mac1_key, s.e,
                                                         s.c ? &*s.c : nullptr, s.offer);
            ASSERT_TRUE(hs);
            const v3::hash_value before = hs->handshake_hash();
            auto r = hs->read_hello2(w);
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error(), m.get<std::size_t>("offset") == 6 ? v3::errc::session_id_mismatch
                                                                   : v3::errc::decryption_failed);
            EXPECT_EQ(r.error(), neutrino::core::condition::unauthenticated);
            // spec: neutrino-v3.md §7.5: a forged HELLO2 cannot spoil the handshake
            EXPECT_EQ(hs->handshake_hash(), before);
            auto ok = hs->read_hello2(s.hello2);
            ASSERT_TRUE(ok) << ok.error().message();
            EXPECT_EQ(*ok, s.answer);
        }
        ++checked;
    }
    EXPECT_EQ(checked, 5);
}

TEST(v3_handshake, hello2_layout_checks_come_first) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    const scenario s = scenarios().front();
    std::array<std::byte, v3::hello1_size> h1{};
    auto hs = v3::client_handshake::write_hello1(h1, k.server_pk, k.mac1_key, s.e, nullptr, s.offer);
    ASSERT_TRUE(hs);
    EXPECT_EQ(hs->read_hello2(std::span(s.hello2).first(77)).error(), v3::errc::bad_size);
    bytes w = s.hello2;
    w[5] = std::byte{0x82};  // phase bit set on a handshake type
    EXPECT_EQ(hs->read_hello2(w).error(), v3::errc::bad_header);
    w = s.hello2;
    w[4] = std::byte{2};
    EXPECT_EQ(hs->read_hello2(w).error(), v3::errc::bad_header);
}

// spec: neutrino-v3.md §20 item 1: an all-zero DH is rejected (server ephemeral of low order).
TEST(v3_handshake, low_order_server_ephemeral_is_rejected_without_state_change) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    const scenario s = scenarios().front();
    std::array<std::byte, v3::hello1_size> h1{};
    auto hs = v3::client_handshake::write_hello1(h1, k.server_pk, k.mac1_key, s.e, nullptr, s.offer);
    ASSERT_TRUE(hs);
    bytes w = s.hello2;
    std::fill(w.begin() + 14, w.begin() + 46, std::byte{0});
    const auto before = hs->handshake_hash();
    EXPECT_EQ(hs->read_hello2(w).error(), v3::errc::low_order_point);
    EXPECT_EQ(hs->handshake_hash(), before);
    // and a low-order client ephemeral in HELLO1 is rejected by the server
    bytes h = s.hello1;
    std::fill(h.begin() + 16, h.begin() + 48, std::byte{0});
    EXPECT_EQ(v3::server_handshake::read_hello1(h, k.server_sk, k.server_pk).error(), v3::errc::low_order_point);
}

TEST(v3_handshake, offer_rules) {
    const auto parse = [](std::initializer_list<unsigned> b, std::size_t tail = 0, unsigned tail_byte = 0) {
        bytes p;
        for (unsigned x : b) p.push_back(static_cast<std::byte>(x));
        for (std::size_t i = 0; i < tail; ++i) p.push_back(static_cast<std::byte>(tail_byte));
        return v3::offer::parse(p);
    };
    EXPECT_TRUE(parse({1, 1, 0, 0, 0, 0, 0, 0}, 100));
    EXPECT_TRUE(parse({1, 6, 2, 0, 0xd6, 4, 0, 0}));               // extended, limit 1238
    EXPECT_FALSE(parse({1, 6, 2, 0, 0xd5, 4, 0, 0}));              // limit 1237 < 1238
    EXPECT_FALSE(parse({1, 3, 1, 0, 1, 0, 0, 0}));                 // limit without extended
    EXPECT_FALSE(parse({2, 1, 0, 0, 0, 0, 0, 0}));                 // format
    EXPECT_FALSE(parse({1, 0, 0, 0, 0, 0, 0, 0}));                 // empty mask
    EXPECT_FALSE(parse({1, 9, 0, 0, 0, 0, 0, 0}));                 // other bits
    EXPECT_FALSE(parse({1, 2, 0, 0, 0, 0, 0, 0}));                 // preferred not in mask
    EXPECT_FALSE(parse({1, 1, 0, 1, 0, 0, 0, 0}));                 // reserved
    EXPECT_FALSE(parse({1, 1, 0, 0, 0, 0, 0, 0}, 10, 1));          // non-zero padding
    EXPECT_EQ(parse({1, 1, 0, 0, 0, 0, 0}).error(), v3::errc::malformed_offer);  // short
}

TEST(v3_handshake, answer_rules) {
    v3::offer o;
    o.variants_mask = 0x03;
    o.preferred_variant = 1;
    v3::answer a{v3::hello2_status::accepted, 1, 0, 64};
    EXPECT_TRUE(v3::check_answer(o, a));
    a.session_id = 63;
    EXPECT_FALSE(v3::check_answer(o, a));
    a = {v3::hello2_status::accepted, 2, 4096, 100};  // extended was not offered
    EXPECT_FALSE(v3::check_answer(o, a));
    a = {v3::hello2_status::refused, 0, 0, 2};
    EXPECT_TRUE(v3::check_answer(o, a));
    a.session_id = 100;
    EXPECT_FALSE(v3::check_answer(o, a));
    std::array<std::byte, 16> b{};
    b[0] = std::byte{5};
    EXPECT_EQ(v3::answer::parse(b).error(), v3::errc::malformed_answer);
    b[0] = std::byte{0};
    b[2] = std::byte{1};
    EXPECT_EQ(v3::answer::parse(b).error(), v3::errc::malformed_answer);
}

TEST(v3_handshake, malformed_offer_reaches_the_server_as_status_4_material) {
    neutrino::ensure_sodium();
    const keys& k = static_keys();
    const scenario s = scenarios().front();
    v3::offer bad = s.offer;
    bad.preferred_variant = 2;  // not in the mask: the client API does not validate
    std::array<std::byte, v3::hello1_size> h1{};
    ASSERT_TRUE(v3::client_handshake::write_hello1(h1, k.server_pk, k.mac1_key, s.e, nullptr, bad));
    ASSERT_TRUE(v3::check_hello1(h1, k.mac1_key));
    auto hs = v3::server_handshake::read_hello1(h1, k.server_sk, k.server_pk);
    ASSERT_TRUE(hs);
    ASSERT_FALSE(hs->client_offer());
    EXPECT_EQ(hs->client_offer().error(), v3::errc::malformed_offer);
}

// --- Noise's published vectors -------------------------------------------------------------
// From rweather/noise-c, tests/vector/noise-c-basic.txt (commit ec5de2ca65b0), entries
// "Noise_NK_25519_ChaChaPoly_BLAKE2b" and "Noise_IK_25519_ChaChaPoly_BLAKE2b"; the same
// handshakes are in the cacophony set. Messages 1–2 are the handshake, 3–6 transport
// (initiator→responder with the first Split key, and back with the second, nonces from 0).

namespace {
struct noise_vector {
    const char* name;
    v3::handshake_pattern pattern;
    std::array<const char*, 6> ciphertexts;
    const char* handshake_hash;
};
constexpr const char* noise_prologue = "50726f6c6f677565313233";  // "Prologue123"
constexpr const char* noise_init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
constexpr const char* noise_init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
constexpr const char* noise_resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
constexpr const char* noise_resp_static_public = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62";
constexpr const char* noise_resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
constexpr std::array<const char*, 6> noise_payloads = {
    "4c756477696720766f6e204d69736573", "4d757272617920526f746862617264", "462e20412e20486179656b",
    "4361726c204d656e676572", "4a65616e2d426170746973746520536179",
    "457567656e2042f6686d20766f6e2042617765726b"};
const std::array<noise_vector, 2> noise_vectors = {{
    {"Noise_NK_25519_ChaChaPoly_BLAKE2b", v3::handshake_pattern::nk,
     {"ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944f3041e39b0c8ba56008f2d1183fea6acc9a221fce2945fd4e40396e046e0246b",
      "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088432281dcc1835131f305dca14525e15e95bbefa674d47a13fdf88fe9c79dfca5",
      "357e24e9f28ba22080666f7efacc01b2a0a4e358e742aeeff2aaf5",
      "8b23b34ff3169de06a39551e969ca7876cc5122a4acff74bf2ec29",
      "5c104779b6f36e59fca73ed94b0ae092eae1d76dd109caf5060aaaedba385d7076",
      "34ae0518d0cd3aa641ed372ea94935ceecd87f8c4b422ce21a33d3f6f5493891e3e915d83f"},
     "ae43dd84698159fea33f3638733584bedb74378bd418576f6cbfbb6702c483f7e6ef17408a2aa6a991bd6758dff089253c571816b0340145ed34f6e1844ed03a"},
    {"Noise_IK_25519_ChaChaPoly_BLAKE2b", v3::handshake_pattern::ik,
     {"ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088efdd232fe541af156ec6d0657602902a8c3ee64e470f4b6fcd9298ce0b56fe20f86e60d9d933ec6e103ffb09e6001d6abb64",
      "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088439f069b267a06b3de3ecb1043bcb09807c6cd101f3826192a65f11ef3fe4317",
      "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07",
      "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2",
      "49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa02fc7",
      "8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9d56f30e935d3"},
     "00e51d2aac81a9b8ebe441d6af3e1c8efc0f030cc608332edcb42588ff6a0ce26415ddc106e95277a5e6d54132f1e5245976b89caf96d262f1fe5a7f0c55c078"},
}};
}  // namespace

TEST(v3_handshake, noise_published_vectors_nk_and_ik) {
    neutrino::ensure_sodium();
    const bytes prologue = from_hex(noise_prologue);
    const auto e = secret(noise_init_ephemeral);
    const auto c = secret(noise_init_static);
    const auto S = secret(noise_resp_static);
    const auto S_pub = pub(noise_resp_static_public);
    const auto f = secret(noise_resp_ephemeral);
    ASSERT_EQ(v3::public_key_of(S), S_pub);
    for (const noise_vector& v : noise_vectors) {
        SCOPED_TRACE(v.name);
        const bool ik = v.pattern == v3::handshake_pattern::ik;
        v3::symmetric_state init(v.name), resp(v.name);
        std::array<bytes, 6> p;
        for (std::size_t i = 0; i < 6; ++i) p[i] = from_hex(noise_payloads[i]);

        std::array<std::byte, 256> m1{};
        auto n1 = v3::noise::write_message1(init, v.pattern, prologue, S_pub, e, ik ? &c : nullptr, p[0], m1);
        ASSERT_TRUE(n1);
        EXPECT_EQ(hex(std::span(m1).first(*n1)), v.ciphertexts[0]);

        v3::public_key re{};
        std::optional<v3::public_key> rs;
        std::array<std::byte, 256> got{};
        auto r1 = v3::noise::read_message1(resp, v.pattern, prologue, S, S_pub, std::span(m1).first(*n1), re, rs, got);
        ASSERT_TRUE(r1);
        EXPECT_EQ(hex(std::span(got).first(*r1)), noise_payloads[0]);
        EXPECT_EQ(rs.has_value(), ik);
        if (ik) {
            EXPECT_EQ(*rs, v3::public_key_of(c));
        }

        std::array<std::byte, 256> m2{};
        auto n2 = v3::noise::write_message2(resp, v.pattern, f, re, rs, p[1], m2);
        ASSERT_TRUE(n2);
        EXPECT_EQ(hex(std::span(m2).first(*n2)), v.ciphertexts[1]);
        auto r2 = v3::noise::read_message2(init, v.pattern, e, ik ? &c : nullptr, std::span(m2).first(*n2), got);
        ASSERT_TRUE(r2);
        EXPECT_EQ(hex(std::span(got).first(*r2)), noise_payloads[1]);
        EXPECT_EQ(hex(init.h()), v.handshake_hash);
        EXPECT_EQ(hex(resp.h()), v.handshake_hash);

        const auto ik_keys = init.split();
        const auto rk_keys = resp.split();
        EXPECT_TRUE(ik_keys.c2s.equals(rk_keys.c2s));
        EXPECT_TRUE(ik_keys.s2c.equals(rk_keys.s2c));
        std::array<std::uint64_t, 2> nonce{};
        for (std::size_t i = 2; i < 6; ++i) {
            const bool from_initiator = i % 2 == 0;
            const auto& key = from_initiator ? ik_keys.c2s : ik_keys.s2c;
            std::array<std::byte, 64> ct{};
            auto n = v3::aead_chacha20poly1305_ietf::seal(ct, p[i], {}, nonce[i % 2]++, key);
            ASSERT_TRUE(n);
            EXPECT_EQ(hex(std::span(ct).first(*n)), v.ciphertexts[i]) << "message " << i + 1;
        }
    }
}
