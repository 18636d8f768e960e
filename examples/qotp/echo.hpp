#pragma once
// What qotp_server and qotp_client share (examples only, not the library): the driver type, the
// key log option, and moving bytes through a qotp::connection's stream 0.
//
// Both programs run a sans-IO `qotp::endpoint` on the project's Asio driver,
// `io::endpoint<qotp::endpoint, io::udp_socket>`. qotp declares no `io::application_traits`,
// so they use the driver's lower-level paths: `layer()` for connect/send/read and
// `set_event_handler` for the endpoint's `accepted`/`closed` events. The endpoint does not
// report a connection's `readable` events, so the programs look for data on a 1 ms timer.

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "neutrino/io/endpoint.hpp"
#include "neutrino/io/udp_socket.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/qotp/connection.hpp"
#include "neutrino/qotp/endpoint.hpp"

namespace neutrino::examples::qotp_echo {

/// The driver both programs use.
using driver = io::endpoint<qotp::endpoint, io::udp_socket>;

inline constexpr const char* keylog_help =
    "append the secrets of every connection to FILE as QOTP_SHARED_SECRET[_ID] <connid> <secret> "
    "lines (spec qotp.md §19), for neutrino-monitor decrypt and tools/wireshark/qotp.lua";

/// The --keylog sink: `monitor::qotp_key_log_sink` over a `key_log_writer` of FILE, or nothing
/// when FILE is empty. Throws std::system_error when the file cannot be opened.
class keylog {
public:
    explicit keylog(const std::string& path) {
        if (path.empty()) return;
        sink_.emplace(std::make_shared<monitor::key_log_writer>(path));
    }
    /// For `connection_config::key_log`: null without --keylog.
    [[nodiscard]] qotp::key_log_sink* sink() noexcept { return sink_ ? &*sink_ : nullptr; }
    /// Lines that could not be written.
    [[nodiscard]] std::uint64_t lost() const noexcept { return sink_ ? sink_->lost() : 0; }

private:
    std::optional<monitor::qotp_key_log_sink> sink_;
};

/// Hands as much of `data` (from `sent` on) to the connection as its send buffer takes.
inline void send_some(qotp::connection& c, std::span<const std::byte> data, std::size_t& sent) {
    if (sent >= data.size()) return;
    if (const auto n = c.send(data.subspan(sent))) sent += *n;
}

/// Appends every delivered byte to `into`; returns how many.
inline std::size_t read_all(qotp::connection& c, std::vector<std::byte>& into) {
    std::array<std::byte, 4096> chunk{};
    std::size_t total = 0;
    while (const std::size_t n = c.read(chunk)) {
        into.insert(into.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        total += n;
    }
    return total;
}

/// A connection id as the key log writes it (lowercase hex of the little-endian u64).
inline std::string id_text(qotp::connection_id id) { return fmt::format("{:x}", id.value); }

}  // namespace neutrino::examples::qotp_echo
