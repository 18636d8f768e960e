#pragma once
/// \file
/// `fanout<O...>`: one observer that forwards every call to several, in order. Optional
/// members (`on_session_keys`, `on_handshake_hash`, and those later layers report: `on_packet_lost`,
/// `on_packet_retransmitted`, `on_rtt_sample`, `on_congestion`, signatures as in terminal_observer.hpp) reach
/// only the observers that have them.
///
///     monitor::fanout<terminal_observer, recording_observer> obs{term, rec};
///     core::basic_client<core::wire::v2, decltype(obs)> client(cfg, obs);

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <tuple>
#include <utility>

#include "neutrino/core/observer.hpp"

namespace neutrino::monitor {

template <class... Observers>
class fanout {
public:
    fanout() = default;
    explicit fanout(Observers... o) : observers_(std::move(o)...) {}

    /// The `I`-th observer.
    template <std::size_t I>
    [[nodiscard]] auto& get() noexcept { return std::get<I>(observers_); }

    void on_datagram_received(std::span<const std::byte> wire, const peer_address& from,
                              time_point now) {
        each([&](auto& o) { o.on_datagram_received(wire, from, now); });
    }
    void on_packet_received(const core::packet_info& info, time_point now) {
        each([&](auto& o) { o.on_packet_received(info, now); });
    }
    void on_packet_sent(const core::packet_info& info, time_point now) {
        each([&](auto& o) { o.on_packet_sent(info, now); });
    }
    void on_dropped(std::error_code reason, const peer_address& from, std::size_t size,
                    time_point now) {
        each([&](auto& o) { o.on_dropped(reason, from, size, now); });
    }
    void on_session_state(std::uint64_t sid, const peer_address& peer, core::session_state from,
                          core::session_state to, time_point now) {
        each([&](auto& o) { o.on_session_state(sid, peer, from, to, now); });
    }
    void on_session_keys(std::uint64_t sid, core::role side, const core::session_keys& keys,
                         time_point now) {
        each([&](auto& o) { core::report_session_keys(o, sid, side, keys, now); });
    }
    void on_handshake_hash(std::uint64_t sid, core::role side, std::span<const std::byte> hash,
                           time_point now) {
        each([&](auto& o) { core::report_handshake_hash(o, sid, side, hash, now); });
    }
    /// What later layers report (see terminal_observer.hpp); reaches the observers that have it.
    void on_packet_lost(std::uint64_t sid, core::role side, std::uint64_t pn, time_point now) {
        each([&](auto& o) {
            if constexpr (requires { o.on_packet_lost(sid, side, pn, now); }) {
                o.on_packet_lost(sid, side, pn, now);
            }
        });
    }
    void on_packet_retransmitted(const core::packet_info& info, time_point now) {
        each([&](auto& o) {
            if constexpr (requires { o.on_packet_retransmitted(info, now); }) {
                o.on_packet_retransmitted(info, now);
            }
        });
    }
    void on_rtt_sample(std::uint64_t sid, core::role side, duration rtt, time_point now) {
        each([&](auto& o) {
            if constexpr (requires { o.on_rtt_sample(sid, side, rtt, now); }) {
                o.on_rtt_sample(sid, side, rtt, now);
            }
        });
    }
    void on_congestion(std::uint64_t sid, core::role side, const core::congestion_info& info, time_point now) {
        each([&](auto& o) {
            if constexpr (requires { o.on_congestion(sid, side, info, now); }) {
                o.on_congestion(sid, side, info, now);
            }
        });
    }
    void on_refused(std::uint64_t sid, core::role side, core::refusal what, const peer_address& peer,
                    time_point now) {
        each([&](auto& o) {
            if constexpr (requires { o.on_refused(sid, side, what, peer, now); }) {
                o.on_refused(sid, side, what, peer, now);
            }
        });
    }

private:
    template <class F>
    void each(F&& f) {
        std::apply([&](auto&... o) { (f(o), ...); }, observers_);
    }
    std::tuple<Observers...> observers_;
};

template <class... O>
fanout(O...) -> fanout<O...>;

static_assert(core::observer<fanout<core::null_observer, core::null_observer>>);

}  // namespace neutrino::monitor
