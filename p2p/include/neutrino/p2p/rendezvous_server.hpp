#pragma once
/// \file
/// `basic_rendezvous_server`: the sans-IO core of the rendezvous/relay server of p2p.md §7.3:
/// registrations with leases, admission, introductions, PEER_UPDATE, and the relay table. The
/// binary (`neutrino-rendezvous`) wraps it with the encrypted sessions, sockets and timers.
///
/// Inputs:
/// - `handle_control(client key, from, message, now)`: one control message (rendezvous_message.hpp)
///   received in the encrypted neutrino session of a client. The caller runs that session,
///   in which the client proved its static key (§7.2); `from` is the address the datagram
///   came from (the client's reflexive address). The node id is `node_id_of(client key)`, so
///   a REGISTER naming another node id is refused: an id cannot be claimed without its key.
/// - `handle_relayed(from, datagram, now)`: a datagram `0x04 | relay id | payload` received on
///   the server's socket (outside any session).
/// - `handle_deadline(now)` when `deadline()` passes: lease and relay idle expiry.
///
/// Outputs: `poll_control()` gives the control messages to send, each to a node (in that
/// node's session); `handle_relayed` returns where to forward the datagram (unchanged);
/// `poll_event()` reports what happened; `stats()` counts it.
///
/// Anti-amplification rule (§7.2): a reply to a request (REGISTERED, KEEPALIVE_ACK, ERROR) is
/// never larger than the request that caused it; one that would be is not sent (counted in
/// `replies_suppressed`, `errc::rendezvous_reply_too_large`). The message encoders pad requests
/// to `min_request_size` so that proper clients always get their replies. The only messages
/// that are not replies, INTRODUCE and PEER_UPDATE, go only to registered nodes, i.e. to
/// addresses that proved their key in a session. A relayed datagram is forwarded unchanged
/// (same size) and only between the two endpoints bound by an introduction, under a per-relay
/// token bucket.
///
/// Bounded state, allocated at construction: `max_registrations` registrations (each with at
/// most `max_introduced` introduced peers remembered for PEER_UPDATE), `max_relays` relays (at
/// most `max_relays_per_node` per node), `max_outgoing` queued control messages, `max_events`
/// events. No allocation, no exception after construction. Lookups scan the tables (O(n) in
/// the configured bounds). Not thread-safe.

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
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/p2p/candidate.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/rendezvous_message.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/ring.hpp"
#include "neutrino/time.hpp"

namespace neutrino::p2p {

/// How REGISTER is admitted (§7.2).
enum class admission_mode : std::uint8_t {
    open,        ///< any node that proved its key
    allow_list,  ///< only node ids in `allow_list`
    token,       ///< only a REGISTER carrying one of `tokens` (compared in constant time)
};

/// Configuration of a rendezvous server; checked by the constructor.
struct rendezvous_server_config {
    duration lease = std::chrono::seconds(60);       ///< registration lifetime; > 0, whole seconds
    std::size_t max_registrations = 1024;            ///< > 0
    std::size_t max_relays = 1024;                   ///< > 0
    std::size_t max_relays_per_node = 8;             ///< > 0
    duration relay_idle = std::chrono::seconds(60);  ///< relay expiry without traffic; > 0
    std::uint64_t relay_rate = 1U << 20;    ///< bytes per second per relay (token bucket); > 0
    std::uint64_t relay_burst = 64U << 10;  ///< bucket depth in bytes; >= 1500
    admission_mode admission = admission_mode::open;
    std::vector<node_id> allow_list;             ///< for `admission_mode::allow_list`
    std::vector<std::vector<std::byte>> tokens;  ///< for `admission_mode::token`; 1..64 bytes
    std::size_t max_outgoing = 256;              ///< queued control messages; >= 2
    std::size_t max_events = 256;  ///< queued events; > 0 (when full the newest is dropped)
};

/// A control message to send to `to` in its session. `message` points into the server and is
/// valid until the next call of a non-const member.
struct outgoing_control {
    node_id to{};
    std::span<const std::byte> message;
};

/// Forward `datagram` (the input, unchanged) to `to`.
struct relay_forward {
    peer_address to;
    std::span<const std::byte> datagram;
};

/// Events of the server.
struct node_registered {
    node_id node{};
    peer_address reflexive;
};
/// A registration ended: BYE (`expired` false) or its lease ran out (`expired` true).
struct node_unregistered {
    node_id node{};
    bool expired = false;
};
/// A registered node's reflexive address or candidates changed; PEER_UPDATEs were queued.
struct node_moved {
    node_id node{};
    peer_address reflexive;
};
/// CONNECT → two INTRODUCEs and a relay.
struct nodes_introduced {
    node_id initiator{};
    node_id responder{};
    std::uint64_t attempt_id = 0;
    std::uint64_t relay_id = 0;
};
/// A request was refused; an ERROR was queued unless the reason is
/// `rendezvous_reply_too_large` or `rendezvous_queue_full`.
struct request_refused {
    node_id node{};
    std::error_code reason;
};
/// A relay expired after `relay_idle` without traffic.
struct relay_expired {
    std::uint64_t relay_id = 0;
    std::uint64_t bytes = 0;  ///< forwarded over its life
};
using rendezvous_server_event = std::variant<node_registered, node_unregistered, node_moved,
                                             nodes_introduced, request_refused, relay_expired>;

/// Counters (for the server's status output).
struct rendezvous_server_stats {
    std::uint64_t registers = 0;  ///< accepted REGISTERs (new or renewed)
    std::uint64_t keepalives = 0;
    std::uint64_t connects = 0;  ///< CONNECTs that led to an introduction
    std::uint64_t byes = 0;
    std::uint64_t expired = 0;  ///< registrations whose lease ran out
    std::uint64_t peer_updates = 0;
    std::uint64_t errors_sent = 0;
    std::uint64_t refused = 0;             ///< requests refused (with or without an ERROR)
    std::uint64_t dropped_malformed = 0;   ///< control messages that did not decode
    std::uint64_t dropped_unexpected = 0;  ///< server-to-client types sent to the server
    std::uint64_t dropped_queue_full = 0;  ///< control messages not queued (queue full)
    std::uint64_t replies_suppressed = 0;  ///< replies larger than their request, not sent
    std::uint64_t events_dropped = 0;
    std::uint64_t relays_created = 0;
    std::uint64_t relays_expired = 0;
    std::uint64_t relayed_datagrams = 0;
    std::uint64_t relayed_bytes = 0;
    std::uint64_t relay_dropped_malformed = 0;
    std::uint64_t relay_dropped_unknown = 0;
    std::uint64_t relay_dropped_wrong_source = 0;
    std::uint64_t relay_dropped_rate_limited = 0;
};

/// A relay's state, for status output and tests.
struct relay_info {
    node_id a{}, b{};
    peer_address endpoint_a, endpoint_b;
    std::uint64_t datagrams = 0;
    std::uint64_t bytes = 0;
    std::uint64_t dropped_rate_limited = 0;
    time_point last_active{};
};

/// The rendezvous server core. `Random` (random.hpp) draws punch secrets and relay ids.
template <random_source Random = system_random>
class basic_rendezvous_server {
public:
    using event_type = rendezvous_server_event;

    /// Introduced peers remembered per registration (the targets of its PEER_UPDATEs); the
    /// oldest is forgotten first.
    static constexpr std::size_t max_introduced = 16;
    /// Host candidates a REGISTER may carry: the reflexive address makes the 8th in INTRODUCE.
    static constexpr std::size_t max_host_candidates = max_rendezvous_candidates - 1;

    /// Throws `std::invalid_argument` for a configuration outside the bounds documented on
    /// `rendezvous_server_config` (or an admission mode without its list).
    explicit basic_rendezvous_server(rendezvous_server_config cfg, Random random = Random{})
        : cfg_(std::move(cfg)),
          random_(std::move(random)),
          outgoing_(std::max<std::size_t>(cfg_.max_outgoing, 1)),
          events_(std::max<std::size_t>(cfg_.max_events, 1)) {
        using std::chrono::seconds;
        if (cfg_.lease < seconds(1) || cfg_.lease > seconds(UINT32_MAX) ||
            cfg_.max_registrations == 0 || cfg_.max_relays == 0 || cfg_.max_relays_per_node == 0 ||
            cfg_.relay_idle <= duration::zero() || cfg_.relay_rate == 0 ||
            cfg_.relay_burst < 1500 || cfg_.max_outgoing < 2 || cfg_.max_events == 0) {
            throw std::invalid_argument("rendezvous_server: bad configuration");
        }
        if (cfg_.admission == admission_mode::allow_list && cfg_.allow_list.empty()) {
            throw std::invalid_argument("rendezvous_server: empty allow-list");
        }
        if (cfg_.admission == admission_mode::token) {
            if (cfg_.tokens.empty()) throw std::invalid_argument("rendezvous_server: no tokens");
            for (const auto& t : cfg_.tokens) {
                if (t.empty() || t.size() > max_rendezvous_bytes_size) {
                    throw std::invalid_argument("rendezvous_server: token of 0 or > 64 bytes");
                }
            }
        }
        registrations_.resize(cfg_.max_registrations);
        relays_.resize(cfg_.max_relays);
    }

    basic_rendezvous_server(const basic_rendezvous_server&) = delete;
    basic_rendezvous_server& operator=(const basic_rendezvous_server&) = delete;
    ~basic_rendezvous_server() {
        for (auto& t : cfg_.tokens) sodium_memzero(t.data(), t.size());
    }

    /// Handles one control message from the client whose session proved `client_key`, received
    /// from `from`. Queues the replies (REGISTERED, KEEPALIVE_ACK, ERROR), INTRODUCEs and
    /// PEER_UPDATEs; see the class comment for the anti-amplification rule.
    ///
    /// Errors (the message is dropped and counted; no state changes unless stated):
    /// - `rendezvous_*` decode errors (rendezvous_message.hpp): malformed.
    /// - `rendezvous_unexpected_message`: a REGISTERED, KEEPALIVE_ACK, INTRODUCE, PEER_UPDATE
    ///   or ERROR sent to the server.
    /// - ERROR queued, `request_refused` reported: `rendezvous_node_id_mismatch` (ERROR
    ///   not_allowed), `rendezvous_not_allowed`, `rendezvous_over_quota` (table full, more than
    ///   `max_host_candidates`, or a relay limit), `rendezvous_not_registered` (KEEPALIVE or
    ///   CONNECT without a registration; a BYE without one gets no ERROR),
    ///   `rendezvous_not_found` (CONNECT to a node not registered in the sender's realm, or to
    ///   itself).
    /// - `rendezvous_reply_too_large`: the request was handled (a KEEPALIVE refreshed the
    ///   lease) but its reply is larger than it and was not sent.
    /// - `rendezvous_queue_full`: no room for the reply (or both INTRODUCEs); nothing changed.
    result<void> handle_control(std::span<const std::byte, public_key_size> client_key,
                                const peer_address& from, std::span<const std::byte> message,
                                time_point now) noexcept {
        auto decoded = decode_rendezvous(message);
        if (!decoded) {
            ++stats_.dropped_malformed;
            return tl::unexpected(decoded.error());
        }
        const node_id self = node_id_of(client_key);
        request req{self, client_key, from, message.size(), now};
        if (const auto* m = std::get_if<register_message>(&*decoded)) return on_register(req, *m);
        if (const auto* m = std::get_if<keepalive_message>(&*decoded)) return on_keepalive(req, *m);
        if (const auto* m = std::get_if<connect_message>(&*decoded)) return on_connect(req, *m);
        if (std::holds_alternative<bye_message>(*decoded)) return on_bye(req);
        ++stats_.dropped_unexpected;
        return fail(errc::rendezvous_unexpected_message);
    }

    /// Handles a relayed datagram from `from`. On success the caller sends `datagram` unchanged
    /// to the returned address (the relay's other endpoint).
    /// Errors (dropped, counted): `envelope_empty`, `bad_envelope_type`, `relay_truncated`
    /// (envelope.hpp); `relay_unknown` (no live relay with this id); `relay_wrong_source`
    /// (from neither endpoint, or both endpoints are the same address); `relay_rate_limited` (the
    /// relay's token bucket is empty).
    result<relay_forward> handle_relayed(const peer_address& from,
                                         std::span<const std::byte> datagram,
                                         time_point now) noexcept {
        const auto d = decode_relayed(datagram);
        if (!d) {
            ++stats_.relay_dropped_malformed;
            return tl::unexpected(d.error());
        }
        relay_entry* r = find_relay(d->relay_id, now);
        if (r == nullptr) {
            ++stats_.relay_dropped_unknown;
            return fail(errc::relay_unknown);
        }
        peer_address to;
        if (r->endpoint_a == r->endpoint_b) {
            // both peers behind one address: the relay cannot tell them apart, and forwarding
            // would reflect the datagram to its sender
            ++stats_.relay_dropped_wrong_source;
            return fail(errc::relay_wrong_source);
        }
        if (from == r->endpoint_a) {
            to = r->endpoint_b;
        } else if (from == r->endpoint_b) {
            to = r->endpoint_a;
        } else {
            ++stats_.relay_dropped_wrong_source;
            return fail(errc::relay_wrong_source);
        }
        // spec: p2p.md §7.3 (per-relay token bucket)
        const double elapsed = std::chrono::duration<double>(now - r->refilled).count();
        if (elapsed > 0) {
            r->tokens = std::min(static_cast<double>(cfg_.relay_burst),
                                 r->tokens + elapsed * static_cast<double>(cfg_.relay_rate));
            r->refilled = now;
        }
        const auto size = static_cast<double>(datagram.size());
        if (size > r->tokens) {
            ++r->dropped_rate_limited;
            ++stats_.relay_dropped_rate_limited;
            return fail(errc::relay_rate_limited);
        }
        r->tokens -= size;
        r->last_active = now;
        ++r->datagrams;
        r->bytes += datagram.size();
        ++stats_.relayed_datagrams;
        stats_.relayed_bytes += datagram.size();
        return relay_forward{to, datagram};
    }

    /// The next control message to send, or nothing. See `outgoing_control` for the lifetime.
    std::optional<outgoing_control> poll_control() noexcept {
        auto q = outgoing_.pop();
        if (!q) return std::nullopt;
        current_ = *q;
        return outgoing_control{current_.to, std::span(current_.bytes).first(current_.size)};
    }

    std::optional<event_type> poll_event() noexcept { return events_.pop(); }

    /// The earliest lease or relay idle expiry, or nothing when both tables are empty.
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        std::optional<time_point> d;
        auto earliest = [&d](time_point t) {
            if (!d || t < *d) d = t;
        };
        for (const auto& r : registrations_) {
            if (r.used) earliest(r.expires);
        }
        for (const auto& r : relays_) {
            if (r.used) earliest(r.last_active + cfg_.relay_idle);
        }
        return d;
    }

    /// Drops registrations whose lease ended at or before `now` (`node_unregistered{expired}`)
    /// and relays idle for `relay_idle` (`relay_expired`).
    void handle_deadline(time_point now) noexcept {
        for (auto& r : registrations_) {
            if (r.used && r.expires <= now) {
                r.used = false;
                ++stats_.expired;
                emit(node_unregistered{r.id, true});
            }
        }
        for (auto& r : relays_) {
            if (r.used && r.last_active + cfg_.relay_idle <= now) {
                r.used = false;
                ++stats_.relays_expired;
                emit(relay_expired{r.id, r.bytes});
            }
        }
    }

    [[nodiscard]] const rendezvous_server_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const rendezvous_server_config& config() const noexcept { return cfg_; }

    /// Registrations held (expired ones count until `handle_deadline`).
    [[nodiscard]] std::size_t registration_count() const noexcept {
        return static_cast<std::size_t>(std::count_if(registrations_.begin(), registrations_.end(),
                                                      [](const auto& r) { return r.used; }));
    }
    [[nodiscard]] std::size_t relay_count() const noexcept {
        return static_cast<std::size_t>(
            std::count_if(relays_.begin(), relays_.end(), [](const auto& r) { return r.used; }));
    }
    /// The reflexive address of a registered node, or nothing.
    [[nodiscard]] std::optional<peer_address> reflexive_of(const node_id& id) const noexcept {
        for (const auto& r : registrations_) {
            if (r.used && r.id == id) return r.reflexive;
        }
        return std::nullopt;
    }
    /// A relay's state, or nothing when no relay (live or not yet expired) has this id.
    [[nodiscard]] std::optional<relay_info> relay(std::uint64_t id) const noexcept {
        for (const auto& r : relays_) {
            if (r.used && r.id == id) {
                return relay_info{r.a,         r.b,     r.endpoint_a,           r.endpoint_b,
                                  r.datagrams, r.bytes, r.dropped_rate_limited, r.last_active};
            }
        }
        return std::nullopt;
    }

private:
    struct registration {
        bool used = false;
        node_id id{};
        public_key_bytes key{};
        std::array<std::byte, max_rendezvous_bytes_size> realm{};
        std::size_t realm_size = 0;
        peer_address reflexive;
        candidate_list host;
        std::uint8_t capabilities = 0;
        time_point expires{};
        std::array<node_id, max_introduced> introduced{};
        std::size_t introduced_count = 0;
        std::size_t introduced_next = 0;

        [[nodiscard]] std::span<const std::byte> realm_view() const noexcept {
            return {realm.data(), realm_size};
        }
    };
    struct relay_entry {
        bool used = false;
        std::uint64_t id = 0;
        node_id a{}, b{};
        peer_address endpoint_a, endpoint_b;
        time_point last_active{};
        time_point refilled{};
        double tokens = 0;
        std::uint64_t datagrams = 0;
        std::uint64_t bytes = 0;
        std::uint64_t dropped_rate_limited = 0;
    };
    struct queued {
        node_id to{};
        std::array<std::byte, max_rendezvous_message_size> bytes{};
        std::size_t size = 0;
    };
    struct request {
        node_id self{};
        std::span<const std::byte, public_key_size> key;
        peer_address from;
        std::size_t size = 0;
        time_point now{};
    };

    static bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
        return a.size() == b.size() &&
               (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
    }
    static std::uint64_t millis(time_point t) noexcept {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
    }

    registration* find(const node_id& id) noexcept {
        for (auto& r : registrations_) {
            if (r.used && r.id == id) return &r;
        }
        return nullptr;
    }
    relay_entry* find_relay(std::uint64_t id, time_point now) noexcept {
        for (auto& r : relays_) {
            if (r.used && r.id == id) {
                return r.last_active + cfg_.relay_idle <= now ? nullptr : &r;
            }
        }
        return nullptr;
    }

    void emit(const event_type& e) noexcept {
        if (!events_.push(e)) ++stats_.events_dropped;
    }

    // Encodes `m` into the queue for `to`. `request_size` is the size of the request it answers
    // (0: not a reply, exempt from the anti-amplification rule).
    result<void> enqueue(const node_id& to, const rendezvous_message& m,
                         std::size_t request_size) noexcept {
        if (outgoing_.full()) {
            ++stats_.dropped_queue_full;
            return fail(errc::rendezvous_queue_full);
        }
        scratch_.to = to;
        const auto n = encode_rendezvous(m, scratch_.bytes);
        if (!n) return tl::unexpected(n.error());  // cannot happen: the server's own values
        scratch_.size = *n;
        // spec: p2p.md §7.2 (a reply is never larger than the request that caused it)
        if (request_size != 0 && *n > request_size) {
            ++stats_.replies_suppressed;
            return fail(errc::rendezvous_reply_too_large);
        }
        outgoing_.push(scratch_);
        return {};
    }

    // Refuses `req` with `reason`, answering ERROR `code` when it fits.
    result<void> refuse(const request& req, errc reason, rendezvous_error code,
                        std::uint64_t attempt_id = 0) noexcept {
        ++stats_.refused;
        if (enqueue(req.self, error_message{code, attempt_id}, req.size)) ++stats_.errors_sent;
        emit(request_refused{req.self, make_error_code(reason)});
        return fail(reason);
    }

    [[nodiscard]] bool admitted(const node_id& id,
                                std::span<const std::byte> token) const noexcept {
        switch (cfg_.admission) {
            case admission_mode::open: return true;
            case admission_mode::allow_list:
                return std::find(cfg_.allow_list.begin(), cfg_.allow_list.end(), id) !=
                       cfg_.allow_list.end();
            case admission_mode::token: {
                bool ok = false;
                for (const auto& t : cfg_.tokens) {
                    if (t.size() == token.size() &&
                        sodium_memcmp(t.data(), token.data(), t.size()) == 0) {
                        ok = true;
                    }
                }
                return ok;
            }
        }
        return false;
    }

    // Host candidates, then the reflexive address (IPv6 kind for an IPv6 one) unless announced.
    static candidate_list candidates_of(const registration& r) noexcept {
        candidate_list cs = r.host;
        const candidate reflexive{r.reflexive, r.reflexive.family == peer_address::family_type::v6
                                                   ? candidate_kind::ipv6
                                                   : candidate_kind::reflexive};
        const bool announced = std::any_of(
            cs.begin(), cs.end(), [&](const candidate& c) { return c.address == r.reflexive; });
        if (!announced && r.reflexive.is_ip()) cs.push_back(reflexive);
        return cs;
    }

    static void remember_introduction(registration& r, const node_id& peer) noexcept {
        for (std::size_t i = 0; i < r.introduced_count; ++i) {
            if (r.introduced[i] == peer) return;
        }
        r.introduced[r.introduced_next] = peer;
        r.introduced_next = (r.introduced_next + 1) % max_introduced;
        r.introduced_count = std::min(r.introduced_count + 1, max_introduced);
    }

    // §7.6: tell every peer introduced to `r` (still registered, same realm) its new
    // candidates, and move the relays bound to it to its new address.
    void moved(const registration& r) noexcept {
        const auto cs = candidates_of(r);
        for (std::size_t i = 0; i < r.introduced_count; ++i) {
            registration* peer = find(r.introduced[i]);
            if (peer == nullptr || !same_bytes(peer->realm_view(), r.realm_view())) continue;
            if (enqueue(peer->id, peer_update_message{r.id, cs}, 0)) ++stats_.peer_updates;
        }
        for (auto& rl : relays_) {
            if (!rl.used) continue;
            if (rl.a == r.id) rl.endpoint_a = r.reflexive;
            if (rl.b == r.id) rl.endpoint_b = r.reflexive;
        }
        emit(node_moved{r.id, r.reflexive});
    }

    result<void> on_register(const request& req, const register_message& m) noexcept {
        if (m.id != req.self) {
            return refuse(req, errc::rendezvous_node_id_mismatch, rendezvous_error::not_allowed);
        }
        if (!admitted(req.self, m.token)) {
            return refuse(req, errc::rendezvous_not_allowed, rendezvous_error::not_allowed);
        }
        if (m.candidates.size() > max_host_candidates) {
            return refuse(req, errc::rendezvous_over_quota, rendezvous_error::over_quota);
        }
        registration* r = find(req.self);
        if (r == nullptr) {
            auto free = std::find_if(registrations_.begin(), registrations_.end(),
                                     [](const auto& x) { return !x.used; });
            if (free == registrations_.end()) {
                handle_deadline(req.now);  // expired leases make room
                free = std::find_if(registrations_.begin(), registrations_.end(),
                                    [](const auto& x) { return !x.used; });
            }
            if (free == registrations_.end()) {
                return refuse(req, errc::rendezvous_over_quota, rendezvous_error::over_quota);
            }
            if (outgoing_.full()) {
                ++stats_.dropped_queue_full;
                return fail(errc::rendezvous_queue_full);
            }
            r = &*free;
            *r = registration{};
            r->used = true;
            r->id = req.self;
            emit(node_registered{req.self, req.from});
        } else {
            if (outgoing_.full()) {
                ++stats_.dropped_queue_full;
                return fail(errc::rendezvous_queue_full);
            }
        }
        const bool realm_changed = !same_bytes(r->realm_view(), m.realm);
        const bool was_known = r->reflexive.is_ip();
        const bool changed = was_known && (r->reflexive != req.from || !(r->host == m.candidates));
        if (realm_changed) {
            r->introduced_count = 0;  // introductions do not cross realms
            r->introduced_next = 0;
            if (!m.realm.empty()) std::memcpy(r->realm.data(), m.realm.data(), m.realm.size());
            r->realm_size = m.realm.size();
        }
        std::memcpy(r->key.data(), req.key.data(), r->key.size());
        r->reflexive = req.from;
        r->host = m.candidates;
        r->capabilities = m.capabilities;
        r->expires = req.now + cfg_.lease;
        ++stats_.registers;
        const auto lease_s = std::chrono::duration_cast<std::chrono::seconds>(cfg_.lease).count();
        auto reply = enqueue(
            req.self,
            registered_message{req.from, static_cast<std::uint32_t>(lease_s), millis(req.now)},
            req.size);
        if (changed) moved(*r);
        return reply;
    }

    result<void> on_keepalive(const request& req, const keepalive_message& m) noexcept {
        registration* r = find(req.self);
        if (r == nullptr || r->expires <= req.now) {
            return refuse(req, errc::rendezvous_not_registered, rendezvous_error::not_registered);
        }
        if (outgoing_.full()) {
            ++stats_.dropped_queue_full;
            return fail(errc::rendezvous_queue_full);
        }
        r->expires = req.now + cfg_.lease;
        ++stats_.keepalives;
        auto reply = enqueue(req.self, keepalive_ack_message{m.sequence, req.from}, req.size);
        if (r->reflexive != req.from) {
            r->reflexive = req.from;
            moved(*r);
        }
        return reply;
    }

    result<void> on_connect(const request& req, const connect_message& m) noexcept {
        registration* a = find(req.self);
        if (a == nullptr || a->expires <= req.now) {
            return refuse(req, errc::rendezvous_not_registered, rendezvous_error::not_registered,
                          m.attempt_id);
        }
        registration* b = find(m.target);
        if (b == nullptr || b == a || b->expires <= req.now ||
            !same_bytes(a->realm_view(), b->realm_view())) {
            return refuse(req, errc::rendezvous_not_found, rendezvous_error::not_found,
                          m.attempt_id);
        }
        auto per_node = [this](const node_id& id) {
            return std::count_if(relays_.begin(), relays_.end(), [&id](const relay_entry& r) {
                return r.used && (r.a == id || r.b == id);
            });
        };
        auto slot = std::find_if(relays_.begin(), relays_.end(),
                                 [](const relay_entry& r) { return !r.used; });
        if (slot == relays_.end() ||
            static_cast<std::size_t>(per_node(a->id)) >= cfg_.max_relays_per_node ||
            static_cast<std::size_t>(per_node(b->id)) >= cfg_.max_relays_per_node) {
            return refuse(req, errc::rendezvous_over_quota, rendezvous_error::over_quota,
                          m.attempt_id);
        }
        if (cfg_.max_outgoing - outgoing_.size() < 2) {
            ++stats_.dropped_queue_full;
            return fail(errc::rendezvous_queue_full);
        }
        // spec: p2p.md §7.3 (INTRODUCE: fresh punch secret and relay id; §7.4.4 initiator)
        std::uint64_t relay_id = 0;
        do {
            relay_id = random_.uniform(1, UINT64_MAX);
        } while (any_relay(relay_id));
        introduce_message to_a{};
        random_.fill(to_a.punch_secret);
        introduce_message to_b{};
        to_b.punch_secret = to_a.punch_secret;
        const bool a_initiates =
            std::lexicographical_compare(a->id.begin(), a->id.end(), b->id.begin(), b->id.end());
        const std::uint64_t start = millis(req.now);
        to_a.peer = b->id;
        to_a.peer_key = b->key;
        to_a.candidates = candidates_of(*b);
        to_a.attempt_id = m.attempt_id;
        to_a.initiator = a_initiates;
        to_a.relay_id = relay_id;
        to_a.start_time_ms = start;
        to_b.peer = a->id;
        to_b.peer_key = a->key;
        to_b.candidates = candidates_of(*a);
        to_b.attempt_id = m.attempt_id;
        to_b.initiator = !a_initiates;
        to_b.relay_id = relay_id;
        to_b.start_time_ms = start;
        (void)enqueue(a->id, to_a, 0);
        (void)enqueue(b->id, to_b, 0);
        sodium_memzero(to_a.punch_secret.data(), to_a.punch_secret.size());
        sodium_memzero(to_b.punch_secret.data(), to_b.punch_secret.size());

        *slot = relay_entry{};
        slot->used = true;
        slot->id = relay_id;
        slot->a = a->id;
        slot->b = b->id;
        slot->endpoint_a = a->reflexive;
        slot->endpoint_b = b->reflexive;
        slot->last_active = req.now;
        slot->refilled = req.now;
        slot->tokens = static_cast<double>(cfg_.relay_burst);
        ++stats_.relays_created;
        remember_introduction(*a, b->id);
        remember_introduction(*b, a->id);
        ++stats_.connects;
        emit(nodes_introduced{a_initiates ? a->id : b->id, a_initiates ? b->id : a->id,
                              m.attempt_id, relay_id});
        return {};
    }

    result<void> on_bye(const request& req) noexcept {
        registration* r = find(req.self);
        if (r == nullptr) {
            // A BYE is 1 byte: an ERROR would be larger, so none is sent (anti-amplification).
            return refuse(req, errc::rendezvous_not_registered, rendezvous_error::not_registered);
        }
        r->used = false;
        ++stats_.byes;
        emit(node_unregistered{r->id, false});
        return {};
    }

    [[nodiscard]] bool any_relay(std::uint64_t id) const noexcept {
        return std::any_of(relays_.begin(), relays_.end(),
                           [id](const relay_entry& r) { return r.used && r.id == id; });
    }

    rendezvous_server_config cfg_;
    Random random_;
    std::vector<registration> registrations_;
    std::vector<relay_entry> relays_;
    ring<queued> outgoing_;
    ring<event_type> events_;
    queued current_{};
    queued scratch_{};
    rendezvous_server_stats stats_{};
};

/// The server with the system's randomness.
using rendezvous_server = basic_rendezvous_server<>;

}  // namespace neutrino::p2p
