#pragma once
/// \file
/// Test helpers for the `bbr` tests: a feeder of synthetic acknowledgements, a round at a time,
/// and a steady path simulation (a fixed bottleneck rate and base RTT on virtual time, with
/// the draft's delivery-rate sampling done sender-side).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "neutrino/congestion/bbr.hpp"

namespace bbr_test {

using neutrino::duration;
using neutrino::time_point;
using neutrino::congestion::ack_sample;
using neutrino::congestion::bbr;
using neutrino::congestion::loss_sample;

inline constexpr time_point t0 = time_point{} + std::chrono::seconds{1000};
inline constexpr std::size_t mss = 1200;

/// Feeds a `bbr` synthetic acknowledgements, one round trip at a time. Acknowledgement j of a
/// round covers a packet sent when acknowledgement j of the previous round arrived (ack
/// clocking), so the first acknowledgement of each round starts a round in BBR's counting.
struct feeder {
    bbr& cc;
    time_point now = t0;
    std::uint64_t delivered = 0;
    std::vector<std::uint64_t> previous_round{};

    /// One round of `acks` acknowledgements of `bytes_per_ack` each, spread over `rtt`, each
    /// reporting `rate` bytes/s, an RTT of `rtt`, `in_flight` bytes left in flight, and `lost`
    /// bytes lost out of `tx_in_flight` (0: `in_flight + bytes_per_ack`).
    void round(std::size_t acks, std::size_t bytes_per_ack, double rate, duration rtt,
               std::size_t in_flight, bool app_limited = false, std::uint64_t lost = 0,
               std::size_t tx_in_flight = 0) {
        std::vector<std::uint64_t> current;
        for (std::size_t j = 0; j < acks; ++j) {
            now += rtt / static_cast<duration::rep>(acks);
            std::uint64_t prior = 0;
            if (!previous_round.empty()) {
                prior = j < previous_round.size() ? previous_round[j] : previous_round.back();
            }
            delivered += bytes_per_ack;
            ack_sample s;
            s.bytes = bytes_per_ack;
            s.rtt = rtt;
            s.delivery_rate_bytes_per_s = rate;
            s.app_limited = app_limited;
            s.now = now;
            s.bytes_in_flight = in_flight;
            s.delivered = delivered;
            s.interval_delivered = delivered - prior;
            s.interval = rtt;
            s.tx_in_flight = tx_in_flight != 0 ? tx_in_flight : in_flight + bytes_per_ack;
            s.lost = lost;
            cc.on_acknowledged(s);
            current.push_back(delivered);
        }
        previous_round = std::move(current);
    }

    /// A round at path rate `rate` and RTT `rtt` with the whole BDP acknowledged in
    /// `acks` acknowledgements and `in_flight` left in flight.
    void steady_round(double rate, duration rtt, std::size_t in_flight, std::size_t acks = 10) {
        const double bdp = rate * std::chrono::duration<double>(rtt).count();
        const auto per_ack = std::max<std::size_t>(static_cast<std::size_t>(bdp) / acks, 1);
        round(acks, per_ack, rate, rtt, in_flight);
    }

    /// Reports `count` lost datagrams of `mss` bytes at `now`.
    void lose(std::size_t count, std::size_t in_flight, std::size_t tx_in_flight,
              std::uint64_t lost_before) {
        for (std::size_t i = 0; i < count; ++i) {
            loss_sample l;
            l.bytes = mss;
            l.now = now;
            l.bytes_in_flight = in_flight;
            l.tx_in_flight = tx_in_flight;
            l.lost = lost_before + (i + 1) * mss;
            cc.on_lost(l);
        }
    }
};

/// A steady path: one bottleneck of `rate` bytes/s with an unlimited queue, `base_rtt` of
/// propagation delay, no loss. The sender sends `mss`-byte datagrams whenever the window
/// allows and its pacer (at `pacing_rate()`) is ready, and samples delivery rate as the
/// draft's "Delivery Rate Samples" describes; each datagram is acknowledged on its own.
struct path_sim {
    bbr& cc;
    double rate;
    duration base_rtt;
    time_point now = t0;

    struct packet {
        time_point sent;
        time_point acked_at;
        std::uint64_t delivered;
        time_point delivered_time;
        time_point first_send_time;
        std::size_t tx_in_flight;
    };
    std::deque<packet> in_flight_packets{};
    std::size_t in_flight = 0;
    std::uint64_t delivered = 0;
    time_point delivered_time = t0;
    time_point first_send_time = t0;
    time_point next_send = t0;
    time_point link_free = t0;
    std::uint64_t acks = 0;

    [[nodiscard]] duration serialization() const {
        return std::chrono::duration_cast<duration>(
            std::chrono::duration<double>(static_cast<double>(mss) / rate));
    }

    /// Runs until `end`, calling `on_ack(cc, now)` after each acknowledgement.
    void run_until(time_point end, const std::function<void(const bbr&, time_point)>& on_ack = {}) {
        while (now < end) {
            const bool window_open = cc.can_send(in_flight, now);
            if (window_open && now >= next_send) {
                send();
                continue;
            }
            time_point next =
                in_flight_packets.empty() ? time_point::max() : in_flight_packets.front().acked_at;
            if (window_open) next = std::min(next, next_send);
            if (next == time_point::max()) break;  // nothing can happen: a stuck controller
            now = std::max(now, next);
            while (!in_flight_packets.empty() && in_flight_packets.front().acked_at <= now) {
                acknowledge();
                if (on_ack) on_ack(cc, now);
            }
        }
    }

private:
    void send() {
        if (in_flight == 0) {
            first_send_time = now;
            delivered_time = now;
        }
        in_flight += mss;
        const time_point departs = std::max(now, link_free) + serialization();
        link_free = departs;
        in_flight_packets.push_back(
            packet{now, departs + base_rtt, delivered, delivered_time, first_send_time, in_flight});
        cc.on_sent(mss, now);
        const double pacing = cc.pacing_rate();
        const time_point from = std::max(next_send, now);
        next_send = pacing > 0.0
                        ? from + std::chrono::duration_cast<duration>(std::chrono::duration<double>(
                                     static_cast<double>(mss) / pacing))
                        : now;
    }

    void acknowledge() {
        const packet p = in_flight_packets.front();
        in_flight_packets.pop_front();
        in_flight -= mss;
        delivered += mss;
        delivered_time = now;
        first_send_time = p.sent;
        const duration send_elapsed = p.sent - p.first_send_time;
        const duration ack_elapsed = now - p.delivered_time;
        const duration interval = std::max(send_elapsed, ack_elapsed);
        ack_sample s;
        s.bytes = mss;
        s.rtt = now - p.sent;
        s.now = now;
        s.bytes_in_flight = in_flight;
        s.delivered = delivered;
        s.interval_delivered = delivered - p.delivered;
        s.interval = interval;
        s.delivery_rate_bytes_per_s = interval > duration::zero()
                                          ? static_cast<double>(s.interval_delivered) /
                                                std::chrono::duration<double>(interval).count()
                                          : 0.0;
        s.tx_in_flight = p.tx_in_flight;
        cc.on_acknowledged(s);
        ++acks;
    }
};

}  // namespace bbr_test

namespace bbr_test {

/// Drives `f` from a fresh controller through Startup and Drain into ProbeBW_CRUISE on a path
/// of `rate` bytes/s and `rtt`, 10 acknowledgements per round.
inline void to_cruise(feeder& f, double rate, duration rtt) {
    const double bdp = rate * std::chrono::duration<double>(rtt).count();
    const auto bdp_bytes = static_cast<std::size_t>(bdp);
    for (int i = 0; i < 4; ++i) f.steady_round(rate, rtt, 3 * bdp_bytes);
    f.steady_round(rate, rtt, bdp_bytes);
}

}  // namespace bbr_test
