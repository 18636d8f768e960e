#include "neutrino/monitor/pcapng_reader.hpp"

#include <gtest/gtest.h>

#include <random>

#include "neutrino/monitor/pcapng_writer.hpp"

namespace nm = neutrino::monitor;
using neutrino::peer_address;

namespace {

std::vector<std::byte> sample_capture(int packets = 3) {
    std::vector<std::byte> file;
    nm::pcapng_writer w(file);
    const auto iface = w.add_interface("i");
    const std::vector<std::byte> payload(40, std::byte{1});
    for (int i = 0; i < packets; ++i) {
        w.write_udp(iface, neutrino::clock::now(), peer_address::v4({1, 1, 1, 1}, 1),
                    peer_address::v4({2, 2, 2, 2}, 2), payload);
    }
    return file;
}

struct tally {
    int packets = 0, problems = 0;
    std::vector<std::string> messages;
};

tally read_all(std::span<const std::byte> file) {
    tally t;
    nm::pcapng_reader r(file);
    for (int guard = 0; guard < 100000; ++guard) {
        auto rec = r.next();
        if (!rec) break;
        if (rec->what == nm::pcapng_record::kind::packet) ++t.packets;
        if (rec->what == nm::pcapng_record::kind::problem) {
            ++t.problems;
            t.messages.push_back(rec->message);
        }
    }
    return t;
}

// Rewrites a little-endian capture made by pcapng_writer into big-endian (every block's fixed
// 32-bit fields; the writer's blocks are SHB, IDB, EPB).
std::vector<std::byte> to_big_endian(std::vector<std::byte> f) {
    auto swap32 = [&](std::size_t at) { std::reverse(f.begin() + static_cast<std::ptrdiff_t>(at), f.begin() + static_cast<std::ptrdiff_t>(at + 4)); };
    auto swap16 = [&](std::size_t at) { std::swap(f[at], f[at + 1]); };
    auto le32 = [&](std::size_t at) {
        return std::to_integer<std::uint32_t>(f[at]) | std::to_integer<std::uint32_t>(f[at + 1]) << 8 |
               std::to_integer<std::uint32_t>(f[at + 2]) << 16 | std::to_integer<std::uint32_t>(f[at + 3]) << 24;
    };
    std::size_t at = 0;
    while (at < f.size()) {
        const std::uint32_t type = le32(at), len = le32(at + 4);
        auto options = [&](std::size_t o, std::size_t end) {
            while (o + 4 <= end) {
                const std::uint16_t code = static_cast<std::uint16_t>(std::to_integer<unsigned>(f[o]) | std::to_integer<unsigned>(f[o + 1]) << 8);
                const std::uint16_t l = static_cast<std::uint16_t>(std::to_integer<unsigned>(f[o + 2]) | std::to_integer<unsigned>(f[o + 3]) << 8);
                swap16(o);
                swap16(o + 2);
                if (code == 0) break;
                o += 4 + std::size_t{l} + (4 - std::size_t{l} % 4) % 4;
            }
        };
        if (type == nm::pcapng::section_header_block) {
            swap32(at + 8);
            swap16(at + 12);
            swap16(at + 14);
            options(at + 24, at + len - 4);
        } else if (type == nm::pcapng::interface_description_block) {
            swap16(at + 8);
            swap32(at + 12);
            options(at + 16, at + len - 4);
        } else if (type == nm::pcapng::enhanced_packet_block) {
            const std::uint32_t cap = le32(at + 20);
            for (std::size_t k = 8; k <= 24; k += 4) swap32(at + k);
            options(at + 28 + cap + (4 - cap % 4) % 4, at + len - 4);
        }
        swap32(at);
        swap32(at + 4);
        swap32(at + len - 4);
        at += len;
    }
    return f;
}

}  // namespace

TEST(pcapng_reader, reads_a_big_endian_section) {
    const auto le = sample_capture(2);
    const auto be = to_big_endian(le);
    ASSERT_NE(le, be);
    auto t = read_all(be);
    EXPECT_EQ(t.packets, 2);
    EXPECT_EQ(t.problems, 0) << (t.messages.empty() ? "" : t.messages[0]);
}

TEST(pcapng_reader, reports_empty_and_foreign_files) {
    auto t = read_all({});
    EXPECT_EQ(t.problems, 1);
    const std::array<std::byte, 24> classic{std::byte{0xd4}, std::byte{0xc3}, std::byte{0xb2}, std::byte{0xa1}};
    t = read_all(classic);
    ASSERT_EQ(t.problems, 1);
    EXPECT_NE(t.messages[0].find("classic pcap"), std::string::npos);
    const std::string text = "this is not a capture at all, just text";
    t = read_all(std::as_bytes(std::span(text.data(), text.size())));
    ASSERT_EQ(t.problems, 1);
    EXPECT_NE(t.messages[0].find("not a pcapng"), std::string::npos);
}

TEST(pcapng_reader, truncation_keeps_the_whole_packets_before_it) {
    const auto f = sample_capture(3);
    for (std::size_t cut = 1; cut < f.size(); ++cut) {
        auto t = read_all(std::span(f).first(cut));
        EXPECT_LE(t.packets, 3);
        // A cut inside a block is one problem; a cut between blocks is just a shorter file.
        EXPECT_LE(t.problems, 1) << "cut at " << cut;
        if (cut % 4 != 0) {
            EXPECT_EQ(t.problems, 1) << "cut at " << cut;
        }
    }
}

TEST(pcapng_reader, bad_captured_length_skips_one_packet_and_goes_on) {
    auto f = sample_capture(3);
    // Second EPB starts after SHB and IDB and the first EPB; corrupt its captured length.
    nm::pcapng_reader r(f);
    std::vector<std::size_t> offsets;
    while (auto rec = r.next()) {
        if (rec->what == nm::pcapng_record::kind::packet) offsets.push_back(rec->offset);
    }
    ASSERT_EQ(offsets.size(), 3U);
    f[offsets[1] + 20] = std::byte{0xff};
    f[offsets[1] + 21] = std::byte{0xff};
    auto t = read_all(f);
    EXPECT_EQ(t.packets, 2);
    ASSERT_EQ(t.problems, 1);
    EXPECT_NE(t.messages[0].find("captured length"), std::string::npos);
}

TEST(pcapng_reader, random_garbage_terminates_with_problems_not_crashes) {
    std::mt19937 rng(7);
    const auto base = sample_capture(4);
    for (int round = 0; round < 2000; ++round) {
        auto f = base;
        const int flips = 1 + round % 8;
        for (int i = 0; i < flips; ++i) f[rng() % f.size()] = static_cast<std::byte>(rng());
        auto t = read_all(f);
        EXPECT_LE(t.packets, 4);
    }
}

TEST(pcapng_reader, parse_udp_rejects_short_and_non_udp_frames) {
    std::array<std::byte, 28> ip{};
    EXPECT_FALSE(nm::parse_udp(nm::pcapng::linktype_raw, std::span(ip).first(10)));
    ip[0] = std::byte{0x45};
    ip[9] = std::byte{6};  // TCP
    EXPECT_FALSE(nm::parse_udp(nm::pcapng::linktype_raw, ip));
    EXPECT_FALSE(nm::parse_udp(12345, ip));
    ip[9] = std::byte{17};
    ip[24] = std::byte{0};
    ip[25] = std::byte{8};  // UDP length 8: empty payload
    auto u = nm::parse_udp(nm::pcapng::linktype_raw, ip);
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->payload.empty());
}
