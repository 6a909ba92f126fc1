#!/usr/bin/python3
"""test_pipeline.py - deep pipelines on raw sockets: order, splitting, concurrency, cross-shard."""
import os
import random
import selectors
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, check, eq, encode, parse_reply, run_suite,  # noqa: E402
                        Incomplete, IO_TIMEOUT_S)

suite = Suite("pipeline")
SEED = int(os.environ.get("HOTPATH_PIPE_SEED", random.randrange(1 << 30)))
print("# seed %d (HOTPATH_PIPE_SEED)" % SEED, flush=True)


# ---------------------------------------------------------------------------
# expected replies (RESP2)

def r_status(s):
    return b"+%s\r\n" % s


def r_int(n):
    return b":%d\r\n" % n


def r_bulk(v):
    return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)


def r_array(items):
    return b"*%d\r\n" % len(items) + b"".join(items)


class Model:
    """What the server should hold, to predict each reply."""

    def __init__(self, rng, nkeys=500):
        self.rng = rng
        self.d = {}
        self.keys = [b"p:%d" % i for i in range(nkeys)] + [b"{tag}p:%d" % i for i in range(20)]
        self.counters = [b"c:%d" % i for i in range(100)]

    def value(self):
        kind = self.rng.random()
        if kind < 0.1:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 20)))
        if kind < 0.15:
            return b""
        return b"v%d" % self.rng.randrange(10 ** 6)

    def step(self, inline_ok=False):
        """One random command: (request bytes, expected reply bytes)."""
        rng, d = self.rng, self.d
        k = rng.choice(self.keys)
        op = rng.randrange(13)
        if op == 0 or op == 1:
            v = self.value()
            d[k] = v
            return encode(b"SET", k, v), r_status(b"OK")
        if op == 2 or op == 3:
            if inline_ok and rng.random() < 0.5:
                return b"GET " + k + b"\r\n", r_bulk(d.get(k))
            return encode(b"GET", k), r_bulk(d.get(k))
        if op == 4:
            c = rng.choice(self.counters)
            n = int(d.get(c, b"0")) + 1
            d[c] = b"%d" % n
            if inline_ok and rng.random() < 0.5:
                return b"INCR " + c + b"\r\n", r_int(n)
            return encode(b"INCR", c), r_int(n)
        if op == 5:
            ks = [k, rng.choice(self.keys), rng.choice(self.counters)]
            n = 0
            for x in ks:
                if x in d:
                    del d[x]
                    n += 1
            return encode(b"DEL", *ks), r_int(n)
        if op == 6:
            ks = [k, rng.choice(self.keys), k]
            return encode(b"EXISTS", *ks), r_int(sum(1 for x in ks if x in d))
        if op == 7:
            v = self.value()
            d[k] = d.get(k, b"") + v
            return encode(b"APPEND", k, v), r_int(len(d[k]))
        if op == 8:
            return encode(b"STRLEN", k), r_int(len(d.get(k, b"")))
        if op == 9:
            ks = [k, rng.choice(self.keys), rng.choice(self.counters), b"missing"]
            return encode(b"MGET", *ks), r_array([r_bulk(d.get(x)) for x in ks])
        if op == 10:
            k2 = rng.choice(self.keys)
            v1, v2 = self.value(), self.value()
            d[k] = v1
            d[k2] = v2
            return encode(b"MSET", k, v1, k2, v2), r_status(b"OK")
        if op == 11:
            if inline_ok and rng.random() < 0.5:
                return b"PING\r\n", r_status(b"PONG")
            return encode(b"PING"), r_status(b"PONG")
        v = self.value()
        return encode(b"ECHO", v), r_bulk(v)


def read_replies(sock, n, deadline):
    """Read exactly n replies; returns list of raw reply bytes (may be short on timeout/EOF)."""
    buf = bytearray()
    pos = 0
    out = []
    while len(out) < n:
        try:
            _, nxt = parse_reply(buf, pos)
            out.append(bytes(buf[pos:nxt]))
            pos = nxt
            continue
        except Incomplete:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(min(left, IO_TIMEOUT_S))
        try:
            chunk = sock.recv(1 << 18)
        except socket.timeout:
            break
        if not chunk:
            break
        if pos > (1 << 20):
            del buf[:pos]
            pos = 0
        buf += chunk
    return out


def compare(got, expected, reqs):
    check(len(got) == len(expected),
          "got %d replies, expected %d" % (len(got), len(expected)))
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            raise AssertionError("reply %d to %r: expected %r, got %r"
                                 % (i, reqs[i][:120], e[:200], g[:200]))


def connect(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def run_pipeline(srv, reqs, expected, chunker=None, timeout=60):
    """Send reqs from a writer thread (whole or chunked) while reading replies here."""
    s = connect(srv)
    err = []

    def writer():
        try:
            data = b"".join(reqs)
            if chunker is None:
                s.sendall(data)  # the whole pipeline in one write
            else:
                chunker(s, data)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=writer, daemon=True)
    try:
        t.start()
        got = read_replies(s, len(reqs), time.monotonic() + timeout)
        t.join(timeout)
        check(not err, "writer failed: %r" % err)
        compare(got, expected, reqs)
    finally:
        s.close()


@suite.test
def test_pipeline_10k_one_write(srv):
    rng = random.Random(SEED)
    m = Model(rng)
    pairs = [m.step() for _ in range(10000)]
    run_pipeline(srv, [p[0] for p in pairs], [p[1] for p in pairs])
    # And the final state, read back with a fresh connection.
    with srv.conn() as c:
        ks = sorted(m.keys + m.counters)
        eq(c.call(b"MGET", *ks), [m.d.get(k) for k in ks], "state after the pipeline")


@suite.test
def test_pipeline_send_all_then_read(srv):
    # redis-py style: every request written before any reply is read.
    r = srv.client()
    p = r.pipeline(transaction=False)
    for i in range(10000):
        p.set("rp:%d" % i, "x" * (i % 50))
        p.get("rp:%d" % i)
    res = p.execute()
    eq(len(res), 20000, "reply count")
    for i in range(10000):
        eq(res[2 * i], True, "SET %d" % i)
        eq(res[2 * i + 1], b"x" * (i % 50), "GET %d" % i)


def tiny_chunks(rng):
    def chunker(s, data):
        pos, sent = 0, 0
        while pos < len(data):
            n = rng.choice((1, 1, 2, 3, 5, 7, 13, 64))
            s.sendall(data[pos:pos + n])
            pos += n
            sent += 1
            if sent % 150 == 0:
                time.sleep(0.001)  # let the server see partial requests
    return chunker


@suite.test
def test_pipeline_random_byte_boundaries(srv):
    rng = random.Random(SEED + 1)
    m = Model(rng, nkeys=200)
    pairs = [m.step(inline_ok=True) for _ in range(3000)]
    run_pipeline(srv, [p[0] for p in pairs], [p[1] for p in pairs], chunker=tiny_chunks(rng))


@suite.test
def test_partial_request_waits(srv):
    s = connect(srv)
    try:
        first = encode("SET", "partial", "a\r\nb")
        req = first + encode("GET", "partial")
        for cut in (1, 5, 12, len(first) - 1, len(first) + 3, len(req) - 1):
            s.sendall(req[:cut])
            # Only complete requests may be answered: wait for the answer to
            # the complete one (if any), then make sure nothing else comes.
            want_early = b"+OK\r\n" if cut > len(first) else b""
            early = b""
            s.settimeout(10)
            while len(early) < len(want_early):
                chunk = s.recv(100)
                if not chunk:
                    break
                early += chunk
            s.settimeout(0.2)
            try:
                while len(early) < 100:
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    early += chunk
            except socket.timeout:
                pass
            eq(early, want_early, "replies while the request is cut at byte %d" % cut)
            s.sendall(req[cut:])
            want = [b"$4\r\na\r\nb\r\n"] if early else [b"+OK\r\n", b"$4\r\na\r\nb\r\n"]
            got = read_replies(s, len(want), time.monotonic() + 10)
            eq(got, want, "replies after completing (cut %d)" % cut)
    finally:
        s.close()


@suite.test
def test_cross_shard_order(srv):
    # Multi-key commands interleaved with single-key writes to the same keys:
    # every reply must reflect exactly the commands before it.
    rng = random.Random(SEED + 2)
    keys = [b"x:%d" % i for i in range(300)]
    d = {}
    reqs, exp = [], []
    for step in range(3000):
        op = rng.randrange(4)
        if op == 0:
            k = rng.choice(keys)
            v = b"s%d" % step
            d[k] = v
            reqs.append(encode(b"SET", k, v))
            exp.append(r_status(b"OK"))
        elif op == 1:
            ks = rng.sample(keys, rng.randrange(2, 40))
            args = []
            for k in ks:
                v = b"m%d" % step
                d[k] = v
                args += [k, v]
            reqs.append(encode(b"MSET", *args))
            exp.append(r_status(b"OK"))
        elif op == 2:
            ks = rng.sample(keys, rng.randrange(1, 40))
            reqs.append(encode(b"MGET", *ks))
            exp.append(r_array([r_bulk(d.get(k)) for k in ks]))
        else:
            ks = rng.sample(keys, rng.randrange(1, 5))
            n = sum(1 for k in ks if d.pop(k, None) is not None)
            reqs.append(encode(b"DEL", *ks))
            exp.append(r_int(n))
    run_pipeline(srv, reqs, exp)


@suite.test
def test_mset_mget_all_shards(srv):
    with srv.conn() as c:
        pairs = []
        for i in range(1000):
            pairs += [b"big:%d" % i, b"val%d" % i]
        eq(c.call(b"MSET", *pairs), b"OK", "MSET 1000 keys")
        ks = [b"big:%d" % i for i in range(1000)]
        eq(c.call(b"MGET", *ks), [b"val%d" % i for i in range(1000)], "MGET 1000 keys")
        eq(c.call(b"MSETNX", b"big:999", b"x", b"fresh:1", b"y"), 0, "MSETNX blocked")
        eq(c.call(b"EXISTS", b"fresh:1"), 0, "MSETNX wrote nothing")
        eq(c.call(b"DEL", *ks[:500]), 500, "DEL across shards")
        eq(c.call(b"EXISTS", *ks), 500, "EXISTS across shards")
        eq(c.call(b"DBSIZE"), 500, "DBSIZE")


@suite.test
def test_concurrent_deep_pipelines(srv):
    nconn, depth = 20, 2000
    sel = selectors.DefaultSelector()
    states = []
    rng = random.Random(SEED + 3)
    for ci in range(nconn):
        reqs, exp = [], []
        for i in range(depth):
            op = i % 4
            if op == 0:
                reqs.append(encode(b"INCR", b"seq:%d" % ci))
                exp.append(r_int(i // 4 + 1))
            elif op == 1:
                reqs.append(encode(b"SET", b"c%d:%d" % (ci, i % 97), b"%d" % i))
                exp.append(r_status(b"OK"))
            elif op == 2:
                reqs.append(encode(b"GET", b"c%d:%d" % (ci, (i - 1) % 97)))
                exp.append(r_bulk(b"%d" % (i - 1)))
            else:
                reqs.append(encode(b"INCR", b"shared:%d" % rng.randrange(8)))
                exp.append(None)  # value depends on interleaving; checked in total
        s = connect(srv)
        s.setblocking(False)
        st = {"i": ci, "sock": s, "out": b"".join(reqs), "sent": 0, "buf": bytearray(),
              "pos": 0, "got": [], "exp": exp, "reqs": reqs}
        states.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    deadline = time.monotonic() + 90
    pending = nconn
    try:
        while pending and time.monotonic() < deadline:
            for key, ev in sel.select(timeout=1.0):
                st = key.data
                s = st["sock"]
                if ev & selectors.EVENT_WRITE and st["sent"] < len(st["out"]):
                    try:
                        st["sent"] += s.send(st["out"][st["sent"]:st["sent"] + 65536])
                    except BlockingIOError:
                        pass
                    if st["sent"] == len(st["out"]):
                        sel.modify(s, selectors.EVENT_READ, st)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(1 << 17)
                    except BlockingIOError:
                        continue
                    check(chunk, "connection %d closed after %d replies"
                          % (st["i"], len(st["got"])))
                    st["buf"] += chunk
                    while True:
                        try:
                            _, nxt = parse_reply(st["buf"], st["pos"])
                        except Incomplete:
                            break
                        st["got"].append(bytes(st["buf"][st["pos"]:nxt]))
                        st["pos"] = nxt
                    if len(st["got"]) >= depth:
                        sel.unregister(s)
                        pending -= 1
        check(pending == 0, "%d connections did not get all replies in time (%s)" % (
            pending, [len(st["got"]) for st in states]))
        shared_total = 0
        for st in states:
            eq(len(st["got"]), depth, "replies on connection %d" % st["i"])
            for j, (g, e) in enumerate(zip(st["got"], st["exp"])):
                if e is None:
                    check(g.startswith(b":"), "INCR shared reply %r" % g)
                    shared_total += 1
                elif g != e:
                    raise AssertionError("connection %d reply %d to %r: expected %r, got %r"
                                         % (st["i"], j, st["reqs"][j], e, g))
        with srv.conn() as c:
            vals = c.call(*[b"MGET"] + [b"shared:%d" % i for i in range(8)])
            eq(sum(int(v or 0) for v in vals), shared_total, "shared counters total")
            eq(c.call(b"GET", b"seq:7"), b"%d" % (depth // 4), "per-connection sequence")
    finally:
        for st in states:
            st["sock"].close()
        sel.close()


@suite.test
def test_large_values_pipelined(srv):
    rng = random.Random(SEED + 4)
    big = bytes(rng.randrange(256) for _ in range(1 << 16)) * 128  # 8 MiB
    reqs = [encode(b"SET", b"huge", big), encode(b"STRLEN", b"huge"), encode(b"GET", b"huge")]
    exp = [r_status(b"OK"), r_int(len(big)), r_bulk(big)]
    for i in range(100):
        v = os.urandom(65536 + i)
        reqs += [encode(b"SET", b"mid:%d" % i, v), encode(b"GET", b"mid:%d" % i)]
        exp += [r_status(b"OK"), r_bulk(v)]
    run_pipeline(srv, reqs, exp, timeout=120)


def run_threads(fns, timeout=60):
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:
            errors.append("%s: %r" % (fn.__name__, e))
    ts = [threading.Thread(target=wrap, args=(f,), daemon=True) for f in fns]
    for t in ts:
        t.start()
    deadline = time.monotonic() + timeout
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic()))
    check(not any(t.is_alive() for t in ts), "threads still running after %d s" % timeout)
    check(not errors, "; ".join(errors[:5]))


@suite.test
def test_multi_key_atomicity(srv):
    # Redis runs each command alone, so an MGET never sees half an MSET and
    # EXISTS a b never sees a key twice or not at all during RENAMEs.
    keys = [b"at:%d" % i for i in range(8)]  # spread over the shards
    rounds = 300
    until = time.monotonic() + 20
    stop = threading.Event()
    torn = []
    with srv.conn() as c:
        eq(c.call(b"MSET", *[x for k in keys for x in (k, b"init")]), b"OK")
        eq(c.call(b"SET", b"ra", b"token"), b"OK")

    def writer(wid):
        def fn():
            with srv.conn() as c:
                for r in range(rounds):
                    if time.monotonic() > until and r >= 20:
                        break  # bounded time on slow machines; 20 rounds at least
                    v = b"w%d:%d" % (wid, r)
                    for _ in range(5):
                        c.send(b"MSET", *[x for k in keys for x in (k, v)])
                    check(c.read_n(5) == [b"OK"] * 5, "MSET replies")
        fn.__name__ = "writer%d" % wid
        return fn

    def reader(rid):
        def fn():
            with srv.conn() as c:
                while not stop.is_set():
                    for _ in range(10):
                        c.send(b"MGET", *keys)
                    for vals in c.read_n(10):
                        if len(set(vals)) != 1:
                            torn.append(vals)
        fn.__name__ = "reader%d" % rid
        return fn

    def renamer():
        with srv.conn() as c:
            for i in range(rounds * 2):
                if time.monotonic() > until and i >= 40:
                    break
                a, b = (b"ra", b"rb") if i % 2 == 0 else (b"rb", b"ra")
                r = c.call(b"RENAME", a, b)
                check(r == b"OK" or r == b"ERR no such key", "RENAME reply %r" % r)

    def exists_checker():
        with srv.conn() as c:
            while not stop.is_set():
                for _ in range(10):
                    c.send(b"EXISTS", b"ra", b"rb")
                for n in c.read_n(10):
                    if n != 1:
                        torn.append(("EXISTS ra rb", n))

    writers = [writer(i) for i in range(3)] + [renamer]
    watchers = [reader(i) for i in range(3)] + [exists_checker]
    wt = [threading.Thread(target=f, daemon=True) for f in watchers]
    for t in wt:
        t.start()
    try:
        run_threads(writers, timeout=90)
    finally:
        stop.set()
        for t in wt:
            t.join(15)
    check(not torn, "%d non-atomic observations, e.g. %r" % (len(torn), torn[:3]))
    with srv.conn() as c:
        vals = c.call(b"MGET", *keys)
        eq(len(set(vals)), 1, "final values all from one MSET")
        eq(c.call(b"EXISTS", b"ra", b"rb"), 1, "exactly one of ra/rb")


@suite.test
def test_msetnx_contention(srv):
    rounds, nconn = 60, 6
    wins = [[] for _ in range(nconn)]

    def contender(ci):
        def fn():
            with srv.conn() as c:
                for r in range(rounds):
                    args = []
                    for j in range(4):
                        args += [b"nx:%d:%d" % (r, j), b"c%d" % ci]
                    rep = c.call(b"MSETNX", *args)
                    check(rep in (0, 1), "MSETNX reply %r" % rep)
                    if rep == 1:
                        wins[ci].append(r)
        fn.__name__ = "contender%d" % ci
        return fn

    run_threads([contender(i) for i in range(nconn)], timeout=60)
    winners = {}
    for ci, rs in enumerate(wins):
        for r in rs:
            check(r not in winners, "round %d won twice (%s and %s)" % (r, winners.get(r), ci))
            winners[r] = ci
    eq(sorted(winners), list(range(rounds)), "every round has exactly one winner")
    with srv.conn() as c:
        for r in range(rounds):
            vals = c.call(b"MGET", *[b"nx:%d:%d" % (r, j) for j in range(4)])
            eq(vals, [b"c%d" % winners[r]] * 4, "round %d keys all from the winner" % r)


@suite.test
def test_huge_multi_key_commands(srv):
    # One command touching 50,000 keys on every shard; 1 MiB keys and values.
    n = 50000
    keys = [b"huge:%d" % i for i in range(n)]
    with srv.conn(timeout=60) as c:
        eq(c.call(b"MSET", *[x for k in keys for x in (k, b"v" + k)]), b"OK", "MSET 50k keys")
        eq(c.call(b"MGET", *keys), [b"v" + k for k in keys], "MGET 50k keys")
        eq(c.call(b"EXISTS", *keys), n, "EXISTS 50k keys")
        eq(c.call(b"DEL", *keys[::2]), n // 2, "DEL 25k keys")
        eq(c.call(b"DBSIZE"), n // 2, "DBSIZE")
        bigkey = b"K" * (1 << 20)
        eq(c.call(b"SET", bigkey, b"v"), b"OK", "1 MiB key")
        eq(c.call(b"RENAME", bigkey, b"small"), b"OK", "RENAME a 1 MiB key")
        eq(c.call(b"GET", b"small"), b"v")
        vals = [os.urandom(1 << 20) for _ in range(8)]
        eq(c.call(b"MSET", *[x for i in range(8) for x in (b"bv:%d" % i, vals[i])]), b"OK")
        eq(c.call(b"MGET", *[b"bv:%d" % i for i in range(8)]), vals, "8 x 1 MiB MGET")


@suite.test(only="hotpathd", server=False)
def test_epoll_backend(_):
    # The same pipelines through the epoll fallback backend.
    from hp_harness import Server
    srv = Server(extra_args=["--io-backend", "epoll"]).start()
    try:
        for fn in (test_pipeline_10k_one_write, test_pipeline_random_byte_boundaries,
                   test_cross_shard_order, test_concurrent_deep_pipelines,
                   test_large_values_pipelined, test_multi_key_atomicity):
            with srv.conn() as c:
                eq(c.call("FLUSHALL"), b"OK")
            fn(srv)
            check(srv.alive(), "epoll server alive after %s" % fn.__name__)
    finally:
        rc, killed = srv.stop()
    check(not killed and rc == 0, "epoll server exit status %r (killed: %s)" % (rc, killed))


if __name__ == "__main__":
    run_suite(suite)
