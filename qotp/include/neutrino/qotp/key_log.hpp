#pragma once
/// \file
/// Key log lines in the SSLKEYLOGFILE style of the Go peer, so captures can be decrypted
/// offline: `QOTP_SHARED_SECRET <connid> <secret>` (S) and `QOTP_SHARED_SECRET_ID <connid>
/// <secret>` (S0). Formatting, parsing, and the sink through which the machines hand secrets
/// out as they learn them (`connection_config::key_log`); where lines go is the caller's
/// business: the machines do no I/O.
/// spec: qotp.md §19

#include <cstdint>
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

/// Where a connection reports a secret the moment it knows it, so that a key log line exists
/// before the first datagram sealed with that secret leaves `poll_datagram`. When (§19):
///
/// - S0 (`zero_rtt`): a 0-RTT initiator on construction; a responder when the InitCryptoSnd
///   that creates it arrives;
/// - S (`session`): an initiator on the first authentic InitRcv / InitCryptoRcv; a responder
///   when the initiating message that creates it arrives (after S0).
///
/// Each secret is reported once per connection (the Go peer repeats the line for re-sent
/// initiating messages; the lines would be identical). Rotated keys are not reported (§19).
/// Set it with `connection_config::key_log` (an endpoint passes its config to every
/// connection); it must outlive those connections. Called synchronously from inside the
/// machine's calls: it must not throw and must not call back into the machine.
class key_log_sink {
public:
    key_log_sink() = default;
    key_log_sink(const key_log_sink&) = default;
    key_log_sink& operator=(const key_log_sink&) = default;
    key_log_sink(key_log_sink&&) = default;
    key_log_sink& operator=(key_log_sink&&) = default;
    virtual ~key_log_sink() = default;

    /// One secret of one connection. `entry` lives for the call only.
    virtual void on_secret(const key_log_entry& entry) noexcept = 0;
};

/// A sink that keeps the §19 lines in memory until the caller takes them (e.g. to append them
/// to an SSLKEYLOGFILE-style file, or to embed them in a capture). The text is wiped when taken
/// over or destroyed. Not thread-safe.
class key_log_buffer final : public key_log_sink {
public:
    key_log_buffer() = default;
    key_log_buffer(const key_log_buffer&) = delete;
    key_log_buffer& operator=(const key_log_buffer&) = delete;
    key_log_buffer(key_log_buffer&&) = delete;
    key_log_buffer& operator=(key_log_buffer&&) = delete;
    ~key_log_buffer() override;

    /// Appends the line of `entry`. A line that cannot be stored (out of memory) is counted in
    /// `lost()`, never thrown.
    void on_secret(const key_log_entry& entry) noexcept override;

    /// The lines gathered since the last call (each ending in '\n'); the buffer is left empty.
    /// The string holds secrets: the caller wipes it.
    [[nodiscard]] std::string take();
    /// The lines gathered so far (not taken).
    [[nodiscard]] std::string_view text() const noexcept { return text_; }
    /// Lines that could not be stored.
    [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }

private:
    void wipe() noexcept;
    std::string text_;
    std::uint64_t lost_ = 0;
};

}  // namespace neutrino::qotp
