#include "neutrino/core/v3/packet_protection.hpp"

// Transport packet protection (spec: neutrino-v3.md §10, §11.3) against
// tests/vectors/neutrino-v3.json: every transport datagram sealed byte-exact from its inputs
// and opened through the receive pipeline in wire order (replay windows and key phases
// included), the replay-window sequence, the `transport` must_reject mutations, and the
// Extended fragmentation of `extended_message`.

#include <gtest/gtest.h>

#define BOOST_BIND_GLOBAL_PLACEHOLDERS
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/core/words.hpp"

namespace nc = neutrino::core;
namespace v3 = neutrino::core::v3;
namespace pt = boost::property_tree;
using namespace std::chrono_literals;

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

const pt::ptree& doc() {
    static const pt::ptree t = [] {
        pt::ptree r;
        pt::read_json(std::string(NEUTRINO_TEST_VECTORS_DIR) + "/neutrino-v3.json", r);
        return r;
    }();
    return t;
}

struct transport_vector {
    std::size_t index = 0;
    bool c2s = true;
    std::string name, key, framing, note;
    unsigned type_code = 0, phase = 0;
    std::uint64_t session_id = 0, pn_field = 0;
    std::uint32_t keyword = 0;
    std::vector<bytes> words;
    bytes raw, wire, plaintext;
    std::string nonce_hex, aad_hex, pn_space;
    std::size_t pad_to = 0;

    [[nodiscard]] bytes payload() const {
        if (framing == "raw") return raw;
        std::vector<nc::word> ws(words.begin(), words.end());
        bytes out(70000);
        auto n = framing == "u16u32" ? nc::extended_word_codec::encode(ws, out) : nc::word_codec::encode(ws, out);
        EXPECT_TRUE(n);
        out.resize(n ? *n : 0);
        return out;
    }
};

struct scenario {
    std::string name;
    std::map<std::string, std::vector<std::string>> keys;  ///< "c2s" → phase 0, 1, 2 (hex)
    std::vector<transport_vector> transport;
    std::vector<bytes> all;  ///< every datagram's wire bytes by index

    [[nodiscard]] v3::secret_key key(const std::string& name_phase) const {
        const auto slash = name_phase.find('/');
        return secret(keys.at(name_phase.substr(0, slash)).at(std::stoul(name_phase.substr(slash + 1))));
    }
};

std::vector<scenario> load() {
    std::vector<scenario> out;
    for (const auto& [_, sc] : doc().get_child("scenarios")) {
        scenario s;
        s.name = sc.get<std::string>("name");
        if (auto tk = sc.get_child_optional("derived.transport_keys")) {
            for (const auto& [dir, list] : *tk) {
                for (const auto& [__, v] : list) s.keys[dir].push_back(v.data());
            }
        }
        for (const auto& [__, d] : sc.get_child("datagrams")) {
            s.all.push_back(from_hex(d.get<std::string>("wire_hex")));
            if (d.get<std::string>("kind") != "transport") continue;
            transport_vector t;
            t.index = d.get<std::size_t>("index");
            t.c2s = d.get<std::string>("direction") == "c2s";
            t.name = d.get<std::string>("name");
            t.note = d.get<std::string>("note");
            t.type_code = d.get<unsigned>("type_code");
            t.phase = d.get<unsigned>("key_phase");
            t.session_id = to_u64(d.get<std::string>("session_id"));
            t.pn_space = d.get<std::string>("pn_space");
            t.pn_field = to_u64(d.get<std::string>("pn_field"));
            t.key = d.get<std::string>("key");
            t.keyword = d.get<std::uint32_t>("keyword");
            t.framing = d.get<std::string>("framing");
            if (t.framing == "raw") {
                t.raw = from_hex(d.get<std::string>("raw_payload_hex"));
            } else {
                for (const auto& [___, w] : d.get_child("words_hex")) t.words.push_back(from_hex(w.data()));
            }
            const std::string pad = d.get<std::string>("pad_to");
            t.pad_to = pad == "null" ? 0 : std::stoul(pad);
            t.nonce_hex = d.get<std::string>("nonce_hex");
            t.aad_hex = d.get<std::string>("aad_hex");
            t.plaintext = from_hex(d.get<std::string>("plaintext_hex"));
            t.wire = from_hex(d.get<std::string>("wire_hex"));
            EXPECT_EQ(t.wire.size(), d.get<std::size_t>("length"));
            s.transport.push_back(std::move(t));
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::string trace(const scenario& s, const transport_vector& t) {
    return s.name + " #" + std::to_string(t.index) + " " + (t.c2s ? "c2s " : "s2c ") + t.name;
}

/// Decodes the payload strictly, as the receiver's step 8 does, and returns the words.
std::vector<std::string> decode(const transport_vector& t, v3::bytes_view payload) {
    std::vector<std::string> out;
    if (t.framing == "u16u32") {
        auto w = nc::basic_words_view<nc::extended_word_codec>::parse(payload);
        EXPECT_TRUE(w);
        if (w) for (nc::word x : *w) out.push_back(hex(x));
    } else {
        auto w = nc::words_view::parse(payload);
        EXPECT_TRUE(w);
        if (w) for (nc::word x : *w) out.push_back(hex(x));
    }
    return out;
}

}  // namespace

// spec: neutrino-v3.md §18.5 item 3: every transport datagram sealed byte-exact from its inputs.
TEST(v3_packet_protection, every_transport_datagram_seals_byte_exact) {
    neutrino::ensure_sodium();
    std::size_t count = 0;
    for (const scenario& s : load()) {
        for (const transport_vector& t : s.transport) {
            SCOPED_TRACE(trace(s, t));
            const auto type = static_cast<v3::packet_type>(t.type_code);
            EXPECT_EQ(t.key, std::string(t.c2s ? "c2s/" : "s2c/") + std::to_string(t.phase));
            EXPECT_EQ(t.pn_space, v3::space_of(type) == v3::pn_space::numbered ? "numbered" : "unnumbered");
            EXPECT_EQ(hex(v3::aead_chacha20poly1305_ietf::nonce(t.pn_field)), t.nonce_hex);
            const bytes payload = t.payload();
            std::array<std::byte, v3::max_datagram_size> out{};
            auto n = v3::seal_transport(out, type, static_cast<std::uint8_t>(t.phase), t.session_id, t.pn_field,
                                        t.keyword, payload, t.pad_to, s.key(t.key));
            ASSERT_TRUE(n) << n.error().message();
            EXPECT_EQ(hex(std::span(out).first(*n)), hex(t.wire));
            EXPECT_EQ(hex(std::span(out).first(v3::prefix_size)), t.aad_hex);
            ++count;
        }
    }
    EXPECT_EQ(count, 27U);  // 37 datagrams, 10 of them handshake
}

// spec: neutrino-v3.md §10.5: each side receives the other's datagrams in wire order through
// the pipeline (replay windows, key phases); plaintexts and words match.
TEST(v3_packet_protection, every_transport_datagram_opens_through_the_pipeline) {
    neutrino::ensure_sodium();
    const auto now = neutrino::time_point{} + 100s;
    for (const scenario& s : load()) {
        if (s.transport.empty()) continue;
        v3::receive_keys server_rx(s.key("c2s/0")), client_rx(s.key("s2c/0"));
        v3::replay_guard server_win, client_win;
        for (const transport_vector& t : s.transport) {
            SCOPED_TRACE(trace(s, t));
            if (t.note.find("lost on the way") != std::string::npos) continue;  // never arrives
            std::array<std::byte, v3::max_datagram_size> scratch{};
            auto& keys = t.c2s ? server_rx : client_rx;
            auto p = v3::receive_transport(t.wire, t.c2s ? v3::role::server : v3::role::client, keys,
                                           t.c2s ? server_win : client_win, now, scratch);
            ASSERT_TRUE(p) << p.error().message();
            EXPECT_EQ(keys.phase(), t.phase);  // the receive phase followed the sender
            EXPECT_EQ(p->header.pn_field, t.pn_field);
            EXPECT_EQ(p->header.session_id, t.session_id);
            EXPECT_EQ(p->keyword, t.keyword);
            EXPECT_EQ(hex(std::span(scratch).first(t.plaintext.size())), hex(t.plaintext));
            if (t.framing == "raw") {
                EXPECT_EQ(hex(p->payload), hex(t.raw));
            } else {
                std::vector<std::string> want;
                for (const bytes& w : t.words) want.push_back(hex(w));
                EXPECT_EQ(decode(t, p->payload), want);
            }
            // the same datagram again is a replay, and changes nothing
            auto again = v3::receive_transport(t.wire, t.c2s ? v3::role::server : v3::role::client, keys,
                                               t.c2s ? server_win : client_win, now, scratch);
            ASSERT_FALSE(again);
            EXPECT_EQ(again.error(), v3::errc::replayed);
            EXPECT_EQ(again.error(), nc::condition::replayed);
        }
    }
}

// spec: neutrino-v3.md §10.1: a Reliable retransmission under the same phase is byte-identical.
TEST(v3_packet_protection, retransmission_in_the_same_phase_is_byte_identical) {
    for (const scenario& s : load()) {
        if (s.name != "ik_reliable_cookie") continue;
        EXPECT_EQ(hex(s.all.at(6)), hex(s.all.at(9)));
        return;
    }
    FAIL();
}

// spec: neutrino-v3.md §18.5 item 6: the replay-window sequence, on both spaces.
TEST(v3_packet_protection, replay_window_sequence) {
    const pt::ptree& rw = doc().get_child("replay_window");
    EXPECT_EQ(rw.get<std::size_t>("window"), v3::replay_window_size);
    for (const std::uint64_t base : {std::uint64_t{0}, v3::unnumbered_base}) {
        SCOPED_TRACE(base == 0 ? "numbered" : "unnumbered");
        v3::replay_guard g;
        std::size_t i = 0;
        for (const auto& [_, ev] : rw.get_child("events")) {
            const std::uint64_t n = to_u64(ev.get<std::string>("pn"));
            SCOPED_TRACE("event " + std::to_string(i++) + " pn " + std::to_string(n));
            const bool ok = g.precheck(base + n);
            EXPECT_EQ(ok, ev.get<bool>("passes_precheck"));
            const bool accepted = ok && ev.get<bool>("authentic");
            if (accepted) g.commit(base + n);  // only after the AEAD opened
            EXPECT_EQ(accepted, ev.get<bool>("accepted"));
            EXPECT_EQ(g.highest(base == 0 ? v3::pn_space::numbered : v3::pn_space::unnumbered),
                      to_u64(ev.get<std::string>("highest_after")));
        }
        // the other space is untouched
        EXPECT_EQ(g.highest(base == 0 ? v3::pn_space::unnumbered : v3::pn_space::numbered), 0U);
    }
}

// spec: neutrino-v3.md §20 item 3: the window is not updated on AEAD failure.
TEST(v3_packet_protection, forged_packet_moves_no_window) {
    neutrino::ensure_sodium();
    const auto s = load().front();  // nk_basic
    const auto& t = s.transport.at(1);  // c2s DATA pn 2
    v3::receive_keys keys(s.key("c2s/0"));
    v3::replay_guard win;
    std::array<std::byte, v3::max_datagram_size> scratch{};
    bytes forged = t.wire;
    forged[14] = std::byte{0x88};  // pn 0x88 (136) and a tag that cannot match
    forged[15] = std::byte{0x13};  // pn 5000 + ...
    auto r = v3::receive_transport(forged, v3::role::server, keys, win, {}, scratch);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), v3::errc::decryption_failed);
    EXPECT_EQ(win.highest(v3::pn_space::numbered), 0U);
    EXPECT_EQ(keys.phase(), 0U);
    ASSERT_TRUE(v3::receive_transport(t.wire, v3::role::server, keys, win, {}, scratch));
    EXPECT_EQ(win.highest(v3::pn_space::numbered), 2U);
}

// spec: neutrino-v3.md §18.4 must_reject entries with check `transport`.
TEST(v3_packet_protection, must_reject_transport_mutations) {
    neutrino::ensure_sodium();
    const auto all = load();
    const auto now = neutrino::time_point{} + 100s;
    int checked = 0;
    for (const auto& [_, m] : doc().get_child("must_reject")) {
        if (m.get<std::string>("check") != "transport") continue;
        const auto sc = std::find_if(all.begin(), all.end(),
                                     [&](const scenario& s) { return s.name == m.get<std::string>("scenario"); });
        ASSERT_NE(sc, all.end());
        const auto t = std::find_if(sc->transport.begin(), sc->transport.end(), [&](const transport_vector& x) {
            return x.index == m.get<std::size_t>("datagram");
        });
        ASSERT_NE(t, sc->transport.end());
        SCOPED_TRACE(m.get<std::string>("what"));
        // The receiver: the datagram's own direction, or `open_with` (reflection); its receive
        // phase already at the datagram's phase, with the previous key still held.
        const std::string with = m.get<std::string>("open_with", t->key);
        const std::string dir = with.substr(0, 3);
        const v3::role receiver = dir == "c2s" ? v3::role::server : v3::role::client;
        const auto fresh_keys = [&] {
            v3::receive_keys k(sc->key(dir + "/0"));
            for (unsigned p = 0; p < std::stoul(with.substr(4)); ++p) k.advance(now);
            return k;
        };
        bytes w = t->wire;
        w.at(m.get<std::size_t>("offset")) ^= static_cast<std::byte>(m.get<unsigned>("xor"));
        std::array<std::byte, v3::max_datagram_size> scratch{};
        if (!m.get_child_optional("open_with")) {  // control: the original passes the same step
            auto keys = fresh_keys();
            v3::replay_guard win;
            ASSERT_TRUE(v3::receive_transport(t->wire, receiver, keys, win, now, scratch));
        }
        auto keys = fresh_keys();
        v3::replay_guard win;
        auto r = v3::receive_transport(w, receiver, keys, win, now, scratch);
        ASSERT_FALSE(r);
        // pn 1 → 0 never reaches the AEAD: 0 is outside every space (§10.2, §10.5 step 4)
        EXPECT_EQ(r.error(), m.get<std::size_t>("offset") == 14 ? v3::errc::wrong_pn_space : v3::errc::decryption_failed);
        EXPECT_EQ(win.highest(v3::pn_space::numbered), 0U);
        // ... and the AEAD alone rejects every one of them, as the checker runs it.
        const auto pn = neutrino::load_le<std::uint64_t>(w.data() + 14);
        const unsigned long phase_read = (std::stoul(with.substr(4)) & ~1UL) | (std::to_integer<unsigned long>(w[5]) >> 7);
        const std::string key = m.get_child_optional("open_with") ? with : dir + "/" + std::to_string(phase_read);
        EXPECT_FALSE(v3::aead_chacha20poly1305_ietf::open(scratch, std::span(w).subspan(22), std::span(w).first(22), pn,
                                                          sc->key(key)));
        ++checked;
    }
    EXPECT_EQ(checked, 5);
}

TEST(v3_packet_protection, header_checks_before_crypto) {
    const auto s = load().front();
    const bytes& d = s.transport.at(1).wire;  // c2s DATA
    EXPECT_EQ(v3::transport_header::parse(std::span(d).first(42), v3::role::server).error(), v3::errc::bad_size);
    bytes big(1281);
    EXPECT_EQ(v3::transport_header::parse(big, v3::role::server).error(), v3::errc::bad_size);
    bytes w = d;
    w[4] = std::byte{2};
    EXPECT_EQ(v3::transport_header::parse(w, v3::role::server).error(), v3::errc::bad_header);
    w = d;
    w[5] = std::byte{0x06};  // SERVER_SHUTDOWN to the server: wrong role
    EXPECT_EQ(v3::transport_header::parse(w, v3::role::server).error(), v3::errc::bad_packet_type);
    w[5] = std::byte{0x02};  // a handshake code goes elsewhere
    EXPECT_EQ(v3::transport_header::parse(w, v3::role::client).error(), v3::errc::bad_packet_type);
    w[5] = std::byte{0x21};  // REQUEST_RETRANSMISSION with a numbered pn
    EXPECT_EQ(v3::transport_header::parse(w, v3::role::server).error(), v3::errc::wrong_pn_space);
    w = d;
    w[21] = std::byte{0x80};  // DATA with an unnumbered pn
    EXPECT_EQ(v3::transport_header::parse(w, v3::role::server).error(), v3::errc::wrong_pn_space);
}

TEST(v3_packet_protection, seal_refuses_what_must_never_be_sent) {
    neutrino::ensure_sodium();
    const auto key = load().front().key("c2s/0");
    std::array<std::byte, v3::max_datagram_size> out{};
    const bytes empty_list{std::byte{0}};
    using pt_ = v3::packet_type;
    EXPECT_EQ(v3::seal_transport(out, pt_::data, 0, 64, 0, 0, empty_list, 0, key).error(), v3::errc::wrong_pn_space);
    EXPECT_EQ(v3::seal_transport(out, pt_::data, 0, 64, v3::unnumbered_base, 0, empty_list, 0, key).error(),
              v3::errc::wrong_pn_space);
    EXPECT_EQ(v3::seal_transport(out, pt_::path_challenge, 0, 64, v3::unnumbered_base, 0, empty_list, 0, key).error(),
              v3::errc::wrong_pn_space);
    EXPECT_EQ(v3::seal_transport(out, pt_::path_challenge, 0, 64, ~std::uint64_t{0}, 0, empty_list, 0, key).error(),
              v3::errc::wrong_pn_space);  // REKEY's nonce
    EXPECT_EQ(v3::seal_transport(out, pt_::client_hello1, 0, 64, 1, 0, empty_list, 0, key).error(),
              v3::errc::bad_packet_type);
    const bytes too_big(v3::max_payload_size + 1);
    EXPECT_EQ(v3::seal_transport(out, pt_::data, 0, 64, 1, 0, too_big, 0, key).error(), v3::errc::payload_too_large);
    const bytes full(v3::max_payload_size);
    auto n = v3::seal_transport(out, pt_::data, 0, 64, 1, 1, full, 0, key);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, v3::max_datagram_size);
    std::array<std::byte, 100> small{};
    EXPECT_EQ(v3::seal_transport(small, pt_::data, 0, 64, 1, 0, full, 0, key).error(), v3::errc::buffer_too_small);
    n = v3::seal_transport(out, pt_::keep_alive, 0, 64, 1, 0, empty_list, 0, key);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, v3::min_transport_size);
}

// spec: neutrino-v3.md §11.3: a packet delayed across the switch opens with rx_prev for 2 s.
TEST(v3_packet_protection, delayed_packet_opens_with_the_previous_key_until_discarded) {
    neutrino::ensure_sodium();
    const auto s = load().front();  // nk_basic: c2s #5 (phase 0, pn 3) and #7 (phase 1, pn 4)
    const auto t0 = neutrino::time_point{} + 50s;
    const auto find = [&](std::size_t idx) {
        return *std::find_if(s.transport.begin(), s.transport.end(), [&](const auto& t) { return t.index == idx; });
    };
    std::array<std::byte, v3::max_datagram_size> scratch{};
    for (const auto delay : {1s, 2s}) {
        v3::receive_keys keys(s.key("c2s/0"));
        v3::replay_guard win;
        auto p = v3::receive_transport(find(7).wire, v3::role::server, keys, win, t0, scratch);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->key, v3::receive_keys::which::next);
        EXPECT_EQ(keys.phase(), 1U);
        auto late = v3::receive_transport(find(5).wire, v3::role::server, keys, win, t0 + delay, scratch);
        if (delay < v3::prev_key_discard) {
            ASSERT_TRUE(late);
            EXPECT_EQ(late->key, v3::receive_keys::which::previous);
            EXPECT_EQ(keys.phase(), 1U);
        } else {
            ASSERT_FALSE(late);
            EXPECT_EQ(late.error(), v3::errc::decryption_failed);
        }
    }
}

TEST(v3_packet_protection, send_keys_follow_the_rekey_chain) {
    neutrino::ensure_sodium();
    const auto s = load().front();
    v3::send_keys tx(s.key("s2c/0"));
    EXPECT_EQ(tx.phase_bit(), 0U);
    tx.advance();
    EXPECT_TRUE(tx.key().equals(s.key("s2c/1")));
    EXPECT_EQ(tx.phase_bit(), 1U);
    tx.advance();
    EXPECT_TRUE(tx.key().equals(s.key("s2c/2")));
    EXPECT_EQ(tx.phase(), 2U);
}

// spec: neutrino-v3.md §14.2, §18.5 item 5: the Extended message, fragmented into 1238-byte
// raw chunks with keyword countdown, is exactly the payload of the fragment datagrams.
TEST(v3_packet_protection, extended_message_fragmentation) {
    const pt::ptree& ex = doc().get_child("extended_message");
    std::vector<bytes> words;
    for (const auto& [_, w] : ex.get_child("words_hex")) words.push_back(from_hex(w.data()));
    std::vector<nc::word> ws(words.begin(), words.end());
    bytes enc(70000);
    auto n = nc::extended_word_codec::encode(ws, enc);
    ASSERT_TRUE(n);
    enc.resize(*n);
    EXPECT_EQ(hex(enc), ex.get<std::string>("encoded_hex"));
    EXPECT_EQ(ex.get<std::size_t>("fragment_payload_size"), v3::max_payload_size);
    std::vector<const transport_vector*> frags;
    const auto all = load();
    for (const scenario& s : all) {
        for (const auto& t : s.transport) {
            if (t.framing == "raw") frags.push_back(&t);
        }
    }
    const std::size_t k = (enc.size() + v3::max_payload_size - 1) / v3::max_payload_size;
    ASSERT_EQ(frags.size(), k);
    for (std::size_t i = 0; i < k; ++i) {
        SCOPED_TRACE(i);
        const std::size_t off = i * v3::max_payload_size;
        const std::size_t len = std::min(v3::max_payload_size, enc.size() - off);
        EXPECT_EQ(hex(frags[i]->raw), hex(std::span(enc).subspan(off, len)));
        EXPECT_EQ(frags[i]->keyword, k - i);
        EXPECT_EQ(frags[i]->pn_field, frags[0]->pn_field + i);
        EXPECT_EQ(frags[i]->pad_to, 0U);
    }
}
