#include "neutrino/monitor/decrypt.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <set>

#include "neutrino/core/wire_v2.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"

namespace neutrino::monitor {
namespace {

constexpr std::size_t max_problems = 1000;

void note(decrypt_stats& st, std::string m) {
    if (st.problems.size() < max_problems) {
        st.problems.push_back(std::move(m));
    } else if (st.problems.size() == max_problems) {
        st.problems.emplace_back("further problems not listed");
    }
}

std::string sid_hex(std::uint64_t sid) {
    std::array<char, 20> b{};
    std::snprintf(b.data(), b.size(), "%016llx", static_cast<unsigned long long>(sid));
    return b.data();
}

}  // namespace

decrypt_stats decrypt_capture(std::span<const std::byte> in, key_log keys, pcapng_writer& out) {
    decrypt_stats st;
    // Pass 1: embedded key logs (a DSB may follow the packets it opens).
    {
        pcapng_reader r(in);
        while (auto rec = r.next()) {
            if (rec->what == pcapng_record::kind::secrets &&
                rec->secrets_type == pcapng::secrets_neutrino_key_log) {
                std::vector<std::string> p;
                keys.parse({reinterpret_cast<const char*>(rec->data.data()), rec->data.size()}, &p);
                for (auto& m : p) note(st, "embedded secrets: " + m);
            }
        }
    }
    // Pass 2: copy, decrypting what opens.
    pcapng_reader r(in);
    std::vector<std::uint32_t> iface_map;  // input interface id → output id (this section)
    std::uint32_t decrypted_iface = 0;
    bool have_decrypted_iface = false;
    std::set<std::uint64_t> unknown_sessions;
    std::array<std::byte, core::max_datagram_size> scratch{};
    std::vector<std::byte> payload;
    payload.reserve(core::max_datagram_size + decrypted_marker.size());
    std::uint64_t record = 0;

    while (auto rec = r.next()) {
        switch (rec->what) {
            case pcapng_record::kind::problem:
                ++st.bad_records;
                note(st, rec->message);
                continue;
            case pcapng_record::kind::section: iface_map.clear(); continue;
            case pcapng_record::kind::interface:
                iface_map.push_back(out.add_interface("", rec->linktype));
                continue;
            case pcapng_record::kind::secrets: continue;
            case pcapng_record::kind::packet: break;
        }
        ++st.packets;
        ++record;
        const std::uint32_t iface = rec->interface_id < iface_map.size() ? iface_map[rec->interface_id] : 0;
        auto copy = [&] {
            out.write_packet(iface, rec->timestamp_ns, rec->data, rec->original_size, rec->comment);
        };
        auto udp = parse_udp(rec->linktype, rec->data);
        if (!udp) {
            copy();
            continue;
        }
        auto h = core::clear_header::parse(udp->payload);
        if (!h || h->version != core::wire::v2::version) {
            copy();
            continue;
        }
        ++st.neutrino;
        const std::string where = "packet " + std::to_string(record) + " (block at " +
                                  std::to_string(rec->offset) + ")";
        if (h->type == static_cast<std::uint8_t>(core::packet_type::client_hello1)) {
            ++st.clear;
            copy();
            continue;
        }
        const session_secrets* s = keys.find(h->session_id);
        if (s == nullptr) {
            ++st.no_key;
            if (unknown_sessions.insert(h->session_id).second) {
                note(st, where + ": no key for session " + sid_hex(h->session_id) +
                             " (further packets of it not listed)");
            }
            copy();
            continue;
        }
        std::optional<core::opened_packet> opened;
        std::string_view label;
        for (const auto& [key, name] : {std::pair{&s->c2s, key_label_c2s}, std::pair{&s->s2c, key_label_s2c}}) {
            if (!key->has_value()) continue;
            auto p = core::wire::v2::open(udp->payload, *h, **key, scratch);
            if (p) {
                opened = *p;
                label = name;
                break;
            }
        }
        if (!opened) {
            ++st.failed;
            note(st, where + ": session " + sid_hex(h->session_id) + ": " +
                         std::to_string(udp->payload.size()) +
                         "-byte datagram does not open with the session's keys (corrupt, truncated or "
                         "foreign); copied as is");
            copy();
            continue;
        }
        ++st.decrypted;
        const auto plain = opened->plaintext;  // clear header ‖ protected part
        payload.assign(plain.begin(), plain.begin() + core::clear_header_size);
        const auto marker = std::as_bytes(std::span(decrypted_marker.data(), decrypted_marker.size()));
        payload.insert(payload.end(), marker.begin(), marker.end());
        payload.insert(payload.end(), plain.begin() + core::clear_header_size, plain.end());
        if (!have_decrypted_iface) {
            decrypted_iface = out.add_interface("neutrino-decrypted", pcapng::linktype_raw);
            have_decrypted_iface = true;
        }
        std::vector<std::byte> frame;
        if (!build_udp_packet(frame, udp->src, udp->dst, payload)) {
            copy();
            continue;
        }
        const std::string comment = "neutrino: decrypted with " + std::string(label) + " of session " +
                                    sid_hex(h->session_id) + "; datagram was " +
                                    std::to_string(udp->payload.size()) + " bytes";
        out.write_packet(decrypted_iface, rec->timestamp_ns, frame,
                         static_cast<std::uint32_t>(frame.size()), comment);
    }
    return st;
}

}  // namespace neutrino::monitor
