#!/usr/bin/env bash
# run_tests.sh BUILD_DIR - every unit suite and end-to-end test; the last
# line is "N passed, M failed" (tests counted individually).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
passed=0; failed=0
logdir=$(mktemp -d /tmp/hotpath-tests.XXXXXX)

add_counts() { # "<p> passed, <f> failed" line -> totals
    local line=$1
    local p f
    p=$(sed -n 's/.*: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\1/p' <<<"$line")
    f=$(sed -n 's/.*: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\2/p' <<<"$line")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

echo "== layout (tests/check_layout.py: folder rules, include cycles, file sizes)"
log="$logdir/check_layout.log"
timeout 120 /usr/bin/python3 "$here/check_layout.py" >"$log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'LAYOUT-RESULT: ok' "$log"; then
    echo "  check_layout: 1 passed, 0 failed"; passed=$((passed + 1))
    grep -E '^  (rules|checked|known)' "$log"
else
    echo "  check_layout: 0 passed, 1 failed (rc=$rc)"; grep -E 'ERROR|FAILED' "$log" | head -20
    failed=$((failed + 1))
fi

echo "== unit suites"
for t in "$build"/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    log="$logdir/$name.log"
    timeout 600 "$t" >"$log" 2>&1; rc=$?
    line=$(grep 'CUNIT-RESULT:' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "  $name: crashed or hung (rc=$rc); log:"; tail -20 "$log"; failed=$((failed + 1))
    else
        echo "  $name: ${line#CUNIT-RESULT: }"; add_counts "$line"
        [ $rc -ne 0 ] && grep -E 'FAILED|Test: .*\.\.\.FAILED|^ +[0-9]+\. ' "$log" | head -20
    fi
done

echo "== end-to-end tests"
export HOTPATHD="$build/dataplane/hotpathd"
for t in "$here"/e2e/test_*.py "$here"/e2e/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t")
    log="$logdir/$name.log"
    case "$t" in
        *.py) timeout 900 /usr/bin/python3 "$t" >"$log" 2>&1; rc=$? ;;
        *.sh) timeout 900 bash "$t" >"$log" 2>&1; rc=$? ;;
    esac
    line=$(grep 'E2E-RESULT:' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "  $name: crashed or hung (rc=$rc); log:"; tail -30 "$log"; failed=$((failed + 1))
    else
        echo "  $name: ${line#E2E-RESULT: }"; add_counts "$line"
        [ $rc -ne 0 ] && grep -E '^FAIL' "$log" | head -20
    fi
done
echo "logs: $logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
