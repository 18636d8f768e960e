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
function(neutrino_set_test_warnings target)
    neutrino_set_warnings(${target})
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
