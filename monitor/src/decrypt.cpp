#include "neutrino/monitor/decrypt.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "neutrino/core/v3/crypto.hpp"
#include "neutrino/core/v3/packet_protection.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"
#include "neutrino/qotp/message.hpp"
#include "neutrino/qotp/packet_protection.hpp"

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

/// One direction of a v3 session: `k[p]` for every phase derived so far (`k[p+1] =
/// REKEY(k[p])`) and the highest phase that opened a packet.  spec: neutrino-v3.md §11.1
class v3_direction {
public:
    explicit v3_direction(const core::secret_key& phase0) { keys_.push_back(phase0); }

    /// Opens `d` (parsed as `h`, phase bit `bit`) into `scratch`, trying the phases a receiver
    /// would (§11.3: current, next, previous) and then two further ahead, in case the capture
    /// misses every packet of a phase. Returns the phase that opened it.
    std::optional<std::uint64_t> open(std::span<const std::byte> d, const core::v3::transport_header& h,
                                      std::span<std::byte> scratch,
                                      std::optional<core::v3::opened_transport>& out) {
        const std::uint64_t r = phase_;
        const std::array<std::int64_t, 6> order{0, 1, -1, 2, 3, -2};
        for (const std::int64_t delta : order) {
            if (delta < 0 && r < static_cast<std::uint64_t>(-delta)) continue;
            const std::uint64_t p = r + static_cast<std::uint64_t>(delta);
            if ((p & 1U) != h.phase_bit) continue;
            auto o = core::v3::open_transport(d, h, key(p), scratch);
            if (!o) continue;
            out = *o;
            phase_ = std::max(phase_, p);
            return p;
        }
        return std::nullopt;
    }

private:
    const core::secret_key& key(std::uint64_t p) {
        while (keys_.size() <= p) keys_.push_back(core::v3::rekey(keys_.back()));
        return keys_[p];
    }
    std::vector<core::secret_key> keys_;
    std::uint64_t phase_ = 0;
};

struct v3_session {
    std::optional<v3_direction> c2s, s2c;
};

/// The transport header of a v3 datagram whichever role receives it (§4.5, §10.2).
std::optional<core::v3::transport_header> v3_transport_header(std::span<const std::byte> d) {
    for (const auto r : {core::v3::role::server, core::v3::role::client}) {
        if (auto h = core::v3::transport_header::parse(d, r)) return *h;
    }
    return std::nullopt;
}

std::string qotp_id_hex(std::uint64_t id) {
    std::array<char, 20> b{};
    std::snprintf(b.data(), b.size(), "%llx", static_cast<unsigned long long>(id));  // as §19
    return b.data();
}

/// The QOTP part of the decryptor: what it keeps across packets.
struct qotp_decryptor {
    static constexpr std::size_t max_datagram = 65535;
    std::set<std::uint64_t> unknown_ids;
    std::vector<std::byte> scratch = std::vector<std::byte>(max_datagram);

    /// Whether `d` is a QOTP datagram (type byte and the sizes of §4.6). For one, counts it and,
    /// when it opens, fills `payload` with the decrypted form (decrypt.hpp) and `opened` with
    /// the packet comment; `opened` stays empty when it is clear, has no key or does not open.
    bool handle(std::span<const std::byte> d, const key_log& keys, decrypt_stats& st,
                std::uint64_t record, std::size_t offset, std::vector<std::byte>& payload,
                std::optional<std::string>& opened) {
        opened.reset();
        auto where = [&] {
            return "packet " + std::to_string(record) + " (block at " + std::to_string(offset) +
                   ")";
        };
        const auto type = qotp::parse_type(d);
        if (!type) return false;
        if (*type == qotp::message_type::init_snd) {
            if (!qotp::parse_init_snd(d)) return false;  // spec: qotp.md §4.1, §4.6
            ++st.qotp;
            ++st.qotp_clear;
            return true;
        }
        const auto sealed = qotp::parse_sealed(d);  // spec: qotp.md §4.6 — the type's sizes
        if (!sealed || d.size() > scratch.size()) return false;
        ++st.qotp;
        const std::uint64_t id = sealed->id.value;
        const qotp_secrets* s = keys.find_qotp(id);
        if (s == nullptr) {
            ++st.qotp_no_key;
            // Only worth a word when the key log has QOTP secrets at all: other UDP traffic
            // may pass for QOTP.
            if (keys.qotp_size() != 0 && unknown_ids.insert(id).second) {
                note(st, where() + ": no QOTP secret for connection " + qotp_id_hex(id) +
                             " (further packets of it not listed)");
            }
            return true;
        }
        const bool zero_rtt = *type == qotp::message_type::init_crypto_snd;
        const auto& list = zero_rtt ? s->zero_rtt : s->session;
        std::array<const qotp::shared_secret*, max_qotp_secrets> candidates{};
        for (std::size_t i = 0; i < list.size(); ++i) candidates[i] = &list[i];
        const auto work = std::span<std::byte>(scratch).first(d.size());
        // spec: qotp.md §19 — Data from either side: try both direction bits.
        for (const auto from : {qotp::sender::initiator, qotp::sender::responder}) {
            std::copy(d.begin(), d.end(), work.begin());
            const auto o =
                qotp::open_message(work, std::span(candidates.data(), list.size()), from);
            if (!o) {
                if (*type != qotp::message_type::data) break;  // the type fixes the direction
                continue;
            }
            const auto clear = d.first(qotp::header_size(*type));
            const auto marker = std::as_bytes(
                std::span(qotp_decrypted_marker.data(), qotp_decrypted_marker.size()));
            payload.assign(clear.begin(), clear.end());
            payload.insert(payload.end(), marker.begin(), marker.end());
            for (std::size_t i = 0; i < qotp::sequence_number_size; ++i) {
                payload.push_back(static_cast<std::byte>(o->sequence_number >> (8 * i)));
            }
            payload.insert(payload.end(), o->payload.begin(), o->payload.end());
            const auto sender_bit = qotp::sender_of(*type, from);
            opened = "qotp: decrypted with " +
                     std::string(qotp::key_log_label_text(
                         zero_rtt ? qotp::key_log_label::zero_rtt : qotp::key_log_label::session)) +
                     (o->secret_index == 0 ? "" : " #" + std::to_string(o->secret_index + 1)) +
                     " of connection " + qotp_id_hex(id) +
                     (sender_bit == qotp::sender::initiator ? ", initiator to responder"
                                                            : ", responder to initiator") +
                     "; datagram was " + std::to_string(d.size()) + " bytes";
            ++st.qotp_decrypted;
            return true;
        }
        ++st.qotp_failed;
        note(st,
             where() + ": QOTP connection " + qotp_id_hex(id) + ": " + std::to_string(d.size()) +
                 "-byte datagram does not open with the logged secrets (after a key rotation, "
                 "whose keys are never logged, or corrupt, truncated or foreign); copied as is");
        return true;
    }
};

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
    std::map<std::uint64_t, v3_session> v3_sessions;
    std::array<std::byte, core::max_datagram_size> scratch{};
    std::vector<std::byte> payload;
    payload.reserve(core::max_datagram_size + decrypted_marker.size());
    std::uint64_t record = 0;
    qotp_decryptor qotp_state;

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
        if (!h || (h->version != core::wire::v2::version && h->version != core::v3::protocol_version)) {
            std::optional<std::string> opened;
            if (!h &&
                qotp_state.handle(udp->payload, keys, st, record, rec->offset, payload, opened) &&
                opened) {
                if (!have_decrypted_iface) {
                    decrypted_iface = out.add_interface("neutrino-decrypted", pcapng::linktype_raw);
                    have_decrypted_iface = true;
                }
                std::vector<std::byte> frame;
                if (build_udp_packet(frame, udp->src, udp->dst, payload)) {
                    out.write_packet(decrypted_iface, rec->timestamp_ns, frame,
                                     static_cast<std::uint32_t>(frame.size()), *opened);
                    continue;
                }
            }
            copy();
            continue;
        }
        const bool v3 = h->version == core::v3::protocol_version;
        ++st.neutrino;
        if (v3) ++st.v3;
        const std::string where = "packet " + std::to_string(record) + " (block at " +
                                  std::to_string(rec->offset) + ")";
        const auto code = static_cast<std::uint8_t>(v3 ? h->type & core::v3::type_code_mask : h->type);
        const bool handshake = v3 ? !core::v3::is_transport_type(code)
                                  : code == static_cast<std::uint8_t>(core::packet_type::client_hello1);
        if (handshake) {  // v2 HELLO1 is clear; v3 HELLO1, HELLO2, COOKIE_REPLY need Noise state
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
        // The decrypted packet: clear header ‖ marker ‖ pn u64 ‖ keyword u32 ‖ payload ‖ padding
        // (v2: the protected part as it was sealed; v3: the pn field, then the plaintext).
        const auto marker = std::as_bytes(std::span(decrypted_marker.data(), decrypted_marker.size()));
        std::string label;
        if (v3) {
            auto th = v3_transport_header(udp->payload);
            v3_session& vs = v3_sessions[h->session_id];
            if (!vs.c2s && s->c2s) vs.c2s.emplace(*s->c2s);
            if (!vs.s2c && s->s2c) vs.s2c.emplace(*s->s2c);
            std::optional<core::v3::opened_transport> opened;
            std::optional<std::uint64_t> phase;
            if (th) {
                for (auto [dir, name] : {std::pair{&vs.c2s, "NEUTRINO3_C2S"}, std::pair{&vs.s2c, "NEUTRINO3_S2C"}}) {
                    if (!*dir) continue;
                    phase = (*dir)->open(udp->payload, *th, scratch, opened);
                    if (phase) {
                        label = std::string(name) + " phase " + std::to_string(*phase);
                        break;
                    }
                }
            }
            if (phase) {
                st.max_phase = std::max(st.max_phase, *phase);
                const std::size_t plain = core::v3::keyword_size + opened->payload.size();
                payload.assign(udp->payload.begin(), udp->payload.begin() + core::v3::clear_header_size);
                payload.insert(payload.end(), marker.begin(), marker.end());
                payload.insert(payload.end(), udp->payload.begin() + core::v3::clear_header_size,
                               udp->payload.begin() + core::v3::prefix_size);
                payload.insert(payload.end(), scratch.begin(),
                               scratch.begin() + static_cast<std::ptrdiff_t>(plain));
            }
        } else {
            std::optional<core::opened_packet> opened;
            for (const auto& [key, name] : {std::pair{&s->c2s, key_label_c2s}, std::pair{&s->s2c, key_label_s2c}}) {
                if (!key->has_value()) continue;
                auto p = core::wire::v2::open(udp->payload, *h, **key, scratch);
                if (p) {
                    opened = *p;
                    label = name;
                    break;
                }
            }
            if (opened) {
                const auto plain = opened->plaintext;  // clear header ‖ protected part
                payload.assign(plain.begin(), plain.begin() + core::clear_header_size);
                payload.insert(payload.end(), marker.begin(), marker.end());
                payload.insert(payload.end(), plain.begin() + core::clear_header_size, plain.end());
            }
        }
        if (label.empty()) {
            ++st.failed;
            note(st, where + ": session " + sid_hex(h->session_id) + ": " +
                         std::to_string(udp->payload.size()) +
                         "-byte datagram does not open with the session's keys (corrupt, truncated or "
                         "foreign); copied as is");
            copy();
            continue;
        }
        ++st.decrypted;
        if (!have_decrypted_iface) {
            decrypted_iface = out.add_interface("neutrino-decrypted", pcapng::linktype_raw);
            have_decrypted_iface = true;
        }
        std::vector<std::byte> frame;
        if (!build_udp_packet(frame, udp->src, udp->dst, payload)) {
            copy();
            continue;
        }
        const std::string comment = "neutrino: decrypted with " + label + " of session " +
                                    sid_hex(h->session_id) + "; datagram was " +
                                    std::to_string(udp->payload.size()) + " bytes";
        out.write_packet(decrypted_iface, rec->timestamp_ns, frame,
                         static_cast<std::uint32_t>(frame.size()), comment);
    }
    return st;
}

}  // namespace neutrino::monitor
