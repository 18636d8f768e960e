#pragma once
/// \file
/// `render_report`: a self-contained HTML page (no scripts, no network, inline SVG) from a
/// `jsonl_observer` event log (`neutrino-monitor report`). Per session: a time-sequence diagram
/// (packet number over time; sent, received, retransmitted, lost marked), goodput over time,
/// RTT over time (when a layer reported samples), and a table of counters. Every plotted series
/// is an SVG element with `class="series"`, `data-series="<name>"` and `data-count="<points>"`,
/// so tests and scripts can check what was drawn. The page is well-formed XML (XHTML syntax).

#include <string>
#include <string_view>
#include <vector>

namespace neutrino::monitor {

/// Renders `jsonl` (one event object per line). Lines that are not such objects are skipped and
/// described in `problems` (with their line number). `title` heads the page.
[[nodiscard]] std::string render_report(std::string_view jsonl, std::string_view title,
                                        std::vector<std::string>* problems = nullptr);

}  // namespace neutrino::monitor
