#pragma once
/// \file
/// `owned_event`: a core `event` whose words are copied out of the machine's buffer, so it can
/// be queued (e.g. by `io::basic_endpoint::async_next_event`). Copying allocates; the
/// synchronous event handler path does not need it.

#include <cstddef>
#include <vector>

#include "neutrino/core/event.hpp"

namespace neutrino::core {

struct owned_event {
    event_kind kind = event_kind::data;
    std::uint64_t session_id = 0;
    peer_address peer;
    std::vector<std::vector<std::byte>> words;
    std::uint64_t packet_number = 0;
    std::uint32_t keyword = 0;
    std::error_code reason;
    peer_address old_peer;

    /// Copies `e`, including its words.
    [[nodiscard]] static owned_event from(const event& e) {
        owned_event o;
        o.kind = e.kind;
        o.session_id = e.session_id;
        o.peer = e.peer;
        o.words.reserve(e.words.size());
        for (word w : e.words) o.words.emplace_back(w.begin(), w.end());
        o.packet_number = e.packet_number;
        o.keyword = e.keyword;
        o.reason = e.reason;
        o.old_peer = e.old_peer;
        return o;
    }
};

/// The `EventPolicy` for `io::basic_endpoint` that queues owned copies of core events.
struct own_event {
    using value_type = owned_event;
    static value_type make(const event& e) { return owned_event::from(e); }
};

}  // namespace neutrino::core
