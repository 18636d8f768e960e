#pragma once
/// \file
/// `terminal_observer`: the live view. One line per event, in the spirit of the reference's
/// Monitoring mixin (spec neutrino.md §16.2): role, tag (SEND, RECV, DROP, DUPLIC, STATUS,
/// RETR, LOST), time since the observer started, packet type name and code, session id, size
/// (wire size when sent, decrypted size when received), packet number, keyword and up to 8
/// words, each cut to 16+16 characters around "...". Filters by event kind, packet type and
/// session; colour only on a terminal. Once per `summary_interval` (checked on each event, or
/// when the driver calls `tick`), a STATS line per active session: datagrams and bytes per
/// second each way, loss estimated from packet-number gaps, retransmissions, RTT when a layer
/// reports samples.
///
/// Besides the core observer members it takes what later layers report:
/// `on_packet_lost(session_id, side, packet_number, now)`,
/// `on_packet_retransmitted(info, now)` and `on_rtt_sample(session_id, side, rtt, now)`.
///
/// Copies share their state (the layer takes its observer by value). Not thread-safe.
/// Formats into a reused buffer; not meant for the hot path of a throughput run.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "neutrino/core/observer.hpp"
#include "neutrino/monitor/describe.hpp"

namespace neutrino::monitor {

/// Event kinds, as bits for `terminal_options::events`.
enum class event_kind : std::uint32_t {
    send = 1U << 0,
    recv = 1U << 1,
    drop = 1U << 2,  ///< includes DUPLIC (replayed)
    state = 1U << 3,
    retransmit = 1U << 4,
    lost = 1U << 5,
    summary = 1U << 6,
};

struct terminal_options {
    std::FILE* out = stdout;
    enum class colour_mode : std::uint8_t { automatic, always, never };
    colour_mode colour = colour_mode::automatic;  ///< automatic: only when `out` is a TTY
    std::uint32_t events = 0x7F;          ///< bitwise or of `event_kind`s to show
    std::vector<std::uint8_t> types;      ///< packet type codes to show; empty: all
    std::vector<std::uint64_t> sessions;  ///< session ids to show; empty: all
    std::chrono::milliseconds summary_interval{1000};
    std::size_t max_words = 8;
    std::size_t word_cut = 16;  ///< words longer than 2 × this show head...tail
    const protocol_description* protocol = &neutrino_v2_description();
};

/// Applies a filter spec such as `"types=DATA,KEEP_ALIVE events=send,recv session=1f2e"`
/// (space-separated; types by name or code, sessions in hex; events: send recv drop state retr
/// lost summary). Returns an empty string, or what is wrong with the spec.
[[nodiscard]] std::string apply_filter(std::string_view spec, terminal_options& options);

class terminal_observer : public core::null_observer {
public:
    explicit terminal_observer(terminal_options options = {});

    void on_datagram_received(std::span<const std::byte> wire, const peer_address& from,
                              time_point now);
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
    /// A refusal to protect a peer or the machine (core::refusal): counted per session.
    void on_refused(std::uint64_t session_id, core::role side, core::refusal what, const peer_address& peer,
                    time_point now);

    /// Prints the summary lines if an interval has passed (for drivers with a timer).
    void tick(time_point now);

    struct state;

private:
    std::shared_ptr<state> s_;
};

}  // namespace neutrino::monitor
