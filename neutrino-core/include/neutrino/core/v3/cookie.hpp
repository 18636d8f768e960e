#pragma once
/// \file
/// Address validation under load, WireGuard's cookie design with BLAKE2b: mac2, the cookie of
/// a source address, COOKIE_REPLY seal/open, the server's rotating cookie secret and the
/// client's cookie lifetime, as pure functions and small value types (the caller passes
/// `now` and the randomness).  spec: neutrino-v3.md §4.4, §8
///
/// mac1 (always present) is built by `client_handshake::write_hello1` and checked by
/// `check_hello1` (handshake.hpp); this header covers what happens under load.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/core/v3/handshake.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3 {

/// A 16-byte cookie: `MAC(cookie_secret, addr, 16)`. It is a key (for mac2) held by the client.
using cookie = std::array<std::byte, cookie_size>;
/// A 32-byte cookie secret; wiped when destroyed.
using cookie_secret = secret_bytes<key_size>;

inline constexpr std::chrono::seconds cookie_secret_rotation{120};  ///< §3.3 COOKIE_SECRET_ROTATION
inline constexpr std::chrono::seconds cookie_lifetime{120};         ///< §3.3 COOKIE_LIFETIME (client)

/// The cookie input of an address: `0x04 ‖ IPv4 ‖ port LE16` (7 bytes) or
/// `0x06 ‖ IPv6 ‖ port LE16` (19 bytes); addresses in network order. An address of family
/// `none` encodes as the single byte `00` (it never matches a real peer).
/// spec: neutrino-v3.md §8.2
struct cookie_address {
    std::array<std::byte, 19> bytes{};
    std::size_t size = 0;

    [[nodiscard]] static cookie_address of(const peer_address& a) noexcept;
    [[nodiscard]] bytes_view view() const noexcept { return {bytes.data(), size}; }
};

/// `cookie = MAC(secret, addr, 16)`.  spec: neutrino-v3.md §8.2
[[nodiscard]] cookie make_cookie(const cookie_secret& secret, const peer_address& source) noexcept;

/// `mac2 = MAC(cookie, HELLO1[0..1264), 16)`; precondition `hello1.size() ≥ 1264`.
/// spec: neutrino-v3.md §8.1
[[nodiscard]] mac_value compute_mac2(const cookie& c, bytes_view hello1) noexcept;

/// Client: writes mac2 into a built HELLO1 (bytes 0..1264 unchanged), or zeros without a
/// cookie. Error: bad_size unless `hello1` is 1280 bytes.  spec: neutrino-v3.md §7.3, §8.4
[[nodiscard]] result<void> set_mac2(std::span<std::byte> hello1,
                                    const std::optional<cookie>& c) noexcept;

/// Server: the current and the previous cookie secret, replaced every 120 s.
/// spec: neutrino-v3.md §8.2 (verifying mac2), §8.3 (rotation)
///
/// Rotation is lazy: `rotate_if_due(now, random)` replaces the secret when 120 s have passed
/// since the last replacement (and records `now`, not the nominal schedule, so a cookie made
/// under the current secret stays valid for at least 120 s whatever the call pattern — the
/// property §8.4 relies on).
class cookie_secrets {
public:
    cookie_secrets(const cookie_secret& initial, time_point now) noexcept
        : current_(initial), rotated_at_(now) {}
    template <random_source Random>
    [[nodiscard]] static cookie_secrets generate(Random& random, time_point now) noexcept {
        cookie_secret s;
        random.fill(s.bytes());
        return {s, now};
    }

    [[nodiscard]] bool rotation_due(time_point now) const noexcept {
        return now - rotated_at_ >= cookie_secret_rotation;
    }
    /// `previous = current; current = fresh` (the old previous is wiped).
    void rotate(const cookie_secret& fresh, time_point now) noexcept {
        previous_ = current_;
        current_ = fresh;
        rotated_at_ = now;
    }
    /// Rotates with 32 fresh random bytes when due; returns whether it did.
    template <random_source Random>
    bool rotate_if_due(time_point now, Random& random) noexcept {
        if (!rotation_due(now)) return false;
        cookie_secret fresh;
        random.fill(fresh.bytes());
        rotate(fresh, now);
        return true;
    }

    /// The cookie a COOKIE_REPLY to `source` carries (current secret).
    [[nodiscard]] cookie cookie_for(const peer_address& source) const noexcept {
        return make_cookie(current_, source);
    }

    /// §8.2 "Verifying mac2": compares the HELLO1's mac2 with the cookie of `source` under the
    /// current secret, then the previous one (constant-time). Precondition: the HELLO1 already
    /// passed `check_hello1` (size, layout, mac1). Errors: bad_size, bad_mac2 (answer with a
    /// COOKIE_REPLY, §7.4 step 5).
    [[nodiscard]] result<void> check_mac2(bytes_view hello1,
                                          const peer_address& source) const noexcept;

    [[nodiscard]] time_point rotated_at() const noexcept { return rotated_at_; }

private:
    cookie_secret current_;
    std::optional<cookie_secret> previous_;
    time_point rotated_at_;
};

/// Server: builds COOKIE_REPLY into `out[0, 70)`: `hdr(type 7, session 2) ‖ nonce ‖
/// XAEAD(cookie_key, nonce, hdr ‖ mac1, cookie)`. `nonce` is 24 random bytes (§3.4), `mac1`
/// the mac1 of the HELLO1 being answered. Error: buffer_too_small.
/// spec: neutrino-v3.md §4.4, §8.2
[[nodiscard]] result<std::size_t> write_cookie_reply(
    std::span<std::byte> out, const derived_key& cookie_key,
    std::span<const std::byte, cookie_nonce_size> nonce, const mac_value& mac1,
    const cookie& c) noexcept;

/// Client: opens a COOKIE_REPLY answering the HELLO1 whose mac1 is `mac1`: exactly 70 bytes,
/// `0c 26 aa 5b 03 07`, session id 2, then XAEAD with AD = header ‖ mac1. Returns the cookie.
/// Errors: bad_size, bad_header, decryption_failed. Whether the client is waiting and the
/// source is the dialled address (§8.4) is the machine's check.  spec: neutrino-v3.md §8.4
[[nodiscard]] result<cookie> open_cookie_reply(bytes_view d, const derived_key& cookie_key,
                                               const mac_value& mac1) noexcept;

/// Client: a cookie and when it arrived; usable for later HELLO1s (new attempts too) until
/// COOKIE_LIFETIME after receipt.  spec: neutrino-v3.md §8.4
struct held_cookie {
    cookie value{};
    time_point received{};

    [[nodiscard]] bool fresh(time_point now) const noexcept { return now - received < cookie_lifetime; }
};

}  // namespace neutrino::core::v3
