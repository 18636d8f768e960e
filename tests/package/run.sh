#!/usr/bin/env bash
# Installs a configured and built neutrino tree into a temporary prefix, then configures,
# builds and runs tests/package against it.
# Usage: run.sh <build-dir> [<c++ compiler> [<CMAKE_CXX_FLAGS>]]
set -euo pipefail

build_dir=${1:?usage: run.sh <build-dir> [<c++ compiler> [<cxx flags>]]}
cxx=${2:-c++}
cxx_flags=${3:-}
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/neutrino-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build_dir" --prefix "$tmp/prefix"
cmake -S "$here" -B "$tmp/build" \
    -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_FLAGS="$cxx_flags" \
    -DCMAKE_BUILD_TYPE=Debug
cmake --build "$tmp/build" -j2
"$tmp/build/consumer"
echo "package consumer: ok"
