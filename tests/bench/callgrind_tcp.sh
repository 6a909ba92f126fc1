#!/usr/bin/env bash
# callgrind_tcp.sh BUILD_DIR [PORT] [N] - user-space instructions per command
# of hotpathd (1 worker) on pipelined SET and GET, counted by callgrind: a
# figure that does not depend on the load of the machine.  Counters are
# zeroed after start-up and a warm-up, and dumped after each workload, so
# start-up is not in them (the worker's idle polling between requests is).
# Prints "<build> cg.out.1 (SET) / cg.out.2 (GET) Ir=... per_op=...".
# Needs valgrind (not installed by hotpath.sh: apt-get install valgrind).
set -euo pipefail
b=$(cd "$1" && pwd); port=${2:-25111}; n=${3:-100000}
# Kept on purpose: the profiles in it are what the last line points to.
out=$(mktemp -d /tmp/hotpath-cg.XXXXXX)
cd "$out"
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" --dump-instr=no \
    "$b/dataplane/hotpathd" --port "$port" --bind 127.0.0.1 --workers 1 \
    --file-prefix "cg-$port" --loglevel warning >"$out/log" 2>&1 &
pid=$!
# A failed step (set -e) must not leave the server running under valgrind.
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.5
done
# Warm-up: the index grows to the key space before counting.
redis-benchmark -p "$port" -n 20000 -P 16 -c 10 -r 100000 -t set,get -q >/dev/null
callgrind_control -z "$pid" >/dev/null
for t in set get; do
    redis-benchmark -p "$port" -n "$n" -P 16 -c 10 -r 100000 -d 3 -t "$t" -q >/dev/null
    callgrind_control -d "$t" "$pid" >/dev/null
done
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$pid" || true
for f in "$out"/cg.out.*; do
    ir=$(callgrind_annotate "$f" 2>/dev/null | grep -m1 'PROGRAM TOTALS' | awk '{gsub(",","",$1); print $1}')
    echo "$(basename "$b") $(basename "$f") Ir=$ir per_op=$((ir / n))"
done
echo "profiles: $out (callgrind_annotate --threshold=100 --auto=no $out/cg.out.2)"
