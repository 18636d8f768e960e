#pragma once
/// \file
/// Configuration and counters of the reliable layer.  spec: neutrino.md §12, §18.3

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "neutrino/core/dialect.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable {

/// NeutrinoReliable's dialect of the core wire (id 1): this layer answers KEEP_ALIVEs, whose
/// payload is two u64 words (timestamp, acknowledgement), requests and serves retransmissions,
/// and orders DATA (word lists).  spec: neutrino.md §12, §13.2
inline constexpr core::dialect wire_dialect{.id = 1, .layered = true, .keep_alive_u64_words = 2};

/// Bounds and timers of one reliable session. Memory follows use: an idle session holds a few
/// KB; one at full speed about 1.3 KB per packet in flight each way, at most about
/// (send_window + receive_window) × 1.3 KB (more only while the application leaves delivered
/// events unpolled: their bytes are kept until it polls them).
struct config {
    /// DATA packets sent and not yet acknowledged; `send` returns would_block beyond it.
    std::size_t send_window = 512;
    /// Packets buffered out of order; a packet number further ahead is dropped uncommitted
    /// (the peer's retransmission can still be accepted).  spec: neutrino.md §18.2 item 12
    /// At most core::replay_window_size (8192) is used: a hole further behind the newest
    /// packet could not be repaired, the core would drop its retransmission as a replay.
    std::size_t receive_window = 1024;
    /// Bytes of received payload one endpoint (a client, or a server across all its sessions)
    /// keeps to; 0: no cap beyond the receive windows. Once it is spent, a session's window
    /// stops growing: it keeps what it spans, the core drops packets numbered beyond, and they
    /// are requested once the window has moved over them (the sender takes them as lost and
    /// slows down). Packets the core had accepted before are kept all the same, so it may be
    /// exceeded by the gaps the sessions had open then. Delivered events not yet polled count.
    std::size_t receive_budget = 0;
    /// RTT assumed before a measurement (the server never measures one: only the client's
    /// KEEP_ALIVE timestamp is echoed).
    std::chrono::milliseconds initial_rtt{20};
    /// The first request for a missing packet goes out at once; the next after
    /// max(2 × RTT, min_request_interval), doubling up to max_request_interval.
    std::chrono::milliseconds min_request_interval{10};
    std::chrono::milliseconds max_request_interval{500};
    /// Wait before requesting a gap: until three later packets arrived, or RTT/4 (≥ 1 ms), so
    /// reordering does not cause spurious requests. false: request at once, as the reference.
    bool tolerate_reordering = true;
    /// Sender: take a request for number n as a selective acknowledgement of the unrequested
    /// DATA below n (it leaves the in-flight count and is a delivery-rate sample at once, not a
    /// round trip later when the cumulative acknowledgement passes the repaired hole). Nothing
    /// changes on the wire. Off by default: it lifts bbr at 1% random loss on 100 Mbit/s x
    /// 200 ms from 0.5-16 to 38-41 Mbit/s (issue 13; 20 Mbit/s x 40 ms: 7.1-12.0 to 12.2-13.6),
    /// but with it bbr leaves Startup on its bandwidth plateau rather than on the queue's
    /// overflow (no inflight_hi): 54.3 instead of 62.5 Mbit/s on the long fat path at 0% loss
    /// (congestion_bottleneck_test). Since inferred deliveries no longer end the stall bbr's
    /// Startup waits for (ack_sample::inferred), it leaves on loss there again (2.88 s, 72 queue
    /// drops, as without inferring) but still makes only 53.6 Mbit/s.
    bool infer_from_requests = false;
    /// Receiver: until the session has an RTT sample, a number requested a third time (the 4×
    /// backoff cap) raises a backoff kept across gaps (RFC 6298 §5.5), so that a gap is soon answered
    /// before its repeat and gives a sample (Karn's rule takes none from a repeated request).
    /// The server of an upload sends no DATA and has no other sample: with initial_rtt 20 ms on
    /// a 200 ms path it re-requested every gap 2-4 times and kept 20 ms for good. On 100 Mbit/s
    /// x 200 ms at 1% loss this cuts the repeats from 386-496 to 4-11 (seeds default, 0, 1, 2).
    /// Off by default (issue 13): bbr's tests on that path were tuned against the repeats. At 0%
    /// loss the sender served 61 of them as new losses (133 loss signals for 72 queue drops),
    /// which is what ended bbr's Startup on loss; without them Startup leaves on the plateau
    /// at 3.09 s after 2060 drops (55.9 Mbit/s), and with infer_from_requests at 1% bbr made
    /// 13-17 Mbit/s instead of 38-41.
    bool back_off_until_rtt_sample = false;
    /// Requests sent per arrival or timer round, at most.  spec: neutrino.md §18.1 item 5
    std::size_t max_requests_per_round = 64;
    /// The request budget: requests are proportional to evidence. Within one RTT (at least
    /// min_request_interval) at most request_floor + request_per_arrival × the packets that
    /// arrived in that RTT and the one before are sent; the rest wait for the next RTT.
    /// A packet beyond the receive window counts for nothing and starts no request.
    /// spec: issue #11, neutrino.md §18.2 item 12
    std::size_t request_floor = 8;
    std::size_t request_per_arrival = 2;
    /// A missing packet not recovered, or sent data not acknowledged, for this long ends the
    /// session with errc::unrecoverable_loss instead of a silent stall.
    std::chrono::milliseconds give_up_after{10000};
    /// Client: KEEP_ALIVE after this much idleness (the reference's 475 ms rule).
    std::chrono::milliseconds keep_alive_idle{475};
    /// Client: acknowledge received packets within this delay, or after ack_every packets.
    std::chrono::milliseconds ack_delay{5};
    std::size_t ack_every = 32;
    /// Server: `shutdown` waits up to this long for every session's DATA to be acknowledged
    /// (serving requests meanwhile) before the SERVER_SHUTDOWN goes out. Sessions still holding
    /// unacknowledged DATA then end with errc::unrecoverable_loss, not silently.
    std::chrono::milliseconds shutdown_linger{2000};
};

/// What a session's congestion control stands at: window, pacing rate, DATA in flight, RFC 9002
/// smoothed RTT (the initial RTT before a sample), min RTT and the controller's state name (bbr's;
/// empty for a model without named states). The same figures the observer hears of through
/// `on_congestion`, so one type serves both.
using congestion_state = core::congestion_info;

/// What the reliable layer did (per endpoint, all sessions).
struct stats {
    std::uint64_t delivered = 0;          ///< DATA packets delivered in order
    std::uint64_t buffered = 0;           ///< packets that arrived out of order
    std::uint64_t requests_sent = 0;      ///< REQUEST_RETRANSMISSION datagrams sent
    std::uint64_t requests_repeated = 0;  ///< of them, for a number requested before
    std::uint64_t requests_received = 0;  ///< REQUEST_RETRANSMISSION datagrams received
    std::uint64_t retransmitted = 0;      ///< stored datagrams sent again on request
    std::uint64_t probes = 0;             ///< tail-loss probes (resends or ack-soliciting KEEP_ALIVEs)
    std::uint64_t requests_ignored = 0;   ///< requests for numbers not in the send buffer, or too soon
    std::uint64_t requests_deferred = 0;  ///< request rounds cut short by the request budget
    std::uint64_t spurious_requests = 0;  ///< requested packets that arrived sooner than an
                                          ///< answer could (reordered, not lost)
    std::uint64_t beyond_window = 0;      ///< authentic packets past the receive window (dropped)
    std::uint64_t path_probes = 0;        ///< wire v2: probes sent to a candidate address
    std::uint64_t candidate_answers = 0;  ///< requests from a candidate address served there
    std::uint64_t keep_alives_sent = 0;
    std::uint64_t gave_up = 0;            ///< sessions ended with errc::unrecoverable_loss
    std::uint64_t unstored = 0;           ///< numbered packets sent that could not be stored
    std::uint64_t events_dropped = 0;     ///< events lost because the event queue was at its maximum
    std::uint64_t receive_budget_refused = 0;  ///< packets stored over receive_budget (the
                                               ///< session's window stopped growing there)
    std::size_t max_send_buffered = 0;    ///< high-water mark of stored datagrams (one session)
    std::size_t max_receive_buffered = 0; ///< high-water mark of out-of-order packets (one session)
};

}  // namespace neutrino::reliable
