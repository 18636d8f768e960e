#include "neutrino/inspector/classifier.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace nc = neutrino::core;
namespace ni = neutrino::inspector;

namespace {
std::vector<std::byte> header(std::uint32_t id, std::uint8_t type, std::uint64_t sid,
                              std::size_t size = 14) {
    std::vector<std::byte> d(size);
    neutrino::store_le(d.data(), id);
    d[4] = std::byte{2};
    d[5] = std::byte{type};
    neutrino::store_le(d.data() + 6, sid);
    return d;
}
}  // namespace

TEST(classifier, reads_the_neutrino_clear_header) {
    const auto d = header(nc::protocol_identifier, 0x04, 0x1122334455667788ULL, 60);
    const auto c = ni::classify_neutrino(d);
    EXPECT_EQ(c.version, 2);
    EXPECT_EQ(c.type, 0x04);
    EXPECT_EQ(c.session_id, 0x1122334455667788ULL);
    EXPECT_TRUE(ni::neutrino_type_is{nc::packet_type::keep_alive}(d));
    EXPECT_FALSE(ni::neutrino_type_is{nc::packet_type::data}(d));
    EXPECT_TRUE(ni::neutrino_session_is{0x1122334455667788ULL}(d));
}

TEST(classifier, ignores_other_protocols_and_short_datagrams) {
    EXPECT_EQ(ni::classify_neutrino(header(0x12345678, 0x04, 99)), ni::packet_class{});
    auto d = header(nc::protocol_identifier, 0x04, 99);
    d.pop_back();  // 13 bytes
    EXPECT_EQ(ni::classify_neutrino(d), ni::packet_class{});
    EXPECT_FALSE(ni::neutrino_type_is{nc::packet_type::keep_alive}(d));
    EXPECT_EQ(ni::classify_neutrino({}), ni::packet_class{});
}
