#!/usr/bin/env bash
# Tests what a configured and built neutrino tree installs, two ways, with tests/package (main.cpp)
# as the consumer each time:
#   1. prefix  `cmake --install` into a temporary prefix; configure, build and run the consumer
#              against it; the pkg-config files there name that prefix.
#   2. deb     `cpack -G DEB` into a temporary directory, `dpkg-deb -x` into a temporary root (no
#              root, no change to the system); check its metadata and contents (libraries,
#              headers, CMake package, seven .pc files, the two tools and nothing else in bin, the
#              Lua dissector in Wireshark's global Lua plugin directory); configure, build and
#              run the consumer with CMAKE_PREFIX_PATH=<root>/usr; compile and run main.cpp
#              with only the flags of the extracted .pc files (PKG_CONFIG_SYSROOT_DIR=<root>).
# Both package the tree as it is built: neither builds it.
#
# Usage: run.sh <build-dir> [<c++ compiler> [<CMAKE_CXX_FLAGS>]]
# NEUTRINO_SKIP_DEB=1 skips part 2 (it needs cpack and dpkg-deb: packages cmake and dpkg).
set -euo pipefail

usage="usage: run.sh <build-dir> [<c++ compiler> [<cxx flags>]]"
build_dir=$(cd "${1:?$usage}" && pwd)
cxx=${2:-c++}
cxx_flags=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
read -ra cxx_flag_words <<<"$cxx_flags"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/neutrino-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "package test: $*" >&2
    exit 1
}

modules=(neutrino-base neutrino-core neutrino-congestion neutrino-qotp neutrino-p2p neutrino-reliable neutrino-extended neutrino-inspector neutrino-monitor)
version=$(sed -n 's/^set(PACKAGE_VERSION "\([^"]*\)")$/\1/p' "$build_dir/neutrinoConfigVersion.cmake")
[[ -n $version ]] || fail "no version in $build_dir/neutrinoConfigVersion.cmake"

# build_consumer NAME PREFIX: configures, builds and runs tests/package against PREFIX, and
# checks that find_package(neutrino) found it there.
build_consumer() {
    local name=$1 prefix=$2
    cmake -S "$here" -B "$tmp/$name" \
        -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_CXX_COMPILER="$cxx" \
        -DCMAKE_CXX_FLAGS="$cxx_flags" \
        -DCMAKE_BUILD_TYPE=Debug
    grep -q "^neutrino_DIR:PATH=$prefix/" "$tmp/$name/CMakeCache.txt" ||
        fail "$name: find_package(neutrino) did not find the package under $prefix"
    cmake --build "$tmp/$name" -j2
    "$tmp/$name/consumer"
}

# pc_dir ROOT: the one directory under ROOT holding neutrino-core.pc.
pc_dir() {
    local found
    found=$(find "$1" -name neutrino-core.pc -path '*/pkgconfig/*')
    [[ -n $found && $(wc -l <<<"$found") -eq 1 ]] || fail "not one neutrino-core.pc under $1: $found"
    dirname "$found"
}

# --- 1. cmake --install into a prefix ----------------------------------------------------------
prefix=$tmp/prefix
cmake --install "$build_dir" --prefix "$prefix"
build_consumer consumer-prefix "$prefix"
pcs=$(pc_dir "$prefix")
for m in "${modules[@]}"; do
    [[ $(PKG_CONFIG_PATH=$pcs pkg-config --modversion "$m") == "$version" ]] ||
        fail "prefix: pkg-config $m: not version $version"
done
[[ " $(PKG_CONFIG_PATH=$pcs pkg-config --cflags neutrino-extended) " == *" -I$prefix/include "* ]] ||
    fail "prefix: the .pc files do not name the install prefix $prefix"
echo "package consumer (cmake --install): ok"

# --- 2. the Debian package ---------------------------------------------------------------------
if [[ ${NEUTRINO_SKIP_DEB:-0} == 1 ]]; then
    echo "package consumer (.deb): skipped (NEUTRINO_SKIP_DEB=1)"
    exit 0
fi
for tool in cpack dpkg-deb; do
    command -v "$tool" >/dev/null || fail "$tool is missing (Debian: cmake, dpkg); NEUTRINO_SKIP_DEB=1 skips the .deb"
done

# CPack builds the `preinstall` target (all) first with the Makefile generator; naming a
# generator without one packages the tree as built, like `cmake --install` above (a test must
# not build, and another build may be running in this tree).
cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$tmp/deb" -D CPACK_CMAKE_GENERATOR=Ninja
shopt -s nullglob
debs=("$tmp"/deb/*.deb)
shopt -u nullglob
[[ ${#debs[@]} -eq 1 ]] || fail "cpack made ${#debs[@]} .deb files, not one"
deb=${debs[0]}
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

# Metadata.
[[ $(dpkg-deb -f "$deb" Package) == neutrino ]] || fail "Package is not neutrino"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is not $version"
[[ $(dpkg-deb -f "$deb" Architecture) == "$(dpkg --print-architecture)" ]] ||
    fail "Architecture is not $(dpkg --print-architecture)"
[[ -n $(dpkg-deb -f "$deb" Maintainer) ]] || fail "no Maintainer"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for dep in libsodium-dev libboost-dev librange-v3-dev libexpected-dev pkg-config; do
    [[ ", $depends," == *", $dep "* || ", $depends," == *", $dep,"* ]] || fail "Depends lacks $dep"
done

# Contents.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
usr=$root/usr
[[ -z $(find "$root" -mindepth 1 -maxdepth 1 ! -name usr) ]] || fail "files outside /usr"
[[ -f $usr/include/neutrino/result.hpp ]] || fail "no base headers (neutrino/result.hpp)"
for m in core congestion qotp p2p reliable extended inspector monitor io; do
    [[ -n $(find "$usr/include/neutrino/$m" -name '*.hpp' 2>/dev/null) ]] || fail "no headers neutrino/$m"
done
for lib in libneutrino_base.a libneutrino_core.a libneutrino_qotp.a libneutrino_p2p.a libneutrino_monitor.a; do
    [[ -n $(find "$usr/lib" -name "$lib") ]] || fail "no $lib"
done
for f in neutrinoConfig.cmake neutrinoConfigVersion.cmake neutrinoTargets.cmake; do
    [[ -n $(find "$usr/lib" -path "*/cmake/neutrino/$f") ]] || fail "no cmake/neutrino/$f"
done
pcs=$(pc_dir "$usr")
for m in "${modules[@]}"; do
    grep -qx 'prefix=/usr' "$pcs/$m.pc" || fail "$m.pc: prefix is not /usr"
done
bin=$(find "$usr/bin" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')
[[ $bin == "neutrino-inspector neutrino-monitor " ]] || fail "bin holds $bin(expected the two tools only)"
for tool in neutrino-inspector neutrino-monitor; do
    "$usr/bin/$tool" --help >/dev/null || fail "$tool --help failed"
done
lua=$(find "$usr/lib" -path '*/wireshark/plugins/neutrino.lua')
[[ -n $lua ]] || fail "no wireshark/plugins/neutrino.lua"
if command -v tshark >/dev/null; then
    # Where this system's Wireshark reads global Lua plugins from.
    global=$(tshark -G folders 2>/dev/null | sed -n 's/^Global Lua Plugins:[[:space:]]*//p')
    [[ $(dirname "$lua") == "$root$global" ]] || fail "dissector in ${lua#"$root"}, Wireshark reads $global"
fi

# The consumer against the extracted root: CMake package, then pkg-config alone.
build_consumer consumer-deb "$usr"
pc_env=(env PKG_CONFIG_PATH="$pcs" PKG_CONFIG_SYSROOT_DIR="$root")
for m in "${modules[@]}"; do
    [[ $("${pc_env[@]}" pkg-config --modversion "$m") == "$version" ]] ||
        fail "deb: pkg-config $m: not version $version"
done
read -ra pc_flags <<<"$("${pc_env[@]}" pkg-config --cflags --libs \
    neutrino-monitor neutrino-extended neutrino-inspector neutrino-qotp neutrino-p2p)"
[[ " ${pc_flags[*]} " == *" -I$usr/include "* ]] || fail "deb: pkg-config --cflags lacks -I$usr/include"
echo "pkg-config flags: ${pc_flags[*]}"
"$cxx" -std=c++20 "${cxx_flag_words[@]}" "$here/main.cpp" "${pc_flags[@]}" -o "$tmp/consumer-pc"
"$tmp/consumer-pc"
echo "package consumer (.deb, CMake and pkg-config): ok"
