#include "neutrino/qotp/key_log.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "neutrino/hex.hpp"

namespace neutrino::qotp {
namespace {

// spec: qotp.md §19
constexpr std::string_view label_s = "QOTP_SHARED_SECRET";
constexpr std::string_view label_s0 = "QOTP_SHARED_SECRET_ID";
constexpr std::size_t max_id_digits = 16;

// Go's %x of a u64: lowercase, no leading zeros ("0" for zero).
void append_hex_u64(std::string& out, std::uint64_t v) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::array<char, max_id_digits> buf{};
    std::size_t n = 0;
    do {
        buf[n++] = digits[v & 15];
        v >>= 4;
    } while (v != 0);
    while (n > 0) out.push_back(buf[--n]);
}

result<std::uint64_t> parse_hex_u64(std::string_view s) noexcept {
    if (s.empty() || s.size() > max_id_digits) return fail(errc::bad_key_log_line);
    std::uint64_t v = 0;
    for (const char c : s) {
        const int d = hex_digit_value(c);
        if (d < 0) return fail(errc::bad_key_log_line);
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    return v;
}

// Splits off the text up to the next space; false when there is no space.
bool take_field(std::string_view& rest, std::string_view& field) noexcept {
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) return false;
    field = rest.substr(0, space);
    rest.remove_prefix(space + 1);
    return true;
}

std::string_view strip_line_end(std::string_view line) noexcept {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

}  // namespace

std::string_view key_log_label_text(key_log_label label) noexcept {
    return label == key_log_label::zero_rtt ? label_s0 : label_s;
}

void append_key_log_line(std::string& out, key_log_label label, connection_id id,
                         const shared_secret& secret) {
    out.append(key_log_label_text(label));
    out.push_back(' ');
    append_hex_u64(out, id.value);
    out.push_back(' ');
    append_hex(out, secret.bytes());
    out.push_back('\n');
}

result<key_log_entry> parse_key_log_line(std::string_view line) noexcept {
    std::string_view rest = strip_line_end(line);
    std::string_view label;
    std::string_view id_text;
    if (!take_field(rest, label) || !take_field(rest, id_text)) return fail(errc::bad_key_log_line);

    key_log_entry entry;
    if (label == label_s) {
        entry.label = key_log_label::session;
    } else if (label == label_s0) {
        entry.label = key_log_label::zero_rtt;
    } else {
        return fail(errc::bad_key_log_line);
    }
    auto id = parse_hex_u64(id_text);
    if (!id) return tl::unexpected(id.error());
    entry.id = connection_id{*id};
    // exactly 64 hex characters: parse_key_hex would also accept a 0x prefix
    if (rest.size() != 2 * key_size) return fail(errc::bad_key_log_line);
    auto secret = parse_key_hex(rest);
    if (!secret) return fail(errc::bad_key_log_line);
    entry.secret = shared_secret(*secret);
    sodium_memzero(secret->data(), secret->size());
    return entry;
}

key_log_buffer::~key_log_buffer() { wipe(); }

void key_log_buffer::wipe() noexcept {
    if (!text_.empty()) sodium_memzero(text_.data(), text_.size());
    text_.clear();
}

void key_log_buffer::on_secret(const key_log_entry& entry) noexcept {
    // The longest line: label, space, 16 id digits, space, 64 secret digits, newline.
    constexpr std::size_t max_line = label_s0.size() + 1 + max_id_digits + 1 + 2 * key_size + 1;
    try {
        if (text_.capacity() - text_.size() < max_line) {
            // Grow by hand so that no freed block keeps a copy of earlier secrets.
            std::string bigger;
            bigger.reserve(std::max(2 * text_.capacity(), text_.size() + max_line));
            bigger.append(text_);
            wipe();
            text_.swap(bigger);
        }
        append_key_log_line(text_, entry.label, entry.id, entry.secret);  // fits: no allocation
    } catch (...) {
        ++lost_;
    }
}

std::string key_log_buffer::take() {
    std::string out(text_);
    wipe();
    return out;
}

}  // namespace neutrino::qotp
