#!/usr/bin/env bash
# The single entry point behind the README's commands; works on a fresh Debian 12 machine.
#
#   tools/setup.sh deps   install the Debian packages the project needs (and nothing else)
#   tools/setup.sh demo   deps, build the five programs of the demo (`demo` preset: release, no
#                         tests or benchmarks), run examples/demo.sh on them
#   tools/setup.sh test   deps, then the stages below; stops at the first failing stage
#                           dev      cmake --workflow --preset dev   (-Werror build, all tests,
#                                    including the installed-package consumer test)
#                           asan     cmake --workflow --preset asan  (ASan + UBSan, g++)
#                           fuzz     fuzz preset: build the libFuzzer targets, run the tests
#                                    labelled `fuzz` (short smoke runs)
#                           package  install build/dev into a temporary prefix, and its Debian
#                                    package (cpack -G DEB) into a temporary root; build and
#                                    run tests/package against each
#
# Environment (local speed only; CI runs everything):
#   NEUTRINO_SKIP_ASAN=1   skip the asan stage
#   NEUTRINO_SKIP_FUZZ=1   skip the fuzz stage
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

packages=(
    build-essential cmake pkg-config g++ clang-14 libclang-rt-14-dev
    libsodium-dev libboost1.74-dev librange-v3-dev libexpected-dev
    libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
    python3 python3-nacl tshark file
)

usage() {
    echo "usage: tools/setup.sh deps|demo|test" >&2
    exit 2
}

# Runs a command as root: directly, through sudo, or not at all.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: packages are missing and this is not root; install sudo or run as root" >&2
        exit 1
    fi
}

install_deps() {
    local missing=() p
    for p in "${packages[@]}"; do
        if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
            missing+=("$p")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "setup.sh: all packages present"
        return 0
    fi
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer "no" up front.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        as_root debconf-set-selections
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}"
}

passed=0
# run_stage NAME COMMAND...: runs one stage, counts it, stops the script when it fails.
run_stage() {
    local name=$1
    shift
    echo "==> setup.sh: stage $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "==> setup.sh: stage $name passed"
    else
        echo "==> setup.sh: stage $name FAILED"
        echo "setup.sh: $passed passed, 1 failed"
        exit 1
    fi
}

# Each stage is one command or an && chain: `set -e` does not apply inside an `if` condition.
stage_dev() { cmake --workflow --preset dev; }
stage_asan() { cmake --workflow --preset asan; }
stage_fuzz() { cmake --preset fuzz && cmake --build --preset fuzz && ctest --preset fuzz; }
stage_package() { bash tests/package/run.sh "$root/build/dev" g++; }

cmd=${1:-}
case $cmd in
    deps)
        install_deps
        ;;
    demo)
        install_deps
        # Only what the demo runs (the demo preset: release, no tests, no benchmarks; its build
        # preset names the five programs).
        cmake --preset demo
        cmake --build --preset demo
        if [[ -f $root/examples/demo.sh ]]; then
            exec bash "$root/examples/demo.sh" "$root/build/demo"
        fi
        echo "setup.sh: the demo is not available yet (examples/demo.sh does not exist)" >&2
        exit 1
        ;;
    test)
        install_deps
        run_stage dev stage_dev
        if [[ ${NEUTRINO_SKIP_ASAN:-0} == 1 ]]; then
            echo "==> setup.sh: stage asan skipped (NEUTRINO_SKIP_ASAN=1)"
        else
            run_stage asan stage_asan
        fi
        if [[ ${NEUTRINO_SKIP_FUZZ:-0} == 1 ]]; then
            echo "==> setup.sh: stage fuzz skipped (NEUTRINO_SKIP_FUZZ=1)"
        else
            run_stage fuzz stage_fuzz
        fi
        run_stage package stage_package
        echo "setup.sh: $passed passed, 0 failed"
        ;;
    *)
        usage
        ;;
esac
