#include "neutrino/monitor/report.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

namespace neutrino::monitor {
namespace {

// One flat JSON object: string and number values (what jsonl_observer writes).
using object = std::map<std::string, std::string, std::less<>>;

std::optional<object> parse_object(std::string_view s) {
    object o;
    std::size_t i = 0;
    auto ws = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    };
    auto str = [&]() -> std::optional<std::string> {
        if (i >= s.size() || s[i] != '"') return std::nullopt;
        ++i;
        std::string v;
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\') {
                if (++i >= s.size()) return std::nullopt;
                if (s[i] == 'u') {
                    if (s.size() - i < 5) return std::nullopt;
                    v.push_back('?');
                    i += 4;
                } else {
                    v.push_back(s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i]);
                }
            } else {
                v.push_back(s[i]);
            }
            ++i;
        }
        if (i >= s.size()) return std::nullopt;
        ++i;
        return v;
    };
    ws();
    if (i >= s.size() || s[i] != '{') return std::nullopt;
    ++i;
    ws();
    if (i < s.size() && s[i] == '}') return o;
    while (true) {
        ws();
        auto k = str();
        if (!k) return std::nullopt;
        ws();
        if (i >= s.size() || s[i] != ':') return std::nullopt;
        ++i;
        ws();
        std::string v;
        if (i < s.size() && s[i] == '"') {
            auto sv = str();
            if (!sv) return std::nullopt;
            v = *sv;
        } else {
            const std::size_t start = i;
            while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ') ++i;
            v = std::string(s.substr(start, i - start));
            if (v.empty()) return std::nullopt;
        }
        o[*k] = v;
        ws();
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == '}') {
            ++i;
            ws();
            return i == s.size() ? std::optional(o) : std::nullopt;
        }
        return std::nullopt;
    }
}

template <class T>
T number(const object& o, std::string_view key, T fallback = 0) {
    auto it = o.find(key);
    if (it == o.end()) return fallback;
    T v{};
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    return ec == std::errc{} ? v : fallback;
}

std::string get(const object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? std::string{} : it->second;
}

std::string escape(std::string_view s) {
    std::string r;
    for (char c : s) {
        switch (c) {
            case '<': r += "&lt;"; break;
            case '>': r += "&gt;"; break;
            case '&': r += "&amp;"; break;
            case '"': r += "&quot;"; break;
            default: r.push_back(c);
        }
    }
    return r;
}

std::string num(double v) {
    std::array<char, 32> b{};
    std::snprintf(b.data(), b.size(), "%.6g", v);
    return b.data();
}

struct point {
    double x, y;
};

struct series {
    std::string name;
    std::string colour;
    bool marks = true;  // marks (sequence) or a line
    std::vector<point> points;
};

struct session_data {
    std::map<std::string, series> seq;  // by series name
    std::map<std::string, std::map<long long, double>> goodput_bins;  // role → bin → bytes
    std::map<std::string, series> rtt;
    std::map<std::string, series> window;  // cwnd-<role>, inflight-<role> (kB)
    std::map<std::string, series> pacing;  // pacing-<role> (kB/s)
    std::map<std::string, std::string> cc_state;  // role → the controller's last state
    std::map<std::string, std::uint64_t> counters;
    std::map<std::string, std::uint64_t> highest_pn;  // per receiving role
    std::vector<std::string> states;
};

constexpr double plot_w = 640, plot_h = 220, margin = 46;

std::string plot(const std::string& heading, const std::vector<const series*>& all,
                 const std::string& x_label, const std::string& y_label) {
    double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
    for (const series* s : all) {
        for (const point& p : s->points) {
            x0 = std::min(x0, p.x);
            x1 = std::max(x1, p.x);
            y0 = std::min(y0, p.y);
            y1 = std::max(y1, p.y);
        }
    }
    if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (x1 - x0 < 1e-9) x1 = x0 + 1;
    if (y1 - y0 < 1e-9) y1 = y0 + 1;
    auto sx = [&](double x) { return margin + (x - x0) / (x1 - x0) * (plot_w - 2 * margin); };
    auto sy = [&](double y) { return plot_h - margin + -(y - y0) / (y1 - y0) * (plot_h - 2 * margin); };
    std::string o = "<h3>" + escape(heading) + "</h3>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    num(plot_w) + "\" height=\"" + num(plot_h) + "\" viewBox=\"0 0 " + num(plot_w) + " " +
                    num(plot_h) + "\">\n";
    o += "<rect x=\"0\" y=\"0\" width=\"" + num(plot_w) + "\" height=\"" + num(plot_h) +
         "\" fill=\"#fff\" stroke=\"#ccc\"/>\n";
    o += "<line x1=\"" + num(margin) + "\" y1=\"" + num(plot_h - margin) + "\" x2=\"" + num(plot_w - margin) +
         "\" y2=\"" + num(plot_h - margin) + "\" stroke=\"#000\"/>\n";
    o += "<line x1=\"" + num(margin) + "\" y1=\"" + num(margin) + "\" x2=\"" + num(margin) + "\" y2=\"" +
         num(plot_h - margin) + "\" stroke=\"#000\"/>\n";
    o += "<text x=\"" + num(margin) + "\" y=\"" + num(plot_h - margin + 14) + "\" font-size=\"10\">" + num(x0) +
         "</text><text x=\"" + num(plot_w - margin) + "\" y=\"" + num(plot_h - margin + 14) +
         "\" font-size=\"10\" text-anchor=\"end\">" + num(x1) + "</text>\n";
    o += "<text x=\"" + num(plot_w / 2) + "\" y=\"" + num(plot_h - 8) + "\" font-size=\"11\" text-anchor=\"middle\">" +
         escape(x_label) + "</text>\n";
    o += "<text x=\"4\" y=\"" + num(margin - 6) + "\" font-size=\"10\">" + num(y1) + "</text><text x=\"4\" y=\"" +
         num(plot_h - margin) + "\" font-size=\"10\">" + num(y0) + "</text>\n";
    o += "<text x=\"4\" y=\"14\" font-size=\"11\">" + escape(y_label) + "</text>\n";
    double legend_x = margin + 60;
    for (const series* s : all) {
        o += "<g class=\"series\" data-series=\"" + escape(s->name) + "\" data-count=\"" +
             std::to_string(s->points.size()) + "\">";
        if (s->marks) {
            o += "<path fill=\"none\" stroke=\"" + s->colour + "\" stroke-width=\"1.5\" d=\"";
            for (const point& p : s->points) {
                if (s->name.starts_with("lost")) {  // a cross
                    o += "M" + num(sx(p.x) - 3) + " " + num(sy(p.y) - 3) + "l6 6m0 -6l-6 6";
                } else {
                    o += "M" + num(sx(p.x) - 1.5) + " " + num(sy(p.y)) + "h3";
                }
            }
            o += "\"/>";
        } else {
            o += "<polyline fill=\"none\" stroke=\"" + s->colour + "\" stroke-width=\"1.5\" points=\"";
            for (const point& p : s->points) o += num(sx(p.x)) + "," + num(sy(p.y)) + " ";
            o += "\"/>";
        }
        o += "</g>\n";
        o += "<text x=\"" + num(legend_x) + "\" y=\"14\" font-size=\"11\" fill=\"" + s->colour + "\">" +
             escape(s->name) + "</text>\n";
        legend_x += 9.0 * static_cast<double>(s->name.size()) + 12;
    }
    o += "</svg>\n";
    return o;
}

}  // namespace

std::string render_report(std::string_view jsonl, std::string_view title,
                          std::vector<std::string>* problems) {
    std::map<std::string, session_data> sessions;
    std::map<std::string, std::uint64_t> drops;  // reason → count
    std::vector<object> events;
    std::size_t line_no = 0;
    long long t0 = 0;
    bool have_t0 = false;
    while (!jsonl.empty()) {
        ++line_no;
        const auto nl = jsonl.find('\n');
        const auto line = jsonl.substr(0, nl);
        jsonl.remove_prefix(nl == std::string_view::npos ? jsonl.size() : nl + 1);
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        auto o = parse_object(line);
        if (!o || o->find("ev") == o->end() || o->find("t") == o->end()) {
            if (problems != nullptr) {
                problems->push_back("line " + std::to_string(line_no) + ": not an event object; skipped");
            }
            continue;
        }
        const auto t = number<long long>(*o, "t");
        if (!have_t0 || t < t0) t0 = t, have_t0 = true;
        events.push_back(std::move(*o));
    }
    constexpr double bin_s = 0.1;
    for (const object& e : events) {
        const double t = static_cast<double>(number<long long>(e, "t") - t0) / 1e9;
        const std::string ev = get(e, "ev"), role = get(e, "role"), sid = get(e, "sid");
        if (ev == "drop") {
            ++drops[get(e, "reason")];
            continue;
        }
        if (sid.empty() || sid == "0000000000000002" || sid == "0000000000000001") continue;
        session_data& s = sessions[sid];
        const double pn = static_cast<double>(number<std::uint64_t>(e, "pn"));
        const auto size = number<std::uint64_t>(e, "size");
        auto add = [&](const std::string& name, const char* colour, double y) {
            series& sr = s.seq[name];
            sr.name = name;
            sr.colour = colour;
            sr.points.push_back({t, y});
        };
        if (ev == "send") {
            add("send-" + role, role == "client" ? "#1f77b4" : "#9467bd", pn);
            ++s.counters[role + " packets sent"];
            s.counters[role + " bytes sent"] += size;
        } else if (ev == "recv") {
            add("recv-" + role, role == "client" ? "#2ca02c" : "#17becf", pn);
            ++s.counters[role + " packets received"];
            s.counters[role + " bytes received"] += size;
            if (get(e, "type") == "DATA") {
                // Goodput: decrypted DATA bytes minus the 26-byte headers.
                s.goodput_bins[role][static_cast<long long>(t / bin_s)] +=
                    static_cast<double>(size > 26 ? size - 26 : 0);
            }
            const auto p = number<std::uint64_t>(e, "pn");
            auto& hi = s.highest_pn[role];
            if (p >= 64) {  // sequenced numbers only; gaps are losses (or reordering)
                if (hi != 0 && p > hi + 1) {
                    for (std::uint64_t q = hi + 1; q < p && q < hi + 1 + 10000; ++q) {
                        add("lost-" + role, "#d62728", static_cast<double>(q));
                    }
                    s.counters[role + " gaps (lost or late)"] += p - hi - 1;
                }
                if (p > hi) hi = p;
            }
        } else if (ev == "retr") {
            add("retr-" + role, "#ff7f0e", pn);
            ++s.counters[role + " retransmissions"];
        } else if (ev == "lost") {
            add("lost-" + role, "#d62728", pn);
            ++s.counters[role + " packets lost"];
        } else if (ev == "rtt") {
            series& sr = s.rtt["rtt-" + role];
            sr.name = "rtt-" + role;
            sr.colour = "#e377c2";
            sr.marks = false;
            sr.points.push_back({t, static_cast<double>(number<long long>(e, "rtt_ns")) / 1e6});
        } else if (ev == "cc") {
            auto line = [&](std::map<std::string, series>& m, const std::string& name, const char* colour,
                            double y) {
                series& sr = m[name];
                sr.name = name;
                sr.colour = colour;
                sr.marks = false;
                sr.points.push_back({t, y});
            };
            const bool client = role == "client";
            line(s.window, "cwnd-" + role, client ? "#1f77b4" : "#9467bd",
                 static_cast<double>(number<std::uint64_t>(e, "cwnd")) / 1000.0);
            line(s.window, "inflight-" + role, client ? "#aec7e8" : "#c5b0d5",
                 static_cast<double>(number<std::uint64_t>(e, "inflight")) / 1000.0);
            line(s.pacing, "pacing-" + role, client ? "#1f77b4" : "#9467bd",
                 static_cast<double>(number<long long>(e, "pacing")) / 1000.0);
            const std::string cc = get(e, "cc_state");
            std::string& last = s.cc_state[role];
            if (!cc.empty() && cc != last) {
                s.states.push_back(num(t) + " s: " + role + " congestion control " + (last.empty() ? "" : last + " → ") + cc);
                last = cc;
            }
        } else if (ev == "state") {
            s.states.push_back(num(t) + " s: " + get(e, "from") + " → " + get(e, "to"));
        }
    }

    std::string o;
    o += "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
         "<meta charset=\"utf-8\"/>\n<title>" + escape(title) + "</title>\n"
         "<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{text-align:left}"
         "section{margin-bottom:2em}</style>\n</head>\n<body>\n";
    o += "<h1>" + escape(title) + "</h1>\n<p>" + std::to_string(events.size()) + " events, " +
         std::to_string(sessions.size()) + " sessions.</p>\n";
    for (auto& [sid, s] : sessions) {
        o += "<section class=\"session\" data-session=\"" + escape(sid) + "\">\n<h2>Session " + escape(sid) + "</h2>\n";
        std::vector<const series*> seq;
        for (auto& [n, sr] : s.seq) seq.push_back(&sr);
        o += plot("Time sequence (packet number over time)", seq, "time (s)", "packet number");
        std::map<std::string, series> goodput;
        for (auto& [role, bins] : s.goodput_bins) {
            series& sr = goodput[role];
            sr.name = "goodput-" + role;
            sr.colour = role == "client" ? "#2ca02c" : "#17becf";
            sr.marks = false;
            const long long first = bins.begin()->first, last = bins.rbegin()->first;
            for (long long b = first; b <= last; ++b) {
                auto it = bins.find(b);
                const double bytes = it == bins.end() ? 0.0 : it->second;
                sr.points.push_back({static_cast<double>(b) * bin_s, bytes / bin_s / 1000.0});
            }
        }
        std::vector<const series*> gp;
        for (auto& [n, sr] : goodput) gp.push_back(&sr);
        if (gp.empty()) {
            o += "<h3>Goodput</h3>\n<p class=\"empty\">No DATA received.</p>\n";
        } else {
            o += plot("Goodput (DATA payload received, kB/s, 100 ms bins)", gp, "time (s)", "kB/s");
        }
        std::vector<const series*> rt;
        for (auto& [n, sr] : s.rtt) rt.push_back(&sr);
        if (rt.empty()) {
            o += "<h3>RTT</h3>\n<p class=\"empty\">No RTT samples (this layer does not measure RTT).</p>\n";
        } else {
            o += plot("RTT (ms)", rt, "time (s)", "ms");
        }
        if (!s.window.empty()) {
            std::vector<const series*> w, pr;
            for (auto& [n, sr] : s.window) w.push_back(&sr);
            for (auto& [n, sr] : s.pacing) pr.push_back(&sr);
            o += plot("Congestion window and bytes in flight (kB)", w, "time (s)", "kB");
            o += plot("Pacing rate (kB/s; 0: unpaced)", pr, "time (s)", "kB/s");
        }
        o += "<h3>Counters</h3>\n<table class=\"counters\">\n";
        for (auto& [name, v] : s.counters) {
            o += "<tr><th>" + escape(name) + "</th><td>" + std::to_string(v) + "</td></tr>\n";
        }
        o += "</table>\n";
        if (!s.states.empty()) {
            o += "<h3>States</h3>\n<ul>\n";
            for (auto& st : s.states) o += "<li>" + escape(st) + "</li>\n";
            o += "</ul>\n";
        }
        o += "</section>\n";
    }
    o += "<section class=\"drops\">\n<h2>Dropped datagrams</h2>\n";
    if (drops.empty()) {
        o += "<p>None.</p>\n";
    } else {
        o += "<table class=\"drops\">\n";
        for (auto& [reason, n] : drops) {
            o += "<tr><th>" + escape(reason) + "</th><td>" + std::to_string(n) + "</td></tr>\n";
        }
        o += "</table>\n";
    }
    o += "</section>\n</body>\n</html>\n";
    return o;
}

}  // namespace neutrino::monitor
