#pragma once
// A userspace delay element for the bottleneck lab (issue #13): this kernel has no sch_netem, so
// the router namespace forwards Ethernet frames between its two veths through AF_PACKET sockets
// and holds each one for a fixed one-way delay, in arrival order (no reordering), optionally
// dropping a seeded random share of the forward (client → server) direction. The bottleneck
// itself is the tbf qdisc on the egress veth: a frame the relay hands over while tbf's queue is
// full is refused (ENOBUFS) and counted as a queue drop, exactly as a drop-tail router drops it.
//
// Frames must be plain (the lab turns GSO/TSO/GRO and checksum offload off on every veth); a
// frame larger than a slot is dropped and counted.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "transfer.hpp"

namespace neutrino::bench::lab {

/// Counters of one direction, in shared memory so the parent reads them while the relay runs.
/// "window" counters count only frames released inside the transfer's window.
struct relay_direction_counters {
    std::atomic<std::uint64_t> frames{0};         ///< handed to the egress veth and accepted
    std::atomic<std::uint64_t> bytes{0};          ///< their L2 bytes
    std::atomic<std::uint64_t> window_bytes{0};   ///< L2 bytes accepted inside the window
    std::atomic<std::uint64_t> random_drops{0};   ///< dropped on purpose (loss)
    std::atomic<std::uint64_t> queue_drops{0};    ///< refused by the egress qdisc (tbf full)
    std::atomic<std::uint64_t> window_queue_drops{0};
    std::atomic<std::uint64_t> overflow_drops{0}; ///< the delay line was full, or the frame too big
};

struct relay_counters {
    relay_direction_counters forward;  ///< client side → server side (the data direction)
    relay_direction_counters reverse;  ///< server side → client side (acknowledgements)
    std::atomic<int> ready{0};  ///< the relay's sockets are bound
};

struct relay_config {
    std::string client_side;  ///< interface toward the client namespace
    std::string server_side;  ///< interface toward the server namespace (carries the tbf)
    std::chrono::microseconds one_way{20000};
    double forward_loss = 0.0;  ///< probability of dropping a forward frame
    std::uint64_t seed = 1;
};

/// Runs until `control.stop` is set (checked at least every 50 ms), counting in `counters`
/// ("window" counters inside `control`'s window). Must be called inside the router namespace
/// with CAP_NET_RAW. Returns an empty string, or why it could not run.
[[nodiscard]] std::string run_delay_relay(const relay_config& config, const transfer_control& control,
                                          relay_counters& counters);

}  // namespace neutrino::bench::lab
