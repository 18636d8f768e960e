#pragma once
/// \file
/// Path validation on a v3 server (§12.2): the state of a new address a session's client spoke
/// from, and the rules for challenging it: one PATH_CHALLENGE at once and then every
/// `path_challenge_rto`, at most `max_challenges`, never more than 3× the bytes the candidate
/// sent (the amplification limit), the candidate forgotten after `candidate_lifetime`.
/// spec: neutrino-v3.md §12.2 rules 1–7

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "neutrino/address.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/server_options.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3::detail {

/// A new address a session's client spoke from, being validated.
struct path_challenge_state {
    peer_address addr;
    std::array<std::byte, 8> challenge{};
    std::uint64_t received = 0;  ///< bytes received from `addr` while it is the candidate
    std::uint64_t sent = 0;      ///< bytes of challenges sent to `addr`
    unsigned challenges = 0;
    time_point last_challenge{};
    time_point expires{};
};

/// The size of a PATH_CHALLENGE datagram: prefix, keyword, a u8 list of one 8-byte word, tag.
inline constexpr std::size_t challenge_size = prefix_size + keyword_size + 1 + 2 + 8 + tag_size;  // 53

/// A candidate for `addr`, which sent `received` bytes so far, with a fresh challenge value.
template <class Random>
[[nodiscard]] path_challenge_state new_candidate(const peer_address& addr, std::size_t received,
                                                 Random& random, const server_options& opt,
                                                 time_point now) {
    path_challenge_state c;
    c.addr = addr;
    random.fill(c.challenge);
    c.received = received;
    c.expires = now + opt.candidate_lifetime;
    return c;
}

/// Whether one more challenge fits the 3× amplification budget.  spec: §12.2 rule 4
[[nodiscard]] inline bool challenge_fits(const path_challenge_state& c) noexcept {
    return c.sent + challenge_size <= 3 * c.received;
}

/// Whether a challenge is due at `now`.
[[nodiscard]] inline bool challenge_due(const path_challenge_state& c, const server_options& opt,
                                        time_point now) noexcept {
    return c.challenges < opt.max_challenges && now >= c.last_challenge + opt.path_challenge_rto;
}

/// The candidate's next timer: its expiry, or its next challenge if one is left.
[[nodiscard]] inline time_point candidate_timer(const path_challenge_state& c,
                                                const server_options& opt) noexcept {
    time_point t = c.expires;
    if (c.challenges < opt.max_challenges) t = std::min(t, c.last_challenge + opt.path_challenge_rto);
    return t;
}

}  // namespace neutrino::core::v3::detail
