#pragma once
/// \file
/// Constants of Neutrino wire version 3.  spec: neutrino-v3.md §3.2, §5, §10.2

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace neutrino::core::v3 {

inline constexpr std::uint32_t protocol_identifier = 0x5baa260cU;  // spec: neutrino-v3.md §3.2
inline constexpr std::uint8_t protocol_version = 3;
inline constexpr std::size_t clear_header_size = 14;
inline constexpr std::size_t pn_field_size = 8;
inline constexpr std::size_t prefix_size = clear_header_size + pn_field_size;  ///< 22: the AD
inline constexpr std::size_t tag_size = 16;
inline constexpr std::size_t keyword_size = 4;
inline constexpr std::size_t max_datagram_size = 1280;
/// 1238 = 1280 − 22 − 4 − 16
inline constexpr std::size_t max_payload_size = max_datagram_size - prefix_size - keyword_size - tag_size;
/// 43 = 22 + 4 + 1 (empty u8 word list) + 16
inline constexpr std::size_t min_transport_size = prefix_size + keyword_size + 1 + tag_size;

inline constexpr std::size_t hello1_size = 1280;  // spec: neutrino-v3.md §4.2
inline constexpr std::size_t prologue_size = 16;
inline constexpr std::size_t mac_size = 16;
inline constexpr std::size_t mac1_offset = 1248;
inline constexpr std::size_t mac2_offset = 1264;
inline constexpr std::size_t hello2_size = 78;        // spec: neutrino-v3.md §4.3
inline constexpr std::size_t cookie_reply_size = 70;  // spec: neutrino-v3.md §4.4
inline constexpr std::size_t cookie_size = 16;
inline constexpr std::size_t cookie_nonce_size = 24;

inline constexpr std::size_t offer_size = 8;    // spec: neutrino-v3.md §9.1
inline constexpr std::size_t answer_size = 16;  // spec: neutrino-v3.md §9.2

inline constexpr std::uint64_t session_id_none = 2;  ///< handshake packets without a session
inline constexpr std::uint64_t min_session_id = 64;
inline constexpr std::uint8_t key_phase_bit = 0x80;
inline constexpr std::uint8_t type_code_mask = 0x7f;
inline constexpr std::uint64_t unnumbered_base = std::uint64_t{1} << 63;  // spec: neutrino-v3.md §10.2
inline constexpr std::size_t replay_window_size = 2048;                   // spec: neutrino-v3.md §10.3

inline constexpr std::string_view label_mac1 = "neutrino-v3 mac1";      // 16 bytes
inline constexpr std::string_view label_cookie = "neutrino-v3 cookie";  // 18 bytes
inline constexpr std::string_view noise_nk_name = "Noise_NK_25519_ChaChaPoly_BLAKE2b";
inline constexpr std::string_view noise_ik_name = "Noise_IK_25519_ChaChaPoly_BLAKE2b";

/// Type codes (bits 0–6 of the type byte).  spec: neutrino-v3.md §5
enum class packet_type : std::uint8_t {
    client_hello1 = 0x01,
    server_hello2 = 0x02,
    client_hello3 = 0x03,
    keep_alive = 0x04,
    client_good_bye = 0x05,
    server_shutdown = 0x06,
    cookie_reply = 0x07,
    path_challenge = 0x08,
    path_response = 0x09,
    request_retransmission = 0x21,
    data = 0x47,
};

/// The two packet-number spaces of a direction.  spec: neutrino-v3.md §10.2
enum class pn_space : std::uint8_t { numbered, unnumbered };

/// Who receives a datagram (decides which transport types are acceptable, §5, §10.5 step 3).
enum class role : std::uint8_t { client, server };

/// True for the transport types (everything except HELLO1, HELLO2, COOKIE_REPLY).
[[nodiscard]] constexpr bool is_transport_type(std::uint8_t code) noexcept {
    switch (code) {
        case 0x03: case 0x04: case 0x05: case 0x06: case 0x08: case 0x09: case 0x21: case 0x47:
            return true;
        default: return false;
    }
}

/// The space a transport type uses; precondition `is_transport_type(code)`.
[[nodiscard]] constexpr pn_space space_of(packet_type t) noexcept {
    switch (t) {
        case packet_type::path_challenge:
        case packet_type::path_response:
        case packet_type::request_retransmission: return pn_space::unnumbered;
        default: return pn_space::numbered;
    }
}

/// True when a receiver of role `r` may get transport type `code` (spec §5 "dir" column);
/// anything else is dropped before authentication (§10.5 step 3).
[[nodiscard]] constexpr bool receivable_by(role r, std::uint8_t code) noexcept {
    switch (code) {
        case 0x04: case 0x21: case 0x47: return true;  // both directions
        case 0x03: case 0x05: case 0x09: return r == role::server;  // c→s
        case 0x06: case 0x08: return r == role::client;             // s→c
        default: return false;
    }
}

/// True when `pn_field` lies in `space`: numbered 1 … 2^63−1, unnumbered 2^63+1 … 2^64−2
/// (0, 2^63 and 2^64−1, REKEY's nonce, are never sent).  spec: neutrino-v3.md §10.1, §10.2
[[nodiscard]] constexpr bool in_space(std::uint64_t pn_field, pn_space space) noexcept {
    if (space == pn_space::numbered) return pn_field >= 1 && pn_field < unnumbered_base;
    return pn_field > unnumbered_base && pn_field != ~std::uint64_t{0};
}

/// The counter inside a space: the pn itself (numbered) or `pn_field − 2^63` (unnumbered).
[[nodiscard]] constexpr std::uint64_t counter_of(std::uint64_t pn_field) noexcept {
    return pn_field >= unnumbered_base ? pn_field - unnumbered_base : pn_field;
}

}  // namespace neutrino::core::v3
