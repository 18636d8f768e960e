// Compiles against the installed headers and runs: every module of the package is usable from
// outside (headers found, libraries linked, dependencies re-found by neutrinoConfig.cmake).
#include <array>
#include <cstddef>

#include <neutrino/core/datagram_layer.hpp>
#include <neutrino/core/result.hpp>
#include <neutrino/extended/detail/reassembler.hpp>
#include <neutrino/inspector/impairment.hpp>
#include <neutrino/monitor/terminal_observer.hpp>
#include <neutrino/reliable/client.hpp>
#include <neutrino/reliable/server.hpp>

static_assert(neutrino::datagram_layer<neutrino::reliable::client>);
static_assert(neutrino::datagram_layer<neutrino::reliable::server>);

int main() {
    const neutrino::result<int> r{42};
    neutrino::inspector::impairment link({}, 1);  // a seeded, unimpaired direction
    const std::array<std::byte, 3> d{};
    link.submit(d, neutrino::time_point{});
    const bool forwarded = link.poll(neutrino::time_point{}).has_value();
    return r.has_value() && *r == 42 && forwarded ? 0 : 1;
}
