#pragma once
/// \file
/// Admission on a v3 server (§7.4 steps 5–6, §8.3): whether the server is under load (then a
/// HELLO1 needs a mac2 cookie bound to its source address), the cookie secrets and their
/// rotation, the global COOKIE_REPLY rate, and the pending handshakes per source IP. Nothing
/// here does a DH or keeps per-session state: it runs before any.
/// spec: neutrino-v3.md §7.4, §8.1–§8.3

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "neutrino/address.hpp"
#include "neutrino/core/v3/cookie.hpp"
#include "neutrino/core/v3/server_options.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3::detail {

/// The server's admission state; the limits come from the server's options in each call.
class admission {
public:
    /// Tests and operators: treat the server as under load (cookies required) or not.
    void force_load(bool on) noexcept { forced_load_ = on; }

    /// True when a HELLO1 arriving at `now`, with `pending` handshakes in progress, needs a
    /// valid mac2 (§8.3): forced, always required, too many pending, or too many HELLO1s reached
    /// the DH step within the last second.
    [[nodiscard]] bool under_load(const server_options& opt, std::size_t pending,
                                  time_point now) const noexcept {
        return forced_load_ || opt.always_require_cookie || pending >= opt.load_pending ||
               (now - rate_window_ < std::chrono::seconds(1) &&
                handshakes_in_window_ >= opt.load_handshakes_per_second);
    }

    /// A HELLO1 reached the DH step (step 7) at `now`.
    void count_handshake(time_point now) noexcept {
        if (now - rate_window_ >= std::chrono::seconds(1)) {
            rate_window_ = now;
            handshakes_in_window_ = 0;
        }
        ++handshakes_in_window_;
    }

    /// The cookie secrets, created on first use and rotated when due (every 120 s, §8.1).
    /// Returns whether they rotated.
    template <class Random>
    bool refresh_secrets(Random& random, time_point now) {
        if (!cookies_) {
            cookies_.emplace(cookie_secrets::generate(random, now));
            return false;
        }
        return cookies_->rotate_if_due(now, random);
    }

    /// Whether `hello1` carries a mac2 made with a cookie for `from` (current or previous
    /// secret). Call `refresh_secrets` first.
    [[nodiscard]] bool has_cookie(std::span<const std::byte> hello1, const peer_address& from) const {
        return cookies_ && cookies_->check_mac2(hello1, from).has_value();
    }

    /// The cookie a COOKIE_REPLY to `to` carries. Call `refresh_secrets` first.
    [[nodiscard]] cookie cookie_for(const peer_address& to) const noexcept { return cookies_->cookie_for(to); }

    /// Whether the global budget of `cookie_replies_per_second` (§8.3) has a COOKIE_REPLY left
    /// at `now` (a new one-second window starts when the last is over). `count_reply` spends it.
    [[nodiscard]] bool reply_allowed(const server_options& opt, time_point now) noexcept {
        if (now - reply_window_ >= std::chrono::seconds(1)) {
            reply_window_ = now;
            replies_in_window_ = 0;
        }
        return replies_in_window_ < opt.cookie_replies_per_second;
    }
    void count_reply() noexcept { ++replies_in_window_; }

    /// Pending handshakes from `a`'s IP (step 6: at most `max_pending_per_ip`).
    [[nodiscard]] std::size_t pending_on(const peer_address& a) const noexcept {
        auto h = pending_hosts_.find(host_key(a));
        return h == pending_hosts_.end() ? 0 : h->second;
    }
    /// A handshake from `a` became pending / stopped being pending.
    void hold_host(const peer_address& a) { ++pending_hosts_[host_key(a)]; }
    void release_host(const peer_address& a) {
        auto h = pending_hosts_.find(host_key(a));
        if (h != pending_hosts_.end() && --h->second == 0) pending_hosts_.erase(h);
    }

private:
    static peer_address host_key(peer_address a) noexcept {
        a.port = 0;
        return a;
    }

    std::optional<cookie_secrets> cookies_;
    std::unordered_map<peer_address, std::size_t, peer_address_hash> pending_hosts_;
    time_point rate_window_{};
    std::uint32_t handshakes_in_window_ = 0;
    time_point reply_window_{};
    std::uint32_t replies_in_window_ = 0;
    bool forced_load_ = false;
};

}  // namespace neutrino::core::v3::detail
