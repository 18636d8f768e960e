#pragma once
/// \file
/// Error codes of neutrino-core and the coarser conditions they belong to.

#include <string>
#include <system_error>
#include <type_traits>

#include "neutrino/condition.hpp"

namespace neutrino::core {

/// Every way a datagram can be rejected and every way the API can refuse a call.
/// Drop reasons are reported to the observer and counted; none of them throws.
enum class errc {
    // malformed input (dropped, counted)
    datagram_too_short = 1,   ///< fewer than 26 bytes, or an encrypted type too short for a tag
    datagram_too_large,       ///< more than 1280 bytes
    bad_protocol_identifier,  ///< not 0x5baa260c
    bad_version,              ///< not the version this wire policy speaks
    bad_packet_type,          ///< not a type of this dialect
    bad_session_id,           ///< 0, 1 or 3..63
    malformed_payload,        ///< word framing invalid
    bad_hello,                ///< a CLIENT_HELLO1 that fails its checks
    bad_shape,                ///< word count/sizes not allowed for this packet type
    // unauthenticated input
    decryption_failed,  ///< AEAD rejected the datagram
    unknown_session,    ///< no session with this id
    wrong_peer,         ///< from an address this session does not talk to
    low_order_key,      ///< key exchange failed (low-order public key)
    // replays and state
    replayed,             ///< packet number already seen or older than the replay window
    unexpected_packet,    ///< a type not allowed in the session's current state
    rate_limited,         ///< handshake rate or table limit reached
    session_limit,        ///< too many sessions (per host or in total)
    refused,              ///< the application refused the session
    // API misuse
    payload_too_large,  ///< the encoded words exceed the maximum payload size
    too_many_words,     ///< more than 255 words
    word_too_large,     ///< a word longer than 65535 bytes
    bad_key,            ///< key material malformed (hex, length)
    not_connected,      ///< no established session
    draining,           ///< the server shut down; sending is refused
    would_block,        ///< the send queue is full; try again after poll_datagram
    // session outcomes
    timed_out,           ///< the peer stopped answering
    closed,              ///< the session was closed
    protocol_violation,  ///< an authenticated peer broke the protocol
    outside_window,      ///< a packet number beyond what the receiver can buffer
    // address validation  spec: neutrino.md §18.1 items 4-5, RFC 9000 §8
    // 30 was unrecoverable_loss, now reliable::errc's: the numbers below stay as they were
    amplification_limited = 31,  ///< refused: the address is not validated and its 3× budget is spent
    path_not_validated,     ///< the peer moved to an address it never validated, and the
                            ///< validated one fell silent
};

/// Coarse groups of `errc`: the conditions every module shares (neutrino/condition.hpp), so
/// `core::condition::timed_out` is `neutrino::condition::timed_out`.
using neutrino::condition;

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace neutrino::core

template <>
struct std::is_error_code_enum<neutrino::core::errc> : std::true_type {};
