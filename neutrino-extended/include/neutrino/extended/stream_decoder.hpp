#pragma once
/// \file
/// `stream_decoder`: reads a u16/u32 word list (Extended DATA framing) as its bytes arrive, in
/// pieces of any size, without buffering the words: for the `message_part` events of a
/// streamed message.  spec: neutrino.md §5, §13.3

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "neutrino/endian.hpp"
#include "neutrino/extended/error.hpp"

namespace neutrino::extended {

class stream_decoder {
public:
    /// A piece of one word's bytes.
    struct chunk {
        std::size_t word = 0;             ///< index of the word
        std::uint64_t word_size = 0;      ///< its full size
        std::span<const std::byte> bytes; ///< the next bytes of it (empty for an empty word)
        bool word_begin = false;          ///< the word starts with this piece
        bool word_end = false;            ///< the word is complete with this piece
    };

    /// Feeds the next bytes of the message; calls `on_chunk(const chunk&)` for every piece of
    /// word content. Returns errc::malformed_message at the first byte that cannot belong to a
    /// well-formed list (then stays failed until `reset`).
    template <class F>
    std::error_code feed(std::span<const std::byte> in, F&& on_chunk) {
        if (failed_) return make_error_code(errc::malformed_message);
        while (!in.empty()) {
            switch (state_) {
                case state::count:
                case state::size: {
                    const std::size_t need = state_ == state::count ? 2 : 4;
                    const std::size_t n = std::min(need - have_, in.size());
                    std::copy_n(in.begin(), n, field_.begin() + static_cast<std::ptrdiff_t>(have_));
                    have_ += n;
                    in = in.subspan(n);
                    if (have_ < need) break;
                    have_ = 0;
                    if (state_ == state::count) {
                        count_ = neutrino::load_le<std::uint16_t>(field_.data());
                        next_word();
                    } else {
                        size_ = neutrino::load_le<std::uint32_t>(field_.data());
                        left_ = size_;
                        state_ = state::body;
                        if (size_ == 0) {
                            on_chunk(chunk{word_, 0, {}, true, true});
                            ++word_;
                            next_word();
                        }
                    }
                    break;
                }
                case state::body: {
                    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size()));
                    const bool begin = left_ == size_;
                    left_ -= n;
                    on_chunk(chunk{word_, size_, in.first(n), begin, left_ == 0});
                    in = in.subspan(n);
                    if (left_ == 0) {
                        ++word_;
                        next_word();
                    }
                    break;
                }
                case state::padding:
                    // spec: neutrino.md §5.2: only zero padding after the last word
                    if (std::any_of(in.begin(), in.end(), [](std::byte b) { return b != std::byte{0}; })) {
                        failed_ = true;
                        return make_error_code(errc::malformed_message);
                    }
                    in = {};
                    break;
            }
        }
        return {};
    }

    /// Validation only.
    std::error_code feed(std::span<const std::byte> in) {
        return feed(in, [](const chunk&) {});
    }

    /// True when the count and every word have been read (only padding may follow).
    [[nodiscard]] bool complete() const noexcept { return state_ == state::padding && !failed_; }
    /// The announced number of words (valid once the first two bytes were fed).
    [[nodiscard]] std::size_t word_count() const noexcept { return count_; }

    void reset() noexcept { *this = stream_decoder{}; }

private:
    enum class state : std::uint8_t { count, size, body, padding };

    void next_word() noexcept {
        state_ = word_ < count_ ? state::size : state::padding;
    }

    state state_ = state::count;
    std::array<std::byte, 4> field_{};
    std::size_t have_ = 0;
    std::size_t count_ = 0;
    std::size_t word_ = 0;
    std::uint64_t size_ = 0;
    std::uint64_t left_ = 0;
    bool failed_ = false;
};

}  // namespace neutrino::extended
