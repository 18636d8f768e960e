#pragma once
/// \file
/// `pcapng_reader`: reads a pcapng capture held in memory, block by block, without trusting
/// it. Knows Section Header (either byte order), Interface Description, Enhanced and Simple
/// Packet and Decryption Secrets blocks; skips others. Every problem becomes a `problem` record
/// with the file offset and a message, and reading goes on where that is possible (a bad
/// packet block is skipped; a block whose length cannot be trusted ends the file).
/// Also: `parse_udp`, which finds the UDP datagram inside a captured frame.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/address.hpp"

namespace neutrino::monitor {

/// One item of a capture. Views point into the reader's input.
struct pcapng_record {
    enum class kind : std::uint8_t { section, interface, packet, secrets, problem };
    kind what = kind::problem;
    std::size_t offset = 0;             ///< file offset of the block
    std::uint32_t interface_id = 0;     ///< packet: which interface
    std::uint16_t linktype = 0;         ///< packet and interface: the interface's link type
    std::uint64_t timestamp_ns = 0;     ///< packet: nanoseconds since the Unix epoch
    std::uint32_t original_size = 0;    ///< packet: size on the wire
    std::span<const std::byte> data;    ///< packet: captured bytes; secrets: the secrets
    std::uint32_t secrets_type = 0;     ///< secrets
    std::string comment;                ///< packet: first opt_comment, if any
    std::string message;                ///< problem: what is wrong
};

class pcapng_reader {
public:
    /// Reads `file` (which must outlive the reader and every record's views).
    explicit pcapng_reader(std::span<const std::byte> file) noexcept : file_(file) {}

    /// The next record, or nullopt at the end of the file (or after an unrecoverable problem,
    /// which is reported first).
    std::optional<pcapng_record> next();

private:
    struct interface_info {
        std::uint16_t linktype = 0;
        std::uint64_t units_per_second = 1000000;  // if_tsresol default: microseconds
    };
    [[nodiscard]] std::uint16_t u16(std::size_t at) const noexcept;
    [[nodiscard]] std::uint32_t u32(std::size_t at) const noexcept;
    pcapng_record problem(std::size_t at, std::string message);
    std::optional<pcapng_record> read_section(std::size_t at);
    pcapng_record read_interface(std::size_t at, std::size_t length);
    pcapng_record read_enhanced(std::size_t at, std::size_t length);
    pcapng_record read_simple(std::size_t at, std::size_t length);
    pcapng_record read_secrets(std::size_t at, std::size_t length);

    std::span<const std::byte> file_;
    std::size_t pos_ = 0;
    bool big_endian_ = false;
    bool in_section_ = false;
    bool done_ = false;
    std::vector<interface_info> interfaces_;
};

/// A UDP datagram found in a captured frame.
struct udp_datagram {
    peer_address src;
    peer_address dst;
    std::span<const std::byte> payload;
};

/// Finds the UDP datagram in `frame` of link type `linktype` (RAW, IPv4, IPv6, Ethernet with
/// or without one VLAN tag, Linux cooked, BSD loopback). Nullopt for anything else, for IP
/// fragments after the first, and for truncated headers; a payload cut by the snap length is
/// returned as captured.
[[nodiscard]] std::optional<udp_datagram> parse_udp(std::uint16_t linktype,
                                                    std::span<const std::byte> frame) noexcept;

/// "127.0.0.1:22753" or "[::1]:22753".
[[nodiscard]] std::string to_string(const peer_address& a);

}  // namespace neutrino::monitor
