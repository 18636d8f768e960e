#include "neutrino/p2p/detail/sha1.hpp"

#include <sodium.h>

#include <bit>
#include <cstring>

#include "big_endian.hpp"

namespace neutrino::p2p::detail {

sha1::sha1() noexcept : h_{0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u} {}

void sha1::compress(const std::byte* block) noexcept {
    std::array<std::uint32_t, 80> w{};
    for (std::size_t i = 0; i < 16; ++i) w[i] = load_be<std::uint32_t>(block + 4 * i);
    for (std::size_t i = 16; i < 80; ++i) {
        w[i] = std::rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
    for (std::size_t i = 0; i < 80; ++i) {
        std::uint32_t f = 0, k = 0;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        const std::uint32_t t = std::rotl(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = std::rotl(b, 30);
        b = a;
        a = t;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
}

void sha1::update(std::span<const std::byte> in) noexcept {
    total_ += in.size();
    while (!in.empty()) {
        const std::size_t take = std::min(in.size(), sha1_block_size - buf_len_);
        std::memcpy(buf_.data() + buf_len_, in.data(), take);
        buf_len_ += take;
        in = in.subspan(take);
        if (buf_len_ == sha1_block_size) {
            compress(buf_.data());
            buf_len_ = 0;
        }
    }
}

sha1_digest sha1::finish() noexcept {
    const std::uint64_t bits = total_ * 8;
    const std::byte one{0x80};
    update({&one, 1});
    const std::byte zero{0};
    while (buf_len_ != sha1_block_size - 8) update({&zero, 1});
    std::array<std::byte, 8> len{};
    store_be(len.data(), bits);
    update(len);
    sha1_digest out{};
    for (std::size_t i = 0; i < 5; ++i) store_be(out.data() + 4 * i, h_[i]);
    return out;
}

hmac_sha1::hmac_sha1(std::span<const std::byte> key) noexcept {
    if (key.size() > sha1_block_size) {
        sha1 h;
        h.update(key);
        const sha1_digest d = h.finish();
        std::memcpy(key_block_.data(), d.data(), d.size());
    } else if (!key.empty()) {
        std::memcpy(key_block_.data(), key.data(), key.size());
    }
    std::array<std::byte, sha1_block_size> ipad{};
    for (std::size_t i = 0; i < sha1_block_size; ++i) ipad[i] = key_block_[i] ^ std::byte{0x36};
    inner_.update(ipad);
    sodium_memzero(ipad.data(), ipad.size());
}

hmac_sha1::~hmac_sha1() { sodium_memzero(key_block_.data(), key_block_.size()); }

sha1_digest hmac_sha1::finish() noexcept {
    const sha1_digest inner = inner_.finish();
    std::array<std::byte, sha1_block_size> opad{};
    for (std::size_t i = 0; i < sha1_block_size; ++i) opad[i] = key_block_[i] ^ std::byte{0x5C};
    sha1 outer;
    outer.update(opad);
    outer.update(inner);
    sodium_memzero(opad.data(), opad.size());
    return outer.finish();
}

}  // namespace neutrino::p2p::detail
