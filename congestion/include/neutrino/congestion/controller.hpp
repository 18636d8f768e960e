#pragma once
// clang-format off
/// \file
/// The `congestion_controller` concept: what a sender asks of its congestion control policy, and
/// `ack_sample` and `loss_sample`, what it reports on each acknowledgement and each loss.
///
/// A controller is a sans-IO policy held by a sender (a template parameter, as the reliable layer
/// and qotp take it). The sender reports what it sent, what was acknowledged and what it declared
/// lost, each with `now`; it asks the controller how much may be in flight and how fast to send.
/// The controller keeps no packet state (the sender's loss detection does) and reads no clock.
///
/// In the table `c` is a `C&`, `cc` a `const C&`, `n` and `in_flight` `std::size_t` byte counts,
/// `s` a `const ack_sample&`, `l` a `const loss_sample&` and `now` a `neutrino::time_point`. Every expression is `noexcept`:
/// they run per packet, and a controller has nothing to report but its outputs.
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `c.on_sent(n, now)` | any (discarded) | `n` bytes of one datagram that counts toward bytes in flight were sent at `now` |
/// | `c.on_acknowledged(s)` | any (discarded) | bytes sent earlier were newly acknowledged; `s` says how many, and what the sender measured |
/// | `c.on_lost(l)` | any (discarded) | the sender declared one datagram lost; `l` says how big, when, and what the sender knew when it was sent |
/// | `c.on_persistent_congestion(now)` | any (discarded) | the sender established persistent congestion (RFC 9002 §7.6): every packet over a long period was lost |
/// | `c.on_idle_restart(now)` | any (discarded) | sending resumes at `now` after the sender had nothing in flight and nothing to send for a while (RFC 9002 §7.8) |
/// | `cc.window()` | `std::size_t` | the congestion window: bytes that may be in flight |
/// | `cc.pacing_rate()` | `double` | bytes per second to spread sending at; `0` means no pacing |
/// | `cc.can_send(in_flight, now)` | `bool` | whether one more datagram may be sent at `now` with `in_flight` bytes unacknowledged (window, and the pacer if the model has one) |
///
/// The sender calls `on_sent` after `can_send` said yes, and removes acknowledged and lost bytes
/// from its own count of bytes in flight; a controller that needs that count reads it from
/// `ack_sample::bytes_in_flight` or from `can_send`.
///
/// Construction: a sender builds a controller from `sender_limits` (`C(limits)`) when it can,
/// else default-constructs it, so a model of its own plugs in without the sender knowing it.
// clang-format on

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// What a sender tells a controller when it builds one (see the concept's Construction note).
struct sender_limits {
    /// Bytes of the largest datagram it sends (SMSS): windows and steps are counted in it.
    std::size_t max_datagram_size = 1200;
    /// The most bytes the sender can ever hold in flight (its send buffer); a window beyond it
    /// could never be used.
    std::size_t maximum_window = std::size_t{64} << 20;
};

/// What one acknowledgement tells the controller. Plain data, filled by the sender (a sender with
/// a `delivery_rate_sampler` gets the rate fields from it; one without leaves them zero, and a
/// model that needs them then falls back to what it can do without).
///
/// The rate fields follow the rate sample of the IETF BBR draft (draft-ietf-ccwg-bbr §4.5,
/// "rs"): they describe the newest packet this acknowledgement covered.
struct ack_sample {
    /// Bytes newly acknowledged by this acknowledgement.
    std::size_t bytes = 0;
    /// The RTT sample it produced (latest_rtt, RFC 9002 §5.1), zero when it produced none.
    duration rtt{};
    /// Delivery rate measured over the acknowledged packets, bytes per second; 0 when unknown.
    double delivery_rate_bytes_per_s = 0.0;
    /// Whether the acknowledged data was sent while the application, not the window, limited
    /// sending (rate samples taken then understate the path).
    bool app_limited = false;
    /// When the acknowledgement arrived.
    time_point now{};
    /// Bytes still in flight after removing those acknowledged.
    std::size_t bytes_in_flight = 0;

    /// Total bytes delivered (acknowledged) on the connection so far, this acknowledgement
    /// included (the draft's C.delivered).
    std::uint64_t delivered = 0;
    /// Bytes delivered over the sample's interval (rs.delivered); 0 when no rate sample.
    std::uint64_t interval_delivered = 0;
    /// The interval the delivery rate was measured over (rs.interval); zero when no rate sample.
    duration interval{};
    /// Bytes that were in flight when the newest acknowledged packet was sent, itself included
    /// (rs.tx_in_flight).
    std::size_t tx_in_flight = 0;
    /// Bytes declared lost between that packet's send and this acknowledgement (rs.lost).
    std::uint64_t lost = 0;
    /// When that newest acknowledged packet was sent (first sent, for a retransmission);
    /// `time_point{}` when the sender does not know. A model uses it to end a recovery period
    /// (RFC 9002 §7.3.2) and to count rounds; without it, it counts one smoothed RTT instead.
    time_point sent{};
    /// The bytes were inferred delivered out of order (a selective acknowledgement), not by
    /// the cumulative acknowledgement moving: a model that waits for the cumulative
    /// acknowledgement to stall (bbr's Startup loss exit at a loss) does not count them.
    bool inferred = false;
};

/// What the sender reports when it declares one datagram lost. Plain data. The fields after
/// `bytes_in_flight` are those the sender recorded when the datagram was sent (BBR's
/// per-packet state); a sender without a sampler leaves them zero.
struct loss_sample {
    /// Bytes of the lost datagram.
    std::size_t bytes = 0;
    /// When the loss was declared.
    time_point now{};
    /// Bytes in flight after removing the lost datagram.
    std::size_t bytes_in_flight = 0;
    /// Bytes in flight when it was sent, itself included (packet.tx_in_flight).
    std::size_t tx_in_flight = 0;
    /// Bytes declared lost on the connection between its send and now, itself included
    /// (C.lost - packet.lost).
    std::uint64_t lost = 0;
    /// Whether it was sent while the application limited sending.
    bool app_limited = false;
    /// When it was sent; `time_point{}` when the sender does not know. A model reacts once per
    /// recovery period: to losses of packets sent after the period began (RFC 9002 §7.3.2).
    time_point sent{};
};

// clang-format off
/// A congestion control policy; see the table in this file's comment.
template <class C>
concept congestion_controller =
    requires(C& c, const C& cc, std::size_t n, const ack_sample& s, const loss_sample& l,
             time_point now) {
        { c.on_sent(n, now) } noexcept;
        { c.on_acknowledged(s) } noexcept;
        { c.on_lost(l) } noexcept;
        { c.on_persistent_congestion(now) } noexcept;
        { c.on_idle_restart(now) } noexcept;
        { cc.window() } noexcept -> std::same_as<std::size_t>;
        { cc.pacing_rate() } noexcept -> std::same_as<double>;
        { cc.can_send(n, now) } noexcept -> std::same_as<bool>;
    };
// clang-format on

}  // namespace neutrino::congestion
