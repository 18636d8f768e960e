// Fuzz target: the PROBE codec and relay header (p2p/probe.hpp, p2p/envelope.hpp). Input: one
// datagram. Properties: peek_probe and decode_probe agree on shape; what decodes under the
// fixed key (that of fuzz/corpus/probe's valid seeds) re-encodes to the same bytes; peeked
// fields sealed under the key decode back to themselves and fail under another key; a decoded
// relay header re-encodes to the input.  spec: p2p.md §7.3, §7.4

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/probe.hpp"

namespace {

using namespace neutrino::p2p;

probe_key_bytes filled(std::uint8_t b) {
    probe_key_bytes k{};
    k.fill(std::byte{b});
    return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy in a buffer of exactly `size` bytes, so ASan sees any read past the end.
    std::vector<std::byte> in(size);
    if (size != 0) std::memcpy(in.data(), data, size);
    static const probe_key_bytes key = filled(0x42);
    static const probe_key_bytes other = filled(0x43);

    (void)classify(in);
    const auto peeked = peek_probe(in);
    const auto decoded = decode_probe(in, key);
    if (decoded && (!peeked || *decoded != *peeked)) __builtin_trap();
    if (!peeked && decoded) __builtin_trap();
    if (!peeked && decoded.error() != peeked.error()) __builtin_trap();
    if (decoded) {
        std::array<std::byte, probe_size> out{};
        const auto n = encode_probe(*decoded, key, out);
        if (!n || *n != in.size() || std::memcmp(out.data(), in.data(), *n) != 0) {
            __builtin_trap();
        }
    }
    if (peeked) {
        std::array<std::byte, probe_size> out{};
        if (!encode_probe(*peeked, key, out)) __builtin_trap();
        const auto back = decode_probe(out, key);
        if (!back || *back != *peeked) __builtin_trap();
        if (decode_probe(out, other)) __builtin_trap();
    }

    const auto relayed = decode_relayed(in);
    if (relayed) {
        std::vector<std::byte> out(in.size());
        const auto n = encode_relayed(relayed->relay_id, relayed->payload, out);
        if (!n || *n != in.size() || (size != 0 && std::memcmp(out.data(), in.data(), size) != 0)) {
            __builtin_trap();
        }
    }
    return 0;
}
