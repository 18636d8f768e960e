#pragma once
/// \file
/// How the reliable session logic reaches one session of a core client or server: the same
/// calls for both roles, made of core::client_connection / core::server_connection members only.

#include <cstdint>
#include <span>

#include "neutrino/core/error.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable::detail {

template <class Client>
struct client_port {
    Client& c;
    result<std::uint64_t> send_packet(core::packet_type t, core::word_list w, time_point now) {
        return c.send_packet(t, w, now);
    }
    result<void> send_request(std::uint64_t pn, time_point now) { return c.send_request(pn, now); }
    // A client talks to the server it dialled only: it never has a candidate address.
    result<void> resend(std::span<const std::byte> b, std::uint64_t pn, time_point now, bool = false) {
        return c.resend(b, pn, now);
    }
    result<void> reseal(std::uint64_t pn, core::packet_type t, core::word_list w, time_point now,
                        bool = false) {
        return c.reseal(pn, t, w, now);
    }
    result<std::uint64_t> send_probe(core::packet_type, core::word_list, time_point) {
        return fail(core::errc::not_connected);
    }
    result<void> validate_path(time_point) { return fail(core::errc::not_connected); }
    void set_receive_limit(std::uint64_t pn) { c.set_receive_limit(pn); }
    void report_rtt(duration rtt, time_point now) { c.report_rtt(rtt, now); }
    void report_congestion(const core::congestion_info& info, time_point now) { c.report_congestion(info, now); }
    void report_refusal(core::refusal what, time_point now) { c.report_refusal(what, now); }
    [[nodiscard]] time_point last_sent() const { return c.last_sent(); }
    [[nodiscard]] time_point last_received() const { return c.last_received(); }
};

template <class Server>
struct server_port {
    Server& s;
    std::uint64_t id;
    result<std::uint64_t> send_packet(core::packet_type t, core::word_list w, time_point now) {
        return s.send_packet(id, t, w, now);
    }
    result<void> send_request(std::uint64_t pn, time_point now) { return s.send_request(id, pn, now); }
    result<void> resend(std::span<const std::byte> b, std::uint64_t pn, time_point now,
                        bool to_candidate = false) {
        return s.resend(id, b, pn, now, to_candidate);
    }
    result<void> reseal(std::uint64_t pn, core::packet_type t, core::word_list w, time_point now,
                        bool to_candidate = false) {
        return s.reseal(id, pn, t, w, now, to_candidate);
    }
    result<std::uint64_t> send_probe(core::packet_type t, core::word_list w, time_point now) {
        return s.send_probe(id, t, w, now);
    }
    result<void> validate_path(time_point now) { return s.validate_path(id, now); }
    void set_receive_limit(std::uint64_t pn) { s.set_receive_limit(id, pn); }
    void report_rtt(duration rtt, time_point now) { s.report_rtt(id, rtt, now); }
    void report_congestion(const core::congestion_info& info, time_point now) { s.report_congestion(id, info, now); }
    void report_refusal(core::refusal what, time_point now) { s.report_refusal(id, what, now); }
    [[nodiscard]] time_point last_sent() const { return time_point{}; }      // unused (client rule)
    [[nodiscard]] time_point last_received() const { return time_point{}; }  // unused (client rule)
};

}  // namespace neutrino::reliable::detail
