#pragma once
/// \file
/// `core::v3::server_options`: what a v3 server is configured with beyond `core::server_config`.
/// spec: neutrino-v3.md §7.4, §8.3, §9.2, §9.3, §11.2, §12.2

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "neutrino/core/dialect.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/session.hpp"

namespace neutrino::core::v3 {

/// What a v3 server needs beyond `core::server_config`.
struct server_options {
    /// Dialects served besides the configured one (`server_config::dialect`, always served).
    /// Their ids must be distinct and ≤ 2.  spec: neutrino-v3.md §9.3
    std::vector<core::dialect> also_serve;
    /// The largest message accepted, answered when dialect id 2 is chosen (§9.2).
    std::uint32_t max_message_size = 262144;
    /// Refuse NK clients with status 3.  spec: neutrino-v3.md §9.2
    bool require_client_key = false;
    /// IK admission: false refuses with status 1. Empty: every client key is accepted.
    std::function<bool(const public_key&)> accept_client_key;
    /// Always require a cookie (tests; the vectors' `ik_reliable_cookie`).  spec: §8.3
    bool always_require_cookie = false;
    /// Under load when this many handshakes are pending …
    std::size_t load_pending = 2048;
    /// … or when this many HELLO1s reached the DH step within the last second.
    std::uint32_t load_handshakes_per_second = 5000;
    /// COOKIE_REPLYs per second, at most (global).  spec: neutrino-v3.md §8.3
    std::uint32_t cookie_replies_per_second = 10000;
    std::size_t max_pending_total = 4096;             ///< MAX_PENDING_TOTAL
    std::size_t max_pending_per_ip = 32;              ///< MAX_PENDING_PER_IP
    std::chrono::milliseconds pending_timeout{1500};  ///< PENDING_TIMEOUT
    std::chrono::milliseconds path_challenge_rto{250};
    std::chrono::milliseconds candidate_lifetime{1000};
    unsigned max_challenges = 3;
    key_update_policy key_update{};
};

}  // namespace neutrino::core::v3
