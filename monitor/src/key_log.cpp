#include "neutrino/monitor/key_log.hpp"

#include <sodium.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

namespace neutrino::monitor {
namespace {

std::string sid_hex(std::uint64_t sid) {
    std::string s(16, '0');
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < 16; ++i) s[15 - i] = digits[(sid >> (4 * i)) & 0xFU];
    return s;
}

std::string_view next_field(std::string_view& line) {
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const auto end = line.find_first_of(" \t");
    const auto field = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return field;
}

std::optional<std::array<std::byte, handshake_hash_size>> parse_hash_hex(std::string_view hex) {
    if (hex.size() != 2 * handshake_hash_size) return std::nullopt;
    std::array<std::byte, handshake_hash_size> out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
        if (ec != std::errc{} || p != hex.data() + 2 * i + 2) return std::nullopt;
        out[i] = static_cast<std::byte>(v);
    }
    return out;
}

}  // namespace

std::string key_log_lines(std::uint64_t session_id, core::role side, const core::session_keys& keys,
                          std::uint8_t version) {
    const core::secret_key& c2s = side == core::role::client ? keys.tx : keys.rx;
    const core::secret_key& s2c = side == core::role::client ? keys.rx : keys.tx;
    const bool v3 = version == 3;
    const std::string sid = sid_hex(session_id);
    std::string out;
    out.reserve(2 * (16 + 17 + 65));
    out.append(v3 ? key_label_v3_c2s : key_label_c2s).append(" ").append(sid).append(" ");
    out.append(neutrino::to_hex(c2s.bytes())).append("\n");
    out.append(v3 ? key_label_v3_s2c : key_label_s2c).append(" ").append(sid).append(" ");
    out.append(neutrino::to_hex(s2c.bytes())).append("\n");
    return out;
}

std::string handshake_hash_line(std::uint64_t session_id, std::span<const std::byte> hash) {
    std::string out(key_label_v3_hash);
    out.append(" ").append(sid_hex(session_id)).append(" ").append(neutrino::to_hex(hash)).append("\n");
    return out;
}

void key_log::parse(std::string_view text, std::vector<std::string>* problems) {
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const std::string_view whole = line;
        const std::string_view label = next_field(line);
        if (label.empty() || label.front() == '#') continue;
        if (label == qotp::key_log_label_text(qotp::key_log_label::session) ||
            label == qotp::key_log_label_text(qotp::key_log_label::zero_rtt)) {
            (void)add_qotp(whole.substr(static_cast<std::size_t>(label.data() - whole.data())),
                           number, problems);
            continue;
        }
        const bool hash = label == key_label_v3_hash;
        const bool v3 = hash || label == key_label_v3_c2s || label == key_label_v3_s2c;
        const bool c2s = label == key_label_c2s || label == key_label_v3_c2s;
        if (!v3 && !c2s && label != key_label_s2c) continue;
        const std::string_view sid_text = next_field(line);
        const std::string_view value_text = next_field(line);
        std::uint64_t sid = 0;
        auto [p, ec] = std::from_chars(sid_text.data(), sid_text.data() + sid_text.size(), sid, 16);
        std::optional<std::array<std::byte, core::key_size>> key;
        std::optional<std::array<std::byte, handshake_hash_size>> h;
        if (hash) {
            h = parse_hash_hex(value_text);
        } else if (auto k = core::parse_key_hex(value_text)) {
            key = *k;
        }
        if (sid_text.empty() || ec != std::errc{} || p != sid_text.data() + sid_text.size() ||
            (hash ? !h : !key) || !next_field(line).empty()) {
            if (problems != nullptr) {
                problems->push_back("key log line " + std::to_string(number) + ": expected '" +
                                    std::string(label) + " <session-id hex> <" +
                                    (hash ? "128" : "64") + " hex digits>'");
            }
            continue;
        }
        auto& s = sessions_[sid];
        if (v3) s.wire_version = 3;
        if (hash) {
            s.handshake_hash = *h;
        } else {
            (c2s ? s.c2s : s.s2c).emplace(*key);
        }
    }
}

bool key_log::add_qotp(std::string_view line, std::size_t number,
                       std::vector<std::string>* problems) {
    auto e = qotp::parse_key_log_line(line);
    auto complain = [&](const std::string& what) {
        if (problems != nullptr) {
            problems->push_back("key log line " + std::to_string(number) + ": " + what);
        }
    };
    if (!e) {
        complain("expected '" + std::string(line.substr(0, line.find(' '))) +
                 " <connection-id hex, 1-16 digits> <64 hex digits>' separated by single spaces");
        return false;
    }
    auto& secrets = qotp_[e->id.value];
    auto& list = e->label == qotp::key_log_label::session ? secrets.session : secrets.zero_rtt;
    for (const auto& known : list) {
        if (known.equals(e->secret)) return true;  // the Go peer repeats lines (§19)
    }
    if (list.size() >= max_qotp_secrets) {
        complain("more than " + std::to_string(max_qotp_secrets) +
                 " different secrets of one kind for one QOTP connection id; skipped");
        return false;
    }
    list.push_back(e->secret);
    return true;
}

const qotp_secrets* key_log::find_qotp(std::uint64_t id) const noexcept {
    auto it = qotp_.find(id);
    return it == qotp_.end() ? nullptr : &it->second;
}

void key_log::load(const std::filesystem::path& path, std::vector<std::string>* problems) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::system_error(errno, std::generic_category(), "cannot read " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    parse(ss.str(), problems);
}

const session_secrets* key_log::find(std::uint64_t session_id) const noexcept {
    auto it = sessions_.find(session_id);
    return it == sessions_.end() ? nullptr : &it->second;
}

key_log_writer::key_log_writer(const std::filesystem::path& path) {
    file_ = std::fopen(path.c_str(), "a");
    if (file_ == nullptr) {
        throw std::system_error(errno, std::generic_category(), "cannot open key log " + path.string());
    }
}

key_log_writer::~key_log_writer() {
    if (file_ != nullptr) std::fclose(file_);
}

std::shared_ptr<key_log_writer> key_log_writer::from_environment() {
    const char* path = std::getenv("NEUTRINO_KEYLOGFILE");  // NOLINT(concurrency-mt-unsafe)
    if (path == nullptr || *path == '\0') return nullptr;
    return std::make_shared<key_log_writer>(path);
}

void key_log_writer::put(std::string& text) {
    (void)std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
    sodium_memzero(text.data(), text.size());
}

void key_log_writer::write(std::uint64_t session_id, core::role side, const core::session_keys& keys) {
    const bool v3 = v3_session_ == session_id;
    v3_session_.reset();
    std::string lines = key_log_lines(session_id, side, keys, v3 ? 3 : 2);
    put(lines);
}

void key_log_writer::write_handshake_hash(std::uint64_t session_id, std::span<const std::byte> hash) {
    std::string line = handshake_hash_line(session_id, hash);
    put(line);
    v3_session_ = session_id;
}

void key_log_writer::write_qotp(const qotp::key_log_entry& entry) {
    std::string line;
    line.reserve(128);  // one allocation: the secret is never left in a freed block
    qotp::append_key_log_line(line, entry.label, entry.id, entry.secret);
    put(line);
}

void qotp_key_log_sink::on_secret(const qotp::key_log_entry& entry) noexcept {
    if (!writer_) return;
    try {
        writer_->write_qotp(entry);
    } catch (...) {
        ++lost_;
    }
}

}  // namespace neutrino::monitor
