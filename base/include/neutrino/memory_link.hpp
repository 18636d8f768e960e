#pragma once
/// \file
/// `memory_link`: two datagram layers joined in memory on a virtual clock, for tests and
/// simulations. Datagrams take `latency` to cross; nothing is lost unless a filter says so.
/// The inspector's simulator builds on the same idea with a full impairment model.

#include <algorithm>
#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/time.hpp"
#include "neutrino/virtual_clock.hpp"

namespace neutrino {

/// Runs two layers `A` (at address `a_address`) and `B` (at `b_address`) on a virtual clock.
/// A datagram one side addresses to the other arrives `latency` later; datagrams to any other
/// address are counted in `misaddressed` and discarded. Events are handed to the callbacks.
/// `MaxDatagram` is the output buffer offered to `poll_datagram`: at least the largest datagram
/// either layer writes (1280 bytes for Neutrino, 1400 for QOTP).
template <datagram_layer A, datagram_layer B, std::size_t MaxDatagram = 1500>
class memory_link : public virtual_clock_loop<memory_link<A, B, MaxDatagram>> {
public:
    struct in_flight {
        time_point at;
        bool to_b;
        peer_address from;
        std::vector<std::byte> bytes;
    };
    /// Called for each datagram about to cross; return false to lose it. May modify the bytes.
    using filter_type = std::function<bool(in_flight&)>;

    memory_link(A& a, peer_address a_address, B& b, peer_address b_address,
                duration latency = std::chrono::milliseconds(1), time_point start = time_point{})
        : a_(a), b_(b), a_addr_(a_address), b_addr_(b_address), latency_(latency), now_(start) {}

    [[nodiscard]] time_point now() const noexcept { return now_; }
    void set_filter(filter_type f) { filter_ = std::move(f); }
    std::function<void(const typename A::event_type&)> on_a_event;
    std::function<void(const typename B::event_type&)> on_b_event;

    std::size_t delivered = 0;
    std::size_t lost = 0;
    std::size_t misaddressed = 0;

    /// Drains both sides' output and events at the current time.
    void flush() {
        for (bool more = true; more;) {
            more = drain(a_, true) | drain(b_, false);
        }
    }

    /// Advances virtual time to the next arrival or deadline, at most to `limit`, and processes
    /// everything due then. Returns false when nothing is scheduled before `limit`.
    bool step(time_point limit) {
        flush();
        std::optional<time_point> next;
        auto consider = [&next](std::optional<time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        if (!wire_.empty()) consider(wire_.front().at);
        consider(a_.deadline());
        consider(b_.deadline());
        if (!next || *next > limit) {
            now_ = std::max(now_, limit);
            return false;
        }
        now_ = std::max(now_, *next);
        while (!wire_.empty() && wire_.front().at <= now_) {
            in_flight d = std::move(wire_.front());
            wire_.pop_front();
            ++delivered;
            if (d.to_b) {
                (void)b_.handle_datagram(d.bytes, d.from, now_);
            } else {
                (void)a_.handle_datagram(d.bytes, d.from, now_);
            }
            flush();
        }
        if (auto t = a_.deadline(); t && *t <= now_) a_.handle_deadline(now_);
        if (auto t = b_.deadline(); t && *t <= now_) b_.handle_deadline(now_);
        flush();
        return true;
    }


private:
    template <class L>
    bool drain(L& l, bool is_a) {
        bool any = false;
        while (auto e = l.poll_event()) {
            any = true;
            if (is_a) {
                if constexpr (std::is_same_v<L, A>) { if (on_a_event) on_a_event(*e); }
            } else {
                if constexpr (std::is_same_v<L, B>) { if (on_b_event) on_b_event(*e); }
            }
        }
        std::array<std::byte, MaxDatagram> buf;
        while (auto t = l.poll_datagram(buf, now_)) {
            any = true;
            const peer_address self = is_a ? a_addr_ : b_addr_;
            const peer_address other = is_a ? b_addr_ : a_addr_;
            if (!(t->to == other)) {
                ++misaddressed;
                continue;
            }
            in_flight d{now_ + latency_, is_a, self, {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)}};
            if (filter_ && !filter_(d)) {
                ++lost;
                continue;
            }
            // keep arrival order by time (stable for equal times)
            auto pos = std::upper_bound(wire_.begin(), wire_.end(), d.at,
                                        [](time_point at, const in_flight& x) { return at < x.at; });
            wire_.insert(pos, std::move(d));
        }
        return any;
    }

    A& a_;
    B& b_;
    peer_address a_addr_;
    peer_address b_addr_;
    duration latency_;
    time_point now_;
    std::deque<in_flight> wire_;
    filter_type filter_;
};

}  // namespace neutrino
