#pragma once
/// \file
/// `nat`: a network address translator as a sans-IO model, in the terms of RFC 4787 (NAT
/// behavioural requirements for unicast UDP). It rewrites addresses only; the caller (the
/// `network` of network.hpp, or a test) moves the datagrams. No clock: `now` is passed in.
///
/// The state is a table of *flows*, one per (private endpoint, remote endpoint) pair that sent
/// outbound, each with the public port it was given and an expiry time. The mapping behaviour
/// decides which public port a new flow gets; the filtering behaviour decides which flows admit
/// an inbound datagram:
///
/// | behaviour | a new flow X:x → Y:y reuses the port of | inbound Y:y → port P needs a flow to |
/// |---|---|---|
/// | endpoint_independent | any live flow from X:x | anything (EIF: open once mapped) |
/// | address_dependent | a live flow from X:x to Y:any | Y:any (ADF) |
/// | address_and_port_dependent | none: a new port (symmetric with APDF) | exactly Y:y (APDF) |
///
/// A public port belongs to one private endpoint while any of its flows lives. A flow lives
/// `mapping_lifetime` past its last outbound datagram (RFC 4787 REQ-6: outbound refreshes);
/// inbound datagrams refresh only when `inbound_refreshes` is set. Expired flows are removed,
/// so the state is bounded by `max_flows`.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/random.hpp"
#include "neutrino/time.hpp"

namespace neutrino::inspector {

/// RFC 4787 §4.1 mapping behaviour: when an outbound flow reuses an existing public port.
enum class nat_mapping : std::uint8_t {
    endpoint_independent,       ///< EIM: one public port per private endpoint, for every remote
    address_dependent,          ///< ADM: one per private endpoint and remote IP address
    address_and_port_dependent  ///< APDM: one per private endpoint and remote address and port
};

/// RFC 4787 §5 filtering behaviour: which inbound datagrams a public port admits.
enum class nat_filtering : std::uint8_t {
    endpoint_independent,       ///< EIF: any remote, once the port is mapped ("full cone")
    address_dependent,          ///< ADF: remotes whose IP address the private endpoint sent to
    address_and_port_dependent  ///< APDF: remote endpoints the private endpoint sent to
};

/// How a new public port is chosen (RFC 4787 §4.2.1).
enum class nat_port_allocation : std::uint8_t {
    preserve,    ///< the private port when it is free, else the next sequential one
    sequential,  ///< the next free port after the last one given, wrapping in the range
    random       ///< uniform in the range from the seeded stream (free ports only)
};

/// A NAT's configuration; the defaults are the usual home router (EIM, APDF, port
/// preservation, 30 s idle timeout like Linux conntrack), without hairpinning.
struct nat_config {
    /// The public (WAN) address; its port is ignored. Must not be of family `none`.
    peer_address public_address{};
    nat_mapping mapping = nat_mapping::endpoint_independent;
    nat_filtering filtering = nat_filtering::address_and_port_dependent;
    /// A flow's idle time before it expires; > 0.
    duration mapping_lifetime = std::chrono::seconds(30);
    /// Whether an admitted inbound datagram refreshes its flow (RFC 4787 REQ-6 allows it; the
    /// default is no: only outbound traffic keeps a mapping alive).
    bool inbound_refreshes = false;
    /// RFC 4787 REQ-9: a datagram from the LAN to the public address comes back in, from the
    /// sender's public mapping. Used by `hairpin`.
    bool hairpinning = false;
    nat_port_allocation ports = nat_port_allocation::preserve;
    std::uint16_t first_port = 1024;  ///< lowest public port given; > 0
    std::uint16_t last_port = 65535;  ///< highest public port given; >= first_port
    /// The most flows held at once; a new outbound flow past it is dropped
    /// (`dropped_table_full`). > 0.
    std::size_t max_flows = 4096;
    std::uint64_t seed = 1;  ///< seeds `nat_port_allocation::random`
};

/// What a NAT translated and dropped, counted per datagram (flows where named).
struct nat_stats {
    std::uint64_t translated_out = 0;      ///< outbound datagrams given a public source
    std::uint64_t translated_in = 0;       ///< inbound datagrams given a private destination
    std::uint64_t hairpinned = 0;          ///< datagrams turned around by `hairpin`
    std::uint64_t flows_created = 0;       ///< new (private, remote) flows
    std::uint64_t flows_expired = 0;       ///< flows removed after their lifetime
    std::uint64_t dropped_table_full = 0;  ///< outbound: a new flow and `max_flows` reached
    std::uint64_t dropped_no_port = 0;     ///< outbound: every public port in the range taken
    std::uint64_t dropped_no_mapping = 0;  ///< inbound: not our address, or no live flow on it
    std::uint64_t dropped_filtered = 0;    ///< inbound: live port, but the filter refused
    std::uint64_t dropped_hairpin = 0;     ///< to our own public address, hairpinning off

    /// Every drop, whatever the reason.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_table_full + dropped_no_port + dropped_no_mapping + dropped_filtered +
               dropped_hairpin;
    }
};

/// Where a hairpinned datagram comes from and goes to.
struct nat_hairpin {
    peer_address from;  ///< the sender's public mapping (what the receiver sees)
    peer_address to;    ///< the private endpoint it is delivered to
};

/// One NAT box. Linear in the number of live flows per call (a flat vector, reserved up to
/// 4096 flows at construction, so no allocation per datagram below that). Never throws after
/// construction. Times must not go backwards. Not thread-safe.
class nat {
public:
    /// Throws `std::invalid_argument` for a `none` public address, a zero or negative
    /// lifetime, an empty port range or `max_flows == 0`.
    explicit nat(nat_config cfg) : cfg_(cfg), random_(cfg.seed), next_port_(cfg.first_port) {
        if (cfg_.public_address.family == peer_address::family_type::none) {
            throw std::invalid_argument("nat: public_address is not set");
        }
        if (cfg_.mapping_lifetime <= duration::zero()) {
            throw std::invalid_argument("nat: mapping_lifetime must be positive");
        }
        if (cfg_.first_port == 0 || cfg_.first_port > cfg_.last_port) {
            throw std::invalid_argument("nat: port range must be non-empty and above 0");
        }
        if (cfg_.max_flows == 0) throw std::invalid_argument("nat: max_flows must be positive");
        cfg_.public_address.port = 0;
        flows_.reserve(std::min<std::size_t>(cfg_.max_flows, 4096));
    }

    /// Translates a datagram from `private_src` (on the LAN) to `dst` (outside): creates or
    /// refreshes the flow and returns the public source to put on it, or `nullopt` when it is
    /// dropped (`dropped_table_full`, `dropped_no_port`).
    std::optional<peer_address> outbound(const peer_address& private_src, const peer_address& dst,
                                         time_point now) noexcept {
        expire(now);
        for (auto& f : flows_) {
            if (f.private_src == private_src && f.remote == dst) {
                f.expires = now + cfg_.mapping_lifetime;
                ++stats_.translated_out;
                return public_endpoint(f.public_port);
            }
        }
        if (flows_.size() >= cfg_.max_flows) {
            ++stats_.dropped_table_full;
            return std::nullopt;
        }
        std::optional<std::uint16_t> port = reusable_port(private_src, dst);
        if (!port) port = allocate_port(private_src.port);
        if (!port) {
            ++stats_.dropped_no_port;
            return std::nullopt;
        }
        flows_.push_back(flow{private_src, dst, *port, now + cfg_.mapping_lifetime});
        earliest_expiry_ = std::min(earliest_expiry_, now + cfg_.mapping_lifetime);
        ++stats_.flows_created;
        ++stats_.translated_out;
        return public_endpoint(*port);
    }

    /// Translates a datagram from `src` (outside) to `public_dst`: returns the private
    /// endpoint to deliver it to, or `nullopt` when it is dropped (`dropped_no_mapping` when
    /// `public_dst` is not this NAT's address or no live flow holds its port,
    /// `dropped_filtered` when the filtering behaviour refuses `src`).
    std::optional<peer_address> inbound(const peer_address& public_dst, const peer_address& src,
                                        time_point now) noexcept {
        expire(now);
        if (!public_dst.same_host(cfg_.public_address)) {
            ++stats_.dropped_no_mapping;
            return std::nullopt;
        }
        flow* mapped = nullptr;
        flow* admitted = nullptr;
        for (auto& f : flows_) {
            if (f.public_port != public_dst.port) continue;
            mapped = &f;
            if (admits(f, src)) {
                admitted = &f;
                break;
            }
        }
        if (mapped == nullptr) {
            ++stats_.dropped_no_mapping;
            return std::nullopt;
        }
        if (admitted == nullptr) {
            ++stats_.dropped_filtered;
            return std::nullopt;
        }
        if (cfg_.inbound_refreshes) admitted->expires = now + cfg_.mapping_lifetime;
        ++stats_.translated_in;
        return admitted->private_src;
    }

    /// A datagram from `private_src` to this NAT's own public address `public_dst`: with
    /// hairpinning, translated out (as `outbound`) and back in (as `inbound`, filters
    /// included); without, dropped (`dropped_hairpin`). `nullopt` when dropped for any reason.
    std::optional<nat_hairpin> hairpin(const peer_address& private_src,
                                       const peer_address& public_dst, time_point now) noexcept {
        if (!cfg_.hairpinning) {
            ++stats_.dropped_hairpin;
            return std::nullopt;
        }
        auto from = outbound(private_src, public_dst, now);
        if (!from) return std::nullopt;
        auto to = inbound(public_dst, *from, now);
        if (!to) return std::nullopt;
        ++stats_.hairpinned;
        return nat_hairpin{*from, *to};
    }

    /// True when `a` is on this NAT's public address (any port).
    [[nodiscard]] bool is_public(const peer_address& a) const noexcept {
        return a.same_host(cfg_.public_address);
    }

    /// The public mapping `private_src` would use towards `dst` if it sent now, without
    /// creating or refreshing anything; `nullopt` when it would need a new port.
    [[nodiscard]] std::optional<peer_address> mapping_for(const peer_address& private_src,
                                                          const peer_address& dst,
                                                          time_point now) const noexcept {
        for (const auto& f : flows_) {
            if (f.expires > now && f.private_src == private_src && f.remote == dst) {
                return public_endpoint(f.public_port);
            }
        }
        for (const auto& f : flows_) {
            if (f.expires > now && reuses(f, private_src, dst)) {
                return public_endpoint(f.public_port);
            }
        }
        return std::nullopt;
    }

    /// Live flows (after the last call's expiry pass).
    [[nodiscard]] std::size_t flows() const noexcept { return flows_.size(); }
    [[nodiscard]] const nat_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const nat_config& configuration() const noexcept { return cfg_; }

private:
    struct flow {
        peer_address private_src;
        peer_address remote;
        std::uint16_t public_port = 0;
        time_point expires{};
    };

    [[nodiscard]] peer_address public_endpoint(std::uint16_t port) const noexcept {
        peer_address a = cfg_.public_address;
        a.port = port;
        return a;
    }

    // Whether a new flow from private_src to dst may take f's public port (mapping behaviour).
    [[nodiscard]] bool reuses(const flow& f, const peer_address& private_src,
                              const peer_address& dst) const noexcept {
        if (!(f.private_src == private_src)) return false;
        switch (cfg_.mapping) {
            case nat_mapping::endpoint_independent: return true;
            case nat_mapping::address_dependent: return f.remote.same_host(dst);
            case nat_mapping::address_and_port_dependent: return f.remote == dst;
        }
        return false;
    }

    // Whether flow f lets a datagram from src in (filtering behaviour).
    [[nodiscard]] bool admits(const flow& f, const peer_address& src) const noexcept {
        switch (cfg_.filtering) {
            case nat_filtering::endpoint_independent: return true;
            case nat_filtering::address_dependent: return f.remote.same_host(src);
            case nat_filtering::address_and_port_dependent: return f.remote == src;
        }
        return false;
    }

    [[nodiscard]] std::optional<std::uint16_t> reusable_port(
        const peer_address& private_src, const peer_address& dst) const noexcept {
        for (const auto& f : flows_) {
            if (reuses(f, private_src, dst)) return f.public_port;
        }
        return std::nullopt;
    }

    [[nodiscard]] bool port_in_use(std::uint16_t port) const noexcept {
        return std::any_of(flows_.begin(), flows_.end(),
                           [port](const flow& f) { return f.public_port == port; });
    }

    [[nodiscard]] bool in_range(std::uint32_t port) const noexcept {
        return port >= cfg_.first_port && port <= cfg_.last_port;
    }

    std::optional<std::uint16_t> allocate_port(std::uint16_t private_port) noexcept {
        if (cfg_.ports == nat_port_allocation::preserve && in_range(private_port) &&
            !port_in_use(private_port)) {
            return private_port;
        }
        if (cfg_.ports == nat_port_allocation::random) {
            for (int i = 0; i < 64; ++i) {  // a few draws, then the sequential scan below
                const auto p =
                    static_cast<std::uint16_t>(random_.uniform(cfg_.first_port, cfg_.last_port));
                if (!port_in_use(p)) return p;
            }
        }
        const std::uint32_t range = std::uint32_t{cfg_.last_port} - cfg_.first_port + 1;
        for (std::uint32_t i = 0; i < range; ++i) {
            const std::uint16_t p = next_port_;
            next_port_ = p == cfg_.last_port ? cfg_.first_port : static_cast<std::uint16_t>(p + 1);
            if (!port_in_use(p)) return p;
        }
        return std::nullopt;
    }

    // Removes flows whose lifetime ended; a pass runs only once the earliest expiry is due.
    void expire(time_point now) noexcept {
        if (now < earliest_expiry_) return;
        earliest_expiry_ = time_point::max();
        for (std::size_t i = 0; i < flows_.size();) {
            if (flows_[i].expires <= now) {
                flows_[i] = flows_.back();
                flows_.pop_back();
                ++stats_.flows_expired;
            } else {
                earliest_expiry_ = std::min(earliest_expiry_, flows_[i].expires);
                ++i;
            }
        }
    }

    nat_config cfg_;
    seeded_random random_;
    std::uint16_t next_port_;
    std::vector<flow> flows_;
    time_point earliest_expiry_ = time_point::max();
    nat_stats stats_;
};

}  // namespace neutrino::inspector
