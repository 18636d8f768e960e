#pragma once
/// \file
/// Key logs, NSS style: one `LABEL <session-id hex> <secret hex>` line per secret. For Neutrino
/// v2 the labels are `NEUTRINO2_C2S` (what the client sends: the client's tx, the server's rx)
/// and `NEUTRINO2_S2C`. For v3 (neutrino-v3.md §16.3) they are `NEUTRINO3_HANDSHAKE_HASH` (the
/// final Noise hash h, 64 bytes, not secret), `NEUTRINO3_C2S_0` and `NEUTRINO3_S2C_0` (the
/// phase-0 keys; later phases follow by REKEY, §11.1). Only per-session secrets are ever
/// written, never long-term keys. Opt-in: `NEUTRINO_KEYLOGFILE` or an explicit path.
///
/// Which labels a session gets: the v3 machines report the handshake hash
/// (`on_handshake_hash`) before the keys, so the observers here write v3 labels for the keys of
/// a session whose hash they have just seen, and v2 labels otherwise.
///
/// QOTP (qotp.md §19): `QOTP_SHARED_SECRET <connid> <S>` and `QOTP_SHARED_SECRET_ID <connid>
/// <S0>`, as the Go peer and the qotp machines (`qotp::key_log_sink`) write them. One file may
/// hold lines of both protocols; `key_log` keeps QOTP secrets apart, by connection id, and
/// `qotp_key_log_sink` writes a qotp endpoint's lines to a `key_log_writer`.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/core/crypto.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/qotp/key_log.hpp"

namespace neutrino::monitor {

inline constexpr std::string_view key_label_c2s = "NEUTRINO2_C2S";
inline constexpr std::string_view key_label_s2c = "NEUTRINO2_S2C";
inline constexpr std::string_view key_label_v3_hash = "NEUTRINO3_HANDSHAKE_HASH";
inline constexpr std::string_view key_label_v3_c2s = "NEUTRINO3_C2S_0";
inline constexpr std::string_view key_label_v3_s2c = "NEUTRINO3_S2C_0";
inline constexpr std::size_t handshake_hash_size = 64;

/// The secrets of one session, by direction.
struct session_secrets {
    std::uint8_t wire_version = 2;        ///< 3 when the lines were NEUTRINO3_*
    std::optional<core::secret_key> c2s;  ///< seals client → server (v3: phase 0)
    std::optional<core::secret_key> s2c;  ///< seals server → client (v3: phase 0)
    std::optional<std::array<std::byte, handshake_hash_size>> handshake_hash;  ///< v3
};

/// The secrets of one QOTP connection (qotp.md §19). A connection id may carry more than one
/// of each (the Go peer logs S again for a re-sent InitSnd, possibly with another key, §20.1;
/// ids may repeat across captures): all are tried, in the order logged, at most
/// `max_qotp_secrets` each.
struct qotp_secrets {
    std::vector<qotp::shared_secret> session;   ///< S: InitRcv, InitCryptoRcv, Data
    std::vector<qotp::shared_secret> zero_rtt;  ///< S0: InitCryptoSnd
};
inline constexpr std::size_t max_qotp_secrets = 16;

/// The key-log lines (with '\n') for a session's keys as reported by side `side`, with the
/// labels of wire `version` (2, or 3 for the phase-0 keys).
[[nodiscard]] std::string key_log_lines(std::uint64_t session_id, core::role side,
                                        const core::session_keys& keys,
                                        std::uint8_t version = 2);
/// The `NEUTRINO3_HANDSHAKE_HASH` line (with '\n') of a v3 session.
[[nodiscard]] std::string handshake_hash_line(std::uint64_t session_id,
                                              std::span<const std::byte> hash);

/// A parsed key log: secrets by session id.
class key_log {
public:
    /// Adds the lines of `text`. Lines that are empty, comments (`#`) or carry unknown labels
    /// are ignored (NSS files mix protocols); malformed Neutrino and QOTP lines are described
    /// in `problems` (with their line number) and skipped, as are QOTP secrets beyond
    /// `max_qotp_secrets` for one connection id.
    void parse(std::string_view text, std::vector<std::string>* problems = nullptr);
    /// Reads and parses a file. Throws `std::system_error` when it cannot be read.
    void load(const std::filesystem::path& path, std::vector<std::string>* problems = nullptr);

    [[nodiscard]] const session_secrets* find(std::uint64_t session_id) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return sessions_.size(); }
    /// The QOTP secrets of connection id `id` (the u64 of §4.8), or null.
    [[nodiscard]] const qotp_secrets* find_qotp(std::uint64_t id) const noexcept;
    /// QOTP connection ids with secrets.
    [[nodiscard]] std::size_t qotp_size() const noexcept { return qotp_.size(); }

private:
    bool add_qotp(std::string_view line, std::size_t number, std::vector<std::string>* problems);
    std::map<std::uint64_t, session_secrets> sessions_;
    std::map<std::uint64_t, qotp_secrets> qotp_;
};

/// Appends key-log lines to a file, flushed at once (keys are rare and must survive a crash).
/// Not thread-safe.
class key_log_writer {
public:
    /// Opens `path` for appending. Throws `std::system_error` when it cannot.
    explicit key_log_writer(const std::filesystem::path& path);
    ~key_log_writer();
    key_log_writer(const key_log_writer&) = delete;
    key_log_writer& operator=(const key_log_writer&) = delete;

    /// A writer for `$NEUTRINO_KEYLOGFILE`, or null when the variable is unset or empty.
    [[nodiscard]] static std::shared_ptr<key_log_writer> from_environment();

    /// Writes a session's keys, with v3 labels when `session_id`'s handshake hash was the
    /// last one written here (see the file comment).
    void write(std::uint64_t session_id, core::role side, const core::session_keys& keys);
    /// Writes a v3 session's `NEUTRINO3_HANDSHAKE_HASH` line.
    void write_handshake_hash(std::uint64_t session_id, std::span<const std::byte> hash);
    /// Writes one QOTP line (qotp.md §19).
    void write_qotp(const qotp::key_log_entry& entry);

private:
    void put(std::string& text);
    std::FILE* file_ = nullptr;
    std::optional<std::uint64_t> v3_session_;  ///< hash written, keys not yet
};

/// An observer that only writes the key log (to give a layer a key log and nothing else).
class key_log_observer : public core::null_observer {
public:
    explicit key_log_observer(std::shared_ptr<key_log_writer> w) noexcept : writer_(std::move(w)) {}
    void on_session_keys(std::uint64_t sid, core::role side, const core::session_keys& keys,
                         time_point) {
        if (writer_) writer_->write(sid, side, keys);
    }
    void on_handshake_hash(std::uint64_t sid, core::role, std::span<const std::byte> hash,
                           time_point) {
        if (writer_) writer_->write_handshake_hash(sid, hash);
    }

private:
    std::shared_ptr<key_log_writer> writer_;
};

/// A qotp key log sink (`qotp::connection_config::key_log`) that writes the §19 lines to a
/// `key_log_writer`, e.g. the one of `$NEUTRINO_KEYLOGFILE`, next to Neutrino's lines. A line
/// that cannot be written is dropped (the sink must not throw) and counted in `lost()`.
class qotp_key_log_sink final : public qotp::key_log_sink {
public:
    explicit qotp_key_log_sink(std::shared_ptr<key_log_writer> w) noexcept
        : writer_(std::move(w)) {}
    void on_secret(const qotp::key_log_entry& entry) noexcept override;
    [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }

private:
    std::shared_ptr<key_log_writer> writer_;
    std::uint64_t lost_ = 0;
};

}  // namespace neutrino::monitor
