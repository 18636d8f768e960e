#pragma once
// The weakest models (archetypes) of reliable::client_connection and reliable::server_connection:
// exactly the members the concepts require, with trivial bodies. The extended layer, explicitly
// instantiated over them, asks nothing of the reliable layer beyond the contract.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/reliable/connection_layer.hpp"

namespace neutrino::test {

class reliable_client_archetype {
public:
    using event_type = core::event;

    reliable_client_archetype(core::client_config, reliable::config) {}

    // datagram_layer
    result<void> handle_datagram(std::span<const std::byte>, const peer_address&, time_point) {
        return {};
    }
    std::optional<transmit> poll_datagram(std::span<std::byte>, time_point) { return std::nullopt; }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point) {}

    // reliable::client_connection
    result<void> connect(time_point) { return {}; }
    void close(time_point) {}
    result<void> send_encoded(std::uint32_t, std::span<const std::byte>, time_point) { return {}; }
    [[nodiscard]] bool can_send() const noexcept { return false; }
    [[nodiscard]] std::size_t unacknowledged() const noexcept { return 0; }
    [[nodiscard]] core::session_state state() const noexcept { return core::session_state::none; }
    [[nodiscard]] bool established() const noexcept { return false; }
    [[nodiscard]] std::uint64_t session_id() const noexcept { return 0; }
};

class reliable_server_archetype {
public:
    using event_type = core::event;

    reliable_server_archetype(core::server_config, reliable::config) {}

    // datagram_layer
    result<void> handle_datagram(std::span<const std::byte>, const peer_address&, time_point) {
        return {};
    }
    std::optional<transmit> poll_datagram(std::span<std::byte>, time_point) { return std::nullopt; }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<time_point> deadline() const { return std::nullopt; }
    void handle_deadline(time_point) {}

    // reliable::server_connection
    result<void> send_encoded(std::uint64_t, std::uint32_t, std::span<const std::byte>,
                              time_point) {
        return {};
    }
    [[nodiscard]] bool can_send(std::uint64_t) const noexcept { return false; }
    [[nodiscard]] core::session_state state_of(std::uint64_t) const noexcept {
        return core::session_state::none;
    }
    [[nodiscard]] std::size_t session_count() const noexcept { return 0; }
    /// Calls `f(id, state)` for every session: there are none.
    template <class F>
    void for_each_session(F&&) const {}
    void drop_session(std::uint64_t, time_point) {}
    void shutdown(time_point) {}
};

static_assert(reliable::client_connection<reliable_client_archetype>);
static_assert(reliable::server_connection<reliable_server_archetype>);

}  // namespace neutrino::test
