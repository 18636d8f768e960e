// neutrino-monitor: offline tools for captures and event logs.
//
//   neutrino-monitor decrypt --keylog K in.pcapng out.pcapng   decrypt Neutrino and QOTP for the
//                                                              Lua dissectors
//   neutrino-monitor report events.jsonl -o report.html        HTML page with inline SVG
//   neutrino-monitor summary in.pcapng                         datagrams per session and type
//
// Exit status: 0 on success (bad records are reported on stderr and skipped), 1 when an input
// cannot be read or an output cannot be written, 2 on bad usage.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "neutrino/core/wire_v2.hpp"
#include "neutrino/monitor/decrypt.hpp"
#include "neutrino/monitor/describe.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"
#include "neutrino/monitor/report.hpp"

namespace nm = neutrino::monitor;
namespace nc = neutrino::core;

namespace {

std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> b(c.size());
    if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
    return b;
}

int decrypt(const std::string& keylog, const std::string& in_path, const std::string& out_path) {
    nm::key_log keys;
    std::vector<std::string> problems;
    if (!keylog.empty()) keys.load(keylog, &problems);
    for (const auto& p : problems) fmt::print(stderr, "{}: {}\n", keylog, p);
    const auto in = read_file(in_path);
    nm::pcapng_writer out(out_path);
    const auto st = nm::decrypt_capture(in, std::move(keys), out);
    for (const auto& p : st.problems) fmt::print(stderr, "{}: {}\n", in_path, p);
    fmt::print(stderr,
               "{}: {} packets, {} Neutrino datagrams: {} decrypted, {} clear, {} without key, {} "
               "failed; {} bad records\n",
               in_path, st.packets, st.neutrino, st.decrypted, st.clear, st.no_key, st.failed,
               st.bad_records);
    if (st.v3 != 0) {
        fmt::print(stderr, "{}: {} of them wire v3, key phases up to {}\n", in_path, st.v3, st.max_phase);
    }
    if (st.qotp != 0) {
        fmt::print(
            stderr, "{}: {} QOTP datagrams: {} decrypted, {} clear, {} without key, {} failed\n",
            in_path, st.qotp, st.qotp_decrypted, st.qotp_clear, st.qotp_no_key, st.qotp_failed);
    }
    return 0;
}

int report(const std::string& in_path, const std::string& out_path, const std::string& title) {
    const auto in = read_file(in_path);
    std::vector<std::string> problems;
    const std::string html = nm::render_report(
        {reinterpret_cast<const char*>(in.data()), in.size()}, title.empty() ? in_path : title, &problems);
    for (const auto& p : problems) fmt::print(stderr, "{}: {}\n", in_path, p);
    std::ofstream out(out_path, std::ios::binary);
    out << html;
    if (!out) throw std::runtime_error("cannot write " + out_path);
    return 0;
}

int summary(const std::string& in_path) {
    const auto in = read_file(in_path);
    nm::pcapng_reader r(in);
    struct counts {
        std::map<std::string, std::uint64_t> by_type;
        std::uint64_t datagrams = 0, bytes = 0;
    };
    std::map<std::uint64_t, counts> sessions;
    std::uint64_t packets = 0, other = 0;
    while (auto rec = r.next()) {
        if (rec->what == nm::pcapng_record::kind::problem) {
            fmt::print(stderr, "{}: {}\n", in_path, rec->message);
            continue;
        }
        if (rec->what != nm::pcapng_record::kind::packet) continue;
        ++packets;
        auto udp = nm::parse_udp(rec->linktype, rec->data);
        if (!udp) {
            ++other;
            continue;
        }
        auto h = nc::clear_header::parse(udp->payload);
        const nm::protocol_description* d = h ? nm::neutrino_description(h->version) : nullptr;
        if (d == nullptr) {
            ++other;
            continue;
        }
        auto& c = sessions[h->session_id];
        ++c.datagrams;
        c.bytes += udp->payload.size();
        const auto code = static_cast<std::uint8_t>(h->type & ~d->flag_mask);
        ++c.by_type[std::string(d->type_name(code))];
    }
    fmt::print("{} packets, {} not Neutrino\n", packets, other);
    for (const auto& [sid, c] : sessions) {
        fmt::print("session {:016x}: {} datagrams, {} bytes;", sid, c.datagrams, c.bytes);
        for (const auto& [t, n] : c.by_type) fmt::print(" {} {}", t, n);
        fmt::print("\n");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"neutrino-monitor: decrypt captures, render event-log reports, summarise captures"};
    app.require_subcommand(1);
    std::string keylog, in, out, title;

    auto* dec = app.add_subcommand("decrypt",
                                   "decrypt a pcapng capture with a key log (Neutrino and QOTP; "
                                   "for tools/wireshark/neutrino.lua and qotp.lua)");
    dec->add_option(
        "--keylog", keylog,
        "key log (NEUTRINO2_C2S/S2C, NEUTRINO3_C2S_0/S2C_0 lines, later v3 key phases are derived; "
        "QOTP_SHARED_SECRET[_ID] lines); secrets embedded in the capture are used too");
    dec->add_option("input", in, "input capture (pcapng)")->required();
    dec->add_option("output", out, "output capture (pcapng)")->required();

    auto* rep = app.add_subcommand("report", "render a JSON-lines event log as a self-contained HTML page");
    rep->add_option("input", in, "event log (JSON lines from jsonl_observer)")->required();
    rep->add_option("-o,--output", out, "HTML file to write")->required();
    rep->add_option("--title", title, "page title (default: the input's name)");

    auto* sum = app.add_subcommand("summary", "count datagrams per session and packet type in a capture");
    sum->add_option("input", in, "capture (pcapng)")->required();

    CLI11_PARSE(app, argc, argv);
    try {
        if (dec->parsed()) return decrypt(keylog, in, out);
        if (rep->parsed()) return report(in, out, title);
        if (sum->parsed()) return summary(in);
    } catch (const std::exception& e) {
        fmt::print(stderr, "neutrino-monitor: {}\n", e.what());
        return 1;
    }
    return 2;
}
