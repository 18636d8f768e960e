#pragma once
/// \file
/// `basic_path_manager`: the paths to one peer (p2p.md §7.5, §7.6) as a sans-IO machine. It
/// carries the upper layer's datagrams over the direct path while that path is alive and over
/// the rendezvous server's relay otherwise, keeps the direct path alive with authenticated
/// keepalive PROBEs, falls back to the relay when it lapses, re-probes it and switches back with
/// hysteresis, and moves the peer's direct address only after a PROBE to the new address is
/// echoed (passive migration).
///
/// Framing (what the far side's path manager unwraps):
/// - direct: `0x01 | payload` to the peer's direct address (§7.1);
/// - relayed: `0x04 | relay id (8, LE) | 0x01 | payload` to the server, which forwards it
///   unchanged (§7.3); the inner byte is the direct path's envelope, so what is relayed is
///   exactly the direct datagram behind a relay header (10 bytes of overhead in all);
/// - PROBEs (probe.hpp, 57 bytes) go on the direct path only, never relayed.
///
/// Rules (each is tested in `tests/path_manager_test.cpp`):
/// - *Authenticated* means a PROBE whose MAC verifies under the peer's PROBE key, from the
///   peer's node id, of our attempt id: a request (fresh nonce, not among the last
///   `max_answered` answered), or a reply echoing one of our last `max_outstanding` nonces *from
///   the address that nonce went to*, once (a second echo of a nonce is `probe_unknown_echo`).
///   Residual risk: a request older than the last `max_answered` can be replayed (PROBEs carry
///   no time), answered with one same-size reply; replayed from the direct address it refreshes
///   liveness. Echoes cannot be replayed.
/// - Liveness (§7.5): the direct path is alive while an authenticated PROBE arrived from the
///   direct address within `liveness`. Peer data (`0x01`) never counts: it is the upper layer's
///   end-to-end ciphertext, which this layer cannot verify, so a spoofed source could otherwise
///   keep a dead path "alive". For the same reason the keepalive is sent on a schedule of its own:
///   a PROBE request to the direct address when no PROBE was sent to it for `keepalive`, whether
///   or not data was sent (a data datagram proves nothing to the peer either). Cost: one 57-byte
///   request and one reply per `keepalive` in each direction.
/// - Lapse: `path_down{direct}` and `path_switched{relay}` at once; from then on the last direct
///   address is probed every `reprobe`; `switch_back_after` consecutive re-probes echoed (a round
///   whose request is not echoed before the next round resets the count) bring `path_up{direct}`
///   and `path_switched{direct}`.
/// - Passive migration (§7.6): an authenticated request from a source that is not the direct
///   address is answered and starts a validation (a request with a fresh nonce to that source);
///   the direct address becomes that source only when the echo arrives from it
///   (`peer_address_changed`). An unauthenticated or replayed packet moves nothing. When the
///   direct path is down (or there was none: relay first) the validated source becomes the
///   re-probe target, its echo counting as the first of the `switch_back_after`.
/// - Peer data is accepted from the direct address, from a source being validated, and relayed
///   from the server with our relay id; anything else is dropped (`path_unknown_source`).
///
/// The relay itself is not monitored here (the rendezvous client's registration keepalive does
/// that, §7.5); it is reported up once at construction.
///
/// Bounded state, no allocation after construction: `max_send_queue` payloads to send,
/// `max_receive_queue` received payloads, each at most `max_payload_size` bytes;
/// `max_outstanding` nonces an echo may name, `max_answered` request nonces remembered for
/// replay, `max_replies` replies and `max_requests` requests waiting, `max_events` events. No
/// exceptions but the constructor's `std::invalid_argument`.
///
/// Satisfies `neutrino::datagram_layer`. Not thread-safe.

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <variant>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::p2p {

/// The timers of §7.5. Tests shorten them.
struct path_timers {
    /// A keepalive PROBE goes to the direct address when none was sent for this long; > 0.
    duration keepalive = std::chrono::seconds(10);
    /// The direct path is alive while an authenticated PROBE arrived within this; > keepalive.
    duration liveness = std::chrono::seconds(15);
    /// While the direct path is down, its last address is probed this often; > 0.
    duration reprobe = std::chrono::seconds(10);
    /// Consecutive validated re-probes before switching back to direct; >= 1.
    unsigned switch_back_after = 2;
};

/// What a path manager is told about its peer, by an introduction and a punch (§7.3, §7.4).
struct path_config {
    node_id self{};              ///< our node id (sender of our PROBEs)
    node_id peer{};              ///< the peer's node id (the only PROBE sender accepted)
    std::uint64_t attempt_id{};  ///< the introduction's attempt id, carried by every PROBE
    probe_key_bytes key{};       ///< the PROBE key of `probe_key` (wiped by the manager)
    peer_address server{};       ///< the rendezvous server (relay) address
    std::uint64_t relay_id = 0;  ///< the introduction's relay id
    /// The direct address a puncher validated (`pair_selected` / `pair_validated`); empty:
    /// start on the relay (punch failed, or relay first).
    std::optional<peer_address> direct;
    path_timers timers{};
};

/// Which path.
enum class path_kind : std::uint8_t { direct, relay };

/// A path became usable: the relay at construction, direct at construction (when given), after
/// switch-back or `use_direct`. `remote` is the peer's direct address or the server.
struct path_up {
    path_kind kind = path_kind::direct;
    peer_address remote;
};
/// The direct path lapsed (no authenticated PROBE within `liveness`).
struct path_down {
    path_kind kind = path_kind::direct;
    peer_address remote;
};
/// Sending now goes over `to` (to `remote`).
struct path_switched {
    path_kind to = path_kind::relay;
    peer_address remote;
};
/// The peer's direct address moved (passive migration, §7.6): an echo from `to` validated it.
struct peer_address_changed {
    peer_address from;
    peer_address to;
};
/// What `basic_path_manager::poll_event` returns.
using path_event = std::variant<path_up, path_down, path_switched, peer_address_changed>;

/// Counters of a path manager; every dropped datagram is in exactly one `dropped_*` counter.
struct path_stats {
    std::uint64_t data_sent_direct = 0;
    std::uint64_t data_sent_relayed = 0;
    std::uint64_t data_received_direct = 0;
    std::uint64_t data_received_relayed = 0;
    std::uint64_t requests_sent = 0;  ///< keepalives, re-probes and validations
    std::uint64_t replies_sent = 0;
    std::uint64_t requests_received = 0;  ///< authenticated requests (answered)
    std::uint64_t replies_received = 0;   ///< authenticated replies
    std::uint64_t migrations = 0;         ///< direct address changes
    std::uint64_t fallbacks = 0;          ///< direct → relay
    std::uint64_t switch_backs = 0;       ///< relay → direct
    std::uint64_t dropped_malformed = 0;  ///< empty, unknown envelope, bad PROBE or relay framing
    std::uint64_t dropped_unauthenticated = 0;  ///< PROBE: attempt, sender, MAC, unknown echo
    std::uint64_t dropped_replayed = 0;         ///< PROBE request nonce already answered
    std::uint64_t dropped_unknown_source = 0;   ///< data from an address not the peer's
    std::uint64_t dropped_wrong_relay = 0;      ///< relayed data of another relay id
    std::uint64_t dropped_too_large = 0;        ///< data payload above `max_payload_size`
    std::uint64_t dropped_queue_full = 0;       ///< receive, reply or request queue full

    /// Every dropped datagram, whatever the reason.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_malformed + dropped_unauthenticated + dropped_replayed +
               dropped_unknown_source + dropped_wrong_relay + dropped_too_large +
               dropped_queue_full;
    }
};

/// The direct and relayed paths to one peer. `Random` (random.hpp) draws the PROBE nonces.
template <random_source Random = system_random>
class basic_path_manager {
public:
    using event_type = path_event;

    static constexpr std::size_t max_payload_size = 1400;  ///< upper-layer datagram, bytes
    /// `0x04 | relay id | 0x01`: the most a payload grows by on the wire.
    static constexpr std::size_t overhead_size = relay_header_size + 1;
    static constexpr std::size_t max_send_queue = 32;
    static constexpr std::size_t max_receive_queue = 32;
    static constexpr std::size_t max_outstanding = 16;
    static constexpr std::size_t max_answered = 32;
    static constexpr std::size_t max_replies = 8;
    static constexpr std::size_t max_requests = 4;
    static constexpr std::size_t max_events = 16;

    /// Starts at `now`: `path_up{relay}`, then, when `cfg.direct` is set, `path_up{direct}` with
    /// the direct path current and alive until `now + liveness`; else sending starts on the
    /// relay (and the direct path is found by passive migration or `use_direct`).
    /// Throws `std::invalid_argument` when `self == peer`, the server or the direct address has
    /// no address family, or the timers are out of range (see `path_timers`).
    basic_path_manager(const path_config& cfg, time_point now, Random random = Random{})
        : self_(cfg.self),
          peer_(cfg.peer),
          attempt_(cfg.attempt_id),
          key_(cfg.key),
          server_(cfg.server),
          relay_id_(cfg.relay_id),
          timers_(cfg.timers),
          random_(std::move(random)) {
        if (cfg.self == cfg.peer) throw std::invalid_argument("path_manager: self == peer");
        if (cfg.server.family == peer_address::family_type::none ||
            (cfg.direct && cfg.direct->family == peer_address::family_type::none)) {
            throw std::invalid_argument("path_manager: address without family");
        }
        if (timers_.keepalive <= duration::zero() || timers_.liveness <= timers_.keepalive ||
            timers_.reprobe <= duration::zero() || timers_.switch_back_after == 0) {
            throw std::invalid_argument("path_manager: bad timers");
        }
        push(path_up{path_kind::relay, server_});
        if (cfg.direct) {
            bring_up(*cfg.direct, now, false);
        }
    }

    basic_path_manager(const basic_path_manager&) = delete;
    basic_path_manager& operator=(const basic_path_manager&) = delete;
    ~basic_path_manager() { sodium_memzero(key_.data(), key_.size()); }

    /// Queues one upper-layer datagram; it goes out (framed for the current path) from
    /// `poll_datagram`. Errors: `path_payload_too_large` (above `max_payload_size`),
    /// `path_queue_full` (`max_send_queue` waiting).
    result<void> send(std::span<const std::byte> payload, time_point /*now*/) noexcept {
        if (payload.size() > max_payload_size) return fail(errc::path_payload_too_large);
        if (send_.size == max_send_queue) return fail(errc::path_queue_full);
        auto& slot = send_.items[(send_.head + send_.size) % max_send_queue];
        if (!payload.empty()) std::memcpy(slot.bytes.data(), payload.data(), payload.size());
        slot.size = payload.size();
        ++send_.size;
        return {};
    }

    /// Copies the next received upper-layer datagram into `out` and returns its size; `nullopt`
    /// when none is waiting. One longer than `out` is truncated to `out.size()` (give
    /// `max_payload_size` bytes to never truncate).
    std::optional<std::size_t> poll_received(std::span<std::byte> out) noexcept {
        if (recv_.size == 0) return std::nullopt;
        const auto& slot = recv_.items[recv_.head];
        const std::size_t n = std::min(slot.size, out.size());
        if (n != 0) std::memcpy(out.data(), slot.bytes.data(), n);
        recv_.head = (recv_.head + 1) % max_receive_queue;
        --recv_.size;
        return n;
    }

    /// Uses `remote`, validated elsewhere (a puncher's late `pair_validated`, relay-first
    /// upgrade), as the direct path at once: `path_up{direct}` and `path_switched{direct}` when
    /// sending was on the relay, `peer_address_changed` when another direct address was up.
    void use_direct(const peer_address& remote, time_point now) noexcept {
        if (remote.family == peer_address::family_type::none) return;
        if (up_) {
            if (remote != direct_) migrate_to(remote);
            last_auth_ = now;
            return;
        }
        bring_up(remote, now, true);
    }

    /// One datagram received from `from` on the node's socket: peer data direct (`0x01`),
    /// relayed data from the server (`0x04 | relay id | 0x01 | payload`), or a PROBE (`0x02`).
    /// Never throws. Errors (the datagram is dropped and counted): `envelope_empty`,
    /// `bad_envelope_type`, `relay_truncated`, `probe_bad_size`, `probe_no_nonce` (malformed);
    /// `probe_wrong_attempt`, `probe_wrong_sender`, `probe_bad_mac`, `probe_unknown_echo`,
    /// `probe_echo_wrong_source` (unauthenticated PROBE); `probe_replayed`;
    /// `path_unknown_source` (data from neither the peer's known addresses nor the server);
    /// `relay_unknown` (relayed data with another relay id); `path_payload_too_large`;
    /// `path_queue_full` (receive, reply or request queue full).
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) noexcept {
        if (in.empty()) return drop(stats_.dropped_malformed, errc::envelope_empty);
        switch (static_cast<envelope_type>(in[0])) {
            case envelope_type::peer_data: {
                if (!(has_direct_ && from == direct_) && !(pending_ && pending_->to == from)) {
                    return drop(stats_.dropped_unknown_source, errc::path_unknown_source);
                }
                auto r = deliver(in.subspan(1));
                if (r) ++stats_.data_received_direct;
                return r;
            }
            case envelope_type::relayed_data: {
                if (from != server_) {
                    return drop(stats_.dropped_unknown_source, errc::path_unknown_source);
                }
                const auto d = decode_relayed(in);
                if (!d) return drop(stats_.dropped_malformed, d.error());
                if (d->relay_id != relay_id_) {
                    return drop(stats_.dropped_wrong_relay, errc::relay_unknown);
                }
                if (d->payload.empty()) return drop(stats_.dropped_malformed, errc::envelope_empty);
                if (d->payload[0] != std::byte{0x01}) {
                    return drop(stats_.dropped_malformed, errc::bad_envelope_type);
                }
                auto r = deliver(d->payload.subspan(1));
                if (r) ++stats_.data_received_relayed;
                return r;
            }
            case envelope_type::peer_control: return on_probe(in, from, now);
            default: return drop(stats_.dropped_malformed, errc::bad_envelope_type);
        }
    }

    /// Writes the next datagram into `out` (at least `max_payload_size + overhead_size`
    /// bytes, or `probe_size` for PROBEs): PROBE replies first, then PROBE requests, then data
    /// framed for the current path. `nullopt` when nothing is due or `out` is too small for it.
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) noexcept {
        if (replies_.size != 0 && out.size() >= probe_size) {
            const reply r = replies_.items[replies_.head];
            replies_.head = (replies_.head + 1) % max_replies;
            --replies_.size;
            write(out, probe{attempt_, self_, 0, r.nonce});
            ++stats_.replies_sent;
            return transmit{probe_size, r.to};
        }
        if (requests_.size != 0 && out.size() >= probe_size) {
            const reply q = requests_.items[requests_.head];
            requests_.head = (requests_.head + 1) % max_requests;
            --requests_.size;
            write(out, probe{attempt_, self_, q.nonce, 0});
            ++stats_.requests_sent;
            if (has_direct_ && q.to == direct_) last_probe_sent_ = now;
            return transmit{probe_size, q.to};
        }
        if (send_.size != 0) {
            const auto& slot = send_.items[send_.head];
            if (out.size() < slot.size + overhead_size) return std::nullopt;
            transmit t;
            // spec: p2p.md §7.1 (0x01 | payload), §7.3 (0x04 | relay id | payload)
            if (up_) {
                out[0] = std::byte{0x01};
                std::memcpy(out.data() + 1, slot.bytes.data(), slot.size);
                t = transmit{slot.size + 1, direct_};
                ++stats_.data_sent_direct;
            } else {
                std::array<std::byte, 1> inner{std::byte{0x01}};
                // Cannot fail: the size was checked. The payload goes after the header.
                (void)encode_relayed(relay_id_, inner, out);
                std::memcpy(out.data() + overhead_size, slot.bytes.data(), slot.size);
                t = transmit{slot.size + overhead_size, server_};
                ++stats_.data_sent_relayed;
            }
            send_.head = (send_.head + 1) % max_send_queue;
            --send_.size;
            return t;
        }
        return std::nullopt;
    }

    /// The next event, `nullopt` when there is none.
    std::optional<path_event> poll_event() noexcept {
        if (events_.size == 0) return std::nullopt;
        const path_event e = events_.items[events_.head];
        events_.head = (events_.head + 1) % max_events;
        --events_.size;
        return e;
    }

    /// While direct is up: the earlier of the next keepalive and the liveness lapse. While it is
    /// down with an address to probe: the next re-probe. `nullopt` otherwise.
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        if (up_) {
            return std::min(last_probe_sent_ + timers_.keepalive, last_auth_ + timers_.liveness);
        }
        if (has_direct_) return next_reprobe_;
        return std::nullopt;
    }

    /// Runs the timers: the lapse (`path_down{direct}`, `path_switched{relay}`), a keepalive
    /// request when due, a re-probe round when due (missed rounds are skipped, not bunched).
    void handle_deadline(time_point now) noexcept {
        if (up_) {
            if (now >= last_auth_ + timers_.liveness) {
                up_ = false;
                ++stats_.fallbacks;
                push(path_down{path_kind::direct, direct_});
                push(path_switched{path_kind::relay, server_});
                consecutive_ = 0;
                round_nonce_ = 0;
                round_validated_ = false;
                next_reprobe_ = now + timers_.reprobe;
                return;
            }
            if (now >= last_probe_sent_ + timers_.keepalive) {
                last_probe_sent_ = now;  // one keepalive per interval, even if not yet polled
                (void)request(direct_);
            }
            return;
        }
        if (has_direct_ && now >= next_reprobe_) {
            if (!round_validated_) consecutive_ = 0;  // the last round was not echoed
            round_validated_ = false;
            if (auto n = request(direct_)) round_nonce_ = *n;
            while (next_reprobe_ <= now) next_reprobe_ += timers_.reprobe;
        }
    }

    /// Whether sending goes over the direct path.
    [[nodiscard]] bool direct_is_current() const noexcept { return up_; }
    /// The peer's direct address (current, or the one being re-probed); `nullopt` if none yet.
    [[nodiscard]] std::optional<peer_address> direct_address() const noexcept {
        if (!has_direct_) return std::nullopt;
        return direct_;
    }
    /// The source under validation for passive migration, if any.
    [[nodiscard]] std::optional<peer_address> validating() const noexcept {
        if (!pending_) return std::nullopt;
        return pending_->to;
    }
    [[nodiscard]] const path_stats& stats() const noexcept { return stats_; }

private:
    struct buffer {
        std::array<std::byte, max_payload_size> bytes{};
        std::size_t size = 0;
    };
    template <class T, std::size_t N>
    struct ring {
        std::array<T, N> items{};
        std::size_t head = 0;
        std::size_t size = 0;
    };
    struct reply {
        peer_address to;
        std::uint64_t nonce = 0;  // echoed (reply) or fresh (request)
    };

    result<void> drop(std::uint64_t& counter, std::error_code e) noexcept {
        ++counter;
        return tl::unexpected(e);
    }
    result<void> drop(std::uint64_t& counter, errc e) noexcept {
        return drop(counter, make_error_code(e));
    }

    result<void> deliver(std::span<const std::byte> payload) noexcept {
        if (payload.size() > max_payload_size) {
            return drop(stats_.dropped_too_large, errc::path_payload_too_large);
        }
        if (recv_.size == max_receive_queue) {
            return drop(stats_.dropped_queue_full, errc::path_queue_full);
        }
        auto& slot = recv_.items[(recv_.head + recv_.size) % max_receive_queue];
        if (!payload.empty()) std::memcpy(slot.bytes.data(), payload.data(), payload.size());
        slot.size = payload.size();
        ++recv_.size;
        return {};
    }

    result<void> on_probe(std::span<const std::byte> in, const peer_address& from,
                          time_point now) noexcept {
        const auto peeked = peek_probe(in);
        if (!peeked) return drop(stats_.dropped_malformed, peeked.error());
        if (peeked->attempt_id != attempt_) {
            return drop(stats_.dropped_unauthenticated, errc::probe_wrong_attempt);
        }
        if (peeked->sender != peer_) {
            return drop(stats_.dropped_unauthenticated, errc::probe_wrong_sender);
        }
        const auto p = decode_probe(in, key_);
        if (!p) return drop(stats_.dropped_unauthenticated, errc::probe_bad_mac);
        if (p->echo_nonce != 0) return on_reply(*p, from, now);
        if (p->nonce == 0) return drop(stats_.dropped_malformed, errc::probe_no_nonce);
        return on_request(*p, from, now);
    }

    // spec: p2p.md §7.4 step 3 (answer S echoing its nonce), §7.5, §7.6
    result<void> on_request(const probe& p, const peer_address& from, time_point now) noexcept {
        // Nonces are random and never reused by the peer: any repeat is a replay.
        for (std::size_t i = 0; i < answered_.size; ++i) {
            if (answered_.items[i] == p.nonce) {
                return drop(stats_.dropped_replayed, errc::probe_replayed);
            }
        }
        if (replies_.size == max_replies) {
            return drop(stats_.dropped_queue_full, errc::path_queue_full);
        }
        answered_.items[answered_.head] = p.nonce;
        answered_.head = (answered_.head + 1) % max_answered;
        answered_.size = std::min(answered_.size + 1, max_answered);
        replies_.items[(replies_.head + replies_.size) % max_replies] = reply{from, p.nonce};
        ++replies_.size;
        ++stats_.requests_received;
        if (has_direct_ && from == direct_) {
            if (up_) last_auth_ = now;  // §7.5: an authenticated packet on the direct path
            return {};
        }
        // §7.6: a new source; validate it with a fresh nonce, move nothing yet. One validation
        // at a time; the same source is not re-validated more than once per re-probe interval.
        if (pending_ && pending_->to == from && now - pending_at_ < timers_.reprobe) return {};
        if (auto n = request(from)) {
            pending_ = reply{from, *n};
            pending_at_ = now;
        }
        return {};
    }

    // A reply validates when it echoes one of our recent nonces from where that nonce went.
    result<void> on_reply(const probe& p, const peer_address& from, time_point now) noexcept {
        reply* match = nullptr;
        for (std::size_t i = 0; i < outstanding_.size; ++i) {
            if (outstanding_.items[i].nonce == p.echo_nonce) match = &outstanding_.items[i];
        }
        if (match == nullptr) {
            return drop(stats_.dropped_unauthenticated, errc::probe_unknown_echo);
        }
        if (match->to != from) {
            return drop(stats_.dropped_unauthenticated, errc::probe_echo_wrong_source);
        }
        match->nonce = 0;  // one echo per nonce: a replayed echo proves nothing (never matches 0)
        ++stats_.replies_received;
        if (pending_ && pending_->nonce == p.echo_nonce) {
            pending_.reset();
            if (up_) {
                migrate_to(from);
                last_auth_ = now;
            } else {
                if (has_direct_ && direct_ != from) {
                    push(peer_address_changed{direct_, from});
                    ++stats_.migrations;
                }
                direct_ = from;
                has_direct_ = true;
                count_validation(now, true);
            }
            return {};
        }
        if (!has_direct_ || from != direct_) return {};  // a late echo of an abandoned address
        if (up_) {
            last_auth_ = now;
        } else if (p.echo_nonce == round_nonce_ && !round_validated_) {
            count_validation(now, false);
        }
        return {};
    }

    // One validated re-probe round while down (hysteresis of §7.5).
    void count_validation(time_point now, bool migration) noexcept {
        round_validated_ = true;
        if (migration) {
            // The validation stands for a round; the next round, one interval on, probes the
            // new address (with relay first, this starts the rounds).
            consecutive_ = 1;
            next_reprobe_ = now + timers_.reprobe;
        } else {
            ++consecutive_;
        }
        if (consecutive_ >= timers_.switch_back_after) bring_up(direct_, now, true);
    }

    void bring_up(const peer_address& remote, time_point now, bool switched) noexcept {
        direct_ = remote;
        has_direct_ = true;
        up_ = true;
        last_auth_ = now;
        last_probe_sent_ = now;  // the path was just proven; first keepalive one interval on
        consecutive_ = 0;
        push(path_up{path_kind::direct, direct_});
        if (switched) {
            ++stats_.switch_backs;
            push(path_switched{path_kind::direct, direct_});
        }
    }

    void migrate_to(const peer_address& to) noexcept {
        push(peer_address_changed{direct_, to});
        ++stats_.migrations;
        direct_ = to;
    }

    // Queues a request with a fresh nonce to `to`; the nonce, or nullopt when the queue is full.
    std::optional<std::uint64_t> request(const peer_address& to) noexcept {
        if (requests_.size == max_requests) {
            ++stats_.dropped_queue_full;
            return std::nullopt;
        }
        const std::uint64_t nonce = random_.uniform(1, UINT64_MAX);
        requests_.items[(requests_.head + requests_.size) % max_requests] = reply{to, nonce};
        ++requests_.size;
        outstanding_.items[outstanding_.head] = reply{to, nonce};
        outstanding_.head = (outstanding_.head + 1) % max_outstanding;
        outstanding_.size = std::min(outstanding_.size + 1, max_outstanding);
        return nonce;
    }

    void push(const path_event& e) noexcept {
        if (events_.size == max_events) return;  // the application stopped polling: drop newest
        events_.items[(events_.head + events_.size) % max_events] = e;
        ++events_.size;
    }

    void write(std::span<std::byte> out, const probe& p) const noexcept {
        (void)encode_probe(p, key_, out);  // cannot fail: the caller checked the size
    }

    node_id self_;
    node_id peer_;
    std::uint64_t attempt_;
    probe_key_bytes key_;
    peer_address server_;
    std::uint64_t relay_id_;
    path_timers timers_;
    Random random_;

    peer_address direct_{};
    bool has_direct_ = false;
    bool up_ = false;
    time_point last_auth_{};
    time_point last_probe_sent_{};
    time_point next_reprobe_{};
    std::uint64_t round_nonce_ = 0;
    bool round_validated_ = false;
    unsigned consecutive_ = 0;
    std::optional<reply> pending_;
    time_point pending_at_{};

    ring<buffer, max_send_queue> send_;
    ring<buffer, max_receive_queue> recv_;
    ring<reply, max_replies> replies_;
    ring<reply, max_requests> requests_;
    ring<reply, max_outstanding> outstanding_;  // head = next slot to overwrite
    ring<std::uint64_t, max_answered> answered_;
    ring<path_event, max_events> events_;
    path_stats stats_;
};

/// The path manager with the system's CSPRNG for nonces.
using path_manager = basic_path_manager<>;

static_assert(datagram_layer<path_manager>);

}  // namespace neutrino::p2p
