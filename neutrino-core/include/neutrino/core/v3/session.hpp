#pragma once
/// \file
/// What the v3 client and server machines share per session: the directional keys across
/// key updates, the two packet-number counters, the replay guard, the receive pipeline split
/// into "open" (no state change) and "accept" (window, key phase), sealing into the send
/// queue, and the bookkeeping that lets a Reliable retransmission be re-sealed without ever
/// sealing two plaintexts under one (key, pn).  spec: neutrino-v3.md §10, §11, §14.1
///
/// Also the v3 counters (`v3::stats`) and the mapping of v3 building-block errors onto the
/// core's `errc`, so that `stats::dropped(reason)` works the same for both wire versions.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include "neutrino/address.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/stats.hpp"
#include "neutrino/core/v3/constants.hpp"
#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/error.hpp"
#include "neutrino/core/v3/key_phase.hpp"
#include "neutrino/core/v3/packet_protection.hpp"
#include "neutrino/core/v3/replay_guard.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::v3 {

/// Counters of a v3 machine: the core's, plus what the v3 mechanisms did.
struct stats : core::stats {
    std::uint64_t dh_operations = 0;        ///< X25519 operations (keygen included) for handshakes
    std::uint64_t handshakes_read = 0;      ///< server: Noise message 1 processed (step 7 reached)
    std::uint64_t hello1_sent = 0;          ///< client: HELLO1 transmissions
    std::uint64_t hello2_sent = 0;          ///< server: HELLO2 built (accepted or refused)
    std::uint64_t hello2_resent = 0;        ///< server: HELLO2 re-sent from a pending session
    std::uint64_t cookie_replies_sent = 0;  ///< server
    std::uint64_t cookies_received = 0;     ///< client: COOKIE_REPLYs accepted
    std::uint64_t cookie_rotations = 0;     ///< server: cookie secret replacements
    std::uint64_t failed_auth = 0;          ///< transport AEAD opens that failed (all sessions)
    std::uint64_t key_updates_initiated = 0;
    std::uint64_t key_updates_followed = 0;
    std::uint64_t resealed = 0;  ///< retransmissions re-sealed under a newer phase
    std::uint64_t path_challenges_sent = 0;
    std::uint64_t path_responses_sent = 0;
    std::uint64_t path_validations = 0;
    std::uint64_t amplification_blocked = 0;  ///< challenges held back by the 3× budget
};

/// The core `errc` that stands for a v3 building-block error (drops are counted by it).
[[nodiscard]] core::errc to_core_errc(errc e) noexcept;

/// `ec` as a core error code (v3 codes mapped, others unchanged).
[[nodiscard]] std::error_code to_core(std::error_code ec) noexcept;

/// A v3 failure as a `result` carrying the core code.
[[nodiscard]] inline tl::unexpected<std::error_code> fail_core(std::error_code ec) noexcept {
    return tl::unexpected(to_core(ec));
}

/// Key-update policy.  spec: neutrino-v3.md §3.3, §11.2
struct key_update_policy {
    std::chrono::milliseconds min_interval{10000};         ///< KEY_UPDATE_MIN_INTERVAL
    std::chrono::milliseconds after_time{120000};          ///< REKEY_AFTER_TIME
    std::uint64_t after_packets = std::uint64_t{1} << 24;  ///< REKEY_AFTER_PACKETS
    /// Tests: initiate as soon as this many packets were sent in the phase (and the peer has
    /// followed), ignoring the minimum interval. 0: off.
    std::uint64_t force_every_packets = 0;
};

namespace detail {

/// The transport state of one session (either role).
class transport_session {
public:
    std::uint64_t id = 0;
    session_state state = session_state::none;
    peer_address peer;  ///< client: the server; server: the validated address (§12)
    time_point expiry{};
    std::uint64_t receive_limit = UINT64_MAX;  ///< numbered pns above it are not accepted
    std::uint64_t next_pn = 1;                 ///< numbered space; HELLO3 / first s2c is 1
    std::uint64_t next_unnumbered = 1;         ///< u of the next unnumbered pn (2^63 + u)
    std::uint64_t highest_numbered = 0;        ///< highest numbered pn accepted from the peer
    std::uint64_t failed_auth = 0;
    replay_guard window;

    [[nodiscard]] bool keyed() const noexcept { return tx_.has_value(); }

    /// Installs phase-0 keys (after Split()).
    void install(const secret_key& tx0, const secret_key& rx0, time_point now);

    [[nodiscard]] std::uint64_t send_phase() const noexcept { return tx_ ? tx_->phase() : 0; }
    [[nodiscard]] std::uint64_t receive_phase() const noexcept { return rx_ ? rx_->phase() : 0; }

    /// §11.2 condition 1: the peer has followed our current send phase.
    [[nodiscard]] bool can_initiate_update() const noexcept {
        return tx_ && tx_->phase() == rx_->phase();
    }
    /// §11.2 conditions 1 and, for a phase the peer started, 2. After following the peer we
    /// cannot tell whether it has received anything of ours in the new phase yet; updating
    /// again before it has would leave it unable to open our packets (it still holds
    /// k[s] as its next key, not k[s+1]). A phase we started ourselves is safe to leave as
    /// soon as the peer has answered in it: its answer proves it moved.
    [[nodiscard]] bool may_initiate_update(const key_update_policy& p, time_point now) const noexcept {
        return can_initiate_update() && (!followed_ || now - phase_started_ >= p.min_interval);
    }
    /// `s = s+1; tx = REKEY(tx)`; precondition `can_initiate_update()` (or following, §11.3).
    void advance_send_phase(time_point now);
    /// True when policy `p` asks for a key update now (§11.2).
    [[nodiscard]] bool update_due(const key_update_policy& p, time_point now) const noexcept;

    /// §10.5 steps 5–6 for a datagram whose header `h` was parsed: replay pre-check, key
    /// choice by phase bit (§11.3), AEAD open into `scratch`. Changes nothing but the failed
    /// open counter. Errors: replayed, decryption_failed (v3 codes).
    [[nodiscard]] result<opened_transport> open(bytes_view d, const transport_header& h,
                                                time_point now,
                                                std::span<std::byte> scratch) noexcept;

    /// §10.5 step 7 after `open`: the receive phase advances when `rx_next` opened it (and the
    /// send side follows, §11.3); with `commit`, the replay window marks the pn. Returns true
    /// when the send side followed a peer-initiated update.
    bool accept(const opened_transport& p, bool commit, time_point now);

    /// Seals a packet with the current send key into `out`. `payload` is already framed.
    [[nodiscard]] result<std::size_t> seal(std::span<std::byte> out, packet_type type,
                                           std::uint64_t pn_field, std::uint32_t keyword,
                                           bytes_view payload, std::size_t pad_to) noexcept;

    /// Keeps the plaintext of a numbered control packet (anything but DATA), so that a request
    /// for its number re-seals *the same* plaintext (§10.1).
    void remember_control(std::uint64_t pn, packet_type type, bytes_view payload);
    /// The control packet recorded under `pn`, if still held.
    struct control_view {
        packet_type type;
        bytes_view payload;
    };
    [[nodiscard]] std::optional<control_view> control(std::uint64_t pn) const noexcept;

    /// Prepares a stored datagram (sealed earlier for numbered `pn`) for sending again: as it
    /// is when it was sealed in the current send phase, else opened with that phase's key
    /// and re-sealed, byte for byte the same plaintext, under the current one (§10.1, §11.3).
    /// Writes to `out`; returns the size and whether it was re-sealed. Errors: bad_size,
    /// decryption_failed (not a datagram of this session), pn_exhausted (its phase key is no
    /// longer held).
    struct prepared {
        std::size_t size;
        bool resealed;
    };
    [[nodiscard]] result<prepared> prepare_resend(bytes_view datagram, std::uint64_t pn,
                                                  std::span<std::byte> out) const noexcept;

    /// Takes the next pn of a space, or pn_exhausted.  spec: neutrino-v3.md §10.2
    [[nodiscard]] result<std::uint64_t> take_numbered() noexcept {
        if (next_pn >= unnumbered_base) return fail(errc::pn_exhausted);
        return next_pn++;
    }
    [[nodiscard]] result<std::uint64_t> take_unnumbered() noexcept {
        if (next_unnumbered >= unnumbered_base - 1) return fail(errc::pn_exhausted);
        return unnumbered_base + next_unnumbered++;
    }

    /// Wipes every key (after a close, §13).
    void wipe() noexcept {
        tx_.reset();
        rx_.reset();
        old_tx_.clear();
    }

private:
    static constexpr std::size_t retained_phases = 4;
    static constexpr std::size_t control_slots = 4096;
    struct old_key {
        std::uint64_t first_pn;
        secret_key key;
    };
    struct control_record {
        static constexpr std::size_t capacity = 64;
        std::uint64_t pn = 0;
        packet_type type = packet_type::keep_alive;
        std::size_t size = 0;
        std::array<std::byte, capacity> bytes{};
    };

    std::optional<send_keys> tx_;
    std::optional<receive_keys> rx_;
    std::deque<old_key> old_tx_;
    time_point phase_started_{};
    std::uint64_t sent_in_phase_ = 0;
    bool followed_ = false;  ///< the current send phase was started by the peer (§11.3)
    std::uint64_t phase_first_pn_ = 1;
    std::unique_ptr<std::array<control_record, control_slots>> controls_;
};

/// The core packet type of a v3 type code (the codes are shared; v3-only codes pass through).
[[nodiscard]] constexpr core::packet_type core_type(packet_type t) noexcept {
    return static_cast<core::packet_type>(static_cast<std::uint8_t>(t));
}
[[nodiscard]] constexpr packet_type v3_type(core::packet_type t) noexcept {
    return static_cast<packet_type>(static_cast<std::uint8_t>(t));
}

/// Payload shape each type allows (§5, §10.5 step 9).
[[nodiscard]] bool shape_ok(packet_type t, const words_view& w, const dialect& d) noexcept;

/// Frames `words` (u8/u16) into `out`. Errors: too_many_words, word_too_large,
/// payload_too_large (over 1238 bytes).
[[nodiscard]] inline result<std::size_t> frame(
    word_list words, std::span<std::byte, max_payload_size> out) noexcept {
    return word_codec::encode(words, out);
}

}  // namespace detail
}  // namespace neutrino::core::v3
