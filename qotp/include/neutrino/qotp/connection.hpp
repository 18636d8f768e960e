#pragma once

// One QOTP connection as a sans-IO machine, for both roles (spec qotp.md §4.7, §4.8, §5–§8,
// §12, §13.3, §17): the 1-RTT (InitSnd → InitRcv) and 0-RTT (InitCryptoSnd → InitCryptoRcv)
// handshakes with their phases and re-sends, Data packets carrying one byte stream (stream 0),
// a replay window per receive secret and key rotation (KU / KUA).
//
// Bytes, time and randomness go in (handle_datagram, handle_deadline, a key_source); datagrams,
// events and the next deadline come out (poll_datagram, poll_event, deadline). No sockets,
// clocks, threads or logging; buffers are sized at construction and reused, so nothing is
// allocated per packet. Connections are normally owned by an `endpoint` (endpoint.hpp), which
// also creates responder connections; an initiator connection may be used on its own.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/key_log.hpp"
#include "neutrino/qotp/key_source.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"
#include "neutrino/qotp/packet_protection.hpp"
#include "neutrino/qotp/payload.hpp"
#include "neutrino/qotp/replay_window.hpp"
#include "neutrino/qotp/sequence_counter.hpp"

namespace neutrino::qotp {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

/// Which side of the handshake a connection is.
enum class role : std::uint8_t { initiator, responder };

/// Phases of spec §7.3, plus `closed` (failed or ended; terminal).
enum class phase : std::uint8_t { created, init_sent, ready, closed };

/// Connection settings. The defaults are the spec's values.
struct connection_config {
    /// Our `maxPayload` (§16): the largest datagram we accept; at least 1232.
    std::uint16_t max_payload = init_datagram_size;
    /// Retransmission timeout. Fixed: this machine has no RTT estimator yet, so it uses the
    /// spec's value before the first sample (§13.3).
    std::chrono::milliseconds rto{200};
    /// Cap of each backoff doubling (§13.3).
    std::chrono::milliseconds max_rto{2000};
    /// Re-sends of an init message, retransmissions of a data packet and re-attachments of a
    /// KU before the connection fails (§7.3, §13.3, §8).
    unsigned max_retries = 5;
    /// Send counter at which a rotation starts (a new KU) and at which it must be done (§8).
    /// The spec's 2^46 / 2^47; tests set them small. Need 0 < start < deadline ≤ 2^48 − 1.
    std::uint64_t rotation_start = sequence_counter::rotation_start;
    std::uint64_t rotation_deadline = sequence_counter::rotation_deadline;
    /// Bytes `send` accepts that are not yet acknowledged.
    std::size_t send_buffer_size = std::size_t{64} * 1024;
    /// Delivered bytes not yet `read`; in-order data beyond it is dropped unacknowledged.
    std::size_t receive_buffer_size = std::size_t{64} * 1024;
    /// Data packets in flight (unacknowledged) at most; new data also stays within that many
    /// packets of the oldest unacknowledged byte. Keep it ≤ the peer's `reorder_slots`.
    std::size_t max_in_flight = 32;
    /// Out-of-order packets the receiver holds (slots of max_payload bytes, allocated on the
    /// first out-of-order packet).
    std::size_t reorder_slots = 32;
    /// Silence after which the connection fails, once something has been received (§17).
    std::chrono::milliseconds idle_timeout{30000};
    /// Where to report S and S0 for a key log (§19; see `key_log_sink` for when), or null for
    /// no key log. Not owned: it must outlive every connection made with this config.
    key_log_sink* key_log = nullptr;
};

/// What a connection reports; `poll_event` hands them out one at a time.
struct connection_event {
    enum class kind : std::uint8_t {
        handshake_complete,  ///< the phase became `ready`
        readable,            ///< new bytes can be `read`
        key_rotated,         ///< our send key was replaced (§8 step 4)
        closed,              ///< terminal; `error` says why
    };
    kind what = kind::readable;
    std::error_code error;
};

/// The two secrets and keys a responder connection starts from; built by `endpoint` after it
/// checked the initiating message (so junk costs no connection).
struct responder_start {
    private_key ephemeral;                  ///< epR
    public_key peer_ephemeral{};            ///< epI
    public_key peer_identity{};             ///< idI (not authenticated: §24.1)
    public_key identity{};                  ///< idR, announced in InitRcv
    shared_secret session;                  ///< S = X25519(epR, epI)
    std::optional<shared_secret> zero_rtt;  ///< S0, for 0-RTT (InitCryptoSnd) only
    std::uint16_t peer_max_payload = 0;     ///< from InitSnd (0 = not given)
};

/// A QOTP connection (either role). Move-only; not thread-safe.
///
/// Data: one reliable byte stream on stream 0. `send` appends to it, `read` takes delivered
/// bytes. Each data packet is tracked by (offset, length) and retransmitted with backoff until
/// its exact ACK (§12, §13); the receiver delivers in order and keeps up to `reorder_slots`
/// out-of-order packets (each in a preallocated slot of maxPayload bytes); beyond that,
/// out-of-order data is dropped without an ACK (allowed by §12). Packets for
/// other streams, best-effort streams and the peer's receive window are ignored (not yet
/// implemented).
class connection {
public:
    /// An initiator (dials). With `responder_identity` the handshake is 0-RTT (InitCryptoSnd,
    /// §7.2) and bytes `send` before the first poll ride in it (up to 1132); otherwise 1-RTT.
    /// Throws std::invalid_argument for a bad config or a low-order `responder_identity`.
    connection(const connection_config& config, key_source& keys, const public_key& identity,
               const std::optional<public_key>& responder_identity, time_point now);

    /// A responder, from a checked initiating message (`endpoint` builds `start`). The initial
    /// payload of an InitCryptoSnd is passed to `handle_initial_payload`.
    connection(const connection_config& config, key_source& keys, const responder_start& start,
               time_point now);

    connection(connection&&) noexcept = default;
    connection& operator=(connection&&) noexcept = default;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() = default;

    /// Processes one received datagram addressed to this connection (its id at bytes 1..8).
    /// Errors say why it was dropped: errc::decryption_failed, errc::replayed,
    /// errc::unexpected_message (a message type this role/phase does not take),
    /// errc::connection_exists (an init message with other keys: never replaces ours),
    /// payload decode errors, errc::connection_closed. A dropped datagram changes nothing.
    result<void> handle_datagram(std::span<const std::byte> datagram, time_point now) noexcept;

    /// Responder: the decoded payload of the InitCryptoSnd that created the connection (or a
    /// re-sent one), with its sequence number under S0.
    result<void> handle_initial_payload(const transport_payload& payload, std::uint64_t sn,
                                        time_point now) noexcept;

    /// The next datagram to send, written to `out` (give it at least the MTU, 1232 bytes
    /// before any negotiation; a smaller span caps the datagram), or nothing. Call until it
    /// returns nothing after every handle_* call.
    std::optional<std::size_t> poll_datagram(std::span<std::byte> out, time_point now) noexcept;

    /// Whether a datagram was due but did not fit `out` in the last poll_datagram calls (then
    /// it counts as sent and lost: timers move on). Reading clears it.
    [[nodiscard]] bool take_blocked() noexcept {
        const bool b = blocked_;
        blocked_ = false;
        return b;
    }

    /// When handle_deadline must be called next (nothing when closed).
    [[nodiscard]] std::optional<time_point> deadline() const noexcept;

    /// Timers: init re-sends, retransmissions, KU re-attachment, idle timeout.
    void handle_deadline(time_point now) noexcept;

    /// Next event, or nothing.
    std::optional<connection_event> poll_event() noexcept;

    /// Appends to the stream; returns how many bytes fit the send buffer.
    /// errc::connection_closed once closed.
    result<std::size_t> send(std::span<const std::byte> bytes) noexcept;

    /// Takes up to `out.size()` delivered bytes; returns how many.
    std::size_t read(std::span<std::byte> out) noexcept;

    /// Ends the connection locally (no message exists for it, §17): `closed` event.
    void close() noexcept;

    [[nodiscard]] connection_id id() const noexcept { return id_; }
    [[nodiscard]] qotp::role role() const noexcept { return role_; }
    [[nodiscard]] qotp::phase phase() const noexcept { return phase_; }
    [[nodiscard]] bool zero_rtt() const noexcept { return zero_rtt_.has_value(); }
    /// Why the connection closed (empty while open or after `close()`).
    [[nodiscard]] std::error_code error() const noexcept { return error_; }
    /// Responder: the peer proved it received our reply (an authentic Data packet, i.e. the
    /// handshake completed). Initiators are always validated.
    [[nodiscard]] bool address_validated() const noexcept {
        return role_ == role::initiator || phase_ == phase::ready;
    }
    [[nodiscard]] const public_key& peer_ephemeral() const noexcept { return peer_ephemeral_; }
    /// Current MTU (§16).
    [[nodiscard]] std::size_t mtu() const noexcept { return mtu_; }
    /// Delivered bytes waiting for `read`.
    [[nodiscard]] std::size_t readable() const noexcept { return receive_buffer_.size(); }
    /// Bytes sent and not yet acknowledged, plus bytes not yet sent.
    [[nodiscard]] std::size_t unacknowledged() const noexcept { return send_buffer_.size(); }
    /// Completed rotations of our send key, and of the peer's (promotions of a receive key).
    [[nodiscard]] std::uint64_t send_rotations() const noexcept { return send_rotations_; }
    [[nodiscard]] std::uint64_t receive_rotations() const noexcept { return receive_rotations_; }

private:
    struct segment {
        std::uint64_t offset = 0;
        std::uint16_t length = 0;
        unsigned sends = 0;
        time_point last_sent{};
    };
    struct receive_key {
        shared_secret secret;
        public_key peer_key{};  ///< the peer's ephemeral this secret was made with
        replay_window window;
    };
    struct outgoing_extras {
        bool key_update = false;
        bool key_update_ack = false;
    };

    void check_config() const;
    void log_secret(key_log_label label, const shared_secret& secret) const noexcept;
    void fail(errc e) noexcept;
    [[nodiscard]] std::chrono::milliseconds backoff(unsigned sends) const noexcept;
    [[nodiscard]] message_type send_type() const noexcept;
    std::optional<std::size_t> poll_before_ready(std::span<std::byte> out, time_point now) noexcept;
    std::optional<std::size_t> poll_ready(std::span<std::byte> out, time_point now) noexcept;
    // Builds the payload (ACK, KU/KUA as flagged, stream part) and seals it as `type`.
    std::optional<std::size_t> emit(std::span<std::byte> out, message_type type,
                                    std::optional<ack_block> ack, outgoing_extras extras,
                                    std::optional<stream_frame> stream) noexcept;
    void after_send(time_point now) noexcept;
    [[nodiscard]] std::size_t data_budget(message_type type, std::size_t cap) const noexcept;
    [[nodiscard]] std::optional<stream_frame> frame_of(const segment& s) const noexcept;
    /// What a handshake message (re-)sent at `now` carries: the oldest segment in flight
    /// (stamped as sent), or an empty stream header at the next offset.
    [[nodiscard]] std::optional<stream_frame> handshake_frame(time_point now) noexcept;
    std::optional<std::size_t> new_segment(std::size_t budget, time_point now);
    result<void> open_and_process(std::span<std::byte> datagram, time_point now) noexcept;
    result<void> process(const transport_payload& p, time_point now) noexcept;
    void process_ack(const ack_block& a) noexcept;
    result<void> process_key_update(const public_key& ku) noexcept;
    void process_stream(const stream_frame& s) noexcept;
    bool store_out_of_order(const stream_frame& s) noexcept;
    void deliver(std::span<const std::byte> data, std::uint64_t offset) noexcept;
    void become_ready() noexcept;
    void push_ack(const ack_block& a) noexcept;
    std::optional<ack_block> pop_ack() noexcept;
    void check_timers(time_point now) noexcept;

    connection_config config_;
    key_source* keys_;
    connection_id id_;
    std::error_code error_;

    // Handshake.
    private_key ephemeral_;  ///< our current send ephemeral
    public_key ephemeral_public_{};
    public_key identity_{};
    public_key peer_ephemeral_{};
    std::optional<public_key> peer_identity_;
    std::optional<shared_secret> zero_rtt_;  ///< S0
    replay_window zero_rtt_window_;          ///< responder: InitCryptoSnd numbers under S0
    time_point init_due_{};

    // Sending.
    sequence_counter counter_;
    shared_secret send_key_;
    std::optional<private_key> next_ephemeral_;  ///< epNext (§8)
    public_key next_ephemeral_public_{};
    std::optional<shared_secret> send_next_;
    time_point key_update_due_{};
    std::uint64_t send_rotations_ = 0;

    // Receiving (§8 peer side): current, previous, next.
    std::optional<receive_key> receive_current_;
    std::optional<receive_key> receive_previous_;
    std::optional<receive_key> receive_next_;
    public_key key_update_ack_{};  ///< KUA owed / last sent
    std::uint64_t receive_rotations_ = 0;

    // Stream 0.
    std::vector<std::byte> send_buffer_;  ///< bytes from offset send_base_ on
    std::uint64_t send_base_ = 0;
    std::uint64_t send_next_offset_ = 0;  ///< first byte never sent
    std::vector<segment> in_flight_;
    std::vector<std::byte> receive_buffer_;
    std::uint64_t receive_offset_ = 0;  ///< end of the delivered prefix
    struct held_segment {
        std::uint64_t offset = 0;
        std::uint16_t length = 0;
        bool used = false;
    };
    std::vector<held_segment> held_;     ///< out-of-order packets, one per slot
    std::vector<std::byte> held_bytes_;  ///< reorder_slots × max_payload
    public_key last_key_update_ack_{};   ///< the KUA that made send_next_ (stale copies ignored)
    std::array<ack_block, 64> acks_{};
    std::size_t ack_head_ = 0;
    std::size_t ack_count_ = 0;

    std::size_t mtu_ = init_datagram_size;
    std::optional<time_point> last_received_;

    // Events (flags: nothing to allocate).
    std::uint64_t event_rotations_ = 0;

    std::vector<std::byte> plaintext_;        ///< payload being encoded
    std::vector<std::byte> receive_scratch_;  ///< datagram being opened

    // Small members last (padding).
    qotp::role role_;
    qotp::phase phase_ = phase::created;
    unsigned init_sends_ = 0;
    bool reply_owed_ = false;  ///< responder: answer a re-sent init message at once
    unsigned key_update_sends_ = 0;
    bool key_update_ack_owed_ = false;
    bool probe_owed_ = false;
    bool blocked_ = false;
    bool event_ready_ = false;
    bool event_readable_ = false;
    bool event_closed_ = false;
};

}  // namespace neutrino::qotp
