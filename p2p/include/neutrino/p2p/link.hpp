#pragma once
/// \file
/// `basic_link`: an upper sans-IO stack (a core, reliable, extended or qotp machine) running
/// over a `basic_path_manager` to one peer (p2p.md §7.1: "a link whose remote end is a peer
/// identity, not an endpoint").
///
/// The upper stack never sees the direct or the relay address. It talks to one fixed opaque
/// `peer_address`, the *peer handle* (`peer_handle_of(peer node id)`), and the link maps that
/// handle onto whichever path the path manager has current:
///
/// ```
///   network ──handle_datagram(in, from)──▶ path manager ──poll_received──▶
///            upper.handle_datagram(payload, peer handle)
///   upper.poll_datagram (to the peer handle) ──▶ path manager.send ──▶ poll_datagram ──▶ network
/// ```
///
/// So a fallback to the relay, a switch back or a migration of the peer's direct address
/// never changes the upper stack's peer: to it a path switch is a short burst of loss or
/// reordering, which the reliable layers repair (§7.1).
///
/// The link *owns* both machines (style.md §3: a composite owns what it stacks), so a driver or
/// the inspector's `network` holds one object, the lifetimes cannot diverge, and the upper
/// stack is reached through `upper()` (to send, connect, query) and the path manager through
/// `paths()` (`use_direct`, stats).
///
/// Events: `link_event<Upper::event_type>`, a `std::variant` of the upper stack's event and the
/// path manager's `path_event`, so one `poll_event` serves both (path events first).
///
/// Scope: the link carries the traffic of one peer. Server control (`0x03`) and STUN on the
/// same socket are demultiplexed before it (the rendezvous client's and, later, the peer
/// table's job); given to the link they are dropped by the path manager (`bad_envelope_type`).
///
/// No allocation, no exception of its own after the constructor (which throws what the path
/// manager's or the upper stack's constructor throws): one receive buffer of `max_payload_size`
/// bytes in the object, and the path manager's bounded rings. Satisfies `neutrino::datagram_layer`
/// when `Upper` does. Not thread-safe.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/p2p/path_manager.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::p2p {

/// The opaque handle naming the peer `peer` to an upper stack: `peer_address::opaque(first 16
/// bytes of the node id, 0)`. Stable for the life of the peer's identity, whatever its paths.
[[nodiscard]] inline peer_address peer_handle_of(const node_id& peer) noexcept {
    std::array<std::uint8_t, 16> host{};
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = std::to_integer<std::uint8_t>(peer[i]);
    return peer_address::opaque(host, 0);
}

/// What `basic_link::poll_event` returns: an event of the upper stack or of the path manager.
template <class UpperEvent>
using link_event = std::variant<UpperEvent, path_event>;

/// Counters of the link itself (the path manager and the upper stack count their own).
struct link_stats {
    std::uint64_t sent = 0;       ///< upper datagrams handed to the path manager
    std::uint64_t delivered = 0;  ///< peer payloads handed to the upper stack (accepted or not)
    std::uint64_t rejected_by_upper = 0;   ///< of `delivered`, refused by the upper stack
    std::uint64_t dropped_unroutable = 0;  ///< upper datagram not addressed to the peer handle
    std::uint64_t dropped_unsendable = 0;  ///< refused by `path_manager::send` (too large, full)
};

/// An upper stack `Upper` over the path manager to one peer; `Random` draws the path manager's
/// PROBE nonces.
template <datagram_layer Upper, random_source Random = system_random>
class basic_link {
public:
    using upper_type = Upper;
    using path_manager_type = basic_path_manager<Random>;
    using event_type = link_event<typename Upper::event_type>;
    static_assert(!std::is_same_v<typename Upper::event_type, path_event>,
                  "link: the upper stack's events must be told apart from path events");

    /// The largest upper datagram carried (the path manager's `max_payload_size`).
    static constexpr std::size_t max_payload_size = path_manager_type::max_payload_size;
    /// What `poll_datagram` needs beyond the upper datagram (the relay header and envelope).
    static constexpr std::size_t overhead_size = path_manager_type::overhead_size;

    /// Starts the path manager at `now` with `cfg` (see `basic_path_manager`'s constructor)
    /// and constructs the upper stack from `upper_args`. The upper stack must address the peer
    /// as `peer_handle_of(cfg.peer)` (e.g. a core client's `server`). Throws what either
    /// constructor throws.
    template <class... UpperArgs>
    basic_link(const path_config& cfg, time_point now, Random random, UpperArgs&&... upper_args)
        : paths_(cfg, now, std::move(random)),
          upper_(std::forward<UpperArgs>(upper_args)...),
          handle_(peer_handle_of(cfg.peer)) {}

    basic_link(const basic_link&) = delete;
    basic_link& operator=(const basic_link&) = delete;

    /// The upper stack (send, connect, state and stats go through it).
    [[nodiscard]] Upper& upper() noexcept { return upper_; }
    [[nodiscard]] const Upper& upper() const noexcept { return upper_; }
    /// The path manager (`use_direct`, `direct_is_current`, stats).
    [[nodiscard]] path_manager_type& paths() noexcept { return paths_; }
    [[nodiscard]] const path_manager_type& paths() const noexcept { return paths_; }
    /// The opaque address the upper stack sees the peer at.
    [[nodiscard]] const peer_address& peer_handle() const noexcept { return handle_; }
    [[nodiscard]] const link_stats& stats() const noexcept { return stats_; }

    /// One datagram from `from` on the node's socket: given to the path manager, then every
    /// peer payload it unwrapped goes to the upper stack from the peer handle. Returns the path
    /// manager's error when it dropped the datagram (see `basic_path_manager::handle_datagram`),
    /// else the upper stack's when it refused the payload (counted in `rejected_by_upper`).
    /// Never throws.
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        auto lower = paths_.handle_datagram(in, from, now);
        auto up = deliver_up(now);
        if (!lower) return lower;
        return up;
    }

    /// Writes the next datagram for the network into `out` (give at least `max_payload_size +
    /// overhead_size` bytes): first what the path manager has queued (PROBE replies and
    /// requests), then the upper stack's next datagram framed for the current path. Upper
    /// datagrams to another address than the peer handle (`dropped_unroutable`) or refused by
    /// the path manager (`dropped_unsendable`) are dropped and counted; the upper stack
    /// repairs them like any loss. `nullopt` when there is nothing to send.
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        if (auto t = paths_.poll_datagram(out, now)) return t;
        if (out.size() <= overhead_size) return std::nullopt;
        // The upper stack writes at the front of `out`; `send` copies it into the path
        // manager's ring before `poll_datagram` frames it back into `out`.
        const auto room = out.first(std::min(out.size() - overhead_size, max_payload_size));
        while (auto t = upper_.poll_datagram(room, now)) {
            if (t->to != handle_) {
                ++stats_.dropped_unroutable;
                continue;
            }
            if (!paths_.send(room.first(t->size), now)) {
                ++stats_.dropped_unsendable;
                continue;
            }
            ++stats_.sent;
            return paths_.poll_datagram(out, now);
        }
        return std::nullopt;
    }

    /// The next event: the path manager's first (`path_up`, `path_switched`, …), then the
    /// upper stack's. Views inside an upper event stay valid until the next non-const call.
    std::optional<event_type> poll_event() {
        if (auto e = paths_.poll_event()) {
            return event_type(std::in_place_index<1>, std::move(*e));
        }
        if (auto e = upper_.poll_event()) {
            return event_type(std::in_place_index<0>, std::move(*e));
        }
        return std::nullopt;
    }

    /// The earlier of the path manager's and the upper stack's deadlines.
    [[nodiscard]] std::optional<time_point> deadline() const {
        const auto a = paths_.deadline();
        const auto b = upper_.deadline();
        if (!a) return b;
        if (!b) return a;
        return std::min(*a, *b);
    }

    /// Runs the timers that are due at `now`: the path manager's (keepalive, lapse, re-probe)
    /// and the upper stack's.
    void handle_deadline(time_point now) {
        if (const auto d = paths_.deadline(); d && *d <= now) paths_.handle_deadline(now);
        if (const auto d = upper_.deadline(); d && *d <= now) upper_.handle_deadline(now);
    }

private:
    result<void> deliver_up(time_point now) {
        result<void> first{};
        while (const auto n = paths_.poll_received(rx_)) {
            ++stats_.delivered;
            auto r =
                upper_.handle_datagram(std::span<const std::byte>(rx_.data(), *n), handle_, now);
            if (!r) {
                ++stats_.rejected_by_upper;
                if (first) first = std::move(r);
            }
        }
        return first;
    }

    path_manager_type paths_;
    Upper upper_;
    peer_address handle_;
    std::array<std::byte, max_payload_size> rx_{};
    link_stats stats_;
};

}  // namespace neutrino::p2p
