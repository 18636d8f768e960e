#pragma once
/// \file
/// Configuration and counters of the extended layer.  spec: neutrino.md §13.3

#include <cstddef>
#include <cstdint>
#include <limits>

#include "neutrino/core/dialect.hpp"
#include "neutrino/reliable/config.hpp"

namespace neutrino::extended {

/// NeutrinoExtended's dialect of the core wire (id 2): reliable's, with DATA payloads passed up
/// raw (u16/u32 word lists or fragments, judged by this layer).  spec: neutrino.md §13.3
inline constexpr core::dialect wire_dialect = [] {
    core::dialect d = reliable::wire_dialect;
    d.id = 2;
    d.raw_data = true;
    return d;
}();

/// Bounds of one extended endpoint. Memory held for messages is at most
/// `max_queued_bytes` per session on the send side and `max_reassembly_bytes` in total on the
/// receive side (whole-message delivery; streamed messages hold one fragment at a time).
struct config {
    /// The largest encoded message (u16 count + u32 sizes + words) sent or accepted. A series
    /// announcing more is refused before anything is buffered.
    std::size_t max_message_size = std::size_t{16} << 20;
    /// Bytes of messages accepted by `send` and not yet handed to the reliable layer, per
    /// session; `send` returns would_block beyond it (a single message may always be queued
    /// when nothing else is).
    std::size_t max_queued_bytes = std::size_t{32} << 20;
    /// Bytes reserved for partial messages across all sessions of the endpoint; a series that
    /// would exceed it is refused with errc::reassembly_budget.
    std::size_t max_reassembly_bytes = std::size_t{64} << 20;
    /// Messages whose announced size (fragments × fragment size) is above this are delivered
    /// in order as they arrive (`message_part` events) instead of whole. Default: never.
    std::size_t stream_above = std::numeric_limits<std::size_t>::max();
};

/// What the extended layer did (per endpoint, all sessions).
struct stats {
    std::uint64_t messages_sent = 0;       ///< messages fully handed to the reliable layer
    std::uint64_t fragments_sent = 0;      ///< DATA packets with keyword ≥ 1
    std::uint64_t messages_received = 0;   ///< messages delivered whole or completely streamed
    std::uint64_t fragments_received = 0;  ///< DATA packets with keyword ≥ 1 accepted in a series
    std::uint64_t messages_failed = 0;     ///< series refused or broken (each reported)
    std::size_t max_reassembly_bytes = 0;  ///< high-water mark of bytes reserved for reassembly
    std::size_t max_queued_bytes = 0;      ///< high-water mark of queued send bytes (one session)
};

}  // namespace neutrino::extended
