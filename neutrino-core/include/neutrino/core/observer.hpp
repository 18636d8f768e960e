#pragma once
/// \file
/// The observer policy: how every layer reports what it does (sent, received, dropped with a
/// reason, session state changes). The default, `null_observer`, compiles to nothing.
///
/// An observer is any type with these members (derive from `null_observer` and hide the ones
/// you need):
///
/// | member | called when |
/// |---|---|
/// | `on_datagram_received(wire, from, now)` | a datagram arrived, before any check (wire bytes as received) |
/// | `on_packet_received(info, now)` | a packet passed every check and was accepted |
/// | `on_packet_sent(info, now)` | a packet was sealed and queued; `info.wire` is the datagram |
/// | `on_dropped(reason, from, size, now)` | a datagram was rejected; nothing else changed |
/// | `on_session_state(session_id, peer, from, to, now)` | a session changed state |
///
/// Optional member, called only when the observer has it:
///
/// | member | called when |
/// |---|---|
/// | `on_session_keys(session_id, side, keys, now)` | a session's keys are in use (client: HELLO2 accepted; server: HELLO1 accepted). For key logs; `keys.rx`/`keys.tx` are the reporting side's directions. Long-term keys are never passed. |
/// | `on_packet_retransmitted(info, now)` | a stored datagram was queued again, byte for byte (`info.wire`; `info.packet_number` as the layer above knows it) |
/// | `on_rtt_sample(session_id, side, rtt, now)` | a layer above measured a round-trip time |
/// | `on_congestion(session_id, side, info, now)` | a layer above reports where its congestion controller stands (`congestion_info`: window, pacing rate, bytes in flight, RTT, controller state), at most about once per RTT |
/// | `on_refused(session_id, side, what, peer, now)` | a layer held something back to protect a peer or itself (`refusal`): a send to an unvalidated address over its 3× budget, a retransmission request over the request budget, a migration to an address that was never validated |
/// | `on_handshake_hash(session_id, side, hash, now)` | wire v3 only, before `on_session_keys` for the same session: the final Noise handshake hash `h` (64 bytes, not secret). For key logs (neutrino-v3.md §16.3); it also tells that the keys which follow are v3 phase-0 keys |
///
/// Observers must not call back into the machine that reports to them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core {

/// Where a layer's congestion controller stands, for observers (plain data: the layer and its
/// controller are the reporter's business, core only carries the figures).
struct congestion_info {
    std::size_t window = 0;           ///< congestion window, bytes
    double pacing_rate = 0.0;         ///< bytes per second; 0: unpaced
    std::size_t bytes_in_flight = 0;  ///< sent and not yet acknowledged, bytes
    duration smoothed_rtt{};
    duration min_rtt{};               ///< zero before a sample
    const char* state = "";           ///< the controller's state (e.g. BBR's "probe_bw_up"); static storage
};

/// Which side of the handshake a machine plays.
enum class role : std::uint8_t { client, server };

/// The life of a session.  spec: neutrino.md §10
enum class session_state : std::uint8_t {
    none,         ///< no session
    pending,      ///< handshake in progress (client: HELLO1 sent; server: HELLO2 sent)
    established,  ///< traffic may flow
    draining,     ///< client: the server shut down; still receiving, no longer sending
    closed,       ///< ended
};

/// What a layer refused to do, for `on_refused`.  spec: neutrino.md §18.1 items 4-5
enum class refusal : std::uint8_t {
    amplification_budget,  ///< a send to an unvalidated address would exceed 3× what it sent us
    request_budget,        ///< retransmission requests held back: the per-RTT budget is spent
    migration,             ///< a candidate address was abandoned without being validated
};

/// A short name for a refusal ("amplification_budget", …).
[[nodiscard]] constexpr const char* to_string(refusal r) noexcept {
    switch (r) {
        case refusal::amplification_budget: return "amplification_budget";
        case refusal::request_budget: return "request_budget";
        case refusal::migration: return "migration";
    }
    return "unknown";
}

/// What the observer learns about one packet.
struct packet_info {
    role side = role::client;  ///< the reporting machine's role
    packet_type type = packet_type::data;
    std::uint64_t session_id = 0;
    std::uint64_t packet_number = 0;
    std::uint32_t keyword = 0;
    words_view words;       ///< received: the decoded payload (views the machine's buffer)
    word_list sent_words;   ///< sent: the words as the application passed them
    std::span<const std::byte> wire;  ///< sent: the datagram; received: the decrypted packet
    peer_address peer;
};

/// The observer that observes nothing; also the base to derive partial observers from.
struct null_observer {
    void on_datagram_received(std::span<const std::byte>, const peer_address&, time_point) noexcept {}
    void on_packet_received(const packet_info&, time_point) noexcept {}
    void on_packet_sent(const packet_info&, time_point) noexcept {}
    void on_dropped(std::error_code, const peer_address&, std::size_t, time_point) noexcept {}
    void on_session_state(std::uint64_t, const peer_address&, session_state, session_state,
                          time_point) noexcept {}
};

template <class O>
concept observer = requires(O& o, std::span<const std::byte> wire, const peer_address& a,
                            const packet_info& info, std::error_code ec, time_point now) {
    o.on_datagram_received(wire, a, now);
    o.on_packet_received(info, now);
    o.on_packet_sent(info, now);
    o.on_dropped(ec, a, std::size_t{}, now);
    o.on_session_state(std::uint64_t{}, a, session_state::none, session_state::none, now);
};

static_assert(observer<null_observer>);

/// Reports a session's keys to an observer that wants them (see the table above).
template <class O>
void report_session_keys(O& o, std::uint64_t session_id, role side, const session_keys& keys,
                         time_point now) {
    if constexpr (requires { o.on_session_keys(session_id, side, keys, now); }) {
        o.on_session_keys(session_id, side, keys, now);
    }
}

/// Reports an RTT sample to an observer that wants it (see the table above).
template <class O>
void report_rtt_sample(O& o, std::uint64_t session_id, role side, duration rtt, time_point now) {
    if constexpr (requires { o.on_rtt_sample(session_id, side, rtt, now); }) {
        o.on_rtt_sample(session_id, side, rtt, now);
    }
}

/// Reports a congestion controller's state to an observer that wants it (see the table above).
template <class O>
void report_congestion_to(O& o, std::uint64_t session_id, role side, const congestion_info& info,
                          time_point now) {
    if constexpr (requires { o.on_congestion(session_id, side, info, now); }) {
        o.on_congestion(session_id, side, info, now);
    }
}

/// Reports a refusal to an observer that wants it (see the table above).
template <class O>
void report_refusal_to(O& o, std::uint64_t session_id, role side, refusal what, const peer_address& peer,
                    time_point now) {
    if constexpr (requires { o.on_refused(session_id, side, what, peer, now); }) {
        o.on_refused(session_id, side, what, peer, now);
    }
}

/// Reports a v3 handshake hash to an observer that wants it (see the table above).
template <class O>
void report_handshake_hash(O& o, std::uint64_t session_id, role side,
                           std::span<const std::byte> hash, time_point now) {
    if constexpr (requires { o.on_handshake_hash(session_id, side, hash, now); }) {
        o.on_handshake_hash(session_id, side, hash, now);
    }
}

/// Reports a retransmission to an observer that wants it (see the table above).
template <class O>
void report_retransmission(O& o, const packet_info& info, time_point now) {
    if constexpr (requires { o.on_packet_retransmitted(info, now); }) {
        o.on_packet_retransmitted(info, now);
    }
}

}  // namespace neutrino::core
