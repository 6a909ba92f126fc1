#!/usr/bin/env bash
# run_all.sh BUILD_DIR [bench_tcp.py options...] - every hotpath benchmark.
#
# Called by `./hotpath.sh bench [options]`.  Not part of the test suite: it
# takes minutes and its figures depend on the machine.  Options go to
# bench_tcp.py (see `tests/bench/run_all.sh BUILD_DIR --help`), e.g.
#   tests/bench/run_all.sh build -n 50000 --reps 5 --workers 1,2
# BENCH_A_CMD='redis-server --port {port} ...' replaces hotpathd on side A
# (used to validate the harness itself).
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [bench_tcp.py options]" >&2
    exit 2
fi
build=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for tool in redis-benchmark redis-server taskset getconf; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

exec /usr/bin/python3 "$here/bench_tcp.py" --build "$build" "$@"
