#pragma once
/// \file
/// What a v3 client and a v3 server do alike on a session's transport: check the clear header
/// of an incoming datagram, seal a numbered or an unnumbered packet into the send queue, and
/// report it. Written once here; the machines differ in whose session and which dialect.
/// spec: neutrino-v3.md §5, §10.1, §10.5 steps 1–2, §11.2, §14.1

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/core/detail/machine_io.hpp"
#include "neutrino/core/dialect.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/core/v3/session.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3::detail {

/// An empty u8 word list: the payload of a control packet without words.
[[nodiscard]] inline bytes_view empty_list() noexcept {
    static constexpr std::array<std::byte, 1> zero{};
    return zero;
}

/// §10.5 steps 1–2 on any datagram: its size, protocol identifier and version. Returns its
/// type code. Errors (core codes): datagram_too_large, datagram_too_short,
/// bad_protocol_identifier, bad_version.
[[nodiscard]] inline result<std::uint8_t> check_clear_header(std::span<const std::byte> in) noexcept {
    if (in.size() > max_datagram_size) return fail(core::errc::datagram_too_large);
    if (in.size() < clear_header_size) return fail(core::errc::datagram_too_short);
    if (neutrino::load_le<std::uint32_t>(in.data()) != protocol_identifier) {
        return fail(core::errc::bad_protocol_identifier);
    }
    if (in[4] != std::byte{protocol_version}) return fail(core::errc::bad_version);
    return static_cast<std::uint8_t>(std::to_integer<std::uint8_t>(in[5]) & type_code_mask);
}

/// One session's sending side, as the machines hand it to the functions below.
template <class Stats, class Observer>
struct session_sender {
    core::detail::machine_io<Stats, Observer>& io;
    transport_session& t;
    const core::dialect& dialect;
    core::role side;
};

/// Tells the observer of a packet queued for `t`'s session to `to`.
template <class Observer>
void report_sent(Observer& observer, core::role side, const transport_session& t, packet_type type,
                 std::uint64_t pn, std::uint32_t keyword, word_list words,
                 std::span<const std::byte> wire, const peer_address& to, time_point now) {
    const packet_info info{side, core_type(type), t.id, pn, keyword, {}, words, wire, to};
    observer.on_packet_sent(info, now);
}

/// Seals a new numbered packet (`payload` already framed; an empty control payload is an empty
/// word list) to the session's address, after a key update `policy` asks for; in a layered
/// dialect a control packet is remembered for `reseal` and a `packet_sent` event carries the
/// bytes. Returns the packet number. Errors: would_block, and the sealing errors (nothing is
/// queued then).  spec: neutrino-v3.md §10.1, §11.2, §14.1
template <class Stats, class Observer>
result<std::uint64_t> queue_numbered(session_sender<Stats, Observer> s, const key_update_policy& policy,
                                     packet_type type, std::uint32_t keyword, bytes_view payload,
                                     word_list words, std::size_t pad_to, time_point now) {
    auto& io = s.io;
    transport_session& t = s.t;
    if (io.tx.full()) return fail(core::errc::would_block);
    if (t.update_due(policy, now)) {
        t.advance_send_phase(now);
        ++io.stats.key_updates_initiated;
    }
    if (payload.empty() && type != packet_type::data) payload = empty_list();
    auto pn = t.take_numbered();
    if (!pn) return fail_core(pn.error());
    auto buf = io.tx.back_buffer();
    auto n = t.seal(buf, type, *pn, keyword, payload, pad_to);
    if (!n) {
        --t.next_pn;
        return fail_core(n.error());
    }
    if (type != packet_type::data && s.dialect.layered) t.remember_control(*pn, type, payload);
    io.tx.push(*n, t.peer);
    const std::span<const std::byte> wire(buf.data(), *n);
    if (s.dialect.layered) {
        event e = event::make(event_kind::packet_sent, t.id, t.peer);
        e.type = core_type(type);
        e.packet_number = *pn;
        e.wire = wire;
        io.push_event(e);
    }
    report_sent(io.observer, s.side, t, type, *pn, keyword, words, wire, t.peer, now);
    return *pn;
}

/// Seals an unnumbered packet with `words` (framed in `scratch`) to `to`. Errors:
/// would_block, the framing errors, and the sealing errors.  spec: neutrino-v3.md §10.1
template <class Stats, class Observer>
result<void> queue_unnumbered(session_sender<Stats, Observer> s, packet_type type, word_list words,
                              std::span<std::byte, max_payload_size> scratch, const peer_address& to,
                              time_point now) {
    auto& io = s.io;
    if (io.tx.full()) return fail(core::errc::would_block);
    auto f = frame(words, scratch);
    if (!f) return tl::unexpected(f.error());
    auto pn = s.t.take_unnumbered();
    if (!pn) return fail_core(pn.error());
    auto buf = io.tx.back_buffer();
    auto n = s.t.seal(buf, type, *pn, 0, {scratch.data(), *f}, 0);
    if (!n) return fail_core(n.error());
    io.tx.push(*n, to);
    report_sent(io.observer, s.side, s.t, type, *pn, 0, words, {buf.data(), *n}, to, now);
    return {};
}

/// Reports an accepted transport packet to the layer above as `packet_received` (a layered
/// dialect only), addressed as `peer`.
template <class Stats, class Observer>
void report_received(core::detail::machine_io<Stats, Observer>& io, const core::dialect& d,
                     const transport_session& t, const peer_address& peer, packet_type type,
                     const opened_transport& p, const words_view& words) {
    if (!d.layered) return;
    event e = event::data(t.id, peer, words, p.header.pn_field, p.keyword);
    e.kind = event_kind::packet_received;
    e.type = core_type(type);
    e.payload = p.payload;
    io.push_event(e);
}

}  // namespace neutrino::core::v3::detail
