#pragma once
/// \file
/// The one place neutrino includes Boost.Asio from (style §6), plus conversions between Asio's
/// UDP endpoints and the sans-IO `peer_address`.
///
/// Only the specific headers the drivers use are included; never `<boost/asio.hpp>`.
/// `BOOST_ASIO_HAS_CO_AWAIT` is detected by Asio for g++ 12 with `-std=c++20`; for clang 14
/// the build defines `BOOST_ASIO_HAS_CO_AWAIT=1` (and `BOOST_ASIO_HAS_STD_COROUTINE=1`).

// Asio 1.18 (Boost 1.74) awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <array>
#include <cstddef>
#include <cstdint>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/error_code.hpp>

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif

#include "neutrino/address.hpp"

namespace neutrino {

/// Short alias used throughout the I/O drivers and their users.
namespace net = boost::asio;

namespace io {

/// The `peer_address` of an Asio UDP endpoint. IPv6 addresses are kept as IPv6 (a v4-mapped
/// address stays v4-mapped); the scope id is not represented and is dropped.
[[nodiscard]] inline peer_address to_peer_address(const net::ip::udp::endpoint& ep) {
    const auto addr = ep.address();
    if (addr.is_v4()) {
        const auto b = addr.to_v4().to_bytes();
        return peer_address::v4({b[0], b[1], b[2], b[3]}, ep.port());
    }
    const auto b = addr.to_v6().to_bytes();
    std::array<std::uint8_t, 16> octets{};
    for (std::size_t i = 0; i < octets.size(); ++i) octets[i] = b[i];
    return peer_address::v6(octets, ep.port());
}

/// The Asio UDP endpoint of a `peer_address`; a default-constructed endpoint (0.0.0.0:0) for
/// `family_type::none` and for an opaque handle, which has no IP address.
[[nodiscard]] inline net::ip::udp::endpoint to_endpoint(const peer_address& a) {
    switch (a.family) {
        case peer_address::family_type::v4: {
            const net::ip::address_v4::bytes_type b{a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]};
            return {net::ip::address_v4(b), a.port};
        }
        case peer_address::family_type::v6: {
            net::ip::address_v6::bytes_type b{};
            for (std::size_t i = 0; i < b.size(); ++i) b[i] = a.bytes[i];
            return {net::ip::address_v6(b), a.port};
        }
        case peer_address::family_type::none:
        case peer_address::family_type::opaque: break;
    }
    return {};
}

}  // namespace io
}  // namespace neutrino
