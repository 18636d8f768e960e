#include "neutrino/monitor/pcapng_reader.hpp"

#include <array>
#include <cstdio>

#include "neutrino/monitor/pcapng_writer.hpp"

namespace neutrino::monitor {
namespace {

constexpr std::size_t max_interfaces = 65536;

std::uint16_t be16(const std::byte* p) noexcept {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) |
                                      std::to_integer<unsigned>(p[1]));
}

std::string hex_offset(std::size_t at) {
    std::array<char, 32> b{};
    std::snprintf(b.data(), b.size(), "0x%zx", at);
    return b.data();
}

}  // namespace

std::uint16_t pcapng_reader::u16(std::size_t at) const noexcept {
    const auto a = std::to_integer<unsigned>(file_[at]), b = std::to_integer<unsigned>(file_[at + 1]);
    return static_cast<std::uint16_t>(big_endian_ ? (a << 8) | b : (b << 8) | a);
}

std::uint32_t pcapng_reader::u32(std::size_t at) const noexcept {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const auto byte = std::to_integer<std::uint32_t>(file_[at + (big_endian_ ? i : 3 - i)]);
        v = (v << 8) | byte;
    }
    return v;
}

pcapng_record pcapng_reader::problem(std::size_t at, std::string message) {
    pcapng_record r;
    r.what = pcapng_record::kind::problem;
    r.offset = at;
    r.message = "block at " + hex_offset(at) + ": " + std::move(message);
    return r;
}

std::optional<pcapng_record> pcapng_reader::next() {
    while (!done_) {
        const std::size_t at = pos_;
        const std::size_t left = file_.size() - at;
        if (left == 0) {
            done_ = true;
            if (!in_section_) return problem(at, "empty file: not a pcapng capture");
            return std::nullopt;
        }
        if (left < 12) {
            done_ = true;
            return problem(at, "truncated block header (" + std::to_string(left) + " bytes left)");
        }
        bool tentative_big = big_endian_;
        std::uint32_t type = u32(at);
        if (type == pcapng::section_header_block) {
            // The byte order magic decides the byte order of this section, length included.
            const auto m0 = std::to_integer<unsigned>(file_[at + 8]);
            tentative_big = m0 == 0x1A;
            if (m0 != 0x1A && m0 != 0x4D) {
                done_ = true;
                return problem(at, "section header with a bad byte-order magic");
            }
            big_endian_ = tentative_big;
        } else if (!in_section_) {
            done_ = true;
            if (at == 0 && (u32(0) == 0xa1b2c3d4U || u32(0) == 0xd4c3b2a1U ||
                            u32(0) == 0xa1b23c4dU || u32(0) == 0x4d3cb2a1U)) {
                return problem(at, "a classic pcap file, not pcapng (convert with editcap -F pcapng)");
            }
            return problem(at, "not a pcapng capture (no section header block)");
        }
        const std::size_t length = u32(at + 4);
        if (length < 12 || length % 4 != 0 || length > left) {
            done_ = true;
            return problem(at, "bad block length " + std::to_string(length) + " (" +
                                   std::to_string(left) + " bytes left); stopping");
        }
        if (u32(at + length - 4) != length) {
            done_ = true;
            return problem(at, "trailing block length does not match; stopping");
        }
        pos_ = at + length;
        switch (type) {
            case pcapng::section_header_block: {
                if (length < 28) {
                    done_ = true;
                    return problem(at, "section header block too short");
                }
                if (u16(at + 12) != 1) {
                    done_ = true;
                    return problem(at, "unsupported pcapng major version " + std::to_string(u16(at + 12)));
                }
                in_section_ = true;
                interfaces_.clear();
                pcapng_record r;
                r.what = pcapng_record::kind::section;
                r.offset = at;
                return r;
            }
            case pcapng::interface_description_block: return read_interface(at, length);
            case pcapng::enhanced_packet_block: return read_enhanced(at, length);
            case pcapng::simple_packet_block: return read_simple(at, length);
            case pcapng::decryption_secrets_block: return read_secrets(at, length);
            default: continue;  // unknown block: skipped
        }
    }
    return std::nullopt;
}

pcapng_record pcapng_reader::read_interface(std::size_t at, std::size_t length) {
    if (length < 20) return problem(at, "interface description block too short");
    if (interfaces_.size() >= max_interfaces) return problem(at, "too many interfaces");
    interface_info info;
    info.linktype = u16(at + 8);
    // Options: code, length, value padded to 4.
    std::size_t o = at + 16;
    const std::size_t end = at + length - 4;
    while (end - o >= 4) {
        const std::uint16_t code = u16(o), len = u16(o + 2);
        if (code == 0) break;
        if (end - o - 4 < len) return problem(at, "interface option runs past the block");
        if (code == 9 && len >= 1) {  // if_tsresol
            const auto v = std::to_integer<unsigned>(file_[o + 4]);
            const unsigned exp = v & 0x7FU;
            std::uint64_t units = 1;
            const bool base2 = (v & 0x80U) != 0;
            if ((base2 && exp > 63) || (!base2 && exp > 19)) {
                interfaces_.push_back(info);
                return problem(at, "unsupported timestamp resolution; using microseconds");
            }
            for (unsigned i = 0; i < exp; ++i) units *= base2 ? 2 : 10;
            info.units_per_second = units;
        }
        o += 4 + std::size_t{len} + (4 - std::size_t{len} % 4) % 4;
        if (o > end) break;
    }
    interfaces_.push_back(info);
    pcapng_record r;
    r.what = pcapng_record::kind::interface;
    r.offset = at;
    r.linktype = info.linktype;
    r.interface_id = static_cast<std::uint32_t>(interfaces_.size() - 1);
    return r;
}

pcapng_record pcapng_reader::read_enhanced(std::size_t at, std::size_t length) {
    if (length < 32) return problem(at, "enhanced packet block too short");
    pcapng_record r;
    r.what = pcapng_record::kind::packet;
    r.offset = at;
    r.interface_id = u32(at + 8);
    if (r.interface_id >= interfaces_.size()) {
        return problem(at, "packet on undeclared interface " + std::to_string(r.interface_id));
    }
    const interface_info& info = interfaces_[r.interface_id];
    r.linktype = info.linktype;
    const std::uint64_t ts = (std::uint64_t{u32(at + 12)} << 32) | u32(at + 16);
    // Units → nanoseconds without overflow for the usual resolutions.
    if (info.units_per_second == 1000000000ULL) {
        r.timestamp_ns = ts;
    } else if (info.units_per_second <= 1000000000ULL && 1000000000ULL % info.units_per_second == 0) {
        r.timestamp_ns = ts * (1000000000ULL / info.units_per_second);
    } else {
        r.timestamp_ns = static_cast<std::uint64_t>(static_cast<long double>(ts) * 1e9L /
                                                    static_cast<long double>(info.units_per_second));
    }
    const std::size_t captured = u32(at + 20);
    r.original_size = u32(at + 24);
    const std::size_t room = length - 32;
    if (captured > room) {
        return problem(at, "captured length " + std::to_string(captured) +
                               " exceeds the block (room for " + std::to_string(room) + "); skipped");
    }
    r.data = file_.subspan(at + 28, captured);
    std::size_t o = at + 28 + captured + (4 - captured % 4) % 4;
    const std::size_t end = at + length - 4;
    while (o < end && end - o >= 4) {
        const std::uint16_t code = u16(o), len = u16(o + 2);
        if (code == 0) break;
        if (end - o - 4 < len) break;  // a bad option does not spoil the packet
        if (code == 1 && r.comment.empty()) {
            r.comment.assign(reinterpret_cast<const char*>(file_.data() + o + 4), len);
        }
        o += 4 + std::size_t{len} + (4 - std::size_t{len} % 4) % 4;
    }
    return r;
}

pcapng_record pcapng_reader::read_simple(std::size_t at, std::size_t length) {
    if (length < 16) return problem(at, "simple packet block too short");
    if (interfaces_.empty()) return problem(at, "simple packet block without an interface");
    pcapng_record r;
    r.what = pcapng_record::kind::packet;
    r.offset = at;
    r.linktype = interfaces_[0].linktype;
    r.original_size = u32(at + 8);
    const std::size_t captured = std::min<std::size_t>(r.original_size, length - 16);
    r.data = file_.subspan(at + 12, captured);
    return r;
}

pcapng_record pcapng_reader::read_secrets(std::size_t at, std::size_t length) {
    if (length < 20) return problem(at, "decryption secrets block too short");
    pcapng_record r;
    r.what = pcapng_record::kind::secrets;
    r.offset = at;
    r.secrets_type = u32(at + 8);
    const std::size_t size = u32(at + 12);
    if (size > length - 20) return problem(at, "secrets length exceeds the block; skipped");
    r.data = file_.subspan(at + 16, size);
    return r;
}

std::optional<udp_datagram> parse_udp(std::uint16_t linktype,
                                      std::span<const std::byte> f) noexcept {
    std::size_t ip = 0;
    switch (linktype) {
        case pcapng::linktype_raw:
        case pcapng::linktype_ipv4:
        case pcapng::linktype_ipv6: ip = 0; break;
        case pcapng::linktype_null: ip = 4; break;
        case pcapng::linktype_linux_sll: {
            if (f.size() < 16) return std::nullopt;
            const std::uint16_t proto = be16(f.data() + 14);
            if (proto != 0x0800 && proto != 0x86DD) return std::nullopt;
            ip = 16;
            break;
        }
        case pcapng::linktype_ethernet: {
            if (f.size() < 14) return std::nullopt;
            std::uint16_t proto = be16(f.data() + 12);
            ip = 14;
            if (proto == 0x8100) {
                if (f.size() < 18) return std::nullopt;
                proto = be16(f.data() + 16);
                ip = 18;
            }
            if (proto != 0x0800 && proto != 0x86DD) return std::nullopt;
            break;
        }
        default: return std::nullopt;
    }
    if (f.size() <= ip) return std::nullopt;
    const std::byte* p = f.data() + ip;
    const std::size_t left = f.size() - ip;
    const unsigned version = std::to_integer<unsigned>(p[0]) >> 4;
    udp_datagram d;
    std::size_t udp = 0;
    if (version == 4) {
        if (left < 20) return std::nullopt;
        const std::size_t ihl = (std::to_integer<std::size_t>(p[0]) & 0x0FU) * 4;
        if (ihl < 20 || left < ihl) return std::nullopt;
        if (std::to_integer<unsigned>(p[9]) != 17) return std::nullopt;
        if ((be16(p + 6) & 0x1FFFU) != 0) return std::nullopt;  // not the first fragment
        d.src.family = d.dst.family = peer_address::family_type::v4;
        for (std::size_t i = 0; i < 4; ++i) {
            d.src.bytes[i] = std::to_integer<std::uint8_t>(p[12 + i]);
            d.dst.bytes[i] = std::to_integer<std::uint8_t>(p[16 + i]);
        }
        udp = ihl;
    } else if (version == 6) {
        if (left < 40) return std::nullopt;
        if (std::to_integer<unsigned>(p[6]) != 17) return std::nullopt;  // no extension headers
        d.src.family = d.dst.family = peer_address::family_type::v6;
        for (std::size_t i = 0; i < 16; ++i) {
            d.src.bytes[i] = std::to_integer<std::uint8_t>(p[8 + i]);
            d.dst.bytes[i] = std::to_integer<std::uint8_t>(p[24 + i]);
        }
        udp = 40;
    } else {
        return std::nullopt;
    }
    if (left - udp < 8) return std::nullopt;
    const std::byte* u = p + udp;
    d.src.port = be16(u);
    d.dst.port = be16(u + 2);
    const std::size_t udp_len = be16(u + 4);
    if (udp_len < 8) return std::nullopt;
    const std::size_t avail = left - udp - 8;
    d.payload = {u + 8, std::min(avail, udp_len - 8)};
    return d;
}

std::string to_string(const peer_address& a) {
    std::array<char, 64> b{};
    if (a.family == peer_address::family_type::opaque) {  // a handle of a transport that is not IP
        std::string s = "peer:";
        for (const auto byte : a.bytes) {
            std::snprintf(b.data(), b.size(), "%02x", unsigned{byte});
            s += b.data();
        }
        return s + "/" + std::to_string(a.port);
    }
    if (a.family == peer_address::family_type::v6) {
        std::string s = "[";
        for (std::size_t i = 0; i < 16; i += 2) {
            if (i != 0) s += ':';
            std::snprintf(b.data(), b.size(), "%x", (unsigned{a.bytes[i]} << 8) | a.bytes[i + 1]);
            s += b.data();
        }
        return s + "]:" + std::to_string(a.port);
    }
    std::snprintf(b.data(), b.size(), "%u.%u.%u.%u:%u", a.bytes[0], a.bytes[1], a.bytes[2],
                  a.bytes[3], unsigned{a.port});
    return b.data();
}

}  // namespace neutrino::monitor
