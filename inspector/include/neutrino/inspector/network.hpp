#pragma once
/// \file
/// `network`: N datagram layers on one virtual clock, some directly on the "internet", some
/// behind `nat`s (several per NAT, on private addresses): `simulator` generalised to more than
/// two parties and to address translation. Time jumps to the next event (a delivery or a
/// layer's deadline), so a simulated minute costs what its datagrams cost.
///
/// Each node and each NAT is a *site*. A datagram a node addresses to D travels:
///
/// 1. out of the sender's site: behind a NAT, D on the same LAN goes straight there (source
///    unchanged); D on the NAT's own public address is hairpinned (`nat::hairpin`, dropped
///    when hairpinning is off); anything else is translated by `nat::outbound`;
/// 2. over the path from the sender's site to the site owning D's address: an `impairment`
///    per ordered pair of sites (`network_config::internet` by default, `lan` within a site,
///    `set_path` to override);
/// 3. into the destination site when due: a NAT's public address is translated by
///    `nat::inbound` at arrival (so filtering sees the state at that instant); then the node
///    bound to the (private or public) address receives it.
///
/// Drops at each stage are counted in `network_stats` and in the NATs' `nat_stats`.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/nat.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"
#include "neutrino/virtual_clock.hpp"

namespace neutrino::inspector {

/// Index of a node in a `network`, in the order of `add_node`.
using node_id = std::size_t;
/// Index of a site (a NAT or a node directly on the internet) in a `network`.
using site_id = std::size_t;

/// A network's defaults. Paths derive their seeds from `seed` and their two site ids, so the
/// same seed and traffic give the same faults whatever order paths are first used in.
struct network_config {
    impairment_config internet{};  ///< every path between two different sites, unless set
    impairment_config lan{};       ///< within a site (a NAT's LAN, hairpinned datagrams)
    std::uint64_t seed = 1;
    time_point start{};  ///< virtual time at construction
};

/// What the network moved, over all nodes.
struct network_stats {
    std::uint64_t sent = 0;             ///< datagrams the nodes emitted
    std::uint64_t delivered = 0;        ///< datagrams handed to a node
    std::uint64_t rejected = 0;         ///< deliveries whose handle_datagram returned an error
    std::uint64_t unroutable = 0;       ///< no site owns the destination address
    std::uint64_t no_such_node = 0;     ///< arrived at a site, but no node bound to the address
    std::uint64_t dropped_by_nat = 0;   ///< refused by a NAT, either way (see its `nat_stats`)
    std::uint64_t dropped_on_path = 0;  ///< dropped by a path's impairment
    std::uint64_t events = 0;
    std::uint64_t steps = 0;  ///< virtual instants processed
};

/// Per node counters.
struct node_stats {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t rejected = 0;
    std::uint64_t events = 0;
};

/// The virtual network. Layers are held by reference (the caller owns them and keeps them
/// alive while the network runs); each may be a different type. Allocates per datagram only
/// while warming up (paths, the in-flight table). Not thread-safe. Errors in the layers'
/// `handle_datagram` are counted, never thrown.
class network : public virtual_clock_loop<network> {
public:
    using config = network_config;

    /// Throws what `impairment` throws for an invalid `internet` or `lan` configuration (at
    /// the first use of a path).
    explicit network(config cfg = {}) : cfg_(std::move(cfg)), now_(cfg_.start) {
        buffer_.resize(max_datagram_size);
    }

    network(const network&) = delete;
    network& operator=(const network&) = delete;

    /// Adds a NAT and returns its site; nodes join its LAN with `add_node(…, site)`. Throws
    /// `std::invalid_argument` for a configuration `nat` refuses or a public address another
    /// site already owns.
    site_id add_nat(const nat_config& c) {
        for (const auto& st : sites_) {
            if (st.address.same_host(c.public_address)) {
                throw std::invalid_argument("network: public address already in use");
            }
        }
        sites_.push_back(site{std::make_unique<nat>(c), c.public_address});
        return sites_.size() - 1;
    }

    /// Adds `layer` bound to `address`: directly on the internet (a site of its own) when
    /// `behind` is empty, else on the LAN of NAT site `behind`. `on_event` receives its events
    /// (their views are valid during the call only). Throws `std::invalid_argument` when the
    /// address is taken (on the internet, or on that LAN) or `behind` is not a NAT.
    template <datagram_layer L>
    node_id add_node(L& layer, const peer_address& address,
                     std::optional<site_id> behind = std::nullopt,
                     std::function<void(const typename L::event_type&)> on_event = {}) {
        site_id s = 0;
        if (behind) {
            if (*behind >= sites_.size() || !sites_[*behind].translator) {
                throw std::invalid_argument("network: behind is not a NAT site");
            }
            if (find_node(*behind, address)) {
                throw std::invalid_argument("network: address already on that LAN");
            }
            s = *behind;
        } else {
            if (owner_of(address)) {
                throw std::invalid_argument("network: address already on the internet");
            }
            sites_.push_back(site{nullptr, address});
            s = sites_.size() - 1;
        }
        nodes_.push_back(
            node{std::make_unique<model<L>>(layer, std::move(on_event)), address, s, node_stats{}});
        return nodes_.size() - 1;
    }

    /// Replaces the impairment of the path from site `from` to site `to` (one direction).
    /// Throws `std::logic_error` while datagrams are in flight on that path, and what
    /// `impairment` throws.
    void set_path(site_id from, site_id to, impairment_config c) {
        if (auto it = paths_.find(std::pair{from, to});
            it != paths_.end() && it->second.pending() != 0) {
            throw std::logic_error("network: set_path with datagrams in flight");
        }
        paths_.insert_or_assign(std::pair{from, to}, make_path(from, to, std::move(c)));
    }

    /// The path from `from` to `to` (created with the default configuration if unused).
    impairment& path(site_id from, site_id to) { return path_for(from, to); }

    /// The NAT of site `s`; precondition: `s` was returned by `add_nat`.
    [[nodiscard]] nat& nat_at(site_id s) { return *sites_.at(s).translator; }
    [[nodiscard]] const nat& nat_at(site_id s) const { return *sites_.at(s).translator; }
    /// The site node `n` sits in (its own, or its NAT's).
    [[nodiscard]] site_id site_of(node_id n) const { return nodes_.at(n).site_index; }
    /// The address node `n` is bound to.
    [[nodiscard]] const peer_address& address_of(node_id n) const { return nodes_.at(n).address; }
    [[nodiscard]] const node_stats& stats_of(node_id n) const { return nodes_.at(n).stats; }
    [[nodiscard]] const network_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] time_point now() const noexcept { return now_; }

    /// Drains every node's events and datagrams at the current time.
    void flush() {
        for (bool more = true; more;) {
            more = false;
            for (node_id n = 0; n < nodes_.size(); ++n) more = drain(n) || more;
        }
    }

    /// The next virtual instant something happens (a delivery or a deadline), `nullopt` when
    /// nothing is scheduled. Call `flush` first to include what the layers have queued.
    [[nodiscard]] std::optional<time_point> next_event() const noexcept {
        std::optional<time_point> next;
        auto consider = [&next](std::optional<time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        for (const auto& [key, p] : paths_) consider(p.next_due());
        for (const auto& n : nodes_) consider(n.layer->deadline());
        return next;
    }

    /// Advances virtual time to the next event, at most to `limit`, and processes everything
    /// due then: deliveries in due order (ties by path, lowest sites first), then the nodes'
    /// deadlines in node order. Returns false, with time moved to `limit`, when nothing is
    /// scheduled up to `limit`.
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
        for (auto& n : nodes_) {
            if (auto t = n.layer->deadline(); t && *t <= now_) n.layer->handle_deadline(now_);
        }
        flush();
        deliver_due();  // zero-delay answers to the deadlines' datagrams
        return true;
    }


private:
    // The type-erased view of a caller's datagram_layer.
    struct node_interface {
        virtual ~node_interface() = default;
        virtual result<void> handle_datagram(std::span<const std::byte> in,
                                             const peer_address& from, time_point now) = 0;
        virtual std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) = 0;
        virtual bool poll_event() = 0;  // hands one event to the callback; false when none
        [[nodiscard]] virtual std::optional<time_point> deadline() const = 0;
        virtual void handle_deadline(time_point now) = 0;
    };

    template <datagram_layer L>
    struct model final : node_interface {
        model(L& l, std::function<void(const typename L::event_type&)> cb)
            : layer(l), on_event(std::move(cb)) {}
        result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                     time_point now) override {
            return layer.handle_datagram(in, from, now);
        }
        std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) override {
            return layer.poll_datagram(out, now);
        }
        bool poll_event() override {
            auto e = layer.poll_event();
            if (!e) return false;
            if (on_event) on_event(*e);
            return true;
        }
        [[nodiscard]] std::optional<time_point> deadline() const override {
            return std::as_const(layer).deadline();
        }
        void handle_deadline(time_point now) override { layer.handle_deadline(now); }

        L& layer;
        std::function<void(const typename L::event_type&)> on_event;
    };

    struct node {
        std::unique_ptr<node_interface> layer;
        peer_address address;
        site_id site_index = 0;
        node_stats stats;
    };

    struct site {
        std::unique_ptr<nat> translator;  // null for a node directly on the internet
        peer_address address;             // public address (a NAT's port is ignored)
    };

    // A datagram on a path: where it goes and who it seems to come from. Slots are reused;
    // `copies` counts the impairment's copies still to arrive (0, 1 or 2).
    struct in_flight {
        peer_address from;
        peer_address to;
        site_id destination = 0;
        bool translate = false;  // through the destination NAT's inbound translation
        std::uint8_t copies = 0;
    };

    // The site whose public address `a` is: a NAT (by host) or a direct node (exact).
    [[nodiscard]] std::optional<site_id> owner_of(const peer_address& a) const noexcept {
        for (site_id s = 0; s < sites_.size(); ++s) {
            const auto& st = sites_[s];
            if (st.translator ? st.translator->is_public(a) : st.address == a) return s;
        }
        return std::nullopt;
    }

    [[nodiscard]] std::optional<node_id> find_node(site_id s, const peer_address& a) const {
        for (node_id n = 0; n < nodes_.size(); ++n) {
            if (nodes_[n].site_index == s && nodes_[n].address == a) return n;
        }
        return std::nullopt;
    }

    [[nodiscard]] impairment make_path(site_id from, site_id to, impairment_config c) const {
        const std::uint64_t stream = (std::uint64_t{from} << 32) | std::uint64_t{to};
        return {std::move(c), derive_seed(cfg_.seed, stream), now_};
    }

    impairment& path_for(site_id from, site_id to) {
        auto it = paths_.find(std::pair{from, to});
        if (it == paths_.end()) {
            it = paths_
                     .emplace(std::pair{from, to},
                              make_path(from, to, from == to ? cfg_.lan : cfg_.internet))
                     .first;
        }
        return it->second;
    }

    // Routes one datagram node `n` emitted (in buffer_) to `to`.
    void route(node_id n, std::span<const std::byte> bytes, const peer_address& to) {
        const node& sender = nodes_[n];
        const site_id here = sender.site_index;
        nat* own = sites_[here].translator.get();
        peer_address from = sender.address;
        if (own != nullptr) {
            if (find_node(here, to)) {  // same LAN: no translation
                submit(here, here, bytes, in_flight{from, to, here, false, 0});
                return;
            }
            if (own->is_public(to)) {
                auto h = own->hairpin(from, to, now_);
                if (!h) {
                    ++stats_.dropped_by_nat;
                    return;
                }
                submit(here, here, bytes, in_flight{h->from, h->to, here, false, 0});
                return;
            }
            auto pub = own->outbound(from, to, now_);
            if (!pub) {
                ++stats_.dropped_by_nat;
                return;
            }
            from = *pub;
        }
        const auto there = owner_of(to);
        if (!there) {
            ++stats_.unroutable;
            return;
        }
        const bool translate = sites_[*there].translator != nullptr;
        submit(here, *there, bytes, in_flight{from, to, *there, translate, 0});
    }

    void submit(site_id from, site_id to, std::span<const std::byte> bytes, in_flight f) {
        std::size_t slot = 0;
        if (free_.empty()) {
            slot = flights_.size();
            flights_.push_back(f);
        } else {
            slot = free_.back();
            free_.pop_back();
            flights_[slot] = f;
        }
        impairment& p = path_for(from, to);
        const auto dropped_before = p.stats().dropped();
        const std::size_t copies = p.submit(bytes, now_, slot);
        stats_.dropped_on_path += p.stats().dropped() - dropped_before;
        flights_[slot].copies = static_cast<std::uint8_t>(copies);
        if (copies == 0) free_.push_back(slot);
    }

    // Delivers every datagram due by now_, earliest first, draining the receiver after each so
    // its answers enter the paths at once.
    void deliver_due() {
        for (;;) {
            impairment* best = nullptr;
            for (auto& [key, p] : paths_) {
                const auto t = p.next_due();
                if (t && *t <= now_ && (best == nullptr || *t < *best->next_due())) best = &p;
            }
            if (best == nullptr) return;
            auto d = best->poll(now_);
            if (!d) return;
            const auto slot = static_cast<std::size_t>(d->tag);
            const in_flight f = flights_[slot];
            if (--flights_[slot].copies == 0) free_.push_back(slot);
            arrive(f, d->bytes);
        }
    }

    void arrive(const in_flight& f, std::span<const std::byte> bytes) {
        peer_address to = f.to;
        if (f.translate) {
            auto priv = sites_[f.destination].translator->inbound(to, f.from, now_);
            if (!priv) {
                ++stats_.dropped_by_nat;
                return;
            }
            to = *priv;
        }
        const auto n = find_node(f.destination, to);
        if (!n) {
            ++stats_.no_such_node;
            return;
        }
        auto& target = nodes_[*n];
        ++stats_.delivered;
        ++target.stats.received;
        if (!target.layer->handle_datagram(bytes, f.from, now_)) {
            ++stats_.rejected;
            ++target.stats.rejected;
        }
        drain(*n);
    }

    bool drain(node_id n) {
        bool any = false;
        while (nodes_[n].layer->poll_event()) {
            any = true;
            ++stats_.events;
            ++nodes_[n].stats.events;
        }
        while (auto t = nodes_[n].layer->poll_datagram(buffer_, now_)) {
            any = true;
            ++stats_.sent;
            ++nodes_[n].stats.sent;
            route(n, std::span<const std::byte>(buffer_.data(), t->size), t->to);
        }
        return any;
    }

    config cfg_;
    time_point now_;
    std::vector<site> sites_;
    std::vector<node> nodes_;
    std::map<std::pair<site_id, site_id>, impairment> paths_;
    std::vector<in_flight> flights_;
    std::vector<std::size_t> free_;
    std::vector<std::byte> buffer_;  // one datagram being moved from a layer into a path
    network_stats stats_;
};

}  // namespace neutrino::inspector
