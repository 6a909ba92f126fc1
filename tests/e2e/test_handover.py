#!/usr/bin/python3
"""test_handover.py - several hand-over ops and broadcasts in flight per worker.

Pipelines of multi-shard commands (DBSIZE, cross-shard MSET/MGET/DEL) and of
broadcasts (INFO) from several clients against 2 workers: every reply is
right and in request order, and INFO's *_in_flight_peak shows that more
than one op was in flight at once (a pipeline did not serialise)."""
import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, check, eq, encode, info_fields, run_suite,  # noqa: E402
                        Server)

from hp_harness import shard_of as hp_shard_of  # noqa: E402
suite = Suite("handover")
WORKERS = 2
DEPTH = 200      # commands per pipeline
CLIENTS = 4


def shard_of(key, nshards=WORKERS):
    return hp_shard_of(key, nshards)


def cross_pair(prefix, i):
    """Two keys on different shards."""
    a = b"%s:a:%d" % (prefix, i)
    j = 0
    while True:
        b = b"%s:b:%d:%d" % (prefix, i, j)
        if shard_of(b) != shard_of(a):
            return a, b
        j += 1


def peaks(srv):
    with srv.conn() as c:
        f = info_fields(c.call(b"INFO", b"stats"))
    check("xops_in_flight_peak" in f, "INFO stats has xops_in_flight_peak")
    check("broadcasts_in_flight_peak" in f, "INFO stats has broadcasts_in_flight_peak")
    return int(f["xops_in_flight_peak"]), int(f["broadcasts_in_flight_peak"])


def in_threads(fn, n=CLIENTS):
    errors = []

    def run(i):
        try:
            fn(i)
        except BaseException as e:  # reported by the main thread
            errors.append("client %d: %r" % (i, e))

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    check(not any(t.is_alive() for t in ts), "clients finished")
    check(not errors, "; ".join(errors))


def with_server(fn):
    """Run fn(srv) against a fresh 2-worker server."""
    srv = Server(workers=WORKERS).start()
    try:
        fn(srv)
        check(srv.alive(), "server alive")
    finally:
        rc, killed = srv.stop()
    check(not killed and rc == 0, "exit status %r (killed: %s)" % (rc, killed))


@suite.test(only="hotpathd", server=False)
def test_dbsize_pipeline(_):
    def body(srv):
        with srv.conn() as c:
            keys = [b"d:%d" % i for i in range(100)]
            check(len({shard_of(k) for k in keys}) == WORKERS, "keys on both shards")
            eq(c.call(b"MSET", *[x for k in keys for x in (k, b"v")]), b"OK")
        eq(peaks(srv)[0], 1, "one MSET: peak 1 before the pipelines")

        def client(i):
            with srv.conn() as c:
                c.send_raw(encode(b"DBSIZE") * DEPTH)
                eq(c.read_n(DEPTH), [100] * DEPTH, "pipelined DBSIZE")
        in_threads(client)
        xp, _ = peaks(srv)
        check(xp > 1, "xops_in_flight_peak %d > 1 after pipelined DBSIZE" % xp)
        check(xp <= 16, "xops_in_flight_peak %d within XOP_MAX" % xp)
    with_server(body)


@suite.test(only="hotpathd", server=False)
def test_cross_shard_mset_mget_pipeline(_):
    def body(srv):
        def client(i):
            pairs = [cross_pair(b"m%d" % i, n) for n in range(DEPTH // 4)]
            req = bytearray()
            want = []
            for n, (a, b) in enumerate(pairs):
                v = b"v%d:%d" % (i, n)
                # Each MGET must see the MSET just before it, the GET (a
                # single-shard command behind an op) too, and DEL both.
                req += encode(b"MSET", a, v, b, v)
                want.append(b"OK")
                req += encode(b"MGET", a, b)
                want.append([v, v])
                req += encode(b"GET", b)
                want.append(v)
                if n % 2:
                    req += encode(b"DEL", a, b)
                    want.append(2)
                else:
                    req += encode(b"EXISTS", a, b, b)
                    want.append(3)
            with srv.conn() as c:
                c.send_raw(bytes(req))
                eq(c.read_n(len(want)), want, "pipelined cross-shard MSET/MGET/GET/DEL")
                # Only the even pairs were kept.
                got = c.call(b"MGET", *[k for a, b in pairs for k in (a, b)])
                exp = []
                for n in range(len(pairs)):
                    v = None if n % 2 else b"v%d:%d" % (i, n)
                    exp += [v, v]
                eq(got, exp, "final state")
        in_threads(client)
        with srv.conn() as c:
            eq(c.call(b"DBSIZE"), CLIENTS * (DEPTH // 4 // 2) * 2, "DBSIZE afterwards")
        xp, _ = peaks(srv)
        check(xp > 1, "xops_in_flight_peak %d > 1 after pipelined MSET/MGET" % xp)
    with_server(body)


@suite.test(only="hotpathd", server=False)
def test_more_ops_than_slots(_):
    # A single client's pipeline far deeper than XOP_MAX ops: the extra ones
    # wait through the loop (its connection stalls), none is lost or reordered.
    def body(srv):
        with srv.conn() as c:
            req = bytearray()
            want = []
            for n in range(1000):
                a, b = cross_pair(b"s", n % 50)
                req += encode(b"MSET", a, b"%d" % n, b, b"%d" % n)
                req += encode(b"MGET", a, b)
                want += [b"OK", [b"%d" % n] * 2]
            req += encode(b"DBSIZE")
            want.append(100)
            c.send_raw(bytes(req))
            eq(c.read_n(len(want)), want, "2001 pipelined replies")
        xp, _ = peaks(srv)
        check(xp == 16, "xops_in_flight_peak %d reached XOP_MAX (16)" % xp)
    with_server(body)


@suite.test(only="hotpathd", server=False)
def test_broadcast_pipeline(_):
    def body(srv):
        def client(i):
            with srv.conn() as c:
                c.send_raw(encode(b"CLIENT", b"SETNAME", b"c%d" % i) +
                           (encode(b"INFO", b"clients") + encode(b"PING")) * (DEPTH // 2))
                eq(c.read(), b"OK", "SETNAME")
                for n in range(DEPTH // 2):
                    r = c.read()
                    check(isinstance(r, bytes) and b"connected_clients:" in r,
                          "INFO %d is an INFO reply: %r" % (n, r[:60]))
                    eq(c.read(), b"PONG", "PING after INFO %d" % n)
        in_threads(client)
        _, bp = peaks(srv)
        check(bp > 1, "broadcasts_in_flight_peak %d > 1 after pipelined INFO" % bp)
        check(bp <= 16, "broadcasts_in_flight_peak %d within BCAST_MAX" % bp)
    with_server(body)


if __name__ == "__main__":
    run_suite(suite)
