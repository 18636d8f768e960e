#include "neutrino/core/words.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nc = neutrino::core;

namespace {

/// The error of a result, or an empty error_code when it holds a value (never UB in a test).
template <class T>
std::error_code err(const neutrino::result<T>& r) {
    return r ? std::error_code() : r.error();
}

std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int b : v) out.push_back(static_cast<std::byte>(b));
    return out;
}

std::vector<std::string> strings(const nc::words_view& w) {
    std::vector<std::string> out;
    for (nc::word x : w) out.emplace_back(nc::as_string(x));
    return out;
}

template <class Codec = nc::word_codec>
std::vector<std::byte> encode(nc::word_list list) {
    std::vector<std::byte> out(70000 * 2);
    auto n = Codec::encode(list, out);
    EXPECT_TRUE(n) << n.error().message();
    out.resize(n ? *n : 0);
    return out;
}

}  // namespace

// spec: neutrino.md §5.1, example from basic_session
TEST(words, spec_example_bytes) {
    const std::array<std::byte, 3> b012{std::byte{0}, std::byte{1}, std::byte{2}};
    const std::array<nc::word, 3> list{nc::as_word("hello"), nc::word(b012), nc::word()};
    const auto enc = encode(list);
    EXPECT_EQ(enc, bytes({0x03, 0x05, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03, 0x00, 0x00,
                          0x01, 0x02, 0x00, 0x00}));
    EXPECT_EQ(*nc::word_codec::encoded_size(list), enc.size());

    auto v = nc::words_view::parse(enc);
    ASSERT_TRUE(v);
    ASSERT_EQ(v->size(), 3U);
    EXPECT_EQ(nc::as_string((*v)[0]), "hello");
    ASSERT_EQ((*v)[1].size(), 3U);
    EXPECT_EQ((*v)[1][2], std::byte{2});
    EXPECT_TRUE((*v)[2].empty());
    EXPECT_EQ(v->encoded().size(), enc.size());
}

TEST(words, empty_list_is_single_zero_byte) {
    const auto enc = encode({});
    EXPECT_EQ(enc, bytes({0x00}));
    auto v = nc::words_view::parse(enc);
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->empty());
    EXPECT_EQ(v->begin(), v->end());
}

TEST(words, round_trip_various) {
    const std::string big(1211, 'x');  // the largest word that fits a 1214-byte payload
    const auto list = nc::words("374", "", "12", big, "3.5");
    const auto enc = encode(list);
    auto v = nc::words_view::parse(enc);
    ASSERT_TRUE(v);
    EXPECT_EQ(strings(*v), (std::vector<std::string>{"374", "", "12", big, "3.5"}));
}

TEST(words, strict_rejects_empty_payload) {
    auto v = nc::words_view::parse({});
    ASSERT_FALSE(v);
    EXPECT_EQ(err(v), nc::errc::malformed_payload);
}

TEST(words, strict_rejects_size_overrun) {
    // one word of size 5 but only 3 bytes follow (the reference's slicing quirk, §5.2 item 2)
    const auto b = bytes({0x01, 0x05, 0x00, 0x61, 0x62, 0x63});
    auto v = nc::words_view::parse(b);
    ASSERT_FALSE(v);
    EXPECT_EQ(err(v), nc::errc::malformed_payload);
}

TEST(words, strict_rejects_missing_size_bytes) {
    for (const auto& b : {bytes({0x01}), bytes({0x01, 0x00}), bytes({0x02, 0x00, 0x00, 0x05})}) {
        auto v = nc::words_view::parse(b);
        ASSERT_FALSE(v) << b.size();
        EXPECT_EQ(err(v), nc::errc::malformed_payload);
    }
}

TEST(words, strict_rejects_count_reaching_into_padding) {
    // spec: neutrino.md §5.2 item 4. Two zero bytes after the last word are indistinguishable
    // from a genuine empty word, so that case is accepted; a count whose next size would have
    // to come out of a single padding byte is rejected.
    const auto ok = bytes({0x02, 0x01, 0x00, 0x61, 0x00, 0x00});
    auto v = nc::words_view::parse(ok);
    ASSERT_TRUE(v);
    EXPECT_EQ(strings(*v), (std::vector<std::string>{"a", ""}));
    const auto bad = bytes({0x02, 0x01, 0x00, 0x61, 0x00});
    EXPECT_EQ(err(nc::words_view::parse(bad)), nc::errc::malformed_payload);
}

TEST(words, strict_rejects_non_zero_trailing_byte) {
    for (const auto& b : {bytes({0x00, 0x01}), bytes({0x01, 0x01, 0x00, 0x61, 0x00, 0x00, 0x07}),
                          bytes({0x00, 0x00, 0x00, 0x80})}) {
        auto v = nc::words_view::parse(b);
        ASSERT_FALSE(v);
        EXPECT_EQ(err(v), nc::errc::malformed_payload);
    }
}

TEST(words, trailing_zeros_accepted) {
    auto b = bytes({0x01, 0x02, 0x00, 0x68, 0x69});
    b.resize(b.size() + 1000, std::byte{0});
    auto v = nc::words_view::parse(b);
    ASSERT_TRUE(v);
    EXPECT_EQ(strings(*v), (std::vector<std::string>{"hi"}));
    EXPECT_EQ(v->encoded().size(), 5U);  // the view excludes the padding

    std::vector<std::byte> empty_padded(1214, std::byte{0});
    auto e = nc::words_view::parse(empty_padded);
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->empty());
}

TEST(words, count_limits) {
    std::vector<nc::word> list(255, nc::as_word("a"));
    auto enc = encode(list);
    EXPECT_EQ(enc.size(), 1U + 255U * 3U);
    auto v = nc::words_view::parse(enc);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->size(), 255U);

    list.push_back(nc::as_word("a"));
    std::vector<std::byte> out(4096);
    EXPECT_EQ(err(nc::word_codec::encode(list, out)), nc::errc::too_many_words);
    EXPECT_EQ(err(nc::word_codec::encoded_size(list)), nc::errc::too_many_words);
}

TEST(words, word_size_limits) {
    const std::vector<std::byte> w65535(65535, std::byte{1});
    const std::vector<std::byte> w65536(65536, std::byte{1});
    std::vector<std::byte> out(70000);
    const std::array<nc::word, 1> ok{nc::word(w65535)};
    EXPECT_EQ(*nc::word_codec::encode(ok, out), 65538U);
    const std::array<nc::word, 1> too_big{nc::word(w65536)};
    EXPECT_EQ(err(nc::word_codec::encode(too_big, out)), nc::errc::word_too_large);
    EXPECT_EQ(err(nc::word_codec::encoded_size(too_big)), nc::errc::word_too_large);
}

TEST(words, encode_into_too_small_buffer) {
    const auto list = nc::words("hello");  // 1 + 2 + 5 = 8 bytes
    std::array<std::byte, 8> exact{};
    EXPECT_EQ(*nc::word_codec::encode(list, exact), 8U);
    std::array<std::byte, 7> small{};
    EXPECT_EQ(err(nc::word_codec::encode(list, small)), nc::errc::payload_too_large);
    std::array<std::byte, 0> none{};
    EXPECT_EQ(err(nc::word_codec::encode({}, none)), nc::errc::payload_too_large);
}

TEST(words, extended_codec_round_trip) {
    const std::vector<std::byte> big(70000, std::byte{0x5a});  // > u16 size
    std::vector<nc::word> list(300, nc::as_word("w"));         // > u8 count
    list.push_back(nc::word(big));
    list.push_back(nc::word());
    std::vector<std::byte> out(80000);
    auto n = nc::extended_word_codec::encode(list, out);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 2U + 300U * 5U + 4U + 70000U + 4U);
    // count u16 LE, first size u32 LE
    EXPECT_EQ(out[0], std::byte{0x2e});
    EXPECT_EQ(out[1], std::byte{0x01});
    EXPECT_EQ(out[2], std::byte{0x01});
    EXPECT_EQ(out[3], std::byte{0x00});
    EXPECT_EQ(out[5], std::byte{0x00});
    out.resize(*n);

    auto v = nc::basic_words_view<nc::extended_word_codec>::parse(out);
    ASSERT_TRUE(v);
    ASSERT_EQ(v->size(), 302U);
    EXPECT_EQ(nc::as_string((*v)[0]), "w");
    EXPECT_EQ((*v)[300].size(), 70000U);
    EXPECT_EQ((*v)[300][69999], std::byte{0x5a});
    EXPECT_TRUE((*v)[301].empty());

    // the basic codec reads the same bytes differently and must not accept them
    EXPECT_FALSE(nc::words_view::parse(out));
    // strictness carries over: a non-zero trailing byte is rejected
    out.push_back(std::byte{1});
    EXPECT_EQ(err(nc::basic_words_view<nc::extended_word_codec>::parse(out)),
              nc::errc::malformed_payload);
}

TEST(words, decoder_never_reads_past_the_input) {
    // every prefix of a valid encoding is either rejected or (for the empty-list prefix) valid;
    // run under ASan this also proves no out-of-bounds read
    const auto enc = encode(nc::words("hello", "", "abc"));
    for (std::size_t len = 0; len < enc.size(); ++len) {
        std::vector<std::byte> prefix(enc.begin(), enc.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_FALSE(nc::words_view::parse(prefix)) << len;
    }
    EXPECT_TRUE(nc::words_view::parse(enc));
}
