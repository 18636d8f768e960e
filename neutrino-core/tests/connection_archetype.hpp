#pragma once
// The weakest models (archetypes) of core::client_connection and core::server_connection: each
// has exactly the members its concept requires, with trivial bodies. A layer that compiles over
// them, explicitly instantiated (every member), asks nothing of the core beyond the contract.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/core/connection_layer.hpp"

namespace neutrino::test {

/// What `configuration()` must expose: the dialect, and (client) the server's address.
struct client_connection_configuration {
    core::dialect dialect{.id = 1, .layered = true, .keep_alive_u64_words = 2};
    peer_address server;
};
struct server_connection_configuration {
    core::dialect dialect{.id = 1, .layered = true, .keep_alive_u64_words = 2};
};

class client_connection_archetype {
public:
    using event_type = core::event;

    // datagram_layer
    result<void> handle_datagram(std::span<const std::byte>, const peer_address&, time_point) {
        return {};
    }
    std::optional<transmit> poll_datagram(std::span<std::byte>, time_point) { return std::nullopt; }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point) {}

    // client_connection
    result<void> connect(time_point) { return {}; }
    void close(time_point) {}
    result<std::uint64_t> send_packet(core::packet_type, core::word_list, time_point) { return 0; }
    result<std::uint64_t> send_encoded(std::uint32_t, std::span<const std::byte>, time_point) {
        return 0;
    }
    result<void> reseal(std::uint64_t, core::packet_type, core::word_list, time_point) {
        return {};
    }
    result<void> resend(std::span<const std::byte>, std::uint64_t, time_point) { return {}; }
    result<void> send_request(std::uint64_t, time_point) { return {}; }
    void set_receive_limit(std::uint64_t) {}
    void report_rtt(duration, time_point) {}
    void report_congestion(const core::congestion_info&, time_point) {}
    void report_refusal(core::refusal, time_point) {}
    [[nodiscard]] time_point last_sent() const noexcept { return {}; }
    [[nodiscard]] time_point last_received() const noexcept { return {}; }
    [[nodiscard]] core::session_state state() const noexcept { return core::session_state::none; }
    [[nodiscard]] bool established() const noexcept { return false; }
    [[nodiscard]] std::uint64_t session_id() const noexcept { return 0; }
    [[nodiscard]] const client_connection_configuration& configuration() const noexcept {
        return cfg_;
    }

private:
    client_connection_configuration cfg_;
};

class server_connection_archetype {
public:
    using event_type = core::event;

    // datagram_layer
    result<void> handle_datagram(std::span<const std::byte>, const peer_address&, time_point) {
        return {};
    }
    std::optional<transmit> poll_datagram(std::span<std::byte>, time_point) { return std::nullopt; }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point) {}

    // server_connection
    result<std::uint64_t> send_packet(std::uint64_t, core::packet_type, core::word_list,
                                      time_point) {
        return 0;
    }
    result<std::uint64_t> send_encoded(std::uint64_t, std::uint32_t, std::span<const std::byte>,
                                       time_point) {
        return 0;
    }
    result<void> reseal(std::uint64_t, std::uint64_t, core::packet_type, core::word_list,
                        time_point, bool) {
        return {};
    }
    result<void> resend(std::uint64_t, std::span<const std::byte>, std::uint64_t, time_point,
                        bool) {
        return {};
    }
    result<void> send_request(std::uint64_t, std::uint64_t, time_point) { return {}; }
    result<std::uint64_t> send_probe(std::uint64_t, core::packet_type, core::word_list,
                                     time_point) {
        return 0;
    }
    result<void> validate_path(std::uint64_t, time_point) { return {}; }
    void set_receive_limit(std::uint64_t, std::uint64_t) {}
    void report_rtt(std::uint64_t, duration, time_point) {}
    void report_congestion(std::uint64_t, const core::congestion_info&, time_point) {}
    void report_refusal(std::uint64_t, core::refusal, time_point) {}
    void drop_session(std::uint64_t, time_point) {}
    void shutdown(time_point) {}
    /// Calls `f(id, state)` for every session: there are none.
    template <class F>
    void for_each_session(F&&) const {}
    [[nodiscard]] std::size_t session_count() const noexcept { return 0; }
    [[nodiscard]] core::session_state state_of(std::uint64_t) const noexcept {
        return core::session_state::none;
    }
    [[nodiscard]] std::optional<peer_address> peer_of(std::uint64_t) const noexcept {
        return std::nullopt;
    }
    [[nodiscard]] const server_connection_configuration& configuration() const noexcept {
        return cfg_;
    }

private:
    server_connection_configuration cfg_;
};

static_assert(core::client_connection<client_connection_archetype>);
static_assert(core::server_connection<server_connection_archetype>);

}  // namespace neutrino::test
