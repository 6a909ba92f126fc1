#!/usr/bin/python3
"""bench_pktgen_latency.py - latency vs offered load, open loop (Poisson
arrivals, latency from the intended send time), up to and past the
closed-loop peak.

    tests/bench/bench_pktgen_latency.py --build build [--reps 3] [--duration 3]
    tests/bench/bench_pktgen_latency.py --build build --transport memif [--reps 3]

--transport tcp (default): hotpathd vs redis-server over kernel TCP, each
at fractions of its own closed-loop peak.

--transport memif: hotpath-pktgen in DPDK mode over one memif link against
(a) hotpathd's UDP dataplane (one worker, --poll-mode busy) at fractions of
hotpathd's closed-loop peak and (b) dpdk-testpmd reflecting every frame
(macswap) at the SAME offered rates: the reflector's latency is the floor
of the link and of pktgen's own open-loop sender, so a tail that the
reflector shows too is not hotpathd's.  Server and pktgen busy-poll on
different CPUs (--server-cpus, --client-cpus).  Needs root and
dpdk-testpmd (Debian dpdk-dev).

Every point is printed with the 1-minute load average: on a shared
machine other jobs' CPU time shows up as tail latency.

Target (issue 4): p99.9 at half the peak load <= 3 x p50."""
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pktgen_lib as L  # noqa: E402

QS = ("p50", "p99", "p99.9")


def point_log(kind, f, rate, r):
    extra = ""
    if r.get("stalls", {}).get("measured"):
        st = r["stalls"]
        extra = "; pktgen stalls %d (%.1f ms, max %.1f ms, preempted %d)" % (
            st["count"], st["total_us"] / 1e3, st["max_us"] / 1e3, st["preempted"])
    if "_server_preempted" in r:
        extra += "; server poller preempted %d" % r["_server_preempted"]
    L.log("%s %.2f x peak (%.0f/s): got %.0f/s p50 %.1f p99 %.1f p99.9 %.1f us unsent %d "
          "(load avg %.2f)%s" % (kind, f, rate, r["requests_per_s"], r["latency_us"]["p50"],
                                 r["latency_us"]["p99"], r["latency_us"]["p99.9"], r["unsent"],
                                 r["_loadavg"], extra))


def summarize(pts, kinds, fracs, rate_of):
    rows, dat = [], {}
    for kind in kinds:
        for f in fracs:
            rs = pts[(kind, f)]
            m = {q: L.median([r["latency_us"][q] for r in rs]) for q in QS}
            rows.append([kind, "%.2f" % f, rate_of(kind, f),
                         L.median([r["requests_per_s"] for r in rs]), m["p50"], m["p99"],
                         m["p99.9"], m["p99.9"] / m["p50"] if m["p50"] else None,
                         L.median([r["unsent"] for r in rs]),
                         "%.1f" % max(r["_loadavg"] for r in rs)])
            dat.setdefault(kind, []).append((rate_of(kind, f) / 1000.0, m["p50"], m["p99"],
                                             m["p99.9"]))
    return rows, dat


def half_peak_lines(pts, kinds, fracs):
    out = []
    for kind in kinds:
        if 0.5 in fracs:
            rs = pts[(kind, 0.5)]
            p50 = L.median([r["latency_us"]["p50"] for r in rs])
            p999 = L.median([r["latency_us"]["p99.9"] for r in rs])
            out.append("%s at half peak: p99.9 / p50 = %.2f (target <= 3: %s)"
                       % (kind, p999 / p50, "MET" if p999 <= 3 * p50 else "NOT MET"))
    return out


def chart(title, png, dat, kinds):
    files = {k: L.data_file(v) for k, v in dat.items()}
    plots = []
    for k in kinds:
        plots += ["'%s' u 1:2 w lp t '%s p50'" % (files[k], k),
                  "'%s' u 1:4 w lp t '%s p99.9'" % (files[k], k)]
    script = ("set title '%s'\nset xlabel 'offered load (kreq/s)'\nset ylabel 'latency (us)'\n"
              "set logscale y\nset grid\nset key top left\nplot %s\n" % (title, ", ".join(plots)))
    if L.gnuplot(script, png):
        print("\nChart: %s" % os.path.relpath(png, L.REPO))


# ---- kernel TCP: hotpathd vs redis-server ------------------------------------------

def tcp_pktgen(args, port, *opts):
    r = L.pktgen(args, port, *opts)
    r["_loadavg"] = L.load_average()
    return r


def run_tcp(args, fracs):
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
                    r = tcp_pktgen(args, servers[kind].port, *base, "--window", 64,
                                   "--rate", "%.0f" % rate, "--arrival", "poisson",
                                   "--duration", args.duration, "--warmup", 0.5)
                    pts.setdefault((kind, f), []).append(r)
                    point_log(kind, f, rate, r)
    finally:
        for s in servers.values():
            s.stop()
    rows, dat = summarize(pts, servers, fracs, lambda k, f: f * peak[k])
    print("## Latency vs offered load (TCP, open loop, Poisson, GET 100% hits)\n")
    print("Machine: %s. %d flows, %d keys, %.1f s per point, %d reps, medians. Peaks "
          "(closed loop, window 4): hotpathd %.0f, redis %.0f req/s.\n"
          % (L.machine(), args.flows, args.keys, args.duration, args.reps, peak["hotpathd"],
             peak["redis"]))
    print(L.table(["server", "x peak", "offered req/s", "achieved req/s", "p50 us", "p99 us",
                   "p99.9 us", "p99.9/p50", "unsent", "load avg (max)"], rows))
    print("\n" + "\n".join(half_peak_lines(pts, servers, fracs)))
    chart("Latency vs offered load (TCP, open loop, GET)",
          args.png or os.path.join(L.IMG, "pktgen_latency_vs_load.png"), dat, list(servers))
    L.write_json(args, {"peak": peak, "points": {"%s|%s" % k: v for k, v in pts.items()}})


# ---- DPDK memif: hotpathd vs the testpmd reflector -----------------------------------

class MemifRun:
    """One side's server on a fresh memif socket, and pktgen runs against it."""

    def __init__(self, args, side):
        self.args, self.side = args, side
        MemifRun.count += 1
        tag = "%d-%d" % (os.getpid(), MemifRun.count)
        self.sock = "/tmp/hp-bench-lat-%s.sock" % tag
        if side == "reflector":
            self.srv = L.testpmd_reflector(args, self.sock, "hp-blt-" + tag, args.testpmd)
        else:
            self.srv = L.hotpathd_memif(args, self.sock, "hp-blh-" + tag,
                                        extra=args.server_extra.split())
        try:
            if side == "hotpathd":
                self.pktgen("--load", "--keys", args.keys, "--flows", 4, "--window", 32,
                            "--cmds", 16, "--duration", 0.001, "--warmup", 0)
        except Exception:
            self.stop()
            raise

    def pktgen(self, *opts):
        MemifRun.count += 1
        eal = L.memif_eal(self.sock, "client", "hp-blc-%d-%d" % (os.getpid(), MemifRun.count),
                          self.args.client_cpus)
        extra = ["--reflector"] if self.side == "reflector" else []
        before = L.poller_preemptions(self.srv.pid())
        for attempt in range(5):
            r = L.pktgen(self.args, 9000, "--mode", "dpdk", "--eal", eal, *extra, *opts,
                         "--timeout-ms", 1000, timeout=120)
            # the memif server may not listen yet, or still hold the last client
            # (seen for seconds on a busy machine, with testpmd and hotpathd alike)
            if "setup failed" not in r.get("fatal", ""):
                break
            L.log("%s: %s; trying again" % (self.side, r["fatal"]))
            time.sleep(2.0)
        if r["_rc"] != 0:
            raise RuntimeError("pktgen failed (rc %d, fatal: %s, answered %d, lost %d): %s"
                               % (r["_rc"], r.get("fatal"), r.get("answered", 0),
                                  r.get("lost", 0), r["_cmd"]))
        r["_loadavg"] = L.load_average()
        r["_server_preempted"] = L.poller_preemptions(self.srv.pid()) - before
        return r

    def stop(self):
        self.srv.stop()
        if os.path.exists(self.sock):
            os.unlink(self.sock)


MemifRun.count = 0


def memif_peak(args, side, base):
    run = MemifRun(args, side)
    try:
        rs = [run.pktgen(*base, "--window", 4, "--duration", args.duration, "--warmup", 0.5)
              for _ in range(args.reps)]
    finally:
        run.stop()
    for r in rs:
        L.log("%s closed loop: %.0f req/s p50 %.1f us (load avg %.2f)"
              % (side, r["requests_per_s"], r["latency_us"]["p50"], r["_loadavg"]))
    return L.median([r["requests_per_s"] for r in rs]), rs


def run_memif(args, fracs):
    if not shutil.which(args.testpmd):
        sys.exit("dpdk-testpmd not found (Debian: apt-get install dpdk-dev)")
    if os.geteuid() != 0:
        sys.exit("memif needs root")
    sides = ["hotpathd", "reflector"]
    base = ["--keys", args.keys, "--mix", "get=100", "--flows", args.flows, "--cmds", 1]
    peak, closed, pts, failed = {}, {}, {}, []
    for side in sides:
        peak[side], closed[side] = memif_peak(args, side, base)
        L.log("%s closed-loop peak %.0f req/s" % (side, peak[side]))
    for rep in range(args.reps):
        for side in (sides if rep % 2 == 0 else list(reversed(sides))):
            run = MemifRun(args, side)
            try:
                for f in fracs:
                    rate = max(1.0, f * peak["hotpathd"])
                    try:
                        r = run.pktgen(*base, "--window", 64, "--rate", "%.0f" % rate,
                                       "--arrival", "poisson", "--duration", args.duration,
                                       "--warmup", 0.5)
                    except RuntimeError as e:
                        # one bad point (e.g. the link lost on a swamped machine)
                        # leaves a hole, reported, rather than ending the run
                        L.log("%s %.2f x peak: no result: %s" % (side, f, e))
                        failed.append("%s %.2f x peak (rep %d)" % (side, f, rep))
                        continue
                    pts.setdefault((side, f), []).append(r)
                    point_log(side, f, rate, r)
            finally:
                run.stop()
    fracs = [f for f in fracs if all((k, f) in pts for k in sides)]
    rows, dat = summarize(pts, sides, fracs, lambda k, f: f * peak["hotpathd"])
    print("## Latency vs offered load (DPDK memif, open loop, Poisson, GET 100% hits)\n")
    print("Machine: %s. hotpathd one worker, --poll-mode busy, on CPU %s; pktgen one lcore on "
          "CPU %s; %d flows x window 64, %d keys, %.1f s per point, %d reps, medians. "
          "Closed-loop peaks (window 4): hotpathd %.0f, reflector %.0f req/s; both sides run "
          "at fractions of hotpathd's peak.%s\n"
          % (L.machine(), args.server_cpus, args.client_cpus, args.flows, args.keys,
             args.duration, args.reps, peak["hotpathd"], peak["reflector"],
             (" hotpathd extra: `%s`." % args.server_extra) if args.server_extra else ""))
    print(L.table(["peer", "x hotpathd peak", "offered req/s", "achieved req/s", "p50 us",
                   "p99 us", "p99.9 us", "p99.9/p50", "unsent", "load avg (max)"], rows))
    print("\n" + "\n".join(half_peak_lines(pts, sides, fracs)))
    stalls = [(k, f, r) for (k, f), rs in sorted(pts.items()) for r in rs[:1]]
    print("\nWhere the time went (first repetition of each point): that run's p99.9 next to "
          "pktgen's poll passes over 50 us (count, total, longest; in open loop every request "
          "intended during one waits for it) and the involuntary context switches of pktgen's "
          "and the server's polling threads:\n")
    print(L.table(["peer", "x peak", "p99.9 us", "stalls", "stalled ms", "longest stall us",
                   "pktgen preempted", "server preempted"],
                  [[k, "%.2f" % f, r["latency_us"]["p99.9"], r["stalls"]["count"],
                    r["stalls"]["total_us"] / 1e3, r["stalls"]["max_us"], r["stalls"]["preempted"],
                    r["_server_preempted"]] for k, f, r in stalls]))
    if failed:
        print("\nPoints without a result: %s" % ", ".join(failed))
    chart("Latency vs offered load (DPDK memif, open loop, GET)",
          args.png or os.path.join(L.IMG, "pktgen_latency_vs_load_memif.png"), dat, sides)
    L.write_json(args, {"peak": peak, "closed": closed,
                        "points": {"%s|%s" % k: v for k, v in pts.items()}})


def main():
    ap = L.common_args(__doc__)
    ap.add_argument("--transport", choices=("tcp", "memif"), default="tcp")
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--flows", type=int, default=8)
    ap.add_argument("--loads", default="0.1,0.25,0.5,0.75,0.9,1.0,1.1",
                    help="offered load as fractions of the closed-loop peak")
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd") or "dpdk-testpmd")
    ap.add_argument("--server-extra", default="",
                    help="memif: more hotpathd directives, e.g. '--hz 1'")
    args = ap.parse_args()
    fracs = [float(x) for x in args.loads.split(",")]
    if args.transport == "tcp":
        run_tcp(args, fracs)
    else:
        run_memif(args, fracs)


if __name__ == "__main__":
    main()
