#pragma once
/// \file
/// Protocol constants of Neutrino (wire version 2).  spec: neutrino.md §3

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace neutrino::core {

inline constexpr std::uint32_t protocol_identifier = 0x5baa260cU;  // spec: neutrino.md §3.1
inline constexpr std::size_t clear_header_size = 14;
inline constexpr std::size_t protected_header_size = 12;
inline constexpr std::size_t total_header_size = clear_header_size + protected_header_size;
inline constexpr std::size_t max_datagram_size = 1280;
inline constexpr std::size_t max_payload_size = 1214;  // 1280 − 26 − 40
inline constexpr std::size_t max_words = 255;
inline constexpr std::size_t max_word_size = 65535;
inline constexpr std::size_t key_size = 32;

inline constexpr std::uint64_t session_id_none = 1;     // spec: neutrino.md §3.3
inline constexpr std::uint64_t session_id_pending = 2;  ///< marks the clear CLIENT_HELLO1
inline constexpr std::uint64_t min_session_id = 64;
inline constexpr std::uint64_t packet_number_none = 1;     ///< REQUEST_RETRANSMISSION
inline constexpr std::uint64_t packet_number_pending = 2;  ///< CLIENT_HELLO1
inline constexpr std::uint64_t min_initial_packet_number = 64;
inline constexpr std::uint64_t max_initial_packet_number = 2147483647;  // 2^31 − 1
/// Peer packet numbers a session's replay window spans below the newest one accepted. v2 names
/// no size (spec: neutrino.md §18.1 item 3 suggests "e.g. 1024"), so it is a receiver's choice,
/// invisible on the wire. A layered dialect repairs a hole as far behind the newest packet as
/// its receive window reaches, and a retransmission older than the replay window is dropped as
/// a replay: with 1024, a reliable session whose window held more (3 BDP on a 100 Mbit/s x
/// 200 ms path: ~7500 packets) lost every hole more than 1024 packets old and ended with
/// unrecoverable_loss (issue 13). 8192 numbers (1 KB of bits; a core session grows from about
/// 0.3 to 1.2 KB) cover that path's window (3 BDP of 1200-byte messages: 6250), not every path:
/// the reliable layer caps its receive window here, and a sender beyond it is dropped and
/// recovered (beyond_window), not lost.
inline constexpr std::size_t replay_window_size = 8192;

/// Packet type codes.  spec: neutrino.md §3.2
enum class packet_type : std::uint8_t {
    client_hello1 = 0x01,
    server_hello2 = 0x02,
    client_hello3 = 0x03,
    keep_alive = 0x04,
    client_good_bye = 0x05,
    server_shutdown = 0x06,
    request_retransmission = 0x21,
    data = 0x47,
};

/// The reference's name of a packet type ("DATA", "CLIENT_HELLO1", ...), "UNKNOWN" otherwise.
[[nodiscard]] constexpr std::string_view to_string(packet_type t) noexcept {
    switch (t) {
        case packet_type::client_hello1: return "CLIENT_HELLO1";
        case packet_type::server_hello2: return "SERVER_HELLO2";
        case packet_type::client_hello3: return "CLIENT_HELLO3";
        case packet_type::keep_alive: return "KEEP_ALIVE";
        case packet_type::client_good_bye: return "CLIENT_GOOD_BYE";
        case packet_type::server_shutdown: return "SERVER_SHUTDOWN";
        case packet_type::request_retransmission: return "REQUEST_RETRANSMISSION";
        case packet_type::data: return "DATA";
    }
    return "UNKNOWN";
}

/// Timers of the reference; peers depend on them.  spec: neutrino.md §3.4
struct timing {
    std::chrono::milliseconds pending_timeout{250};
    std::chrono::milliseconds established_timeout{1500};
    std::chrono::milliseconds ending_timeout{2000};
    std::chrono::milliseconds keep_alive_idle{475};  ///< 500 − 25, spec: neutrino.md §11.1
    std::chrono::milliseconds redial_after_expiry{1000};
    std::chrono::milliseconds redial_interval{3000};
};

/// Why a server session ended.  spec: neutrino.md §3.5 (server side)
enum class server_close_reason : std::uint8_t {
    client_good_bye = 1,
    server_refused = 2,
    client_timeout = 3,
    protocol_violation = 4,
    server_shutdown = 5,  ///< ours: the local server shut down
};

/// Why a client session ended.  spec: neutrino.md §3.5 (client side)
enum class client_close_reason : std::uint8_t {
    client_good_bye = 1,
    server_timeout = 2,
    server_shutdown = 3,
    protocol_violation = 4,
};

}  // namespace neutrino::core
