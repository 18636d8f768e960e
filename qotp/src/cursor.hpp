#pragma once
// Private to the library's sources: bounds-checked sequential reading and writing of wire
// fields. Callers check `remaining()` (or the returned bool) before relying on the data.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "neutrino/endian.hpp"

namespace neutrino::qotp::detail {

/// Writes fields one after the other into a span the caller has sized; `put_*` beyond the end
/// is a programming error the callers rule out by checking the total size first.
class writer {
public:
    explicit writer(std::span<std::byte> out) noexcept : out_(out) {}

    void put_byte(std::byte b) noexcept { out_[pos_++] = b; }
    void put_bytes(std::span<const std::byte> bytes) noexcept {
        // memmove: the source may already sit inside the output (in-place encoding)
        if (!bytes.empty()) std::memmove(out_.data() + pos_, bytes.data(), bytes.size());
        pos_ += bytes.size();
    }
    void put_le(std::uint64_t v, std::size_t size) noexcept {
        neutrino::store_le(out_.subspan(pos_, size), v);
        pos_ += size;
    }
    void put_zeros(std::size_t size) noexcept {
        std::fill_n(out_.begin() + static_cast<std::ptrdiff_t>(pos_), size, std::byte{0});
        pos_ += size;
    }
    [[nodiscard]] std::size_t size() const noexcept { return pos_; }

private:
    std::span<std::byte> out_;
    std::size_t pos_ = 0;
};

/// Reads fields one after the other; every read reports whether the bytes were there.
class reader {
public:
    explicit reader(std::span<const std::byte> in) noexcept : in_(in) {}

    [[nodiscard]] bool take_le(std::size_t size, std::uint64_t& v) noexcept {
        if (remaining() < size) return false;
        v = neutrino::load_le(in_.subspan(pos_, size));
        pos_ += size;
        return true;
    }
    [[nodiscard]] bool take_bytes(std::size_t size, std::span<const std::byte>& bytes) noexcept {
        if (remaining() < size) return false;
        bytes = in_.subspan(pos_, size);
        pos_ += size;
        return true;
    }
    [[nodiscard]] std::span<const std::byte> rest() noexcept {
        auto r = in_.subspan(pos_);
        pos_ = in_.size();
        return r;
    }
    [[nodiscard]] std::size_t remaining() const noexcept { return in_.size() - pos_; }

private:
    std::span<const std::byte> in_;
    std::size_t pos_ = 0;
};

}  // namespace neutrino::qotp::detail
