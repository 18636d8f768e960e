#include "neutrino/p2p/rendezvous_message.hpp"

#include <cstring>
#include <optional>
#include <type_traits>

#include "neutrino/endian.hpp"

namespace neutrino::p2p {
namespace {

constexpr std::size_t address_size(peer_address::family_type f) noexcept {
    return f == peer_address::family_type::v4 ? 7 : 19;
}

// Writes TLVs into a span; remembers the first failure so callers chain writes and check once.
class writer {
public:
    explicit writer(std::span<std::byte> out) noexcept : out_(out) {}

    void type(rendezvous_type t) noexcept {
        if (auto* p = take(1)) *p = static_cast<std::byte>(t);
    }
    std::byte* tlv(rendezvous_tag tag, std::size_t length) noexcept {
        auto* p = take(rendezvous_tlv_header_size + length);
        if (p == nullptr) return nullptr;
        p[0] = static_cast<std::byte>(tag);
        store_le(p + 1, static_cast<std::uint16_t>(length));
        return p + rendezvous_tlv_header_size;
    }
    void bytes(rendezvous_tag tag, std::span<const std::byte> v) noexcept {
        if (v.size() > max_rendezvous_bytes_size) {
            fail_with(errc::rendezvous_field_too_large);
            return;
        }
        auto* p = tlv(tag, v.size());
        if (p != nullptr && !v.empty()) std::memcpy(p, v.data(), v.size());
    }
    template <class T>
    void integer(rendezvous_tag tag, T v) noexcept {
        if (auto* p = tlv(tag, sizeof(T))) store_le(p, v);
    }
    void address(rendezvous_tag tag, const peer_address& a) noexcept {
        if (!a.is_ip()) {
            fail_with(errc::rendezvous_bad_address);
            return;
        }
        if (auto* p = tlv(tag, address_size(a.family))) put_address(p, a);
    }
    void candidates(const candidate_list& cs) noexcept {
        std::size_t n = 0;
        for (const auto& c : cs) {
            if (!c.address.is_ip() || c.kind == candidate_kind::peer_reflexive) {
                fail_with(errc::rendezvous_bad_address);
                return;
            }
            n += 1 + address_size(c.address.family);
        }
        auto* p = tlv(rendezvous_tag::candidates, n);
        if (p == nullptr) return;
        for (const auto& c : cs) {
            *p++ = static_cast<std::byte>(c.kind);
            p = put_address(p, c.address);
        }
    }
    // Pads with one padding TLV so that `size` bytes are written so far (no-op when already).
    void pad_to(std::size_t size) noexcept {
        if (!error_ && used_ < size) {
            const std::size_t need = size - used_;
            const std::size_t len =
                need > rendezvous_tlv_header_size ? need - rendezvous_tlv_header_size : 0;
            if (auto* p = tlv(rendezvous_tag::padding, len); p != nullptr && len != 0) {
                std::memset(p, 0, len);
            }
        }
    }
    [[nodiscard]] result<std::size_t> done() const noexcept {
        if (error_) return fail(*error_);
        return used_;
    }

private:
    static std::byte* put_address(std::byte* p, const peer_address& a) noexcept {
        const bool v4 = a.family == peer_address::family_type::v4;
        *p++ = std::byte{static_cast<std::uint8_t>(v4 ? 4 : 6)};
        const std::size_t n = v4 ? 4 : 16;
        std::memcpy(p, a.bytes.data(), n);
        p += n;
        store_le(p, a.port);
        return p + 2;
    }
    std::byte* take(std::size_t n) noexcept {
        if (error_) return nullptr;
        if (out_.size() - used_ < n || n > 0xffff + rendezvous_tlv_header_size) {
            error_ = errc::buffer_too_small;
            return nullptr;
        }
        auto* p = out_.data() + used_;
        used_ += n;
        return p;
    }
    void fail_with(errc e) noexcept {
        if (!error_) error_ = e;
    }

    std::span<std::byte> out_;
    std::size_t used_ = 0;
    std::optional<errc> error_;
};

// Reads an `address` value of exactly `v.size()` bytes.
bool read_address(std::span<const std::byte> v, peer_address& a) noexcept {
    if (v.empty()) return false;
    const auto family = std::to_integer<std::uint8_t>(v[0]);
    if (family == 4 && v.size() == 7) {
        a = peer_address{};
        a.family = peer_address::family_type::v4;
        std::memcpy(a.bytes.data(), v.data() + 1, 4);
        a.port = load_le<std::uint16_t>(v.data() + 5);
        return true;
    }
    if (family == 6 && v.size() == 19) {
        a = peer_address{};
        a.family = peer_address::family_type::v6;
        std::memcpy(a.bytes.data(), v.data() + 1, 16);
        a.port = load_le<std::uint16_t>(v.data() + 17);
        return true;
    }
    return false;
}

// spec: p2p.md §7.3 (candidate list: kind u8 | address, back to back, at most 8)
result<void> read_candidates(std::span<const std::byte> v, candidate_list& out) noexcept {
    out.clear();
    while (!v.empty()) {
        if (v.size() < 2) return fail(errc::rendezvous_bad_field);
        const auto kind = std::to_integer<std::uint8_t>(v[0]);
        if (kind > static_cast<std::uint8_t>(candidate_kind::reflexive)) {
            return fail(errc::rendezvous_bad_field);
        }
        const auto family = std::to_integer<std::uint8_t>(v[1]);
        const std::size_t n = family == 4 ? 7 : family == 6 ? 19 : 0;
        if (n == 0 || v.size() < 1 + n) return fail(errc::rendezvous_bad_field);
        candidate c;
        c.kind = static_cast<candidate_kind>(kind);
        if (!read_address(v.subspan(1, n), c.address)) return fail(errc::rendezvous_bad_field);
        if (!out.push_back(c)) return fail(errc::rendezvous_too_many_candidates);
        v = v.subspan(1 + n);
    }
    return {};
}

// Every known field, as found; `seen` has bit (tag) set once a tag was read.
struct fields {
    std::uint32_t seen = 0;
    node_id id{};
    std::span<const std::byte> realm, token;
    candidate_list candidates;
    std::uint8_t capabilities = 0;
    peer_address reflexive;
    std::uint32_t lease = 0;
    std::uint64_t server_time = 0, sequence = 0, attempt_id = 0, relay_id = 0, start_time = 0;
    public_key_bytes public_key{};
    std::uint8_t role = 0;
    punch_secret_bytes punch_secret{};
    std::uint16_t error_code = 0;

    [[nodiscard]] bool has(rendezvous_tag t) const noexcept {
        return (seen & (1U << static_cast<unsigned>(t))) != 0;
    }
};

template <std::size_t N>
bool read_fixed(std::span<const std::byte> v, std::array<std::byte, N>& out) noexcept {
    if (v.size() != N) return false;
    std::memcpy(out.data(), v.data(), N);
    return true;
}

template <class T>
bool read_int(std::span<const std::byte> v, T& out) noexcept {
    if (v.size() != sizeof(T)) return false;
    out = load_le<T>(v.data());
    return true;
}

result<void> read_field(rendezvous_tag tag, std::span<const std::byte> v, fields& f) noexcept {
    bool ok = true;
    switch (tag) {
        case rendezvous_tag::padding: return {};
        case rendezvous_tag::node: ok = read_fixed(v, f.id); break;
        case rendezvous_tag::realm:
        case rendezvous_tag::token:
            if (v.size() > max_rendezvous_bytes_size) return fail(errc::rendezvous_field_too_large);
            (tag == rendezvous_tag::realm ? f.realm : f.token) = v;
            break;
        case rendezvous_tag::candidates: {
            auto r = read_candidates(v, f.candidates);
            if (!r) return r;
            break;
        }
        case rendezvous_tag::capabilities: ok = read_int(v, f.capabilities); break;
        case rendezvous_tag::reflexive: ok = read_address(v, f.reflexive); break;
        case rendezvous_tag::lease: ok = read_int(v, f.lease); break;
        case rendezvous_tag::server_time: ok = read_int(v, f.server_time); break;
        case rendezvous_tag::sequence: ok = read_int(v, f.sequence); break;
        case rendezvous_tag::attempt_id: ok = read_int(v, f.attempt_id); break;
        case rendezvous_tag::public_key: ok = read_fixed(v, f.public_key); break;
        case rendezvous_tag::role: ok = read_int(v, f.role) && f.role <= 1; break;
        case rendezvous_tag::punch_secret: ok = read_fixed(v, f.punch_secret); break;
        case rendezvous_tag::relay_id: ok = read_int(v, f.relay_id); break;
        case rendezvous_tag::start_time: ok = read_int(v, f.start_time); break;
        case rendezvous_tag::error_code: ok = read_int(v, f.error_code); break;
        default: return {};  // unknown: skipped
    }
    if (!ok) return fail(errc::rendezvous_bad_field);
    f.seen |= 1U << static_cast<unsigned>(tag);
    return {};
}

constexpr std::uint32_t bit(rendezvous_tag t) noexcept { return 1U << static_cast<unsigned>(t); }

// The TLVs each message type requires (table in the header).
constexpr std::uint32_t required_of(rendezvous_type t) noexcept {
    using enum rendezvous_tag;
    switch (t) {
        case rendezvous_type::register_: return bit(node);
        case rendezvous_type::registered: return bit(reflexive) | bit(lease) | bit(server_time);
        case rendezvous_type::keepalive: return bit(sequence);
        case rendezvous_type::keepalive_ack: return bit(sequence) | bit(reflexive);
        case rendezvous_type::connect: return bit(node) | bit(attempt_id);
        case rendezvous_type::introduce:
            return bit(node) | bit(public_key) | bit(attempt_id) | bit(role) | bit(punch_secret) |
                   bit(relay_id) | bit(start_time);
        case rendezvous_type::peer_update: return bit(node);
        case rendezvous_type::error: return bit(error_code);
        case rendezvous_type::bye: return 0;
    }
    return 0;
}

// std::visit without its bad_variant_access path (a message is never valueless).
template <class F>
void visit_message(const rendezvous_message& m, F&& f) noexcept {
    if (const auto* v = std::get_if<register_message>(&m)) f(*v);
    if (const auto* v = std::get_if<registered_message>(&m)) f(*v);
    if (const auto* v = std::get_if<keepalive_message>(&m)) f(*v);
    if (const auto* v = std::get_if<keepalive_ack_message>(&m)) f(*v);
    if (const auto* v = std::get_if<connect_message>(&m)) f(*v);
    if (const auto* v = std::get_if<introduce_message>(&m)) f(*v);
    if (const auto* v = std::get_if<peer_update_message>(&m)) f(*v);
    if (const auto* v = std::get_if<error_message>(&m)) f(*v);
    if (const auto* v = std::get_if<bye_message>(&m)) f(*v);
}

}  // namespace

rendezvous_type type_of(const rendezvous_message& m) noexcept {
    // The variant's alternatives are in type-byte order, starting at 0x01.
    return static_cast<rendezvous_type>(m.index() + 1);
}

result<std::size_t> encode_rendezvous(const rendezvous_message& m,
                                      std::span<std::byte> out) noexcept {
    writer w(out);
    w.type(type_of(m));
    using enum rendezvous_tag;
    visit_message(m, [&w](const auto& v) {
        using alternative = std::decay_t<decltype(v)>;
        // Required fields last: a truncated encoding always lacks one (or is cut inside
        // one), so it never decodes.
        if constexpr (std::is_same_v<alternative, register_message>) {
            if (!v.realm.empty()) w.bytes(realm, v.realm);
            if (!v.token.empty()) w.bytes(token, v.token);
            if (!v.candidates.empty()) w.candidates(v.candidates);
            if (v.capabilities != 0) w.integer(capabilities, v.capabilities);
            w.pad_to(min_request_size - (rendezvous_tlv_header_size + node_id_size));
            w.bytes(node, v.id);
        } else if constexpr (std::is_same_v<alternative, registered_message>) {
            w.address(reflexive, v.reflexive);
            w.integer(lease, v.lease_seconds);
            w.integer(server_time, v.server_time_ms);
        } else if constexpr (std::is_same_v<alternative, keepalive_message>) {
            w.pad_to(min_request_size - (rendezvous_tlv_header_size + 8));
            w.integer(sequence, v.sequence);
        } else if constexpr (std::is_same_v<alternative, keepalive_ack_message>) {
            w.integer(sequence, v.sequence);
            w.address(reflexive, v.reflexive);
        } else if constexpr (std::is_same_v<alternative, connect_message>) {
            w.pad_to(min_request_size - (2 * rendezvous_tlv_header_size + node_id_size + 8));
            w.bytes(node, v.target);
            w.integer(attempt_id, v.attempt_id);
        } else if constexpr (std::is_same_v<alternative, introduce_message>) {
            w.candidates(v.candidates);
            w.bytes(node, v.peer);
            w.bytes(public_key, v.peer_key);
            w.integer(attempt_id, v.attempt_id);
            w.integer(role, static_cast<std::uint8_t>(v.initiator ? 1 : 0));
            w.bytes(punch_secret, v.punch_secret);
            w.integer(relay_id, v.relay_id);
            w.integer(start_time, v.start_time_ms);
        } else if constexpr (std::is_same_v<alternative, peer_update_message>) {
            w.candidates(v.candidates);
            w.bytes(node, v.peer);
        } else if constexpr (std::is_same_v<alternative, error_message>) {
            if (v.attempt_id != 0) w.integer(attempt_id, v.attempt_id);
            w.integer(error_code, static_cast<std::uint16_t>(v.code));
        } else {
            static_assert(std::is_same_v<alternative, bye_message>);
        }
    });
    return w.done();
}

result<rendezvous_message> decode_rendezvous(std::span<const std::byte> in) noexcept {
    if (in.empty()) return fail(errc::rendezvous_truncated);
    const auto type_byte = std::to_integer<std::uint8_t>(in[0]);
    if (type_byte < 0x01 || type_byte > 0x09) return fail(errc::rendezvous_unknown_type);
    const auto type = static_cast<rendezvous_type>(type_byte);
    fields f;
    auto rest = in.subspan(1);
    while (!rest.empty()) {
        if (rest.size() < rendezvous_tlv_header_size) return fail(errc::rendezvous_truncated);
        const auto tag = static_cast<rendezvous_tag>(rest[0]);
        const std::size_t length = load_le<std::uint16_t>(rest.data() + 1);
        if (rest.size() - rendezvous_tlv_header_size < length) {
            return fail(errc::rendezvous_truncated);
        }
        const auto value = rest.subspan(rendezvous_tlv_header_size, length);
        rest = rest.subspan(rendezvous_tlv_header_size + length);
        if (tag != rendezvous_tag::padding && static_cast<unsigned>(tag) < 32 && f.has(tag)) {
            return fail(errc::rendezvous_duplicate_field);
        }
        if (auto r = read_field(tag, value, f); !r) return tl::unexpected(r.error());
    }
    const std::uint32_t required = required_of(type);
    if ((f.seen & required) != required) return fail(errc::rendezvous_missing_field);

    switch (type) {
        case rendezvous_type::register_:
            return register_message{f.id, f.realm, f.token, f.candidates, f.capabilities};
        case rendezvous_type::registered:
            return registered_message{f.reflexive, f.lease, f.server_time};
        case rendezvous_type::keepalive: return keepalive_message{f.sequence};
        case rendezvous_type::keepalive_ack: return keepalive_ack_message{f.sequence, f.reflexive};
        case rendezvous_type::connect: return connect_message{f.id, f.attempt_id};
        case rendezvous_type::introduce:
            return introduce_message{f.id,        f.public_key,   f.candidates, f.attempt_id,
                                     f.role == 1, f.punch_secret, f.relay_id,   f.start_time};
        case rendezvous_type::peer_update: return peer_update_message{f.id, f.candidates};
        case rendezvous_type::error:
            return error_message{static_cast<rendezvous_error>(f.error_code), f.attempt_id};
        case rendezvous_type::bye: return bye_message{};
    }
    return fail(errc::rendezvous_unknown_type);
}

}  // namespace neutrino::p2p
