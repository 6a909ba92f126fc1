#!/usr/bin/python3
"""
test_smoke.py - a short end-to-end run meant for the sanitizer build
(tests/run_tests.sh runs it against build-asan's hotpathd as
"asan/test_smoke.py", and against the normal build like every suite):
hotpathd with 2 workers, a redis-py round trip over keys of both shards
(SET/GET, MSET/MGET/DEL across shards), garbage on a raw socket answered
with an error while the server lives on, then SHUTDOWN with exit status 0.
Each test also fails if the server's output holds an AddressSanitizer,
LeakSanitizer or UndefinedBehaviorSanitizer report.  hotpathd only.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Server, Suite, check, eq, run_suite, target  # noqa: E402

from hp_harness import shard_of as hp_shard_of  # noqa: E402
suite = Suite("smoke")
WORKERS = 2
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def shard_of(key, nshards=WORKERS):
    return hp_shard_of(key, nshards)


def keys_on_both_shards(n_each=20):
    """n_each key names per shard, found by hashing: {shard: [keys]}."""
    out = {s: [] for s in range(WORKERS)}
    i = 0
    while min(len(v) for v in out.values()) < n_each:
        k = "smoke:%d" % i
        s = shard_of(k)
        if len(out[s]) < n_each:
            out[s].append(k)
        i += 1
    return out


def sanitizer_report(srv):
    text = srv.log_tail(1 << 22)
    for mark in SANITIZER_MARKS:
        at = text.find(mark)
        if at >= 0:
            return text[max(0, at - 200):at + 1500]
    return None


def start():
    srv = Server(workers=WORKERS, extra_args=["--loglevel", "notice"])
    return srv.start()


def clean_stop(srv, how):
    """Waits for the exit after `how`; checks status 0 and no sanitizer report."""
    rc = srv.wait(30)
    if rc is None:
        srv.stop()
    report = sanitizer_report(srv)
    check(report is None, "sanitizer report in hotpathd's output: %s" % report)
    eq(rc, 0, "exit status after %s (log: %s)" % (how, srv.log_tail(800)))
    srv.stop()


@suite.test(server=False, only="hotpathd")
def test_round_trip_across_shards(_):
    srv = start()
    try:
        keys = keys_on_both_shards()
        both = keys[0][:10] + keys[1][:10]
        check(len({shard_of(k) for k in both}) == WORKERS, "keys of every shard")
        r = srv.client()
        for k in both:
            check(r.set(k, "v-" + k) is True, "SET %s" % k)
        for k in both:
            eq(r.get(k), ("v-" + k).encode(), "GET %s" % k)
        pairs = {k: "m-" + k for k in keys[0][10:] + keys[1][10:]}
        check(r.mset(pairs) is True, "MSET over both shards")
        names = list(pairs)
        eq(r.mget(names + ["smoke:missing"]), [pairs[k].encode() for k in names] + [None],
           "MGET over both shards")
        eq(r.incr("smoke:ctr"), 1, "INCR")
        eq(r.delete(*names), len(names), "DEL over both shards")
        eq(r.exists(*names), 0, "EXISTS after DEL")
        eq(r.dbsize(), len(both) + 1, "DBSIZE")
        r.close()
        with srv.conn() as c:
            c.send("SHUTDOWN")
            _, closed = c.read_until_close(timeout=20)
            check(closed, "SHUTDOWN closes the connection")
        clean_stop(srv, "SHUTDOWN")
    finally:
        srv.stop()


@suite.test(server=False, only="hotpathd")
def test_garbage_answered_server_lives(_):
    srv = start()
    try:
        with srv.conn() as c:
            # An unbalanced multibulk length: Redis' protocol error, then close.
            c.send_raw(b"*1\r\n$999999999999\r\nx\r\n")
            data, closed = c.read_until_close(timeout=10)
            check(data.startswith(b"-ERR Protocol error"), "protocol error reply: %r" % data)
            check(closed, "connection closed after the protocol error")
        with srv.conn() as c:
            c.send_raw(bytes(range(256)) * 4 + b"\r\n")
            data, _ = c.read_until_close(timeout=10)
            check(data.startswith(b"-ERR"), "error reply to binary garbage: %r" % data[:80])
        with srv.conn() as c:
            eq(c.call("SET", "after", "garbage"), b"OK", "SET after the garbage")
            eq(c.call("GET", "after"), b"garbage", "GET after the garbage")
            c.send("SHUTDOWN")
            c.read_until_close(timeout=20)
        clean_stop(srv, "SHUTDOWN after garbage")
    finally:
        srv.stop()


if __name__ == "__main__":
    if target() != "hotpathd":
        sys.exit(suite.skip_all("hotpathd only"))
    run_suite(suite)
