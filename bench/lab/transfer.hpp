#pragma once
// What the bottleneck lab's processes share about one transfer: the clock they all read and the
// control block in shared memory (stop, the receiver's readiness, the measured window).

#include <atomic>
#include <chrono>
#include <cstdint>

namespace neutrino::bench::lab {

/// steady_clock in nanoseconds: the same in every namespace of the lab.
inline std::int64_t steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// What the parent and every child of one transfer share (in shared memory).
struct transfer_control {
    std::atomic<int> stop{0};            ///< every child returns
    std::atomic<int> receiver_ready{0};  ///< the receiver listens
    std::atomic<std::int64_t> window_start_ns{INT64_MAX};  ///< steady_clock
    std::atomic<std::int64_t> window_end_ns{INT64_MAX};
    [[nodiscard]] bool in_window(std::int64_t t) const noexcept {
        return t >= window_start_ns.load(std::memory_order_relaxed) && t < window_end_ns.load(std::memory_order_relaxed);
    }
};

}  // namespace neutrino::bench::lab
