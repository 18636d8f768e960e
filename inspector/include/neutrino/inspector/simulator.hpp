#pragma once
/// \file
/// `simulator`: two datagram layers joined by an impaired link, run by a discrete-event loop on
/// a virtual clock. Like `memory_link` (neutrino-core), but each direction goes through an
/// `impairment`; time jumps straight to the next event (a delivery or a layer's deadline), so
/// ten simulated minutes cost what their datagrams cost, not ten minutes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/time.hpp"
#include "neutrino/virtual_clock.hpp"

namespace neutrino::inspector {

/// Both directions of a simulated link. `seed` seeds both impairments through `derive_seed`
/// (stream 0 for A → B, 1 for B → A), so the directions are independent and reproducible.
struct simulator_config {
    impairment_config a_to_b{};
    impairment_config b_to_a{};
    std::uint64_t seed = 1;
    time_point start{};  ///< virtual time at construction; blackholes are relative to it
};

/// What the simulator moved.
struct simulator_stats {
    std::uint64_t sent_by_a = 0;  ///< datagrams A addressed to B (before impairment)
    std::uint64_t sent_by_b = 0;
    std::uint64_t delivered_to_a = 0;
    std::uint64_t delivered_to_b = 0;
    std::uint64_t rejected_by_a = 0;  ///< deliveries whose handle_datagram returned an error
    std::uint64_t rejected_by_b = 0;
    std::uint64_t misaddressed = 0;  ///< datagrams to any address but the other side's
    std::uint64_t events_a = 0;
    std::uint64_t events_b = 0;
    std::uint64_t steps = 0;  ///< virtual instants processed
};

/// Runs layer `A` at `a_address` and layer `B` at `b_address` (both owned by the caller and
/// outliving the simulator) on a virtual clock. A datagram one side addresses to the other goes
/// through that direction's impairment and arrives from the sender's address when due; others
/// are counted as `misaddressed` and discarded. Events go to `on_a_event` / `on_b_event`.
/// Allocates nothing per datagram once warm. Not thread-safe.
template <datagram_layer A, datagram_layer B>
class simulator : public virtual_clock_loop<simulator<A, B>> {
public:
    using config = simulator_config;

    /// Throws what `impairment` throws for an invalid configuration.
    simulator(A& a, peer_address a_address, B& b, peer_address b_address, config cfg = {})
        : a_(a),
          b_(b),
          a_addr_(a_address),
          b_addr_(b_address),
          now_(cfg.start),
          a_to_b_(std::move(cfg.a_to_b), derive_seed(cfg.seed, 0), cfg.start),
          b_to_a_(std::move(cfg.b_to_a), derive_seed(cfg.seed, 1), cfg.start),
          buffer_(max_datagram_size) {}

    /// Called for each event of A (resp. B) as it is polled; the event's views are valid
    /// during the call only.
    std::function<void(const typename A::event_type&)> on_a_event;
    std::function<void(const typename B::event_type&)> on_b_event;

    [[nodiscard]] time_point now() const noexcept { return now_; }
    [[nodiscard]] impairment& a_to_b() noexcept { return a_to_b_; }
    [[nodiscard]] impairment& b_to_a() noexcept { return b_to_a_; }
    [[nodiscard]] const impairment& a_to_b() const noexcept { return a_to_b_; }
    [[nodiscard]] const impairment& b_to_a() const noexcept { return b_to_a_; }
    [[nodiscard]] const simulator_stats& stats() const noexcept { return stats_; }

    /// Drains both sides' events and datagrams at the current time.
    void flush() {
        for (bool more = true; more;) {
            more = drain<true>();
            more = drain<false>() || more;
        }
    }

    /// The next virtual instant something happens (a delivery or a deadline), `nullopt` when
    /// nothing is scheduled. Call `flush` first to include what the layers have queued.
    [[nodiscard]] std::optional<time_point> next_event() const noexcept {
        std::optional<time_point> next;
        auto consider = [&next](std::optional<time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        consider(a_to_b_.next_due());
        consider(b_to_a_.next_due());
        consider(a_.deadline());
        consider(b_.deadline());
        return next;
    }

    /// Advances virtual time to the next event, at most to `limit`, and processes everything
    /// due then: deliveries in due order (A → B first on ties), then both layers' deadlines.
    /// Returns false, with time moved to `limit`, when nothing is scheduled up to `limit`.
    bool step(time_point limit) {
        flush();
        const auto next = next_event();
        if (!next || *next > limit) {
            now_ = std::max(now_, limit);
            return false;
        }
        now_ = std::max(now_, *next);
        ++stats_.steps;
        deliver_due();
        if (auto t = a_.deadline(); t && *t <= now_) a_.handle_deadline(now_);
        if (auto t = b_.deadline(); t && *t <= now_) b_.handle_deadline(now_);
        flush();
        deliver_due();  // zero-delay answers to the deadlines' datagrams
        return true;
    }


private:
    // Delivers every datagram due by now_, earliest first, draining the receiver after each so
    // its answers enter the link at once (and its send queue never overflows).
    void deliver_due() {
        for (;;) {
            const auto ta = a_to_b_.next_due();
            const auto tb = b_to_a_.next_due();
            const bool to_b = ta && *ta <= now_ && (!tb || *ta <= *tb);
            const bool to_a = !to_b && tb && *tb <= now_;
            if (to_b) {
                auto d = a_to_b_.poll(now_);
                if (!d) return;
                ++stats_.delivered_to_b;
                if (!b_.handle_datagram(d->bytes, a_addr_, now_)) ++stats_.rejected_by_b;
                drain<false>();
            } else if (to_a) {
                auto d = b_to_a_.poll(now_);
                if (!d) return;
                ++stats_.delivered_to_a;
                if (!a_.handle_datagram(d->bytes, b_addr_, now_)) ++stats_.rejected_by_a;
                drain<true>();
            } else {
                return;
            }
        }
    }

    template <bool IsA>
    bool drain() {
        auto& layer = side<IsA>();
        bool any = false;
        while (auto e = layer.poll_event()) {
            any = true;
            if constexpr (IsA) {
                ++stats_.events_a;
                if (on_a_event) on_a_event(*e);
            } else {
                ++stats_.events_b;
                if (on_b_event) on_b_event(*e);
            }
        }
        const peer_address& other = IsA ? b_addr_ : a_addr_;
        impairment& link = IsA ? a_to_b_ : b_to_a_;
        while (auto t = layer.poll_datagram(buffer_, now_)) {
            any = true;
            if (!(t->to == other)) {
                ++stats_.misaddressed;
                continue;
            }
            ++(IsA ? stats_.sent_by_a : stats_.sent_by_b);
            link.submit(std::span<const std::byte>(buffer_.data(), t->size), now_);
        }
        return any;
    }

    template <bool IsA>
    auto& side() noexcept {
        if constexpr (IsA) {
            return a_;
        } else {
            return b_;
        }
    }

    A& a_;
    B& b_;
    peer_address a_addr_;
    peer_address b_addr_;
    time_point now_;
    impairment a_to_b_;
    impairment b_to_a_;
    std::vector<std::byte> buffer_;  // one datagram being moved from a layer into the link
    simulator_stats stats_;
};

}  // namespace neutrino::inspector
