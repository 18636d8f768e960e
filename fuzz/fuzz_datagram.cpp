// Fuzz target: the datagram decoders of wire v2, on the wire and behind the AEAD.
//
// 1. On the wire: the input is a datagram. clear_header::parse, the machines' header checks,
//    read_hello1, and wire::v2::open with the two directional keys of the reference vectors'
//    sessions (tests/vectors/neutrino-python.json, scenario basic_session), so the seed
//    datagrams taken from those vectors authenticate and the fuzzer mutates real packets. An
//    opened packet must re-seal (same key, same nonce) to the very same bytes.
// 2. Pre-seal hook: the input is the plaintext protected part (pn, keyword, payload). It is
//    sealed with a fixed key and nonce by wire::v2::seal_with_nonce, opened again and decoded
//    the way the machines do (words, shape, replay window), so the decoders behind the AEAD
//    see arbitrary plaintext. Everything must round-trip.
// spec: neutrino.md §4, §5, §6.1, §9

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "neutrino/core/crypto.hpp"
#include "neutrino/core/detail/session_core.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/core/words.hpp"
#include "test_dialects.hpp"

namespace {

using namespace neutrino::core;
using wire_type = wire::v2;

secret_key key_from_hex(std::string_view hex) {
    auto k = parse_key_hex(hex);
    if (!k) __builtin_trap();
    return secret_key(*k);
}

struct fixture {
    fixture() { neutrino::ensure_sodium(); }
    // basic_session of the reference vectors: key_c2s, key_s2c
    secret_key c2s = key_from_hex("0c2f40eaa67b00d24c2022db9f131d67c42b5cf4e7f5edc524bc5bb91b505738");
    secret_key s2c = key_from_hex("f94e9f60a5486fefb4c8663a51dcd1b8bad1c62f93150244baea5781456648de");
    secret_key hook = key_from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
};

const fixture& fx() {
    static const fixture f;
    return f;
}

/// Decodes an opened packet as a machine would; checks the words re-encode to their prefix.
void decode_opened(const opened_packet& p) {
    auto words = words_view::parse(p.payload);
    if (!words) return;
    std::vector<word> list(words->begin(), words->end());
    if (list.size() != words->size()) __builtin_trap();
    std::array<std::byte, max_datagram_size> buf{};
    auto n = word_codec::encode(list, buf);
    if (!n || *n != words->encoded().size() ||
        std::memcmp(buf.data(), p.payload.data(), *n) != 0) {
        __builtin_trap();
    }
    for (std::uint8_t t : {std::uint8_t{0x02}, std::uint8_t{0x03}, std::uint8_t{0x04}, std::uint8_t{0x05},
                           std::uint8_t{0x06}, std::uint8_t{0x21}, std::uint8_t{0x47}}) {
        for (const dialect& v : {basic_dialect, neutrino::test::layered_dialect, neutrino::test::raw_dialect}) {
            (void)detail::shape_ok(static_cast<packet_type>(t), *words, v);
        }
    }
    replay_window<1024> w;
    (void)w.check(p.packet_number);
    w.commit(p.packet_number);
    if (w.check(p.packet_number)) __builtin_trap();
}

void on_the_wire(std::span<const std::byte> d) {
    auto h = clear_header::parse(d);
    for (const dialect& v : {basic_dialect, neutrino::test::layered_dialect, neutrino::test::raw_dialect}) {
        (void)detail::check_header<wire_type>(d, v);
    }
    auto pk = wire_type::read_hello1(d);
    if (pk) {
        // A valid HELLO1 is exactly what write_hello1 writes for that key, padding included
        // (its keyword is ignored, so compare everything but bytes 22..25).
        std::array<std::byte, max_datagram_size> again{};
        if (wire_type::write_hello1(again, *pk) != d.size()) __builtin_trap();
        if (std::memcmp(again.data() + total_header_size, d.data() + total_header_size,
                        d.size() - total_header_size) != 0) {
            __builtin_trap();
        }
    }
    if (!h) return;
    if (h->session_id == session_id_pending && h->type == 0x01) return;  // clear HELLO1
    for (const secret_key* key : {&fx().c2s, &fx().s2c}) {
        std::array<std::byte, max_datagram_size> scratch{};
        auto p = wire_type::open(d, *h, *key, scratch);
        if (!p) continue;
        if (p->plaintext.size() + wire_type::overhead != d.size()) __builtin_trap();
        decode_opened(*p);
        // The clear header is not authenticated in v2 (empty AD), so a datagram whose version
        // byte is not 2 can still open here; the machines drop it earlier (check_header).
        if (h->version != wire_type::version) break;
        // Re-seal with the datagram's own nonce: must give back the input exactly.
        std::array<std::byte, max_datagram_size> out{};
        std::span<const std::byte, wire_type::nonce_size> nonce(d.data() + clear_header_size,
                                                                wire_type::nonce_size);
        auto n = wire_type::seal_with_nonce(out, p->type, p->session_id, p->packet_number,
                                            p->keyword, p->payload, 0, *key, nonce);
        if (!n || *n != d.size() || std::memcmp(out.data(), d.data(), d.size()) != 0) {
            __builtin_trap();
        }
        break;
    }
}

void pre_seal_hook(std::span<const std::byte> in) {
    if (in.size() < protected_header_size) return;
    const auto pn = neutrino::load_le<std::uint64_t>(in.data());
    const auto keyword = neutrino::load_le<std::uint32_t>(in.data() + 8);
    const auto payload = in.subspan(protected_header_size);
    static constexpr std::array<std::byte, wire_type::nonce_size> nonce{};
    const std::uint64_t sid = 64 + (pn & 0xff);

    for (std::size_t min_plain : {std::size_t{0}, max_datagram_size}) {
        std::array<std::byte, max_datagram_size> dgram{};
        auto n = wire_type::seal_with_nonce(dgram, packet_type::data, sid, pn, keyword, payload,
                                            min_plain, fx().hook, nonce);
        if (payload.size() > wire_type::max_payload_size) {
            if (n) __builtin_trap();
            return;
        }
        if (!n || *n > max_datagram_size) __builtin_trap();
        if (min_plain != 0 && *n != max_datagram_size) __builtin_trap();
        const std::span<const std::byte> d(dgram.data(), *n);
        auto h = detail::check_header<wire_type>(d, neutrino::test::layered_dialect);
        if (!h || h->session_id != sid) __builtin_trap();
        std::array<std::byte, max_datagram_size> scratch{};
        auto p = wire_type::open(d, *h, fx().hook, scratch);
        if (payload.empty() && min_plain == 0) {
            // 14 + 24 + 12 + 0 + 16 = 66 bytes: one under min_sealed_size, refused as too short
            if (p || d.size() >= wire_type::min_sealed_size) __builtin_trap();
            continue;
        }
        if (!p || p->packet_number != pn || p->keyword != keyword ||
            p->type != packet_type::data || p->payload.size() < payload.size() ||
            std::memcmp(p->payload.data(), payload.data(), payload.size()) != 0) {
            __builtin_trap();
        }
        for (std::size_t i = payload.size(); i < p->payload.size(); ++i) {
            if (p->payload[i] != std::byte{0}) __builtin_trap();  // padding is zeros
        }
        // Padding with zeros never turns a valid word list into an invalid one.
        const bool valid_unpadded = word_codec::validate(payload).has_value();
        const auto padded = word_codec::validate(p->payload);
        if (valid_unpadded && (!padded || *padded != *word_codec::validate(payload))) {
            __builtin_trap();
        }
        decode_opened(*p);
        // Any flipped ciphertext byte must fail authentication.
        std::array<std::byte, max_datagram_size> bad{};
        std::memcpy(bad.data(), d.data(), d.size());
        const std::size_t at = clear_header_size + wire_type::nonce_size +
                               (pn % (d.size() - clear_header_size - wire_type::nonce_size));
        bad[at] ^= std::byte{static_cast<std::uint8_t>(1U << (keyword % 8))};
        if (wire_type::open({bad.data(), d.size()}, *h, fx().hook, scratch)) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> in(size);
    if (size != 0) std::memcpy(in.data(), data, size);
    on_the_wire(in);
    pre_seal_hook(in);
    return 0;
}
