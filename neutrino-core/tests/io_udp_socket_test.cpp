#include "neutrino/io/udp_socket.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using neutrino::peer_address;
namespace net = neutrino::net;
namespace io = neutrino::io;

const net::ip::udp::endpoint loopback_any{net::ip::make_address_v4("127.0.0.1"), 0};

struct received {
    std::vector<std::byte> bytes;
    peer_address from;
};

/// Polls `s` until `count` datagrams arrived or `limit` passed.
std::vector<received> receive_n(io::udp_socket& s, std::size_t count,
                                std::chrono::milliseconds limit = 2000ms) {
    std::vector<received> out;
    const auto end = std::chrono::steady_clock::now() + limit;
    while (out.size() < count && std::chrono::steady_clock::now() < end) {
        boost::system::error_code ec;
        s.receive_batch(
            [&](std::span<const std::byte> d, const peer_address& from) {
                out.push_back({{d.begin(), d.end()}, from});
            },
            ec);
        if (ec == net::error::would_block) {
            std::this_thread::sleep_for(1ms);
        } else if (ec) {
            ADD_FAILURE() << "fatal receive error: " << ec.message();
            break;
        }
    }
    return out;
}

/// Commits a datagram of `size` bytes, each byte `fill`, to `to`.
void queue(io::udp_socket& s, std::size_t size, std::uint8_t fill, const peer_address& to) {
    auto slot = s.prepare_send();
    ASSERT_GE(slot.size(), size);
    std::memset(slot.data(), fill, size);
    s.commit_send(size, to);
}

bool all_bytes(const std::vector<std::byte>& b, std::uint8_t v) {
    for (auto x : b) {
        if (x != std::byte{v}) return false;
    }
    return true;
}

TEST(io_udp_socket, binds_an_ephemeral_port_and_reports_offloads) {
    net::io_context ctx;
    io::udp_socket s(ctx, loopback_any);
    const peer_address local = s.local_address();
    EXPECT_EQ(local.family, peer_address::family_type::v4);
    EXPECT_NE(local.port, 0);
    EXPECT_EQ(local, peer_address::v4({127, 0, 0, 1}, local.port));
    std::printf("[ probe ] gso=%d gro=%d\n", s.gso_enabled(), s.gro_enabled());

    io::udp_socket_options off;
    off.gso = false;
    off.gro = false;
    io::udp_socket plain(ctx, loopback_any, off);
    EXPECT_FALSE(plain.gso_enabled());
    EXPECT_FALSE(plain.gro_enabled());
}

TEST(io_udp_socket, an_opaque_handle_is_not_sent_but_counted_as_unroutable) {
    net::io_context ctx;
    io::udp_socket tx(ctx, loopback_any);
    io::udp_socket rx(ctx, loopback_any);
    // Another transport's handle whose bytes happen to spell ::1 and whose port is rx's: it
    // must not be mistaken for that IPv6 address.
    std::array<std::uint8_t, 16> host{};
    host[15] = 1;
    queue(tx, 100, 0x5a, peer_address::opaque(host, rx.local_address().port));
    queue(tx, 100, 0x5b, rx.local_address());
    EXPECT_FALSE(tx.flush_sends());
    EXPECT_EQ(tx.counters().unroutable, 1u);
    EXPECT_EQ(tx.counters().datagrams_out, 1u);
    const auto got = receive_n(rx, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(all_bytes(got[0].bytes, 0x5b));
    EXPECT_EQ(io::to_endpoint(peer_address::opaque(host, 9)), net::ip::udp::endpoint{});
}

TEST(io_udp_socket, address_conversions_round_trip) {
    const auto v4 = peer_address::v4({10, 1, 2, 3}, 4433);
    EXPECT_EQ(io::to_peer_address(io::to_endpoint(v4)), v4);
    EXPECT_EQ(io::to_endpoint(v4).address().to_string(), "10.1.2.3");
    EXPECT_EQ(io::to_endpoint(v4).port(), 4433);

    const net::ip::udp::endpoint e6{net::ip::make_address_v6("2001:db8::1"), 9};
    const auto p6 = io::to_peer_address(e6);
    EXPECT_EQ(p6.family, peer_address::family_type::v6);
    EXPECT_EQ(io::to_endpoint(p6), e6);
    EXPECT_EQ(io::to_endpoint(peer_address{}), net::ip::udp::endpoint{});

    // Kernel addresses: v4-mapped IPv6 becomes IPv4; IPv4 on an IPv6 socket becomes v4-mapped.
    ::sockaddr_storage ss{};
    const auto len = io::detail::to_sockaddr(v4, true, ss);
    EXPECT_EQ(len, sizeof(::sockaddr_in6));
    EXPECT_EQ(ss.ss_family, AF_INET6);
    EXPECT_EQ(io::detail::from_sockaddr(ss), v4);
    EXPECT_EQ(io::detail::to_sockaddr(v4, false, ss), sizeof(::sockaddr_in));
    EXPECT_EQ(io::detail::from_sockaddr(ss), v4);
    io::detail::to_sockaddr(p6, true, ss);
    EXPECT_EQ(io::detail::from_sockaddr(ss), p6);
}

// A GSO run (equal sizes, shorter last) arrives as separate datagrams of the right sizes, with
// GRO on the receiver when the kernel offers it.
TEST(io_udp_socket, batch_round_trip_with_offloads) {
    net::io_context ctx;
    io::udp_socket rx(ctx, loopback_any);
    io::udp_socket tx(ctx, loopback_any);
    const auto to = rx.local_address();
    for (std::size_t i = 0; i < 31; ++i) queue(tx, 1000, static_cast<std::uint8_t>(i), to);
    queue(tx, 500, 31, to);
    EXPECT_EQ(tx.pending_sends(), 32U);
    EXPECT_TRUE(tx.prepare_send().empty());
    EXPECT_FALSE(tx.flush_sends());
    EXPECT_EQ(tx.pending_sends(), 0U);
    EXPECT_EQ(tx.counters().datagrams_out, 32U);
    EXPECT_EQ(tx.counters().bytes_out, 31U * 1000 + 500);
    if (tx.gso_enabled()) {
        EXPECT_EQ(tx.counters().gso_messages, 1U);
        EXPECT_EQ(tx.counters().send_calls, 1U);
    }

    const auto got = receive_n(rx, 32);
    ASSERT_EQ(got.size(), 32U);
    for (std::size_t i = 0; i < 32; ++i) {
        EXPECT_EQ(got[i].bytes.size(), i < 31 ? 1000U : 500U) << i;
        EXPECT_TRUE(all_bytes(got[i].bytes, static_cast<std::uint8_t>(i))) << i;
        EXPECT_EQ(got[i].from, tx.local_address());
    }
    if (tx.gso_enabled() && rx.gro_enabled()) {
        EXPECT_GE(rx.counters().gro_buffers, 1U);
    }
    EXPECT_EQ(rx.counters().datagrams_in, 32U);
}

// Runs break at a shorter datagram and at a change of destination; a receiver without GRO
// gets a GSO sender's datagrams one by one.
TEST(io_udp_socket, runs_split_by_size_and_destination) {
    net::io_context ctx;
    io::udp_socket_options no_gro;
    no_gro.gro = false;
    io::udp_socket a(ctx, loopback_any, no_gro);
    io::udp_socket b(ctx, loopback_any, no_gro);
    io::udp_socket tx(ctx, loopback_any);
    const std::size_t sizes[] = {1000, 1000, 500, 1000, 1000, 1200, 100};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        queue(tx, sizes[i], static_cast<std::uint8_t>(i), a.local_address());
    }
    queue(tx, 10, 100, b.local_address());
    queue(tx, 10, 101, a.local_address());
    EXPECT_FALSE(tx.flush_sends());
    EXPECT_EQ(tx.counters().datagrams_out, 9U);
    // [1000 1000 500] [1000 1000] [1200 100] [10→b] [10→a]: three GSO messages.
    if (tx.gso_enabled()) {
        EXPECT_EQ(tx.counters().gso_messages, 3U);
        EXPECT_EQ(tx.counters().send_calls, 1U);
    }

    const auto at_a = receive_n(a, 8);
    ASSERT_EQ(at_a.size(), 8U);
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        EXPECT_EQ(at_a[i].bytes.size(), sizes[i]) << i;
        EXPECT_TRUE(all_bytes(at_a[i].bytes, static_cast<std::uint8_t>(i))) << i;
    }
    EXPECT_TRUE(all_bytes(at_a[7].bytes, 101));
    const auto at_b = receive_n(b, 1);
    ASSERT_EQ(at_b.size(), 1U);
    EXPECT_TRUE(all_bytes(at_b[0].bytes, 100));
    EXPECT_EQ(a.counters().gro_buffers, 0U);
}

TEST(io_udp_socket, plain_path_without_offloads) {
    net::io_context ctx;
    io::udp_socket_options off;
    off.gso = false;
    off.gro = false;
    io::udp_socket rx(ctx, loopback_any, off);
    io::udp_socket tx(ctx, loopback_any, off);
    for (std::size_t i = 0; i < 20; ++i) queue(tx, 1280, 7, rx.local_address());
    EXPECT_FALSE(tx.flush_sends());
    EXPECT_EQ(tx.counters().gso_messages, 0U);
    EXPECT_EQ(tx.counters().send_calls, 1U);
    const auto got = receive_n(rx, 20);
    EXPECT_EQ(got.size(), 20U);
    EXPECT_EQ(rx.counters().bytes_in, 20U * 1280);
}

TEST(io_udp_socket, empty_datagram_is_delivered) {
    net::io_context ctx;
    io::udp_socket rx(ctx, loopback_any);
    io::udp_socket tx(ctx, loopback_any);
    queue(tx, 0, 0, rx.local_address());
    queue(tx, 0, 0, rx.local_address());
    EXPECT_FALSE(tx.flush_sends());
    const auto got = receive_n(rx, 2);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_TRUE(got[0].bytes.empty());
}

// A datagram larger than the receive buffer (no GRO: 2048 bytes) is dropped and counted.
TEST(io_udp_socket, oversized_datagram_is_truncated_and_dropped) {
    net::io_context ctx;
    io::udp_socket_options no_gro;
    no_gro.gro = false;
    io::udp_socket rx(ctx, loopback_any, no_gro);
    net::ip::udp::socket raw(ctx, loopback_any);
    std::vector<std::byte> big(3000, std::byte{1});
    raw.send_to(net::buffer(big.data(), big.size()), rx.local_endpoint());
    raw.send_to(net::buffer(big.data(), 100), rx.local_endpoint());
    const auto got = receive_n(rx, 1);
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0].bytes.size(), 100U);
    EXPECT_EQ(rx.counters().truncated, 1U);
}

// ECONNREFUSED from an ICMP port unreachable: counted, receiving goes on.
TEST(io_udp_socket, connection_refused_is_counted_not_fatal) {
    net::io_context ctx;
    peer_address closed;
    {
        net::ip::udp::socket s(ctx, loopback_any);
        closed = io::to_peer_address(s.local_endpoint());
    }
    io::udp_socket s(ctx, loopback_any);
    boost::system::error_code ec;
    s.connect(closed, ec);
    ASSERT_FALSE(ec);
    queue(s, 10, 1, closed);
    EXPECT_FALSE(s.flush_sends());

    const auto end = std::chrono::steady_clock::now() + 2s;
    while (s.counters().receive_errors.connection_refused == 0 &&
           std::chrono::steady_clock::now() < end) {
        s.receive_batch([](std::span<const std::byte>, const peer_address&) {}, ec);
        EXPECT_TRUE(!ec || ec == net::error::would_block) << ec.message();
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(s.counters().receive_errors.connection_refused, 1U);
    s.receive_batch([](std::span<const std::byte>, const peer_address&) {}, ec);
    EXPECT_EQ(ec, net::error::would_block);

    // A second refusal reported on the send path is retried: the datagram still goes out.
    queue(s, 10, 1, closed);
    EXPECT_FALSE(s.flush_sends());
    std::this_thread::sleep_for(20ms);  // let the ICMP come back
    queue(s, 10, 2, closed);
    EXPECT_FALSE(s.flush_sends());
    EXPECT_EQ(s.counters().datagrams_out, 3U);
    EXPECT_EQ(s.counters().send_dropped, 0U);
    EXPECT_EQ(s.counters().send_errors.connection_refused, 1U);
}

// A send the kernel refuses (port 0: EINVAL) drops that datagram only.
TEST(io_udp_socket, refused_send_drops_only_that_datagram) {
    net::io_context ctx;
    io::udp_socket rx(ctx, loopback_any);
    io::udp_socket tx(ctx, loopback_any);
    queue(tx, 10, 1, rx.local_address());
    queue(tx, 10, 2, peer_address::v4({127, 0, 0, 1}, 0));
    queue(tx, 10, 3, rx.local_address());
    EXPECT_FALSE(tx.flush_sends());
    EXPECT_EQ(tx.counters().datagrams_out, 2U);
    EXPECT_EQ(tx.counters().send_dropped, 1U);
    EXPECT_EQ(tx.counters().send_errors.total(), 1U);
    const auto got = receive_n(rx, 2);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_TRUE(all_bytes(got[1].bytes, 3));
}

// GSO refused by the kernel (SO_NO_CHECK: EINVAL) → GSO off, the batch resent plainly.
TEST(io_udp_socket, gso_refusal_falls_back) {
    net::io_context ctx;
    io::udp_socket rx(ctx, loopback_any);
    io::udp_socket tx(ctx, loopback_any);
    if (!tx.gso_enabled()) GTEST_SKIP() << "no UDP GSO on this kernel";
    const int one = 1;
    ASSERT_EQ(
        ::setsockopt(tx.next_layer().native_handle(), SOL_SOCKET, SO_NO_CHECK, &one, sizeof one),
        0);
    queue(tx, 100, 9, rx.local_address());  // plain message first, then a GSO run
    queue(tx, 50, 9, peer_address::v4({127, 0, 0, 1}, rx.local_address().port));
    for (int i = 0; i < 10; ++i) queue(tx, 700, 9, rx.local_address());
    EXPECT_FALSE(tx.flush_sends());
    EXPECT_FALSE(tx.gso_enabled());
    EXPECT_EQ(tx.counters().gso_fallbacks, 1U);
    EXPECT_EQ(tx.counters().datagrams_out, 12U);
    EXPECT_EQ(tx.counters().send_dropped, 0U);
    const auto got = receive_n(rx, 12);
    EXPECT_EQ(got.size(), 12U);
}

TEST(io_udp_socket, dual_stack_reports_ipv4_peers_as_ipv4) {
    net::io_context ctx;
    io::udp_socket v6(ctx, net::ip::udp::endpoint{net::ip::address_v6::any(), 0});
    io::udp_socket v4(ctx, loopback_any);
    const auto to_v6_socket = peer_address::v4({127, 0, 0, 1}, v6.local_address().port);
    queue(v4, 20, 4, to_v6_socket);
    EXPECT_FALSE(v4.flush_sends());
    const auto got = receive_n(v6, 1);
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0].from, v4.local_address());
    // and back: an IPv4 destination from the IPv6 socket (written v4-mapped)
    queue(v6, 30, 6, got[0].from);
    EXPECT_FALSE(v6.flush_sends());
    const auto back = receive_n(v4, 1);
    ASSERT_EQ(back.size(), 1U);
    EXPECT_EQ(back[0].bytes.size(), 30U);
}

TEST(io_udp_socket, commit_without_a_free_slot_drops) {
    net::io_context ctx;
    io::udp_socket tx(ctx, loopback_any);
    for (std::size_t i = 0; i < io::udp_socket::batch_size; ++i) {
        queue(tx, 1, 1, peer_address::v4({127, 0, 0, 1}, 9));
    }
    EXPECT_TRUE(tx.prepare_send().empty());
    tx.commit_send(1, peer_address::v4({127, 0, 0, 1}, 9));
    EXPECT_EQ(tx.counters().send_dropped, 1U);
    EXPECT_EQ(tx.pending_sends(), io::udp_socket::batch_size);
}

TEST(io_udp_socket, receive_after_close_is_fatal) {
    net::io_context ctx;
    io::udp_socket s(ctx, loopback_any);
    s.close();
    EXPECT_FALSE(s.is_open());
    boost::system::error_code ec;
    s.receive_batch([](std::span<const std::byte>, const peer_address&) {}, ec);
    EXPECT_TRUE(ec);
    EXPECT_NE(ec, net::error::would_block);
}

}  // namespace
