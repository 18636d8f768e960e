// Compiles against the installed headers and runs: the package is usable from outside.
#include <neutrino/core/datagram_layer.hpp>
#include <neutrino/core/result.hpp>

int main() {
    const neutrino::result<int> r{42};
    return r.has_value() && *r == 42 ? 0 : 1;
}
