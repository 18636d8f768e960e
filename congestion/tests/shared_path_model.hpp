#pragma once
// A bottleneck shared by several flows, on virtual time, for controller competition tests (issue
// 13). Each flow has its own controller, its own delivery_rate_sampler and its own pacer
// (congestion::pacer at the controller's pacing rate, so bursts are the pacer's send quantum),
// and starts at its own time. Their packets cross one drop-tail FIFO draining at
// `rate_bytes_per_s`, whose buffer holds `buffer_bytes` (packet in service included), with
// `base_rtt` of propagation split evenly both ways; the receiver acknowledges every packet.
//
// Unlike path_model.hpp the FIFO is simulated packet by packet (arrival, start of service,
// departure), so the link rate may be changed between chained `run` calls and packets already
// queued drain at the new rate (the one in service finishes at the old one). A dropped packet is
// declared lost when a later packet of its flow is acknowledged (gap detection, as the reliable
// layer does), or, when none is, `loss_timeout` after it was sent.
//
// A flow is either a bulk sender (always data) or an application-limited one (a message every
// interval); an application-limited sender with nothing to send marks the sampler
// application-limited, and one resuming with nothing in flight reports an idle restart.
//
// Measurements are binned on virtual time from `origin` (bin width `bin`): per flow, bytes
// acknowledged, RTT sum/count/max, losses; and optionally every send (time, bytes, pacing rate,
// pacer burst). No randomness: runs are deterministic.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/congestion/delivery_rate_sampler.hpp"
#include "neutrino/congestion/pacer.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion::test {

struct shared_link {
    double rate_bytes_per_s = 0;
    duration base_rtt{};
    std::size_t buffer_bytes = 0;
};

/// Mbit/s → bytes/s.
constexpr double mbit_per_s(double m) noexcept { return m * 1e6 / 8.0; }

/// A link of `mbps` and `rtt` with a drop-tail buffer of one bandwidth-delay product.
inline shared_link one_bdp_link(double mbps, duration rtt) {
    const double rate = mbit_per_s(mbps);
    return shared_link{rate, rtt,
                       static_cast<std::size_t>(rate * std::chrono::duration<double>(rtt).count())};
}

/// What a flow sends: bulk (`message_bytes == 0`: always data) or one message of
/// `message_bytes` every `message_interval`, the first at the flow's start.
struct traffic {
    std::size_t message_bytes = 0;
    duration message_interval{};
    [[nodiscard]] bool bulk() const noexcept { return message_bytes == 0; }
};

/// The controller of one flow, type-erased so different controllers can share a link.
class flow_controller {
public:
    flow_controller() = default;
    flow_controller(const flow_controller&) = delete;
    flow_controller& operator=(const flow_controller&) = delete;
    virtual ~flow_controller() = default;
    virtual void on_sent(std::size_t bytes, time_point now) noexcept = 0;
    virtual void on_acknowledged(const ack_sample& s) noexcept = 0;
    virtual void on_lost(const loss_sample& l) noexcept = 0;
    virtual void on_idle_restart(time_point now) noexcept = 0;
    [[nodiscard]] virtual double pacing_rate() const noexcept = 0;
    [[nodiscard]] virtual bool can_send(std::size_t in_flight, time_point now) const noexcept = 0;
};

/// A `flow_controller` over a controller the test owns (so it can observe it).
template <congestion_controller C>
class controller_ref final : public flow_controller {
public:
    explicit controller_ref(C& c) : c_(c) {}
    void on_sent(std::size_t bytes, time_point now) noexcept override { c_.on_sent(bytes, now); }
    void on_acknowledged(const ack_sample& s) noexcept override { c_.on_acknowledged(s); }
    void on_lost(const loss_sample& l) noexcept override { c_.on_lost(l); }
    void on_idle_restart(time_point now) noexcept override { c_.on_idle_restart(now); }
    [[nodiscard]] double pacing_rate() const noexcept override { return c_.pacing_rate(); }
    [[nodiscard]] bool can_send(std::size_t in_flight, time_point now) const noexcept override {
        return c_.can_send(in_flight, now);
    }

private:
    C& c_;
};

/// One send of a flow, when recorded.
struct send_record {
    time_point at;
    std::size_t bytes;
    double pacing_rate;  ///< the pacer's rate when it was sent (0: unpaced)
    std::size_t burst;   ///< the pacer's burst allowance then
};

class shared_path_model {
public:
    shared_path_model(shared_link l, time_point origin,
                      duration bin = std::chrono::milliseconds{100}, std::size_t packet = 1200)
        : link_(l), origin_(origin), now_(origin), bin_(bin), packet_(packet) {
        if (l.rate_bytes_per_s <= 0 || bin <= duration::zero() || packet == 0) {
            throw std::invalid_argument("shared_path_model: rate, bin and packet must be > 0");
        }
        const double drain_s = static_cast<double>(l.buffer_bytes) / l.rate_bytes_per_s;
        loss_timeout = std::max<duration>(
            std::chrono::seconds{1},
            3 * (l.base_rtt +
                 std::chrono::duration_cast<duration>(std::chrono::duration<double>(drain_s))));
    }

    /// Adds a flow driven by `cc` (which must outlive the model), starting at `start`; returns
    /// its index.
    template <congestion_controller C>
    std::size_t add_flow(C& cc, time_point start, traffic t = {}) {
        auto f = std::make_unique<flow>(packet_);
        f->cc = std::make_unique<controller_ref<C>>(cc);
        f->index = flows_.size();
        f->start = start;
        f->load = t;
        f->next_message = start;
        flows_.push_back(std::move(f));
        return flows_.size() - 1;
    }

    /// The link; change it between `run` calls (the buffer size in bytes is kept as set).
    shared_link& link() noexcept { return link_; }
    /// Record every send of every flow (for burst checks).
    void record_sends(bool on) noexcept { record_sends_ = on; }
    /// Called after each acknowledgement reaches a flow's controller, with the flow's index.
    std::function<void(std::size_t, time_point)> after_ack;
    /// When a dropped packet with no later packet acknowledged is declared lost anyway.
    duration loss_timeout;

    /// Runs until `until` (events at `until` run in the next call).
    void run(time_point until) {
        for (;;) {
            network_events();
            time_point next = time_point::max();
            for (auto& fp : flows_) {
                flow& f = *fp;
                if (f.dirty || now_ >= f.wake) {
                    expire_losses(f);
                    send_from(f);
                    f.wake = wake_of(f);
                    f.dirty = false;
                }
                next = std::min(next, f.wake);
            }
            next = std::min(next, network_next());
            if (next >= until) {
                now_ = std::max(now_, until);
                return;
            }
            if (next <= now_) next = now_ + duration{1};
            now_ = next;
        }
    }

    [[nodiscard]] time_point now() const noexcept { return now_; }
    [[nodiscard]] std::size_t flows() const noexcept { return flows_.size(); }
    [[nodiscard]] duration bin() const noexcept { return bin_; }

    /// Bytes/s flow `i` got acknowledged over the bins in [from, to).
    [[nodiscard]] double goodput(std::size_t i, time_point from, time_point to) const {
        std::uint64_t bytes = 0;
        for_bins(*flows_.at(i), from, to, [&](const bin_stats& b) { bytes += b.delivered; });
        return static_cast<double>(bytes) / seconds(to - from);
    }
    /// All flows' goodput over [from, to), bytes/s.
    [[nodiscard]] double total_goodput(time_point from, time_point to) const {
        double sum = 0;
        for (std::size_t i = 0; i < flows_.size(); ++i) sum += goodput(i, from, to);
        return sum;
    }
    /// Mean RTT of flow `i`'s acknowledgements in [from, to), seconds (0 without any).
    [[nodiscard]] double mean_rtt(std::size_t i, time_point from, time_point to) const {
        double sum = 0;
        std::uint64_t n = 0;
        for_bins(*flows_.at(i), from, to, [&](const bin_stats& b) {
            sum += b.rtt_sum_s;
            n += b.rtt_count;
        });
        return n == 0 ? 0.0 : sum / static_cast<double>(n);
    }
    /// Largest RTT of flow `i`'s acknowledgements in [from, to), seconds (0 without any).
    [[nodiscard]] double max_rtt(std::size_t i, time_point from, time_point to) const {
        double m = 0;
        for_bins(*flows_.at(i), from, to,
                 [&](const bin_stats& b) { m = std::max(m, b.rtt_max_s); });
        return m;
    }
    /// Packets of flow `i` declared lost in [from, to).
    [[nodiscard]] std::uint64_t lost(std::size_t i, time_point from, time_point to) const {
        std::uint64_t n = 0;
        for_bins(*flows_.at(i), from, to, [&](const bin_stats& b) { n += b.lost; });
        return n;
    }
    /// Flow `i`'s sends, when recorded.
    [[nodiscard]] const std::vector<send_record>& sends(std::size_t i) const {
        return flows_.at(i)->sends;
    }
    /// Packets dropped at the queue so far, all flows.
    [[nodiscard]] std::uint64_t drops() const noexcept { return drops_; }

private:
    struct bin_stats {
        std::uint64_t delivered = 0;
        double rtt_sum_s = 0;
        std::uint64_t rtt_count = 0;
        double rtt_max_s = 0;
        std::uint64_t lost = 0;
    };

    struct sent_packet {
        std::uint64_t seq;
        time_point sent;
        std::size_t size;
        bool dropped;
        packet_rate_state rate;
    };

    struct flow {
        explicit flow(std::size_t packet) : pace(packet) {}
        std::size_t index = 0;
        std::unique_ptr<flow_controller> cc;
        delivery_rate_sampler sampler;
        pacer pace;
        time_point start{};
        traffic load{};
        time_point next_message{};
        std::size_t backlog = 0;         // application bytes waiting (application-limited flows)
        std::deque<sent_packet> flight;  // contiguous sequence numbers
        std::uint64_t next_seq = 0;
        std::size_t in_flight = 0;
        duration min_rtt{};
        std::vector<bin_stats> bins;
        std::vector<send_record> sends;
        bool dirty = true;  // to run at now_ (acknowledgement, loss, drop)
        time_point wake{};  // when it next has something to do, unless dirty sooner
    };

    // A packet on its way: to the queue (at = arrival), in the queue, or its acknowledgement
    // on the way back (at = arrival at the sender).
    struct hop {
        time_point at;
        std::size_t flow;
        std::uint64_t seq;
        std::size_t size;
    };

    static double seconds(duration d) noexcept { return std::chrono::duration<double>(d).count(); }

    [[nodiscard]] duration tx_time(std::size_t bytes) const noexcept {
        return std::chrono::duration_cast<duration>(
            std::chrono::duration<double>(static_cast<double>(bytes) / link_.rate_bytes_per_s));
    }

    bin_stats& bin_at(flow& f, time_point t) {
        const auto idx = static_cast<std::size_t>(std::max<duration::rep>(0, (t - origin_) / bin_));
        if (f.bins.size() <= idx) f.bins.resize(idx + 1);
        return f.bins[idx];
    }

    template <class F>
    void for_bins(const flow& f, time_point from, time_point to, F&& fn) const {
        const auto a =
            static_cast<std::size_t>(std::max<duration::rep>(0, (from - origin_) / bin_));
        const auto b = static_cast<std::size_t>(std::max<duration::rep>(0, (to - origin_) / bin_));
        for (std::size_t k = a; k < b && k < f.bins.size(); ++k) fn(f.bins[k]);
    }

    sent_packet& packet_of(flow& f, std::uint64_t seq) {
        return f.flight.at(static_cast<std::size_t>(seq - f.flight.front().seq));
    }

    // The network's events due by now_, in time order (departure before arrival before
    // acknowledgement on a tie).
    void network_events() {
        for (;;) {
            time_point best = time_point::max();
            int kind = -1;
            if (!queue_.empty() && head_departure_ <= now_) best = head_departure_, kind = 0;
            if (!to_queue_.empty() && to_queue_.front().at <= now_ && to_queue_.front().at < best)
                best = to_queue_.front().at, kind = 1;
            if (!to_sender_.empty() && to_sender_.front().at <= now_ &&
                to_sender_.front().at < best)
                best = to_sender_.front().at, kind = 2;
            if (kind < 0) break;
            if (kind == 0) {
                depart();
            } else if (kind == 1) {
                arrive();
            } else {
                const hop h = to_sender_.front();
                to_sender_.pop_front();
                acknowledge(*flows_[h.flow], h);
            }
        }
    }

    void expire_losses(flow& f) {
        while (!f.flight.empty() && f.flight.front().dropped &&
               f.flight.front().sent + loss_timeout <= now_) {
            declare_lost(f, now_);
        }
    }

    void depart() {
        const hop h = queue_.front();
        queue_.pop_front();
        queued_bytes_ -= h.size;
        const time_point departure = head_departure_;
        to_sender_.push_back(hop{departure + link_.base_rtt / 2, h.flow, h.seq, h.size});
        if (!queue_.empty()) head_departure_ = departure + tx_time(queue_.front().size);
    }

    void arrive() {
        const hop h = to_queue_.front();
        to_queue_.pop_front();
        if (queued_bytes_ + h.size > link_.buffer_bytes) {
            packet_of(*flows_[h.flow], h.seq).dropped = true;
            flows_[h.flow]->dirty = true;  // its loss timeout
            ++drops_;
            return;
        }
        if (queue_.empty()) head_departure_ = h.at + tx_time(h.size);
        queue_.push_back(h);
        queued_bytes_ += h.size;
    }

    void declare_lost(flow& f, time_point now) {
        const sent_packet pk = f.flight.front();
        f.flight.pop_front();
        f.in_flight -= pk.size;
        loss_sample l{
            .bytes = pk.size, .now = now, .bytes_in_flight = f.in_flight, .sent = pk.sent};
        f.sampler.on_lost(pk.size);
        f.sampler.fill(l, pk.rate);
        f.cc->on_lost(l);
        ++bin_at(f, now).lost;
    }

    void acknowledge(flow& f, const hop& h) {
        const time_point now = h.at;
        f.dirty = true;
        // FIFO: every earlier packet of the flow still in flight was dropped
        while (!f.flight.empty() && f.flight.front().seq < h.seq) declare_lost(f, now);
        if (f.flight.empty() || f.flight.front().seq != h.seq) return;  // already timed out
        const sent_packet pk = f.flight.front();
        f.flight.pop_front();
        f.in_flight -= pk.size;
        ack_sample s;
        s.bytes = pk.size;
        s.rtt = now - pk.sent;
        s.now = now;
        s.bytes_in_flight = f.in_flight;
        s.sent = pk.sent;
        if (f.min_rtt == duration::zero() || s.rtt < f.min_rtt) f.min_rtt = s.rtt;
        f.sampler.on_acknowledged(pk.rate, pk.size, now);
        f.sampler.generate(s, f.min_rtt);
        f.cc->on_acknowledged(s);
        f.pace.set_rate(f.cc->pacing_rate(), now);
        bin_stats& b = bin_at(f, now);
        b.delivered += pk.size;
        const double rtt_s = seconds(s.rtt);
        b.rtt_sum_s += rtt_s;
        ++b.rtt_count;
        b.rtt_max_s = std::max(b.rtt_max_s, rtt_s);
        if (after_ack) after_ack(h.flow, now);
    }

    void send_from(flow& f) {
        if (now_ < f.start) return;
        if (!f.load.bulk()) {
            while (f.next_message <= now_) {
                f.backlog += f.load.message_bytes;
                f.next_message += f.load.message_interval;
            }
        }
        for (;;) {
            if (!f.load.bulk() && f.backlog == 0) {
                // nothing to send while the window has room: application-limited
                if (f.cc->can_send(f.in_flight, now_)) f.sampler.mark_app_limited(f.in_flight);
                return;
            }
            if (!f.cc->can_send(f.in_flight, now_)) return;
            const std::size_t size = f.load.bulk() ? packet_ : std::min(packet_, f.backlog);
            const double rate = f.cc->pacing_rate();
            if (rate != f.pace.rate()) f.pace.set_rate(rate, now_);
            if (!f.pace.can_send(size, now_)) return;
            if (f.in_flight == 0 && f.next_seq > 0 && f.sampler.is_app_limited())
                f.cc->on_idle_restart(now_);
            const packet_rate_state rs = f.sampler.on_sent(size, f.in_flight, now_);
            f.flight.push_back(sent_packet{f.next_seq, now_, size, false, rs});
            to_queue_.push_back(hop{now_ + link_.base_rtt / 2, f.index, f.next_seq, size});
            ++f.next_seq;
            f.in_flight += size;
            if (!f.load.bulk()) f.backlog -= size;
            f.cc->on_sent(size, now_);
            if (record_sends_)
                f.sends.push_back(send_record{now_, size, f.pace.rate(), f.pace.burst()});
            f.pace.on_sent(size, now_);
        }
    }

    [[nodiscard]] time_point network_next() const noexcept {
        time_point next = time_point::max();
        if (!queue_.empty()) next = std::min(next, head_departure_);
        if (!to_queue_.empty()) next = std::min(next, to_queue_.front().at);
        if (!to_sender_.empty()) next = std::min(next, to_sender_.front().at);
        return next;
    }

    // When `f` next has something to do on its own: start, a loss timeout, a message, or the
    // pacer letting it send (acknowledgements make it dirty instead).
    [[nodiscard]] time_point wake_of(const flow& f) const noexcept {
        if (now_ < f.start) return f.start;
        time_point next = time_point::max();
        if (!f.flight.empty() && f.flight.front().dropped)
            next = std::min(next, f.flight.front().sent + loss_timeout);
        if (!f.load.bulk()) next = std::min(next, f.next_message);
        const bool has_data = f.load.bulk() || f.backlog > 0;
        if (has_data && f.cc->can_send(f.in_flight, now_)) {
            const time_point t =
                f.pace.next_send_time(std::min(packet_, f.load.bulk() ? packet_ : f.backlog));
            next = std::min(next, std::max(t, now_ + duration{1}));
        }
        return next;
    }

    shared_link link_;
    time_point origin_;
    time_point now_;
    duration bin_;
    std::size_t packet_;
    bool record_sends_ = false;
    std::vector<std::unique_ptr<flow>> flows_;
    std::deque<hop> to_queue_;
    std::deque<hop> queue_;
    std::size_t queued_bytes_ = 0;
    time_point head_departure_{};
    std::deque<hop> to_sender_;
    std::uint64_t drops_ = 0;
};

}  // namespace neutrino::congestion::test
