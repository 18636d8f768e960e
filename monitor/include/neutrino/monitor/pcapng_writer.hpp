#pragma once
/// \file
/// `pcapng_writer`: writes a pcapng capture (Section Header, Interface Description, Enhanced
/// Packet and Decryption Secrets blocks), little-endian, nanosecond timestamps. UDP datagrams
/// are wrapped in synthetic IPv4 or IPv6 + UDP headers (LINKTYPE_RAW), so a capture of traffic
/// that never touched a socket (memory link, simulator) opens in Wireshark like a real one.
///
/// Writes are buffered (64 KiB) and allocate nothing per packet once the buffer exists.
/// Not thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/time.hpp"

namespace neutrino::monitor {

/// pcapng constants.  spec: draft-ietf-opsawg-pcapng
namespace pcapng {
inline constexpr std::uint32_t section_header_block = 0x0A0D0D0A;
inline constexpr std::uint32_t interface_description_block = 0x00000001;
inline constexpr std::uint32_t enhanced_packet_block = 0x00000006;
inline constexpr std::uint32_t simple_packet_block = 0x00000003;
inline constexpr std::uint32_t decryption_secrets_block = 0x0000000A;
inline constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;
inline constexpr std::uint16_t linktype_null = 0;
inline constexpr std::uint16_t linktype_ethernet = 1;
inline constexpr std::uint16_t linktype_raw = 101;
inline constexpr std::uint16_t linktype_linux_sll = 113;
inline constexpr std::uint16_t linktype_ipv4 = 228;
inline constexpr std::uint16_t linktype_ipv6 = 229;
/// Secrets type of a Decryption Secrets Block holding a Neutrino key log ("NTKL"); tools that
/// do not know it skip the block.
inline constexpr std::uint32_t secrets_neutrino_key_log = 0x4E544B4C;
}  // namespace pcapng

/// Maps the machines' steady-clock time to wall-clock time for capture timestamps. The default
/// takes both clocks once, now; a simulation passes its virtual start and any wall time.
struct clock_origin {
    time_point steady = clock::now();
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();

    /// Nanoseconds since the Unix epoch of steady time `t` (clamped at 0).
    [[nodiscard]] std::uint64_t unix_ns(time_point t) const noexcept;
};

class pcapng_writer {
public:
    /// Creates (truncates) `path` and writes the section header. Throws `std::system_error`
    /// when the file cannot be opened.
    explicit pcapng_writer(const std::filesystem::path& path, clock_origin origin = {});
    /// Appends the capture to `memory` (which must outlive the writer); for tests and fuzzing.
    explicit pcapng_writer(std::vector<std::byte>& memory, clock_origin origin = {});
    ~pcapng_writer();
    pcapng_writer(const pcapng_writer&) = delete;
    pcapng_writer& operator=(const pcapng_writer&) = delete;

    /// Adds an interface (LINKTYPE_RAW unless told) named `name`; returns its id for
    /// `write_*`. Interfaces are numbered from 0 in the order they are added.
    std::uint32_t add_interface(std::string_view name, std::uint16_t linktype = pcapng::linktype_raw);

    /// Writes one UDP datagram `payload` from `src` to `dst` (both IPv4 or both IPv6; a
    /// family `none` address counts as 0.0.0.0:port) at steady time `t`, wrapped in synthetic
    /// IP and UDP headers on interface `iface` (which must be LINKTYPE_RAW). `comment`, when
    /// not empty, becomes the packet's opt_comment. Payloads over 65507 bytes are cut.
    void write_udp(std::uint32_t iface, time_point t, const peer_address& src,
                   const peer_address& dst, std::span<const std::byte> payload,
                   std::string_view comment = {});
    /// Writes one raw packet (already framed for the interface's link type) at `unix_ns`.
    void write_packet(std::uint32_t iface, std::uint64_t unix_ns, std::span<const std::byte> data,
                      std::uint32_t original_size, std::string_view comment = {});
    /// Writes a Decryption Secrets Block of `secrets_type` holding `data`.
    void write_secrets(std::uint32_t secrets_type, std::span<const std::byte> data);

    /// Pushes buffered bytes to the file (no-op for memory). Also done when the buffer is full
    /// and on destruction.
    void flush();

    [[nodiscard]] const clock_origin& origin() const noexcept { return origin_; }
    [[nodiscard]] std::uint64_t packets_written() const noexcept { return packets_; }

private:
    void put(std::span<const std::byte> bytes);
    void put_u16(std::uint16_t v);
    void put_u32(std::uint32_t v);
    void put_padding(std::size_t n);
    void put_option(std::uint16_t code, std::span<const std::byte> value);
    void write_section_header();

    std::FILE* file_ = nullptr;
    std::vector<std::byte>* memory_ = nullptr;
    std::vector<std::byte> buffer_;
    std::vector<std::byte> frame_;  // scratch for one IP packet
    clock_origin origin_;
    std::uint32_t interfaces_ = 0;
    std::uint64_t packets_ = 0;
};

/// Builds an IPv4 or IPv6 + UDP packet carrying `payload` into `out` (resized); returns false
/// when `src` and `dst` are of different families. The IPv4 header checksum is computed; the
/// UDP checksum is 0 for IPv4 ("none") and computed for IPv6 (where it is mandatory).
bool build_udp_packet(std::vector<std::byte>& out, const peer_address& src,
                      const peer_address& dst, std::span<const std::byte> payload);

}  // namespace neutrino::monitor
