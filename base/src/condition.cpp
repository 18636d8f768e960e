#include "neutrino/condition.hpp"

#include <string>

namespace neutrino {
namespace {

class condition_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "neutrino.condition"; }
    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<condition>(ev)) {
            case condition::malformed: return "malformed input";
            case condition::unauthenticated: return "unauthenticated input";
            case condition::replayed: return "replayed input";
            case condition::too_large: return "too large";
            case condition::protocol_violation: return "protocol violation";
            case condition::timed_out: return "timed out";
            case condition::refused: return "refused";
            case condition::misuse: return "API misuse";
        }
        return "unknown condition";
    }
};

}  // namespace

const std::error_category& condition_category() noexcept {
    static const condition_category_impl c;
    return c;
}

}  // namespace neutrino
