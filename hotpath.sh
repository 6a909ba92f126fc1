#!/usr/bin/env bash
# hotpath.sh - the one entry point a newcomer needs on Debian 12.
#
#   ./hotpath.sh run [hotpathd args...]   set up, build, start hotpathd (embedded default)
#   ./hotpath.sh test                     set up, build (also the ASan/UBSan build in
#                                         ./build-asan), run every test; ends
#                                         "N passed, M failed, K skipped"
#   ./hotpath.sh build                    set up and build only
#   ./hotpath.sh bench                    set up, build, run tests/bench/ (not part of test)
#
# "Set up" installs the Debian packages that are missing (apt-get, as root or
# through sudo) and configures the meson build in ./build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
BUILD_DIR=${HOTPATH_BUILD_DIR:-build}
# The sanitizer build of `test`: every unit suite and tests/e2e/test_smoke.py
# run again under AddressSanitizer (leaks included) and UBSan.
ASAN_BUILD_DIR=${HOTPATH_ASAN_BUILD_DIR:-build-asan}
ASAN_OPTS=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Db_lto=false)

# Every package any command here uses.  Build: compiler, meson, the four
# libraries.  Tests: redis-server (differential reference), redis-tools
# (redis-cli, redis-benchmark), python3 + python3-redis (end-to-end tests),
# iproute2 and procps (namespaces, ps/kill), valgrind-free on purpose.
PACKAGES=(gcc libc6-dev pkg-config meson ninja-build
          libdpdk-dev liburing-dev libjemalloc-dev libcunit1-dev
          redis-server redis-tools python3 python3-redis
          iproute2 procps ca-certificates
          dpdk-dev gnuplot-nox)   # dpdk-testpmd (pktgen's reflector), bench charts

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            printf '%s\n' "$p"
        fi
    done
}

setup_packages() {
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    echo "hotpath: installing missing Debian packages:" $missing
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "hotpath: need root or sudo to install:" $missing >&2; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh image may have empty package lists; refresh them once if needed.
    if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends $missing </dev/null; then
        "${sudo[@]}" apt-get update -q </dev/null
        "${sudo[@]}" apt-get install -y -q --no-install-recommends $missing </dev/null
    fi
}

# setup_build [DIR [meson options...]]: configure once, then build.
setup_build() {
    local dir=${1:-$BUILD_DIR}
    [ $# -gt 0 ] && shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >/dev/null
    fi
    ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    run)   setup_packages; setup_build; exec "$BUILD_DIR/dataplane/hotpathd" "$@" ;;
    test)  setup_packages; setup_build; setup_build "$ASAN_BUILD_DIR" "${ASAN_OPTS[@]}"
           exec bash tests/run_tests.sh "$BUILD_DIR" "$ASAN_BUILD_DIR" ;;
    build) setup_packages; setup_build ;;
    bench) setup_packages; setup_build; exec bash tests/bench/run_all.sh "$BUILD_DIR" "$@" ;;
    *) echo "usage: ./hotpath.sh run [hotpathd args] | test | build | bench" >&2; exit 2 ;;
esac
