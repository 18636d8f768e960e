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

}  // namespace

std::string key_log_lines(std::uint64_t session_id, core::role side, const core::session_keys& keys) {
    const core::secret_key& c2s = side == core::role::client ? keys.tx : keys.rx;
    const core::secret_key& s2c = side == core::role::client ? keys.rx : keys.tx;
    const std::string sid = sid_hex(session_id);
    std::string out;
    out.reserve(2 * (14 + 17 + 65));
    out.append(key_label_c2s).append(" ").append(sid).append(" ").append(core::to_hex(c2s.bytes())).append("\n");
    out.append(key_label_s2c).append(" ").append(sid).append(" ").append(core::to_hex(s2c.bytes())).append("\n");
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
        const std::string_view label = next_field(line);
        if (label.empty() || label.front() == '#') continue;
        const bool c2s = label == key_label_c2s;
        if (!c2s && label != key_label_s2c) continue;
        const std::string_view sid_text = next_field(line);
        const std::string_view key_text = next_field(line);
        std::uint64_t sid = 0;
        auto [p, ec] = std::from_chars(sid_text.data(), sid_text.data() + sid_text.size(), sid, 16);
        auto key = core::parse_key_hex(key_text);
        if (sid_text.empty() || ec != std::errc{} || p != sid_text.data() + sid_text.size() || !key ||
            !next_field(line).empty()) {
            if (problems != nullptr) {
                problems->push_back("key log line " + std::to_string(number) +
                                    ": expected '" + std::string(label) +
                                    " <session-id hex> <64 hex digits>'");
            }
            continue;
        }
        auto& s = sessions_[sid];
        (c2s ? s.c2s : s.s2c).emplace(*key);
    }
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

void key_log_writer::write(std::uint64_t session_id, core::role side, const core::session_keys& keys) {
    std::string lines = key_log_lines(session_id, side, keys);
    (void)std::fwrite(lines.data(), 1, lines.size(), file_);
    std::fflush(file_);
    sodium_memzero(lines.data(), lines.size());
}

}  // namespace neutrino::monitor
