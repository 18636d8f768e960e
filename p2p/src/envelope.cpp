#include "neutrino/p2p/envelope.hpp"

#include <cstring>

#include "neutrino/endian.hpp"
#include "neutrino/p2p/stun.hpp"

namespace neutrino::p2p {

datagram_kind classify(std::span<const std::byte> in) noexcept {
    if (in.empty()) return datagram_kind::unknown;
    if (looks_like_stun(in)) return datagram_kind::stun;
    switch (static_cast<envelope_type>(in[0])) {
        case envelope_type::peer_data: return datagram_kind::peer_data;
        case envelope_type::peer_control: return datagram_kind::peer_control;
        case envelope_type::server_control: return datagram_kind::server_control;
        case envelope_type::relayed_data: return datagram_kind::relayed_data;
    }
    return datagram_kind::unknown;
}

result<std::size_t> encode_relayed(std::uint64_t relay_id, std::span<const std::byte> payload,
                                   std::span<std::byte> out) noexcept {
    if (out.size() < relay_header_size || out.size() - relay_header_size < payload.size()) {
        return fail(errc::buffer_too_small);
    }
    out[0] = static_cast<std::byte>(envelope_type::relayed_data);
    store_le(out.data() + 1, relay_id);
    if (!payload.empty())
        std::memcpy(out.data() + relay_header_size, payload.data(), payload.size());
    return relay_header_size + payload.size();
}

result<relayed_datagram> decode_relayed(std::span<const std::byte> in) noexcept {
    if (in.empty()) return fail(errc::envelope_empty);
    if (in[0] != static_cast<std::byte>(envelope_type::relayed_data)) {
        return fail(errc::bad_envelope_type);
    }
    if (in.size() < relay_header_size) return fail(errc::relay_truncated);
    return relayed_datagram{load_le<std::uint64_t>(in.data() + 1), in.subspan(relay_header_size)};
}

}  // namespace neutrino::p2p
