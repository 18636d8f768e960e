// Fuzz target: the QOTP message parsers and packet protection (neutrino::qotp).
// Input: one mode byte, then
//   even mode  a datagram: parse_type, every typed parser, then open_message with the fixed
//              secrets S and S0 of the vectors (spec qotp.md §21.2) as candidates, both senders.
//              Properties: the parsers agree with parse_type and min_size; a failed open leaves
//              the buffer untouched; what opens re-seals to the same bytes.
//   odd mode   the pre-seal hook: byte 1 picks the encrypted type, bytes 2..7 the sequence
//              number (u48), the rest is the payload. It is sealed with S (S0 for InitCryptoSnd)
//              and must open back to the same payload and number; then one byte, chosen by
//              the mode byte, is changed and it must no longer open.
// spec: qotp.md §3, §4, §6

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "neutrino/endian.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"
#include "neutrino/qotp/packet_protection.hpp"

namespace {

namespace qotp = neutrino::qotp;
using qotp::message_type;
using qotp::sender;

qotp::shared_secret secret(const char* hex) {
    return qotp::shared_secret(*qotp::parse_key_hex(hex));
}

const qotp::shared_secret s =
    secret("3c528e9fd39731b15d10de8feb5f71d3f65b73c993581dedb03315a9ed177730");
const qotp::shared_secret s0 =
    secret("1fdc192faa0212a9aae7bb4f41b580227fd5ad3e5d777faae230dfe973f3e805");
const std::array<const qotp::shared_secret*, 2> candidates{&s, &s0};

void check(bool ok) {
    if (!ok) __builtin_trap();
}

// Exactly the parser of the datagram's type accepts it, when it is long enough.
void parse(std::span<const std::byte> d) {
    const auto type = qotp::parse_type(d);
    const auto id = qotp::parse_connection_id(d);
    check(type.has_value() == id.has_value());
    const auto is = [&](message_type t) {
        return type && *type == t && d.size() >= qotp::min_size(t);
    };
    check(qotp::parse_init_snd(d).has_value() == is(message_type::init_snd));
    check(qotp::parse_init_rcv(d).has_value() == is(message_type::init_rcv));
    check(qotp::parse_init_crypto_snd(d).has_value() == is(message_type::init_crypto_snd));
    check(qotp::parse_init_crypto_rcv(d).has_value() == is(message_type::init_crypto_rcv));
    check(qotp::parse_data(d).has_value() == is(message_type::data));
    if (const auto sealed = qotp::parse_sealed(d)) {
        check(sealed->header.size() + sealed->protected_part.size() == d.size());
        check(sealed->header.size() == qotp::header_size(sealed->type));
    }
}

// Whatever opens (the vector datagrams of the seed corpus do; forging a tag does not happen)
// re-seals, in place with the same key, number and sender, to the very same bytes.
void open_raw(std::span<const std::uint8_t> in) {
    std::vector<std::byte> d(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) d[i] = static_cast<std::byte>(in[i]);
    parse(d);
    for (const sender from : {sender::initiator, sender::responder}) {
        auto copy = d;
        const auto opened = qotp::open_message(copy, candidates, from);
        if (!opened) {
            check(copy == d);  // a failed open leaves the buffer as it was
            continue;
        }
        const message_type t = *qotp::parse_type(d);
        const std::size_t h = qotp::header_size(t);
        const auto resealed = qotp::seal_in_place(
            copy, h, d.size() - h - qotp::protection_overhead, *candidates[opened->secret_index],
            opened->sequence_number, qotp::sender_of(t, from));
        check(resealed.has_value() && *resealed == d.size() && copy == d);
    }
}

constexpr message_type encrypted_types[] = {message_type::init_rcv, message_type::init_crypto_snd,
                                            message_type::init_crypto_rcv, message_type::data};

qotp::result<std::size_t> seal(message_type t, std::span<std::byte> out,
                               std::span<const std::byte> payload, std::uint64_t sn) {
    const qotp::connection_id id{0x31f82734d9470d7b};
    const qotp::public_key key{};
    switch (t) {
        case message_type::init_rcv:
            return qotp::seal_init_rcv(out, id, {key, key}, payload, s, sn);
        case message_type::init_crypto_snd:
            return qotp::seal_init_crypto_snd(out, {key, key}, payload, s0, sn);
        case message_type::init_crypto_rcv:
            return qotp::seal_init_crypto_rcv(out, id, key, payload, s, sn);
        case message_type::data:
        case message_type::init_snd: break;
    }
    return qotp::seal_data(out, id, payload, s, sn, sender::initiator);
}

void seal_and_open(std::uint8_t mode, std::span<const std::uint8_t> in) {
    if (in.size() < 7) return;
    const message_type t = encrypted_types[in[0] % 4];
    std::array<std::byte, 6> sn_bytes{};
    for (std::size_t i = 0; i < 6; ++i) sn_bytes[i] = static_cast<std::byte>(in[1 + i]);
    const std::uint64_t sn = neutrino::load_le(sn_bytes);
    std::vector<std::byte> payload(in.size() - 7);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(in[7 + i]);

    std::vector<std::byte> out(payload.size() + 1300);
    const auto n = seal(t, out, payload, sn);
    if (!n) {  // a payload below 11 bytes, or too large for an InitCryptoSnd
        check(n.error() == qotp::errc::payload_too_short ||
              n.error() == qotp::errc::payload_too_large);
        return;
    }
    out.resize(*n);
    parse(out);
    check(out.size() >= qotp::min_size(t));  // what seals, a receiver accepts
    auto d = out;
    const auto opened = qotp::open_message(d, candidates, sender::initiator);
    check(opened.has_value());
    check(opened->sequence_number == sn);
    check(
        std::equal(opened->payload.begin(), opened->payload.end(), payload.begin(), payload.end()));

    d = out;
    d[(mode >> 1) % d.size()] ^= std::byte{static_cast<std::uint8_t>(1 | (mode & 0xFE))};
    check(!qotp::open_message(d, candidates, sender::initiator));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::span<const std::uint8_t> in(data + 1, size - 1);
    if ((data[0] & 1) == 0) {
        open_raw(in);
    } else {
        seal_and_open(data[0], in);
    }
    return 0;
}
