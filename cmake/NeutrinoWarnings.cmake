# Compiler warnings and Asio configuration shared by every neutrino target.
include_guard(GLOBAL)

# neutrino_set_warnings(<target>)
# Adds the project's warning set (GCC and Clang) and -Werror when NEUTRINO_WERROR is ON.
# Warnings are PRIVATE (INTERFACE for interface libraries, so they reach the targets that
# compile their headers within this build) and are never exported to consumers.
function(neutrino_set_warnings target)
    set(warnings
        -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
        -Wold-style-cast -Wcast-align -Wimplicit-fallthrough)
    if(NEUTRINO_WERROR)
        list(APPEND warnings -Werror)
    endif()
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
        set(scope INTERFACE)
    else()
        set(scope PRIVATE)
    endif()
    target_compile_options(${target} ${scope}
        "$<BUILD_INTERFACE:$<$<CXX_COMPILER_ID:GNU,Clang>:${warnings}>>")
endfunction()

# neutrino_set_test_warnings(<target>)
# The warnings of neutrino_set_warnings for a test executable, less two that GCC 12 reports
# falsely at -O2/-O3 from inside libstdc++ for code every test writes: -Wrestrict on
# `"m" + std::to_string(i)` (GCC bug 105329) and -Wmaybe-uninitialized on moving into an
# std::optional<std::vector<…>> (GCC bug 80635). The library, tools and examples keep both.
# It also gives the test the shared support headers of tests/support (the seed, the client/
# server pair fixture), and the precompiled header of neutrino_precompile unless NO_PCH is given
# (for modules that do not use neutrino-core, whose headers that one parses).
function(neutrino_set_test_warnings target)
    cmake_parse_arguments(arg "NO_PCH" "" "" ${ARGN})
    neutrino_set_warnings(${target})
    target_include_directories(${target} PRIVATE "${PROJECT_SOURCE_DIR}/tests/support")
    if(NOT arg_NO_PCH)
        neutrino_precompile(${target} GTEST)
    endif()
    target_compile_options(${target} PRIVATE
        "$<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_GREATER_EQUAL:$<CXX_COMPILER_VERSION>,12>>:-Wno-restrict;-Wno-maybe-uninitialized>")
endfunction()

# neutrino_asio_defs(<target>)
# Boost 1.74's Asio detects C++20 coroutines only for GCC; with Clang it must be told.
# The definitions are a generator expression evaluated with the *consumer's* compiler, so
# the exported target is right whichever compiler built it. They are INTERFACE for interface
# libraries and PUBLIC otherwise (the target's own sources need them too).
# Checked: clang++-14 with libstdc++ 12 compiles std::coroutine and asio::awaitable with
# plain -std=c++20 plus these definitions; no -fcoroutines-ts. g++ 12 needs nothing.
function(neutrino_asio_defs target)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
        set(scope INTERFACE)
    else()
        set(scope PUBLIC)
    endif()
    target_compile_definitions(${target} ${scope}
        "$<$<CXX_COMPILER_ID:Clang>:BOOST_ASIO_HAS_CO_AWAIT=1>"
        "$<$<CXX_COMPILER_ID:Clang>:BOOST_ASIO_HAS_STD_COROUTINE=1>")
endfunction()

# neutrino_precompile(<target> [GTEST] [TOOLS])
# Precompiles what nearly every source of a test, benchmark or example includes: the standard
# library, libsodium, tl::expected, Asio, the core and v3 machines (about 4 s of parsing per
# translation unit in a Debug build, most of what a small test costs), plus GoogleTest or the
# example tools' fmt/spdlog/CLI11. Sources stay self-contained (each includes what it uses), so
# NEUTRINO_PCH=OFF builds the same program. Library targets do not use it: nothing here changes
# what consumers compile.
option(NEUTRINO_PCH "Precompile the common headers of tests, benchmarks and examples" ON)
function(neutrino_precompile target)
    if(NOT NEUTRINO_PCH)
        return()
    endif()
    cmake_parse_arguments(arg "GTEST;TOOLS" "" "" ${ARGN})
    set(headers
        <algorithm> <array> <chrono> <cstddef> <cstdint> <cstring> <deque> <functional> <map>
        <memory> <optional> <span> <string> <string_view> <unordered_map> <utility> <vector>
        <sodium.h> <tl/expected.hpp>
        "${PROJECT_SOURCE_DIR}/neutrino-core/include/neutrino/io/asio.hpp"
        "${PROJECT_SOURCE_DIR}/neutrino-core/include/neutrino/core/client.hpp"
        "${PROJECT_SOURCE_DIR}/neutrino-core/include/neutrino/core/server.hpp"
        "${PROJECT_SOURCE_DIR}/neutrino-core/include/neutrino/core/v3/client.hpp"
        "${PROJECT_SOURCE_DIR}/neutrino-core/include/neutrino/core/v3/server.hpp")
    if(arg_GTEST)
        list(APPEND headers <gtest/gtest.h>)
    endif()
    if(arg_TOOLS)
        list(APPEND headers <fmt/format.h> <spdlog/spdlog.h> <CLI/CLI.hpp>)
    endif()
    target_precompile_headers(${target} PRIVATE ${headers})
endfunction()

# neutrino_discover_tests(<target> [LOOPBACK <gtest patterns>] [SIMULATION <gtest patterns>])
# Registers a GoogleTest executable's tests with CTest, labelled by kind so a run can pick one:
# `loopback` (real sockets on 127.0.0.1), `simulation` (long runs on the simulator's virtual
# time: fault matrices, large transfers), and `unit` for everything else (`ctest -L unit` is the
# fast inner loop). Patterns are GoogleTest filter patterns joined with ':'.
function(neutrino_discover_tests target)
    cmake_parse_arguments(arg "" "LOOPBACK;SIMULATION" "" ${ARGN})
    include(GoogleTest)
    set(excluded "")
    foreach(kind LOOPBACK SIMULATION)
        if(arg_${kind})
            string(TOLOWER ${kind} label)
            gtest_discover_tests(${target} TEST_FILTER "${arg_${kind}}"
                PROPERTIES LABELS ${label} DISCOVERY_TIMEOUT 60)
            list(APPEND excluded "${arg_${kind}}")
        endif()
    endforeach()
    if(excluded)
        list(JOIN excluded ":" excluded)
        gtest_discover_tests(${target} TEST_FILTER "-${excluded}" PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
    else()
        gtest_discover_tests(${target} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
    endif()
endfunction()

# neutrino_fuzz_coverage(<library>)
# In fuzz builds (NEUTRINO_BUILD_FUZZERS), compiles the library's own sources with libFuzzer's
# coverage instrumentation, so the fuzz targets get feedback from inside its src/ files too, not
# only from the headers they include. (The fuzz preset builds everything with ASan and UBSan,
# whose runtimes provide the coverage callbacks to the other programs that link the library.)
function(neutrino_fuzz_coverage target)
    if(NEUTRINO_BUILD_FUZZERS)
        target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
    endif()
endfunction()
