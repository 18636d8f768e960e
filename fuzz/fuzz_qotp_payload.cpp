// Fuzz target: the QOTP transport payload codec (neutrino::qotp::decode_payload / encode_payload).
// Input: one payload (the AEAD plaintext).
// Properties: decoding never reads outside the input (stream data is a suffix of it); whatever
// decodes re-encodes unless §9.4's presence rules forbid it (no stream header although there is
// no ACK, or a KU or KUA); the re-encoding has `encoded_size` bytes and decodes to the same
// fields; and it is canonical: when its flags byte equals the input's, the bytes are equal
// (the input may only differ in reserved bits, a needless `extend`, or flags §9.4 derives).
// spec: qotp.md §9

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "neutrino/qotp/payload.hpp"

namespace {

namespace qotp = neutrino::qotp;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool same_stream(const std::optional<qotp::stream_frame>& a,
                 const std::optional<qotp::stream_frame>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->stream_id == b->stream_id && a->best_effort == b->best_effort &&
           a->offset == b->offset && a->close == b->close &&
           std::equal(a->data.begin(), a->data.end(), b->data.begin(), b->data.end());
}

bool same(const qotp::transport_payload& a, const qotp::transport_payload& b) {
    return a.max_payload == b.max_payload && a.receive_window == b.receive_window &&
           a.ack == b.ack && a.key_update == b.key_update && a.key_update_ack == b.key_update_ack &&
           same_stream(a.stream, b.stream);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> in(size);
    for (std::size_t i = 0; i < size; ++i) in[i] = static_cast<std::byte>(data[i]);
    const auto p = qotp::decode_payload(in);
    if (!p) return 0;
    if (p->stream) {
        const auto& d = p->stream->data;
        check(d.empty() || (d.data() >= in.data() && d.data() + d.size() == in.data() + in.size()));
    }

    std::vector<std::byte> out(qotp::encoded_size(*p));
    const auto n = qotp::encode_payload(*p, out);
    const bool needs_stream = !p->ack || p->key_update || p->key_update_ack;
    if (!p->stream && needs_stream) {
        check(!n && n.error() == qotp::errc::missing_stream_header);
        return 0;
    }
    check(n.has_value() && *n == out.size());
    const auto back = qotp::decode_payload(out);
    check(back.has_value() && same(*back, *p));
    if (out[0] == in[0]) check(out == in);
    return 0;
}
