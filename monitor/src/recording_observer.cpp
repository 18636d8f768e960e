#include "neutrino/monitor/recording_observer.hpp"

#include <sodium.h>

namespace neutrino::monitor {

recording_observer::recording_observer(std::shared_ptr<pcapng_writer> writer,
                                       recording_options options)
    : writer_(std::move(writer)),
      options_(std::make_shared<const recording_options>(std::move(options))),
      v3_session_(std::make_shared<std::optional<std::uint64_t>>()) {
    if (writer_) interface_ = writer_->add_interface(options_->interface_name);
}

void recording_observer::on_datagram_received(std::span<const std::byte> wire,
                                              const peer_address& from, time_point now) {
    if (writer_ && options_->record_received) {
        writer_->write_udp(interface_, now, from, options_->local, wire);
    }
}

void recording_observer::on_packet_sent(const core::packet_info& info, time_point now) {
    if (writer_ && options_->record_sent) {
        writer_->write_udp(interface_, now, options_->local, info.peer, info.wire);
    }
}

void recording_observer::on_packet_retransmitted(const core::packet_info& info, time_point now) {
    on_packet_sent(info, now);
}

void recording_observer::on_handshake_hash(std::uint64_t session_id, core::role,
                                           std::span<const std::byte> hash, time_point) {
    *v3_session_ = session_id;
    if (options_->key_log) options_->key_log->write_handshake_hash(session_id, hash);
    if (writer_ && options_->embed_keys) {
        const std::string line = handshake_hash_line(session_id, hash);
        writer_->write_secrets(pcapng::secrets_neutrino_key_log,
                               std::as_bytes(std::span(line.data(), line.size())));
    }
}

void recording_observer::on_session_keys(std::uint64_t session_id, core::role side,
                                         const core::session_keys& keys, time_point) {
    const bool v3 = *v3_session_ == session_id;
    v3_session_->reset();
    if (options_->key_log) options_->key_log->write(session_id, side, keys);
    if (writer_ && options_->embed_keys) {
        std::string lines = key_log_lines(session_id, side, keys, v3 ? 3 : 2);
        writer_->write_secrets(pcapng::secrets_neutrino_key_log,
                               std::as_bytes(std::span(lines.data(), lines.size())));
        sodium_memzero(lines.data(), lines.size());
    }
}

}  // namespace neutrino::monitor
