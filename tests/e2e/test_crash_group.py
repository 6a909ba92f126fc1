#!/usr/bin/python3
"""test_crash_group.py - a multi-shard write is all or nothing after a crash
(docs/AOF.md section 16, record groups).

Each cycle: start hotpathd (2 workers, appendonly yes, appendfsync always)
on the same directory; several pipelined connections MSET pairs of keys that
live on the two different shards, both keys of a pair to the same value
(each connection owns its pairs, so per-pair order is known); SIGKILL the
server at a random moment, restart it and check every pair:
  - both keys equal (both absent, or the same value): never one key new and
    the other old, whatever was acknowledged;
  - the value is the last acknowledged one or one sent after it (in flight
    at the kill): nothing lost, nothing invented.
The first check is what record groups add; it needs the runtime to log an
MSET's records as one group (aof_log_append_grouped).

HP_CRASH_CYCLES (default 30) sets the number of cycles, HP_CRASH_SEED the
random seed.  hotpathd only."""
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

from hp_harness import shard_of as hp_shard_of  # noqa: E402
suite = Suite("crash_group")
CYCLES = int(os.environ.get("HP_CRASH_CYCLES", "30"))
SEED = int(os.environ.get("HP_CRASH_SEED", str(int(time.time()))))
WORKERS = 2
CLIENTS = 4              # connections writing concurrently
PAIRS_PER_CLIENT = 30
DEPTH = 8                # requests in flight per connection
LOAD_S = (0.1, 0.4)      # load before the kill, seconds (random in range)


def shard_of(key):
    return hp_shard_of(key, WORKERS)


def make_pairs(cid):
    """PAIRS_PER_CLIENT (key on shard 0, key on shard 1) for client cid."""
    zero, one = [], []
    i = 0
    while len(zero) < PAIRS_PER_CLIENT or len(one) < PAIRS_PER_CLIENT:
        k = "g%d:%d" % (cid, i)
        (zero if shard_of(k) == 0 else one).append(k)
        i += 1
    return list(zip(zero[:PAIRS_PER_CLIENT], one[:PAIRS_PER_CLIENT]))


class Ledger:
    """Per pair: the last acknowledged value and the values sent after it."""

    def __init__(self):
        self.acked = {}
        self.pending = {}
        self.lock = threading.Lock()

    def sent(self, pair, value):
        with self.lock:
            self.pending.setdefault(pair, []).append(value)

    def acked_upto(self, pair, value):
        with self.lock:
            p = self.pending[pair]
            i = p.index(value)
            self.acked[pair] = value
            del p[:i + 1]

    def allowed(self, pair):
        return [self.acked.get(pair)] + self.pending.get(pair, [])

    def reset(self, pair, value):
        self.acked[pair] = value
        self.pending[pair] = []


def writer(port, cid, cycle, pairs, ledger, stop, rng, counts):
    from hp_harness import RespConn, encode, ConnectionClosed
    try:
        conn = RespConn(port, timeout=5)
    except OSError:
        return
    inflight = []   # [(pair, value), ...] in send order
    seq = 0
    try:
        while not stop.is_set() or inflight:
            while not stop.is_set() and len(inflight) < DEPTH:
                seq += 1
                pair = rng.choice(pairs)
                v = "%d-%d-%d" % (cycle, cid, seq)
                ledger.sent(pair, v)
                conn.send_raw(encode("MSET", pair[0], v, pair[1], v))
                inflight.append((pair, v))
            if not inflight:
                break
            r = conn.read()
            pair, v = inflight.pop(0)
            if r != b"OK":
                raise AssertionError("unexpected reply %r" % (r,))
            ledger.acked_upto(pair, v)
            counts[cid] += 1
    except (ConnectionClosed, OSError):
        pass   # the server was killed: in-flight writes stay "pending"
    finally:
        conn.close()


def verify(srv, ledger, all_pairs):
    from hp_harness import RespConn
    keys = [k for p in all_pairs for k in p]
    with RespConn(srv.port) as c:
        got = []
        for i in range(0, len(keys), 100):
            vals = c.call("MGET", *keys[i:i + 100])
            got += [None if v is None else v.decode() for v in vals]
    half, bad = [], []
    for j, pair in enumerate(all_pairs):
        a, b = got[2 * j], got[2 * j + 1]
        if a != b:
            half.append("%s=%r but %s=%r (acknowledged %r, in flight %r)"
                        % (pair[0], a, pair[1], b, ledger.acked.get(pair),
                           ledger.pending.get(pair, [])))
        elif a not in ledger.allowed(pair):
            bad.append("%s: got %r, acknowledged %r, in flight %r"
                       % (pair, a, ledger.acked.get(pair), ledger.pending.get(pair, [])))
        ledger.reset(pair, a)
    return half, bad


@suite.test(server=False, timeout=max(240, CYCLES * 6))
def test_kill9_mset_pairs_all_or_nothing(_):
    rng = random.Random(SEED)
    print("# %d cycles, seed %d (HP_CRASH_SEED to repeat)" % (CYCLES, SEED), flush=True)
    d = tempfile.mkdtemp(prefix="hp-crashgrp-")
    ledger = Ledger()
    client_pairs = [make_pairs(c) for c in range(CLIENTS)]
    all_pairs = [p for ps in client_pairs for p in ps]
    check(all(shard_of(a) == 0 and shard_of(b) == 1 for a, b in all_pairs),
          "every pair spans both shards")
    total_acked = 0
    t0 = time.monotonic()
    try:
        for cycle in range(CYCLES):
            srv = Server(workers=WORKERS,
                         extra_args=["--appendonly", "yes", "--appendfsync", "always",
                                     "--dir", d])
            srv.start()
            half, bad = verify(srv, ledger, all_pairs)
            check(not half, "cycle %d, after restart: %d pairs half written, e.g. %s"
                  % (cycle, len(half), "; ".join(half[:3])))
            check(not bad, "cycle %d, after restart: %d bad pairs, e.g. %s"
                  % (cycle, len(bad), "; ".join(bad[:3])))
            stop = threading.Event()
            counts = [0] * CLIENTS
            threads = [threading.Thread(target=writer,
                                        args=(srv.port, c, cycle, client_pairs[c], ledger,
                                              stop, random.Random(rng.random()), counts))
                       for c in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(*LOAD_S))
            srv.proc.kill()          # SIGKILL at a random moment under load
            stop.set()
            for t in threads:
                t.join(10)
            srv.proc.wait(10)
            srv.stop()
            srv.discard_logs()   # the kill was ours
            total_acked += sum(counts)
        srv = Server(workers=WORKERS, extra_args=["--appendonly", "yes", "--dir", d]).start()
        half, bad = verify(srv, ledger, all_pairs)
        srv.stop()
        check(not half, "final restart: %d pairs half written, e.g. %s"
              % (len(half), "; ".join(half[:3])))
        check(not bad, "final restart: %d bad pairs, e.g. %s" % (len(bad), "; ".join(bad[:3])))
        check(total_acked > CYCLES * 10, "enough acknowledged writes: %d" % total_acked)
        print("# %d cycles, %d acknowledged MSETs verified, %.1f s"
              % (CYCLES, total_acked, time.monotonic() - t0), flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if target() != "hotpathd":
        sys.exit(suite.skip_all("hotpathd only"))
    run_suite(suite)
