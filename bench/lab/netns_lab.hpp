#pragma once
// The bottleneck lab of issue #13: three network namespaces made and torn down by the bench.
//
//   client ns            router ns                      server ns
//   c0 10.77.0.1/24 ──── r0   [delay relay]   r1 ──tbf── s0 10.77.0.2/24
//
// One L2 segment: the router namespace has no addresses; the delay relay (delay_relay.hpp)
// copies frames between r0 and r1, and tbf on r1's egress is the bottleneck of the data
// direction (client → server) with a drop-tail queue of `queue_bytes`. Offloads (TSO, GSO, GRO,
// scatter-gather, checksum) are off on all four veths so every frame is a real, checksummed
// packet of at most 1514 bytes, and IPv6 is off so nothing but the measured traffic crosses.
//
// Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW) and `ip`/`tc` from iproute2.

#include <cstdint>
#include <string>
#include <vector>

namespace neutrino::bench::lab {

inline constexpr const char* client_address = "10.77.0.1";
inline constexpr const char* server_address = "10.77.0.2";

enum class node : std::uint8_t { client, router, server };

class netns_lab {
public:
    /// Names the namespaces after this process (`nlab<pid>-c|r|s`); makes nothing yet.
    netns_lab();
    netns_lab(const netns_lab&) = delete;
    netns_lab& operator=(const netns_lab&) = delete;
    /// Deletes every namespace this lab made (their veths go with them).
    ~netns_lab();

    /// Why this machine cannot run the lab (not root, no `ip`, namespaces refused), or empty.
    [[nodiscard]] static std::string unavailable_reason();

    /// Makes the namespaces and links (first deleting those of labs whose bench no longer runs).
    /// Returns an error text, or empty.
    [[nodiscard]] std::string create();
    /// Sets (or replaces) the bottleneck: tbf at `rate_bit_s` on r1 with a `queue_bytes` limit.
    [[nodiscard]] std::string set_bottleneck(std::uint64_t rate_bit_s, std::uint64_t queue_bytes);
    /// Moves the calling process (call it in a forked child) into `n`'s namespace.
    [[nodiscard]] std::string enter(node n) const;
    /// Deletes the namespaces now (idempotent).
    void destroy() noexcept;

    [[nodiscard]] std::string name(node n) const;
    [[nodiscard]] static const char* router_client_side() noexcept { return "r0"; }
    [[nodiscard]] static const char* router_server_side() noexcept { return "r1"; }
    /// Whether a namespace named `name` exists (for the teardown check).
    [[nodiscard]] static bool exists(const std::string& name);

private:
    static void remove_stale();
    std::string prefix_;
    bool made_ = false;
};

/// Runs argv (no shell), output discarded unless it fails; returns "" or a description.
[[nodiscard]] std::string run_command(const std::vector<std::string>& argv);

}  // namespace neutrino::bench::lab
