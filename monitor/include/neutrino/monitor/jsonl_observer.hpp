#pragma once
/// \file
/// `jsonl_observer`: a JSON-lines event log for machines (and for `neutrino-monitor report`).
/// One object per line, fields:
///
/// | field | meaning |
/// |---|---|
/// | `t` | steady-clock time of the event, nanoseconds (only differences matter) |
/// | `ev` | `send`, `recv`, `drop`, `state`, `lost`, `retr`, `rtt`, `cc` |
/// | `role` | `client` or `server` (`drop`/`state`: as learnt from packets, else absent) |
/// | `sid` | session id, 16 hex digits (a string: JSON numbers lose 64-bit precision) |
/// | `type`, `code` | packet type name and code (`send`, `recv`, `retr`) |
/// | `pn`, `kw`, `size`, `words` | packet number, keyword, size (wire when sent, decrypted when received), word count |
/// | `peer` | "address:port" |
/// | `reason` | `drop`: the error message |
/// | `from`, `to` | `state`: state names |
/// | `rtt_ns` | `rtt`: the sample |
/// | `cwnd`, `inflight`, `pacing`, `srtt_ns`, `min_rtt_ns`, `cc_state` | `cc`: congestion window and bytes in flight (bytes), pacing rate (bytes/s, 0: unpaced), smoothed and minimum RTT, the controller's state name |
///
/// Later layers' members as in `terminal_observer`. Copies share the file. Not thread-safe.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include "neutrino/core/observer.hpp"
#include "neutrino/monitor/describe.hpp"

namespace neutrino::monitor {

class jsonl_observer : public core::null_observer {
public:
    /// Creates (truncates) `path`. Throws `std::system_error` when it cannot.
    explicit jsonl_observer(const std::filesystem::path& path,
                            const protocol_description& protocol = neutrino_v2_description());
    /// Writes to `out` (not closed by the observer), e.g. stdout or a memstream.
    explicit jsonl_observer(std::FILE* out,
                            const protocol_description& protocol = neutrino_v2_description());

    void on_packet_received(const core::packet_info& info, time_point now);
    void on_packet_sent(const core::packet_info& info, time_point now);
    void on_dropped(std::error_code reason, const peer_address& from, std::size_t size,
                    time_point now);
    void on_session_state(std::uint64_t session_id, const peer_address& peer,
                          core::session_state from, core::session_state to, time_point now);
    void on_packet_lost(std::uint64_t session_id, core::role side, std::uint64_t packet_number,
                        time_point now);
    void on_packet_retransmitted(const core::packet_info& info, time_point now);
    void on_rtt_sample(std::uint64_t session_id, core::role side, duration rtt, time_point now);
    void on_congestion(std::uint64_t session_id, core::role side, const core::congestion_info& info,
                       time_point now);
    /// A refusal to protect a peer or the machine (core::refusal): counted per session.
    void on_refused(std::uint64_t session_id, core::role side, core::refusal what, const peer_address& peer,
                    time_point now);

    /// Flushes buffered lines to the file.
    void flush();

    struct state;

private:
    std::shared_ptr<state> s_;
};

}  // namespace neutrino::monitor
