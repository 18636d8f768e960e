# Packaging: pkg-config files, the Wireshark dissector and the Debian package (CPack).
#
#   cmake --install <build> --prefix P          everything, under P (also the examples)
#   cpack -G DEB --config <build>/CPackConfig.cmake
#       neutrino_<version>_<arch>.deb: libraries, headers, CMake package, pkg-config files,
#       neutrino-inspector and neutrino-monitor, the Lua dissector in Wireshark's plugin dir.
#
# Install components: `devel` (libraries, headers, CMake and pkg-config files), `tools` (the two
# tools), `wireshark` (the dissector), `examples` (the example programs: not packaged, they are
# demos, and the servers default to the reference's published example key).
include_guard(GLOBAL)

# --- pkg-config: one file per library ----------------------------------------------------------
# Written at install time, so that `prefix=` is the prefix installed into (cmake --install
# --prefix P, or /usr for the package), not the one configured.
# neutrino_pkg_config(<name> DESCRIPTION <text> [REQUIRES <module>...] [LIBS <flag>...])
function(neutrino_pkg_config name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "DESCRIPTION" "REQUIRES;LIBS")
    string(JOIN ", " NEUTRINO_PC_REQUIRES ${arg_REQUIRES})
    string(JOIN " " NEUTRINO_PC_LIBS ${arg_LIBS})
    set(NEUTRINO_PC_NAME "${name}")
    set(NEUTRINO_PC_DESCRIPTION "${arg_DESCRIPTION}")
    set(NEUTRINO_PC_VERSION "${PROJECT_VERSION}")
    foreach(kind INCLUDEDIR LIBDIR)
        if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
            set(NEUTRINO_PC_${kind} "${CMAKE_INSTALL_${kind}}")
        else()
            set(NEUTRINO_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
        endif()
    endforeach()
    set(NEUTRINO_PC_PREFIX "@NEUTRINO_PC_PREFIX@")  # kept for the install-time pass
    set(template "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc.in")
    set(out "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc")
    configure_file("${PROJECT_SOURCE_DIR}/cmake/neutrino.pc.in" "${template}" @ONLY)
    # CMAKE_INSTALL_PREFIX is the install-time prefix; CPack installs with DESTDIR
    # (CPACK_SET_DESTDIR), so it is /usr there, not the staging directory.
    install(CODE "
        set(NEUTRINO_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
        configure_file(\"${template}\" \"${out}\" @ONLY)
        " COMPONENT devel)
    install(FILES "${out}" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT devel)
endfunction()

# Boost (headers only), range-v3 and tl-expected have no pkg-config module on Debian; their
# headers are in /usr/include. libneutrino_core.a needs libsodium and threads at link time.
set(neutrino_pc_base "neutrino-base = ${PROJECT_VERSION}")
neutrino_pkg_config(neutrino-base
    DESCRIPTION "Neutrino base: addresses, time, randomness, results and error conditions, endian and hex"
    REQUIRES libsodium
    LIBS "-L\${libdir}" -lneutrino_base)
set(neutrino_pc_core "neutrino-core = ${PROJECT_VERSION}")
neutrino_pkg_config(neutrino-core
    DESCRIPTION "Neutrino encrypted UDP transport: datagrams, sans-IO machines, Asio driver"
    REQUIRES "${neutrino_pc_base}" libsodium
    LIBS "-L\${libdir}" -lneutrino_core -pthread)
if(TARGET neutrino_congestion)
    neutrino_pkg_config(neutrino-congestion
        DESCRIPTION "Neutrino congestion control: RTT estimator, controller concept and models (header-only)"
        REQUIRES "${neutrino_pc_base}")
endif()
if(TARGET neutrino_qotp)
    neutrino_pkg_config(neutrino-qotp
        DESCRIPTION "QOTP (qo-proto/qotp wire format W2): keys, messages, packet protection, payload codec"
        REQUIRES "${neutrino_pc_base}" libsodium
        LIBS "-L\${libdir}" -lneutrino_qotp)
endif()
if(TARGET neutrino_p2p)
    neutrino_pkg_config(neutrino-p2p
        DESCRIPTION "Neutrino peer-to-peer: STUN codec, datagram envelope, relay header, PROBE codec"
        REQUIRES "${neutrino_pc_base}" libsodium
        LIBS "-L\${libdir}" -lneutrino_p2p)
endif()
if(TARGET neutrino_reliable)
    neutrino_pkg_config(neutrino-reliable
        DESCRIPTION "Neutrino reliable layer: loss, duplicate and reorder repair (header-only)"
        REQUIRES "${neutrino_pc_core}")
endif()
if(TARGET neutrino_extended)
    neutrino_pkg_config(neutrino-extended
        DESCRIPTION "Neutrino extended layer: messages of any size over the reliable layer (header-only)"
        REQUIRES "neutrino-reliable = ${PROJECT_VERSION}")
endif()
if(TARGET neutrino_inspector)
    neutrino_pkg_config(neutrino-inspector
        DESCRIPTION "Neutrino inspector: seeded impairment model and two-peer simulator (header-only)"
        REQUIRES "${neutrino_pc_core}")
endif()
if(TARGET neutrino_monitor)
    neutrino_pkg_config(neutrino-monitor
        DESCRIPTION "Neutrino monitor: terminal view, pcapng and key log recording, decryption (Neutrino, QOTP)"
        REQUIRES "${neutrino_pc_core}" "neutrino-qotp = ${PROJECT_VERSION}"
        LIBS "-L\${libdir}" -lneutrino_monitor)
endif()

# --- Wireshark dissector -----------------------------------------------------------------------
# Installed relative to the prefix, so that a user prefix works; under /usr (the package) it is
# the directory Wireshark reads global Lua plugins from. tshark, when present, says which one
# (Debian 12, Wireshark 4.0: /usr/lib/x86_64-linux-gnu/wireshark/plugins, unversioned; the
# versioned plugins/4.0/ is for compiled plugins).
if(NOT DEFINED NEUTRINO_WIRESHARK_PLUGIN_DIR)
    if(CMAKE_LIBRARY_ARCHITECTURE)
        set(wireshark_dir "lib/${CMAKE_LIBRARY_ARCHITECTURE}/wireshark/plugins")
    else()
        set(wireshark_dir "${CMAKE_INSTALL_LIBDIR}/wireshark/plugins")
    endif()
    find_program(NEUTRINO_TSHARK tshark)  # also monitor/'s (dissector tests)
    if(NEUTRINO_TSHARK)
        execute_process(COMMAND "${NEUTRINO_TSHARK}" -G folders
            OUTPUT_VARIABLE folders ERROR_QUIET RESULT_VARIABLE rc TIMEOUT 30)
        if(rc EQUAL 0 AND folders MATCHES "Global Lua Plugins:[ \t]*/usr/([^\r\n]*[^/\r\n])")
            set(wireshark_dir "${CMAKE_MATCH_1}")
        endif()
    endif()
    set(NEUTRINO_WIRESHARK_PLUGIN_DIR "${wireshark_dir}" CACHE STRING
        "Where the Lua dissector is installed, relative to the install prefix")
endif()
install(FILES "${PROJECT_SOURCE_DIR}/tools/wireshark/neutrino.lua"
    "${PROJECT_SOURCE_DIR}/tools/wireshark/qotp.lua"
    DESTINATION "${NEUTRINO_WIRESHARK_PLUGIN_DIR}" COMPONENT wireshark)

# --- Debian package ----------------------------------------------------------------------------
# Only as the top-level project: a parent project that adds neutrino as a subdirectory packages
# itself.
if(NOT PROJECT_IS_TOP_LEVEL)
    return()
endif()
if(NOT TARGET neutrino-inspector OR NOT TARGET neutrino-monitor)
    message(STATUS "neutrino: tools not built (NEUTRINO_BUILD_EXAMPLES and _TESTS are OFF): "
        "the package will have no neutrino-inspector / neutrino-monitor")
endif()

set(NEUTRINO_PACKAGE_MAINTAINER
    "neutrino maintainers <maintainers@users.noreply.h-seed-8f293af8.example>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME neutrino)
set(CPACK_PACKAGE_VENDOR "neutrino")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "encrypted UDP transports as sans-IO C++20 state machines")
set(CPACK_PACKAGE_DESCRIPTION
"neutrino is a C++20 framework of encrypted UDP transport protocols (Neutrino,
NeutrinoReliable, NeutrinoExtended, wire v3), built as sans-IO state machines
that stack as policy-templated layers.
This package has the static libraries, the headers, the CMake package
(find_package(neutrino)) and pkg-config files (neutrino-core, neutrino-congestion,
neutrino-qotp, neutrino-p2p, neutrino-reliable, neutrino-extended, neutrino-inspector,
neutrino-monitor; C++20
required), the tools neutrino-inspector (fault-injecting UDP proxy) and neutrino-monitor
(decrypt, report), and the Wireshark Lua dissector.")
set(CPACK_PACKAGE_CONTACT "${NEUTRINO_PACKAGE_MAINTAINER}")
set(CPACK_STRIP_FILES ON)  # the tools; static libraries are not stripped

# One package of the components below (not the examples). DESTDIR installation, so that the
# pkg-config files see prefix /usr rather than CPack's staging directory.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL devel tools wireshark)
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_PACKAGE_NAME neutrino)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # neutrino_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${NEUTRINO_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# What the installed headers and neutrinoConfig.cmake need (Boost.Asio, range-v3, tl-expected,
# libsodium via pkg-config); the tools' shared libraries (libfmt, libspdlog, libsodium, libc,
# libstdc++) are added by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libsodium-dev, libboost-dev (>= 1.74) | libboost1.74-dev, librange-v3-dev, libexpected-dev, pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "tshark | wireshark")
find_program(NEUTRINO_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(NEUTRINO_FILE_PROGRAM file)
mark_as_advanced(NEUTRINO_DPKG_SHLIBDEPS NEUTRINO_FILE_PROGRAM)
if(NEUTRINO_DPKG_SHLIBDEPS AND NEUTRINO_FILE_PROGRAM)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
    message(STATUS "neutrino: dpkg-shlibdeps or file missing (Debian: dpkg-dev, file): "
        "the package's Depends will lack the tools' shared libraries")
endif()

include(CPack)
cpack_add_component(devel DISPLAY_NAME "Libraries, headers, CMake and pkg-config files")
cpack_add_component(tools DISPLAY_NAME "neutrino-inspector and neutrino-monitor")
cpack_add_component(wireshark DISPLAY_NAME "Wireshark Lua dissector")
cpack_add_component(examples DISPLAY_NAME "Example programs (not packaged)")
