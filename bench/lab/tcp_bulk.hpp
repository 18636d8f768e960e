#pragma once
// Kernel TCP bulk transfer for the bottleneck lab: the reference ours is measured against. Its
// own translation unit because it needs <linux/tcp.h>'s tcp_info (tcpi_data_segs_out), which
// clashes with the <netinet/tcp.h> that Asio includes.

#include <cstdint>
#include <string>

#include "transfer.hpp"

namespace neutrino::bench::lab {

struct receive_counts {
    std::uint64_t window_bytes = 0;  ///< application bytes received inside the window
    std::uint64_t total_bytes = 0;
};

struct send_counts {
    std::uint64_t segments = 0;       ///< data segments (datagrams) sent
    std::uint64_t retransmitted = 0;  ///< of those, sent again
    // Means of 50 ms samples in the window:
    double srtt_ms_mean = 0;     ///< the sender's smoothed RTT
    double pacing_mbit_mean = 0; ///< its pacing rate (0: unpaced)
    double cwnd_kb_mean = 0;     ///< its congestion window
    double inflight_kb_mean = 0; ///< its bytes in flight

    /// Adds one sample (ms, bytes/s, bytes, bytes); `finish` turns the sums into means.
    void sample(double srtt_ms, double pacing_bytes_s, double cwnd_bytes, double inflight_bytes) noexcept {
        srtt_ms_mean += srtt_ms;
        pacing_mbit_mean += pacing_bytes_s * 8 / 1e6;
        cwnd_kb_mean += cwnd_bytes / 1e3;
        inflight_kb_mean += inflight_bytes / 1e3;
        ++samples;
    }
    void finish() noexcept {
        if (samples == 0) return;
        const auto n = static_cast<double>(samples);
        srtt_ms_mean /= n;
        pacing_mbit_mean /= n;
        cwnd_kb_mean /= n;
        inflight_kb_mean /= n;
        samples = 0;
    }
    std::uint64_t samples = 0;
};

/// Accepts one connection on address:port and reads until `stop`. Returns "" or why it failed.
[[nodiscard]] std::string tcp_receive(transfer_control& control, const char* address, std::uint16_t port,
                                      receive_counts& counts);
/// Connects with congestion control `algorithm` and writes until the window ends or `stop`.
[[nodiscard]] std::string tcp_send(transfer_control& control, const char* algorithm, const char* address,
                                   std::uint16_t port, send_counts& counts);

}  // namespace neutrino::bench::lab
