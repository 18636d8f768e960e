#pragma once
/// \file
/// The send side of one Extended session: whole messages queued as encoded bytes, or one
/// streamed message encoded as the application writes it, cut into fragments handed to the
/// reliable layer as its window allows.  spec: neutrino.md §13.2, §13.3
///
/// The fragments of a message go out back to back (no other DATA between them); the reliable
/// layer's KEEP_ALIVEs and requests are not DATA and interleave freely, so a large message
/// never starves them. Memory: the queue is bounded by `max_queued_bytes`; a streamed message
/// holds one fragment.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "neutrino/core/error.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/extended/config.hpp"
#include "neutrino/extended/detail/fragmenter.hpp"
#include "neutrino/extended/error.hpp"
#include "neutrino/result.hpp"

namespace neutrino::extended::detail {

class sender {
public:
    sender(const config& cfg, std::size_t fragment_size, stats& st)
        : stats_(&st), max_message_(cfg.max_message_size), max_queued_(cfg.max_queued_bytes),
          fragment_(fragment_size), staging_(fragment_size) {}

    /// Queues a whole message. Errors: message_too_large, too_many_words, word_too_large,
    /// would_block (the queue holds max_queued_bytes), busy (a streamed message is open).
    result<void> queue(core::word_list words) {
        if (stream_open_) return tl::unexpected(make_error_code(errc::busy));
        auto n = core::extended_word_codec::encoded_size(words);
        if (!n) return tl::unexpected(n.error());
        if (*n > limit_) return tl::unexpected(make_error_code(errc::message_too_large));
        if (!queue_.empty() && queued_ + *n > max_queued_) return fail(core::errc::would_block);
        buffer b = take_spare(*n);
        (void)core::extended_word_codec::encode(words, std::span<std::byte>(b.data.get(), *n));
        b.size = *n;
        queued_ += *n;
        stats_->max_queued_bytes = std::max(stats_->max_queued_bytes, queued_);
        queue_.push_back(pending{std::move(b), 0});
        return {};
    }

    /// Opens a streamed message of words with these sizes; its bytes follow through `write`.
    /// Errors: busy, too_many_words, word_too_large, message_too_large.
    result<void> begin(std::span<const std::uint64_t> word_sizes) {
        if (stream_open_) return tl::unexpected(make_error_code(errc::busy));
        if (word_sizes.size() > core::extended_word_codec::max_count) return fail(core::errc::too_many_words);
        std::uint64_t total = core::extended_word_codec::count_size;
        std::uint64_t body = 0;
        for (std::uint64_t s : word_sizes) {
            if (s > core::extended_word_codec::max_size) return fail(core::errc::word_too_large);
            total += core::extended_word_codec::size_size + s;
            body += s;
        }
        if (total > limit_) return tl::unexpected(make_error_code(errc::message_too_large));
        body_left_ = body;
        sizes_.assign(word_sizes.begin(), word_sizes.end());
        stream_total_ = total;
        stream_keyword_ = total <= fragment_ ? 0 : static_cast<std::uint32_t>((total + fragment_ - 1) / fragment_);
        stream_open_ = true;
        word_ = 0;
        word_left_ = 0;
        staged_ = 0;
        stream_written_ = 0;
        framing_len_ = framing_off_ = 0;
        neutrino::store_le<std::uint16_t>(framing_.data(), static_cast<std::uint16_t>(sizes_.size()));
        framing_len_ = 2;
        next_word();
        return {};
    }

    /// Takes bytes of the open streamed message, as many as the reliable window lets through
    /// `send` now (possibly none); returns how many. Errors: stream_not_open (no message open,
    /// or more bytes than announced).
    template <class Send>
    result<std::size_t> write(std::span<const std::byte> bytes, Send&& send) {
        if (!stream_open_ || bytes.size() > body_left_) {
            return tl::unexpected(make_error_code(errc::stream_not_open));
        }
        flush_queue(send);
        if (!queue_.empty()) return std::size_t{0};  // whole messages queued earlier go first
        std::size_t used = 0;
        for (;;) {
            // framing (count, sizes) first; it may straddle two fragments
            while (framing_off_ < framing_len_) {
                if (staged_ == fragment_ && !send_staged(send)) return used;
                staging_[staged_++] = framing_[framing_off_++];
            }
            if (word_left_ == 0 && !next_word()) break;  // an empty word, or the end
            if (framing_off_ < framing_len_) continue;
            if (used == bytes.size()) return used;
            if (staged_ == fragment_ && !send_staged(send)) return used;
            const std::size_t n = static_cast<std::size_t>(
                std::min<std::uint64_t>({word_left_, bytes.size() - used, fragment_ - staged_}));
            std::memcpy(staging_.data() + staged_, bytes.data() + used, n);
            staged_ += n;
            used += n;
            word_left_ -= n;
            body_left_ -= n;
        }
        // every byte is staged: the last fragment goes once the window has room
        if (staged_ > 0 && !send_staged(send)) return used;
        stream_open_ = false;
        ++stats_->messages_sent;
        return used;
    }

    /// Hands queued fragments to `send(keyword, payload) → result<void>` until it refuses.
    template <class Send>
    void flush(Send&& send) {
        flush_queue(send);
        if (stream_open_ && queue_.empty()) (void)write({}, send);
    }

    /// True when `queue` would take a message of `size` encoded bytes now.
    [[nodiscard]] bool can_queue(std::size_t size) const noexcept {
        return !stream_open_ && (queue_.empty() || queued_ + size <= max_queued_);
    }
    [[nodiscard]] bool stream_open() const noexcept { return stream_open_; }
    /// Bytes accepted and not yet handed to the reliable layer.
    [[nodiscard]] std::size_t pending_bytes() const noexcept { return queued_ + staged_; }
    [[nodiscard]] bool idle() const noexcept { return queue_.empty() && !stream_open_; }

    /// The largest message the peer declared it accepts (v3 handshake, spec: neutrino-v3.md
    /// §9.3); 0: none declared. Larger messages are refused with errc::message_too_large.
    void set_peer_limit(std::uint64_t n) noexcept {
        limit_ = n == 0 ? max_message_ : static_cast<std::size_t>(std::min<std::uint64_t>(max_message_, n));
    }

    /// Forgets everything queued (the session ended).
    void reset() noexcept {
        limit_ = max_message_;
        queue_.clear();
        queued_ = 0;
        stream_open_ = false;
        staged_ = 0;
    }

private:
    // A buffer for one encoded message, not zero-filled (it is written once, by encode).
    struct buffer {
        std::unique_ptr<std::byte[]> data;
        std::size_t capacity = 0;
        std::size_t size = 0;
        [[nodiscard]] std::span<const std::byte> view() const noexcept { return {data.get(), size}; }
    };

    struct pending {
        buffer bytes;
        std::uint64_t next = 0;  ///< the next fragment to hand down
    };

    template <class Send>
    void flush_queue(Send& send) {
        while (!queue_.empty()) {
            pending& m = queue_.front();
            const fragmenter f(m.bytes.view(), fragment_);
            for (; m.next < f.count(); ++m.next) {
                if (!send(f.keyword(m.next), f.payload(m.next))) return;
                if (!f.single()) ++stats_->fragments_sent;
            }
            queued_ -= m.bytes.size;
            ++stats_->messages_sent;
            give_spare(std::move(m.bytes));
            queue_.pop_front();
        }
    }

    // Queues the size field of the next word; false when every word has been started.
    bool next_word() noexcept {
        if (word_ >= sizes_.size()) return false;
        if (framing_off_ == framing_len_) framing_off_ = framing_len_ = 0;
        neutrino::store_le<std::uint32_t>(framing_.data() + framing_len_,
                                              static_cast<std::uint32_t>(sizes_[word_]));
        framing_len_ += 4;
        word_left_ = sizes_[word_];
        ++word_;
        return true;
    }

    // Sends the staged fragment (full, or the message's last); false when `send` refused.
    template <class Send>
    bool send_staged(Send& send) {
        const std::uint32_t keyword = stream_keyword_;
        if (!send(keyword, std::span<const std::byte>(staging_).first(staged_))) return false;
        if (keyword != 0) {
            ++stats_->fragments_sent;
            --stream_keyword_;
        }
        stream_written_ += staged_;
        staged_ = 0;
        return true;
    }

    // Up to 4 buffers are kept for reuse (no allocation per message in a steady stream).
    buffer take_spare(std::size_t n) {
        for (auto it = spare_.begin(); it != spare_.end(); ++it) {
            if (it->capacity >= n) {
                buffer b = std::move(*it);
                spare_.erase(it);
                return b;
            }
        }
        return buffer{std::make_unique_for_overwrite<std::byte[]>(n), n, 0};
    }
    void give_spare(buffer&& b) {
        if (b.capacity > max_message_) return;
        if (spare_.size() == 4) spare_.erase(spare_.begin());  // the oldest goes
        spare_.push_back(std::move(b));
    }

    stats* stats_;
    std::size_t max_message_;
    std::size_t limit_ = max_message_;  ///< max_message_, or less when the peer declared less
    std::size_t max_queued_;
    std::size_t fragment_;
    std::deque<pending> queue_;
    std::vector<buffer> spare_;
    std::size_t queued_ = 0;
    // streamed message
    bool stream_open_ = false;
    std::vector<std::uint64_t> sizes_;
    std::size_t word_ = 0;
    std::uint64_t word_left_ = 0;
    std::uint64_t stream_total_ = 0;
    std::uint64_t body_left_ = 0;  ///< word bytes the application still has to write
    std::uint64_t stream_written_ = 0;
    std::uint32_t stream_keyword_ = 0;
    std::vector<std::byte> staging_;
    std::size_t staged_ = 0;
    std::array<std::byte, 6> framing_{};  ///< count and/or a size field not staged yet
    std::size_t framing_len_ = 0;
    std::size_t framing_off_ = 0;
};

}  // namespace neutrino::extended::detail
