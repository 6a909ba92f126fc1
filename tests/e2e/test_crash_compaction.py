#!/usr/bin/python3
"""test_crash_compaction.py - kill -9 while log rewrites run (docs/AOF.md
section 15).

Each cycle: start hotpathd (appendonly yes, appendfsync always) on the same
directory, drive durable writes as test_crash.py does (small keys, per-key
ledger) plus one connection writing 64 KiB values (so 16 MiB segments fill
and rewrites have segments to drop), and a thread issuing BGREWRITEAOF over
and over; SIGKILL at a random moment, restart, and check every key against
the ledger: the last acknowledged value or one sent after it, never an
older one or an invented one.  Bounded in time: at most HP_CRASH_CYCLES
cycles (default 12) and about HP_CRASH_BUDGET_S seconds (default 50).
hotpathd only."""
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Suite, Server, check, run_suite, target  # noqa
import test_crash  # noqa: the ledger, the small-key writer and verify

suite = Suite("crash_compaction")
CYCLES = int(os.environ.get("HP_CRASH_CYCLES", "12"))
BUDGET_S = float(os.environ.get("HP_CRASH_BUDGET_S", "50"))
SEED = int(os.environ.get("HP_CRASH_SEED", str(int(time.time()))))
BIG = 65536
BIG_KEYS = ["big:%d" % i for i in range(8)]
LOAD_S = (0.3, 1.2)


def big_writer(port, cycle, ledger, stop, rng, counts):
    """Pipelined 64 KiB SETs; values are a tag padded with 'x'."""
    from hp_harness import RespConn, encode, ConnectionClosed
    try:
        conn = RespConn(port, timeout=5)
    except OSError:
        return
    inflight, seq = [], 0
    try:
        while not stop.is_set() or inflight:
            while not stop.is_set() and len(inflight) < 8:
                seq += 1
                k = rng.choice(BIG_KEYS)
                tag = "%d-b-%d" % (cycle, seq)
                ledger.sent(k, tag)
                conn.send_raw(encode("SET", k, tag.ljust(BIG, "x")))
                inflight.append((k, tag))
            if not inflight:
                break
            r = conn.read()
            k, tag = inflight.pop(0)
            if r != b"OK":
                raise AssertionError("unexpected reply %r" % (r,))
            ledger.acked_upto(k, tag)
            counts[0] += 1
    except (ConnectionClosed, OSError):
        pass
    finally:
        conn.close()


def rewriter(port, stop, counts):
    from hp_harness import RespConn, ConnectionClosed
    try:
        conn = RespConn(port, timeout=5)
    except OSError:
        return
    try:
        while not stop.is_set():
            # An ErrorReply ("already in progress") is returned, not raised.
            r = conn.call("BGREWRITEAOF")
            if r == b"Background append only file rewriting started":
                counts[0] += 1
            time.sleep(0.02)
    except (ConnectionClosed, OSError):
        pass
    finally:
        conn.close()


def verify_big(srv, ledger):
    from hp_harness import RespConn
    bad = []
    with RespConn(srv.port) as c:
        for k in BIG_KEYS:
            v = c.call("GET", k)
            v = None if v is None else v.decode().rstrip("x")
            if v not in ledger.allowed(k):
                bad.append("%s: got %r, acknowledged %r" % (k, v, ledger.acked.get(k)))
            ledger.reset(k, v)
    return bad


@suite.test(server=False, timeout=int(BUDGET_S) + 120)
def test_kill9_during_rewrites(_):
    rng = random.Random(SEED)
    print("# up to %d cycles / %.0f s, seed %d (HP_CRASH_SEED to repeat)"
          % (CYCLES, BUDGET_S, SEED), flush=True)
    d = tempfile.mkdtemp(prefix="hp-crash-rw-")
    ledger = test_crash.Ledger()
    small = ["c%d:k%d" % (c, i) for c in range(test_crash.CLIENTS)
             for i in range(test_crash.KEYS_PER_CLIENT)]
    acked, rewrites, cycles = 0, 0, 0
    t0 = time.monotonic()
    args = ["--appendonly", "yes", "--appendfsync", "always", "--dir", d]
    try:
        for cycle in range(CYCLES):
            if cycles >= 3 and time.monotonic() - t0 > BUDGET_S:
                break
            srv = Server(workers=3, extra_args=args)
            srv.start()
            bad = test_crash.verify(srv, ledger, small) + verify_big(srv, ledger)
            check(not bad, "cycle %d, after restart: %d bad keys, e.g. %s"
                  % (cycle, len(bad), "; ".join(bad[:3])))
            stop = threading.Event()
            counts, bcount, rcount = [0] * test_crash.CLIENTS, [0], [0]
            threads = [threading.Thread(target=test_crash.writer,
                                        args=(srv.port, c, cycle, ledger, stop,
                                              random.Random(rng.random()), counts))
                       for c in range(test_crash.CLIENTS)]
            threads.append(threading.Thread(target=big_writer, args=(
                srv.port, cycle, ledger, stop, random.Random(rng.random()), bcount)))
            threads.append(threading.Thread(target=rewriter, args=(srv.port, stop, rcount)))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(*LOAD_S))
            srv.proc.kill()
            stop.set()
            for t in threads:
                t.join(10)
            srv.proc.wait(10)
            srv.stop()
            srv.discard_logs()   # the kill was ours
            acked += sum(counts) + bcount[0]
            rewrites += rcount[0]
            cycles += 1
        srv = Server(workers=3, extra_args=["--appendonly", "yes", "--dir", d]).start()
        bad = test_crash.verify(srv, ledger, small) + verify_big(srv, ledger)
        srv.stop()
        check(not bad, "final restart: %d bad keys, e.g. %s" % (len(bad), "; ".join(bad[:3])))
        check(acked > cycles * 10, "enough acknowledged writes: %d" % acked)
        check(rewrites >= cycles, "rewrites started: %d in %d cycles" % (rewrites, cycles))
        segs = [f for f in os.listdir(d) if f.startswith("seg-")]
        print("# %d cycles, %d acknowledged requests verified, %d rewrites started, "
              "%d segments left, %.1f s" % (cycles, acked, rewrites, len(segs),
                                           time.monotonic() - t0), flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if target() != "hotpathd":
        sys.exit(suite.skip_all("hotpathd only"))
    run_suite(suite)
