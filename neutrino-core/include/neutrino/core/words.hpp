#pragma once
/// \file
/// Word framing of payloads: `count` then `count × (size, bytes)`, little-endian.
/// Basic and Reliable use a u8 count and u16 sizes; Extended DATA uses u16/u32 (same code,
/// other widths).  spec: neutrino.md §5

#include <array>
#include <cstring>
#include <type_traits>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>

#include "neutrino/core/error.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/result.hpp"

namespace neutrino::core {

/// One word: a read-only byte view.
using word = std::span<const std::byte>;
/// A list of words handed to a send call. The bytes are copied while encoding.
using word_list = std::span<const word>;

/// Views a string's characters as a word (no copy; the string must outlive the use).
[[nodiscard]] inline word as_word(std::string_view s) noexcept {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

/// Makes an array of words from string-like or byte-span arguments, for a send call:
/// `client.send(words("374", "12", "3.5"), now)`.
template <class... Args>
[[nodiscard]] std::array<word, sizeof...(Args)> words(const Args&... args) noexcept {
    auto one = [](const auto& a) -> word {
        if constexpr (std::is_convertible_v<decltype(a), std::string_view>) {
            return as_word(std::string_view(a));
        } else {
            return std::as_bytes(std::span(a));
        }
    };
    return {one(args)...};
}

/// Encoder and strict decoder for one framing width. Stateless.
template <class Count, class Size>
struct basic_word_codec {
    static constexpr std::size_t count_size = sizeof(Count);
    static constexpr std::size_t size_size = sizeof(Size);
    static constexpr std::size_t max_count = std::numeric_limits<Count>::max();
    static constexpr std::size_t max_size = std::numeric_limits<Size>::max();

    /// Encoded size of `list`, or an error if it cannot be framed at all.
    [[nodiscard]] static result<std::size_t> encoded_size(word_list list) noexcept {
        if (list.size() > max_count) return fail(errc::too_many_words);
        std::size_t n = count_size;
        for (const word& w : list) {
            if (w.size() > max_size) return fail(errc::word_too_large);
            n += size_size + w.size();  // cannot overflow: bounded by addressable memory
        }
        return n;
    }

    /// Writes `list` into `out`. Errors: too_many_words, word_too_large, payload_too_large
    /// (when `out` is too small).
    [[nodiscard]] static result<std::size_t> encode(word_list list,
                                                    std::span<std::byte> out) noexcept {
        auto need = encoded_size(list);
        if (!need) return need;
        if (*need > out.size()) return fail(errc::payload_too_large);
        std::byte* p = out.data();
        neutrino::store_le<Count>(p, static_cast<Count>(list.size()));
        p += count_size;
        for (const word& w : list) {
            neutrino::store_le<Size>(p, static_cast<Size>(w.size()));
            p += size_size;
            if (!w.empty()) std::memcpy(p, w.data(), w.size());
            p += w.size();
        }
        return *need;
    }

    /// Length of the word list at the front of `in` if it is well formed: the count is present,
    /// every size and every word lies fully inside `in`, and everything after the last word is
    /// zero padding.  spec: neutrino.md §5.2 (strict form, §18 item 15)
    [[nodiscard]] static result<std::size_t> validate(std::span<const std::byte> in) noexcept {
        if (in.size() < count_size) return fail(errc::malformed_payload);
        const std::size_t count = neutrino::load_le<Count>(in.data());
        std::size_t off = count_size;
        for (std::size_t i = 0; i < count; ++i) {  // count ≤ 65535: bounded by the width
            if (in.size() - off < size_size) return fail(errc::malformed_payload);
            const std::size_t sz = neutrino::load_le<Size>(in.data() + off);
            off += size_size;
            if (in.size() - off < sz) return fail(errc::malformed_payload);
            off += sz;
        }
        for (std::size_t i = off; i < in.size(); ++i) {
            if (in[i] != std::byte{0}) return fail(errc::malformed_payload);
        }
        return off;
    }
};

using word_codec = basic_word_codec<std::uint8_t, std::uint16_t>;
using extended_word_codec = basic_word_codec<std::uint16_t, std::uint32_t>;

/// A validated, encoded word list, read lazily: iterate to get each word as a byte view into
/// the original buffer (no copy). Only `basic_words_view::parse` makes one, so every view is
/// well formed.
template <class Codec>
class basic_words_view {
public:
    class iterator {
    public:
        using value_type = word;
        using difference_type = std::ptrdiff_t;
        using iterator_category = std::forward_iterator_tag;

        iterator() = default;
        word operator*() const noexcept {
            const std::size_t sz = neutrino::load_le<size_type>(p_);
            return {p_ + Codec::size_size, sz};
        }
        iterator& operator++() noexcept {
            p_ += Codec::size_size + neutrino::load_le<size_type>(p_);
            --left_;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.left_ == b.left_;
        }

    private:
        friend class basic_words_view;
        using size_type = std::conditional_t<Codec::size_size == 2, std::uint16_t, std::uint32_t>;
        iterator(const std::byte* p, std::size_t left) noexcept : p_(p), left_(left) {}
        const std::byte* p_ = nullptr;
        std::size_t left_ = 0;
    };

    basic_words_view() = default;

    /// Validates `encoded` (word list plus optional zero padding) and views it.
    [[nodiscard]] static result<basic_words_view> parse(std::span<const std::byte> encoded) noexcept {
        auto len = Codec::validate(encoded);
        if (!len) return tl::unexpected(len.error());
        return basic_words_view(encoded.first(*len));
    }

    [[nodiscard]] std::size_t size() const noexcept {
        if (encoded_.empty()) return 0;
        return neutrino::load_le<count_type>(encoded_.data());
    }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] iterator begin() const noexcept {
        if (encoded_.empty()) return {};
        return {encoded_.data() + Codec::count_size, size()};
    }
    [[nodiscard]] iterator end() const noexcept { return {nullptr, 0}; }
    /// The word at `index` (linear time); precondition `index < size()`.
    [[nodiscard]] word operator[](std::size_t index) const noexcept {
        auto it = begin();
        for (std::size_t i = 0; i < index; ++i) ++it;
        return *it;
    }
    /// The encoded form without padding.
    [[nodiscard]] std::span<const std::byte> encoded() const noexcept { return encoded_; }

private:
    using count_type = std::conditional_t<Codec::count_size == 1, std::uint8_t, std::uint16_t>;
    explicit basic_words_view(std::span<const std::byte> e) noexcept : encoded_(e) {}
    std::span<const std::byte> encoded_;
};

using words_view = basic_words_view<word_codec>;

/// Reads a word as text (no copy).
[[nodiscard]] inline std::string_view as_string(word w) noexcept {
    return {reinterpret_cast<const char*>(w.data()), w.size()};
}

}  // namespace neutrino::core
