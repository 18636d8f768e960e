#pragma once
/// \file
/// `fixed_window`: the congestion controller that does no congestion control.

#include <cstddef>
#include <limits>
#include <stdexcept>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// A window of a fixed number of bytes, never paced: acknowledgements, RTT, loss and idle periods
/// change nothing. It reproduces what the reliable layer does without a controller (a fixed window
/// of 512 packets, no pacing): `fixed_window::packets(512, packet_size)`, with the sender
/// counting each datagram as `packet_size` bytes in flight.
///
/// Sending is allowed while fewer than `window()` bytes are in flight, so the window may be
/// exceeded by at most one datagram. Models `congestion_controller`; no state changes after
/// construction, so a const object may be shared between threads.
class fixed_window {
public:
    /// A window of `window_size` bytes. Throws `std::invalid_argument` when it is zero (nothing
    /// could ever be sent).
    explicit constexpr fixed_window(std::size_t window_size) : window_(window_size) {
        if (window_size == 0) throw std::invalid_argument("fixed_window: window_size must be > 0");
    }

    /// The sender's whole buffer as the window (`limits.maximum_window`): what a sender without
    /// congestion control does.
    explicit constexpr fixed_window(const sender_limits& limits) : fixed_window(limits.maximum_window) {}

    /// A window of `count` datagrams of `packet_size` bytes (the product, saturating at
    /// `SIZE_MAX`). Throws `std::invalid_argument` when either is zero.
    [[nodiscard]] static constexpr fixed_window packets(std::size_t count,
                                                        std::size_t packet_size) {
        if (count == 0 || packet_size == 0) {
            throw std::invalid_argument("fixed_window::packets: count and packet_size must be > 0");
        }
        constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
        return fixed_window{count > max / packet_size ? max : count * packet_size};
    }

    // Inputs: ignored.
    constexpr void on_sent(std::size_t /*bytes*/, time_point /*now*/) noexcept {}
    constexpr void on_acknowledged(const ack_sample& /*sample*/) noexcept {}
    constexpr void on_lost(const loss_sample& /*sample*/) noexcept {}
    constexpr void on_persistent_congestion(time_point /*now*/) noexcept {}
    constexpr void on_idle_restart(time_point /*now*/) noexcept {}

    /// The window given at construction, bytes.
    [[nodiscard]] constexpr std::size_t window() const noexcept { return window_; }
    /// Always 0: no pacing.
    [[nodiscard]] constexpr double pacing_rate() const noexcept { return 0.0; }
    /// `bytes_in_flight < window()`, whatever `now`.
    [[nodiscard]] constexpr bool can_send(std::size_t bytes_in_flight,
                                          time_point /*now*/) const noexcept {
        return bytes_in_flight < window_;
    }

private:
    std::size_t window_;
};

static_assert(congestion_controller<fixed_window>);

}  // namespace neutrino::congestion
