// Fuzz target: the word framing decoders (word_codec, extended_word_codec, words_view).
// Properties: validate and parse agree; a parsed list iterates to exactly `size()` words that
// lie inside the input; re-encoding them gives back the unpadded prefix byte for byte; only
// zeros follow it; operator[] agrees with iteration.  spec: neutrino.md §5

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "neutrino/core/words.hpp"

namespace {

using namespace neutrino::core;

template <class Codec>
void check(std::span<const std::byte> in) {
    using view = basic_words_view<Codec>;
    const auto len = Codec::validate(in);
    const auto parsed = view::parse(in);
    if (len.has_value() != parsed.has_value()) __builtin_trap();
    if (!len) return;
    if (*len > in.size() || *len < Codec::count_size) __builtin_trap();
    if (parsed->encoded().data() != in.data() || parsed->encoded().size() != *len) __builtin_trap();
    for (std::size_t i = *len; i < in.size(); ++i) {
        if (in[i] != std::byte{0}) __builtin_trap();
    }

    std::vector<word> list;
    for (word w : *parsed) {
        if (w.data() < in.data() || w.data() + w.size() > in.data() + *len) __builtin_trap();
        list.push_back(w);
    }
    if (list.size() != parsed->size() || parsed->empty() != list.empty()) __builtin_trap();
    // operator[] is linear; sample a few indices so large lists stay cheap
    for (std::size_t i : {std::size_t{0}, list.size() / 2, list.size() - 1}) {
        if (i >= list.size()) continue;
        const word w = (*parsed)[i];
        if (w.data() != list[i].data() || w.size() != list[i].size()) __builtin_trap();
    }

    const auto need = Codec::encoded_size(list);
    if (!need || *need != *len) __builtin_trap();
    std::vector<std::byte> out(*len);
    const auto n = Codec::encode(list, out);
    if (!n || *n != *len) __builtin_trap();
    if (*len != 0 && std::memcmp(out.data(), in.data(), *len) != 0) __builtin_trap();
    // Too small an output buffer must be refused, not overrun.
    if (*len > 0) {
        std::vector<std::byte> small(*len - 1);
        if (Codec::encode(list, small)) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy in a buffer of exactly `size` bytes, so ASan sees any read past the end.
    std::vector<std::byte> in(size);
    if (size != 0) std::memcpy(in.data(), data, size);
    check<word_codec>(in);
    check<extended_word_codec>(in);
    return 0;
}
