#include "neutrino/monitor/jsonl_observer.hpp"

#include <array>
#include <cerrno>
#include <chrono>

#include "neutrino/monitor/pcapng_reader.hpp"

namespace neutrino::monitor {

struct jsonl_observer::state {
    std::FILE* out = nullptr;
    bool owned = false;
    const protocol_description* protocol = nullptr;
    int role = -1;
    ~state() {
        if (owned && out != nullptr) std::fclose(out);
    }

    static long long ns(time_point t) {
        return static_cast<long long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
    }
    static const char* role_name(int r) { return r == 0 ? "client" : "server"; }

    // JSON string content: escapes quotes, backslashes and control characters.
    void string(std::string_view s) {
        std::fputc('"', out);
        for (char c : s) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                std::fputc('\\', out);
                std::fputc(c, out);
            } else if (u < 0x20) {
                std::fprintf(out, "\\u%04x", unsigned{u});
            } else {
                std::fputc(c, out);
            }
        }
        std::fputc('"', out);
    }

    void packet(const char* ev, const core::packet_info& info, std::size_t words, time_point now) {
        role = static_cast<int>(info.side);
        const auto code = static_cast<std::uint8_t>(info.type);
        std::fprintf(out, R"({"t":%lld,"ev":"%s","role":"%s","sid":"%016llx","type":)", ns(now), ev,
                     role_name(role), static_cast<unsigned long long>(info.session_id));
        string(protocol->type_name(code));
        std::fprintf(out, R"(,"code":%u,"pn":%llu,"kw":%u,"size":%zu,"words":%zu,"peer":"%s"})" "\n",
                     unsigned{code}, static_cast<unsigned long long>(info.packet_number),
                     unsigned{info.keyword}, info.wire.size(), words, to_string(info.peer).c_str());
    }

    void prefix(const char* ev, time_point now) {
        std::fprintf(out, R"({"t":%lld,"ev":"%s")", ns(now), ev);
        if (role >= 0) std::fprintf(out, R"(,"role":"%s")", role_name(role));
    }
};

jsonl_observer::jsonl_observer(const std::filesystem::path& path, const protocol_description& protocol)
    : s_(std::make_shared<state>()) {
    s_->out = std::fopen(path.c_str(), "w");
    if (s_->out == nullptr) {
        throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
    }
    s_->owned = true;
    s_->protocol = &protocol;
}

jsonl_observer::jsonl_observer(std::FILE* out, const protocol_description& protocol)
    : s_(std::make_shared<state>()) {
    s_->out = out;
    s_->protocol = &protocol;
}

void jsonl_observer::on_packet_received(const core::packet_info& info, time_point now) {
    s_->packet("recv", info, info.words.size(), now);
}

void jsonl_observer::on_packet_sent(const core::packet_info& info, time_point now) {
    s_->packet("send", info, info.sent_words.size(), now);
}

void jsonl_observer::on_packet_retransmitted(const core::packet_info& info, time_point now) {
    s_->packet("retr", info, info.sent_words.size(), now);
}

void jsonl_observer::on_dropped(std::error_code reason, const peer_address& from, std::size_t size,
                                time_point now) {
    s_->prefix("drop", now);
    std::fprintf(s_->out, R"(,"size":%zu,"peer":"%s","reason":)", size, to_string(from).c_str());
    s_->string(reason.message());
    std::fputs("}\n", s_->out);
}

void jsonl_observer::on_session_state(std::uint64_t session_id, const peer_address& peer,
                                      core::session_state from, core::session_state to,
                                      time_point now) {
    static constexpr std::array<const char*, 5> names{"none", "pending", "established", "draining",
                                                      "closed"};
    s_->prefix("state", now);
    std::fprintf(s_->out, R"(,"sid":"%016llx","peer":"%s","from":"%s","to":"%s"})" "\n",
                 static_cast<unsigned long long>(session_id), to_string(peer).c_str(),
                 names.at(static_cast<std::size_t>(from)), names.at(static_cast<std::size_t>(to)));
}

void jsonl_observer::on_packet_lost(std::uint64_t session_id, core::role side,
                                    std::uint64_t packet_number, time_point now) {
    std::fprintf(s_->out, R"({"t":%lld,"ev":"lost","role":"%s","sid":"%016llx","pn":%llu})" "\n",
                 state::ns(now), state::role_name(static_cast<int>(side)),
                 static_cast<unsigned long long>(session_id),
                 static_cast<unsigned long long>(packet_number));
}

void jsonl_observer::on_rtt_sample(std::uint64_t session_id, core::role side, duration rtt,
                                   time_point now) {
    std::fprintf(s_->out, R"({"t":%lld,"ev":"rtt","role":"%s","sid":"%016llx","rtt_ns":%lld})" "\n",
                 state::ns(now), state::role_name(static_cast<int>(side)),
                 static_cast<unsigned long long>(session_id),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(rtt).count()));
}

void jsonl_observer::on_congestion(std::uint64_t session_id, core::role side,
                                   const core::congestion_info& info, time_point now) {
    const auto ns = [](duration d) {
        return static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
    };
    std::fprintf(s_->out,
                 R"({"t":%lld,"ev":"cc","role":"%s","sid":"%016llx","cwnd":%zu,"inflight":%zu,"pacing":%.0f,)"
                 R"("srtt_ns":%lld,"min_rtt_ns":%lld,"cc_state":"%s"})" "\n",
                 state::ns(now), state::role_name(static_cast<int>(side)),
                 static_cast<unsigned long long>(session_id), info.window, info.bytes_in_flight,
                 info.pacing_rate, ns(info.smoothed_rtt), ns(info.min_rtt),
                 info.state != nullptr ? info.state : "");
}

void jsonl_observer::on_refused(std::uint64_t session_id, core::role side, core::refusal what,
                                const peer_address& peer, time_point now) {
    std::fprintf(s_->out, R"({"t":%lld,"ev":"refused","role":"%s","sid":"%016llx","what":"%s","peer":"%s"})" "\n",
                 state::ns(now), state::role_name(static_cast<int>(side)),
                 static_cast<unsigned long long>(session_id), core::to_string(what), to_string(peer).c_str());
}

void jsonl_observer::flush() { std::fflush(s_->out); }

}  // namespace neutrino::monitor
