#pragma once
/// \file
/// `core::v3::basic_server`: the server side of Neutrino wire v3 as a sans-IO machine, with the
/// public API of `core::basic_server` (v2), so that `reliable::basic_server<Next>` runs over it
/// unchanged. mac1 before any DH, the pending table with its mac1 index (duplicate HELLO1s
/// answered from the stored HELLO2), cookies under load, variant negotiation and the four
/// refusal statuses, confirmation by the first authenticated c2s packet, key update,
/// authenticated close, path validation with the 3× amplification limit.
/// spec: neutrino-v3.md §7.4, §7.7, §7.8, §8, §9, §10, §11, §12, §13, §14.1
///
/// Split by concern: `server_options.hpp` (configuration), `admission.hpp` (load, cookies and
/// the per-IP pending count, before any DH), `server_session.hpp` (what is kept per session),
/// `path_validation.hpp` (challenging a new address), `detail/server_base.hpp` (the session map
/// and what v2 does alike); this file is the handshake (HELLO1 → pending → confirmed) and the
/// connection (the transport packets of a session).
///
/// Reliable compatibility (§14.1): the layer above starts its receive state at the first
/// `packet_received` event; c2s pn 1 is HELLO3. When a session is confirmed, a layered server
/// therefore reports a `packet_received` marker of type SERVER_HELLO2 with packet number 0
/// right after `established` and before the confirming packet itself.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/detail/server_base.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/server_config.hpp"
#include "neutrino/core/v3/admission.hpp"
#include "neutrino/core/v3/cookie.hpp"
#include "neutrino/core/v3/dialects.hpp"
#include "neutrino/core/v3/handshake.hpp"
#include "neutrino/core/v3/sealing.hpp"
#include "neutrino/core/v3/server_options.hpp"
#include "neutrino/core/v3/server_session.hpp"
#include "neutrino/core/v3/session.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/random.hpp"

namespace neutrino::core::v3 {

/// The v3 server machine: `core::detail::server_base` (shared with v2) plus v3's handshake
/// admission (mac1, pending table, cookies, negotiation), packet protection and path
/// validation. Not thread-safe: one owner calls it.
template <class Observer = null_observer, class Random = system_random>
class basic_server : public core::detail::server_base<basic_server<Observer, Random>,
                                                      detail::server_session, v3::stats, Observer,
                                                      Random> {
    using base = core::detail::server_base<basic_server, detail::server_session, v3::stats,
                                           Observer, Random>;
    friend base;
    using server_session = detail::server_session;
    using path_candidate = detail::path_challenge_state;

public:
    /// The largest DATA payload (the Extended fragment size).  spec: neutrino-v3.md §14.2
    static constexpr std::size_t max_payload_size = v3::max_payload_size;
    using typename base::config;
    using options = server_options;

    explicit basic_server(config cfg, Observer observer = {}, Random random = {})
        : basic_server(std::move(cfg), options{}, std::move(observer), std::move(random)) {}

    basic_server(config cfg, options opt, Observer observer = {}, Random random = {})
        : base(std::move(cfg), std::move(observer), std::move(random)),
          opt_(std::move(opt)) {
        ensure_sodium();
        mac1_key_ = derive_mac1_key(cfg_.keys.pk);
        cookie_key_ = derive_cookie_key(cfg_.keys.pk);
        check_dialects(cfg_.dialect, opt_.also_serve);
        mask_ = dialect_mask(cfg_.dialect, opt_.also_serve);
    }

    // --- application API -------------------------------------------------------------------

    /// Starts a key update on a session (§11.2 condition 1 applies). Errors: unknown_session,
    /// not_connected, would_block (the client has not followed the previous update yet).
    result<void> update_keys(std::uint64_t session_id, time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        if (!(*s)->t.may_initiate_update(opt_.key_update, now)) return fail(core::errc::would_block);
        (*s)->t.advance_send_phase(now);
        ++io_.stats.key_updates_initiated;
        return {};
    }

    /// Tests and operators: treat the server as under load (cookies required) or not.
    void set_under_load(bool on) noexcept { admission_.force_load(on); }
    /// True when a HELLO1 arriving now would need a valid mac2 (§8.3).
    [[nodiscard]] bool under_load(time_point now) const noexcept {
        return admission_.under_load(opt_, pending_, now);
    }

    // --- for the layer above (a layered dialect) ---------------------------------------------

    result<std::uint64_t> send_packet(std::uint64_t session_id, core::packet_type type,
                                      word_list words, time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        auto n = detail::frame(words, payload_);
        if (!n) return tl::unexpected(n.error());
        return send_numbered(**s, detail::v3_type(type), 0, {payload_.data(), *n}, words,
                             cfg_.min_datagram_size, now);
    }

    result<std::uint64_t> send_encoded(std::uint64_t session_id, std::uint32_t keyword,
                                       std::span<const std::byte> payload, time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        if (payload.size() > max_payload_size) return fail(core::errc::payload_too_large);
        return send_numbered(**s, packet_type::data, keyword, payload, {},
                             keyword == 0 ? cfg_.min_datagram_size : 0, now);
    }

    /// Seals again a numbered control packet; see `v3::basic_client::reseal` (the original
    /// plaintext is re-sealed, `type` and `words` are ignored).
    result<void> reseal(std::uint64_t session_id, std::uint64_t pn, core::packet_type type,
                        word_list words, time_point now, bool to_candidate = false) {
        (void)type;
        (void)words;
        if (to_candidate) return fail(core::errc::not_connected);  // see `resend`
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        detail::transport_session& t = (*s)->t;
        if (pn == 0 || pn >= t.next_pn) return fail(core::errc::protocol_violation);
        auto c = t.control(pn);
        if (!c) return fail(core::errc::protocol_violation);
        if (io_.tx.full()) return fail(core::errc::would_block);
        auto buf = io_.tx.back_buffer();
        auto n = t.seal(buf, c->type, pn, 0, c->payload, 0);
        if (!n) return fail_core(n.error());
        io_.tx.push(*n, t.peer);
        detail::report_sent(io_.observer, core::role::server, t, c->type, pn, 0, {}, {buf.data(), *n},
                            t.peer, now);
        return {};
    }

    /// Queues a datagram sealed earlier (see `v3::basic_client::resend`), to the validated
    /// address only (§12.2).
    /// v3 validates addresses itself (§12): `to_candidate` is refused (not_connected).
    result<void> resend(std::uint64_t session_id, std::span<const std::byte> datagram,
                        std::uint64_t pn, time_point now, bool to_candidate = false) {
        if (to_candidate) return fail(core::errc::not_connected);
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        detail::transport_session& t = (*s)->t;
        if (io_.tx.full()) return fail(core::errc::would_block);
        auto buf = io_.tx.back_buffer();
        auto p = t.prepare_resend(datagram, pn, buf);
        if (!p) return fail_core(p.error());
        if (p->resealed) ++io_.stats.resealed;
        io_.tx.push(p->size, t.peer);
        const packet_info info{core::role::server,
                               core::packet_type::data,
                               t.id,
                               pn,
                               0,
                               {},
                               {},
                               {buf.data(), p->size},
                               t.peer};
        report_retransmission(io_.observer, info, now);
        return {};
    }

    /// The v2 layer-driven validation (core::basic_server::send_probe / validate_path) has no
    /// use here: v3 validates a new address with PATH_CHALLENGE itself (§12.2) and never
    /// reports packet_received with `from_candidate`. Both refuse with not_connected.
    result<std::uint64_t> send_probe(std::uint64_t, core::packet_type, word_list, time_point) {
        return fail(core::errc::not_connected);
    }
    result<void> validate_path(std::uint64_t, time_point) { return fail(core::errc::not_connected); }

    /// The migration candidate of a session, if any (§12.1).
    [[nodiscard]] std::optional<peer_address> candidate_of(
        std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        if (it == sessions_.end() || !it->second.candidate) return std::nullopt;
        return it->second.candidate->addr;
    }
    /// Send and receive key phases of a session (§11.1); {0, 0} when unknown.
    [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> phases_of(
        std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return {0, 0};
        return {it->second.t.send_phase(), it->second.t.receive_phase()};
    }
    /// The largest message the client of `session_id` accepts (its offer, §9.3); 0 unless
    /// dialect id 2 was chosen, or for an unknown session.
    [[nodiscard]] std::uint32_t peer_message_limit(std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        return it == sessions_.end() ? 0 : it->second.peer_message_limit;
    }
    /// The dialect negotiated for a session.
    [[nodiscard]] std::optional<core::dialect> dialect_of(std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return std::nullopt;
        return it->second.d;
    }
    [[nodiscard]] const options& v3_options() const noexcept { return opt_; }

private:
    using base::cfg_;
    using base::io_;
    using base::pending_;
    using base::random_;
    using base::sessions_;
    using typename base::session_map;

    static constexpr std::uint64_t max_failed_auth = std::uint64_t{1} << 36;  // spec: §3.3

    /// The earliest timer of one session.
    [[nodiscard]] time_point timer_of(const server_session& s) const noexcept {
        return s.candidate ? std::min(s.t.expiry, detail::candidate_timer(*s.candidate, opt_)) : s.t.expiry;
    }

    struct mac_hash {
        std::size_t operator()(const mac_value& m) const noexcept {
            return static_cast<std::size_t>(neutrino::load_le<std::uint64_t>(m.data()));
        }
    };

    // --- hooks of core::detail::server_base --------------------------------------------------

    static constexpr duration scan_interval = std::chrono::milliseconds(50);
    static detail::transport_session& record(server_session& s) noexcept { return s.t; }
    static const detail::transport_session& record(const server_session& s) noexcept { return s.t; }

    result<void> send_request_word(server_session& s, const word& w, time_point now) {
        return send_unnumbered(s, packet_type::request_retransmission, {&w, 1}, s.t.peer, now);
    }

    /// spec: neutrino-v3.md §13: a SHUTDOWN that does not fit now is sealed now (the session's
    /// keys are wiped with it) and queued as the queue drains
    void send_shutdown(server_session& s, time_point now) {
        if (!io_.tx.full()) {
            (void)send_numbered(s, packet_type::server_shutdown, 0, {}, {}, 0, now);
            return;
        }
        std::array<std::byte, max_datagram_size> buf;
        auto pn = s.t.take_numbered();
        if (!pn) return;
        auto n = s.t.seal(buf, packet_type::server_shutdown, *pn, 0, detail::empty_list(), 0);
        if (n) {
            shutdown_backlog_.push_back(
                {{buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n)}, s.t.peer});
        }
    }

    void flush_backlog(time_point) {
        while (!shutdown_backlog_.empty() && !io_.tx.full()) {
            queue_raw(shutdown_backlog_.back().first, shutdown_backlog_.back().second);
            shutdown_backlog_.pop_back();
        }
    }

    static std::error_code expiry_reason(const server_session&, time_point) {
        return make_error_code(core::errc::timed_out);
    }

    /// Candidates: dropped after their lifetime, challenged again on their timer.
    time_point serve_timers(server_session& s, time_point now) {
        if (s.candidate) {
            if (now >= s.candidate->expires) {
                s.candidate.reset();  // spec: neutrino-v3.md §12.2 rule 4: dropped after 1 s
            } else if (detail::challenge_due(*s.candidate, opt_, now)) {
                send_challenge(s, now);
            }
        }
        return timer_of(s);
    }

    void on_remove(server_session& s) {
        if (s.t.state == session_state::pending) admission_.release_host(s.host);
        if (auto idx = by_mac1_.find(s.mac1); idx != by_mac1_.end() && idx->second == s.t.id)
            by_mac1_.erase(idx);
        s.t.wipe();  // spec: neutrino-v3.md §13
    }

    result<void> receive(std::span<const std::byte> in, const peer_address& from, time_point now) {
        auto code = detail::check_clear_header(in);
        if (!code) return tl::unexpected(code.error());
        if (*code == static_cast<std::uint8_t>(packet_type::client_hello1))
            return receive_hello1(in, from, now);
        return receive_transport(in, from, now);
    }

    // --- handshake ---------------------------------------------------------------------------

    /// spec: neutrino-v3.md §7.4, in its order
    result<void> receive_hello1(std::span<const std::byte> in, const peer_address& from,
                                time_point now) {
        // steps 1–2: layout and mac1, no DH
        auto pattern = check_hello1(in, mac1_key_);
        if (!pattern) return fail_core(pattern.error());
        const mac_value m = hello1_mac1(in);
        // step 3: a retransmission gets the stored HELLO2; step 4: a replay of a confirmed one
        if (auto idx = by_mac1_.find(m); idx != by_mac1_.end()) {
            auto it = sessions_.find(idx->second);
            if (it == sessions_.end()) return fail(core::errc::replayed);
            server_session& s = it->second;
            if (s.t.state != session_state::pending) return fail(core::errc::replayed);
            const auto known =
                std::find(s.hello2_to.begin(),
                          s.hello2_to.begin() + static_cast<std::ptrdiff_t>(s.hello2_count), from);
            if (known == s.hello2_to.begin() + static_cast<std::ptrdiff_t>(s.hello2_count)) {
                if (s.hello2_count == detail::max_hello2_destinations)
                    return fail(core::errc::session_limit);
                s.hello2_to[s.hello2_count++] = from;
            }
            if (io_.tx.full()) return fail(core::errc::would_block);
            queue_raw(s.hello2, from);
            const packet_info again{core::role::server,
                                    core::packet_type::server_hello2,
                                    s.t.id,
                                    0,
                                    0,
                                    {},
                                    {},
                                    s.hello2,
                                    from};
            report_retransmission(io_.observer, again, now);
            s.t.expiry = now + opt_.pending_timeout;
            ++io_.stats.hello2_resent;
            return {};
        }
        // step 5: under load, a cookie for this source address, else COOKIE_REPLY
        if (admission_.refresh_secrets(random_, now)) ++io_.stats.cookie_rotations;
        if (under_load(now) && !admission_.has_cookie(in, from)) {
            send_cookie_reply(m, from, now);
            return fail(core::errc::rate_limited);
        }
        // step 6: limits
        if (pending_ >= opt_.max_pending_total || sessions_.size() >= cfg_.max_sessions ||
            admission_.pending_on(from) >= opt_.max_pending_per_ip) {
            return fail(core::errc::session_limit);
        }
        if (io_.tx.full()) return fail(core::errc::would_block);
        if (cfg_.accept && !cfg_.accept(from)) return fail(core::errc::refused);  // silent refusal
        // step 7: Noise message 1
        admission_.count_handshake(now);
        const bool ik = *pattern == handshake_pattern::ik;
        io_.stats.dh_operations += ik ? 2U : 1U;  // es (+ ss)
        auto hs = server_handshake::read_hello1(in, cfg_.keys.sk, cfg_.keys.pk);
        if (!hs) return fail_core(hs.error());
        ++io_.stats.handshakes_read;
        // steps 8–10: offer, admission, negotiation
        answer a;
        core::dialect chosen;
        if (!hs->client_offer()) {
            a.status = hello2_status::bad_offer;
        } else if (!ik && opt_.require_client_key) {
            a.status = hello2_status::client_auth_required;
        } else if (ik && opt_.accept_client_key && !opt_.accept_client_key(*hs->client_static())) {
            a.status = hello2_status::refused;
        } else if (auto v = negotiate(*hs->client_offer()); !v) {
            a.status = hello2_status::no_common_variant;
            a.variant = mask_;
        } else {
            chosen = *v;
            a.variant = chosen.id;
            a.extended_max_message_size =
                carries_message_limit(dialect_bit(chosen.id)) ? opt_.max_message_size : 0;
            a.session_id = this->fresh_session_id();
        }
        // step 11: message 2 with a fresh ephemeral key, used once
        secret_key f;
        random_.fill(f.bytes());
        auto buf = io_.tx.back_buffer();
        auto n = hs->write_hello2(buf, f, a);
        io_.stats.dh_operations += ik ? 3U : 2U;  // keygen, ee (+ se)
        if (!n) return fail_core(n.error());
        io_.tx.push(*n, from);
        ++io_.stats.hello2_sent;
        ++io_.stats.packets_accepted;
        const packet_info info{core::role::server,
                               core::packet_type::client_hello1,
                               session_id_none,
                               0,
                               0,
                               {},
                               {},
                               in,
                               from};
        io_.observer.on_packet_received(info, now);
        const packet_info sent{core::role::server,
                               core::packet_type::server_hello2,
                               a.session_id,
                               0,
                               0,
                               {},
                               {},
                               {buf.data(), *n},
                               from};
        io_.observer.on_packet_sent(sent, now);
        if (a.status != hello2_status::accepted) return {};  // spec: step 12: no state kept
        // step 12: the pending session
        const transport_keys keys = hs->split();
        report_handshake_hash(io_.observer, a.session_id, core::role::server, hs->handshake_hash(),
                              now);
        server_session s;
        s.t.id = a.session_id;
        s.t.install(keys.s2c, keys.c2s, now);
        s.t.peer = from;
        s.t.expiry = now + opt_.pending_timeout;
        s.d = chosen;
        s.peer_message_limit = carries_message_limit(dialect_bit(chosen.id))
                                   ? hs->client_offer()->extended_max_message_size
                                   : 0;
        s.mac1 = m;
        std::memcpy(s.hello2.data(), buf.data(), hello2_size);
        s.hello2_to[0] = from;
        s.hello2_count = 1;
        s.host = from;
        auto [it, inserted] = sessions_.emplace(a.session_id, std::move(s));
        by_mac1_.emplace(m, a.session_id);
        ++pending_;
        admission_.hold_host(from);
        this->set_state(it->second, session_state::pending, now);
        this->arm(it->second.t.expiry);
        core::session_keys k;
        k.rx = keys.c2s;
        k.tx = keys.s2c;
        report_session_keys(io_.observer, a.session_id, core::role::server, k, now);
        return {};
    }

    /// spec: neutrino-v3.md §9.3
    [[nodiscard]] std::optional<core::dialect> negotiate(const offer& o) const noexcept {
        const auto common = static_cast<std::uint8_t>(o.variants_mask & mask_);
        if (common == 0) return std::nullopt;
        // the client's preference, else our own, else the lowest id in common
        std::uint8_t id = o.preferred_variant;
        if ((common & dialect_bit(id)) == 0) id = cfg_.dialect.id;
        while ((common & dialect_bit(id)) == 0) id = static_cast<std::uint8_t>((id + 1) % 3);
        return find_dialect(id, cfg_.dialect, opt_.also_serve);
    }

    void send_cookie_reply(const mac_value& mac1, const peer_address& to, time_point now) {
        // spec: neutrino-v3.md §8.3: rate-limited globally
        if (!admission_.reply_allowed(opt_, now) || io_.tx.full()) return;
        admission_.count_reply();
        std::array<std::byte, cookie_nonce_size> nonce;
        random_.fill(nonce);
        auto buf = io_.tx.back_buffer();
        auto n = write_cookie_reply(buf, cookie_key_, nonce, mac1, admission_.cookie_for(to));
        if (!n) return;
        io_.tx.push(*n, to);
        ++io_.stats.cookie_replies_sent;
        const packet_info sent{core::role::server,
                               detail::core_type(packet_type::cookie_reply),
                               session_id_none,
                               0,
                               0,
                               {},
                               {},
                               {buf.data(), *n},
                               to};
        io_.observer.on_packet_sent(sent, now);
    }

    // --- transport ---------------------------------------------------------------------------

    /// spec: neutrino-v3.md §10.5 for the server
    result<void> receive_transport(std::span<const std::byte> in, const peer_address& from,
                                   time_point now) {
        auto h = transport_header::parse(in, role::server);
        if (!h) return fail_core(h.error());
        if (h->session_id < min_session_id) return fail(core::errc::bad_session_id);
        auto it = sessions_.find(h->session_id);
        if (it == sessions_.end()) return fail(core::errc::unknown_session);
        server_session& s = it->second;
        auto p = s.t.open(in, *h, now, rx_);
        if (!p) {
            if (p.error() == make_error_code(errc::decryption_failed)) {
                ++io_.stats.failed_auth;
                if (s.t.failed_auth >= max_failed_auth) {
                    this->remove(it, make_error_code(core::errc::protocol_violation),
                           now);  // CRYPTO_LIMIT
                }
            }
            return fail_core(p.error());
        }
        const std::uint64_t pn = h->pn_field;
        const bool numbered = pn < unnumbered_base;
        if (numbered && pn > s.t.receive_limit) {
            if (s.t.accept(*p, false, now)) ++io_.stats.key_updates_followed;
            event e = event::make(event_kind::packet_beyond_window, s.t.id, s.t.peer);
            e.packet_number = pn;
            this->push_event(e);
            return fail(core::errc::outside_window);
        }
        // Authenticated and fresh from here on (§10.5 step 7).
        const bool newest = numbered && pn > s.t.highest_numbered;
        if (s.t.accept(*p, true, now)) ++io_.stats.key_updates_followed;
        s.t.expiry = now + cfg_.timers.established_timeout;
        const packet_type type = h->type;
        if (s.t.state == session_state::pending) confirm(s, from, in.size(), now);
        const bool raw = s.d.raw_data && type == packet_type::data;
        auto words = raw ? result<words_view>(words_view{}) : words_view::parse(p->payload);
        // spec: neutrino-v3.md §10.5 steps 8–9, §7.7: HELLO3 ⇔ pn 1; violations close (reason 4)
        if (!words || (!raw && p->keyword != 0) || !detail::shape_ok(type, *words, s.d) ||
            ((type == packet_type::client_hello3) != (pn == 1))) {
            this->remove(it, make_error_code(core::errc::protocol_violation), now);
            return fail(core::errc::protocol_violation);
        }
        ++io_.stats.packets_accepted;
        const packet_info info{core::role::server,
                               detail::core_type(type),
                               s.t.id,
                               pn,
                               p->keyword,
                               *words,
                               {},
                               p->payload,
                               from};
        io_.observer.on_packet_received(info, now);
        // step 10: the address (§12)
        if (!(from == s.t.peer)) {
            if (s.candidate && from == s.candidate->addr) s.candidate->received += in.size();
            if (newest && !(s.candidate && from == s.candidate->addr))
                start_candidate(s, from, in.size(), now);
        } else if (newest && s.candidate) {
            s.candidate.reset();  // spec: §12.2 rule 5: the peer is still reachable at addr
        }
        // step 11: act and deliver
        switch (type) {
            case packet_type::path_response:
                if (s.candidate && from == s.candidate->addr &&
                    equal_ct((*words)[0], s.candidate->challenge)) {
                    // spec: neutrino-v3.md §12.2 rule 6
                    event e = event::make(event_kind::address_changed, s.t.id, from);
                    e.old_peer = s.t.peer;
                    s.t.peer = from;
                    s.candidate.reset();
                    ++io_.stats.path_validations;
                    this->push_event(e);
                }
                return {};
            case packet_type::client_good_bye:
                this->remove(it, make_error_code(core::errc::closed), now);  // spec: §13, reason 1
                return {};
            case packet_type::data:
                if (s.d.layered) {
                    report_packet(s, type, *p, *words);
                } else {
                    this->push_event(event::data(s.t.id, s.t.peer, *words, pn, p->keyword));
                }
                return {};
            case packet_type::keep_alive:
                if (s.d.layered) {
                    report_packet(s, type, *p, *words);
                } else {
                    (void)send_numbered(s, packet_type::keep_alive, 0, {}, {},
                                        cfg_.min_datagram_size, now);
                }
                return {};
            case packet_type::client_hello3:
            case packet_type::request_retransmission: report_packet(s, type, *p, *words); return {};
            default: return {};
        }
    }

    /// spec: neutrino-v3.md §7.7
    void confirm(server_session& s, const peer_address& from, std::size_t size, time_point now) {
        --pending_;
        admission_.release_host(s.host);
        const auto end = s.hello2_to.begin() + static_cast<std::ptrdiff_t>(s.hello2_count);
        const bool known = std::find(s.hello2_to.begin(), end, from) != end;
        s.t.peer = known ? from : s.hello2_to[0];
        this->set_state(s, session_state::established, now);
        this->push_event(event::make(event_kind::established, s.t.id, s.t.peer));
        if (s.d.layered) {
            // spec: neutrino-v3.md §14.1: the layer above starts its receive state here, so
            // that c2s pn 1 (HELLO3) is the first it expects
            event e = event::make(event_kind::packet_received, s.t.id, s.t.peer);
            e.type = core::packet_type::server_hello2;
            e.packet_number = 0;
            this->push_event(e);
        }
        (void)size;
    }

    void start_candidate(server_session& s, const peer_address& a, std::size_t received,
                         time_point now) {
        s.candidate = detail::new_candidate(a, received, random_, opt_, now);
        send_challenge(s, now);
        this->arm(timer_of(s));
    }

    /// spec: neutrino-v3.md §12.2 rule 4: only within 3× what the candidate sent us
    void send_challenge(server_session& s, time_point now) {
        path_candidate& c = *s.candidate;
        c.last_challenge = now;
        if (!detail::challenge_fits(c)) {
            ++io_.stats.amplification_blocked;
            ++c.challenges;
            return;
        }
        const word w(c.challenge);
        if (send_unnumbered(s, packet_type::path_challenge, {&w, 1}, c.addr, now)) {
            c.sent += detail::challenge_size;
            ++io_.stats.path_challenges_sent;
        }
        ++c.challenges;
    }

    void report_packet(const server_session& s, packet_type type, const opened_transport& p,
                       const words_view& words) {
        detail::report_received(io_, s.d, s.t, s.t.peer, type, p, words);
    }

    [[nodiscard]] detail::session_sender<v3::stats, Observer> sender(server_session& s) noexcept {
        return {io_, s.t, s.d, core::role::server};
    }

    /// Seals a new numbered packet for `s` (payload framed; empty: an empty word list).
    result<std::uint64_t> send_numbered(server_session& s, packet_type type, std::uint32_t keyword,
                                        bytes_view payload, word_list words, std::size_t pad_to,
                                        time_point now) {
        return detail::queue_numbered(sender(s), opt_.key_update, type, keyword, payload, words,
                                      pad_to, now);
    }

    result<void> send_unnumbered(server_session& s, packet_type type, word_list words,
                                 const peer_address& to, time_point now) {
        return detail::queue_unnumbered(sender(s), type, words, payload_, to, now);
    }

    void queue_raw(std::span<const std::byte> bytes, const peer_address& to) noexcept {
        auto buf = io_.tx.back_buffer();
        std::memcpy(buf.data(), bytes.data(), bytes.size());
        io_.tx.push(bytes.size(), to);
    }

    options opt_;
    detail::admission admission_;
    std::uint8_t mask_ = 0;
    derived_key mac1_key_{};
    derived_key cookie_key_{};
    std::vector<std::pair<std::vector<std::byte>, peer_address>> shutdown_backlog_;
    std::unordered_map<mac_value, std::uint64_t, mac_hash> by_mac1_;
    std::array<std::byte, max_payload_size> payload_{};
    std::array<std::byte, max_datagram_size> rx_{};
};

/// The v3 server most applications use: no observer, OS randomness.
using server = basic_server<>;
static_assert(datagram_layer<server>);
static_assert(server_connection<server>);

}  // namespace neutrino::core::v3
