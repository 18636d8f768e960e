#include "neutrino/monitor/pcapng_writer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace neutrino::monitor {
namespace {

constexpr std::size_t buffer_capacity = 64 * 1024;
constexpr std::size_t max_udp_payload = 65507;
constexpr std::uint16_t opt_endofopt = 0;
constexpr std::uint16_t opt_comment = 1;
constexpr std::uint16_t if_name = 2;
constexpr std::uint16_t if_tsresol = 9;
constexpr std::uint16_t shb_userappl = 4;

constexpr std::size_t pad4(std::size_t n) noexcept { return (4 - n % 4) % 4; }

void store_be16(std::byte* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v);
}

std::uint32_t sum16(std::span<const std::byte> b, std::uint32_t acc = 0) noexcept {
    for (std::size_t i = 0; i + 1 < b.size(); i += 2) {
        acc += (std::to_integer<std::uint32_t>(b[i]) << 8) | std::to_integer<std::uint32_t>(b[i + 1]);
    }
    if (b.size() % 2 != 0) acc += std::to_integer<std::uint32_t>(b.back()) << 8;
    return acc;
}

std::uint16_t fold(std::uint32_t acc) noexcept {
    while (acc >> 16 != 0) acc = (acc & 0xFFFFU) + (acc >> 16);
    return static_cast<std::uint16_t>(~acc & 0xFFFFU);
}

}  // namespace

std::uint64_t clock_origin::unix_ns(time_point t) const noexcept {
    using std::chrono::duration_cast;
    using std::chrono::nanoseconds;
    const auto wall_ns = duration_cast<nanoseconds>(wall.time_since_epoch()).count();
    const auto delta = duration_cast<nanoseconds>(t - steady).count();
    const auto v = wall_ns + delta;
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

bool build_udp_packet(std::vector<std::byte>& out, const peer_address& src,
                      const peer_address& dst, std::span<const std::byte> payload) {
    using family = peer_address::family_type;
    const bool v6 = src.family == family::v6 || dst.family == family::v6;
    if (v6 && (src.family != family::v6 || dst.family != family::v6)) return false;
    if (payload.size() > max_udp_payload) payload = payload.first(max_udp_payload);
    const std::size_t ip_size = v6 ? 40 : 20;
    const auto udp_size = static_cast<std::uint16_t>(8 + payload.size());
    out.resize(ip_size + udp_size);
    std::byte* p = out.data();
    std::memset(p, 0, ip_size + 8);
    std::byte* udp = p + ip_size;
    if (!v6) {
        p[0] = std::byte{0x45};  // version 4, IHL 5
        store_be16(p + 2, static_cast<std::uint16_t>(ip_size + udp_size));
        p[6] = std::byte{0x40};  // don't fragment
        p[8] = std::byte{64};    // TTL
        p[9] = std::byte{17};    // UDP
        for (std::size_t i = 0; i < 4; ++i) {
            p[12 + i] = std::byte{src.bytes[i]};
            p[16 + i] = std::byte{dst.bytes[i]};
        }
        store_be16(p + 10, fold(sum16({p, 20})));
    } else {
        p[0] = std::byte{0x60};
        store_be16(p + 4, udp_size);
        p[6] = std::byte{17};
        p[7] = std::byte{64};
        for (std::size_t i = 0; i < 16; ++i) {
            p[8 + i] = std::byte{src.bytes[i]};
            p[24 + i] = std::byte{dst.bytes[i]};
        }
    }
    store_be16(udp, src.port);
    store_be16(udp + 2, dst.port);
    store_be16(udp + 4, udp_size);
    if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
    if (v6) {
        // Pseudo-header: addresses, UDP length, next header.
        std::uint32_t acc = sum16({p + 8, 32});
        acc += udp_size;
        acc += 17;
        acc = sum16({udp, udp_size}, acc);
        std::uint16_t c = fold(acc);
        if (c == 0) c = 0xFFFF;
        store_be16(udp + 6, c);
    }
    return true;
}

pcapng_writer::pcapng_writer(const std::filesystem::path& path, clock_origin origin)
    : origin_(origin) {
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) {
        throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
    }
    buffer_.reserve(buffer_capacity);
    frame_.reserve(max_udp_payload + 48);
    write_section_header();
}

pcapng_writer::pcapng_writer(std::vector<std::byte>& memory, clock_origin origin)
    : memory_(&memory), origin_(origin) {
    frame_.reserve(2048);
    write_section_header();
}

pcapng_writer::~pcapng_writer() {
    flush();
    if (file_ != nullptr) std::fclose(file_);
}

void pcapng_writer::flush() {
    if (file_ != nullptr && !buffer_.empty()) {
        // A short write (disk full) loses capture data but must not stop the transport.
        (void)std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
        std::fflush(file_);
    }
    buffer_.clear();
}

void pcapng_writer::put(std::span<const std::byte> bytes) {
    if (memory_ != nullptr) {
        memory_->insert(memory_->end(), bytes.begin(), bytes.end());
        return;
    }
    if (buffer_.size() + bytes.size() > buffer_capacity) {
        flush();
        if (bytes.size() > buffer_capacity) {
            (void)std::fwrite(bytes.data(), 1, bytes.size(), file_);
            return;
        }
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void pcapng_writer::put_u16(std::uint16_t v) {
    const std::array<std::byte, 2> b{static_cast<std::byte>(v), static_cast<std::byte>(v >> 8)};
    put(b);
}

void pcapng_writer::put_u32(std::uint32_t v) {
    const std::array<std::byte, 4> b{static_cast<std::byte>(v), static_cast<std::byte>(v >> 8),
                                     static_cast<std::byte>(v >> 16),
                                     static_cast<std::byte>(v >> 24)};
    put(b);
}

void pcapng_writer::put_padding(std::size_t n) {
    static constexpr std::array<std::byte, 4> zeros{};
    put(std::span(zeros).first(n));
}

void pcapng_writer::put_option(std::uint16_t code, std::span<const std::byte> value) {
    put_u16(code);
    put_u16(static_cast<std::uint16_t>(value.size()));
    put(value);
    put_padding(pad4(value.size()));
}

void pcapng_writer::write_section_header() {
    static constexpr std::string_view app = "neutrino-monitor";
    const std::size_t opts = 4 + app.size() + pad4(app.size()) + 4;
    const auto total = static_cast<std::uint32_t>(28 + opts);
    put_u32(pcapng::section_header_block);
    put_u32(total);
    put_u32(pcapng::byte_order_magic);
    put_u16(1);  // major
    put_u16(0);  // minor
    put_u32(0xFFFFFFFFU);  // section length: unknown
    put_u32(0xFFFFFFFFU);
    put_option(shb_userappl, std::as_bytes(std::span(app.data(), app.size())));
    put_u32(opt_endofopt);
    put_u32(total);
}

std::uint32_t pcapng_writer::add_interface(std::string_view name, std::uint16_t linktype) {
    const std::size_t name_opt = name.empty() ? 0 : 4 + name.size() + pad4(name.size());
    const std::size_t opts = name_opt + 8 /* tsresol */ + 4;
    const auto total = static_cast<std::uint32_t>(20 + opts);
    put_u32(pcapng::interface_description_block);
    put_u32(total);
    put_u16(linktype);
    put_u16(0);
    put_u32(0);  // snaplen: no limit
    if (!name.empty()) put_option(if_name, std::as_bytes(std::span(name.data(), name.size())));
    const std::array<std::byte, 1> nanoseconds{std::byte{9}};
    put_option(if_tsresol, nanoseconds);
    put_u32(opt_endofopt);
    put_u32(total);
    return interfaces_++;
}

void pcapng_writer::write_packet(std::uint32_t iface, std::uint64_t unix_ns,
                                 std::span<const std::byte> data, std::uint32_t original_size,
                                 std::string_view comment) {
    const std::size_t comment_opt =
        comment.empty() ? 0 : 4 + comment.size() + pad4(comment.size()) + 4;
    const auto total = static_cast<std::uint32_t>(32 + data.size() + pad4(data.size()) + comment_opt);
    put_u32(pcapng::enhanced_packet_block);
    put_u32(total);
    put_u32(iface);
    put_u32(static_cast<std::uint32_t>(unix_ns >> 32));
    put_u32(static_cast<std::uint32_t>(unix_ns));
    put_u32(static_cast<std::uint32_t>(data.size()));
    put_u32(std::max(original_size, static_cast<std::uint32_t>(data.size())));
    put(data);
    put_padding(pad4(data.size()));
    if (!comment.empty()) {
        put_option(opt_comment, std::as_bytes(std::span(comment.data(), comment.size())));
        put_u32(opt_endofopt);
    }
    put_u32(total);
    ++packets_;
}

void pcapng_writer::write_udp(std::uint32_t iface, time_point t, const peer_address& src,
                              const peer_address& dst, std::span<const std::byte> payload,
                              std::string_view comment) {
    peer_address s = src, d = dst;
    // An opaque handle (a transport that is not IP) is written as the IPv6 address of its 16
    // bytes, so a capture still tells its peers apart; an unknown family as IPv4 0.0.0.0 (or ::
    // beside an IPv6 peer).
    if (s.family == peer_address::family_type::opaque) s.family = peer_address::family_type::v6;
    if (d.family == peer_address::family_type::opaque) d.family = peer_address::family_type::v6;
    if (s.family == peer_address::family_type::none) s.family = d.family == peer_address::family_type::v6 ? d.family : peer_address::family_type::v4;
    if (d.family == peer_address::family_type::none) d.family = s.family;
    if (!build_udp_packet(frame_, s, d, payload)) return;
    write_packet(iface, origin_.unix_ns(t), frame_, static_cast<std::uint32_t>(frame_.size()),
                 comment);
}

void pcapng_writer::write_secrets(std::uint32_t secrets_type, std::span<const std::byte> data) {
    const auto total = static_cast<std::uint32_t>(20 + data.size() + pad4(data.size()));
    put_u32(pcapng::decryption_secrets_block);
    put_u32(total);
    put_u32(secrets_type);
    put_u32(static_cast<std::uint32_t>(data.size()));
    put(data);
    put_padding(pad4(data.size()));
    put_u32(total);
}

}  // namespace neutrino::monitor
