// The shared vocabulary: endian helpers in both forms, hex, error conditions, randomness.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <system_error>

#include "neutrino/condition.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/hex.hpp"
#include "neutrino/random.hpp"
#include "neutrino/result.hpp"

namespace sample_module {

enum class sample_errc { late = 1 };

class sample_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "sample"; }
    std::string message(int) const override { return "late"; }
    std::error_condition default_error_condition(int) const noexcept override {
        return neutrino::condition::timed_out;
    }
};

const std::error_category& sample() {
    static const sample_category c;
    return c;
}

std::error_code make_error_code(sample_errc e) { return {static_cast<int>(e), sample()}; }

}  // namespace sample_module

template <>
struct std::is_error_code_enum<sample_module::sample_errc> : std::true_type {};

namespace {

using sample_module::sample_errc;

TEST(endian, fixed_width_and_span_forms_agree) {
    std::array<std::byte, 8> b{};
    neutrino::store_le(b.data(), std::uint64_t{0x0807060504030201});
    EXPECT_EQ(std::to_integer<int>(b[0]), 1);
    EXPECT_EQ(std::to_integer<int>(b[7]), 8);
    EXPECT_EQ(neutrino::load_le<std::uint64_t>(b.data()), 0x0807060504030201u);
    EXPECT_EQ(neutrino::load_le(std::span<const std::byte>(b).first(3)), 0x030201u);

    std::array<std::byte, 6> u48{};
    neutrino::store_le(std::span<std::byte>(u48), std::uint64_t{0xAABB'0000'0000'0102});
    EXPECT_EQ(neutrino::load_le(std::span<const std::byte>(u48)), 0x0102u);  // low 6 bytes kept
}

TEST(hex, round_trip_and_rejections) {
    std::array<std::byte, 3> out{};
    ASSERT_TRUE(neutrino::parse_hex("0aFf10", out));
    EXPECT_EQ(neutrino::to_hex(out), "0aff10");
    EXPECT_FALSE(neutrino::parse_hex("0aff1", out));    // odd length
    EXPECT_FALSE(neutrino::parse_hex("0aff1000", out));  // too long
    EXPECT_FALSE(neutrino::parse_hex("0agf10", out));   // not a digit
    std::string s = "k=";
    neutrino::append_hex(s, out);
    EXPECT_EQ(s, "k=0aff10");
    EXPECT_EQ(neutrino::hex_digit_value('F'), 15);
    EXPECT_EQ(neutrino::hex_digit_value('x'), -1);
}

TEST(condition, any_module_category_maps_onto_the_shared_conditions) {
    const std::error_code ec = sample_errc::late;
    EXPECT_TRUE(ec == neutrino::condition::timed_out);
    EXPECT_FALSE(ec == neutrino::condition::refused);
    EXPECT_EQ(neutrino::make_error_condition(neutrino::condition::misuse).message(), "API misuse");
    const neutrino::result<int> r = neutrino::fail(sample_errc::late);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == neutrino::condition::timed_out);
}

TEST(random, seeded_streams_repeat_and_uniform_stays_in_range) {
    neutrino::seeded_random a(7), b(7), c(8);
    std::array<std::byte, 32> x{}, y{}, z{};
    a.fill(x);
    b.fill(y);
    c.fill(z);
    EXPECT_EQ(x, y);
    EXPECT_NE(x, z);
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 2000; ++i) {
        const auto v = a.uniform(10, 13);
        ASSERT_GE(v, 10u);
        ASSERT_LE(v, 13u);
        seen.insert(v);
    }
    EXPECT_EQ(seen.size(), 4u);
    EXPECT_EQ(a.uniform(5, 5), 5u);
}

TEST(random, system_random_copies_do_not_share_values) {
    neutrino::system_random a;
    std::array<std::byte, 16> x{};
    a.fill(x);
    neutrino::system_random b = a;
    std::array<std::byte, 16> y{}, z{};
    a.fill(y);
    b.fill(z);
    EXPECT_NE(y, z);
}

}  // namespace
