#pragma once

// The sans-IO QOTP listener/dialer (spec qotp.md §4.7, §4.8, §7, §17, §24): one endpoint owns
// every connection of one UDP socket (the only session map), demultiplexes incoming datagrams by
// connection id, creates responder connections on valid InitSnd / InitCryptoSnd, bounds
// connections and half-open handshakes, holds replies to unvalidated addresses to 3× what they
// sent, refuses replayed 0-RTT messages within a bounded cache, and counts every dropped
// datagram by reason. Malformed input never throws and never changes a connection.
//
// It models `neutrino::datagram_layer` (base/datagram_layer.hpp), so the project's drivers run
// it unchanged: the inspector's `simulator`, `memory_link`, and the Asio driver
// `io::endpoint<qotp::endpoint, io::udp_socket>` (through its lower-level paths `layer()` and
// `set_event_handler`; qotp declares no `io::application_traits`, and this library does not
// depend on neutrino-core).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/qotp/connection.hpp"
#include "neutrino/qotp/error.hpp"
#include "neutrino/qotp/key_source.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"

namespace neutrino::qotp {

/// A peer address: the project's `peer_address` (IP address and port, or a transport's opaque
/// handle). The endpoint only compares, stores and returns it.
using address = neutrino::peer_address;

/// Why the endpoint dropped a datagram (or, for `amplification_limit`, an outgoing one). Also
/// an error code enum: `handle_datagram` returns `make_error_code(reason)` for the reason it
/// counted, in `drop_category()`, whose codes compare equal to the shared `neutrino::condition`s.
enum class drop_reason : std::uint8_t {
    too_short,                 ///< below 42 bytes or the type's minimum (§4.6)
    bad_header,                ///< version bits or type byte invalid (§3)
    unknown_connection,        ///< no connection with that id, and not an initiating message
    unexpected_message,        ///< a type the connection's role/phase does not take
    decryption_failed,         ///< no candidate secret opens it, or a low-order key (§6.4, §2)
    malformed_payload,         ///< authentic, but the payload does not decode (§9.5)
    replayed,                  ///< authentic, already received (replay window)
    init_for_live_connection,  ///< an init message with other keys for a live id (§24.3)
    connection_limit,          ///< max_connections reached
    half_open_limit,           ///< max_half_open reached
    zero_rtt_replay,           ///< InitCryptoSnd whose epI was seen before (§24.2)
    replay_cache_full,         ///< 0-RTT refused: the replay cache is full of live entries
    not_accepting,             ///< an initiating message while accept is off
    connection_closed,         ///< for a connection that has just closed
    amplification_limit,       ///< outgoing: would exceed 3× the bytes of an unvalidated address
};
inline constexpr std::size_t drop_reason_count = 15;

/// The error category of `drop_reason` codes ("neutrino.qotp.drop").
[[nodiscard]] const std::error_category& drop_category() noexcept;

/// The error code `handle_datagram` returns for a datagram dropped for `r`.
[[nodiscard]] inline std::error_code make_error_code(drop_reason r) noexcept {
    return {static_cast<int>(r) + 1, drop_category()};  // + 1: 0 means success
}

/// Endpoint counters.
struct endpoint_stats {
    std::uint64_t datagrams_received = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t datagrams_sent = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_closed = 0;
    std::array<std::uint64_t, drop_reason_count> dropped{};

    [[nodiscard]] std::uint64_t drops(drop_reason r) const noexcept {
        return dropped[static_cast<std::size_t>(r)];
    }
    [[nodiscard]] std::uint64_t total_drops() const noexcept;
};

/// Endpoint settings.
struct endpoint_config {
    connection_config connection;  ///< for every connection of this endpoint
    bool accept = true;            ///< create responder connections (a listener)
    std::size_t max_connections = 1024;
    std::size_t max_half_open = 64;  ///< responder connections not yet `ready`
    /// 0-RTT replay rule: the ephemeral key of every accepted InitCryptoSnd is remembered for
    /// this long; another InitCryptoSnd with it creates no connection. At most
    /// `zero_rtt_cache_size` keys; when all are live, new 0-RTT handshakes are refused.
    std::size_t zero_rtt_cache_size = 4096;
    std::chrono::milliseconds zero_rtt_cache_lifetime{std::chrono::minutes(10)};
    /// Bytes sent to an address not yet validated, at most this many times what it sent (§4.7).
    unsigned amplification_factor = 3;
};

/// What the endpoint reports.
struct endpoint_event {
    enum class kind : std::uint8_t {
        accepted,  ///< a responder connection was created; find(id) gives it
        closed,    ///< a connection ended and was removed; `error` says why
    };
    kind what = kind::accepted;
    connection_id id;
    std::error_code error;
};

/// The endpoint. Not thread-safe. Movable (a driver owns it by value).
class endpoint {
public:
    /// What `poll_event` returns (the `datagram_layer` concept's name for it).
    using event_type = endpoint_event;

    /// `keys` must outlive the endpoint. Throws std::invalid_argument for a bad config.
    endpoint(const endpoint_config& config, key_source& keys, const private_key& identity);

    /// Our identity public key (what 0-RTT initiators must know).
    [[nodiscard]] const public_key& identity() const noexcept { return identity_public_; }

    /// Dials `to`: a new initiator connection (0-RTT with `responder_identity`). Bytes `send`
    /// to it before the next poll ride in the 0-RTT message. errc::connection_limit if full.
    result<connection_id> connect(const address& to, time_point now,
                                  const std::optional<public_key>& responder_identity = {});

    /// One received datagram from `from`. Never throws. A dropped datagram is counted in
    /// stats() under one `drop_reason`, and that reason comes back as the error
    /// (`make_error_code(reason)`); a datagram a connection took returns success.
    result<void> handle_datagram(std::span<const std::byte> datagram, const address& from,
                                 time_point now) noexcept;

    /// The next datagram to send, written into `out` (at least the largest maxPayload in use:
    /// the default 1232 fits a driver's `max_datagram_size` slot), and where it goes. Call
    /// until it returns nothing.
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) noexcept;

    [[nodiscard]] std::optional<time_point> deadline() const noexcept;
    void handle_deadline(time_point now) noexcept;
    std::optional<endpoint_event> poll_event() noexcept;

    /// The connection with `id`, or null. Valid until the next call that may remove it
    /// (handle_*, poll_datagram).
    [[nodiscard]] connection* find(connection_id id) noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return connections_.size(); }
    [[nodiscard]] std::size_t half_open() const noexcept;
    [[nodiscard]] const endpoint_stats& stats() const noexcept { return stats_; }

private:
    struct entry {
        std::unique_ptr<qotp::connection> conn;
        address peer;
        std::uint64_t received_unvalidated = 0;
        std::uint64_t sent_unvalidated = 0;
    };

    /// Counts a drop and returns it as the error of `handle_datagram`.
    tl::unexpected<std::error_code> drop(drop_reason r) noexcept {
        ++stats_.dropped[static_cast<std::size_t>(r)];
        return tl::unexpected<std::error_code>(make_error_code(r));
    }
    tl::unexpected<std::error_code> drop(const std::error_code& ec) noexcept;
    result<void> accept(std::span<const std::byte> datagram, message_type type,
                        connection_id id, const address& from, time_point now);
    void sweep() noexcept;

    endpoint_config config_;
    key_source* keys_;
    private_key identity_;
    public_key identity_public_{};
    std::unordered_map<std::uint64_t, entry> connections_;
    std::map<public_key, time_point> zero_rtt_seen_;
    std::deque<endpoint_event> events_;
    std::vector<std::byte> scratch_;  ///< an InitCryptoSnd being opened before a connection exists
    endpoint_stats stats_;
};

static_assert(neutrino::datagram_layer<endpoint>,
              "qotp::endpoint runs on the project's drivers (simulator, memory_link, io::endpoint)");

}  // namespace neutrino::qotp

template <>
struct std::is_error_code_enum<neutrino::qotp::drop_reason> : std::true_type {};
