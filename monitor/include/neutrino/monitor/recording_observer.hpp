#pragma once
/// \file
/// `recording_observer`: records every datagram a layer sends and receives into a pcapng
/// capture, with the real UDP payload and addresses (sent: local → peer; received: peer →
/// local), and, opt-in, the sessions' keys: into a key log file and/or as Decryption Secrets
/// Blocks in the capture itself, so that one file carries everything `neutrino-monitor decrypt`
/// needs. Works the same on sockets, memory links and simulators.
///
/// Copies share the writer (the layer takes its observer by value). Several observers (a
/// client's and a server's) may share one writer, each on its own interface. Not thread-safe.
/// Per packet it costs one buffered copy into the writer and no allocation once warm.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "neutrino/core/observer.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"

namespace neutrino::monitor {

struct recording_options {
    peer_address local;                 ///< this side's address (source of what it sends)
    std::string interface_name = "neutrino";
    bool record_sent = true;
    bool record_received = true;        ///< every datagram received, accepted or not
    bool embed_keys = false;            ///< session keys as Decryption Secrets Blocks
    std::shared_ptr<key_log_writer> key_log;  ///< also write keys here (may be null)
};

class recording_observer : public core::null_observer {
public:
    /// Adds an interface named `options.interface_name` to `writer` (which may be null: then
    /// only the key log is written).
    recording_observer(std::shared_ptr<pcapng_writer> writer, recording_options options);

    void on_datagram_received(std::span<const std::byte> wire, const peer_address& from,
                              time_point now);
    void on_packet_sent(const core::packet_info& info, time_point now);
    /// A retransmission is recorded as sent (v3 may have re-sealed it under a newer key phase).
    void on_packet_retransmitted(const core::packet_info& info, time_point now);
    /// v2 keys get `NEUTRINO2_*` lines; keys that follow a v3 handshake hash get
    /// `NEUTRINO3_HANDSHAKE_HASH` and `NEUTRINO3_{C2S,S2C}_0` lines (neutrino-v3.md §16.3).
    void on_session_keys(std::uint64_t session_id, core::role side, const core::session_keys& keys,
                         time_point now);
    void on_handshake_hash(std::uint64_t session_id, core::role side,
                           std::span<const std::byte> hash, time_point now);

    [[nodiscard]] const std::shared_ptr<pcapng_writer>& writer() const noexcept { return writer_; }

private:
    std::shared_ptr<pcapng_writer> writer_;
    std::shared_ptr<const recording_options> options_;
    std::shared_ptr<std::optional<std::uint64_t>> v3_session_;  ///< hash seen, keys not yet
    std::uint32_t interface_ = 0;
};

}  // namespace neutrino::monitor
