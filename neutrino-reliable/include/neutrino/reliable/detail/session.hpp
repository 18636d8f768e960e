#pragma once
/// \file
/// The reliable state machine of one session, independent of role plumbing: ordering,
/// loss detection and requests on the receive side; storage, acknowledgement, request service
/// and tail-loss probes on the send side.  spec: neutrino.md §12, §18.3
///
/// It talks to the core through a `Port` (one session of a core client or server):
/// `send_packet(type, words, now) → result<pn>`, `send_request(pn, now)`, `resend(bytes, pn, now)`,
/// `set_receive_limit(pn)`, `last_sent()`, `last_received()`.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>

#include "neutrino/congestion/bbr.hpp"
#include "neutrino/congestion/controller.hpp"
#include "neutrino/congestion/cubic.hpp"
#include "neutrino/congestion/delivery_rate_sampler.hpp"
#include "neutrino/congestion/fixed_window.hpp"
#include "neutrino/congestion/pacer.hpp"
#include "neutrino/congestion/rtt_estimator.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/reliable/config.hpp"
#include "neutrino/reliable/detail/receive_buffer.hpp"
#include "neutrino/reliable/detail/receive_pool.hpp"
#include "neutrino/reliable/detail/send_buffer.hpp"
#include "neutrino/reliable/error.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable::detail {

/// A Reliable KEEP_ALIVE's two u64 words, [timestamp, acknowledgement] (spec: neutrino.md
/// §6.4); `words` views this object's own bytes, so it is neither copied nor moved.
struct keep_alive_words {
    keep_alive_words(std::uint64_t stamp, std::uint64_t ack) noexcept {
        neutrino::store_le(t.data(), stamp);
        neutrino::store_le(a.data(), ack);
    }
    keep_alive_words(const keep_alive_words&) = delete;
    keep_alive_words& operator=(const keep_alive_words&) = delete;

    std::array<std::byte, 8> t{}, a{};
    const std::array<core::word, 2> words{core::word(t), core::word(a)};
};

/// One session's reliable machine. `Controller` is the congestion-control policy (a
/// `congestion::congestion_controller`): it hears of every DATA datagram sent, every
/// acknowledgement (bytes, RTT sample) and every retransmission served (a loss), and has the
/// last word on `can_send`. RTT comes from a `congestion::rtt_estimator` (RFC 9002 §5) fed with
/// the client's KEEP_ALIVE echoes.
template <congestion::congestion_controller Controller>
class basic_session {
public:
    using controller_type = Controller;

    /// `raw_data`: DATA payloads are passed up as received (Extended), not as a word list.
    /// Received payloads are kept in blocks of `pool`, which must outlive the session (the
    /// layer's: it also holds the blocks its queued events view).
    basic_session(const config& cfg, core::role side, receive_pool& pool, bool raw_data = false)
        : cfg_(cfg), side_(side), raw_data_(raw_data),
          tx_(cfg.send_window, cfg.send_window + control_reserve),
          rx_(std::min(cfg.receive_window, core::replay_window_size), pool),
          rtt_est_(cfg.initial_rtt),
          cc_(make_controller(cfg)) {}

    /// The controller, built from the session's limits (full datagrams; the send window's worth
    /// of them as the largest window, so `fixed_window` is the fixed 512-packet window of before)
    /// when it takes `congestion::sender_limits`, else default-constructed.
    static Controller make_controller(const config& cfg) {
        if constexpr (std::is_constructible_v<Controller, congestion::sender_limits>) {
            return Controller(congestion::sender_limits{.max_datagram_size = core::max_datagram_size,
                                                        .maximum_window = cfg.send_window * core::max_datagram_size});
        } else {
            return Controller{};
        }
    }

    /// Room for another DATA packet: the send window, the congestion controller and the pacer
    /// (at the controller's pacing rate; a controller of rate 0 is not paced) agree, at the
    /// latest time the session was given.  spec: neutrino.md §18.2 item 13 (bounded, backpressure)
    [[nodiscard]] bool can_send() const noexcept {
        return window_open() && pacer_.can_send(core::max_datagram_size, last_now_);
    }
    /// Room in the send window and the congestion window (pacing aside).
    [[nodiscard]] bool window_open() const noexcept {
        return !tx_.data_full() && !tx_.full() && cc_.can_send(tx_.bytes_in_flight(), last_now_);
    }
    /// Tells the session the time before asking `can_send` (the pacer refills with time).
    void advance(time_point now) noexcept { last_now_ = std::max(last_now_, now); }
    /// `can_send()` at `now` (which the session then keeps as the latest time).
    [[nodiscard]] bool can_send(time_point now) noexcept {
        advance(now);
        return can_send();
    }
    /// When the pacer lets the next DATA datagram go, if the windows have room and it does not
    /// yet: the layer wakes then to report `writable`.
    [[nodiscard]] std::optional<time_point> pacing_deadline() const noexcept {
        if (!window_open() || pacer_.can_send(core::max_datagram_size, last_now_)) return std::nullopt;
        const time_point t = pacer_.next_send_time(core::max_datagram_size);
        if (t == time_point::max() || t <= last_now_) return std::nullopt;
        return t;
    }
    [[nodiscard]] const Controller& controller() const noexcept { return cc_; }
    [[nodiscard]] congestion_state congestion() const noexcept {
        const char* state = "";
        if constexpr (requires { to_string(cc_.state()); }) state = to_string(cc_.state());
        return {cc_.window(), cc_.pacing_rate(), tx_.bytes_in_flight(), rtt_est_.smoothed(), rtt_est_.min_rtt(), state};
    }
    [[nodiscard]] const congestion::rtt_estimator& rtt_estimator() const noexcept { return rtt_est_; }
    [[nodiscard]] std::size_t unacknowledged() const noexcept { return tx_.data(); }
    [[nodiscard]] std::size_t out_of_order() const noexcept { return rx_.stored(); }
    /// Heap bytes of the receive buffer's bookkeeping (payload blocks are the pool's).
    [[nodiscard]] std::size_t receive_memory() const noexcept { return rx_.memory(); }
    /// Heap bytes of the send buffer.
    [[nodiscard]] std::size_t send_memory() const noexcept { return tx_.memory(); }
    [[nodiscard]] std::uint64_t confirmed() const noexcept { return rx_.confirmed(); }
    [[nodiscard]] duration rtt() const noexcept { return rtt_est_.smoothed(); }
    /// The server shut down (the core drains): send nothing numbered any more, keep
    /// requesting what is missing.
    void stop_sending() noexcept { draining_ = true; }

    /// Set when the session must end: errc::unrecoverable_loss.
    [[nodiscard]] std::error_code failure() const noexcept { return failure_; }

    /// Client, after queuing DATA: solicit an acknowledgement with a KEEP_ALIVE (the server
    /// answers each with its ack) every eighth of the window, and when the window just filled.
    /// Counting packets, not time, keeps acknowledgements flowing however the RTT estimate is
    /// inflated by queueing. A reference server answers every KEEP_ALIVE: compatible.
    template <class Port>
    void after_send(Port& port, time_point now, stats& st) {
        if (side_ != core::role::client) return;
        ++sent_since_solicit_;
        const std::size_t every = std::max<std::size_t>(cfg_.send_window / 8, 1);
        if (sent_since_solicit_ >= every || !window_open()) send_keep_alive(port, timestamp(now), now, st);
    }

    /// A numbered packet the core sealed for this session: keep its bytes.
    void on_packet_sent(const core::event& e, time_point now, stats& st) noexcept {
        if (!tx_.store(e.packet_number, e.wire, now, e.type != core::packet_type::data)) {
            // Only packets the layer does not control (GOOD_BYE, SHUTDOWN at the end) can miss
            // the store; the numbering restarts at the next one so later packets stay servable.
            ++st.unstored;
            tx_.resync(e.packet_number + 1);
            return;
        }
        last_now_ = now;
        if (e.type == core::packet_type::keep_alive) last_keep_alive_ = now;
        if (e.type == core::packet_type::data) {
            const std::size_t size = e.wire.size();
            stamp_rate(e.packet_number, size, now);
            cc_.on_sent(size, now);
            pacer_.on_sent(size, now);
        }
        if (tx_.size() == 1) last_ack_progress_ = now;
        st.max_send_buffered = std::max(st.max_send_buffered, tx_.data());
    }

    /// An accepted packet in arrival order. `deliver(event) → bool` receives DATA in order and
    /// says whether it queued the event: its views then stay valid until the pool was told it
    /// was consumed (receive_pool::release_consumed).
    template <class Port, class Deliver>
    void on_packet_received(const core::event& e, Port& port, time_point now, stats& st,
                            Deliver&& deliver) {
        if (e.type == core::packet_type::request_retransmission) {
            serve_request(neutrino::load_le<std::uint64_t>(e.words[0].data()), port, now, st,
                          e.from_candidate);
            return;
        }
        const std::uint64_t pn = e.packet_number;
        if (e.from_candidate && !probe_pn_) send_probe(port, now, st);  // its budget may allow it now
        if (!rx_.started()) {
            // spec: neutrino.md §12.2 step 1: the first numbered packet is HELLO2 / HELLO3
            rx_.start(pn);
            port.set_receive_limit(rx_.limit());
            return;
        }
        if (pn < rx_.expected() || rx_.is_stored(pn)) return;  // the replay window prevents this
        const std::uint64_t arrived_before = arrivals_++;
        note_arrival(now);
        if (e.type == core::packet_type::keep_alive) on_keep_alive(e, port, now);
        if (const auto asked = rx_.requested_at(pn)) judge_request(port, pn, now - *asked, now, st);
        if (pn != rx_.expected()) ++st.buffered;
        const bool raw = raw_data_ && e.type == core::packet_type::data;
        if (!rx_.store(pn, e.type, e.keyword, raw ? e.payload : e.words.encoded(), now, arrived_before)) {
            // The endpoint's receive budget is spent: the window stops where the buffer is, and
            // what the peer sends beyond it is dropped and requested later, as a packet beyond
            // the window is (the sender hears of losses and slows down): never lost silently.
            ++st.receive_budget_refused;
        }
        st.max_receive_buffered = std::max(st.max_receive_buffered, rx_.stored());
        while (const auto* s = rx_.front()) {
            bool viewed = false;
            if (s->type == core::packet_type::data) {
                const std::span<const std::byte> stored = rx_.payload(*s);
                core::event d = core::event::data(e.session_id, e.peer, {}, s->pn, s->keyword);
                if (raw_data_) {
                    d.payload = stored;  // Extended: framing or fragment, judged above
                } else {
                    d.words = *core::words_view::parse(stored);  // validated by the core
                    d.payload = d.words.encoded();
                }
                viewed = deliver(d);
                ++st.delivered;
            }
            // Only DATA asks for an acknowledgement: counting KEEP_ALIVEs would make the two
            // sides answer each other's keep-alives every ack_delay.
            const bool wants_ack = s->type == core::packet_type::data;
            rx_.pop(viewed);
            if (wants_ack && ++unacked_received_ == 1) first_unacked_received_ = now;
        }
        port.set_receive_limit(rx_.limit());
        rx_.extend_known(now, arrivals_);  // the window moved over numbers known to exist
        if (side_ == core::role::server && e.type == core::packet_type::keep_alive) {
            // spec: neutrino.md §6.4: echo the timestamp, send our acknowledgement
            const std::uint64_t stamp = neutrino::load_le<std::uint64_t>(e.words[0].data());
            peer_stamp_ = std::max(peer_stamp_, stamp);
            send_keep_alive(port, stamp, now, st);
        }
        request_missing(port, now, st);
        // Both sides acknowledge what arrived every ack_every packets (and within ack_delay,
        // see next_keep_alive): the server too, so acknowledgements never depend on the client
        // having room for a KEEP_ALIVE of its own. A reference client takes an unanswered
        // KEEP_ALIVE from the server like any other (it only trims its buffer with the ack).
        if (unacked_received_ >= cfg_.ack_every) send_keep_alive(port, own_stamp(now), now, st);
    }

    /// An authentic packet beyond the receive window was dropped by the core. It proves
    /// nothing about the numbers below it (an adversarial peer can number a packet 2^63
    /// ahead), so it starts no request. A packet within a few windows is remembered: once
    /// the window has moved over the numbers below it, they count as missing (within the
    /// request budget), so a sender that overran the window is recovered.  spec: issue #11
    void on_packet_beyond_window(const core::event& e, stats& st) noexcept {
        ++st.beyond_window;
        rx_.note_beyond(e.packet_number);
    }

    /// Server, wire v2: the core saw the peer's newest packets come from an unvalidated address
    /// (event_kind::path_candidate). Sends a KEEP_ALIVE there only (within the 3× budget the
    /// core enforces); the peer's acknowledgement of its number, from that address, validates
    /// it. Until then everything else goes to the validated address.
    template <class Port>
    void on_path_candidate(Port& port, time_point now, stats& st) {
        probe_pn_.reset();
        probe_valid_ = false;
        candidate_ = true;
        send_probe(port, now, st);
    }

    /// The session moved to a validated address (or the candidate is gone): no probe pending.
    void on_address_changed() noexcept {
        probe_pn_.reset();
        probe_valid_ = false;
        candidate_ = false;
    }

    /// Timers: re-requests, acknowledgements and keep-alives (client), tail-loss probes, and
    /// giving up.
    template <class Port>
    void on_deadline(Port& port, time_point now, stats& st) {
        advance(now);
        if (failure_) return;
        request_missing(port, now, st);
        if (failure_) return;
        if (!tx_.empty() && now - tx_.sent_at(tx_.base()) >= cfg_.give_up_after &&
            now - last_ack_progress_ >= cfg_.give_up_after) {
            fail_session(st);
            return;
        }
        if (auto ka = next_keep_alive(port); ka && now >= *ka) {
            send_keep_alive(port, own_stamp(now), now, st);
        }
        if (side_ == core::role::server && !tx_.empty() && now >= next_probe()) {
            // Tail-loss probe: resend the newest unacknowledged DATA, so a receiver that lost
            // the tail sees a gap (or a harmless duplicate).  spec: §18.3 item 17
            if (auto pn = tx_.newest_data(); pn && port.resend(tx_.bytes(*pn), *pn, now)) {
                tx_.mark_resent(*pn, now);
                ++st.probes;
            }
            last_probe_ = now;
            probe_backoff_ = std::min<unsigned>(probe_backoff_ + 1, 6);
        }
    }

    template <class Port>
    [[nodiscard]] std::optional<time_point> deadline(const Port& port) const noexcept {
        if (!rx_.started() || failure_) return std::nullopt;
        std::optional<time_point> d = next_request_;
        auto consider = [&d](time_point t) {
            if (!d || t < *d) d = t;
        };
        if (!tx_.empty()) {
            consider(std::max(tx_.sent_at(tx_.base()), last_ack_progress_) + cfg_.give_up_after);
        }
        if (auto ka = next_keep_alive(port)) consider(*ka);
        if (side_ == core::role::server && !tx_.empty()) consider(next_probe());
        if (auto p = pacing_deadline()) consider(*p);
        return d;
    }

    void reset() noexcept {
        tx_.reset();
        rx_.reset();
        next_request_.reset();
        failure_ = {};
        unacked_received_ = 0;
        sent_since_solicit_ = 0;
        probe_backoff_ = 0;
        request_backoff_ = 0;
        last_echoed_ = 0;
        peer_stamp_ = 0;
        draining_ = false;
        keep_alive_retry_ = {};
        arrivals_ = 0;
        arrivals_epoch_ = arrivals_prev_ = requests_epoch_ = 0;
        epoch_start_ = {};
        refusal_reported_ = false;
        on_address_changed();
    }

private:
    // KEEP_ALIVE markers beyond the DATA window: a session would have to send this many
    // unacknowledged KEEP_ALIVEs before one is held back.
    static constexpr std::size_t control_reserve = 4096;
    static constexpr std::uint64_t reorder_threshold = 3;
    static constexpr std::uint64_t burst_reach = 16;  ///< see request_missing
    static constexpr unsigned reorder_persist = 16;     ///< see judge_request
    static constexpr unsigned max_reorder_quarters = 8;  ///< see reorder_wait

    // The timestamp of a KEEP_ALIVE this side originates. The client's clock; the server
    // repeats the newest client timestamp it received instead of its own clock: the client
    // reads the first word of every server KEEP_ALIVE as an echo of its own, and a server
    // clock there (the same steady clock on one host, the simulator's virtual clock) would
    // give one-way delays as RTT samples. A repeated echo is no sample (Karn's rule, below).
    [[nodiscard]] std::uint64_t own_stamp(time_point now) const noexcept {
        return side_ == core::role::server ? peer_stamp_ : timestamp(now);
    }

    static std::uint64_t timestamp(time_point now) noexcept {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
    }

    [[nodiscard]] duration pto() const noexcept {
        const duration base = std::max<duration>(2 * rtt(), std::chrono::milliseconds(25));
        return base * (1U << probe_backoff_);
    }
    [[nodiscard]] time_point next_probe() const noexcept {
        return std::max(last_ack_progress_, last_probe_) + pto();
    }

    /// When this side sends its next KEEP_ALIVE; none while the send buffer is full (it waits
    /// for the peer's acknowledgement, which never depends on us: both sides acknowledge).
    template <class Port>
    [[nodiscard]] std::optional<time_point> next_keep_alive(const Port& port) const noexcept {
        if (tx_.full() || draining_) return std::nullopt;
        if (keep_alive_retry_ != time_point{}) return keep_alive_retry_;
        std::optional<time_point> t;
        auto consider = [&t](time_point x) {
            if (!t || x < *t) t = x;
        };
        if (side_ == core::role::client) {
            // acknowledge what arrived within ack_delay (the server acknowledges every
            // ack_every packets only, so small exchanges look as the reference's do)
            if (unacked_received_ > 0) consider(first_unacked_received_ + cfg_.ack_delay);
            const auto idle = cfg_.keep_alive_idle;
            // spec: neutrino.md §11.1: after 475 ms without sending, or without receiving;
            // while nothing arrives, again every max(idle/4, 2 RTT), so a burst of loss that
            // takes two or three KEEP_ALIVEs does not let the 1500 ms session timeout expire
            const duration retry = std::max<duration>(idle / 4, 2 * rtt());
            consider(std::min(port.last_sent() + idle,
                              std::max(port.last_received() + idle, last_keep_alive_ + retry)));
            // solicit an acknowledgement when ours stalls (backing off: no KEEP_ALIVE storm)
            if (!tx_.empty()) consider(std::max(next_probe(), last_keep_alive_ + pto()));
        }
        return t;
    }

    template <class Port>
    void send_keep_alive(Port& port, std::uint64_t stamp, time_point now, stats& st) {
        // Every numbered packet must be recorded (its number may be requested): never send one
        // the record cannot hold. With control_reserve markers this needs thousands of
        // unacknowledged KEEP_ALIVEs; the deadline then waits for an acknowledgement.
        if (tx_.full()) return;
        const keep_alive_words w(stamp, rx_.confirmed());
        if (!port.send_packet(core::packet_type::keep_alive, w.words, now)) {
            // the core cannot send now (its queue is full): try again shortly, so the timer
            // always moves forward
            keep_alive_retry_ = now + std::chrono::milliseconds(1);
            return;
        }
        keep_alive_retry_ = {};
        {
            ++st.keep_alives_sent;
            unacked_received_ = 0;
            sent_since_solicit_ = 0;
            last_keep_alive_ = now;
            if (!tx_.empty() && side_ == core::role::client && now >= next_probe()) {
                last_probe_ = now;
                probe_backoff_ = std::min<unsigned>(probe_backoff_ + 1, 6);
                ++st.probes;
            }
        }
    }

    /// Counts an arrival into the current RTT epoch of the request budget.
    void note_arrival(time_point now) noexcept {
        roll_epoch(now);
        ++arrivals_epoch_;
    }
    void roll_epoch(time_point now) noexcept {
        const duration len = epoch_length();
        if (now - epoch_start_ < len) return;
        arrivals_prev_ = now - epoch_start_ < 2 * len ? arrivals_epoch_ : 0;
        arrivals_epoch_ = 0;
        requests_epoch_ = 0;
        refusal_reported_ = false;
        epoch_start_ = now;
    }
    [[nodiscard]] duration epoch_length() const noexcept {
        return std::max<duration>(rtt(), cfg_.min_request_interval);
    }
    /// Requests allowed in the current epoch: a floor plus a share of the evidence.
    [[nodiscard]] std::size_t request_budget() const noexcept {
        return cfg_.request_floor + cfg_.request_per_arrival * (arrivals_prev_ + arrivals_epoch_);
    }

    /// Sends a path probe (a KEEP_ALIVE to the candidate address only) when one is wanted.
    template <class Port>
    void send_probe(Port& port, time_point now, stats& st) {
        if (!candidate_ || probe_pn_ || tx_.full() || side_ != core::role::server) return;
        const keep_alive_words w(own_stamp(now), rx_.confirmed());
        if (auto pn = port.send_probe(core::packet_type::keep_alive, w.words, now)) {
            probe_pn_ = *pn;
            probe_valid_ = true;
            ++st.path_probes;
        }
    }

    /// How long a gap may be reordering before it is requested: a quarter RTT (at least 1 ms),
    /// widened by a quarter per request that proved spurious, up to two RTTs (RFC 8985 §6.2's
    /// reordering window, kept by the receiver because the requests are its; RACK stops at one
    /// RTT, but a reorder delay of about one RTT would then still be requested half the time).
    [[nodiscard]] duration reorder_wait() const noexcept {
        return std::max<duration>(rtt() * reorder_quarters_ / 4, std::chrono::milliseconds(1));
    }

    /// Requested packet `pn` arrived `since_request` after its first request. An answer takes a
    /// round trip; one that came sooner than the minimum RTT (or at once, before any RTT is
    /// known) was the original, reordered, not lost: the request was spurious, so gaps wait
    /// longer, and it is no RTT sample (a zero sample would pull the RTT, and every timer
    /// derived from it, to nothing). After `reorder_persist` answers in a row that were real,
    /// the wait narrows back to a quarter.
    template <class Port>
    void judge_request(Port& port, std::uint64_t pn, duration since_request, time_point now,
                       stats& st) {
        if (since_request <= duration::zero() || since_request < rtt_est_.min_rtt()) {
            ++st.spurious_requests;
            reordering_seen_ = true;
            reorder_quarters_ = std::min(reorder_quarters_ + 1, max_reorder_quarters);
            genuine_answers_ = 0;
            return;
        }
        if (++genuine_answers_ >= reorder_persist) reorder_quarters_ = 1;
        // the answer to our only request: an RTT sample
        if (rx_.requested_once(pn)) sample_rtt(port, since_request, now);
    }

    /// Tells the observer where the controller stands, at most once per RTT (at least 10 ms
    /// apart): enough to plot window, rate and state, never a line per acknowledgement.
    template <class Port>
    void report_congestion(Port& port, time_point now) {
        const duration every = std::max<duration>(rtt(), std::chrono::milliseconds(10));
        if (last_congestion_report_ != time_point{} && now - last_congestion_report_ < every) return;
        last_congestion_report_ = now;
        port.report_congestion(congestion(), now);
    }

    template <class Port>
    void sample_rtt(Port& port, duration sample, time_point now) {
        if (sample < duration::zero() || sample > std::chrono::seconds(60)) return;
        rtt_est_.on_sample(sample, duration::zero(), now);
        last_sample_ = sample;
        port.report_rtt(sample, now);
    }

    template <class Port>
    bool reseal_keep_alive(Port& port, std::uint64_t pn, time_point now, bool to_candidate) {
        const keep_alive_words w(own_stamp(now), rx_.confirmed());
        return static_cast<bool>(port.reseal(pn, core::packet_type::keep_alive, w.words, now, to_candidate));
    }

    template <class Port>
    void on_keep_alive(const core::event& e, Port& port, time_point now) {
        const std::uint64_t ack = neutrino::load_le<std::uint64_t>(e.words[1].data());
        last_now_ = now;
        const std::size_t in_flight_before = tx_.bytes_in_flight();
        // the newest packet this acknowledgement covers, for the controller's recovery periods
        const time_point newest_sent = tx_.contains(ack) ? tx_.sent_at(ack) : time_point{};
        // Without an echoed timestamp (the server, or a sub-millisecond echo), the RTT sample is
        // the time from sending the newest acknowledged packet to its acknowledgement, the
        // peer's acknowledgement delay included. Only from DATA, which the peer acknowledges
        // within its ack_delay (a KEEP_ALIVE waits for the peer's next acknowledgement, however
        // late), and only when nothing it covers was sent again: the acknowledgement is
        // cumulative, so one that reaches over a repaired gap waited for the repair (Karn).
        const bool data_newest = newest_sent != time_point{} && newest_sent <= now && !tx_.is_control(ack);
        const auto on_delivered = [this, now](std::size_t size, const congestion::packet_rate_state& r) noexcept {
            sampler_.on_acknowledged(r, size, now);
        };
        const auto dropped = tx_.acknowledge(ack, on_delivered);
        const bool timed = data_newest && !dropped.repaired;
        if (dropped.packets > 0) {
            last_ack_progress_ = now;
            probe_backoff_ = 0;
        }
        const std::size_t acked = in_flight_before - tx_.bytes_in_flight();
        last_sample_ = duration::zero();
        if (e.from_candidate && probe_pn_ && probe_valid_ && ack >= *probe_pn_) {
            // acknowledged from there a packet sent only there: the address is the peer's
            if (port.validate_path(now)) on_address_changed();
        }
        if (side_ == core::role::client) {
            // RTT from our own echoed timestamp (ignored when implausible)
            // Only a timestamp newer than every one echoed before is a sample (Karn's rule):
            // an older one is the echo of a KEEP_ALIVE that was lost and sent again later —
            // on v3 a retransmission must repeat its original plaintext (pn-derived nonces),
            // so its timestamp is stale and would inflate the RTT by the recovery time.
            const std::uint64_t echoed = neutrino::load_le<std::uint64_t>(e.words[0].data());
            const std::uint64_t at = timestamp(now);
            if (echoed <= at && at - echoed < 60000 && echoed > last_echoed_) {
                sample_rtt(port, std::chrono::milliseconds(at - echoed), now);
            }
            last_echoed_ = std::max(last_echoed_, echoed);
        } else if (timed) {
            // The server has no echoes: the acknowledgement timing is its RTT sample (the peer's
            // acknowledgement delay included, which errs on the long side). Without it the
            // server's RTT came only from answers to its requests, which reordering makes
            // arbitrarily short.
            sample_rtt(port, now - newest_sent, now);
        }
        if (acked > 0) {
            congestion::ack_sample sample;
            sample.bytes = acked;
            sample.rtt = last_sample_;
            // the server has no echoes; the client's are in whole milliseconds (0 on a fast
            // path): then the acknowledgement timing, in the clock's resolution
            if (sample.rtt == duration::zero() && timed) sample.rtt = now - newest_sent;
            sample.now = now;
            sample.bytes_in_flight = tx_.bytes_in_flight();
            sample.sent = newest_sent;
            sampler_.generate(sample, rtt_est_.min_rtt());
            cc_.on_acknowledged(sample);
            pacer_.set_rate(cc_.pacing_rate(), now);
            report_congestion(port, now);
        }
    }

    template <class Port>
    void serve_request(std::uint64_t pn, Port& port, time_point now, stats& st, bool to_candidate) {
        ++st.requests_received;
        if (probe_pn_ && pn == *probe_pn_ && !to_candidate) {
            // the probe is going to the validated address now: it no longer proves the
            // candidate receives, so a fresh one (a new number) goes there instead
            probe_valid_ = false;
            probe_pn_.reset();
            send_probe(port, now, st);
        }
        infer_from_request(pn, port, now);
        // spec: neutrino.md §18.1 item 5: serve a number at most once per ~RTT, only from the
        // buffer, only to the session's address (the port knows it)
        const duration guard = std::max<duration>(rtt() / 2, std::chrono::milliseconds(1));
        if (!tx_.contains(pn) ||
            (tx_.resent_at(pn) != time_point{} && now - tx_.resent_at(pn) < guard)) {
            ++st.requests_ignored;
            return;
        }
        // A request from the candidate address is answered there, within the 3× budget the
        // core enforces (so a peer that moved can fill the gaps that went to its old address
        // and acknowledge the probe); every other request is answered to the validated address.
        if (tx_.is_control(pn)) {
            // A lost KEEP_ALIVE: a fresh one (current acknowledgement) under its number.
            if (reseal_keep_alive(port, pn, now, to_candidate)) {
                tx_.mark_resent(pn, now);
                ++st.retransmitted;
                if (to_candidate) ++st.candidate_answers;
            }
            return;
        }
        if (port.resend(tx_.bytes(pn), pn, now, to_candidate)) {
            // the peer asked for it: it was lost (even if inferred delivered before: this copy
            // is in flight again)
            tx_.uninfer(pn);
            const std::size_t size = tx_.bytes(pn).size();
            congestion::loss_sample lost{.bytes = size,
                                         .now = now,
                                         .bytes_in_flight = tx_.bytes_in_flight(),
                                         .sent = tx_.sent_at(pn)};
            sampler_.on_lost(size);
            sampler_.fill(lost, tx_.rate_state(pn));
            cc_.on_lost(lost);
            stamp_rate(pn, size, now);  // the retransmission is a new transmission for the sampler
            pacer_.set_rate(cc_.pacing_rate(), now);
            report_congestion(port, now);
            tx_.mark_resent(pn, now);
            ++st.retransmitted;
            if (to_candidate) ++st.candidate_answers;
        }
    }

    /// A request for `pn` is a selective acknowledgement of what lies below it
    /// (send_buffer::infer_delivered_below): those packets leave the in-flight count and are
    /// delivered for the rate sampler now, a round trip before the cumulative acknowledgement
    /// passes the hole, and the controller hears of it as of an acknowledgement (no RTT sample).
    /// Without it every hole held the whole flight since it "in flight" until its repair, and
    /// a window-based controller was window-limited at any loss rate.  spec: issue #13
    template <class Port>
    void infer_from_request(std::uint64_t pn, Port& port, time_point now) {
        if (!cfg_.infer_from_requests || !tx_.contains(pn)) return;
        // In bbr's Startup the packets are delivered for the rate samples but stay in flight:
        // relieved at every request, Startup overran a one-BDP queue ~6x as much (454 queue
        // drops instead of 72 on 100 Mbit/s x 200 ms) and pushed a standing queue on 20 Mbit/s.
        bool leave_pipe = true;
        if constexpr (requires { cc_.state() == congestion::bbr_state::startup; }) {
            leave_pipe = cc_.state() != congestion::bbr_state::startup;
        }
        time_point newest_sent{};
        std::size_t acked = 0;
        tx_.infer_delivered_below(
            pn,
            [&](std::size_t size, const congestion::packet_rate_state& r) noexcept {
                sampler_.on_acknowledged(r, size, now);
                newest_sent = std::max(newest_sent, r.sent_time);
                acked += size;
            },
            leave_pipe);
        if (acked == 0) return;
        last_now_ = std::max(last_now_, now);
        congestion::ack_sample sample;
        sample.bytes = acked;  // no RTT sample: the request's timing is the receiver's
        sample.inferred = true;  // not the cumulative acknowledgement moving
        sample.now = now;
        sample.bytes_in_flight = tx_.bytes_in_flight();
        sample.sent = newest_sent;
        sampler_.generate(sample, rtt_est_.min_rtt());
        cc_.on_acknowledged(sample);
        pacer_.set_rate(cc_.pacing_rate(), now);
        report_congestion(port, now);
    }

    template <class Port>
    void request_missing(Port& port, time_point now, stats& st) {
        roll_epoch(now);
        std::size_t sent = 0;
        bool deferred = false;
        std::optional<time_point> next;
        rx_.for_each_missing([&](receive_buffer::slot& s) {
            if (failure_) return;
            if (now - s.missing_since >= cfg_.give_up_after) {
                fail_session(st);
                return;
            }
            // A gap may be reordering: request once three later packets arrived, or once a
            // packet more than three numbers later arrived (QUIC's packet threshold) within a
            // burst's reach of it, or after the reorder wait, whichever is first. The reach keeps
            // one packet numbered far ahead one piece of evidence: it makes only the numbers
            // just below it overdue, not every number down to the edge. Once a request proved
            // spurious, only the (widened) wait counts, as RACK does (RFC 8985 §6.2).
            const std::uint64_t behind = rx_.end() - s.pn;
            const bool counted = !reordering_seen_ &&
                                 (arrivals_ - s.arrivals_at >= reorder_threshold ||
                                  (behind > reorder_threshold && behind <= reorder_threshold + burst_reach));
            const time_point waited = s.missing_since + reorder_wait();
            const bool overdue = !cfg_.tolerate_reordering || counted || now >= waited;
            if (!overdue && s.requests == 0) {
                if (!next || waited < *next) next = waited;
                return;
            }
            if (s.next_request <= now && sent < cfg_.max_requests_per_round &&
                requests_epoch_ >= request_budget()) {
                // the budget of this RTT is spent: the rest waits for the next epoch
                deferred = true;
                const time_point due = epoch_start_ + epoch_length();
                if (!next || due < *next) next = due;
                return;
            }
            if (s.next_request <= now && sent < cfg_.max_requests_per_round) {
                if (!port.send_request(s.pn, now)) {
                    // the core cannot send now (queue full, session ending): retry later, so
                    // the timer always moves forward
                    s.next_request = now + cfg_.min_request_interval;
                    if (!next || s.next_request < *next) next = s.next_request;
                    return;
                }
                ++sent;
                ++requests_epoch_;
                ++st.requests_sent;
                if (s.requests == 0) s.first_request = now;
                if (s.requests > 0) ++st.requests_repeated;
                ++s.requests;
                // Back off to at most 4× the base: a lost request or retransmission is the
                // common case under heavy loss, and every wait blocks the delivery behind it.
                const duration base = std::max<duration>(2 * rtt(), cfg_.min_request_interval);
                std::uint32_t doublings = std::min<std::uint32_t>(s.requests - 1, 2);
                if (cfg_.back_off_until_rtt_sample && !rtt_est_.has_sample()) {
                    // No RTT sample yet (the server of an upload sends no DATA: its only samples
                    // are answers to numbers it requested once). Karn's rule takes no sample from
                    // the answer to a repeated request, so with the 4× cap on a path longer than
                    // 4 × 2 × initial_rtt every number was requested again before its answer came
                    // and no sample was ever taken. As RFC 6298 §5.5 keeps the backed-off timer
                    // until a valid sample, a number requested a third time (where the 4× cap
                    // begins) raises the session's backoff one doubling beyond, which new gaps start from
                    // (max_request_interval still bounds the wait), so one is soon answered before
                    // its repeat. A short path answers before the third request: nothing changes.
                    if (s.requests >= 3) {
                        request_backoff_ = std::min<unsigned>(std::max<unsigned>(request_backoff_, s.requests), 16);
                    }
                    doublings = std::max<std::uint32_t>(doublings, request_backoff_);
                }
                const duration wait = std::min<duration>(base * (1U << doublings), cfg_.max_request_interval);
                s.next_request = now + wait;
            }
            const time_point due = std::min(s.next_request, s.missing_since + cfg_.give_up_after);
            if (!next || due < *next) next = due;
        });
        next_request_ = next;
        if (deferred) {
            ++st.requests_deferred;
            if (!refusal_reported_) {  // once per epoch: the observer hears of it, not a storm
                refusal_reported_ = true;
                port.report_refusal(core::refusal::request_budget, now);
            }
        }
    }

    /// Records the delivery-rate state of packet `pn` (`size` bytes, held in the send buffer)
    /// sent at `now`.
    void stamp_rate(std::uint64_t pn, std::size_t size, time_point now) noexcept {
        // P.tx_in_flight from the bytes held, inferred delivered or not (infer_from_request):
        // the controller's loss checks (lost since send > 2% of tx_in_flight) keep the measure
        // they were tuned to. From the pipe, a ~90-packet flight at 1% random loss crossed 2%
        // about as often as not (the losses declared during the round trip, plus the packet)
        // and bbr's inflight_hi spiralled down (2.1 Mbit/s of 20 at one seed).
        tx_.set_rate_state(pn, sampler_.on_sent(size, tx_.bytes_held() - size, now));
    }

    void fail_session(stats& st) noexcept {
        if (failure_) return;
        failure_ = make_error_code(reliable::errc::unrecoverable_loss);
        ++st.gave_up;
    }

    config cfg_;
    core::role side_;
    bool raw_data_ = false;
    send_buffer tx_;
    receive_buffer rx_;
    congestion::rtt_estimator rtt_est_;
    Controller cc_;
    congestion::pacer pacer_{core::max_datagram_size};
    congestion::delivery_rate_sampler sampler_;
    duration last_sample_{};  ///< the RTT sample of the KEEP_ALIVE being handled, zero if none
    time_point last_now_{};   ///< the latest time the session was told (for can_send)
    time_point last_congestion_report_{};
    std::optional<time_point> next_request_;
    std::error_code failure_;
    std::size_t unacked_received_ = 0;
    std::size_t sent_since_solicit_ = 0;
    time_point first_unacked_received_{};
    time_point last_keep_alive_{};
    time_point last_ack_progress_{};
    time_point last_probe_{};
    unsigned probe_backoff_ = 0;
    // re-request backoff kept across gaps until the first RTT sample (see request_missing)
    unsigned request_backoff_ = 0;
    std::uint64_t last_echoed_ = 0;  ///< newest KEEP_ALIVE timestamp the server echoed
    std::uint64_t peer_stamp_ = 0;   ///< server: newest client KEEP_ALIVE timestamp received
    bool draining_ = false;
    time_point keep_alive_retry_{};  ///< a KEEP_ALIVE the core refused is due again then
    // The request budget (see config::request_floor): arrivals of numbered packets, in total
    // (for the reorder threshold) and per RTT epoch, and the requests of this epoch.
    std::uint64_t arrivals_ = 0;
    std::size_t arrivals_epoch_ = 0;
    std::size_t arrivals_prev_ = 0;
    std::size_t requests_epoch_ = 0;
    time_point epoch_start_{};
    bool refusal_reported_ = false;
    // reordering (see reorder_wait, judge_request)
    bool reordering_seen_ = false;
    unsigned reorder_quarters_ = 1;
    unsigned genuine_answers_ = 0;
    // wire v2 path validation (server): a candidate address, and the probe sent only there
    bool candidate_ = false;
    std::optional<std::uint64_t> probe_pn_;
    bool probe_valid_ = false;
};

/// The session with today's behaviour: a fixed window of `config::send_window` datagrams.
using session = basic_session<congestion::fixed_window>;

}  // namespace neutrino::reliable::detail
