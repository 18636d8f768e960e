#pragma once
/// \file
/// `basic_rendezvous_client`: the sans-IO client side of the rendezvous protocol of p2p.md
/// §7.3: registration with its lease and keepalive, loss and re-registration with back-off
/// (§7.5 "Server registration"), the own reflexive address and its changes (§7.6),
/// CONNECT, and the INTRODUCE / PEER_UPDATE / ERROR messages the server pushes.
///
/// Like the server core it speaks control messages (rendezvous_message.hpp) as plaintext
/// bytes: the caller runs the encrypted neutrino session to the server's pinned key (§7.2)
/// and moves the bytes.
///
/// Inputs: `start(now)` (first REGISTER), `handle_control(message, now)` (one message from the
/// server's session), `connect(peer, now)` (CONNECT with a fresh attempt id),
/// `set_host_candidates(candidates, now)` (re-REGISTER), `close(now)` (BYE) and
/// `handle_deadline(now)` when `deadline()` passes (keepalive, loss, back-off, CONNECT expiry).
/// Outputs: `poll_control()` (messages to send to the server), `poll_event()`, `stats()`.
///
/// Registration: REGISTER at `start`, resent with back-off (1, 2, 4 … 30 s by default) until a
/// REGISTERED comes (`rendezvous_registered`). Then a KEEPALIVE every `keepalive` (at most a
/// third of the lease the server granted). When neither a REGISTERED nor a KEEPALIVE_ACK came for
/// `loss_timeout` (3 keepalive intervals by default; at most the lease): `rendezvous_lost`,
/// REGISTER at once and then with back-off; the next REGISTERED gives `rendezvous_registered` and
/// `rendezvous_restored`. An ERROR not_registered (the server forgot us) re-registers at once.
/// A KEEPALIVE_ACK showing another reflexive address gives `own_address_changed` and a
/// re-REGISTER with the current host candidates (the server then sends PEER_UPDATE to the
/// peers introduced to us).
///
/// Introductions (§7.2): an INTRODUCE whose public key does not hash to its node id is dropped
/// and counted (`dropped_forged`): the server cannot make us talk to a key of its choice under
/// a peer's id. Unsolicited INTRODUCEs are normal (we are the responder of someone's CONNECT),
/// but are validated the same way. `puncher_config_for` turns an introduction into the
/// configuration of a `basic_puncher` with the PROBE key of both static keys.
///
/// Bounded state allocated at construction: `max_attempts` pending CONNECTs, `max_introduced`
/// introduced peers remembered (PEER_UPDATE from others is dropped), `max_outgoing` queued
/// messages, `max_events` events. No allocation and no exception after construction. Not
/// thread-safe.

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
#include <utility>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/p2p/candidate.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/puncher.hpp"
#include "neutrino/p2p/rendezvous_message.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::p2p {

inline constexpr std::size_t secret_key_size = 32;  ///< X25519
using secret_key_bytes = std::array<std::byte, secret_key_size>;

/// Timers of a rendezvous client (§7.5); tests shorten them.
struct rendezvous_client_timers {
    duration keepalive = std::chrono::seconds(15);  ///< between KEEPALIVEs; > 0
    /// No REGISTERED or KEEPALIVE_ACK for this long (or for the lease, if shorter) while
    /// registered = lost; > `keepalive`.
    duration loss_timeout = std::chrono::seconds(45);
    duration backoff_initial = std::chrono::seconds(1);   ///< first REGISTER resend; > 0
    duration backoff_max = std::chrono::seconds(30);      ///< back-off cap; >= backoff_initial
    duration connect_timeout = std::chrono::seconds(10);  ///< CONNECT without answer; > 0
};

/// Configuration of a rendezvous client; checked by the constructor.
struct rendezvous_client_config {
    public_key_bytes public_key{};           ///< our static X25519 key; node id = node_id_of(it)
    secret_key_bytes secret_key{};           ///< its secret half (copied, wiped by the client)
    std::vector<std::byte> realm;            ///< 0..64 bytes; empty = the default realm
    std::vector<std::byte> token;            ///< 0..64 bytes; empty = none
    std::vector<candidate> host_candidates;  ///< 0..7, `host` or `ipv6`, IPv4/IPv6 addresses
    std::uint8_t capabilities = 0;           ///< `capability_*` bits
    rendezvous_client_timers timers{};
    std::size_t max_attempts = 16;  ///< pending CONNECTs; > 0
    std::size_t max_outgoing = 8;   ///< queued control messages; > 0
    std::size_t max_events = 64;    ///< queued events; > 0 (when full the newest is dropped)
};

/// Events of the client; values only (no views).
/// A REGISTERED arrived for our REGISTER: the server sees us at `reflexive`.
struct rendezvous_registered {
    peer_address reflexive;
    duration lease{};
};
/// No REGISTERED or KEEPALIVE_ACK for `loss_timeout`; re-registering with back-off. Peer
/// sessions are unaffected (§7.5).
struct rendezvous_lost {};
/// A REGISTERED after `rendezvous_lost`.
struct rendezvous_restored {
    peer_address reflexive;
};
/// A KEEPALIVE_ACK showed another reflexive address (§7.6) and a REGISTER was queued, or a
/// REGISTERED showed another one than the last known (after a loss, say).
struct own_address_changed {
    peer_address old_address;
    peer_address new_address;
};
/// An INTRODUCE that passed the checks: everything a puncher needs (`puncher_config_for`).
/// `punch_secret` is secret: wipe the event when done.
struct introduction {
    node_id peer{};
    public_key_bytes peer_key{};
    candidate_list candidates;
    std::uint64_t attempt_id = 0;
    bool initiator = false;  ///< we have the smaller node id (§7.4.4)
    punch_secret_bytes punch_secret{};
    std::uint64_t relay_id = 0;
    std::uint64_t start_time_ms = 0;  ///< server time
    bool solicited = false;           ///< answers a `connect` of ours (else we are the target)
};
/// PEER_UPDATE: a peer introduced to us has new candidates (§7.6).
struct peer_update {
    node_id peer{};
    candidate_list candidates;
};
/// An ERROR from the server. For a CONNECT (`attempt_id` != 0) `peer` is its target.
struct rendezvous_refused {
    rendezvous_error code = rendezvous_error::not_found;
    std::uint64_t attempt_id = 0;
    node_id peer{};
};
/// A CONNECT got neither INTRODUCE nor ERROR within `connect_timeout`.
struct connect_timed_out {
    node_id peer{};
    std::uint64_t attempt_id = 0;
};
using rendezvous_client_event =
    std::variant<rendezvous_registered, rendezvous_lost, rendezvous_restored, own_address_changed,
                 introduction, peer_update, rendezvous_refused, connect_timed_out>;

/// Counters of a client; every dropped message is in exactly one `dropped_*` counter.
struct rendezvous_client_stats {
    std::uint64_t registers_sent = 0;
    std::uint64_t keepalives_sent = 0;
    std::uint64_t connects_sent = 0;
    std::uint64_t byes_sent = 0;
    std::uint64_t registered = 0;  ///< REGISTEREDs accepted
    std::uint64_t keepalive_acks = 0;
    std::uint64_t introductions = 0;
    std::uint64_t peer_updates = 0;
    std::uint64_t errors = 0;  ///< ERRORs accepted
    std::uint64_t losses = 0;
    std::uint64_t restores = 0;
    std::uint64_t address_changes = 0;
    std::uint64_t connects_timed_out = 0;
    std::uint64_t dropped_malformed = 0;   ///< did not decode, or an INTRODUCE naming ourselves
    std::uint64_t dropped_unexpected = 0;  ///< wrong direction, or answering nothing we sent
    std::uint64_t dropped_forged = 0;      ///< INTRODUCE key not hashing to its node id
    std::uint64_t dropped_role = 0;        ///< INTRODUCE role against the node-id order
    std::uint64_t dropped_closed = 0;      ///< before `start` or after `close`
    std::uint64_t dropped_queue_full = 0;  ///< messages of ours not queued (queue full)
    std::uint64_t events_dropped = 0;

    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_malformed + dropped_unexpected + dropped_forged + dropped_role +
               dropped_closed;
    }
};

/// The rendezvous client. `Random` (random.hpp) draws attempt ids.
template <random_source Random = system_random>
class basic_rendezvous_client {
public:
    using event_type = rendezvous_client_event;

    /// Introduced peers remembered for PEER_UPDATE (the oldest is forgotten first).
    static constexpr std::size_t max_introduced = 16;
    /// Host candidates a REGISTER may carry (the server adds the reflexive one as the 8th).
    static constexpr std::size_t max_host_candidates = max_rendezvous_candidates - 1;

    /// The registration state.
    enum class state : std::uint8_t {
        idle,         ///< constructed; `start` not called
        registering,  ///< REGISTER sent, never registered yet (back-off resends)
        registered,   ///< registered; keepalives
        lost,         ///< was registered, the server stopped answering; back-off resends
        closed        ///< `close` was called
    };

    /// Throws `std::invalid_argument` when the secret key does not give the public key, a timer
    /// is out of the bounds on `rendezvous_client_timers`, realm or token is above 64 bytes,
    /// there are more than 7 host candidates or one that is not `host`/`ipv6` with an IP
    /// address, or a bound is 0.
    explicit basic_rendezvous_client(rendezvous_client_config cfg, Random random = Random{})
        : timers_(cfg.timers),
          public_key_(cfg.public_key),
          secret_key_(cfg.secret_key),
          self_(node_id_of(cfg.public_key)),
          capabilities_(cfg.capabilities),
          random_(std::move(random)) {
        sodium_memzero(cfg.secret_key.data(), cfg.secret_key.size());
        public_key_bytes derived{};
        if (crypto_scalarmult_base(reinterpret_cast<unsigned char*>(derived.data()),
                                   reinterpret_cast<const unsigned char*>(secret_key_.data())) !=
                0 ||
            derived != public_key_) {
            throw std::invalid_argument("rendezvous_client: secret key does not match public key");
        }
        const auto& t = timers_;
        if (t.keepalive <= duration::zero() || t.loss_timeout <= t.keepalive ||
            t.backoff_initial <= duration::zero() || t.backoff_max < t.backoff_initial ||
            t.connect_timeout <= duration::zero()) {
            throw std::invalid_argument("rendezvous_client: bad timers");
        }
        if (cfg.realm.size() > max_rendezvous_bytes_size ||
            cfg.token.size() > max_rendezvous_bytes_size) {
            throw std::invalid_argument("rendezvous_client: realm or token above 64 bytes");
        }
        if (cfg.max_attempts == 0 || cfg.max_outgoing == 0 || cfg.max_events == 0) {
            throw std::invalid_argument("rendezvous_client: a bound is 0");
        }
        if (!set_candidates(cfg.host_candidates)) {
            throw std::invalid_argument("rendezvous_client: bad host candidates");
        }
        realm_size_ = cfg.realm.size();
        if (realm_size_ != 0) std::memcpy(realm_.data(), cfg.realm.data(), realm_size_);
        token_size_ = cfg.token.size();
        if (token_size_ != 0) std::memcpy(token_.data(), cfg.token.data(), token_size_);
        sodium_memzero(cfg.token.data(), cfg.token.size());
        attempts_.resize(cfg.max_attempts);
        outgoing_.resize(cfg.max_outgoing);
        events_.resize(cfg.max_events);
    }

    basic_rendezvous_client(const basic_rendezvous_client&) = delete;
    basic_rendezvous_client& operator=(const basic_rendezvous_client&) = delete;
    ~basic_rendezvous_client() {
        sodium_memzero(secret_key_.data(), secret_key_.size());
        sodium_memzero(token_.data(), token_.size());
        for (auto& e : events_) {
            if (auto* i = std::get_if<introduction>(&e)) {
                sodium_memzero(i->punch_secret.data(), i->punch_secret.size());
            }
        }
    }

    /// Our node id.
    [[nodiscard]] const node_id& self() const noexcept { return self_; }
    [[nodiscard]] state current_state() const noexcept { return state_; }
    /// The reflexive address of the last REGISTERED or KEEPALIVE_ACK (none before).
    [[nodiscard]] const peer_address& reflexive() const noexcept { return reflexive_; }
    [[nodiscard]] const rendezvous_client_stats& stats() const noexcept { return stats_; }

    /// Queues the first REGISTER. Error: `rendezvous_client_closed` unless idle.
    result<void> start(time_point now) noexcept {
        if (state_ != state::idle) return fail(errc::rendezvous_client_closed);
        state_ = state::registering;
        last_heard_ = now;
        begin_backoff(now);
        return {};
    }

    /// One control message received in the server session.
    /// Errors (dropped and counted; no state change):
    /// - `rendezvous_*` decode errors (rendezvous_message.hpp), and `rendezvous_bad_field` for
    ///   an INTRODUCE or PEER_UPDATE naming ourselves: malformed.
    /// - `rendezvous_unexpected_message`: REGISTER, KEEPALIVE, CONNECT or BYE; a REGISTERED
    ///   without a REGISTER outstanding; a KEEPALIVE_ACK of a sequence not outstanding; an
    ///   ERROR for an attempt id we have not pending; a PEER_UPDATE for a peer not introduced.
    /// - `rendezvous_peer_key_mismatch`: an INTRODUCE whose key does not hash to its node id.
    /// - `rendezvous_role_mismatch`: an INTRODUCE whose role contradicts the node-id order.
    /// - `rendezvous_client_closed`: before `start` or after `close`.
    result<void> handle_control(std::span<const std::byte> message, time_point now) noexcept {
        if (state_ == state::idle || state_ == state::closed) {
            ++stats_.dropped_closed;
            return fail(errc::rendezvous_client_closed);
        }
        auto decoded = decode_rendezvous(message);
        if (!decoded) {
            ++stats_.dropped_malformed;
            return tl::unexpected(decoded.error());
        }
        if (const auto* m = std::get_if<registered_message>(&*decoded)) {
            return on_registered(*m, now);
        }
        if (const auto* m = std::get_if<keepalive_ack_message>(&*decoded)) {
            return on_keepalive_ack(*m, now);
        }
        if (auto* m = std::get_if<introduce_message>(&*decoded)) {
            auto r = on_introduce(*m);
            sodium_memzero(m->punch_secret.data(), m->punch_secret.size());
            return r;
        }
        if (const auto* m = std::get_if<peer_update_message>(&*decoded)) return on_peer_update(*m);
        if (const auto* m = std::get_if<error_message>(&*decoded)) return on_error(*m, now);
        return drop(stats_.dropped_unexpected, errc::rendezvous_unexpected_message);
    }

    /// Asks the server to introduce us to `peer`: queues CONNECT with a fresh nonzero attempt id
    /// and returns it. The answer is an `introduction` (solicited), a `rendezvous_refused` or,
    /// after `connect_timeout`, `connect_timed_out`.
    /// Errors: `rendezvous_client_closed` (not started or closed), `rendezvous_not_registered`
    /// (not registered yet, or re-registering after an ERROR not_registered), `rendezvous_lost`
    /// (the server stopped answering; re-registering), `rendezvous_not_found` (`peer` is
    /// ourselves), `rendezvous_too_many_attempts` (`max_attempts` pending),
    /// `rendezvous_queue_full`.
    result<std::uint64_t> connect(const node_id& peer, time_point now) noexcept {
        if (state_ == state::idle || state_ == state::closed) {
            return fail(errc::rendezvous_client_closed);
        }
        if (state_ == state::lost) return fail(errc::rendezvous_lost);
        if (state_ != state::registered) return fail(errc::rendezvous_not_registered);
        if (peer == self_) return fail(errc::rendezvous_not_found);
        expire_attempts(now);
        auto slot = std::find_if(attempts_.begin(), attempts_.end(),
                                 [](const attempt& a) { return !a.used; });
        if (slot == attempts_.end()) return fail(errc::rendezvous_too_many_attempts);
        std::uint64_t id = 0;
        do {
            id = random_.uniform(1, UINT64_MAX);
        } while (find_attempt(id) != nullptr);
        if (!enqueue(connect_message{peer, id})) return fail(errc::rendezvous_queue_full);
        *slot = attempt{true, id, peer, now + timers_.connect_timeout};
        ++stats_.connects_sent;
        return id;
    }

    /// Replaces our host candidates and, when registered or registering, queues a REGISTER
    /// carrying them (§7.6 local interface change). Nothing is sent when they are unchanged.
    /// Errors (nothing changes): `rendezvous_too_many_candidates` (more than 7),
    /// `rendezvous_bad_address` (not IPv4/IPv6, or a kind other than host/ipv6),
    /// `rendezvous_client_closed`.
    result<void> set_host_candidates(std::span<const candidate> candidates,
                                     time_point now) noexcept {
        if (state_ == state::closed) return fail(errc::rendezvous_client_closed);
        if (candidates.size() > max_host_candidates) {
            return fail(errc::rendezvous_too_many_candidates);
        }
        const candidate_list before = host_;
        if (!set_candidates(candidates)) return fail(errc::rendezvous_bad_address);
        if (host_ == before || state_ == state::idle) return {};
        if (state_ == state::registered) {
            send_register();
        } else {
            begin_backoff(now);  // registering or lost: resend now with the new candidates
        }
        return {};
    }

    /// Unregisters: queues BYE (when a REGISTER was ever sent), forgets pending CONNECTs and
    /// stops every timer. Error: `rendezvous_queue_full` (closed anyway; the lease expires on
    /// the server), `rendezvous_client_closed` (already closed).
    result<void> close(time_point /*now*/) noexcept {
        if (state_ == state::closed) return fail(errc::rendezvous_client_closed);
        const bool sent_register = state_ != state::idle;
        state_ = state::closed;
        for (auto& a : attempts_) a.used = false;
        register_pending_ = false;
        if (!sent_register) return {};
        if (!enqueue(bye_message{})) return fail(errc::rendezvous_queue_full);
        ++stats_.byes_sent;
        return {};
    }

    /// The next control message to send to the server, or nothing. The span points into the
    /// client and is valid until the next call of a non-const member.
    std::optional<std::span<const std::byte>> poll_control() noexcept {
        if (outgoing_size_ == 0) return std::nullopt;
        current_ = outgoing_[outgoing_head_];
        outgoing_head_ = (outgoing_head_ + 1) % outgoing_.size();
        --outgoing_size_;
        return std::span<const std::byte>(current_.bytes.data(), current_.size);
    }

    /// The next event, or nothing.
    std::optional<event_type> poll_event() noexcept {
        if (events_size_ == 0) return std::nullopt;
        event_type& slot = events_[events_head_];
        event_type e = slot;
        if (auto* i = std::get_if<introduction>(&slot)) {
            sodium_memzero(i->punch_secret.data(), i->punch_secret.size());
        }
        events_head_ = (events_head_ + 1) % events_.size();
        --events_size_;
        return e;
    }

    /// The earliest of: the next REGISTER resend, the next KEEPALIVE, the loss deadline, the
    /// expiry of a pending CONNECT. `nullopt` when idle or closed.
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        std::optional<time_point> t;
        auto consider = [&t](time_point x) { t = t ? std::min(*t, x) : x; };
        switch (state_) {
            case state::idle:
            case state::closed: return std::nullopt;
            case state::registering:
            case state::lost: consider(next_register_); break;
            case state::registered:
                consider(next_keepalive_);
                consider(last_heard_ + loss_interval());
                break;
        }
        for (const auto& a : attempts_) {
            if (a.used) consider(a.expires);
        }
        return t;
    }

    /// Runs the timers due at `now`: CONNECT expiry (`connect_timed_out`), loss
    /// (`rendezvous_lost`, REGISTER at once), REGISTER resends with back-off, KEEPALIVE.
    void handle_deadline(time_point now) noexcept {
        if (state_ == state::idle || state_ == state::closed) return;
        expire_attempts(now);
        if (state_ == state::registered && now >= last_heard_ + loss_interval()) {
            // spec: p2p.md §7.5 (on loss, re-register with back-off, emit RendezvousLost)
            state_ = state::lost;
            ++stats_.losses;
            emit(rendezvous_lost{});
            begin_backoff(now);
            return;
        }
        if (state_ == state::registering || state_ == state::lost) {
            if (now >= next_register_) resend_register(now);
            return;
        }
        if (now >= next_keepalive_) {
            if (enqueue(keepalive_message{++sequence_})) ++stats_.keepalives_sent;
            next_keepalive_ = now + keepalive_interval();
        }
    }

    /// The configuration of a puncher for `intro` (an event of this client): our node id, the
    /// peer's, the attempt id, the PROBE key `probe_key(punch secret, X25519(our secret key,
    /// peer key))` (§7.2: the server, knowing only the punch secret, cannot compute it), and
    /// `intro.candidates`. The returned `candidates` span views `intro`, which must outlive the
    /// puncher's construction; wipe `key` if the config is not handed to a puncher (which wipes
    /// its copy). The puncher derives the initiator from the node ids, as INTRODUCE does.
    /// Error: `rendezvous_weak_peer_key` (the X25519 output is all zero: a low-order key).
    [[nodiscard]] result<puncher_config> puncher_config_for(
        const introduction& intro, punch_schedule schedule = {}) const noexcept {
        std::array<std::byte, 32> shared{};
        if (crypto_scalarmult(reinterpret_cast<unsigned char*>(shared.data()),
                              reinterpret_cast<const unsigned char*>(secret_key_.data()),
                              reinterpret_cast<const unsigned char*>(intro.peer_key.data())) != 0) {
            sodium_memzero(shared.data(), shared.size());
            return fail(errc::rendezvous_weak_peer_key);
        }
        puncher_config c{};
        c.self = self_;
        c.peer = intro.peer;
        c.attempt_id = intro.attempt_id;
        c.key = probe_key(intro.punch_secret, shared);
        sodium_memzero(shared.data(), shared.size());
        c.candidates = intro.candidates.view();
        c.schedule = schedule;
        return c;
    }

private:
    struct attempt {
        bool used = false;
        std::uint64_t id = 0;
        node_id peer{};
        time_point expires{};
    };
    struct queued {
        std::array<std::byte, max_rendezvous_message_size> bytes{};
        std::size_t size = 0;
    };

    static bool less(const node_id& a, const node_id& b) noexcept {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    }

    result<void> drop(std::uint64_t& counter, errc e) noexcept {
        ++counter;
        return fail(e);
    }

    void emit(const event_type& e) noexcept {
        if (events_size_ == events_.size()) {
            ++stats_.events_dropped;
            return;
        }
        events_[(events_head_ + events_size_) % events_.size()] = e;
        ++events_size_;
    }

    bool enqueue(const rendezvous_message& m) noexcept {
        if (outgoing_size_ == outgoing_.size()) {
            ++stats_.dropped_queue_full;
            return false;
        }
        queued& q = outgoing_[(outgoing_head_ + outgoing_size_) % outgoing_.size()];
        const auto n = encode_rendezvous(m, q.bytes);
        if (!n) return false;  // cannot happen: values checked on the way in
        q.size = *n;
        ++outgoing_size_;
        return true;
    }

    bool set_candidates(std::span<const candidate> cs) noexcept {
        if (cs.size() > max_host_candidates) return false;
        candidate_list list;
        for (const auto& c : cs) {
            if (!c.address.is_ip() ||
                (c.kind != candidate_kind::host && c.kind != candidate_kind::ipv6)) {
                return false;
            }
            list.push_back(c);
        }
        host_ = list;
        return true;
    }

    void send_register() noexcept {
        const register_message m{self_, std::span<const std::byte>(realm_.data(), realm_size_),
                                 std::span<const std::byte>(token_.data(), token_size_), host_,
                                 capabilities_};
        if (enqueue(m)) {
            ++stats_.registers_sent;
            register_pending_ = true;
        }
    }

    // A REGISTER now, then resends after backoff_initial, twice that, … up to backoff_max.
    void begin_backoff(time_point now) noexcept {
        backoff_ = timers_.backoff_initial;
        resend_register(now);
    }
    void resend_register(time_point now) noexcept {
        send_register();
        next_register_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, timers_.backoff_max);
    }

    [[nodiscard]] duration keepalive_interval() const noexcept {
        // at least three keepalives per lease, whatever the configured interval
        if (lease_ > duration::zero()) return std::min(timers_.keepalive, lease_ / 3);
        return timers_.keepalive;
    }

    [[nodiscard]] duration loss_interval() const noexcept {
        // a registration not confirmed for a whole lease has expired on the server
        if (lease_ > duration::zero()) return std::min(timers_.loss_timeout, lease_);
        return timers_.loss_timeout;
    }

    attempt* find_attempt(std::uint64_t id) noexcept {
        for (auto& a : attempts_) {
            if (a.used && a.id == id) return &a;
        }
        return nullptr;
    }

    void expire_attempts(time_point now) noexcept {
        for (auto& a : attempts_) {
            if (a.used && a.expires <= now) {
                a.used = false;
                ++stats_.connects_timed_out;
                emit(connect_timed_out{a.peer, a.id});
            }
        }
    }

    void remember_introduction(const node_id& peer) noexcept {
        for (std::size_t i = 0; i < introduced_count_; ++i) {
            if (introduced_[i] == peer) return;
        }
        introduced_[introduced_next_] = peer;
        introduced_next_ = (introduced_next_ + 1) % max_introduced;
        introduced_count_ = std::min(introduced_count_ + 1, max_introduced);
    }

    result<void> on_registered(const registered_message& m, time_point now) noexcept {
        if (!register_pending_) {
            return drop(stats_.dropped_unexpected, errc::rendezvous_unexpected_message);
        }
        register_pending_ = false;
        const bool was_lost = state_ == state::lost;
        const bool first = state_ != state::registered;
        state_ = state::registered;
        const peer_address old = reflexive_;
        reflexive_ = m.reflexive;
        lease_ = std::chrono::seconds(m.lease_seconds);
        last_heard_ = now;
        if (first) next_keepalive_ = now + keepalive_interval();
        ++stats_.registered;
        emit(rendezvous_registered{m.reflexive, lease_});
        if (old.is_ip() && old != m.reflexive) {
            // moved while (re-)registering: this REGISTER already carried our candidates
            ++stats_.address_changes;
            emit(own_address_changed{old, m.reflexive});
        }
        if (was_lost) {
            ++stats_.restores;
            emit(rendezvous_restored{m.reflexive});
        }
        return {};
    }

    result<void> on_keepalive_ack(const keepalive_ack_message& m, time_point now) noexcept {
        // only the acks of keepalives sent since the last one acknowledged
        if (state_ != state::registered || m.sequence <= acked_ || m.sequence > sequence_) {
            return drop(stats_.dropped_unexpected, errc::rendezvous_unexpected_message);
        }
        acked_ = m.sequence;
        last_heard_ = now;
        ++stats_.keepalive_acks;
        if (m.reflexive != reflexive_) {
            // spec: p2p.md §7.6 (a new reflexive address triggers a re-REGISTER)
            const peer_address old = reflexive_;
            reflexive_ = m.reflexive;
            ++stats_.address_changes;
            emit(own_address_changed{old, m.reflexive});
            send_register();
        }
        return {};
    }

    result<void> on_introduce(const introduce_message& m) noexcept {
        if (m.peer == self_) {
            return drop(stats_.dropped_malformed, errc::rendezvous_bad_field);
        }
        // spec: p2p.md §7.2 (the node id is the hash of the key: the server cannot substitute
        // a key of its own under the peer's id)
        if (node_id_of(m.peer_key) != m.peer) {
            return drop(stats_.dropped_forged, errc::rendezvous_peer_key_mismatch);
        }
        if (m.initiator != less(self_, m.peer)) {
            return drop(stats_.dropped_role, errc::rendezvous_role_mismatch);
        }
        bool solicited = false;
        if (attempt* a = find_attempt(m.attempt_id); a != nullptr && a->peer == m.peer) {
            a->used = false;
            solicited = true;
        }
        introduction e{m.peer,         m.peer_key, m.candidates,    m.attempt_id, m.initiator,
                       m.punch_secret, m.relay_id, m.start_time_ms, solicited};
        remember_introduction(m.peer);
        ++stats_.introductions;
        emit(e);
        sodium_memzero(e.punch_secret.data(), e.punch_secret.size());
        return {};
    }

    result<void> on_peer_update(const peer_update_message& m) noexcept {
        if (m.peer == self_) return drop(stats_.dropped_malformed, errc::rendezvous_bad_field);
        const bool known =
            std::find(introduced_.begin(),
                      introduced_.begin() + static_cast<std::ptrdiff_t>(introduced_count_),
                      m.peer) !=
            introduced_.begin() + static_cast<std::ptrdiff_t>(introduced_count_);
        if (!known) return drop(stats_.dropped_unexpected, errc::rendezvous_unexpected_message);
        ++stats_.peer_updates;
        emit(peer_update{m.peer, m.candidates});
        return {};
    }

    result<void> on_error(const error_message& m, time_point now) noexcept {
        node_id peer{};
        if (m.attempt_id != 0) {
            attempt* a = find_attempt(m.attempt_id);
            if (a == nullptr) {
                return drop(stats_.dropped_unexpected, errc::rendezvous_unexpected_message);
            }
            peer = a->peer;
            a->used = false;
        }
        ++stats_.errors;
        emit(rendezvous_refused{m.code, m.attempt_id, peer});
        if (m.code == rendezvous_error::not_registered && state_ == state::registered) {
            // the server forgot our registration (restart, expired lease): register again
            state_ = state::registering;
            begin_backoff(now);
        }
        return {};
    }

    rendezvous_client_timers timers_;
    public_key_bytes public_key_;
    secret_key_bytes secret_key_;
    node_id self_;
    std::array<std::byte, max_rendezvous_bytes_size> realm_{};
    std::size_t realm_size_ = 0;
    std::array<std::byte, max_rendezvous_bytes_size> token_{};
    std::size_t token_size_ = 0;
    candidate_list host_;
    std::uint8_t capabilities_ = 0;
    Random random_;

    state state_ = state::idle;
    peer_address reflexive_;
    duration lease_{};
    bool register_pending_ = false;
    time_point last_heard_{};
    time_point next_register_{};
    time_point next_keepalive_{};
    duration backoff_{};
    std::uint64_t sequence_ = 0;  ///< last KEEPALIVE sequence sent
    std::uint64_t acked_ = 0;     ///< last KEEPALIVE sequence acknowledged

    std::vector<attempt> attempts_;
    std::array<node_id, max_introduced> introduced_{};
    std::size_t introduced_count_ = 0;
    std::size_t introduced_next_ = 0;

    std::vector<queued> outgoing_;
    std::size_t outgoing_head_ = 0;
    std::size_t outgoing_size_ = 0;
    queued current_{};
    std::vector<event_type> events_;
    std::size_t events_head_ = 0;
    std::size_t events_size_ = 0;
    rendezvous_client_stats stats_{};
};

/// The client with the system's randomness.
using rendezvous_client = basic_rendezvous_client<>;

}  // namespace neutrino::p2p
