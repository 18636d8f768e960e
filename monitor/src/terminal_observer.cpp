#include "neutrino/monitor/terminal_observer.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdarg>
#include <map>

#include "neutrino/core/error.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"

namespace neutrino::monitor {

struct terminal_observer::state {
    struct session {
        std::uint64_t tx_datagrams = 0, tx_bytes = 0, rx_datagrams = 0, rx_bytes = 0;
        std::uint64_t lost = 0, retransmitted = 0;  // in the current interval
        std::uint64_t refused_amplification = 0, refused_requests = 0, refused_migration = 0;  // in total
        std::uint64_t total_lost = 0, total_rx = 0;
        std::uint64_t highest_pn = 0;
        duration rtt{};
        bool has_rtt = false;
        bool active = false;
    };

    terminal_options opt;
    bool colour = false;
    time_point start{};
    bool started = false;
    time_point next_summary{};
    int role = -1;  // learnt from the first packet: 0 client, 1 server
    std::size_t last_datagram_size = 0;
    std::map<std::uint64_t, session> sessions;
    std::string line;

    void begin(time_point now) {
        if (!started) {
            started = true;
            start = now;
            next_summary = now + opt.summary_interval;
        }
    }
    bool wants(event_kind k) const { return (opt.events & static_cast<std::uint32_t>(k)) != 0; }
    bool wants_type(std::uint8_t t) const {
        return opt.types.empty() || std::find(opt.types.begin(), opt.types.end(), t) != opt.types.end();
    }
    bool wants_session(std::uint64_t sid) const {
        return opt.sessions.empty() ||
               std::find(opt.sessions.begin(), opt.sessions.end(), sid) != opt.sessions.end();
    }

    void append(std::string_view s) { line.append(s); }
    void appendf(const char* format, ...) __attribute__((format(printf, 2, 3))) {
        std::array<char, 256> b{};
        va_list args;
        va_start(args, format);
        const int n = std::vsnprintf(b.data(), b.size(), format, args);
        va_end(args);
        if (n > 0) line.append(b.data(), std::min(static_cast<std::size_t>(n), b.size() - 1));
    }
    void colour_on(const char* code) {
        if (colour) line.append(code);
    }
    void colour_off() {
        if (colour) line.append("\x1b[0m");
    }

    void head(int side, std::string_view tag, const char* tag_colour, time_point now) {
        line.clear();
        colour_on("\x1b[1m");
        append(side == 0 ? "Client " : side == 1 ? "Server " : "       ");
        colour_off();
        colour_on(tag_colour);
        appendf("%-6.*s", static_cast<int>(tag.size()), tag.data());
        colour_off();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
        appendf(" %6lld.%03lld ", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
    }

    void session_field(std::uint64_t sid) {
        const std::string_view label = opt.protocol->session_label(sid);
        if (!label.empty()) {
            appendf(" session=%.*s (%llu)", static_cast<int>(label.size()), label.data(),
                    static_cast<unsigned long long>(sid));
        } else {
            appendf(" session=%016llx", static_cast<unsigned long long>(sid));
        }
    }

    void word_field(core::word w) {
        const std::string_view s = core::as_string(w);
        const bool printable = std::all_of(s.begin(), s.end(), [](char c) {
            return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F;
        });
        const std::size_t cut = opt.word_cut;
        auto emit = [&](std::size_t from, std::size_t n) {
            if (printable) {
                line.append(s.substr(from, n));
            } else {
                for (std::size_t i = from; i < from + n; ++i) {
                    appendf("%02x", static_cast<unsigned>(static_cast<unsigned char>(s[i])));
                }
            }
        };
        append(printable ? "\"" : "0x");
        if (s.size() > 2 * cut) {
            emit(0, cut);
            append("...");
            emit(s.size() - cut, cut);
        } else {
            emit(0, s.size());
        }
        if (printable) append("\"");
    }

    template <class Words>
    void words_field(const Words& words) {
        append(" words=[");
        std::size_t i = 0;
        for (core::word w : words) {
            if (i == opt.max_words) {
                appendf(", ... %zu more", static_cast<std::size_t>(std::size(words)) - i);
                break;
            }
            if (i++ != 0) append(", ");
            word_field(w);
        }
        append("]");
    }

    void packet_line(std::string_view tag, const char* tag_colour, const core::packet_info& info,
                     std::size_t size, time_point now, bool received) {
        const auto code = static_cast<std::uint8_t>(info.type);
        head(static_cast<int>(info.side), tag, tag_colour, now);
        const std::string_view name = opt.protocol->type_name(code);
        colour_on("\x1b[36m");
        appendf("%.*s (0x%02x)", static_cast<int>(name.size()), name.data(), unsigned{code});
        colour_off();
        const std::string_view hs = opt.protocol->handshake_label(code);
        if (!hs.empty()) appendf(" %.*s", static_cast<int>(hs.size()), hs.data());
        session_field(info.session_id);
        const std::uint64_t base = opt.protocol->unnumbered_base;
        if (base != 0 && info.packet_number >= base) {
            appendf(" size=%zu pn=u%llu keyword=%u", size,
                    static_cast<unsigned long long>(info.packet_number - base), unsigned{info.keyword});
        } else {
            appendf(" size=%zu pn=%llu keyword=%u", size,
                    static_cast<unsigned long long>(info.packet_number), unsigned{info.keyword});
        }
        if (received) {
            words_field(info.words);
        } else {
            words_field(info.sent_words);
        }
        emit();
    }

    void emit() {
        line.push_back('\n');
        (void)std::fwrite(line.data(), 1, line.size(), opt.out);
    }

    void summary(time_point now) {
        if (!started || now < next_summary) return;
        const double seconds =
            std::chrono::duration<double>(opt.summary_interval + (now - next_summary)).count();
        next_summary = now + opt.summary_interval;
        if (!wants(event_kind::summary)) return;
        for (auto& [sid, s] : sessions) {
            if (!s.active) continue;
            if (wants_session(sid)) {
                head(role, "STATS", "\x1b[35m", now);
                appendf("session=%016llx", static_cast<unsigned long long>(sid));
                appendf(" tx %.1f dg/s %.1f kB/s rx %.1f dg/s %.1f kB/s",
                        static_cast<double>(s.tx_datagrams) / seconds,
                        static_cast<double>(s.tx_bytes) / seconds / 1000.0,
                        static_cast<double>(s.rx_datagrams) / seconds,
                        static_cast<double>(s.rx_bytes) / seconds / 1000.0);
                const double expected = static_cast<double>(s.total_rx + s.total_lost);
                appendf(" lost %llu (%.2f%% total) retr %llu",
                        static_cast<unsigned long long>(s.lost),
                        expected > 0 ? 100.0 * static_cast<double>(s.total_lost) / expected : 0.0,
                        static_cast<unsigned long long>(s.retransmitted));
                if (s.has_rtt) {
                    appendf(" rtt %.3f ms", std::chrono::duration<double, std::milli>(s.rtt).count());
                } else {
                    append(" rtt -");
                }
                if (s.refused_amplification + s.refused_requests + s.refused_migration > 0) {
                    // spec: issue #11: what was held back (3x budget, request budget, migrations)
                    appendf(" refused amp %llu req %llu mig %llu",
                            static_cast<unsigned long long>(s.refused_amplification),
                            static_cast<unsigned long long>(s.refused_requests),
                            static_cast<unsigned long long>(s.refused_migration));
                }
                emit();
            }
            const auto keep_rx = s.total_rx, keep_lost = s.total_lost, keep_pn = s.highest_pn;
            const auto keep_rtt = s.rtt;
            const bool keep_has = s.has_rtt;
            const auto keep_amp = s.refused_amplification, keep_req = s.refused_requests,
                       keep_mig = s.refused_migration;
            s = session{};
            s.refused_amplification = keep_amp;
            s.refused_requests = keep_req;
            s.refused_migration = keep_mig;
            s.total_rx = keep_rx;
            s.total_lost = keep_lost;
            s.highest_pn = keep_pn;
            s.rtt = keep_rtt;
            s.has_rtt = keep_has;
        }
    }
};

terminal_observer::terminal_observer(terminal_options options) : s_(std::make_shared<state>()) {
    s_->opt = std::move(options);
    if (s_->opt.out == nullptr) s_->opt.out = stdout;
    using mode = terminal_options::colour_mode;
    s_->colour = s_->opt.colour == mode::always ||
                 (s_->opt.colour == mode::automatic && ::isatty(::fileno(s_->opt.out)) != 0);
    s_->line.reserve(512);
}

void terminal_observer::on_datagram_received(std::span<const std::byte> wire, const peer_address&,
                                             time_point now) {
    s_->begin(now);
    s_->last_datagram_size = wire.size();
}

void terminal_observer::on_packet_received(const core::packet_info& info, time_point now) {
    auto& s = *s_;
    s.begin(now);
    s.role = static_cast<int>(info.side);
    if (s.opt.protocol->session_label(info.session_id).empty()) {
        auto& st = s.sessions[info.session_id];
        st.active = true;
        ++st.rx_datagrams;
        st.rx_bytes += s.last_datagram_size;
        if (s.opt.protocol->is_sequenced(info.packet_number)) {
            ++st.total_rx;
            if (st.highest_pn == 0) {
                st.highest_pn = info.packet_number;
            } else if (info.packet_number > st.highest_pn) {
                const auto gap = info.packet_number - st.highest_pn - 1;
                st.lost += gap;
                st.total_lost += gap;
                st.highest_pn = info.packet_number;
            } else if (st.total_lost > 0) {  // late: it was reordered, not lost
                --st.total_lost;
                if (st.lost > 0) --st.lost;
            }
        }
    }
    if (s.wants(event_kind::recv) && s.wants_type(static_cast<std::uint8_t>(info.type)) &&
        s.wants_session(info.session_id)) {
        s.packet_line("RECV", "\x1b[32m", info, info.wire.size(), now, true);
    }
    s.summary(now);
}

void terminal_observer::on_packet_sent(const core::packet_info& info, time_point now) {
    auto& s = *s_;
    s.begin(now);
    s.role = static_cast<int>(info.side);
    if (s.opt.protocol->session_label(info.session_id).empty()) {
        auto& st = s.sessions[info.session_id];
        st.active = true;
        ++st.tx_datagrams;
        st.tx_bytes += info.wire.size();
    }
    if (s.wants(event_kind::send) && s.wants_type(static_cast<std::uint8_t>(info.type)) &&
        s.wants_session(info.session_id)) {
        s.packet_line("SEND", "\x1b[34m", info, info.wire.size(), now, false);
    }
    s.summary(now);
}

void terminal_observer::on_dropped(std::error_code reason, const peer_address& from,
                                   std::size_t size, time_point now) {
    auto& s = *s_;
    s.begin(now);
    if (s.wants(event_kind::drop) && s.opt.sessions.empty()) {
        const bool duplicate = reason == core::condition::replayed;
        s.head(s.role, duplicate ? "DUPLIC" : "DROP", "\x1b[31m", now);
        const std::string msg = reason.message();
        s.appendf("from=%s size=%zu reason=%s", to_string(from).c_str(), size, msg.c_str());
        s.emit();
    }
    s.summary(now);
}

void terminal_observer::on_session_state(std::uint64_t session_id, const peer_address& peer,
                                         core::session_state from, core::session_state to,
                                         time_point now) {
    static constexpr std::array<const char*, 5> names{"none", "pending", "established", "draining",
                                                      "closed"};
    auto& s = *s_;
    s.begin(now);
    if (s.wants(event_kind::state) && s.wants_session(session_id)) {
        s.head(s.role, "STATUS", "\x1b[33m", now);
        s.line.pop_back();  // session_field starts with its own space
        s.session_field(session_id);
        s.appendf(" peer=%s %s -> %s", to_string(peer).c_str(),
                  names.at(static_cast<std::size_t>(from)), names.at(static_cast<std::size_t>(to)));
        s.emit();
    }
    if (to == core::session_state::closed) s.sessions.erase(session_id);
    s.summary(now);
}

void terminal_observer::on_packet_lost(std::uint64_t session_id, core::role side,
                                       std::uint64_t packet_number, time_point now) {
    auto& s = *s_;
    s.begin(now);
    if (s.wants(event_kind::lost) && s.wants_session(session_id)) {
        s.head(static_cast<int>(side), "LOST", "\x1b[31m", now);
        s.line.pop_back();
        s.session_field(session_id);
        s.appendf(" pn=%llu", static_cast<unsigned long long>(packet_number));
        s.emit();
    }
    s.summary(now);
}

void terminal_observer::on_packet_retransmitted(const core::packet_info& info, time_point now) {
    auto& s = *s_;
    s.begin(now);
    if (s.opt.protocol->session_label(info.session_id).empty()) {
        ++s.sessions[info.session_id].retransmitted;
    }
    if (s.wants(event_kind::retransmit) && s.wants_type(static_cast<std::uint8_t>(info.type)) &&
        s.wants_session(info.session_id)) {
        s.packet_line("RETR", "\x1b[33m", info, info.wire.size(), now, false);
    }
    s.summary(now);
}

void terminal_observer::on_rtt_sample(std::uint64_t session_id, core::role, duration rtt,
                                      time_point now) {
    auto& s = *s_;
    s.begin(now);
    auto& st = s.sessions[session_id];
    st.rtt = rtt;
    st.has_rtt = true;
    s.summary(now);
}

void terminal_observer::on_refused(std::uint64_t session_id, core::role, core::refusal what,
                                   const peer_address&, time_point now) {
    auto& s = *s_;
    s.begin(now);
    auto& st = s.sessions[session_id];
    switch (what) {
        case core::refusal::amplification_budget: ++st.refused_amplification; break;
        case core::refusal::request_budget: ++st.refused_requests; break;
        case core::refusal::migration: ++st.refused_migration; break;
    }
    s.summary(now);
}

void terminal_observer::tick(time_point now) {
    s_->begin(now);
    s_->summary(now);
    std::fflush(s_->opt.out);
}

std::string apply_filter(std::string_view spec, terminal_options& options) {
    auto items = [](std::string_view list, auto&& f) -> std::string {
        while (!list.empty()) {
            const auto comma = list.find(',');
            const auto item = list.substr(0, comma);
            list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
            if (item.empty()) continue;
            if (auto e = f(item); !e.empty()) return e;
        }
        return {};
    };
    while (!spec.empty()) {
        const auto space = spec.find(' ');
        const auto clause = spec.substr(0, space);
        spec.remove_prefix(space == std::string_view::npos ? spec.size() : space + 1);
        if (clause.empty()) continue;
        const auto eq = clause.find('=');
        if (eq == std::string_view::npos) return "filter clause '" + std::string(clause) + "' has no '='";
        const auto key = clause.substr(0, eq), value = clause.substr(eq + 1);
        std::string err;
        if (key == "types" || key == "type") {
            err = items(value, [&](std::string_view item) -> std::string {
                for (unsigned c = 0; c < 256; ++c) {
                    if (options.protocol->type_name(static_cast<std::uint8_t>(c)) == item) {
                        options.types.push_back(static_cast<std::uint8_t>(c));
                        return {};
                    }
                }
                unsigned code = 0;
                const int base = item.starts_with("0x") ? 16 : 10;
                const auto digits = base == 16 ? item.substr(2) : item;
                auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code, base);
                if (ec != std::errc{} || p != digits.data() + digits.size() || code > 255) {
                    return "unknown packet type '" + std::string(item) + "'";
                }
                options.types.push_back(static_cast<std::uint8_t>(code));
                return {};
            });
        } else if (key == "sessions" || key == "session") {
            err = items(value, [&](std::string_view item) -> std::string {
                std::uint64_t sid = 0;
                auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), sid, 16);
                if (ec != std::errc{} || p != item.data() + item.size()) {
                    return "bad session id '" + std::string(item) + "' (hex expected)";
                }
                options.sessions.push_back(sid);
                return {};
            });
        } else if (key == "events" || key == "event") {
            options.events = 0;
            err = items(value, [&](std::string_view item) -> std::string {
                static constexpr std::array<std::pair<std::string_view, event_kind>, 7> names{{
                    {"send", event_kind::send}, {"recv", event_kind::recv},
                    {"drop", event_kind::drop}, {"state", event_kind::state},
                    {"retr", event_kind::retransmit}, {"lost", event_kind::lost},
                    {"summary", event_kind::summary}}};
                for (const auto& [n, k] : names) {
                    if (n == item) {
                        options.events |= static_cast<std::uint32_t>(k);
                        return {};
                    }
                }
                return "unknown event kind '" + std::string(item) + "'";
            });
        } else {
            return "unknown filter key '" + std::string(key) + "' (types, sessions, events)";
        }
        if (!err.empty()) return err;
    }
    return {};
}

}  // namespace neutrino::monitor
