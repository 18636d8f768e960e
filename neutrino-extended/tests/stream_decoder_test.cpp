// stream_decoder: the same words whatever the piece sizes; malformed framing detected at the
// first byte that proves it.

#include "neutrino/extended/stream_decoder.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "neutrino/core/words.hpp"

namespace ne = neutrino::extended;
namespace nc = neutrino::core;

namespace {
std::vector<std::byte> encode(const std::vector<std::vector<std::byte>>& words) {
    std::vector<nc::word> ws(words.begin(), words.end());
    std::vector<std::byte> out(*nc::extended_word_codec::encoded_size(ws));
    EXPECT_TRUE(nc::extended_word_codec::encode(ws, out));
    return out;
}
}  // namespace

TEST(stream_decoder, any_piece_sizes_give_the_same_words) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::vector<std::vector<std::byte>> words(rng() % 6);
        for (auto& w : words) {
            w.resize(rng() % 3 == 0 ? 0 : rng() % 5000);
            for (auto& b : w) b = static_cast<std::byte>(rng());
        }
        const auto enc = encode(words);
        ne::stream_decoder d;
        std::vector<std::vector<std::byte>> got;
        std::size_t begins = 0, ends = 0;
        for (std::size_t off = 0; off < enc.size();) {
            const std::size_t n = std::min<std::size_t>(enc.size() - off, 1 + rng() % 1300);
            auto ec = d.feed(std::span<const std::byte>(enc).subspan(off, n), [&](const ne::stream_decoder::chunk& c) {
                if (c.word_begin) {
                    got.emplace_back();
                    ++begins;
                }
                ASSERT_EQ(c.word + 1, got.size());
                got.back().insert(got.back().end(), c.bytes.begin(), c.bytes.end());
                if (c.word_end) {
                    ++ends;
                    EXPECT_EQ(got.back().size(), c.word_size);
                }
            });
            ASSERT_FALSE(ec);
            off += n;
        }
        EXPECT_TRUE(d.complete());
        EXPECT_EQ(got, words);
        EXPECT_EQ(begins, words.size());
        EXPECT_EQ(ends, words.size());
        EXPECT_EQ(d.word_count(), words.size());
    }
}

TEST(stream_decoder, incomplete_and_malformed_input) {
    const auto enc = encode({std::vector<std::byte>(10, std::byte{1})});
    ne::stream_decoder d;
    EXPECT_FALSE(d.feed(std::span<const std::byte>(enc).first(enc.size() - 1)));
    EXPECT_FALSE(d.complete());  // one byte short
    EXPECT_FALSE(d.feed(std::span<const std::byte>(enc).last(1)));
    EXPECT_TRUE(d.complete());
    // zero padding is allowed after the last word, anything else is not
    const std::byte zero[3]{};
    EXPECT_FALSE(d.feed(zero));
    const std::byte junk[1]{std::byte{1}};
    EXPECT_EQ(d.feed(junk), ne::errc::malformed_message);
    EXPECT_FALSE(d.complete());
    EXPECT_EQ(d.feed(zero), ne::errc::malformed_message);  // stays failed
    d.reset();
    EXPECT_FALSE(d.feed(enc));
    EXPECT_TRUE(d.complete());
}
