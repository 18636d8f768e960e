#include "neutrino/core/v3/symmetric_state.hpp"

#include <algorithm>
#include <cstddef>
#include <span>
#include <string_view>

namespace neutrino::core::v3 {

symmetric_state::symmetric_state(std::string_view protocol_name) noexcept {
    const std::size_t n = std::min(protocol_name.size(), hash_size);
    std::copy_n(as_bytes(protocol_name).begin(), n, h_.begin());
    std::copy(h_.begin(), h_.end(), ck_.bytes().begin());
}

void symmetric_state::mix_hash(bytes_view data) noexcept { h_ = hash({h_, data}); }

void symmetric_state::mix_key(bytes_view ikm) noexcept {
    auto [ck, t] = hkdf2(ck_.bytes(), ikm);
    ck_ = ck;
    k_ = t.first_key();
    n_ = 0;
}

result<std::size_t> symmetric_state::encrypt_and_hash(bytes_view plain,
                                                      std::span<std::byte> out) noexcept {
    std::size_t len = plain.size();
    if (k_) {
        auto c = aead_chacha20poly1305_ietf::seal(out, plain, h_, n_, *k_);
        if (!c) return c;
        len = *c;
        ++n_;
    } else {
        if (out.size() < len) return fail(errc::buffer_too_small);
        if (len != 0 && out.data() != plain.data())
            std::copy(plain.begin(), plain.end(), out.begin());
    }
    mix_hash(out.first(len));
    return len;
}

result<std::size_t> symmetric_state::decrypt_and_hash(bytes_view cipher,
                                                      std::span<std::byte> out) noexcept {
    std::size_t len = cipher.size();
    if (k_) {
        auto p = aead_chacha20poly1305_ietf::open(out, cipher, h_, n_, *k_);
        if (!p) return p;
        len = *p;
        ++n_;
    } else {
        if (out.size() < len) return fail(errc::buffer_too_small);
        std::copy(cipher.begin(), cipher.end(), out.begin());
    }
    mix_hash(cipher);
    return len;
}

transport_keys symmetric_state::split() const noexcept {
    auto [t1, t2] = hkdf2(ck_.bytes(), {});
    return {t1.first_key(), t2.first_key()};
}

}  // namespace neutrino::core::v3
