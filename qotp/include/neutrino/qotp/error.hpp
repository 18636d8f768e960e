#pragma once
/// \file
/// Error codes of neutrino-qotp, the coarser conditions they belong to, and `qotp::result<T>`.
/// qotp depends on neutrino-base only (not on neutrino-core's wire).

#include <string>
#include <system_error>
#include <type_traits>

#include "neutrino/condition.hpp"
#include "neutrino/result.hpp"

namespace neutrino::qotp {

/// Every way the stateless layer rejects input or refuses a call. Nothing here throws.
enum class errc {
    // malformed input (drop, count)
    datagram_too_short = 1,  ///< below 42 bytes, or below the minimum of its message type (§4.6)
    bad_version,             ///< low 5 bits of the type byte are not 0 (§3)
    bad_message_type,        ///< type 5, 6 or 7 (§3)
    unexpected_message,      ///< a valid type, but not the one the caller asked for
    bad_filler,              ///< InitCryptoSnd filler length beyond the plaintext (§4.2)
    payload_too_short,       ///< transport payload below 4 bytes (§9.5)
    payload_truncated,       ///< an ACK block, key or stream header cut short (§9.5)
    trailing_bytes,          ///< bytes after the last block of a payload without a stream (§9.5)
    bad_key_log_line,        ///< not a `QOTP_SHARED_SECRET[_ID] <connid> <secret>` line (§19)
    // unauthenticated input
    decryption_failed,  ///< no candidate secret opens the datagram (§6.4)
    low_order_key,      ///< X25519 output all zero: low-order peer key (§2, §6.4)
    // too large
    payload_too_large,  ///< the payload does not fit the message (InitCryptoSnd: 1143 bytes)
    offset_too_large,   ///< a stream or ACK offset above 2^48 − 1 (§9.3)
    // API misuse
    buffer_too_small,       ///< the output span cannot hold the encoding
    bad_key,                ///< key text malformed (64 hex characters, optional 0x)
    bad_stream_id,          ///< a stream id above 2^31 − 1 (§11)
    missing_stream_header,  ///< a payload that §9.4 requires a stream header for has none
    sequence_exhausted,     ///< the 48-bit send counter is used up (§6.5, §8)
    // Connection and endpoint (connection.hpp, endpoint.hpp):
    replayed,                ///< an authentic packet already received (replay window, 0-RTT cache)
    handshake_timeout,       ///< init message re-sent 5 times without an answer (§7.3)
    retransmission_timeout,  ///< a data packet sent 6 times without an ACK (§13.3)
    key_update_timeout,      ///< KU re-attached 5 times without a KUA (§8)
    rotation_not_completed,  ///< the send counter reached the rotation deadline without a KUA (§8)
    idle_timeout,            ///< nothing received for the idle timeout (§17)
    unknown_connection,      ///< no connection has this id (§4.8)
    connection_exists,       ///< an init message for a live connection id with other keys (§24.3)
    connection_limit,        ///< the endpoint's connection or half-open limit is reached
    connection_closed,       ///< the connection has failed or been closed
};

/// Coarse groups of `errc`: the conditions every module shares (neutrino/condition.hpp).
using neutrino::condition;

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// `result<T>` and `fail(errc)` are the shared ones (neutrino/result.hpp).
using neutrino::fail;
using neutrino::result;

}  // namespace neutrino::qotp

template <>
struct std::is_error_code_enum<neutrino::qotp::errc> : std::true_type {};
