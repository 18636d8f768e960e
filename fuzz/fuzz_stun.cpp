// Fuzz target: the STUN decoder (p2p/stun.hpp). Input: one datagram.
// Properties: decode_stun accepts only what looks_like_stun accepts, and classify calls it STUN;
// every view lies inside the input; FINGERPRINT, when present, was checked; what decodes
// re-encodes from its fields (type, transaction id, XOR-MAPPED-ADDRESS, SOFTWARE, USERNAME,
// ERROR-CODE, and MESSAGE-INTEGRITY under a fixed key and FINGERPRINT when the input had them)
// and decodes back to the same fields, with an integrity that verifies.  spec: p2p.md §7.1, §7.3

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/stun.hpp"

namespace {

using namespace neutrino::p2p;

constexpr std::array<std::byte, 5> key{std::byte{'f'}, std::byte{'u'}, std::byte{'z'},
                                       std::byte{'z'}, std::byte{'!'}};

bool inside(std::span<const std::byte> v, std::span<const std::byte> in) {
    return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size());
}

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

template <class T>
bool same_opt_span(const T& a, const T& b) {
    return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy in a buffer of exactly `size` bytes, so ASan sees any read past the end.
    std::vector<std::byte> in(size);
    if (size != 0) std::memcpy(in.data(), data, size);

    const bool looks = looks_like_stun(in);
    const auto kind = classify(in);
    const auto m = decode_stun(in);
    if (!m) return 0;
    if (!looks || kind != datagram_kind::stun) __builtin_trap();
    if (m->bytes.data() != in.data() || m->bytes.size() != in.size()) __builtin_trap();
    if (m->software && !inside(*m->software, in)) __builtin_trap();
    if (m->username && !inside(*m->username, in)) __builtin_trap();
    if (m->error_code && !inside(m->error_code->reason, in)) __builtin_trap();
    if (m->integrity_offset && *m->integrity_offset + 24 > in.size()) __builtin_trap();
    (void)verify_stun_integrity(*m, key);
    (void)find_stun_attribute(*m, 0x0024);

    std::vector<std::byte> out(in.size() + 128);
    stun_encoder enc(out, m->type, m->transaction_id);
    if (m->xor_mapped_address) enc.add_xor_mapped_address(*m->xor_mapped_address);
    if (m->software) enc.add(stun_attribute::software, *m->software);
    if (m->username) enc.add(stun_attribute::username, *m->username);
    if (m->error_code) enc.add_error_code(m->error_code->code, m->error_code->reason);
    if (m->integrity_offset) enc.add_message_integrity(key);
    if (m->has_fingerprint) enc.add_fingerprint();
    const auto n = enc.finish();
    if (!n) __builtin_trap();
    const auto back = decode_stun(std::span(out).first(*n));
    if (!back) __builtin_trap();
    if (back->type != m->type || back->transaction_id != m->transaction_id) __builtin_trap();
    if (back->xor_mapped_address != m->xor_mapped_address) __builtin_trap();
    if (!same_opt_span(back->software, m->software)) __builtin_trap();
    if (!same_opt_span(back->username, m->username)) __builtin_trap();
    if (back->error_code.has_value() != m->error_code.has_value()) __builtin_trap();
    if (m->error_code && (back->error_code->code != m->error_code->code ||
                          !same(back->error_code->reason, m->error_code->reason))) {
        __builtin_trap();
    }
    if (back->has_fingerprint != m->has_fingerprint) __builtin_trap();
    if (back->integrity_offset.has_value() != m->integrity_offset.has_value()) __builtin_trap();
    if (back->integrity_offset && !verify_stun_integrity(*back, key)) __builtin_trap();
    if (back->unknown_required_count != 0) __builtin_trap();
    return 0;
}
