#!/usr/bin/python3
"""test_crash.py - crash consistency of the append-only log (docs/AOF.md).

Each cycle: start hotpathd (appendonly yes, appendfsync always) on the same
directory, drive durable writes from several pipelined connections (SET,
DEL, multi-shard MSET; each connection owns its keys, so per-key order is
known), SIGKILL the server at a random moment, restart it and check every
key: its value must be the last acknowledged one or one sent after it but
not yet acknowledged (in flight at the kill).  A value never sent is
"invented"; an older value, or a missing key, is a lost acknowledged write.

HP_CRASH_CYCLES (default 50) sets the number of cycles, HP_CRASH_SEED the
random seed; tests/soak/crash_soak.sh runs many more.  hotpathd only."""
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

suite = Suite("crash")
CYCLES = int(os.environ.get("HP_CRASH_CYCLES", "50"))
SEED = int(os.environ.get("HP_CRASH_SEED", str(int(time.time()))))
CLIENTS = 6              # connections writing concurrently
KEYS_PER_CLIENT = 60
DEPTH = 8                # requests in flight per connection
LOAD_S = (0.1, 0.4)      # load before the kill, seconds (random in range)


class Ledger:
    """What may be in the server for each key: the last acknowledged value
    and the values sent after it (None = deleted / absent)."""

    def __init__(self):
        self.acked = {}
        self.pending = {}
        self.lock = threading.Lock()

    def sent(self, key, value):
        with self.lock:
            self.pending.setdefault(key, []).append(value)

    def acked_upto(self, key, value):
        with self.lock:
            p = self.pending[key]
            i = p.index(value)
            self.acked[key] = value
            del p[:i + 1]

    def allowed(self, key):
        return [self.acked.get(key)] + self.pending.get(key, [])

    def reset(self, key, value):
        self.acked[key] = value
        self.pending[key] = []


def writer(port, cid, cycle, ledger, stop, rng, counts):
    from hp_harness import RespConn, encode, ConnectionClosed
    keys = ["c%d:k%d" % (cid, i) for i in range(KEYS_PER_CLIENT)]
    try:
        conn = RespConn(port, timeout=5)
    except OSError:
        return
    inflight = []   # [(list of (key, value)), ...] in send order
    seq = 0
    try:
        while not stop.is_set() or inflight:
            while not stop.is_set() and len(inflight) < DEPTH:
                seq += 1
                op = rng.random()
                if op < 0.1:
                    k = rng.choice(keys)
                    items = [(k, None)]
                    req = encode("DEL", k)
                elif op < 0.25:
                    ks = rng.sample(keys, 3)     # different shards, usually
                    items = [(k, "%d-%d-%d" % (cycle, cid, seq)) for k in ks]
                    args = ["MSET"]
                    for k, v in items:
                        args += [k, v]
                    req = encode(*args)
                else:
                    k = rng.choice(keys)
                    items = [(k, "%d-%d-%d" % (cycle, cid, seq))]
                    req = encode("SET", k, items[0][1])
                for k, v in items:
                    ledger.sent(k, v)
                conn.send_raw(req)
                inflight.append(items)
            if not inflight:
                break
            r = conn.read()
            items = inflight.pop(0)
            if r not in (b"OK", 0, 1):
                raise AssertionError("unexpected reply %r" % (r,))
            for k, v in items:
                ledger.acked_upto(k, v)
            counts[cid] += 1
    except (ConnectionClosed, OSError):
        pass   # the server was killed: in-flight writes stay "pending"
    finally:
        conn.close()


def verify(srv, ledger, all_keys):
    from hp_harness import RespConn
    with RespConn(srv.port) as c:
        got = []
        for i in range(0, len(all_keys), 100):
            part = all_keys[i:i + 100]
            vals = c.call("MGET", *part)
            got += [None if v is None else v.decode() for v in vals]
    bad = []
    for k, v in zip(all_keys, got):
        allowed = ledger.allowed(k)
        if v not in allowed:
            what = "invented" if v is not None and not any(v == a for a in allowed) else "lost"
            bad.append("%s: got %r, acknowledged %r, in flight %r (%s)"
                       % (k, v, ledger.acked.get(k), ledger.pending.get(k, []), what))
        ledger.reset(k, v)
    return bad


@suite.test(server=False, timeout=max(240, CYCLES * 6))
def test_kill9_cycles(_):
    rng = random.Random(SEED)
    print("# %d cycles, seed %d (HP_CRASH_SEED to repeat)" % (CYCLES, SEED), flush=True)
    d = tempfile.mkdtemp(prefix="hp-crash-")
    ledger = Ledger()
    all_keys = ["c%d:k%d" % (c, i) for c in range(CLIENTS) for i in range(KEYS_PER_CLIENT)]
    total_acked = 0
    t0 = time.monotonic()
    try:
        for cycle in range(CYCLES):
            srv = Server(workers=3, extra_args=["--appendonly", "yes", "--appendfsync", "always",
                                                "--dir", d])
            ts = time.monotonic()
            srv.start()
            tu = time.monotonic()
            bad = verify(srv, ledger, all_keys)
            check(not bad, "cycle %d, after restart: %d bad keys, e.g. %s"
                  % (cycle, len(bad), "; ".join(bad[:3])))
            stop = threading.Event()
            counts = [0] * CLIENTS
            threads = [threading.Thread(target=writer,
                                        args=(srv.port, c, cycle, ledger, stop,
                                              random.Random(rng.random()), counts))
                       for c in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(*LOAD_S))
            srv.proc.kill()          # SIGKILL at a random moment under load
            stop.set()
            for t in threads:
                t.join(10)
            srv.proc.wait(10)
            tk = time.monotonic()
            srv.stop()
            srv.discard_logs()   # the kill was ours
            total_acked += sum(counts)
            if os.environ.get("HP_CRASH_VERBOSE"):
                print("# cycle %d: start %.2f s, load+kill %.2f s, %d acked"
                      % (cycle, tu - ts, tk - tu, sum(counts)), flush=True)
        srv = Server(workers=3, extra_args=["--appendonly", "yes", "--dir", d]).start()
        bad = verify(srv, ledger, all_keys)
        srv.stop()
        check(not bad, "final restart: %d bad keys, e.g. %s" % (len(bad), "; ".join(bad[:3])))
        check(total_acked > CYCLES * 10, "enough acknowledged writes: %d" % total_acked)
        print("# %d cycles, %d acknowledged requests verified, %.1f s"
              % (CYCLES, total_acked, time.monotonic() - t0), flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if target() != "hotpathd":
        sys.exit(suite.skip_all("hotpathd only"))
    run_suite(suite)
