#include "neutrino/qotp/connection.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "neutrino/qotp/receive_window.hpp"

namespace neutrino::qotp {
namespace {

// Worst-case transport payload overhead besides data (§9.4): fixed 4, ACK 12 (extended),
// KU and KUA 32 each, stream header 10 (extended). Sizing every segment for it means a
// segment fits any later packet it is retransmitted in, whatever rides along.
constexpr std::size_t max_payload_overhead = payload_fixed_size + 12 + 2 * key_size + 10;

bool same_key(const public_key& a, key_view b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin());
}

public_key copy_key(key_view k) noexcept {
    public_key out{};
    std::copy(k.begin(), k.end(), out.begin());
    return out;
}

tl::unexpected<std::error_code> fail_code(errc e) noexcept { return qotp::fail(e); }

}  // namespace

void connection::check_config() const {
    if (config_.max_payload < init_datagram_size) {
        throw std::invalid_argument("qotp: max_payload below 1232");
    }
    if (config_.rotation_start == 0 || config_.rotation_start >= config_.rotation_deadline ||
        config_.rotation_deadline > max_sequence_number) {
        throw std::invalid_argument("qotp: need 0 < rotation_start < rotation_deadline < 2^48");
    }
    if (config_.rto.count() <= 0 || config_.max_rto < config_.rto || config_.max_in_flight == 0 ||
        config_.idle_timeout.count() <= 0) {
        throw std::invalid_argument("qotp: bad timer or in-flight setting");
    }
}

connection::connection(const connection_config& config, key_source& keys,
                       const public_key& identity,
                       const std::optional<public_key>& responder_identity, time_point now)
    : config_(config),
      keys_(&keys),
      identity_(identity),
      init_due_(now),
      plaintext_(config.max_payload),
      receive_scratch_(config.max_payload),
      role_(role::initiator) {
    check_config();
    ephemeral_ = keys_->generate();
    ephemeral_public_ = public_key_of(ephemeral_);
    id_ = connection_id::of(ephemeral_public_);
    if (responder_identity) {
        auto s0 = x25519(ephemeral_, *responder_identity);  // spec: qotp.md §5 (S0)
        if (!s0) throw std::invalid_argument("qotp: low-order responder identity key");
        zero_rtt_ = *s0;
        peer_identity_ = responder_identity;
    }
    in_flight_.reserve(config_.max_in_flight);
    if (zero_rtt_) log_secret(key_log_label::zero_rtt, *zero_rtt_);  // spec: qotp.md §19
}

connection::connection(const connection_config& config, key_source& keys,
                       const responder_start& start, time_point now)
    : config_(config),
      keys_(&keys),
      ephemeral_(start.ephemeral),
      identity_(start.identity),
      peer_ephemeral_(start.peer_ephemeral),
      peer_identity_(start.peer_identity),
      zero_rtt_(start.zero_rtt),
      init_due_(now),
      send_key_(start.session),
      last_received_(now),
      plaintext_(config.max_payload),
      receive_scratch_(config.max_payload),
      role_(role::responder) {
    check_config();
    ephemeral_public_ = public_key_of(ephemeral_);
    id_ = connection_id::of(peer_ephemeral_);
    receive_current_ = receive_key{start.session, peer_ephemeral_, {}};
    if (start.peer_max_payload != 0) {
        mtu_ = std::max<std::size_t>(std::min(config_.max_payload, start.peer_max_payload),
                                     init_datagram_size);
    }
    if (!zero_rtt_) {
        // spec: qotp.md §7.1 — as if an empty payload on stream 0 had arrived: ACK (0, 0, 0).
        push_ack(ack_block{0, 0, 0});
    }
    in_flight_.reserve(config_.max_in_flight);
    // spec: qotp.md §19 — the responder logs S0 (0-RTT) and S on the initiating message.
    if (zero_rtt_) log_secret(key_log_label::zero_rtt, *zero_rtt_);
    log_secret(key_log_label::session, start.session);
}

void connection::log_secret(key_log_label label, const shared_secret& secret) const noexcept {
    if (config_.key_log != nullptr) config_.key_log->on_secret(key_log_entry{label, id_, secret});
}

void connection::fail(errc e) noexcept {
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    error_ = make_error_code(e);
    event_closed_ = true;
}

void connection::close() noexcept {
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    event_closed_ = true;
}

// spec: qotp.md §13.3 — wait(g) = RTO doubled g times (each capped), wait(5) = RTO.
std::chrono::milliseconds connection::backoff(unsigned sends) const noexcept {
    const unsigned g = sends == 0 ? 0 : sends - 1;
    if (g >= 5) return config_.rto;
    auto w = config_.rto;
    for (unsigned i = 0; i < g; ++i) w = std::min(w * 2, config_.max_rto);
    return w;
}

// spec: qotp.md §7.3 — before `ready` every packet uses the role's initiating type.
message_type connection::send_type() const noexcept {
    if (phase_ == phase::ready) return message_type::data;
    if (role_ == role::initiator) {
        return zero_rtt_ ? message_type::init_crypto_snd : message_type::init_snd;
    }
    return zero_rtt_ ? message_type::init_crypto_rcv : message_type::init_rcv;
}

std::size_t connection::data_budget(message_type type, std::size_t cap) const noexcept {
    std::size_t overhead = header_size(type) + protection_overhead + max_payload_overhead;
    if (type == message_type::init_crypto_snd) {
        cap = init_datagram_size;
        overhead += filler_length_size;
    }
    return cap > overhead ? std::min<std::size_t>(cap - overhead, 0xFFFF) : 0;
}

result<std::size_t> connection::send(std::span<const std::byte> bytes) noexcept {
    if (phase_ == phase::closed) return fail_code(errc::connection_closed);
    if (send_buffer_.capacity() < config_.send_buffer_size) {
        send_buffer_.reserve(config_.send_buffer_size);  // once, not per packet
    }
    const std::size_t n = std::min(bytes.size(), config_.send_buffer_size - send_buffer_.size());
    send_buffer_.insert(send_buffer_.end(), bytes.begin(), bytes.begin() + static_cast<long>(n));
    return n;
}

std::size_t connection::read(std::span<std::byte> out) noexcept {
    const std::size_t n = std::min(out.size(), receive_buffer_.size());
    std::copy_n(receive_buffer_.begin(), n, out.begin());
    receive_buffer_.erase(receive_buffer_.begin(), receive_buffer_.begin() + static_cast<long>(n));
    return n;
}

std::optional<connection_event> connection::poll_event() noexcept {
    using kind = connection_event::kind;
    if (event_ready_) {
        event_ready_ = false;
        return connection_event{kind::handshake_complete, {}};
    }
    if (event_rotations_ > 0) {
        --event_rotations_;
        return connection_event{kind::key_rotated, {}};
    }
    if (event_readable_) {
        event_readable_ = false;
        return connection_event{kind::readable, {}};
    }
    if (event_closed_) {
        event_closed_ = false;
        return connection_event{kind::closed, error_};
    }
    return std::nullopt;
}

void connection::push_ack(const ack_block& a) noexcept {
    if (ack_count_ == acks_.size()) return;  // full: the peer retransmits (§12, never fatal)
    acks_[(ack_head_ + ack_count_) % acks_.size()] = a;
    ++ack_count_;
}

std::optional<ack_block> connection::pop_ack() noexcept {
    if (ack_count_ == 0) return std::nullopt;
    const ack_block a = acks_[ack_head_];
    ack_head_ = (ack_head_ + 1) % acks_.size();
    --ack_count_;
    return a;
}

std::optional<std::size_t> connection::new_segment(std::size_t budget, time_point now) {
    const std::uint64_t end = send_base_ + send_buffer_.size();
    if (budget == 0 || send_next_offset_ >= end || in_flight_.size() >= config_.max_in_flight) {
        return std::nullopt;
    }
    // Nothing more than max_in_flight packets beyond the oldest unacknowledged byte: the
    // receiver then never needs more than that many reorder slots, so an ACKed packet past a
    // gap cannot let the sender run ahead until the receiver drops data unacknowledged.
    if (send_next_offset_ - send_base_ >= config_.max_in_flight * budget) return std::nullopt;
    const auto len =
        static_cast<std::uint16_t>(std::min<std::uint64_t>(end - send_next_offset_, budget));
    in_flight_.push_back(segment{send_next_offset_, len, 1, now});
    send_next_offset_ += len;
    return in_flight_.size() - 1;
}

std::optional<stream_frame> connection::handshake_frame(time_point now) noexcept {
    if (!in_flight_.empty()) {
        in_flight_.front().last_sent = now;
        return frame_of(in_flight_.front());
    }
    stream_frame f{};
    f.offset = send_next_offset_;
    return f;
}

std::optional<stream_frame> connection::frame_of(const segment& s) const noexcept {
    stream_frame f;
    f.offset = s.offset;
    f.data = std::span<const std::byte>(send_buffer_).subspan(s.offset - send_base_, s.length);
    return f;
}

std::optional<std::size_t> connection::emit(std::span<std::byte> out, message_type type,
                                            std::optional<ack_block> ack, outgoing_extras extras,
                                            std::optional<stream_frame> stream) noexcept {
    transport_payload p;
    p.max_payload = config_.max_payload;
    const std::size_t free =
        config_.receive_buffer_size - std::min(config_.receive_buffer_size, receive_buffer_.size());
    p.receive_window = encode_receive_window(free);
    p.ack = ack;
    if (extras.key_update) p.key_update = next_ephemeral_public_;
    if (extras.key_update_ack) p.key_update_ack = key_update_ack_;
    p.stream = stream;
    const auto n = encode_payload(p, plaintext_);
    if (!n) {
        blocked_ = true;
        return std::nullopt;
    }
    const auto sn = counter_.next();  // spec: qotp.md §6.5 — fresh sn for every packet
    if (!sn) {
        fail(errc::sequence_exhausted);
        return std::nullopt;
    }
    const auto pl = std::span<const std::byte>(plaintext_).first(*n);
    const sender me = role_ == role::initiator ? sender::initiator : sender::responder;
    result<std::size_t> r = fail_code(errc::unexpected_message);
    switch (type) {
        case message_type::data: r = seal_data(out, id_, pl, send_key_, *sn, me); break;
        case message_type::init_rcv:
            r = seal_init_rcv(out, id_, announced_keys{ephemeral_public_, identity_}, pl, send_key_,
                              *sn);
            break;
        case message_type::init_crypto_rcv:
            r = seal_init_crypto_rcv(out, id_, ephemeral_public_, pl, send_key_, *sn);
            break;
        case message_type::init_crypto_snd:
            r = seal_init_crypto_snd(out, announced_keys{ephemeral_public_, identity_}, pl,
                                     *zero_rtt_, *sn);
            break;
        case message_type::init_snd: break;
    }
    if (!r) {
        blocked_ = true;  // `out` too small: e.g. capped by the amplification budget
        return std::nullopt;
    }
    return *r;
}

// spec: qotp.md §8, rotating side, steps 1 and 4.
void connection::after_send(time_point now) noexcept {
    if (phase_ == phase::closed) return;
    if (counter_.peek() >= config_.rotation_deadline) {
        if (!send_next_) {
            fail(errc::rotation_not_completed);
            return;
        }
        send_key_ = *send_next_;
        ephemeral_ = *next_ephemeral_;
        ephemeral_public_ = next_ephemeral_public_;
        send_next_.reset();
        next_ephemeral_.reset();
        key_update_sends_ = 0;
        counter_.restart();
        ++send_rotations_;
        ++event_rotations_;
        return;
    }
    if (counter_.peek() >= config_.rotation_start && !next_ephemeral_) {
        next_ephemeral_ = keys_->generate();
        next_ephemeral_public_ = public_key_of(*next_ephemeral_);
        key_update_sends_ = 0;
        key_update_due_ = now;  // attach to the next outgoing packet
    }
}

std::optional<std::size_t> connection::poll_datagram(std::span<std::byte> out,
                                                     time_point now) noexcept {
    check_timers(now);
    if (phase_ == phase::closed) return std::nullopt;
    out = out.first(std::min(out.size(), mtu_));
    auto n = phase_ == phase::ready ? poll_ready(out, now) : poll_before_ready(out, now);
    if (n) after_send(now);
    return n;
}

std::optional<std::size_t> connection::poll_before_ready(std::span<std::byte> out,
                                                         time_point now) noexcept {
    const message_type type = send_type();
    if (role_ == role::initiator) {
        if (phase_ != phase::created && now < init_due_) return std::nullopt;
        std::optional<std::size_t> n;
        if (type == message_type::init_snd) {
            // spec: qotp.md §4.1, §7.3 — plaintext, re-sent byte for byte.
            auto w = write_init_snd(out, announced_keys{ephemeral_public_, identity_},
                                    config_.max_payload);
            if (!w) blocked_ = true;
            if (w && phase_ == phase::created)
                (void)counter_.next();  // §6.5: InitSnd uses a number
            if (w) n = *w;
        } else {
            // spec: qotp.md §7.3 — 0-RTT data is tracked; re-sends carry the same segment.
            if (in_flight_.empty()) (void)new_segment(data_budget(type, out.size()), now);
            n = emit(out, type, std::nullopt, {}, handshake_frame(now));
        }
        // Sent or not (no room), the re-send timer moves on: a blocked send counts as lost.
        phase_ = phase::init_sent;
        ++init_sends_;
        init_due_ = now + backoff(init_sends_);
        return n;
    }
    // Responder: the first reply, a timed re-send, an answer to a re-sent init, or owed ACKs.
    const bool first = phase_ == phase::created;
    const bool resend = !first && now >= init_due_;
    if (!first && !resend && !reply_owed_ && ack_count_ == 0) return std::nullopt;
    auto ack = pop_ack();
    std::optional<stream_frame> frame;
    if (first || resend || reply_owed_) {
        // An empty stream header makes the initiator ACK it with a Data packet, which completes
        // our handshake without waiting for its data (§7.3, fixes §24.10's RTO wait).
        if (first && zero_rtt_) (void)new_segment(data_budget(type, out.size()), now);
        frame = handshake_frame(now);
    }
    auto n = emit(out, type, ack, {}, frame);
    if (first || resend) {  // even when blocked: counts as sent and lost
        phase_ = phase::init_sent;
        ++init_sends_;
        init_due_ = now + backoff(init_sends_);
    }
    reply_owed_ = false;
    return n;
}

std::optional<std::size_t> connection::poll_ready(std::span<std::byte> out,
                                                  time_point now) noexcept {
    outgoing_extras extras;
    extras.key_update = next_ephemeral_ && !send_next_ && now >= key_update_due_;
    extras.key_update_ack = key_update_ack_owed_;
    std::optional<stream_frame> frame;
    // spec: qotp.md §13.3 — the earliest-sent due packet is retransmitted.
    segment* due = nullptr;
    for (auto& s : in_flight_) {
        if (now - s.last_sent >= backoff(s.sends) &&
            (due == nullptr || s.last_sent < due->last_sent)) {
            due = &s;
        }
    }
    if (due != nullptr) {
        ++due->sends;
        due->last_sent = now;
        frame = frame_of(*due);
    } else if (auto i = new_segment(data_budget(message_type::data, out.size()), now)) {
        frame = frame_of(in_flight_[*i]);
    } else if (extras.key_update || extras.key_update_ack || probe_owed_) {
        // spec: qotp.md §8 — a KU or KUA carrier has a stream header, so it is ACKed.
        frame = stream_frame{};
        frame->offset = send_next_offset_;
    }
    if (!frame && ack_count_ == 0) return std::nullopt;
    auto n = emit(out, message_type::data, pop_ack(), extras, frame);
    if (!n) return std::nullopt;
    if (extras.key_update) {
        ++key_update_sends_;
        key_update_due_ = now + config_.rto;  // spec: qotp.md §8 — again once per RTO
    }
    if (extras.key_update_ack) key_update_ack_owed_ = false;
    probe_owed_ = false;
    return n;
}

void connection::check_timers(time_point now) noexcept {
    if (phase_ == phase::closed) return;
    if (last_received_ && now - *last_received_ >= config_.idle_timeout) {
        fail(errc::idle_timeout);  // spec: qotp.md §17
        return;
    }
    if (phase_ == phase::init_sent && now >= init_due_ && init_sends_ > config_.max_retries) {
        fail(errc::handshake_timeout);  // spec: qotp.md §7.3
        return;
    }
    if (phase_ != phase::ready) return;
    for (const auto& s : in_flight_) {
        if (s.sends > config_.max_retries && now - s.last_sent >= backoff(s.sends)) {
            fail(errc::retransmission_timeout);  // spec: qotp.md §13.3
            return;
        }
    }
    if (next_ephemeral_ && !send_next_ && key_update_sends_ > config_.max_retries &&
        now >= key_update_due_) {
        fail(errc::key_update_timeout);  // spec: qotp.md §8
    }
}

void connection::handle_deadline(time_point now) noexcept { check_timers(now); }

std::optional<time_point> connection::deadline() const noexcept {
    if (phase_ == phase::closed) return std::nullopt;
    std::optional<time_point> t;
    auto consider = [&t](time_point x) {
        if (!t || x < *t) t = x;
    };
    if (last_received_) consider(*last_received_ + config_.idle_timeout);
    if (phase_ != phase::ready) {
        consider(init_due_);
        return t;
    }
    for (const auto& s : in_flight_) consider(s.last_sent + backoff(s.sends));
    if (next_ephemeral_ && !send_next_) consider(key_update_due_);
    return t;
}

void connection::become_ready() noexcept {
    phase_ = phase::ready;
    event_ready_ = true;
    // A Go responder completes only on our first Data packet (§20.1): send one at once.
    if (role_ == role::initiator) probe_owed_ = true;
}

result<void> connection::handle_datagram(std::span<const std::byte> datagram,
                                         time_point now) noexcept {
    if (phase_ == phase::closed) return fail_code(errc::connection_closed);
    if (datagram.size() > receive_scratch_.size()) return fail_code(errc::payload_too_large);
    std::copy(datagram.begin(), datagram.end(), receive_scratch_.begin());
    const auto dg = std::span<std::byte>(receive_scratch_).first(datagram.size());
    const auto type = parse_type(dg);
    if (!type) return tl::unexpected(type.error());
    switch (*type) {
        case message_type::init_snd: {
            if (role_ != role::responder || zero_rtt_) return fail_code(errc::unexpected_message);
            const auto m = parse_init_snd(dg);
            if (!m) return tl::unexpected(m.error());
            // spec: qotp.md §24.3 — never recompute keys from a second InitSnd.
            if (!same_key(peer_ephemeral_, m->ephemeral_key)) {
                return fail_code(errc::connection_exists);
            }
            if (phase_ != phase::ready) reply_owed_ = true;
            last_received_ = now;
            return {};
        }
        case message_type::init_crypto_snd: {
            if (role_ != role::responder || !zero_rtt_) return fail_code(errc::unexpected_message);
            const auto m = parse_init_crypto_snd(dg);
            if (!m) return tl::unexpected(m.error());
            if (!same_key(peer_ephemeral_, m->ephemeral_key)) {
                return fail_code(errc::connection_exists);
            }
            const auto o = open_message(dg, *zero_rtt_, sender::initiator);
            if (!o) return tl::unexpected(o.error());
            const auto p = decode_payload(o->payload);  // the filler is already stripped
            if (!p) return tl::unexpected(p.error());
            return handle_initial_payload(*p, o->sequence_number, now);
        }
        case message_type::init_rcv:
        case message_type::init_crypto_rcv: {
            const bool crypto = *type == message_type::init_crypto_rcv;
            if (role_ != role::initiator || crypto != zero_rtt_.has_value()) {
                return fail_code(errc::unexpected_message);
            }
            public_key peer{};
            std::optional<public_key> id_r;
            if (crypto) {
                const auto m = parse_init_crypto_rcv(dg);
                if (!m) return tl::unexpected(m.error());
                peer = copy_key(m->ephemeral_key);
            } else {
                const auto m = parse_init_rcv(dg);
                if (!m) return tl::unexpected(m.error());
                peer = copy_key(m->ephemeral_key);
                id_r = copy_key(m->identity_key);
            }
            if (phase_ == phase::ready) {
                if (peer != peer_ephemeral_) return fail_code(errc::connection_exists);
                return open_and_process(dg, now);  // a late or re-sent reply, under S
            }
            // spec: qotp.md §7.1, §7.2 — S = X25519(epI, epR).
            auto s = x25519(ephemeral_, peer);
            if (!s) return tl::unexpected(s.error());
            const auto o = open_message(dg, *s, sender::responder);
            if (!o) return tl::unexpected(o.error());
            const auto p = decode_payload(o->payload);
            if (!p) return tl::unexpected(p.error());
            send_key_ = *s;
            log_secret(key_log_label::session, *s);  // spec: qotp.md §19
            receive_current_ = receive_key{*s, peer, {}};
            receive_current_->window.mark(o->sequence_number);
            peer_ephemeral_ = peer;
            if (id_r) peer_identity_ = id_r;
            last_received_ = now;
            become_ready();
            return process(*p, now);
        }
        case message_type::data: return open_and_process(dg, now);
    }
    return fail_code(errc::bad_message_type);
}

result<void> connection::handle_initial_payload(const transport_payload& payload, std::uint64_t sn,
                                                time_point now) noexcept {
    if (phase_ == phase::closed) return fail_code(errc::connection_closed);
    if (!zero_rtt_window_.fresh(sn)) return fail_code(errc::replayed);
    zero_rtt_window_.mark(sn);
    last_received_ = now;
    if (phase_ != phase::ready) reply_owed_ = true;
    return process(payload, now);
}

result<void> connection::open_and_process(std::span<std::byte> datagram, time_point now) noexcept {
    if (phase_ == phase::created && role_ == role::initiator) {
        return fail_code(errc::unexpected_message);
    }
    if (!receive_current_) return fail_code(errc::unexpected_message);
    // spec: qotp.md §6.4, §8 — candidates: current, previous, next receive secret.
    std::array<const shared_secret*, 3> secrets{};
    std::array<receive_key*, 3> keys{};
    std::size_t n = 0;
    for (auto* k : {&receive_current_, &receive_previous_, &receive_next_}) {
        if (*k) {
            secrets[n] = &(*k)->secret;
            keys[n] = &**k;
            ++n;
        }
    }
    const sender peer = role_ == role::initiator ? sender::responder : sender::initiator;
    const auto o = open_message(datagram, std::span(secrets.data(), n), peer);
    if (!o) return tl::unexpected(o.error());
    receive_key& k = *keys[o->secret_index];
    if (!k.window.fresh(o->sequence_number)) return fail_code(errc::replayed);
    const auto p = decode_payload(o->payload);
    if (!p) return tl::unexpected(p.error());
    k.window.mark(o->sequence_number);
    last_received_ = now;
    if (parse_type(datagram).value_or(message_type::init_snd) == message_type::data &&
        role_ == role::responder && phase_ != phase::ready) {
        become_ready();  // spec: qotp.md §7.1 — the responder completes on the first Data
    }
    return process(*p, now);
}

result<void> connection::process(const transport_payload& p, time_point now) noexcept {
    (void)now;
    if (p.max_payload != 0) {
        // spec: qotp.md §16 — mtu = max(min(local, peer), 1232).
        mtu_ =
            std::max<std::size_t>(std::min(config_.max_payload, p.max_payload), init_datagram_size);
    }
    if (p.ack) process_ack(*p.ack);
    if (p.key_update_ack && next_ephemeral_ && !send_next_ &&
        *p.key_update_ack != last_key_update_ack_) {
        // spec: qotp.md §8 step 3 — sendNext = X25519(epNext, KUA); later KUAs ignored. A KUA
        // equal to the one of the previous round is a late re-ACK of it (§8 peer step 2), not
        // an answer to this round: taking it would make a key the peer does not have.
        if (auto s = x25519(*next_ephemeral_, *p.key_update_ack)) {
            send_next_ = *s;
            last_key_update_ack_ = *p.key_update_ack;
        }
    }
    if (p.key_update) {
        if (auto r = process_key_update(*p.key_update); !r) return r;
    }
    if (p.stream) process_stream(*p.stream);
    return {};
}

void connection::process_ack(const ack_block& a) noexcept {
    if (a.stream_id != 0) return;
    // spec: qotp.md §12, §13.2 — exact (offset, length) match; otherwise ignored.
    const auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&a](const segment& s) {
        return s.offset == a.offset && s.length == a.length;
    });
    if (it == in_flight_.end()) return;
    in_flight_.erase(it);
    const std::uint64_t base = in_flight_.empty() ? send_next_offset_ : in_flight_.front().offset;
    if (base > send_base_) {
        send_buffer_.erase(send_buffer_.begin(),
                           send_buffer_.begin() + static_cast<long>(base - send_base_));
        send_base_ = base;
    }
}

// spec: qotp.md §8, peer side.
result<void> connection::process_key_update(const public_key& ku) noexcept {
    if (receive_current_ && receive_current_->peer_key == ku) return {};    // stale
    if (receive_previous_ && receive_previous_->peer_key == ku) return {};  // older still
    if (receive_next_ && receive_next_->peer_key == ku) {
        key_update_ack_owed_ = true;  // re-ACK, no new key
        return {};
    }
    private_key k = keys_->generate();
    auto s = x25519(k, ku);
    if (!s) return tl::unexpected(s.error());
    if (receive_next_) {
        receive_previous_ = std::move(receive_current_);
        receive_current_ = std::move(receive_next_);
        ++receive_rotations_;
    }
    receive_next_ = receive_key{*s, ku, {}};
    key_update_ack_ = public_key_of(k);
    key_update_ack_owed_ = true;
    return {};
}

void connection::process_stream(const stream_frame& s) noexcept {
    const auto len = s.data.size();
    const ack_block ack{s.stream_id, s.offset, static_cast<std::uint16_t>(len)};
    if (s.stream_id != 0 || s.best_effort || len == 0) {
        push_ack(ack);  // other streams are not implemented: acknowledged, data ignored
        return;
    }
    const std::uint64_t end = s.offset + len;
    if (end <= receive_offset_) {
        push_ack(ack);  // duplicate: ACKed again (§12)
        return;
    }
    if (s.offset > receive_offset_) {
        // Out of order: held if a slot is free, else dropped without an ACK (§12).
        if (store_out_of_order(s)) push_ack(ack);
        return;
    }
    const auto fresh = static_cast<std::size_t>(end - receive_offset_);
    if (receive_buffer_.size() + fresh > config_.receive_buffer_size) return;  // full: no ACK
    deliver(s.data, s.offset);
    push_ack(ack);
    // Held packets that now continue the prefix.
    for (bool progress = true; progress;) {
        progress = false;
        for (std::size_t i = 0; i < held_.size(); ++i) {
            auto& h = held_[i];
            if (!h.used || h.offset > receive_offset_) continue;
            const std::uint64_t h_end = h.offset + h.length;
            if (h_end > receive_offset_) {
                if (receive_buffer_.size() + (h_end - receive_offset_) >
                    config_.receive_buffer_size) {
                    continue;  // stays held until the application reads
                }
                deliver(std::span<const std::byte>(held_bytes_)
                            .subspan(i * config_.max_payload, h.length),
                        h.offset);
                progress = true;
            }
            h.used = false;
        }
    }
}

bool connection::store_out_of_order(const stream_frame& s) noexcept {
    if (config_.reorder_slots == 0 || s.data.size() > config_.max_payload) return false;
    if (held_.empty()) {
        held_.resize(config_.reorder_slots);  // once: the first out-of-order packet
        held_bytes_.resize(config_.reorder_slots * config_.max_payload);
    }
    held_segment* free_slot = nullptr;
    std::size_t index = 0;
    for (std::size_t i = 0; i < held_.size(); ++i) {
        if (held_[i].used && held_[i].offset == s.offset && held_[i].length == s.data.size()) {
            return true;  // already held: ACK again
        }
        if (!held_[i].used && free_slot == nullptr) {
            free_slot = &held_[i];
            index = i;
        }
    }
    if (free_slot == nullptr) return false;
    std::copy(s.data.begin(), s.data.end(),
              held_bytes_.begin() + static_cast<long>(index * config_.max_payload));
    *free_slot = held_segment{s.offset, static_cast<std::uint16_t>(s.data.size()), true};
    return true;
}

void connection::deliver(std::span<const std::byte> data, std::uint64_t offset) noexcept {
    const auto skip = static_cast<std::size_t>(receive_offset_ - offset);
    if (receive_buffer_.capacity() < config_.receive_buffer_size) {
        receive_buffer_.reserve(config_.receive_buffer_size);  // once, not per packet
    }
    receive_buffer_.insert(receive_buffer_.end(), data.begin() + static_cast<long>(skip),
                           data.end());
    receive_offset_ = offset + data.size();
    event_readable_ = true;
}

}  // namespace neutrino::qotp
