#!/usr/bin/python3
"""
bench_hash_memory.py - bytes per hash field, hotpathd against redis-server:
N keys of F fields each ("fieldI" -> a 10-byte value), the INFO memory
used_memory delta divided by the fields written.  Usage:
  HOTPATHD=build/dataplane/hotpathd tests/bench/bench_hash_memory.py [keys]
(default 3000 keys; with few keys the slab and index pre-allocation of a
fresh hotpathd dominates the delta).  F = 10 and 100 stay listpack, 1000
is a hashtable in both servers.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from hp_harness import Server  # noqa: E402

NKEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000


def used(c):
    info = c.call(b"INFO", b"memory").decode()
    return int([ln for ln in info.split("\r\n") if ln.startswith("used_memory:")][0].split(":")[1])


def measure(srv, nf, vlen=10):
    with srv.conn() as c:
        c.call(b"FLUSHALL")
        u0 = used(c)
        for k in range(NKEYS):
            args = [b"HSET", b"mk%d" % k]
            for i in range(nf):
                args += [b"field%d" % i, (b"v%d" % i).ljust(vlen, b"x")]
            for j in range(0, len(args) - 2, 200):
                c.call(*(args[:2] + args[2 + j:2 + j + 200]))
        return (used(c) - u0) / (NKEYS * nf)


for kind in ("redis", "hotpathd"):
    srv = Server(kind=kind, workers=1).start()
    try:
        for nf in (10, 100, 1000):
            print("%-8s %4d fields/key: %.1f bytes/field (%d keys)" % (kind, nf, measure(srv, nf),
                                                                       NKEYS), flush=True)
    finally:
        srv.stop()
