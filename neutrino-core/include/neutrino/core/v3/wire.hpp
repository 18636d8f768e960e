#pragma once
/// \file
/// The v3 wire policy, `neutrino::core::wire::v3`, beside `wire::v2` (wire_v2.hpp): the members
/// the layers above see, mapped onto the v3 building blocks.  spec: neutrino-v3.md §16.1
///
/// | member | v3 |
/// |---|---|
/// | `version` | 3 |
/// | `max_payload_size` | 1238 |
/// | `first_packet_number(random)` | 1 (numbered space; HELLO3 is c2s pn 1) |
/// | `is_unnumbered(pn)` | pn ≥ 2^63 |
/// | `replay_window_size` | 2048, required, per direction and space (`core::v3::replay_guard`) |
/// | handshake | `core::v3::client_handshake` / `server_handshake` (Noise NK/IK) + cookie.hpp |
/// | `seal(...)` / `receive(...)` | pn-derived nonce, ChaCha20-Poly1305-IETF, AD = 22-byte prefix |
/// | key update | `core::v3::send_keys` / `receive_keys` (phase bit, §11) |
///
/// Not a drop-in for `core::basic_client<Wire>`: wire::v2's `seal`/`open` take one
/// `secret_key` and a pn inside the ciphertext, while v3 also needs the phase, the number
/// space and the replay guard. The v3 machines are therefore their own types,
/// `core::v3::basic_client` / `basic_server` (v3/client.hpp, v3/server.hpp), with the same
/// layer API as the v2 machines.

#include <cstddef>
#include <cstdint>

#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/cookie.hpp"
#include "neutrino/core/v3/handshake.hpp"
#include "neutrino/core/v3/packet_protection.hpp"
#include "neutrino/random.hpp"

namespace neutrino::core::wire {

/// The v3 wire (protocol version byte 3).
struct v3 {
    static constexpr std::uint8_t version = core::v3::protocol_version;
    static constexpr std::size_t tag_size = core::v3::tag_size;
    static constexpr std::size_t overhead = core::v3::prefix_size + core::v3::keyword_size + tag_size;  // 42
    static constexpr std::size_t max_payload_size = core::v3::max_payload_size;                         // 1238
    static constexpr std::size_t min_sealed_size = core::v3::min_transport_size;                         // 43
    static constexpr std::size_t replay_window_size = core::v3::replay_window_size;

    /// v3 numbering starts at 1 in each direction; nothing random.  spec: neutrino-v3.md §14.1
    template <random_source Random>
    [[nodiscard]] static constexpr std::uint64_t first_packet_number(Random&) noexcept {
        return 1;
    }
    /// Unnumbered pn fields are 2^63 + u.  spec: neutrino-v3.md §10.2
    [[nodiscard]] static constexpr bool is_unnumbered(std::uint64_t pn) noexcept {
        return pn >= core::v3::unnumbered_base;
    }
    /// The pn field of the u-th unnumbered packet (u ≥ 1).
    [[nodiscard]] static constexpr std::uint64_t unnumbered_pn(std::uint64_t u) noexcept {
        return core::v3::unnumbered_base + u;
    }

    /// Seals with the sender's current phase. See `core::v3::seal_transport`.
    [[nodiscard]] static result<std::size_t> seal(std::span<std::byte> out, core::v3::packet_type type,
                                                  std::uint64_t session_id, std::uint64_t pn_field,
                                                  std::uint32_t keyword, core::v3::bytes_view payload,
                                                  std::size_t pad_to, const core::v3::send_keys& tx) noexcept {
        return core::v3::seal_transport(out, type, tx.phase_bit(), session_id, pn_field, keyword, payload, pad_to,
                                        tx.key());
    }
    /// §10.5 steps 1–7. See `core::v3::receive_transport`.
    [[nodiscard]] static result<core::v3::opened_transport> receive(core::v3::bytes_view d, core::v3::role r,
                                                                    core::v3::receive_keys& rx,
                                                                    core::v3::replay_guard& window, time_point now,
                                                                    std::span<std::byte> scratch) noexcept {
        return core::v3::receive_transport(d, r, rx, window, now, scratch);
    }
};

}  // namespace neutrino::core::wire
