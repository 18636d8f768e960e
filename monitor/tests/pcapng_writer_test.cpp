#include "neutrino/monitor/pcapng_writer.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "neutrino/monitor/pcapng_reader.hpp"

namespace nm = neutrino::monitor;
using neutrino::peer_address;

namespace {

std::vector<std::byte> bytes(std::string_view s) {
    const auto b = std::as_bytes(std::span(s.data(), s.size()));
    return {b.begin(), b.end()};
}

std::uint16_t be16(const std::byte* p) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}

}  // namespace

TEST(pcapng_writer, round_trips_udp_with_addresses_time_and_comment) {
    std::vector<std::byte> file;
    const nm::clock_origin origin{neutrino::time_point{}, std::chrono::system_clock::time_point{std::chrono::seconds(1700000000)}};
    {
        nm::pcapng_writer w(file, origin);
        const auto iface = w.add_interface("client");
        const auto a = peer_address::v4({10, 0, 0, 1}, 1234), b = peer_address::v4({10, 0, 0, 2}, 22753);
        w.write_udp(iface, neutrino::time_point{} + std::chrono::milliseconds(1500), a, b, bytes("hello"), "note");
        EXPECT_EQ(w.packets_written(), 1U);
    }
    ASSERT_EQ(file.size() % 4, 0U);
    nm::pcapng_reader r(file);
    std::vector<nm::pcapng_record> recs;
    while (auto rec = r.next()) recs.push_back(*rec);
    ASSERT_EQ(recs.size(), 3U);
    EXPECT_EQ(recs[0].what, nm::pcapng_record::kind::section);
    EXPECT_EQ(recs[1].what, nm::pcapng_record::kind::interface);
    EXPECT_EQ(recs[1].linktype, nm::pcapng::linktype_raw);
    const auto& p = recs[2];
    ASSERT_EQ(p.what, nm::pcapng_record::kind::packet);
    EXPECT_EQ(p.timestamp_ns, 1700000001500000000ULL);
    EXPECT_EQ(p.comment, "note");
    ASSERT_EQ(p.data.size(), 20U + 8U + 5U);
    // IPv4 header checksum: the one's-complement sum over the header is 0xFFFF.
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 20; i += 2) sum += be16(p.data.data() + i);
    while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
    EXPECT_EQ(sum, 0xFFFFU);
    auto udp = nm::parse_udp(p.linktype, p.data);
    ASSERT_TRUE(udp);
    EXPECT_EQ(nm::to_string(udp->src), "10.0.0.1:1234");
    EXPECT_EQ(nm::to_string(udp->dst), "10.0.0.2:22753");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(udp->payload.data()), udp->payload.size()), "hello");
}

// Opaque peer handles (a transport that is not IP) are written as the IPv6 address of their
// bytes, so a capture still tells the peers apart; the text form names them as handles.
TEST(pcapng_writer, writes_opaque_handles_as_ipv6_of_their_bytes) {
    std::array<std::uint8_t, 16> host{};
    host[0] = 0xfd;
    host[15] = 7;
    const auto handle = peer_address::opaque(host, 3);
    EXPECT_EQ(nm::to_string(handle), "peer:fd000000000000000000000000000007/3");
    std::vector<std::byte> file;
    {
        nm::pcapng_writer w(file);
        const auto iface = w.add_interface("relay");
        w.write_udp(iface, neutrino::clock::now(), handle, peer_address::opaque(host, 4), bytes("y"));
        EXPECT_EQ(w.packets_written(), 1U);
    }
    nm::pcapng_reader r(file);
    int packets = 0;
    while (auto rec = r.next()) {
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        ++packets;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        ASSERT_TRUE(udp);
        EXPECT_EQ(nm::to_string(udp->src), "[fd00:0:0:0:0:0:0:7]:3");
        EXPECT_EQ(nm::to_string(udp->dst), "[fd00:0:0:0:0:0:0:7]:4");
    }
    EXPECT_EQ(packets, 1);
}

TEST(pcapng_writer, writes_ipv6_and_secrets) {
    std::vector<std::byte> file;
    {
        nm::pcapng_writer w(file);
        const auto iface = w.add_interface("v6");
        std::array<std::uint8_t, 16> lo{};
        lo[15] = 1;
        w.write_udp(iface, neutrino::clock::now(), peer_address::v6(lo, 5), peer_address::v6(lo, 6), bytes("x"));
        w.write_secrets(nm::pcapng::secrets_neutrino_key_log, bytes("NEUTRINO2_C2S 40 00\n"));
    }
    nm::pcapng_reader r(file);
    int packets = 0, secrets = 0;
    while (auto rec = r.next()) {
        if (rec->what == nm::pcapng_record::kind::packet) {
            ++packets;
            auto udp = nm::parse_udp(rec->linktype, rec->data);
            ASSERT_TRUE(udp);
            EXPECT_EQ(nm::to_string(udp->src), "[0:0:0:0:0:0:0:1]:5");
            EXPECT_EQ(udp->payload.size(), 1U);
        }
        if (rec->what == nm::pcapng_record::kind::secrets) {
            ++secrets;
            EXPECT_EQ(rec->secrets_type, nm::pcapng::secrets_neutrino_key_log);
            EXPECT_EQ(rec->data.size(), 20U);
        }
        EXPECT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
    }
    EXPECT_EQ(packets, 1);
    EXPECT_EQ(secrets, 1);
}

TEST(pcapng_writer, file_sink_buffers_and_flushes) {
    const auto path = std::filesystem::temp_directory_path() / "neutrino_monitor_writer_test.pcapng";
    {
        nm::pcapng_writer w(path);
        const auto iface = w.add_interface("x");
        const std::vector<std::byte> payload(1200, std::byte{0x5a});
        for (int i = 0; i < 200; ++i) {  // > 64 KiB: crosses the buffer
            w.write_udp(iface, neutrino::clock::now(), peer_address::v4({1, 2, 3, 4}, 1),
                        peer_address::v4({5, 6, 7, 8}, 2), payload);
        }
    }
    std::FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::vector<std::byte> file(400000);
    file.resize(std::fread(file.data(), 1, file.size(), f));
    std::fclose(f);
    std::filesystem::remove(path);
    nm::pcapng_reader r(file);
    int packets = 0;
    while (auto rec = r.next()) {
        ASSERT_NE(rec->what, nm::pcapng_record::kind::problem) << rec->message;
        packets += rec->what == nm::pcapng_record::kind::packet ? 1 : 0;
    }
    EXPECT_EQ(packets, 200);
}

TEST(pcapng_writer, throws_for_an_unwritable_path) {
    EXPECT_THROW(nm::pcapng_writer("/nonexistent-dir/x.pcapng"), std::system_error);
}
