#!/usr/bin/env bash
# crash_soak.sh BUILD_DIR [CYCLES] [ROUNDS] - the kill -9 crash tests of
# tests/e2e/test_crash.py (TCP writers) and tests/e2e/test_udp_durable.py
# (UDP writers over af_packet; needs root, else it reports 0 tests), many
# more cycles than CI runs (default 500 TCP and 500/4 UDP cycles per round,
# 4 rounds, a new random seed per round).  Not part of the test
# suite: it takes a long time.  Prints each round's seed so a failure can be
# repeated with HP_CRASH_SEED=<seed> HP_CRASH_CYCLES=<n>.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [CYCLES] [ROUNDS]}" && pwd)
cycles=${2:-500}
rounds=${3:-4}
export HOTPATHD="$build/dataplane/hotpathd"
failed=0
for r in $(seq 1 "$rounds"); do
    seed=$(( $(date +%s) + r ))
    echo "== round $r/$rounds: $cycles cycles, seed $seed"
    HP_CRASH_SEED=$seed HP_CRASH_CYCLES=$cycles \
        /usr/bin/python3 "$here/../e2e/test_crash.py" | grep -v 'log kept' || failed=$((failed + 1))
    HP_CRASH_SEED=$seed HP_UDP_CRASH_CYCLES=$(( (cycles + 3) / 4 )) \
        /usr/bin/python3 "$here/../e2e/test_udp_durable.py" | grep -v 'log kept' || failed=$((failed + 1))
done
echo "crash soak: $rounds rounds, $failed failed"
[ "$failed" -eq 0 ]
