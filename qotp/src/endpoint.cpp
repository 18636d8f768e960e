#include "neutrino/qotp/endpoint.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "neutrino/qotp/packet_protection.hpp"
#include "neutrino/qotp/payload.hpp"

namespace neutrino::qotp {
namespace {

public_key copy_key(key_view k) noexcept {
    public_key out{};
    std::copy(k.begin(), k.end(), out.begin());
    return out;
}

drop_reason reason_of(const std::error_code& ec) noexcept {
    if (ec.category() != error_category()) return drop_reason::malformed_payload;
    switch (static_cast<errc>(ec.value())) {
        case errc::datagram_too_short: return drop_reason::too_short;
        case errc::bad_version:
        case errc::bad_message_type: return drop_reason::bad_header;
        case errc::unexpected_message: return drop_reason::unexpected_message;
        case errc::decryption_failed:
        case errc::low_order_key: return drop_reason::decryption_failed;
        case errc::replayed: return drop_reason::replayed;
        case errc::connection_exists: return drop_reason::init_for_live_connection;
        case errc::connection_closed: return drop_reason::connection_closed;
        case errc::unknown_connection: return drop_reason::unknown_connection;
        case errc::connection_limit: return drop_reason::connection_limit;
        default: return drop_reason::malformed_payload;
    }
}

class drop_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "neutrino.qotp.drop"; }
    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<drop_reason>(ev - 1)) {
            case drop_reason::too_short: return "datagram too short";
            case drop_reason::bad_header: return "bad type byte";
            case drop_reason::unknown_connection: return "unknown connection id";
            case drop_reason::unexpected_message: return "unexpected message type";
            case drop_reason::decryption_failed: return "decryption failed";
            case drop_reason::malformed_payload: return "malformed payload";
            case drop_reason::replayed: return "replayed packet";
            case drop_reason::init_for_live_connection:
                return "init message with other keys for a live connection";
            case drop_reason::connection_limit: return "connection limit reached";
            case drop_reason::half_open_limit: return "half-open limit reached";
            case drop_reason::zero_rtt_replay: return "replayed 0-RTT init message";
            case drop_reason::replay_cache_full: return "0-RTT replay cache full";
            case drop_reason::not_accepting: return "not accepting connections";
            case drop_reason::connection_closed: return "connection closed";
            case drop_reason::amplification_limit: return "amplification limit";
        }
        return "unknown neutrino.qotp.drop reason";
    }
    [[nodiscard]] std::error_condition default_error_condition(int ev) const noexcept override {
        switch (static_cast<drop_reason>(ev - 1)) {
            case drop_reason::too_short:
            case drop_reason::bad_header:
            case drop_reason::unexpected_message:
            case drop_reason::malformed_payload: return make_error_condition(condition::malformed);
            case drop_reason::unknown_connection:
            case drop_reason::decryption_failed:
                return make_error_condition(condition::unauthenticated);
            case drop_reason::replayed:
            case drop_reason::zero_rtt_replay: return make_error_condition(condition::replayed);
            case drop_reason::init_for_live_connection:
                return make_error_condition(condition::protocol_violation);
            case drop_reason::amplification_limit:
                return make_error_condition(condition::too_large);
            case drop_reason::connection_limit:
            case drop_reason::half_open_limit:
            case drop_reason::replay_cache_full:
            case drop_reason::not_accepting:
            case drop_reason::connection_closed: return make_error_condition(condition::refused);
        }
        return make_error_condition(condition::malformed);
    }
};

}  // namespace

const std::error_category& drop_category() noexcept {
    static const drop_category_impl c;
    return c;
}

std::uint64_t endpoint_stats::total_drops() const noexcept {
    return std::accumulate(dropped.begin(), dropped.end(), std::uint64_t{0});
}

endpoint::endpoint(const endpoint_config& config, key_source& keys, const private_key& identity)
    : config_(config), keys_(&keys), identity_(identity), scratch_(init_datagram_size) {
    if (config_.max_connections == 0 || config_.amplification_factor == 0) {
        throw std::invalid_argument("qotp: endpoint needs max_connections and a factor > 0");
    }
    identity_public_ = public_key_of(identity_);
}

tl::unexpected<std::error_code> endpoint::drop(const std::error_code& ec) noexcept {
    return drop(reason_of(ec));
}

std::size_t endpoint::half_open() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(connections_.begin(), connections_.end(), [](const auto& kv) {
            return kv.second.conn->role() == role::responder &&
                   kv.second.conn->phase() != phase::ready;
        }));
}

connection* endpoint::find(connection_id id) noexcept {
    const auto it = connections_.find(id.value);
    return it == connections_.end() ? nullptr : it->second.conn.get();
}

result<connection_id> endpoint::connect(const address& to, time_point now,
                                        const std::optional<public_key>& responder_identity) {
    if (connections_.size() >= config_.max_connections) return fail(errc::connection_limit);
    auto conn = std::make_unique<connection>(config_.connection, *keys_, identity_public_,
                                             responder_identity, now);
    const connection_id id = conn->id();
    if (connections_.contains(id.value)) return fail(errc::connection_exists);
    connections_.emplace(id.value, entry{std::move(conn), to, 0, 0});
    return id;
}

result<void> endpoint::handle_datagram(std::span<const std::byte> datagram,
                                       const address& from, time_point now) noexcept {
    ++stats_.datagrams_received;
    stats_.bytes_received += datagram.size();
    // spec: qotp.md §4.6 — anything below 42 bytes first.
    if (datagram.size() < min_datagram_size) return drop(drop_reason::too_short);
    const auto type = parse_type(datagram);
    if (!type) return drop(type.error());
    const auto id = parse_connection_id(datagram);
    if (!id) return drop(id.error());
    // spec: qotp.md §4.8 — look the connection up by bytes 1..8 before decrypting.
    const auto it = connections_.find(id->value);
    if (it == connections_.end()) {
        if (*type == message_type::init_snd || *type == message_type::init_crypto_snd) {
            try {
                return accept(datagram, *type, *id, from, now);
            } catch (...) {
                return drop(drop_reason::connection_limit);  // allocation failure: refuse
            }
        }
        return drop(drop_reason::unknown_connection);
    }
    entry& e = it->second;
    const bool validated = e.conn->address_validated();
    result<void> out;
    if (const auto r = e.conn->handle_datagram(datagram, now); !r) {
        out = drop(r.error());
    } else if (!validated && from == e.peer) {
        e.received_unvalidated += datagram.size();  // spec: qotp.md §4.7 — the 3× budget
    }
    sweep();
    return out;
}

result<void> endpoint::accept(std::span<const std::byte> datagram, message_type type,
                              connection_id id, const address& from, time_point now) {
    if (!config_.accept) return drop(drop_reason::not_accepting);
    if (connections_.size() >= config_.max_connections) return drop(drop_reason::connection_limit);
    if (half_open() >= config_.max_half_open) return drop(drop_reason::half_open_limit);
    responder_start start;
    start.identity = identity_public_;
    std::optional<transport_payload> initial;
    std::uint64_t initial_sn = 0;
    if (type == message_type::init_snd) {
        const auto m = parse_init_snd(datagram);
        if (!m) return drop(m.error());
        start.peer_ephemeral = copy_key(m->ephemeral_key);
        start.peer_identity = copy_key(m->identity_key);
        start.peer_max_payload = m->max_payload;
    } else {
        const auto m = parse_init_crypto_snd(datagram);
        if (!m) return drop(m.error());
        start.peer_ephemeral = copy_key(m->ephemeral_key);
        start.peer_identity = copy_key(m->identity_key);
        const auto seen = zero_rtt_seen_.find(start.peer_ephemeral);
        if (seen != zero_rtt_seen_.end() && seen->second > now) {
            return drop(drop_reason::zero_rtt_replay);
        }
        // spec: qotp.md §7.2 — S0 = X25519(idR, epI).
        auto s0 = x25519(identity_, start.peer_ephemeral);
        if (!s0) return drop(s0.error());
        std::copy(datagram.begin(), datagram.begin() + static_cast<long>(init_datagram_size),
                  scratch_.begin());
        const auto o = open_message(std::span<std::byte>(scratch_), *s0, sender::initiator);
        if (!o) return drop(o.error());
        auto p = decode_payload(o->payload);  // open_message stripped the filler
        if (!p) return drop(p.error());
        if (zero_rtt_seen_.size() >= config_.zero_rtt_cache_size) {
            std::erase_if(zero_rtt_seen_, [now](const auto& kv) { return kv.second <= now; });
            if (zero_rtt_seen_.size() >= config_.zero_rtt_cache_size) {
                return drop(drop_reason::replay_cache_full);
            }
        }
        zero_rtt_seen_[start.peer_ephemeral] = now + config_.zero_rtt_cache_lifetime;
        start.zero_rtt = *s0;
        initial = *p;
        initial_sn = o->sequence_number;
    }
    start.ephemeral = keys_->generate();
    // spec: qotp.md §7.1 — S = X25519(epR, epI); a low-order epI fails here, before any state.
    auto s = x25519(start.ephemeral, start.peer_ephemeral);
    if (!s) return drop(s.error());
    start.session = *s;
    auto conn = std::make_unique<connection>(config_.connection, *keys_, start, now);
    if (initial) {
        if (const auto r = conn->handle_initial_payload(*initial, initial_sn, now); !r) {
            return drop(r.error());
        }
    }
    connections_.emplace(id.value, entry{std::move(conn), from, datagram.size(), 0});
    ++stats_.connections_accepted;
    events_.push_back(endpoint_event{endpoint_event::kind::accepted, id, {}});
    return {};
}

std::optional<transmit> endpoint::poll_datagram(std::span<std::byte> out,
                                                time_point now) noexcept {
    for (auto& [key, e] : connections_) {
        std::span<std::byte> room = out;
        const bool capped = !e.conn->address_validated();
        if (capped) {
            // spec: qotp.md §4.7 — a reply to an unvalidated address is built no larger than
            // what is left of 3× the bytes it sent (whatever maxPayload it claimed, §24.7a); a
            // reply that does not fit counts as sent and lost, so the timers still run out.
            const std::uint64_t budget =
                std::uint64_t{config_.amplification_factor} * e.received_unvalidated;
            const std::uint64_t left =
                budget > e.sent_unvalidated ? budget - e.sent_unvalidated : 0;
            room = out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), left)));
        }
        const auto n = e.conn->poll_datagram(room, now);
        if (e.conn->take_blocked() && capped) drop(drop_reason::amplification_limit);
        if (n) {
            if (capped) e.sent_unvalidated += *n;
            ++stats_.datagrams_sent;
            stats_.bytes_sent += *n;
            return transmit{*n, e.peer};
        }
    }
    sweep();
    return std::nullopt;
}

std::optional<time_point> endpoint::deadline() const noexcept {
    std::optional<time_point> t;
    for (const auto& [key, e] : connections_) {
        if (const auto d = e.conn->deadline(); d && (!t || *d < *t)) t = d;
    }
    return t;
}

void endpoint::handle_deadline(time_point now) noexcept {
    for (auto& [key, e] : connections_) e.conn->handle_deadline(now);
    sweep();
}

std::optional<endpoint_event> endpoint::poll_event() noexcept {
    if (events_.empty()) return std::nullopt;
    endpoint_event ev = events_.front();
    events_.pop_front();
    return ev;
}

void endpoint::sweep() noexcept {
    for (auto it = connections_.begin(); it != connections_.end();) {
        if (it->second.conn->phase() == phase::closed) {
            events_.push_back(endpoint_event{endpoint_event::kind::closed, it->second.conn->id(),
                                             it->second.conn->error()});
            ++stats_.connections_closed;
            it = connections_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace neutrino::qotp
