#!/usr/bin/python3
"""bench_pktgen_keyspace.py - GET throughput and tail latency as the key
count grows (1K .. 10M keys), hotpathd vs redis-server over TCP.

    tests/bench/bench_pktgen_keyspace.py --build build [--sizes 1000,...,10000000]"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pktgen_lib as L  # noqa: E402


def main():
    ap = L.common_args(__doc__)
    ap.add_argument("--sizes", default="1000,10000,100000,1000000,10000000")
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--flows", type=int, default=8)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--cmds", type=int, default=4)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    res = {}
    for n in sizes:
        servers = {"hotpathd": L.hotpathd(args), "redis": L.redis(args)}
        try:
            for kind, srv in servers.items():
                L.pktgen(args, srv.port, "--load", "--keys", n, "--flows", 4, "--window", 32,
                         "--cmds", 32, "--duration", 0.001, "--warmup", 0, "--timeout-ms", 60000)
            for rep in range(args.reps):
                for kind in (list(servers) if rep % 2 == 0 else list(reversed(list(servers)))):
                    r = L.pktgen(args, servers[kind].port, "--keys", n, "--mix", "get=100",
                                 "--flows", args.flows, "--window", args.window,
                                 "--cmds", args.cmds, "--duration", args.duration,
                                 "--warmup", 0.5)
                    res.setdefault((kind, n), []).append(r)
                    L.log("%d keys %s: %.0f cmds/s p99 %.1f us" % (n, kind, r["cmds_per_s"],
                                                                   r["latency_us"]["p99"]))
        finally:
            for s in servers.values():
                s.stop()
    rows, dat = [], []
    for n in sizes:
        h, r = res[("hotpathd", n)], res[("redis", n)]
        hc, rc = L.median([x["cmds_per_s"] for x in h]), L.median([x["cmds_per_s"] for x in r])
        hp, rp = (L.median([x["latency_us"]["p99"] for x in h]),
                  L.median([x["latency_us"]["p99"] for x in r]))
        rows.append([n, hc, rc, hc / rc, hp, rp])
        dat.append((n, hc / 1000, rc / 1000, hp, rp))
    print("## Keyspace scaling (TCP, GET 100%% hits, %d cmds/request)\n" % args.cmds)
    print("Machine: %s. %d flows x window %d, %.1f s per run, %d reps, medians.\n"
          % (L.machine(), args.flows, args.window, args.duration, args.reps))
    print(L.table(["keys", "hotpathd GET/s", "redis GET/s", "ratio", "hotpathd p99 us",
                   "redis p99 us"], rows))
    png = args.png or os.path.join(L.IMG, "pktgen_keyspace.png")
    f = L.data_file(dat)
    script = ("set title 'GET throughput vs key count (TCP)'\nset xlabel 'keys'\n"
              "set ylabel 'kGET/s'\nset logscale x\nset grid\nset yrange [0:*]\n"
              "set key bottom left\n"
              "plot '%s' u 1:2 w lp t 'hotpathd', '%s' u 1:3 w lp t 'redis-server'\n" % (f, f))
    if L.gnuplot(script, png):
        print("\nChart: %s" % os.path.relpath(png, L.REPO))
    L.write_json(args, {"%s|%d" % k: v for k, v in res.items()})


if __name__ == "__main__":
    main()
