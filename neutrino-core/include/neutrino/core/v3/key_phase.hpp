#pragma once
/// \file
/// Directional transport keys across key updates: `k[p+1] = REKEY(k[p])`, the send phase `s`
/// and the receive phase `r` with `rx_cur`, `rx_next` and an optional `rx_prev`.
/// spec: neutrino-v3.md §11.1, §11.3
///
/// Only the key bookkeeping is here. *When* to initiate (§11.2: `s == r`, 10 s minimum,
/// 2^24 packets or 120 s) and the MAX_FAILED_AUTH count are the session machine's, which
/// owns the clock and the counters.

#include <chrono>
#include <cstdint>
#include <optional>

#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3 {

inline constexpr std::chrono::seconds prev_key_discard{2};  ///< §3.3 PREV_KEY_DISCARD

/// The sending side: phase `s` and `tx = k_out[s]`.  spec: neutrino-v3.md §11.1, §11.2
class send_keys {
public:
    explicit send_keys(const secret_key& phase0) noexcept : tx_(phase0) {}
    [[nodiscard]] std::uint64_t phase() const noexcept { return s_; }
    /// The phase bit for the type byte (`s & 1`).
    [[nodiscard]] std::uint8_t phase_bit() const noexcept { return static_cast<std::uint8_t>(s_ & 1U); }
    [[nodiscard]] const secret_key& key() const noexcept { return tx_; }
    /// Initiates (or follows to) phase s+1: `s = s+1; tx = REKEY(tx)`; the old key is wiped.
    void advance() noexcept {
        tx_ = rekey(tx_);
        ++s_;
    }

private:
    secret_key tx_;
    std::uint64_t s_ = 0;
};

/// The receiving side: phase `r`, `rx_cur = k_in[r]`, `rx_next = k_in[r+1]` (precomputed),
/// `rx_prev = k_in[r−1]` until its discard time.  spec: neutrino-v3.md §11.1, §11.3
class receive_keys {
public:
    /// Which key opened a packet.
    enum class which : std::uint8_t { current, next, previous };

    explicit receive_keys(const secret_key& phase0) noexcept : cur_(phase0), next_(rekey(phase0)) {}

    [[nodiscard]] std::uint64_t phase() const noexcept { return r_; }
    [[nodiscard]] const secret_key& current() const noexcept { return cur_; }
    [[nodiscard]] const secret_key& next() const noexcept { return next_; }
    /// `rx_prev` if still held at `now`.
    [[nodiscard]] const secret_key* previous(time_point now) const noexcept {
        return prev_ && now < prev_discard_at_ ? &*prev_ : nullptr;
    }
    /// §11.3: a phase bit equal to `r & 1` selects `rx_cur`; otherwise `rx_next` is tried,
    /// then `rx_prev` (when held).
    [[nodiscard]] bool is_current_bit(std::uint8_t phase_bit) const noexcept {
        return (phase_bit & 1U) == (r_ & 1U);
    }

    /// §11.3 after a packet opened under `rx_next`: `rx_prev = rx_cur` (discarded at now +
    /// 2 s), `rx_cur = rx_next`, `rx_next = REKEY(rx_cur)`, `r = r+1`. The caller then makes
    /// its send side follow if `s < r`.
    void advance(time_point now) noexcept {
        prev_ = cur_;
        prev_discard_at_ = now + prev_key_discard;
        cur_ = next_;
        next_ = rekey(cur_);
        ++r_;
    }
    /// Wipes `rx_prev` once its discard time has passed.
    void discard_expired(time_point now) noexcept {
        if (prev_ && now >= prev_discard_at_) prev_.reset();
    }

private:
    secret_key cur_;
    secret_key next_;
    std::optional<secret_key> prev_;
    time_point prev_discard_at_{};
    std::uint64_t r_ = 0;
};

}  // namespace neutrino::core::v3
