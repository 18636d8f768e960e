#pragma once
/// \file
/// `basic_puncher`: one hole-punch attempt towards one peer (p2p.md §7.4), as a sans-IO
/// machine. It is given the peer's candidates (host, IPv6, reflexive) by an introduction, sends
/// a PROBE to each of them every `interval` for `timeout`, answers the peer's PROBEs, learns
/// addresses nobody announced (peer-reflexive), validates a pair when a PROBE echoing one of
/// its recent nonces arrives from the address that nonce went to, and ends with the initiator's
/// choice of the best validated pair or with `punch_failed`.
///
/// Request and reply are both PROBEs (probe.hpp): a *request* carries a fresh nonce and echo
/// nonce 0; a *reply* echoes the request's nonce and carries nonce 0, so replies are never
/// answered (no ping-pong) and a reply is exactly as large as its request (57 bytes).
///
/// Anti-amplification and replay (§7.2): only PROBEs that verify under the key are answered,
/// with one datagram of the same size; a request nonce is answered at most once per interval
/// while it is among the last `max_answered` answered (an older replay is answered again, still
/// at most one same-size datagram per replayed one).
///
/// Bounded state, no allocation after construction: at most `max_candidates` announced and
/// `max_learned` learned candidates, the last `max_outstanding` nonces sent, the last
/// `max_answered` nonces answered, `max_replies` replies waiting to be sent.
///
/// Satisfies `neutrino::datagram_layer`, so the inspector's network (or a driver) can run it
/// directly. Not thread-safe.

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <variant>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/p2p/candidate.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::p2p {

/// The probe schedule of §7.4 step 2. Tests shorten it.
struct punch_schedule {
    duration interval = std::chrono::milliseconds(100);  ///< between rounds of PROBEs; > 0
    duration timeout = std::chrono::seconds(5);          ///< from `start` to `punch_failed`; > 0
    /// After the first validated pair, how long to wait for a better one before settling
    /// (at once when the pair is of the best kind among the candidates); >= 0.
    duration settle = std::chrono::milliseconds(300);
};

/// What a puncher is told by an introduction (§7.3 INTRODUCE) or by `connect_direct` (§7.4.6).
/// The candidates are copied at construction; the span need not outlive the constructor.
struct puncher_config {
    node_id self{};                         ///< our node id (sender of our PROBEs)
    node_id peer{};                         ///< the peer's node id (the only sender we accept)
    std::uint64_t attempt_id{};             ///< the introduction's attempt id
    probe_key_bytes key{};                  ///< the PROBE key of `probe_key` (wiped by the puncher)
    std::span<const candidate> candidates;  ///< the peer's addresses, any order
    punch_schedule schedule{};
};

/// Events of a puncher; the addresses are values (no views).
/// A PROBE of ours to `remote` was echoed from `remote` (§7.4 step 4); once per candidate.
/// It may still come after `punch_failed` (a late echo): a direct path to upgrade to.
struct pair_validated {
    peer_address remote;
    candidate_kind kind = candidate_kind::reflexive;
};
/// Initiator only, once: the pair to run the end-to-end handshake over (§7.4 step 4).
struct pair_selected {
    peer_address remote;
    candidate_kind kind = candidate_kind::reflexive;
};
/// A valid request came from an unannounced address, now a `peer_reflexive` candidate
/// (§7.4 step 3).
struct candidate_learned {
    peer_address remote;
};
/// Once: no pair validated by the deadline (§7.4 step 5); the session should use the relay.
struct punch_failed {
    std::error_code reason;  ///< `errc::punch_timed_out`
};
/// What `basic_puncher::poll_event` returns.
using puncher_event = std::variant<pair_validated, pair_selected, candidate_learned, punch_failed>;

/// Counters of a puncher; every dropped datagram is in exactly one `dropped_*` counter.
struct puncher_stats {
    std::uint64_t requests_sent = 0;      ///< scheduled PROBEs
    std::uint64_t replies_sent = 0;       ///< PROBEs echoing a request
    std::uint64_t requests_received = 0;  ///< valid requests (answered)
    std::uint64_t replies_received = 0;   ///< valid replies (validating a pair)
    std::uint64_t dropped_malformed = 0;  ///< empty, not 0x02, not 57 bytes, no nonce
    std::uint64_t dropped_wrong_attempt = 0;
    std::uint64_t dropped_wrong_sender = 0;
    std::uint64_t dropped_bad_mac = 0;
    std::uint64_t dropped_unknown_echo = 0;
    std::uint64_t dropped_echo_wrong_source = 0;
    std::uint64_t dropped_replayed = 0;
    std::uint64_t dropped_queue_full = 0;
    std::uint64_t learned_over_limit = 0;  ///< answered, but not learned (`max_learned` held)

    /// Every dropped datagram, whatever the reason.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_malformed + dropped_wrong_attempt + dropped_wrong_sender + dropped_bad_mac +
               dropped_unknown_echo + dropped_echo_wrong_source + dropped_replayed +
               dropped_queue_full;
    }
};

/// One punch attempt towards one peer. `Random` (random.hpp `random_source`) draws the nonces.
template <random_source Random = system_random>
class basic_puncher {
public:
    using event_type = puncher_event;

    static constexpr std::size_t max_candidates = 8;     ///< announced candidates
    static constexpr std::size_t max_learned = 4;        ///< peer-reflexive candidates
    static constexpr std::size_t max_outstanding = 128;  ///< nonces an echo may name
    static constexpr std::size_t max_answered = 32;      ///< nonces remembered for replay
    static constexpr std::size_t max_replies = 16;       ///< replies waiting to be sent
    static constexpr std::size_t max_events = 32;

    /// The state of the attempt.
    enum class state : std::uint8_t {
        idle,       ///< constructed; answers PROBEs, sends none
        probing,    ///< `start` was called; probing every interval
        succeeded,  ///< settled on a validated pair; answers PROBEs only
        failed      ///< deadline passed with nothing validated; answers PROBEs only
    };

    /// Throws `std::invalid_argument` when `self == peer`, there are more than
    /// `max_candidates` candidates, a candidate has no address family or is of kind
    /// `peer_reflexive`, or the schedule has a non-positive interval or timeout or a negative
    /// settle time.
    explicit basic_puncher(const puncher_config& cfg, Random random = Random{})
        : self_(cfg.self),
          peer_(cfg.peer),
          attempt_(cfg.attempt_id),
          key_(cfg.key),
          schedule_(cfg.schedule),
          initiator_(std::lexicographical_compare(cfg.self.begin(), cfg.self.end(),
                                                  cfg.peer.begin(), cfg.peer.end())),
          random_(std::move(random)) {
        if (cfg.self == cfg.peer) throw std::invalid_argument("puncher: self == peer");
        if (cfg.candidates.size() > max_candidates) {
            throw std::invalid_argument("puncher: too many candidates");
        }
        if (schedule_.interval <= duration::zero() || schedule_.timeout <= duration::zero() ||
            schedule_.settle < duration::zero()) {
            throw std::invalid_argument("puncher: bad schedule");
        }
        for (const auto& c : cfg.candidates) {
            if (c.address.family == peer_address::family_type::none ||
                c.kind == candidate_kind::peer_reflexive) {
                throw std::invalid_argument("puncher: bad candidate");
            }
            if (find(c.address)) continue;  // duplicates are probed once
            slots_[count_++] = slot{c, false};
        }
        // §7.4 step 2: host, then IPv6, then reflexive; stable for equal kinds.
        std::stable_sort(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(count_),
                         [](const slot& a, const slot& b) { return a.c.kind < b.c.kind; });
    }

    basic_puncher(const basic_puncher&) = delete;
    basic_puncher& operator=(const basic_puncher&) = delete;
    ~basic_puncher() { sodium_memzero(key_.data(), key_.size()); }

    /// Starts the attempt at `now`: the first round of PROBEs is due at once, the attempt
    /// fails at `now + timeout`. No effect unless idle.
    void start(time_point now) noexcept {
        if (state_ != state::idle) return;
        state_ = state::probing;
        end_ = now + schedule_.timeout;
        next_round_ = now + schedule_.interval;
        cursor_ = 0;
    }

    /// One received datagram from `from`. Only PROBEs of this attempt from the peer are
    /// accepted; a request is answered (to `from`, echoing its nonce) and `from` is learned if
    /// unannounced; a reply validates the pair it names. Any state, no exceptions.
    /// Errors (the datagram is dropped and counted): `envelope_empty`, `bad_envelope_type`,
    /// `probe_bad_size`, `probe_no_nonce` (malformed); `probe_wrong_attempt`,
    /// `probe_wrong_sender`, `probe_bad_mac`, `probe_unknown_echo`, `probe_echo_wrong_source`
    /// (unauthenticated); `probe_replayed` (a request nonce answered less than an interval
    /// ago); `puncher_queue_full` (the reply could not be queued).
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) noexcept {
        const auto peeked = peek_probe(in);
        if (!peeked) {
            ++stats_.dropped_malformed;
            return tl::unexpected(peeked.error());
        }
        if (peeked->attempt_id != attempt_)
            return drop(stats_.dropped_wrong_attempt, errc::probe_wrong_attempt);
        if (peeked->sender != peer_)
            return drop(stats_.dropped_wrong_sender, errc::probe_wrong_sender);
        const auto p = decode_probe(in, key_);
        if (!p) return drop(stats_.dropped_bad_mac, errc::probe_bad_mac);
        if (p->echo_nonce != 0) return on_reply(*p, from, now);
        if (p->nonce == 0) return drop(stats_.dropped_malformed, errc::probe_no_nonce);
        return on_request(*p, from, now);
    }

    /// Writes the next PROBE into `out` (>= `probe_size` bytes): queued replies first, then the
    /// current round's requests in priority order. `nullopt` when nothing is due (or `out` is
    /// too small).
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point /*now*/) noexcept {
        if (out.size() < probe_size) return std::nullopt;
        if (replies_size_ != 0) {
            const reply r = replies_[replies_head_];
            replies_head_ = (replies_head_ + 1) % max_replies;
            --replies_size_;
            write(out, probe{attempt_, self_, 0, r.echo});
            ++stats_.replies_sent;
            return transmit{probe_size, r.to};
        }
        if (state_ == state::probing && cursor_ < count_) {
            const std::size_t index = cursor_++;
            const std::uint64_t nonce = random_.uniform(1, UINT64_MAX);
            outstanding_[outstanding_next_] = sent{nonce, index};
            outstanding_next_ = (outstanding_next_ + 1) % max_outstanding;
            outstanding_size_ = std::min(outstanding_size_ + 1, max_outstanding);
            write(out, probe{attempt_, self_, nonce, 0});
            ++stats_.requests_sent;
            return transmit{probe_size, slots_[index].c.address};
        }
        return std::nullopt;
    }

    /// The next event, `nullopt` when there is none.
    std::optional<puncher_event> poll_event() noexcept {
        if (events_size_ == 0) return std::nullopt;
        const puncher_event e = events_[events_head_];
        events_head_ = (events_head_ + 1) % max_events;
        --events_size_;
        return e;
    }

    /// The next round, the settle time or the failure deadline, whichever is first, while
    /// probing; `nullopt` otherwise.
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        if (state_ != state::probing) return std::nullopt;
        time_point t = std::min(next_round_, end_);
        if (settle_at_) t = std::min(t, *settle_at_);
        return t;
    }

    /// Runs the timers: settles (initiator: `pair_selected`) when the settle time has come,
    /// fails (`punch_failed{punch_timed_out}`) at the deadline with nothing validated, else
    /// starts a new round of PROBEs when one is due (rounds missed are skipped, not bunched).
    void handle_deadline(time_point now) noexcept {
        if (state_ != state::probing) return;
        if ((settle_at_ && now >= *settle_at_) || (now >= end_ && best_validated())) {
            settle();
            return;
        }
        if (now >= end_) {
            state_ = state::failed;
            push(punch_failed{make_error_code(errc::punch_timed_out)});
            return;
        }
        if (now >= next_round_) {
            cursor_ = 0;
            while (next_round_ <= now) next_round_ += schedule_.interval;
        }
    }

    [[nodiscard]] state current_state() const noexcept { return state_; }
    /// True when our node id is the smaller: we choose the pair (§7.4.4).
    [[nodiscard]] bool is_initiator() const noexcept { return initiator_; }
    /// The candidates in the order they are probed (announced by priority, then learned).
    [[nodiscard]] std::size_t candidate_count() const noexcept { return count_; }
    /// Precondition: `i < candidate_count()`.
    [[nodiscard]] const candidate& candidate_at(std::size_t i) const noexcept {
        return slots_[i].c;
    }
    /// Whether the candidate at `i` has been validated. Precondition: `i < candidate_count()`.
    [[nodiscard]] bool validated_at(std::size_t i) const noexcept { return slots_[i].validated; }
    /// The initiator's choice once `succeeded`; `nullopt` before, and always for the responder.
    [[nodiscard]] const std::optional<candidate>& selected() const noexcept { return selected_; }
    [[nodiscard]] const puncher_stats& stats() const noexcept { return stats_; }

private:
    struct slot {
        candidate c;
        bool validated = false;
    };
    struct sent {
        std::uint64_t nonce = 0;
        std::size_t index = 0;  // candidate slot it went to
    };
    struct answered {
        std::uint64_t nonce = 0;
        time_point at{};
    };
    struct reply {
        peer_address to;
        std::uint64_t echo = 0;
    };

    result<void> drop(std::uint64_t& counter, errc e) noexcept {
        ++counter;
        return fail(e);
    }

    [[nodiscard]] std::optional<std::size_t> find(const peer_address& a) const noexcept {
        for (std::size_t i = 0; i < count_; ++i) {
            if (slots_[i].c.address == a) return i;
        }
        return std::nullopt;
    }

    // §7.4 step 3: answer S echoing its nonce; learn S when nobody announced it.
    result<void> on_request(const probe& p, const peer_address& from, time_point now) noexcept {
        // Replay: one answer per nonce per interval, from a bounded ring of recent nonces.
        answered* seen = nullptr;
        for (std::size_t i = 0; i < answered_size_; ++i) {
            if (answered_[i].nonce == p.nonce) seen = &answered_[i];
        }
        if (seen != nullptr && now - seen->at < schedule_.interval) {
            return drop(stats_.dropped_replayed, errc::probe_replayed);
        }
        if (replies_size_ == max_replies) {
            return drop(stats_.dropped_queue_full, errc::puncher_queue_full);
        }
        if (seen != nullptr) {
            seen->at = now;
        } else {
            answered_[answered_next_] = answered{p.nonce, now};
            answered_next_ = (answered_next_ + 1) % max_answered;
            answered_size_ = std::min(answered_size_ + 1, max_answered);
        }
        replies_[(replies_head_ + replies_size_) % max_replies] = reply{from, p.nonce};
        ++replies_size_;
        ++stats_.requests_received;
        if (!find(from)) {
            // Appended after the round's cursor: while probing it gets a request in the
            // current round, right after the reply (it is the one address known to work).
            if (learned_ < max_learned) {
                slots_[count_++] = slot{candidate{from, candidate_kind::peer_reflexive}, false};
                ++learned_;
                push(candidate_learned{from});
            } else {
                ++stats_.learned_over_limit;
            }
        }
        return {};
    }

    // §7.4 step 4: a pair is validated when one of our recent nonces is echoed by the address
    // it was sent to (symmetric check, as in ICE).
    result<void> on_reply(const probe& p, const peer_address& from, time_point now) noexcept {
        const sent* match = nullptr;
        for (std::size_t i = 0; i < outstanding_size_; ++i) {
            if (outstanding_[i].nonce == p.echo_nonce) match = &outstanding_[i];
        }
        if (match == nullptr) return drop(stats_.dropped_unknown_echo, errc::probe_unknown_echo);
        slot& s = slots_[match->index];
        if (s.c.address != from) {
            return drop(stats_.dropped_echo_wrong_source, errc::probe_echo_wrong_source);
        }
        ++stats_.replies_received;
        if (!s.validated) {
            s.validated = true;
            push(pair_validated{s.c.address, s.c.kind});
            if (state_ == state::probing) {
                const auto best = best_validated();
                if (best && slots_[*best].c.kind == best_kind()) {
                    settle_at_ = now;  // nothing better can come
                } else if (!settle_at_) {
                    settle_at_ = now + schedule_.settle;
                }
            }
        }
        return {};
    }

    // The best validated candidate: lowest kind, then first in probe order.
    [[nodiscard]] std::optional<std::size_t> best_validated() const noexcept {
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < count_; ++i) {
            if (slots_[i].validated && (!best || slots_[i].c.kind < slots_[*best].c.kind)) {
                best = i;
            }
        }
        return best;
    }

    [[nodiscard]] candidate_kind best_kind() const noexcept {
        auto k = candidate_kind::peer_reflexive;
        for (std::size_t i = 0; i < count_; ++i) k = std::min(k, slots_[i].c.kind);
        return k;
    }

    void settle() noexcept {
        state_ = state::succeeded;
        settle_at_.reset();
        const auto best = best_validated();
        if (initiator_ && best) {
            selected_ = slots_[*best].c;
            push(pair_selected{selected_->address, selected_->kind});
        }
    }

    void push(const puncher_event& e) noexcept {
        if (events_size_ == max_events) return;  // cannot happen: at most 18 events an attempt
        events_[(events_head_ + events_size_) % max_events] = e;
        ++events_size_;
    }

    void write(std::span<std::byte> out, const probe& p) const noexcept {
        // Cannot fail: poll_datagram checked the size.
        (void)encode_probe(p, key_, out);
    }

    node_id self_;
    node_id peer_;
    std::uint64_t attempt_;
    probe_key_bytes key_;
    punch_schedule schedule_;
    bool initiator_;
    Random random_;

    state state_ = state::idle;
    time_point end_{};
    time_point next_round_{};
    std::optional<time_point> settle_at_;
    std::size_t cursor_ = max_candidates + max_learned;  // no round pending

    std::array<slot, max_candidates + max_learned> slots_{};
    std::size_t count_ = 0;
    std::size_t learned_ = 0;

    std::array<sent, max_outstanding> outstanding_{};
    std::size_t outstanding_next_ = 0;
    std::size_t outstanding_size_ = 0;

    std::array<answered, max_answered> answered_{};
    std::size_t answered_next_ = 0;
    std::size_t answered_size_ = 0;

    std::array<reply, max_replies> replies_{};
    std::size_t replies_head_ = 0;
    std::size_t replies_size_ = 0;

    std::array<puncher_event, max_events> events_{};
    std::size_t events_head_ = 0;
    std::size_t events_size_ = 0;

    std::optional<candidate> selected_;
    puncher_stats stats_;
};

/// The puncher with the system's CSPRNG for nonces.
using puncher = basic_puncher<>;

static_assert(datagram_layer<puncher>);

}  // namespace neutrino::p2p
