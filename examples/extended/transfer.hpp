#pragma once
// Helpers shared by neutrino-send and neutrino-recv (not part of the library): the file
// protocol's constants, keys given as hex or as a file, a BLAKE2b-256 hasher, POSIX file
// reading and writing with error codes, the terminal progress bar and the --wire / --monitor /
// --pcap / --keylog observer set-up.
//
// The protocol (over neutrino-extended, one session per file):
//  - sender → receiver: ONE message of two words [file name (a basename), file content],
//    written as a streamed message (`begin_message` + `write`), so neither side holds the file;
//  - receiver → sender: ["ok", <BLAKE2b-256 of the content, 32 bytes>] once the file is on
//    disk, or ["error", <reason>] as soon as it refuses or loses the transfer.

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::examples {

// --- protocol ---------------------------------------------------------------------------------

inline constexpr std::string_view reply_ok = "ok";
inline constexpr std::string_view reply_error = "error";
/// Bytes of the content hash (crypto_generichash, BLAKE2b-256).
inline constexpr std::size_t hash_size = crypto_generichash_BYTES;
static_assert(hash_size == 32);
/// The longest file name accepted (Linux NAME_MAX).
inline constexpr std::size_t max_name_size = 255;
/// The largest word of the Extended framing (u32 size field): the largest file.
inline constexpr std::uint64_t max_word_size = 0xffff'ffffULL;
/// Encoded bytes of a [name, content] message beyond the content.  spec: neutrino.md §5
inline constexpr std::uint64_t message_overhead(std::size_t name_size) noexcept {
    return 2 + 4 + name_size + 4;
}

/// The largest message size a v3 handshake announces (a u32 field).
/// spec: neutrino-v3.md §9.1, §9.2
inline constexpr std::uint64_t max_announced_message_size = 0xffff'ffffULL;

/// `max_message_size` as announced in a v3 handshake (`v3::client_options` /
/// `v3::server_options::max_message_size`): clamped to the u32 field, so the largest
/// value stands for "this much or more".
inline constexpr std::uint32_t announced_message_size(std::uint64_t max_message_size) noexcept {
    return static_cast<std::uint32_t>(std::min(max_message_size, max_announced_message_size));
}

using digest = std::array<std::byte, hash_size>;

/// Empty when `name` is a plain file name (no directory part, not "." or "..", no NUL, at most
/// max_name_size bytes); otherwise why not.
inline std::string check_file_name(std::string_view name) {
    if (name.empty()) return "empty file name";
    if (name.size() > max_name_size)
        return fmt::format("file name of {} bytes (at most {})", name.size(), max_name_size);
    if (name == "." || name == "..") return fmt::format("file name '{}'", name);
    if (name.find('/') != std::string_view::npos) return "file name with a '/'";
    if (name.find('\0') != std::string_view::npos) return "file name with a NUL byte";
    return {};
}

// --- keys -------------------------------------------------------------------------------------

/// A key given on the command line: 64 hex characters, or the path of a file whose first
/// whitespace-separated token is. Throws std::invalid_argument naming `option`.
inline std::array<std::byte, 32> load_key(const std::string& text, std::string_view option) {
    if (auto k = core::parse_key_hex(text)) return *k;
    std::ifstream in(text);
    if (!in) {
        throw std::invalid_argument(
            fmt::format("{}: neither 64 hex characters nor a readable file: '{}'", option, text));
    }
    std::string token;
    in >> token;
    auto k = core::parse_key_hex(token);
    if (!k)
        throw std::invalid_argument(
            fmt::format("{}: file {}: {}", option, text, k.error().message()));
    return *k;
}

// --- hashing ----------------------------------------------------------------------------------

/// BLAKE2b-256 over bytes fed in pieces (libsodium crypto_generichash).
class blake2b_256 {
public:
    blake2b_256() {
        if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
        (void)crypto_generichash_init(&state_, nullptr, 0, hash_size);
    }
    void update(std::span<const std::byte> bytes) noexcept {
        (void)crypto_generichash_update(
            &state_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    }
    /// The hash of everything fed; call once.
    [[nodiscard]] digest final() noexcept {
        digest d{};
        (void)crypto_generichash_final(&state_, reinterpret_cast<unsigned char*>(d.data()),
                                       d.size());
        return d;
    }

private:
    crypto_generichash_state state_{};
};

/// Constant-time comparison of two hashes.
[[nodiscard]] inline bool same_digest(std::span<const std::byte> a,
                                      std::span<const std::byte> b) noexcept {
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// --- files ------------------------------------------------------------------------------------

/// An owned POSIX file descriptor.
class file_handle {
public:
    file_handle() = default;
    explicit file_handle(int fd) noexcept : fd_(fd) {}
    file_handle(file_handle&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    file_handle& operator=(file_handle&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    file_handle(const file_handle&) = delete;
    file_handle& operator=(const file_handle&) = delete;
    ~file_handle() { close(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    /// Closes; the error of close(2), if any.
    std::error_code close() noexcept {
        if (fd_ < 0) return {};
        const int r = ::close(std::exchange(fd_, -1));
        return r == 0 ? std::error_code{} : std::error_code(errno, std::system_category());
    }

private:
    int fd_ = -1;
};

inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }

/// Reads a regular file front to back in chunks.
class file_reader {
public:
    /// Opens `path`; errors: those of open(2) / fstat(2), or errc::invalid_argument when it is not
    /// a regular file.
    std::error_code open(const std::string& path) {
        file_handle f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!f.is_open()) return last_error();
        struct stat st {};
        if (::fstat(f.get(), &st) != 0) return last_error();
        if (!S_ISREG(st.st_mode)) return std::make_error_code(std::errc::invalid_argument);
        size_ = static_cast<std::uint64_t>(st.st_size);
        fd_ = std::move(f);
#ifdef POSIX_FADV_SEQUENTIAL
        (void)::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
        return {};
    }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

    /// Fills `out` completely (fewer bytes only at the end of the file); the bytes read.
    result<std::size_t> read(std::span<std::byte> out) {
        std::size_t got = 0;
        while (got < out.size()) {
            const ::ssize_t n = ::read(fd_.get(), out.data() + got, out.size() - got);
            if (n < 0) {
                if (errno == EINTR) continue;
                return tl::unexpected(last_error());
            }
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        return got;
    }

private:
    file_handle fd_;
    std::uint64_t size_ = 0;
};

/// Writes a file through a buffer of `buffer_size` bytes (the parts of a streamed message are
/// one fragment each: a write(2) per part would cost a system call per 1214 bytes on wire v2,
/// 1238 on v3).
class file_writer {
public:
    explicit file_writer(std::size_t buffer_size = 256 * 1024) : capacity_(buffer_size) {}

    /// Creates or truncates `path` (mode 0644). Errors: those of open(2).
    std::error_code open(const std::string& path) {
        file_handle f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!f.is_open()) return last_error();
        fd_ = std::move(f);
        buffer_.clear();
        buffer_.reserve(capacity_);
        return {};
    }
    [[nodiscard]] bool is_open() const noexcept { return fd_.is_open(); }

    std::error_code write(std::span<const std::byte> bytes) {
        if (buffer_.size() + bytes.size() > capacity_) {
            if (auto ec = flush()) return ec;
            if (bytes.size() >= capacity_) return write_all(bytes);
        }
        buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
        return {};
    }
    /// Writes the buffer out and closes the file (errors of write(2) and close(2) both count).
    std::error_code close() {
        auto ec = flush();
        auto cec = fd_.close();
        return ec ? ec : cec;
    }
    /// Closes without caring about errors (the file is about to be removed).
    void abandon() noexcept {
        buffer_.clear();
        (void)fd_.close();
    }

private:
    std::error_code flush() {
        auto ec = write_all(buffer_);
        buffer_.clear();
        return ec;
    }
    std::error_code write_all(std::span<const std::byte> bytes) {
        while (!bytes.empty()) {
            const ::ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                return last_error();
            }
            bytes = bytes.subspan(static_cast<std::size_t>(n));
        }
        return {};
    }

    file_handle fd_;
    std::size_t capacity_;
    std::vector<std::byte> buffer_;
};

// --- figures ----------------------------------------------------------------------------------

/// Megabytes (10^6 bytes) per second; 0 for an empty interval.
inline double mb_per_s(std::uint64_t bytes, duration elapsed) noexcept {
    const double s = std::chrono::duration<double>(elapsed).count();
    return s > 0 ? static_cast<double>(bytes) / s / 1e6 : 0.0;
}

inline double seconds(duration d) noexcept { return std::chrono::duration<double>(d).count(); }

/// "1.5 MB" style (decimal units, as MB/s).
inline std::string format_bytes(std::uint64_t n) {
    const double v = static_cast<double>(n);
    if (n < 1000) return fmt::format("{} B", n);
    if (n < 1000 * 1000) return fmt::format("{:.1f} kB", v / 1e3);
    if (n < 1000ULL * 1000 * 1000) return fmt::format("{:.1f} MB", v / 1e6);
    return fmt::format("{:.2f} GB", v / 1e9);
}

// --- progress bar -----------------------------------------------------------------------------

/// A one-line progress bar on stderr: bytes, percent, MB/s (average since the start), ETA.
/// Silent unless stderr is a terminal, and until the transfer has run for a second (short ones
/// never show one); redrawn at most ten times a second. Not thread-safe.
class progress_bar {
public:
    progress_bar() = default;
    progress_bar(std::string label, std::uint64_t total, time_point start)
        : label_(std::move(label)),
          total_(total),
          start_(start),
          enabled_(::isatty(STDERR_FILENO) == 1) {}

    /// `done` of `total` bytes at `now`.
    void update(std::uint64_t done, time_point now) {
        if (!enabled_ || now - start_ < std::chrono::seconds(1)) return;
        if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        draw(done, now);
    }
    /// Erases the line (before a log line, or at the end).
    void clear() {
        if (!drawn_) return;
        std::fputs("\r\033[K", stderr);
        std::fflush(stderr);
        drawn_ = false;
    }

private:
    void draw(std::uint64_t done, time_point now) {
        constexpr int width = 30;
        const double fraction =
            total_ == 0 ? 1.0
                        : std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
        const int filled = static_cast<int>(fraction * width);
        const double rate = mb_per_s(done, now - start_);
        std::string eta = "--:--";
        if (rate > 0 && done < total_) {
            const auto left =
                static_cast<long long>(static_cast<double>(total_ - done) / (rate * 1e6));
            eta = fmt::format("{}:{:02}", left / 60, left % 60);
        }
        fmt::print(stderr, "\r\033[K{} [{}{}] {:5.1f}% {} / {} {:.1f} MB/s ETA {}", label_,
                   std::string(static_cast<std::size_t>(filled), '#'),
                   std::string(static_cast<std::size_t>(width - filled), '.'), fraction * 100.0,
                   format_bytes(done), format_bytes(total_), rate, eta);
        std::fflush(stderr);
        drawn_ = true;
    }

    std::string label_;
    std::uint64_t total_ = 0;
    time_point start_{};
    time_point last_draw_{};
    bool enabled_ = false;
    bool drawn_ = false;
};

// --- observers --------------------------------------------------------------------------------

}  // namespace neutrino::examples
