#pragma once
/// \file
/// `core::v3::basic_client`: the client side of Neutrino wire v3 as a sans-IO machine, with the
/// public API of `core::basic_client` (v2), so that `reliable::basic_client<Next>` runs over it
/// unchanged. Noise NK (or IK with a client static key), cookies, HELLO1 retransmission,
/// header-authenticated packet protection with two number spaces and a replay window, key
/// update, authenticated close, PATH_RESPONSE.
/// spec: neutrino-v3.md §7.3, §7.5, §7.7, §7.9, §8.4, §10, §11, §12.2 rule 7, §13, §14.1
///
/// Reliable compatibility (§14.1): v3 numbering starts at 1 and HELLO2 is not numbered, while
/// the reliable layer starts its receive state at the first `packet_received` event. In the
/// layered dialects the accepted HELLO2 is therefore reported as a `packet_received` event of
/// type SERVER_HELLO2 with packet number 0, so that the layer above expects s2c pn 1 next.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/core/client_config.hpp"
#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/detail/client_base.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/v3/cookie.hpp"
#include "neutrino/core/v3/dialects.hpp"
#include "neutrino/core/v3/handshake.hpp"
#include "neutrino/core/v3/sealing.hpp"
#include "neutrino/core/v3/session.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/random.hpp"

namespace neutrino::core::v3 {

/// What a v3 client needs beyond `core::client_config`.
struct client_options {
    /// The client's static X25519 secret: IK when set, NK (anonymous) when empty.
    std::optional<secret_key> static_key;
    /// Dialects offered besides the configured one, which is always offered and preferred
    /// (`client_config::dialect`). Their ids must be distinct and ≤ 2.  spec: neutrino-v3.md §9.1
    std::vector<core::dialect> also_offer;
    /// The largest message accepted, offered when dialect id 2 is offered (the wire carries it
    /// for that one only, §9.1).
    std::uint32_t max_message_size = 65536;
    key_update_policy key_update{};
};

/// The v3 client machine: `core::detail::client_base` (shared with v2) plus v3's handshake
/// (Noise NK/IK, cookies, HELLO1 retransmission) and packet protection. Not thread-safe: one
/// owner calls it.
template <class Observer = null_observer, class Random = system_random>
class basic_client
    : public core::detail::client_base<basic_client<Observer, Random>, detail::transport_session,
                                       v3::stats, Observer, Random> {
    using base = core::detail::client_base<basic_client, detail::transport_session, v3::stats,
                                           Observer, Random>;
    friend base;

public:
    /// The largest DATA payload (the Extended fragment size).  spec: neutrino-v3.md §14.2
    static constexpr std::size_t max_payload_size = v3::max_payload_size;
    using typename base::config;
    using options = client_options;

    /// Throws `std::invalid_argument` when a configured key is unusable.
    explicit basic_client(config cfg, Observer observer = {}, Random random = {})
        : basic_client(std::move(cfg), options{}, std::move(observer), std::move(random)) {}

    basic_client(config cfg, options opt, Observer observer = {}, Random random = {})
        : base(std::move(cfg), std::move(observer), std::move(random)),
          opt_(std::move(opt)),
          dialect_(cfg_.dialect) {
        check_dialects(cfg_.dialect, opt_.also_offer);
        ensure_sodium();
        mac1_key_ = derive_mac1_key(cfg_.server_key);
        cookie_key_ = derive_cookie_key(cfg_.server_key);
    }

    // --- application API -------------------------------------------------------------------

    /// Sends one DATA packet. Errors: not_connected, draining, too_many_words,
    /// word_too_large, payload_too_large (over 1238 bytes), would_block.
    result<void> send(word_list words, time_point now) {
        auto r = send_packet(packet_type_data, words, now);
        if (!r) return tl::unexpected(r.error());
        return {};
    }

    /// Starts a key update now (§11.2 condition 1 still applies: the peer must have followed
    /// the previous one; and after following a peer's update, condition 2's 10 s). Errors:
    /// not_connected, would_block (the peer has not followed yet).
    result<void> update_keys(time_point now) {
        if (s_.state != session_state::established) return fail(core::errc::not_connected);
        if (!s_.may_initiate_update(opt_.key_update, now)) return fail(core::errc::would_block);
        s_.advance_send_phase(now);
        ++io_.stats.key_updates_initiated;
        return {};
    }

    // --- for the layer above (a layered dialect) ---------------------------------------------

    /// Seals and queues a numbered packet (KEEP_ALIVE with the layer's words, DATA); returns
    /// its packet number. Errors: as `send`.
    result<std::uint64_t> send_packet(core::packet_type type, word_list words, time_point now) {
        if (auto r = this->require_established(); !r) return tl::unexpected(r.error());
        auto payload = frame_words(words);
        if (!payload) return tl::unexpected(payload.error());
        return send_numbered(v3_type_of(type), 0, *payload, words, cfg_.min_datagram_size, now);
    }

    /// As `send_packet` for DATA whose payload is already encoded (a raw-data dialect), with its
    /// keyword.
    result<std::uint64_t> send_encoded(std::uint32_t keyword, std::span<const std::byte> payload,
                                       time_point now) {
        if (auto r = this->require_established(); !r) return tl::unexpected(r.error());
        if (payload.size() > max_payload_size) return fail(core::errc::payload_too_large);
        return send_numbered(packet_type::data, keyword, payload, {},
                             keyword == 0 ? cfg_.min_datagram_size : 0, now);
    }

    /// Seals again a numbered control packet (KEEP_ALIVE, HELLO3) the peer asked for. v3
    /// derives the nonce from the pn, so the *original* plaintext is re-sealed (never new
    /// words under an old number, §10.1); `type` and `words` are ignored. Errors:
    /// not_connected, protocol_violation (a number not used yet, or no longer held), would_block.
    result<void> reseal(std::uint64_t pn, core::packet_type type, word_list words, time_point now) {
        (void)type;
        (void)words;
        if (auto r = this->require_session(); !r) return r;
        if (pn == 0 || pn >= s_.next_pn) return fail(core::errc::protocol_violation);
        auto c = s_.control(pn);
        if (!c) return fail(core::errc::protocol_violation);
        if (io_.tx.full()) return fail(core::errc::would_block);
        auto buf = io_.tx.back_buffer();
        auto n = s_.seal(buf, c->type, pn, 0, c->payload, 0);
        if (!n) return fail_core(n.error());
        io_.tx.push(*n, s_.peer);
        last_sent_ = now;
        detail::report_sent(io_.observer, core::role::client, s_, c->type, pn, 0, {}, {buf.data(), *n},
                            s_.peer, now);
        return {};
    }

    /// Queues a datagram sealed earlier for numbered `pn` (a retransmission): byte for byte
    /// when its key phase is still the current one, else the same plaintext re-sealed under
    /// the current phase (§10.1). Errors: not_connected, would_block, datagram_too_large,
    /// protocol_violation (its phase key is no longer held), decryption_failed (not ours).
    result<void> resend(std::span<const std::byte> datagram, std::uint64_t pn, time_point now) {
        if (auto r = this->require_session(); !r) return r;
        if (io_.tx.full()) return fail(core::errc::would_block);
        auto buf = io_.tx.back_buffer();
        auto p = s_.prepare_resend(datagram, pn, buf);
        if (!p) return fail_core(p.error());
        if (p->resealed) ++io_.stats.resealed;
        io_.tx.push(p->size, s_.peer);
        last_sent_ = now;
        const packet_info info{
            core::role::client,
            datagram.size() > 5 ? static_cast<core::packet_type>(
                                      std::to_integer<std::uint8_t>(datagram[5]) & type_code_mask)
                                : core::packet_type::data,
            s_.id,
            pn,
            0,
            {},
            {},
            {buf.data(), p->size},
            s_.peer};
        report_retransmission(io_.observer, info, now);
        return {};
    }

    [[nodiscard]] const options& v3_options() const noexcept { return opt_; }

    /// The status of the last refused attempt (HELLO2 status 1–4), if any.
    [[nodiscard]] std::optional<hello2_status> refusal() const noexcept { return refusal_; }
    /// The dialect the server chose (the configured one until a session is established).
    [[nodiscard]] const core::dialect& negotiated_dialect() const noexcept { return dialect_; }
    /// The largest message the server accepts (0 unless dialect id 2 was chosen).
    [[nodiscard]] std::uint32_t peer_message_limit() const noexcept {
        return peer_message_limit_;
    }
    /// Send and receive key phases (§11.1).
    [[nodiscard]] std::uint64_t send_phase() const noexcept { return s_.send_phase(); }
    [[nodiscard]] std::uint64_t receive_phase() const noexcept { return s_.receive_phase(); }
    /// Whether a cookie from the server is held (and fresh at `now`).
    [[nodiscard]] bool has_cookie(time_point now) const noexcept {
        return cookie_ && cookie_->fresh(now);
    }

private:
    using base::cfg_;
    using base::dialling_;
    using base::io_;
    using base::last_sent_;
    using base::random_;
    using base::s_;

    static constexpr core::packet_type packet_type_data = core::packet_type::data;
    static constexpr std::uint64_t max_failed_auth = std::uint64_t{1} << 36;  // spec: §3.3
    static constexpr int hello1_transmissions = 4;                            // spec: §7.9
    static constexpr auto hello1_rto = std::chrono::milliseconds(250);
    static constexpr auto hello1_final_wait = std::chrono::milliseconds(2000);

    static packet_type v3_type_of(core::packet_type t) noexcept { return detail::v3_type(t); }

    result<bytes_view> frame_words(word_list words) noexcept {
        auto n = detail::frame(words, payload_);
        if (!n) return tl::unexpected(n.error());
        return bytes_view(payload_.data(), *n);
    }

    // --- hooks of core::detail::client_base ---------------------------------------------------

    [[nodiscard]] const core::dialect& active_dialect() const noexcept { return dialect_; }

    bool send_keep_alive(time_point now) {
        return send_numbered(packet_type::keep_alive, 0, detail::empty_list(), {}, cfg_.min_datagram_size, now)
            .has_value();
    }
    void send_good_bye(time_point now) {
        (void)send_numbered(packet_type::client_good_bye, 0, {}, {}, 0, now);
    }
    result<void> send_request_word(const word& w, time_point now) {
        return send_unnumbered(packet_type::request_retransmission, {&w, 1}, s_.peer, now);
    }
    /// spec: neutrino-v3.md §13: the closing side wipes the session's keys
    void discard_session() {
        s_.wipe();
        hs_.reset();
    }

    // --- handshake ---------------------------------------------------------------------------

    result<void> start_attempt(time_point now) {
        if (io_.tx.full()) return fail(core::errc::would_block);
        // spec: neutrino-v3.md §7.9: a fresh ephemeral key for every attempt
        secret_key e;
        random_.fill(e.bytes());
        offer_ = offer{};
        offer_.variants_mask = dialect_mask(cfg_.dialect, opt_.also_offer);
        offer_.preferred_variant = cfg_.dialect.id;
        offer_.extended_max_message_size =
            carries_message_limit(offer_.variants_mask) ? opt_.max_message_size : 0;
        auto hs =
            client_handshake::write_hello1(hello1_, cfg_.server_key, mac1_key_, e,
                                           opt_.static_key ? &*opt_.static_key : nullptr, offer_);
        if (!hs) return fail_core(hs.error());
        // keygen + es (+ ss): spec: neutrino-v3.md §19.1
        io_.stats.dh_operations += opt_.static_key ? 3U : 2U;
        hs_.emplace(std::move(*hs));
        if (cookie_ && cookie_->fresh(now)) (void)set_mac2(hello1_, cookie_->value);
        this->begin_attempt(now);
        transmissions_ = 0;
        return transmit_hello1(now);
    }

    result<void> transmit_hello1(time_point now) {
        if (io_.tx.full()) return fail(core::errc::would_block);
        auto buf = io_.tx.back_buffer();
        std::memcpy(buf.data(), hello1_.data(), hello1_size);
        io_.tx.push(hello1_size, cfg_.server);
        ++transmissions_;
        ++io_.stats.hello1_sent;
        cookie_taken_ = false;
        last_sent_ = now;
        // spec: neutrino-v3.md §7.9: re-sent after 250, 500 and 1000 ms; the attempt fails
        // 2000 ms after the fourth transmission
        this->attempt_at_ = transmissions_ < hello1_transmissions
                                ? now + hello1_rto * (1 << (transmissions_ - 1))
                                : now + hello1_final_wait;
        const packet_info info{core::role::client,
                               core::packet_type::client_hello1,
                               session_id_none,
                               0,
                               0,
                               {},
                               {},
                               {buf.data(), hello1_size},
                               cfg_.server};
        io_.observer.on_packet_sent(info, now);
        return {};
    }

    void on_attempt_timer(time_point now) {
        if (transmissions_ < hello1_transmissions) {
            if (!transmit_hello1(now)) this->attempt_at_ = now + hello1_rto;  // queue full: retry
            return;
        }
        // spec: neutrino-v3.md §3.5: HANDSHAKE_FAILED, "timeout"; a new attempt later
        this->end_and_redial(make_error_code(core::errc::timed_out), now, cfg_.timers.redial_interval);
    }

    result<void> receive(std::span<const std::byte> in, const peer_address& from, time_point now) {
        auto code = detail::check_clear_header(in);
        if (!code) return tl::unexpected(code.error());
        // spec: neutrino-v3.md §7.5, §8.4, §10.5 step 3: only the dialled server address
        if (!(from == cfg_.server)) return fail(core::errc::wrong_peer);
        if (*code == static_cast<std::uint8_t>(packet_type::server_hello2))
            return receive_hello2(in, now);
        if (*code == static_cast<std::uint8_t>(packet_type::cookie_reply))
            return receive_cookie_reply(in, now);
        return receive_transport(in, from, now);
    }

    /// spec: neutrino-v3.md §8.4
    result<void> receive_cookie_reply(std::span<const std::byte> in, time_point now) {
        if (s_.state != session_state::pending || !hs_) return fail(core::errc::unexpected_packet);
        if (cookie_taken_) return fail(core::errc::rate_limited);  // one per HELLO1 transmission
        auto c = open_cookie_reply(in, cookie_key_, hs_->mac1());
        if (!c) return fail_core(c.error());
        cookie_ = held_cookie{*c, now};
        ++io_.stats.cookies_received;
        ++io_.stats.packets_accepted;
        const packet_info info{core::role::client,
                               detail::core_type(packet_type::cookie_reply),
                               session_id_none,
                               0,
                               0,
                               {},
                               {},
                               in,
                               cfg_.server};
        io_.observer.on_packet_received(info, now);
        (void)set_mac2(hello1_, cookie_->value);
        // re-send at once with mac2 and restart the retransmission schedule
        transmissions_ = 0;
        auto r = transmit_hello1(now);
        cookie_taken_ = true;
        return r;
    }

    /// spec: neutrino-v3.md §7.5, §9.2
    result<void> receive_hello2(std::span<const std::byte> in, time_point now) {
        // spec: neutrino-v3.md §7.9: a late or second HELLO2 is dropped
        if (s_.state != session_state::pending || !hs_) return fail(core::errc::unexpected_packet);
        if (io_.tx.full()) return fail(core::errc::would_block);
        auto a = hs_->read_hello2(in);  // on a copy: a bad HELLO2 changes nothing
        if (!a) return fail_core(a.error());
        io_.stats.dh_operations += opt_.static_key ? 2U : 1U;  // ee (+ se)
        ++io_.stats.packets_accepted;
        const packet_info info{
            core::role::client, core::packet_type::server_hello2, a->session_id, 0, 0, {}, {}, in,
            cfg_.server};
        io_.observer.on_packet_received(info, now);
        if (!check_answer(offer_, *a)) {
            // reason 4
            this->end_and_redial(make_error_code(core::errc::protocol_violation), now,
                                 cfg_.timers.redial_interval);
            return {};
        }
        if (a->status != hello2_status::accepted) {
            // spec: neutrino-v3.md §7.5: no redial by itself after status 2, 3 or 4
            refusal_ = a->status;
            if (a->status != hello2_status::refused) dialling_ = false;
            this->end_and_redial(make_error_code(core::errc::refused), now, cfg_.timers.redial_interval);
            return {};
        }
        const transport_keys keys = hs_->split();
        report_handshake_hash(io_.observer, a->session_id, core::role::client, hs_->handshake_hash(),
                              now);
        hs_.reset();  // wipes e
        refusal_.reset();
        s_.install(keys.c2s, keys.s2c, now);
        dialect_ = *find_dialect(a->variant, cfg_.dialect, opt_.also_offer);  // in the mask
        peer_message_limit_ = a->extended_max_message_size;
        this->establish(a->session_id, now);
        core::session_keys k;
        k.rx = keys.s2c;
        k.tx = keys.c2s;
        report_session_keys(io_.observer, s_.id, core::role::client, k, now);
        if (dialect_.layered) {
            // spec: neutrino-v3.md §14.1: the layer above starts its receive state here, so
            // that s2c pn 1 is the first it expects
            event e = event::make(event_kind::packet_received, s_.id, cfg_.server);
            e.type = core::packet_type::server_hello2;
            e.packet_number = 0;
            this->push_event(e);
        }
        this->push_event(event::make(event_kind::established, s_.id, cfg_.server));
        // spec: neutrino-v3.md §7.7: HELLO3 is c2s pn 1, empty word list
        (void)send_numbered(packet_type::client_hello3, 0, detail::empty_list(), {}, 0, now);
        return {};
    }

    // --- transport ---------------------------------------------------------------------------

    result<void> receive_transport(std::span<const std::byte> in, const peer_address& from,
                                   time_point now) {
        if (s_.state != session_state::established && s_.state != session_state::draining) {
            return fail(core::errc::unexpected_packet);
        }
        auto h = transport_header::parse(in, role::client);
        if (!h) return fail_core(h.error());
        if (h->session_id != s_.id) return fail(core::errc::unknown_session);
        auto p = s_.open(in, *h, now, rx_);
        if (!p) {
            if (p.error() == make_error_code(errc::decryption_failed)) {
                ++io_.stats.failed_auth;
                if (s_.failed_auth >= max_failed_auth) {
                    this->end_session(make_error_code(core::errc::protocol_violation),
                                      now);  // CRYPTO_LIMIT
                }
            }
            return fail_core(p.error());
        }
        const bool numbered = h->pn_field < unnumbered_base;
        if (numbered && h->pn_field > s_.receive_limit) {
            // authentic: the layer above can ask for it once its window reaches it
            if (s_.accept(*p, false, now)) ++io_.stats.key_updates_followed;
            event e = event::make(event_kind::packet_beyond_window, s_.id, cfg_.server);
            e.packet_number = h->pn_field;
            this->push_event(e);
            return fail(core::errc::outside_window);
        }
        // Authenticated and fresh from here on (§10.5 step 7).
        if (s_.accept(*p, true, now)) ++io_.stats.key_updates_followed;
        this->refresh(now);
        const packet_type type = h->type;
        const bool raw = dialect_.raw_data && type == packet_type::data;
        auto words = raw ? result<words_view>(words_view{}) : words_view::parse(p->payload);
        // spec: neutrino-v3.md §10.5 steps 8–9: authenticated violations close with reason 4
        if (!words || (!raw && p->keyword != 0) || !detail::shape_ok(type, *words, dialect_)) {
            return violation(now);
        }
        ++io_.stats.packets_accepted;
        const packet_info info{core::role::client,
                               detail::core_type(type),
                               s_.id,
                               h->pn_field,
                               p->keyword,
                               *words,
                               {},
                               p->payload,
                               from};
        io_.observer.on_packet_received(info, now);
        switch (type) {
            case packet_type::path_challenge: {
                // spec: neutrino-v3.md §12.2 rule 7: answer at once, same 8 bytes, to the server
                const word w = (*words)[0];
                if (send_unnumbered(packet_type::path_response, {&w, 1}, s_.peer, now))
                    ++io_.stats.path_responses_sent;
                return {};
            }
            case packet_type::request_retransmission: report_packet(type, *p, *words); return {};
            case packet_type::server_shutdown:
                report_packet(type, *p, *words);
                // spec: neutrino-v3.md §13: drain for 2000 ms, then reason 3
                this->on_server_shutdown(from, now);
                return {};
            case packet_type::data:
                if (dialect_.layered) {
                    report_packet(type, *p, *words);
                } else {
                    this->push_event(event::data(s_.id, from, *words, h->pn_field, p->keyword));
                }
                return {};
            case packet_type::keep_alive: report_packet(type, *p, *words); return {};
            default: return violation(now);
        }
    }

    result<void> violation(time_point now) {
        this->end_and_redial(make_error_code(core::errc::protocol_violation), now);
        return fail(core::errc::protocol_violation);
    }

    void report_packet(packet_type type, const opened_transport& p, const words_view& words) {
        detail::report_received(io_, dialect_, s_, cfg_.server, type, p, words);
    }

    [[nodiscard]] detail::session_sender<v3::stats, Observer> sender() noexcept {
        return {io_, s_, dialect_, core::role::client};
    }

    /// Seals a new numbered packet with `payload` (already framed).  spec: neutrino-v3.md §10.1
    result<std::uint64_t> send_numbered(packet_type type, std::uint32_t keyword, bytes_view payload,
                                        word_list words, std::size_t pad_to, time_point now) {
        auto pn = detail::queue_numbered(sender(), opt_.key_update, type, keyword, payload, words,
                                         pad_to, now);
        if (pn) last_sent_ = now;
        return pn;
    }

    result<void> send_unnumbered(packet_type type, word_list words, const peer_address& to,
                                 time_point now) {
        auto r = detail::queue_unnumbered(sender(), type, words, payload_, to, now);
        if (r) last_sent_ = now;
        return r;
    }

    options opt_;
    core::dialect dialect_;
    std::uint32_t peer_message_limit_ = 0;
    derived_key mac1_key_{};
    derived_key cookie_key_{};
    std::optional<client_handshake> hs_;
    offer offer_{};
    std::optional<held_cookie> cookie_;
    std::optional<hello2_status> refusal_;
    std::array<std::byte, hello1_size> hello1_{};
    std::array<std::byte, max_payload_size> payload_{};
    std::array<std::byte, max_datagram_size> rx_{};
    int transmissions_ = 0;
    bool cookie_taken_ = false;
};

/// The v3 client most applications use: no observer, OS randomness.
using client = basic_client<>;
static_assert(datagram_layer<client>);
static_assert(client_connection<client>);

}  // namespace neutrino::core::v3
