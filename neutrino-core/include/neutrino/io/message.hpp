#pragma once
/// \file
/// `io::message`: an owned word list, what `io::endpoint::async_receive` completes with, and
/// the `application_event` concept by which a layer's event type tells the driver which of its
/// events are messages, handshakes, ends and room to send (`io::application_traits`). No Asio
/// here: a layer specialises the traits for its own event type without pulling in the driver.
///
/// `application_traits<E>` requirements (`e` a `const E&`, `m` a `message&`):
///
/// | expression | return | meaning |
/// |---|---|---|
/// | `classify(e)` | `app_kind` | `established`: a session is up; `message`: `e` carries one whole application message; `closed`: a session ended; `writable`: a send refused with would_block may be retried; `other` |
/// | `session_of(e)` | `std::uint64_t` | the session the event belongs to |
/// | `peer_of(e)` | `peer_address` | its peer |
/// | `reason_of(e)` | `std::error_code` | for `closed`: why |
/// | `copy_message(e, m)` | | for `message`: copies the words into `m` (reusing its storage) |

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/words.hpp"

namespace neutrino::io {

/// An application message with owned bytes: its words, its session and its peer.
class message {
public:
    message() = default;
    /// Copies `words`.
    explicit message(core::word_list words) { assign(words); }

    /// Number of words.
    [[nodiscard]] std::size_t size() const noexcept { return ends_.size(); }
    [[nodiscard]] bool empty() const noexcept { return ends_.empty(); }
    /// Word `i` (`i < size()`), valid while the message lives and is not modified.
    [[nodiscard]] core::word operator[](std::size_t i) const noexcept {
        const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
        return std::span<const std::byte>(bytes_).subspan(begin, ends_[i] - begin);
    }
    /// Word `i` as characters.
    [[nodiscard]] std::string_view text(std::size_t i) const noexcept {
        const core::word w = (*this)[i];
        return {reinterpret_cast<const char*>(w.data()), w.size()};
    }
    /// The words as a list to hand to a send call (`ep.async_send(m.words(), …)`).
    [[nodiscard]] std::vector<core::word> words() const {
        std::vector<core::word> out;
        out.reserve(size());
        for (std::size_t i = 0; i < size(); ++i) out.push_back((*this)[i]);
        return out;
    }
    /// Total bytes of the words.
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_.size(); }

    /// Replaces the words (keeps the storage's capacity).
    void clear() noexcept {
        bytes_.clear();
        ends_.clear();
    }
    void append(core::word w) {
        bytes_.insert(bytes_.end(), w.begin(), w.end());
        ends_.push_back(bytes_.size());
    }
    template <class Words>
    void assign(const Words& words) {
        clear();
        for (core::word w : words) append(w);
    }

    std::uint64_t session_id = 0;  ///< the session it came from
    peer_address peer;             ///< the peer it came from

private:
    std::vector<std::byte> bytes_;
    std::vector<std::size_t> ends_;
};

/// What an event means to the application (see the file comment).
enum class app_kind : std::uint8_t { other, established, message, closed, writable };

/// Specialised by each layer for its event type (the core's is below).
template <class Event>
struct application_traits;

template <class E>
concept application_event = requires(const E& e, message& m) {
    { application_traits<E>::classify(e) } -> std::same_as<app_kind>;
    { application_traits<E>::session_of(e) } -> std::same_as<std::uint64_t>;
    { application_traits<E>::peer_of(e) } -> std::same_as<peer_address>;
    { application_traits<E>::reason_of(e) } -> std::same_as<std::error_code>;
    application_traits<E>::copy_message(e, m);
};

/// Core events (core, and the reliable layer above it, report `core::event`).
template <>
struct application_traits<core::event> {
    static app_kind classify(const core::event& e) noexcept {
        switch (e.kind) {
            case core::event_kind::established: return app_kind::established;
            case core::event_kind::data: return app_kind::message;
            case core::event_kind::closed: return app_kind::closed;
            case core::event_kind::writable: return app_kind::writable;
            default: return app_kind::other;
        }
    }
    static std::uint64_t session_of(const core::event& e) noexcept { return e.session_id; }
    static peer_address peer_of(const core::event& e) noexcept { return e.peer; }
    static std::error_code reason_of(const core::event& e) noexcept { return e.reason; }
    static void copy_message(const core::event& e, message& m) {
        m.clear();
        for (core::word w : e.words) m.append(w);
    }
};

static_assert(application_event<core::event>);

}  // namespace neutrino::io
