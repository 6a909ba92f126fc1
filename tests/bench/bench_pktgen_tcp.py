#!/usr/bin/python3
"""bench_pktgen_tcp.py - hotpathd vs redis-server over TCP, measured with
hotpath-pktgen's TCP mode (closed loop, pipelined) and with redis-benchmark,
side by side, alternating, several repetitions, medians.

    tests/bench/bench_pktgen_tcp.py --build build [--reps 3] [--duration 3]"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pktgen_lib as L  # noqa: E402

CASES = [  # label, pktgen options
    ("GET 100% hits, 1 cmd/req", ["--mix", "get=100", "--cmds", 1]),
    ("GET 100% hits, 16 cmds/req", ["--mix", "get=100", "--cmds", 16]),
    ("SET 100%, 16 cmds/req", ["--mix", "set=100", "--cmds", 16]),
    ("GET 90 / SET 10, zipf 0.99", ["--mix", "get=90,set=10", "--dist", "zipf:0.99",
                                    "--cmds", 16]),
    ("MGET x8", ["--mix", "mget=100", "--mget-batch", 8, "--cmds", 1]),
]


def redis_benchmark(args, port, test, pipeline):
    cmd = L.pin(args, args.client_cpus) + [
        "redis-benchmark", "-p", str(port), "-t", test, "-n", str(args.rb_requests),
        "-c", "50", "-P", str(pipeline), "-r", str(args.keys), "-d", "32", "-q"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=600).stdout.decode(errors="replace")
    m = re.findall(r"([0-9.]+) requests per second", out)
    return float(m[-1]) if m else None


def main():
    ap = L.common_args(__doc__)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--flows", type=int, default=8)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--rb-requests", type=int, default=200000)
    args = ap.parse_args()
    servers = {"hotpathd": L.hotpathd(args), "redis": L.redis(args)}
    res = {}
    try:
        for kind, srv in servers.items():   # load once; GETs then hit
            L.pktgen(args, srv.port, "--load", "--keys", args.keys, "--flows", 4,
                     "--window", 32, "--cmds", 32, "--duration", 0.001, "--warmup", 0)
        for label, opts in CASES:
            for rep in range(args.reps):
                order = list(servers) if rep % 2 == 0 else list(reversed(list(servers)))
                for kind in order:
                    r = L.pktgen(args, servers[kind].port, "--keys", args.keys,
                                 "--flows", args.flows, "--window", args.window,
                                 "--duration", args.duration, "--warmup", 0.5, *opts)
                    res.setdefault((label, kind), []).append(r)
                    L.log("%s rep %d %s: %.0f req/s %.0f cmds/s p99 %.1f us"
                          % (label, rep, kind, r["requests_per_s"], r["cmds_per_s"],
                             r["latency_us"]["p99"]))
        rb = {}
        for test, pipe in (("get", 1), ("get", 16), ("set", 16)):
            for rep in range(args.reps):
                for kind in (list(servers) if rep % 2 == 0 else list(reversed(list(servers)))):
                    rb.setdefault((test, pipe, kind), []).append(
                        redis_benchmark(args, servers[kind].port, test, pipe))
    finally:
        for s in servers.values():
            s.stop()
    rows = []
    for label, _ in CASES:
        h, r = res[(label, "hotpathd")], res[(label, "redis")]
        hc, rc = L.median([x["cmds_per_s"] for x in h]), L.median([x["cmds_per_s"] for x in r])
        rows.append([label, hc, rc, hc / rc,
                     L.median([x["latency_us"]["p99"] for x in h]),
                     L.median([x["latency_us"]["p99"] for x in r])])
    print("## TCP: hotpathd (%d worker) vs redis-server, hotpath-pktgen TCP mode\n"
          % args.workers)
    print("Machine: %s. %d flows x window %d, %d keys, %.1f s per run, %d reps, medians.\n"
          % (L.machine(), args.flows, args.window, args.keys, args.duration, args.reps))
    print(L.table(["workload", "hotpathd cmds/s", "redis cmds/s", "ratio",
                   "hotpathd p99 us", "redis p99 us"], rows))
    print("\n### redis-benchmark (-c 50 -d 32 -r %d), requests/s, medians\n" % args.keys)
    rows = []
    for test, pipe in (("get", 1), ("get", 16), ("set", 16)):
        h, r = L.median(rb[(test, pipe, "hotpathd")]), L.median(rb[(test, pipe, "redis")])
        rows.append(["%s -P %d" % (test.upper(), pipe), h, r, h / r if h and r else "n/a"])
    print(L.table(["test", "hotpathd", "redis", "ratio"], rows))
    L.write_json(args, {"%s|%s" % k: v for k, v in res.items()})


if __name__ == "__main__":
    main()
