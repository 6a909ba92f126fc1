#!/usr/bin/python3
"""bench_pktgen_latency.py - latency vs offered load, open loop (Poisson
arrivals, latency from the intended send time), hotpathd vs redis-server
over TCP, up to and past each server's closed-loop peak.

    tests/bench/bench_pktgen_latency.py --build build [--reps 3] [--duration 3]

Target (issue 4): p99.9 at half the peak load <= 3 x p50."""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pktgen_lib as L  # noqa: E402


def main():
    ap = L.common_args(__doc__)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--flows", type=int, default=8)
    ap.add_argument("--loads", default="0.1,0.25,0.5,0.75,0.9,1.0,1.1",
                    help="offered load as fractions of each server's closed-loop peak")
    args = ap.parse_args()
    fracs = [float(x) for x in args.loads.split(",")]
    servers = {"hotpathd": L.hotpathd(args), "redis": L.redis(args)}
    base = ["--keys", args.keys, "--mix", "get=100", "--flows", args.flows, "--cmds", 1]
    peak, pts = {}, {}
    try:
        for kind, srv in servers.items():
            L.pktgen(args, srv.port, "--load", "--keys", args.keys, "--flows", 4,
                     "--window", 32, "--cmds", 32, "--duration", 0.001, "--warmup", 0)
            peak[kind] = L.median([L.pktgen(args, srv.port, *base, "--window", 4,
                                            "--duration", args.duration, "--warmup", 0.5)
                                   ["requests_per_s"] for _ in range(args.reps)])
            L.log("%s closed-loop peak %.0f req/s" % (kind, peak[kind]))
        for f in fracs:
            for rep in range(args.reps):
                order = list(servers) if rep % 2 == 0 else list(reversed(list(servers)))
                for kind in order:
                    rate = max(1.0, f * peak[kind])
                    r = L.pktgen(args, servers[kind].port, *base, "--window", 64,
                                 "--rate", "%.0f" % rate, "--arrival", "poisson",
                                 "--duration", args.duration, "--warmup", 0.5)
                    pts.setdefault((kind, f), []).append(r)
                    L.log("%s %.2f x peak (%.0f/s): got %.0f/s p50 %.1f p99 %.1f p99.9 %.1f us"
                          % (kind, f, rate, r["requests_per_s"], r["latency_us"]["p50"],
                             r["latency_us"]["p99"], r["latency_us"]["p99.9"]))
    finally:
        for s in servers.values():
            s.stop()
    rows, dat = [], {}
    for kind in servers:
        for f in fracs:
            rs = pts[(kind, f)]
            m = {q: L.median([r["latency_us"][q] for r in rs]) for q in ("p50", "p99", "p99.9")}
            got = L.median([r["requests_per_s"] for r in rs])
            rows.append([kind, "%.2f" % f, f * peak[kind], got, m["p50"], m["p99"], m["p99.9"],
                         L.median([r["unsent"] for r in rs])])
            dat.setdefault(kind, []).append((f * peak[kind] / 1000.0, m["p50"], m["p99"],
                                             m["p99.9"]))
    print("## Latency vs offered load (TCP, open loop, Poisson, GET 100% hits)\n")
    print("Machine: %s. %d flows, %d keys, %.1f s per point, %d reps, medians. Peaks "
          "(closed loop, window 4): hotpathd %.0f, redis %.0f req/s.\n"
          % (L.machine(), args.flows, args.keys, args.duration, args.reps, peak["hotpathd"],
             peak["redis"]))
    print(L.table(["server", "x peak", "offered req/s", "achieved req/s", "p50 us", "p99 us",
                   "p99.9 us", "unsent"], rows))
    for kind in servers:
        if 0.5 in fracs:
            rs = pts[(kind, 0.5)]
            p50 = L.median([r["latency_us"]["p50"] for r in rs])
            p999 = L.median([r["latency_us"]["p99.9"] for r in rs])
            print("\n%s at half peak: p99.9 / p50 = %.2f (target <= 3: %s)"
                  % (kind, p999 / p50, "MET" if p999 <= 3 * p50 else "NOT MET"))
    png = args.png or os.path.join(L.IMG, "pktgen_latency_vs_load.png")
    files = {k: L.data_file(v) for k, v in dat.items()}
    script = ("set title 'Latency vs offered load (TCP, open loop, GET)'\n"
              "set xlabel 'offered load (kreq/s)'\nset ylabel 'latency (us)'\n"
              "set logscale y\nset grid\nset key top left\n"
              "plot '%s' u 1:2 w lp t 'hotpathd p50', '%s' u 1:4 w lp t 'hotpathd p99.9', "
              "'%s' u 1:2 w lp t 'redis p50', '%s' u 1:4 w lp t 'redis p99.9'\n"
              % (files["hotpathd"], files["hotpathd"], files["redis"], files["redis"]))
    if L.gnuplot(script, png):
        print("\nChart: %s" % os.path.relpath(png, L.REPO))
    L.write_json(args, {"peak": peak, "points": {"%s|%s" % k: v for k, v in pts.items()}})


if __name__ == "__main__":
    main()
