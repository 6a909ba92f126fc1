#!/usr/bin/python3
"""bench_pktgen_memory.py - memory per key: load N keys (default 10M, 16-byte
keys, 32-byte values) into hotpathd and into redis-server with
hotpath-pktgen's pipelined loader, then compare RSS growth per key.

    tests/bench/bench_pktgen_memory.py --build build [--keys 10000000] [--reps 1]

Target (issue 4): hotpathd bytes/key <= 0.5 x redis-server's."""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pktgen_lib as L  # noqa: E402


def load_one(args, kind):
    srv = L.hotpathd(args) if kind == "hotpathd" else L.redis(args)
    try:
        time.sleep(0.5)
        rss0 = srv.rss_kb()
        rep = L.pktgen(args, srv.port, "--load", "--keys", args.keys, "--key-size", 16,
                       "--value-size", 32, "--flows", 4, "--window", 32, "--cmds", 32,
                       "--duration", 0.001, "--warmup", 0, "--timeout-ms", 60000)
        time.sleep(1.0)
        rss1 = srv.rss_kb()
        dbsize = int(L.resp(srv.port, "DBSIZE")[1:].strip())
        used = L.info_field(srv.port, "memory", "used_memory")
        if dbsize != args.keys:
            raise RuntimeError("%s holds %d keys after loading %d" % (kind, dbsize, args.keys))
        return {"server": kind, "keys": dbsize, "rss0_kb": rss0, "rss1_kb": rss1,
                "bytes_per_key": (rss1 - rss0) * 1024.0 / args.keys,
                "used_memory": int(used) if used and used.isdigit() else None,
                "load_keys_per_s": rep["load_keys"] / rep["load_s"] if rep["load_s"] else None}
    finally:
        srv.stop()


def main():
    ap = L.common_args(__doc__)
    ap.add_argument("--keys", type=int, default=10000000)
    ap.set_defaults(reps=1)
    args = ap.parse_args()
    res = {"hotpathd": [], "redis": []}
    for rep in range(args.reps):
        order = ["hotpathd", "redis"] if rep % 2 == 0 else ["redis", "hotpathd"]
        for kind in order:
            r = load_one(args, kind)
            L.log("rep %d %s: %.1f bytes/key (RSS %d -> %d kB), load %.0f keys/s"
                  % (rep, kind, r["bytes_per_key"], r["rss0_kb"], r["rss1_kb"],
                     r["load_keys_per_s"] or 0))
            res[kind].append(r)
    med = {k: L.median([r["bytes_per_key"] for r in v]) for k, v in res.items()}
    rows = []
    for k in ("hotpathd", "redis"):
        v = res[k]
        rows.append([k, args.keys, L.median([r["rss1_kb"] for r in v]) / 1024.0, med[k],
                     L.median([r["used_memory"] for r in v]) / args.keys
                     if all(r["used_memory"] for r in v) else "n/a",
                     L.median([r["load_keys_per_s"] for r in v])])
    ratio = med["hotpathd"] / med["redis"]
    print("## Memory: %d keys (16 B keys, 32 B values), %d rep(s), median\n" % (args.keys,
                                                                                args.reps))
    print("Machine: %s\n" % L.machine())
    print(L.table(["server", "keys", "RSS after load (MiB)", "RSS bytes/key",
                   "used_memory bytes/key", "load keys/s"], rows))
    print("\nhotpathd / redis-server bytes per key: %.2f (target <= 0.50: %s)"
          % (ratio, "MET" if ratio <= 0.5 else "NOT MET"))
    L.write_json(args, {"results": res, "ratio": ratio})


if __name__ == "__main__":
    main()
