#pragma once
// A one-flow bottleneck path on virtual time for controller tests: a sender that asks the
// controller (and paces at its rate), a drop-tail FIFO of `buffer_bytes` draining at
// `rate_bytes_per_s`, `base_rtt` of propagation split evenly both ways, optional random loss,
// and a receiver acknowledging every packet. A dropped packet is declared lost when a packet
// sent after it is acknowledged (the reliable layer's gap detection). Acknowledgements and losses
// carry delivery-rate samples (congestion::delivery_rate_sampler). Deterministic for a seed.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/congestion/delivery_rate_sampler.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion::test {

struct path {
    double rate_bytes_per_s = 0;
    duration base_rtt{};
    std::size_t buffer_bytes = 0;
    double random_loss = 0.0;
    std::uint64_t seed = 1;
};

/// Mbit/s → bytes/s.
constexpr double mbit(double m) noexcept { return m * 1e6 / 8.0; }

/// A path of `mbps` and `rtt` with a drop-tail buffer of one bandwidth-delay product.
inline path one_bdp_path(double mbps, duration rtt, double loss = 0.0, std::uint64_t seed = 1) {
    const double rate = mbit(mbps);
    return path{rate, rtt, static_cast<std::size_t>(rate * std::chrono::duration<double>(rtt).count()),
                loss, seed};
}

struct window_stats {
    std::uint64_t delivered_bytes = 0;  ///< acknowledged within the window
    double rtt_sum_s = 0;
    std::uint64_t rtt_count = 0;
    std::uint64_t lost = 0;
    [[nodiscard]] double mean_rtt_s() const noexcept { return rtt_count == 0 ? 0 : rtt_sum_s / static_cast<double>(rtt_count); }
};

/// Runs `cc` on `p` for `length`, with a bulk sender (always data) of `packet` bytes, and
/// measures from `measure_from` on. Runs can be chained (`run` again with a later `until`),
/// and `link()` changed in between, for example to drop the rate mid-transfer.
template <class C>
class path_model {
public:
    path_model(C& cc, path p, std::size_t packet = 1200) : cc_(cc), p_(p), packet_(packet), rng_(p.seed) {}

    path& link() noexcept { return p_; }

    /// Runs until `until`; stats accumulate for events at or after `measure_from`.
    window_stats run(time_point start, time_point until, time_point measure_from) {
        if (now_ == time_point{}) now_ = start;
        window_stats st;
        while (now_ < until) {
            // send while the controller and the pacer let us
            while (cc_.can_send(in_flight_, now_) && now_ >= next_pace_) send(st, measure_from);
            time_point next = until;
            if (!flight_.empty()) next = std::min(next, next_ack_time());
            if (cc_.can_send(in_flight_, now_) && next_pace_ > now_) next = std::min(next, next_pace_);
            if (next <= now_) next = now_ + std::chrono::microseconds{1};
            now_ = next;
            deliver_due(st, measure_from);
        }
        return st;
    }

    [[nodiscard]] time_point now() const noexcept { return now_; }
    [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_; }

private:
    struct packet_state {
        time_point sent;
        time_point ack_at;  // when delivered; unused when dropped
        std::size_t size;
        bool dropped;
        packet_rate_state rate;
    };

    [[nodiscard]] time_point next_ack_time() const noexcept {
        // the earliest delivered packet's acknowledgement (FIFO: delivered ones are in order);
        // dropped packets at the front are reported with the acknowledgement after them
        for (const auto& pk : flight_) {
            if (!pk.dropped) return pk.ack_at;
        }
        return time_point::max();
    }

    void send(window_stats& st, time_point measure_from) {
        const duration one_way = p_.base_rtt / 2;
        const time_point arrival = now_ + one_way;
        const auto tx = std::chrono::duration_cast<duration>(
            std::chrono::duration<double>(static_cast<double>(packet_) / p_.rate_bytes_per_s));
        const double backlog_s = std::max(0.0, std::chrono::duration<double>(link_free_ - arrival).count());
        const double backlog = backlog_s * p_.rate_bytes_per_s;
        bool dropped = backlog + static_cast<double>(packet_) > static_cast<double>(p_.buffer_bytes);
        if (!dropped && p_.random_loss > 0) dropped = std::uniform_real_distribution<double>(0, 1)(rng_) < p_.random_loss;
        time_point ack_at{};
        if (!dropped) {
            const time_point departure = std::max(arrival, link_free_) + tx;
            link_free_ = departure;
            ack_at = departure + one_way;
        } else if (now_ >= measure_from) {
            ++st.lost;
        }
        flight_.push_back(packet_state{now_, ack_at, packet_, dropped, sampler_.on_sent(packet_, in_flight_, now_)});
        in_flight_ += packet_;
        cc_.on_sent(packet_, now_);
        const double rate = cc_.pacing_rate();
        if (rate > 0) {
            const auto gap = std::chrono::duration_cast<duration>(
                std::chrono::duration<double>(static_cast<double>(packet_) / rate));
            next_pace_ = std::max(next_pace_, now_ - gap) + gap;  // no credit beyond one packet
        }
    }

    void deliver_due(window_stats& st, time_point measure_from) {
        while (!flight_.empty()) {
            const time_point at = next_ack_time();
            if (at > now_) break;
            // report drops ahead of the acknowledged packet, then acknowledge it
            while (flight_.front().dropped) {
                const auto pk = flight_.front();
                flight_.pop_front();
                in_flight_ -= pk.size;
                loss_sample l{.bytes = pk.size, .now = now_, .bytes_in_flight = in_flight_, .sent = pk.sent};
                sampler_.on_lost(pk.size);
                sampler_.fill(l, pk.rate);
                cc_.on_lost(l);
            }
            const auto pk = flight_.front();
            flight_.pop_front();
            in_flight_ -= pk.size;
            ack_sample s;
            s.bytes = pk.size;
            s.rtt = now_ - pk.sent;
            s.now = now_;
            s.bytes_in_flight = in_flight_;
            s.sent = pk.sent;
            if (min_rtt_ == duration::zero() || s.rtt < min_rtt_) min_rtt_ = s.rtt;
            sampler_.on_acknowledged(pk.rate, pk.size, now_);
            sampler_.generate(s, min_rtt_);
            cc_.on_acknowledged(s);
            if (now_ >= measure_from) {
                st.delivered_bytes += pk.size;
                st.rtt_sum_s += std::chrono::duration<double>(s.rtt).count();
                ++st.rtt_count;
            }
        }
    }

    C& cc_;
    path p_;
    std::size_t packet_;
    std::mt19937_64 rng_;
    time_point now_{};
    time_point next_pace_{};
    time_point link_free_{};
    std::deque<packet_state> flight_;
    std::size_t in_flight_ = 0;
    delivery_rate_sampler sampler_;
    duration min_rtt_{};
};

}  // namespace neutrino::congestion::test
