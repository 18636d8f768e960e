#pragma once
/// \file
/// `core::dialect`: what the layer above a core machine takes over from it. The layer above
/// declares its dialect (and configures the machine with it); the core machines read its fields
/// and never name the layers above them, so a new layer needs no change here.
///   spec: neutrino.md §0, §6.4, §13.3; neutrino-v3.md §9.1

#include <cstdint>

namespace neutrino::core {

/// The dialect of Neutrino a session speaks; both ends must agree (v2: out of band; v3: the
/// handshake negotiates `id`). Plain data, compared field by field.
struct dialect {
    /// The dialect's number on the wire: the bit of the v3 offer's mask and the answer's
    /// choice (0, 1 or 2 on today's wire; 2 is the one that carries a message-size limit,
    /// neutrino-v3.md §9.1).
    std::uint8_t id = 0;
    /// The layer above answers KEEP_ALIVEs, orders DATA and repairs loss. The core then sends
    /// no keep-alives of its own, accepts REQUEST_RETRANSMISSION, reports `packet_received`,
    /// `packet_sent` and `packet_beyond_window`, and reports DATA only as `packet_received`.
    bool layered = false;
    /// For a layered dialect: the KEEP_ALIVE payload is exactly this many 8-byte words (the
    /// core drops other shapes). An unlayered dialect's KEEP_ALIVE is empty.
    std::uint8_t keep_alive_u64_words = 0;
    /// DATA payloads go up raw (any framing and any keyword; the layer above judges them).
    bool raw_data = false;

    friend constexpr bool operator==(const dialect&, const dialect&) noexcept = default;
};

/// Neutrino itself: the core answers keep-alives and delivers DATA as `data` events.
inline constexpr dialect basic_dialect{};

}  // namespace neutrino::core
