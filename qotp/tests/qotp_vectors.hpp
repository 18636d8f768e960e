#pragma once
// The QOTP known-answer vectors (tests/vectors/qotp/vectors.txt) and small helpers for the
// tests: hex to bytes, the spec's §21.2 keys, the §21.3 payloads as structs.

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/payload.hpp"
#include "neutrino/qotp/receive_window.hpp"

namespace qotp_test {

namespace qotp = neutrino::qotp;
using bytes = std::vector<std::byte>;

inline bytes from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        ADD_FAILURE() << "not hex: " << c;
        return 0;
    };
    EXPECT_EQ(hex.size() % 2, 0U) << hex;
    bytes out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<std::byte>((nibble(hex[i]) << 4) | nibble(hex[i + 1])));
    }
    return out;
}

inline bytes from_text(std::string_view s) {
    bytes out;
    for (const char c : s) out.push_back(static_cast<std::byte>(c));
    return out;
}

inline std::string hex(std::span<const std::byte> b) { return neutrino::to_hex(b); }

/// The error of `r`, or no error when it holds a value (so that a test expecting an error
/// fails cleanly instead of reading a missing error).
template <class T>
std::error_code error_of(const qotp::result<T>& r) {
    return r ? std::error_code{} : r.error();
}

/// One line of vectors.txt: its name and the whitespace-separated fields after it.
struct vector_line {
    std::string name;
    std::vector<std::string> fields;
};

/// Every non-comment line of the vector file, in order.
inline const std::vector<vector_line>& vector_lines() {
    static const std::vector<vector_line> lines = [] {
        std::vector<vector_line> out;
        std::ifstream in(NEUTRINO_QOTP_VECTORS);
        EXPECT_TRUE(in.good()) << "cannot read " << NEUTRINO_QOTP_VECTORS;
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream words(line);
            vector_line v;
            words >> v.name;
            for (std::string w; words >> w;) v.fields.push_back(w);
            out.push_back(std::move(v));
        }
        return out;
    }();
    return lines;
}

/// The fields of the one line called `name` (fails the test if there is not exactly one).
inline std::vector<std::string> vector_fields(std::string_view name) {
    std::vector<std::string> found;
    int count = 0;
    for (const auto& v : vector_lines()) {
        if (v.name == name) {
            found = v.fields;
            ++count;
        }
    }
    EXPECT_EQ(count, 1) << "vector " << name;
    return found;
}
/// The first field of `name`, as bytes.
inline bytes vector_bytes(std::string_view name) {
    const auto f = vector_fields(name);
    return f.empty() ? bytes{} : from_hex(f[0]);
}

inline qotp::private_key private_key_of(std::string_view name) {
    auto k = qotp::private_key_from_hex(vector_fields(std::string(name) + "_prv").at(0));
    EXPECT_TRUE(k.has_value());
    return k ? *k : qotp::private_key{};
}
inline qotp::public_key public_key_named(std::string_view name) {
    auto k = qotp::public_key_from_hex(vector_fields(std::string(name) + "_pub").at(0));
    EXPECT_TRUE(k.has_value());
    return k ? *k : qotp::public_key{};
}
inline qotp::shared_secret secret_named(std::string_view name) {
    auto k = qotp::parse_key_hex(vector_fields(name).at(0));
    EXPECT_TRUE(k.has_value());
    return k ? qotp::shared_secret(*k) : qotp::shared_secret{};
}

constexpr std::uint64_t mib = 1024 * 1024;

// The payloads of spec §21.3, as fields. Their data views point into static storage.
inline std::span<const std::byte> hello() {
    static const bytes h = from_text("hello");
    return h;
}
inline qotp::transport_payload payload_p1() {  // proto_data_noack
    qotp::transport_payload p;
    p.max_payload = 1452;
    p.receive_window = qotp::encode_receive_window(16 * mib);
    p.stream = qotp::stream_frame{0, false, 0, false, hello()};
    return p;
}
inline qotp::transport_payload payload_p2() {  // proto_ackonly
    qotp::transport_payload p;
    p.max_payload = 1452;
    p.receive_window = qotp::encode_receive_window(16 * mib - 5);
    p.ack = qotp::ack_block{0, 0, 5};
    return p;
}
inline qotp::transport_payload payload_p3() {  // proto_data_ack
    qotp::transport_payload p;
    p.max_payload = 1452;
    p.receive_window = qotp::encode_receive_window(16 * mib);
    p.ack = qotp::ack_block{7, 0x010203, 1400};
    p.stream = qotp::stream_frame{7, false, 5, false, hello()};
    return p;
}
inline qotp::transport_payload payload_p4() {  // proto_close_ext
    qotp::transport_payload p;
    p.max_payload = 1232;
    p.receive_window = qotp::encode_receive_window(mib);
    p.stream = qotp::stream_frame{3, false, 0x1000000, true, {}};
    return p;
}
inline qotp::transport_payload payload_p5() {  // proto_ping_unrel
    qotp::transport_payload p;
    p.max_payload = 1452;
    p.receive_window = qotp::encode_receive_window(0);
    p.stream = qotp::stream_frame{9, true, 100, false, {}};
    return p;
}
inline qotp::transport_payload payload_pi() {  // proto_initrcv_payload
    qotp::transport_payload p;
    p.max_payload = 1452;
    p.receive_window = qotp::encode_receive_window(16 * mib);
    p.ack = qotp::ack_block{0, 0, 0};
    p.stream = qotp::stream_frame{0, false, 0, false, {}};
    return p;
}

/// Field-by-field equality of payloads (stream data by content).
inline void expect_same_payload(const qotp::transport_payload& got,
                                const qotp::transport_payload& want) {
    EXPECT_EQ(got.max_payload, want.max_payload);
    EXPECT_EQ(got.receive_window, want.receive_window);
    EXPECT_EQ(got.ack, want.ack);
    EXPECT_EQ(got.key_update, want.key_update);
    EXPECT_EQ(got.key_update_ack, want.key_update_ack);
    ASSERT_EQ(got.stream.has_value(), want.stream.has_value());
    if (!got.stream) return;
    EXPECT_EQ(got.stream->stream_id, want.stream->stream_id);
    EXPECT_EQ(got.stream->best_effort, want.stream->best_effort);
    EXPECT_EQ(got.stream->offset, want.stream->offset);
    EXPECT_EQ(got.stream->close, want.stream->close);
    EXPECT_EQ(hex(got.stream->data), hex(want.stream->data));
}

}  // namespace qotp_test
