#pragma once
/// \file
/// Key log lines in the SSLKEYLOGFILE style of the Go peer, so captures can be decrypted
/// offline: `QOTP_SHARED_SECRET <connid> <secret>` (S) and `QOTP_SHARED_SECRET_ID <connid>
/// <secret>` (S0). Formatting and parsing only; where lines go is the caller's business.
/// spec: qotp.md §19

#include <string>
#include <string_view>

#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"

namespace neutrino::qotp {

/// Which secret a line holds.
enum class key_log_label {
    session,   ///< `QOTP_SHARED_SECRET`: S, the session secret
    zero_rtt,  ///< `QOTP_SHARED_SECRET_ID`: S0, the 0-RTT secret
};

/// One key log line, parsed.
struct key_log_entry {
    key_log_label label = key_log_label::session;
    connection_id id;
    shared_secret secret;
};

/// The label text of `label`.
[[nodiscard]] std::string_view key_log_label_text(key_log_label label) noexcept;

/// Appends one line, newline included: the label, the connection id as lowercase hex of its
/// little-endian u64 without leading zeros (Go `%x`), and the secret as 64 lowercase hex
/// characters. The string then holds a secret: the caller wipes or guards it.
void append_key_log_line(std::string& out, key_log_label label, connection_id id,
                         const shared_secret& secret);

/// Parses one line (a trailing "\n" or "\r\n" is allowed). The id takes 1 to 16 hex digits,
/// the secret exactly 64, either case; fields are separated by one space.
/// Error: `errc::bad_key_log_line`.
[[nodiscard]] result<key_log_entry> parse_key_log_line(std::string_view line) noexcept;

}  // namespace neutrino::qotp
