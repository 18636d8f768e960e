#pragma once
/// \file
/// `io::to_boost` / `io::to_std`: the machines report `std::error_code`s (core::errc,
/// extended::errc, …); Asio's completion tokens (`use_future`, `use_awaitable`) treat only a
/// leading `boost::system::error_code` as an error. Boost 1.74 cannot wrap a
/// `std::error_category`, so each one gets a Boost category that forwards its name and
/// messages; `to_std` gives the original code back, so
/// `io::to_std(ec) == core::errc::timed_out` works on what an operation completed with.

#include <array>
#include <mutex>
#include <string>
#include <system_error>

#include <boost/system/error_code.hpp>

namespace neutrino::io {

namespace detail {

// Boost 1.74's error_category has a protected non-virtual destructor; adapters are never
// destroyed (see adapter_table), so nothing is deleted through the base.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
#endif
/// A Boost category forwarding to one `std::error_category`.
class std_category_adapter final : public boost::system::error_category {
public:
    explicit std_category_adapter(const std::error_category& c) noexcept : std_(&c) {}
    [[nodiscard]] const char* name() const noexcept override { return std_->name(); }
    [[nodiscard]] std::string message(int ev) const override { return std_->message(ev); }
    [[nodiscard]] const std::error_category& wrapped() const noexcept { return *std_; }

private:
    const std::error_category* std_;
};
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/// The adapters made so far (a program has a handful of categories; beyond the table's size a
/// code falls back to the generic category with its value, never to undefined behaviour).
struct adapter_table {
    static constexpr std::size_t capacity = 16;
    std::mutex lock;
    std::array<const std::error_category*, capacity> keys{};
    std::array<std_category_adapter*, capacity> adapters{};
    std::size_t size = 0;

    static adapter_table& instance() {
        static adapter_table t;
        return t;
    }
    const std_category_adapter* find_or_add(const std::error_category& c) {
        std::scoped_lock guard(lock);
        for (std::size_t i = 0; i < size; ++i) {
            if (keys[i] == &c) return adapters[i];
        }
        if (size == capacity) return nullptr;
        keys[size] = &c;
        adapters[size] = new std_category_adapter(c);  // lives as long as the program
        return adapters[size++];
    }
};

}  // namespace detail

/// The same error as a `boost::system::error_code`.
[[nodiscard]] inline boost::system::error_code to_boost(const std::error_code& ec) {
    if (!ec) return {};
    if (ec.category() == std::generic_category()) return {ec.value(), boost::system::generic_category()};
    if (ec.category() == std::system_category()) return {ec.value(), boost::system::system_category()};
    if (const auto* c = detail::adapter_table::instance().find_or_add(ec.category())) {
        return {ec.value(), *c};
    }
    return {ec.value(), boost::system::generic_category()};
}

/// The original `std::error_code` of a code made by `to_boost`; others are converted through
/// Boost's own interoperability.
[[nodiscard]] inline std::error_code to_std(const boost::system::error_code& ec) {
    if (!ec) return {};
    if (const auto* a = dynamic_cast<const detail::std_category_adapter*>(&ec.category())) {
        return {ec.value(), a->wrapped()};
    }
    return ec;  // Boost 1.74 converts to std::error_code
}

}  // namespace neutrino::io
