#pragma once
/// \file
/// What the monitor knows about a protocol: names of packet types, which types are part of the
/// handshake and which are sent in the clear. The observers and tools know nothing else about
/// a protocol; a later module (qotp, peer-to-peer) supplies its own `protocol_description`.

#include <cstdint>
#include <optional>
#include <string_view>

namespace neutrino::monitor {

/// A protocol as the monitor sees it. Plain function pointers: a description is a constant.
struct protocol_description {
    std::string_view name;  ///< e.g. "neutrino2"
    /// Name of a raw type code ("DATA"); "UNKNOWN" for codes the protocol does not define.
    std::string_view (*type_name)(std::uint8_t type) = nullptr;
    /// Label of a handshake step ("REQUEST SESSION (1/3)"), empty for other types.
    std::string_view (*handshake_label)(std::uint8_t type) = nullptr;
    /// True when packets of this type are sent in the clear (nothing to decrypt).
    bool (*is_clear)(std::uint8_t type) = nullptr;
    /// Names of special session ids ("NONE", "PENDING"), empty for ordinary ones.
    std::string_view (*session_label)(std::uint64_t session_id) = nullptr;
    /// True when `packet_number` belongs to the per-direction sequence (+1 per packet), so a
    /// gap means loss or reordering; false for special numbers (v2: 1 and 2).
    bool (*is_sequenced)(std::uint64_t packet_number) = nullptr;
    /// Packet numbers from this value on are in a second, unnumbered space and are shown as
    /// "u<n>" with n = packet number − this value (v3: 2^63); 0: the protocol has none.
    std::uint64_t unnumbered_base = 0;
    /// Bits of the raw type byte that are not the type code (v3: 0x80, the key phase); the
    /// code is `type & ~flag_mask`.
    std::uint8_t flag_mask = 0;
};

/// Neutrino wire version 2 (neutrino-core).  spec: neutrino.md §3.2, §3.3, §16.2
[[nodiscard]] const protocol_description& neutrino_v2_description() noexcept;

/// Neutrino wire version 3 (`neutrino::core::v3`): type codes with COOKIE_REPLY, PATH_CHALLENGE
/// and PATH_RESPONSE; the handshake packets (HELLO1, HELLO2, COOKIE_REPLY) count as clear (the
/// transport keys do not open them); session id 2 is NONE; numbered pns 1 … 2^63−1 are
/// sequenced, 2^63 + u is shown as "u<u>".  spec: neutrino-v3.md §3.2, §5, §10.2
[[nodiscard]] const protocol_description& neutrino_v3_description() noexcept;

/// The description of wire `version` (2 or 3), or nullptr.
[[nodiscard]] const protocol_description* neutrino_description(std::uint8_t version) noexcept;

}  // namespace neutrino::monitor
