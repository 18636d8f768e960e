#pragma once
/// \file
/// The W2 transport payload (the AEAD plaintext): flags, the sender's maxPayload and receive
/// window, an optional ACK block, optional key-update keys, an optional stream header and the
/// stream data. A stateless codec: encoding writes into a caller's span, decoding gives a view
/// into the input; neither allocates nor throws.  spec: qotp.md §9

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/keys.hpp"

namespace neutrino::qotp {

/// Flag bits of byte 0.  spec: qotp.md §9.2
namespace payload_flags {
inline constexpr std::uint8_t has_ack = 0x01;
inline constexpr std::uint8_t has_stream = 0x02;
inline constexpr std::uint8_t extend = 0x04;  ///< every offset is u48 instead of u24
inline constexpr std::uint8_t close = 0x08;   ///< FIN of the stream in the stream header
inline constexpr std::uint8_t key_update = 0x10;
inline constexpr std::uint8_t key_update_ack = 0x20;
}  // namespace payload_flags

// Sizes.  spec: qotp.md §9.1, §9.3
inline constexpr std::size_t payload_fixed_size = 4;  ///< flags, maxPayload (u16), rcvWnd
inline constexpr std::size_t stream_id_size = 4;
inline constexpr std::size_t short_offset_size = 3;  ///< u24
inline constexpr std::size_t long_offset_size = 6;   ///< u48, when `extend`
inline constexpr std::size_t ack_length_size = 2;
inline constexpr std::uint64_t max_short_offset = 0xFFFFFF;
inline constexpr std::uint64_t max_offset = (std::uint64_t{1} << 48) - 1;
inline constexpr std::uint32_t max_stream_id = 0x7FFFFFFF;    ///< ids are 0..2^31−1 (§11)
inline constexpr std::uint32_t best_effort_bit = 0x80000000;  ///< bit 31 of the wire stream id

/// Acknowledges exactly one received packet.  spec: qotp.md §9.3
struct ack_block {
    std::uint32_t stream_id =
        0;                     ///< plain id; the wire value as read (bit 31 is not set by senders)
    std::uint64_t offset = 0;  ///< stream offset of the acknowledged packet
    std::uint16_t length = 0;  ///< its stream data length (0 for empty packets)

    friend bool operator==(const ack_block&, const ack_block&) = default;
};

/// A stream header and the data after it.  spec: qotp.md §9.3, §11
struct stream_frame {
    std::uint32_t stream_id = 0;      ///< 0..2^31−1
    bool best_effort = false;         ///< bit 31 of the wire id: an unreliable stream
    std::uint64_t offset = 0;         ///< stream offset of the first data byte
    bool close = false;               ///< FIN for this stream (isClose)
    std::span<const std::byte> data;  ///< empty for a ping, probe, bare FIN or key-update carrier
};

/// One transport payload. Decoding keeps `stream->data` as a view into the decoded bytes.
struct transport_payload {
    std::uint16_t max_payload = 0;  ///< the sender's maxPayload; 0 means "no update" (§9.5, §16)
    std::uint8_t receive_window = 0;  ///< rcvWnd, 8-bit encoded (receive_window.hpp, §10)
    std::optional<ack_block> ack;
    std::optional<public_key> key_update;      ///< KU: the rotating side's new ephemeral key (§8)
    std::optional<public_key> key_update_ack;  ///< KUA: the answer to a KU (§8)
    /// Absent: an ACK-only payload. Present with empty data: an empty stream packet (ACKed with
    /// length 0).  spec: qotp.md §9.4, §9.5
    std::optional<stream_frame> stream;
};

/// What a responder processes in place of the payload an InitSnd does not carry: maxPayload 0
/// (no MTU update), rcvWnd 0 (the responder may not send stream data until the initiator's
/// first Data announces a window), no ACK, and an empty stream packet on stream 0 at offset 0,
/// which the responder ACKs as (0, 0, 0).  spec: qotp.md §7.1, §9.5
[[nodiscard]] inline transport_payload implied_init_snd_payload() noexcept {
    transport_payload p;
    p.stream = stream_frame{};
    return p;
}

/// Bytes `p` encodes to: 4, +9/12 ACK, +32 per key, +7/10 stream header, + data.  spec: §9.4
[[nodiscard]] std::size_t encoded_size(const transport_payload& p) noexcept;

/// Encodes `p` into `out`, returning the size written. Sets `extend` iff an offset exceeds
/// 0xFFFFFF and `hasStream` iff `p.stream` is present.
/// Errors: `errc::missing_stream_header` (§9.4: a stream header is required when there is no
/// ACK, or a KU or KUA), `errc::bad_stream_id` (a stream id above 2^31 − 1),
/// `errc::offset_too_large` (an offset above 2^48 − 1), `errc::buffer_too_small`.
[[nodiscard]] result<std::size_t> encode_payload(const transport_payload& p,
                                                 std::span<std::byte> out) noexcept;

/// Decodes a payload. `in` must outlive the result (stream data is a view into it). Reserved
/// bits 6–7 are ignored, and so is `isClose` without a stream header (there is no stream for it).
/// Errors: `errc::payload_too_short` (below 4 bytes), `errc::payload_truncated` (an ACK block,
/// key or stream header cut short), `errc::trailing_bytes` (no stream header, bytes left).
/// spec: qotp.md §9.5
[[nodiscard]] result<transport_payload> decode_payload(std::span<const std::byte> in) noexcept;

}  // namespace neutrino::qotp
