#!/usr/bin/python3
"""bench_pktgen_physical.py - the physical limit: hotpath-pktgen in DPDK mode
over one memif link against (a) dpdk-testpmd reflecting every frame
(--forward-mode=macswap) and (b) hotpathd's UDP dataplane answering GETs
(100% hits), alternating, several repetitions, medians; reports
hotpathd / reflector.

    tests/bench/bench_pktgen_physical.py --build build [--reps 3] [--duration 3]

Needs root (memif sockets, hugepage-free EAL) and dpdk-testpmd (Debian
dpdk-dev).  Target (issue 4): GET throughput >= 60% of the reflector's."""
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pktgen_lib as L  # noqa: E402


def memif(sock, role, prefix):
    return ("--no-huge --no-pci -m 256 --file-prefix %s --vdev net_memif0,role=%s,socket=%s"
            % (prefix, role, sock))


def log_says(proc, text):
    # memif sockets are abstract by default (no file to wait for): testpmd
    # is ready once it says it forwards
    def ready():
        with open(proc.log.name, errors="replace") as f:
            return text in f.read()
    return ready


def run_side(args, side, rep):
    sock = "/tmp/hp-bench-memif-%d-%s-%d.sock" % (os.getpid(), side, rep)
    if side == "reflector":
        argv = L.pin(args, args.server_cpus + "," + args.client_cpus) + [
            args.testpmd] + ("-l %s,%s " % (args.client_cpus, args.server_cpus)).split() + \
            memif(sock, "server", "hp-bpt-%d-%d" % (os.getpid(), rep)).split() + [
            "--", "--forward-mode=macswap", "--nb-cores=1", "--total-num-mbufs=16384"]
        srv = L.Proc("testpmd", argv)
        srv.ready = log_says(srv, "packet forwarding")
        srv.start()
    else:
        port = L.free_port()
        srv = L.hotpathd(args, port=port, extra=[
            "--eal-args", "--no-shconf " + memif(sock, "server", "hp-bph-%d-%d"
                                                 % (os.getpid(), rep)),
            "--udp-ports", "all", "--udp-addr", "10.0.0.1/24", "--poll-mode", "busy"])
    try:
        time.sleep(0.5)
        eal = "-l %s %s" % (args.client_cpus, memif(sock, "client", "hp-bpc-%d-%s-%d"
                                                      % (os.getpid(), side, rep)))
        opts = ["--mode", "dpdk", "--eal", eal, "--keys", args.keys, "--mix", "get=100",
                "--flows", args.flows, "--window", args.window, "--cmds", args.cmds,
                "--duration", args.duration, "--warmup", 0.5]
        if side == "reflector":
            opts.append("--reflector")
        else:
            opts.append("--load")
        return L.pktgen(args, 9000, *opts, client_cpus=args.client_cpus)
    finally:
        srv.stop()
        if os.path.exists(sock):
            os.unlink(sock)


def main():
    ap = L.common_args(__doc__)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--flows", type=int, default=8)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--cmds", type=int, default=1)
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd") or "dpdk-testpmd")
    args = ap.parse_args()
    if not os.path.exists(args.testpmd) and not shutil.which(args.testpmd):
        sys.exit("dpdk-testpmd not found (Debian: apt-get install dpdk-dev)")
    res = {"reflector": [], "hotpathd": []}
    load_before = os.getloadavg()
    for rep in range(args.reps):
        for side in (("reflector", "hotpathd") if rep % 2 == 0 else ("hotpathd", "reflector")):
            r = run_side(args, side, rep)
            res[side].append(r)
            L.log("rep %d %s: %.0f req/s p50 %.1f p99 %.1f us lost %d"
                  % (rep, side, r["requests_per_s"], r["latency_us"]["p50"],
                     r["latency_us"]["p99"], r["lost"]))
    rows = []
    for side in ("reflector", "hotpathd"):
        v = res[side]
        rows.append([side, L.median([x["requests_per_s"] for x in v]),
                     L.median([x["latency_us"]["p50"] for x in v]),
                     L.median([x["latency_us"]["p99"] for x in v]),
                     L.median([x["lost"] for x in v])])
    ratio = rows[1][1] / rows[0][1]
    print("## Physical limit: pktgen (DPDK, memif) vs testpmd macswap vs hotpathd UDP\n")
    print("Machine: %s. %d flows x window %d, %d cmd/datagram, GET 100%% hits over %d keys, "
          "%.1f s per run, %d reps, medians.\n" % (L.machine(), args.flows, args.window,
                                                  args.cmds, args.keys, args.duration,
                                                  args.reps))
    # Two cores shared with anything else running: the load average says how
    # much the figures can be trusted (the ratio, measured side by side, more).
    load_after = os.getloadavg()
    print("Load average (1/5/15 min) before: %.2f %.2f %.2f, after: %.2f %.2f %.2f.\n"
          % (load_before + load_after))
    print(L.table(["peer", "requests/s", "p50 us", "p99 us", "lost"], rows))
    print("\nhotpathd / reflector: %.2f (target >= 0.60: %s)"
          % (ratio, "MET" if ratio >= 0.6 else "NOT MET"))
    L.write_json(args, {"results": res, "ratio": ratio, "loadavg_before": load_before,
                        "loadavg_after": load_after})


if __name__ == "__main__":
    main()
