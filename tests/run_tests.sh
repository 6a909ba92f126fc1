#!/usr/bin/env bash
# run_tests.sh BUILD_DIR [ASAN_BUILD_DIR] - every unit suite and end-to-end
# test; with ASAN_BUILD_DIR also every unit suite and the end-to-end smoke
# test of that (sanitizer) build, named "asan/...".  Tests are counted
# individually; each skipped test is listed by name with its reason
# ("SKIP suite: test: reason"), and the last line is
#   N passed, M failed, K skipped
# A suite that prints no result line, or one that counts no test at all
# (0 passed, 0 failed, 0 skipped), is a failure: a suite that cannot run
# here must say so by skipping its tests.  Exit status non-zero on failures.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
asan_build=""
[ -n "${2:-}" ] && asan_build=$(cd "$2" && pwd)
passed=0; failed=0; skipped=0
skip_lines=()
logdir=$(mktemp -d /tmp/hotpath-tests.XXXXXX)

# One suite's result: "<tag>: <p> passed, <f> failed[, <s> skipped]" in
# $line, its log in $log.  Adds it up; a missing or empty result is 1 failure.
count_suite() {
    local name=$1 line=$2 log=$3 rc=$4 failpat=$5
    local re='([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?'
    if [ -z "$line" ] || ! [[ $line =~ $re ]]; then
        echo "  $name: crashed or hung (rc=$rc), no result line; log:"; tail -30 "$log"
        failed=$((failed + 1)); return
    fi
    local p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
    echo "  $name: $p passed, $f failed, $s skipped"
    if [ $((p + f + s)) -eq 0 ]; then
        echo "  $name: FAILED: the suite ran no test and skipped none"
        failed=$((failed + 1))
    fi
    if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
        echo "  $name: FAILED: exit status $rc with no failed test; log tail:"; tail -15 "$log"
        f=1
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$f" -ne 0 ] && grep -E "$failpat" "$log" | head -20
    local l
    while IFS= read -r l; do
        skip_lines+=("  SKIP $name: ${l#SKIP }")
        echo "    $l"
    done < <(grep -E '^SKIP ' "$log")
}

# Unit suites of one build directory; names get the prefix $2.
run_unit() {
    local dir=$1 prefix=$2 t name log rc line
    for t in "$dir"/tests/unit/test_*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        name=$prefix$(basename "$t")
        log="$logdir/${name//\//_}.log"
        timeout 600 "$t" >"$log" 2>&1; rc=$?
        line=$(grep 'CUNIT-RESULT:' "$log" | tail -1)
        local before=$failed
        count_suite "$name" "${line#CUNIT-RESULT: }" "$log" $rc \
            'FAILED|Test: .*\.\.\.FAILED|^ +[0-9]+\. |ERROR: AddressSanitizer|runtime error:'
        if [ -n "$prefix" ] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
            echo "  $name: FAILED: sanitizer report in $log"
            grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -30
            # One failure per suite unless its own count already has one.
            [ "$failed" -eq "$before" ] && failed=$((failed + 1))
        fi
    done
}

# One end-to-end script against the hotpathd in $HOTPATHD.
run_e2e() {
    local t=$1 name=$2 log rc line
    log="$logdir/${name//\//_}.log"
    case "$t" in
        *.py) timeout 900 /usr/bin/python3 "$t" >"$log" 2>&1; rc=$? ;;
        *.sh) timeout 900 bash "$t" >"$log" 2>&1; rc=$? ;;
    esac
    line=$(grep 'E2E-RESULT:' "$log" | tail -1)
    count_suite "$name" "${line#E2E-RESULT: }" "$log" $rc '^FAIL'
}

echo "== layout (tests/check_layout.py: folder rules, include cycles, file sizes)"
log="$logdir/check_layout.log"
timeout 120 /usr/bin/python3 "$here/check_layout.py" >"$log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'LAYOUT-RESULT: ok' "$log"; then
    echo "  check_layout: 1 passed, 0 failed, 0 skipped"; passed=$((passed + 1))
    grep -E '^  (rules|checked|known)' "$log"
else
    echo "  check_layout: 0 passed, 1 failed (rc=$rc)"; grep -E 'ERROR|FAILED' "$log" | head -20
    failed=$((failed + 1))
fi

echo "== unit suites"
run_unit "$build" ""

echo "== end-to-end tests"
export HOTPATHD="$build/dataplane/hotpathd"
for t in "$here"/e2e/test_*.py "$here"/e2e/test_*.sh; do
    [ -f "$t" ] || continue
    run_e2e "$t" "$(basename "$t")"
done

if [ -n "$asan_build" ]; then
    echo "== sanitizer build (ASan + UBSan): unit suites and the smoke test"
    # Any UBSan finding stops the program (and so fails its suite); ASan
    # stops at the first error anyway.  Leak detection stays on, for DPDK's
    # allocations too: hotpathd frees them (rte_eal_cleanup) and none leaks,
    # so no suppression list is needed.  A report fails the suite twice
    # over: by its exit status and by the report found in the log.
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
    run_unit "$asan_build" "asan/"
    export HOTPATHD="$asan_build/dataplane/hotpathd"
    run_e2e "$here/e2e/test_smoke.py" "asan/test_smoke.py"
fi

echo "logs: $logdir"
if [ ${#skip_lines[@]} -gt 0 ]; then
    echo "skipped (${#skip_lines[@]}):"
    printf '%s\n' "${skip_lines[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
