#include "neutrino/core/v3/session.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

namespace neutrino::core::v3 {

core::errc to_core_errc(errc e) noexcept {
    switch (e) {
        case errc::bad_size: return core::errc::datagram_too_short;
        case errc::bad_header: return core::errc::bad_version;
        case errc::bad_packet_type: return core::errc::bad_packet_type;
        case errc::wrong_pn_space: return core::errc::bad_shape;
        case errc::malformed_offer:
        case errc::malformed_answer:
        case errc::bad_mac1:
        case errc::session_id_mismatch: return core::errc::bad_hello;
        case errc::bad_mac2: return core::errc::rate_limited;
        case errc::decryption_failed: return core::errc::decryption_failed;
        case errc::low_order_point: return core::errc::low_order_key;
        case errc::replayed: return core::errc::replayed;
        case errc::payload_too_large: return core::errc::payload_too_large;
        case errc::pn_exhausted: return core::errc::protocol_violation;
        case errc::buffer_too_small: return core::errc::datagram_too_large;
    }
    return core::errc::malformed_payload;
}

std::error_code to_core(std::error_code ec) noexcept {
    if (ec.category() == error_category())
        return core::make_error_code(to_core_errc(static_cast<errc>(ec.value())));
    return ec;
}

namespace detail {

void transport_session::install(const secret_key& tx0, const secret_key& rx0, time_point now) {
    tx_.emplace(tx0);
    rx_.emplace(rx0);
    phase_started_ = now;
    sent_in_phase_ = 0;
    phase_first_pn_ = next_pn;
    old_tx_.clear();
}

void transport_session::advance_send_phase(time_point now) {
    followed_ = false;
    old_tx_.push_back(old_key{phase_first_pn_, tx_->key()});
    if (old_tx_.size() > retained_phases) old_tx_.pop_front();
    tx_->advance();
    phase_started_ = now;
    sent_in_phase_ = 0;
    phase_first_pn_ = next_pn;
}

bool transport_session::update_due(const key_update_policy& p, time_point now) const noexcept {
    if (!may_initiate_update(p, now)) return false;
    if (p.force_every_packets > 0 && sent_in_phase_ >= p.force_every_packets) return true;
    const auto age = now - phase_started_;
    return age >= p.min_interval && (sent_in_phase_ >= p.after_packets || age >= p.after_time);
}

result<opened_transport> transport_session::open(bytes_view d, const transport_header& h,
                                                 time_point now,
                                                 std::span<std::byte> scratch) noexcept {
    if (!window.precheck(h.pn_field)) return fail(errc::replayed);
    result<opened_transport> p = fail(errc::decryption_failed);
    if (rx_->is_current_bit(h.phase_bit)) {
        p = open_transport(d, h, rx_->current(), scratch);
    } else {
        p = open_transport(d, h, rx_->next(), scratch);
        if (p) {
            p->key = receive_keys::which::next;
        } else if (const secret_key* prev = rx_->previous(now); prev != nullptr) {
            p = open_transport(d, h, *prev, scratch);
            if (p) p->key = receive_keys::which::previous;
        }
    }
    if (!p) ++failed_auth;
    return p;
}

bool transport_session::accept(const opened_transport& p, bool commit, time_point now) {
    if (commit) {
        window.commit(p.header.pn_field);
        if (in_space(p.header.pn_field, pn_space::numbered)) {
            highest_numbered = std::max(highest_numbered, p.header.pn_field);
        }
    }
    rx_->discard_expired(now);
    if (p.key != receive_keys::which::next) return false;
    rx_->advance(now);
    if (tx_->phase() < rx_->phase()) {
        advance_send_phase(now);
        followed_ = true;
        return true;
    }
    return false;
}

result<std::size_t> transport_session::seal(std::span<std::byte> out, packet_type type,
                                            std::uint64_t pn_field, std::uint32_t keyword,
                                            bytes_view payload, std::size_t pad_to) noexcept {
    auto n = seal_transport(out, type, tx_->phase_bit(), id, pn_field, keyword, payload, pad_to,
                            tx_->key());
    if (n && pn_field < unnumbered_base) ++sent_in_phase_;
    return n;
}

void transport_session::remember_control(std::uint64_t pn, packet_type type, bytes_view payload) {
    if (payload.size() > control_record::capacity) return;
    if (!controls_) controls_ = std::make_unique<std::array<control_record, control_slots>>();
    control_record& r = (*controls_)[pn % control_slots];
    r.pn = pn;
    r.type = type;
    r.size = payload.size();
    if (!payload.empty()) std::memcpy(r.bytes.data(), payload.data(), payload.size());
}

std::optional<transport_session::control_view> transport_session::control(
    std::uint64_t pn) const noexcept {
    if (!controls_) return std::nullopt;
    const control_record& r = (*controls_)[pn % control_slots];
    if (r.pn != pn) return std::nullopt;
    return control_view{r.type, bytes_view(r.bytes.data(), r.size)};
}

result<transport_session::prepared> transport_session::prepare_resend(
    bytes_view datagram, std::uint64_t pn, std::span<std::byte> out) const noexcept {
    if (datagram.size() < min_transport_size || datagram.size() > max_datagram_size ||
        out.size() < datagram.size()) {
        return fail(errc::bad_size);
    }
    if (pn >= phase_first_pn_ || pn >= unnumbered_base) {
        std::memcpy(out.data(), datagram.data(), datagram.size());
        return prepared{datagram.size(), false};
    }
    const old_key* k = nullptr;
    for (const old_key& o : old_tx_) {
        if (o.first_pn <= pn) k = &o;  // ascending: the last one that starts at or before pn
    }
    if (k == nullptr) return fail(errc::pn_exhausted);
    std::array<std::byte, max_datagram_size> plain;
    auto n = aead_chacha20poly1305_ietf::open(plain, datagram.subspan(prefix_size),
                                              datagram.first(prefix_size), pn, k->key);
    if (!n) return tl::unexpected(n.error());
    std::memcpy(out.data(), datagram.data(), prefix_size);
    const auto type_byte = std::to_integer<std::uint8_t>(datagram[5]);
    out[5] = std::byte{
        static_cast<std::uint8_t>((type_byte & type_code_mask) | (tx_->phase_bit() << 7))};
    auto s = aead_chacha20poly1305_ietf::seal(out.subspan(prefix_size), {plain.data(), *n},
                                              out.first(prefix_size), pn, tx_->key());
    sodium_memzero(plain.data(), plain.size());
    if (!s) return tl::unexpected(s.error());
    return prepared{prefix_size + *s, true};
}

bool shape_ok(packet_type t, const words_view& w, const dialect& d) noexcept {
    auto u64s = [&w](std::size_t n) {
        if (w.size() != n) return false;
        for (word x : w) {
            if (x.size() != 8) return false;
        }
        return true;
    };
    switch (t) {
        case packet_type::data: return true;
        case packet_type::keep_alive: return d.layered ? u64s(d.keep_alive_u64_words) : w.empty();
        case packet_type::request_retransmission: return d.layered && u64s(1);
        case packet_type::path_challenge:
        case packet_type::path_response: return u64s(1);
        case packet_type::client_hello3:
        case packet_type::client_good_bye:
        case packet_type::server_shutdown: return w.empty();
        default: return false;
    }
}

}  // namespace detail
}  // namespace neutrino::core::v3
