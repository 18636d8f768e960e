#pragma once
/// \file
/// Key logs, NSS style: one `LABEL <session-id hex> <secret hex>` line per secret. For Neutrino
/// v2 the labels are `NEUTRINO2_C2S` (what the client sends: the client's tx, the server's rx)
/// and `NEUTRINO2_S2C`. Only per-session secrets are ever written, never long-term keys.
/// Opt-in: `NEUTRINO_KEYLOGFILE` or an explicit path.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/core/crypto.hpp"
#include "neutrino/core/observer.hpp"

namespace neutrino::monitor {

inline constexpr std::string_view key_label_c2s = "NEUTRINO2_C2S";
inline constexpr std::string_view key_label_s2c = "NEUTRINO2_S2C";

/// The secrets of one session, by direction.
struct session_secrets {
    std::optional<core::secret_key> c2s;  ///< seals client → server
    std::optional<core::secret_key> s2c;  ///< seals server → client
};

/// The key-log lines (with '\n') for a session's keys as reported by side `side`.
[[nodiscard]] std::string key_log_lines(std::uint64_t session_id, core::role side,
                                        const core::session_keys& keys);

/// A parsed key log: secrets by session id.
class key_log {
public:
    /// Adds the lines of `text`. Lines that are empty, comments (`#`) or carry unknown labels
    /// are ignored (NSS files mix protocols); malformed Neutrino lines are described in
    /// `problems` (with their line number) and skipped.
    void parse(std::string_view text, std::vector<std::string>* problems = nullptr);
    /// Reads and parses a file. Throws `std::system_error` when it cannot be read.
    void load(const std::filesystem::path& path, std::vector<std::string>* problems = nullptr);

    [[nodiscard]] const session_secrets* find(std::uint64_t session_id) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return sessions_.size(); }

private:
    std::map<std::uint64_t, session_secrets> sessions_;
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

    void write(std::uint64_t session_id, core::role side, const core::session_keys& keys);

private:
    std::FILE* file_ = nullptr;
};

/// An observer that only writes the key log (to give a layer a key log and nothing else).
class key_log_observer : public core::null_observer {
public:
    explicit key_log_observer(std::shared_ptr<key_log_writer> w) noexcept : writer_(std::move(w)) {}
    void on_session_keys(std::uint64_t sid, core::role side, const core::session_keys& keys,
                         time_point) {
        if (writer_) writer_->write(sid, side, keys);
    }

private:
    std::shared_ptr<key_log_writer> writer_;
};

}  // namespace neutrino::monitor
