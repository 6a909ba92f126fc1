#!/usr/bin/python3
"""
test_diff_hash.py - hashes against a reference redis-server: the same seeded
random stream of every hash command (valid and invalid arguments, WRONGTYPE
against string keys, keys on both shards of a 2-worker hotpathd, fields
long enough and numerous enough to convert listpack -> hashtable) to both,
every raw reply compared byte for byte except:

  HGETALL/HKEYS/HVALS  exact while the reference's encoding is listpack
                       (insertion order, which hotpath's listpack keeps
                       too); as sorted multisets for a hashtable, whose
                       order Redis leaves unspecified
  HRANDFIELD           random: the reply shape (type, length) and that
                       every field returned exists with that value
  HSCAN                iterated to the end on both sides, compared as sets

Then the final state of every key, and a restart check: the same kind of
stream with the log on (--appendfsync always), kill -9, restart, every key
compared with the reference.

Environment: HOTPATH_DIFF_SEED (default random, printed), HOTPATH_DIFF_COUNT
(commands per stream, default 6000).
"""
import os
import random
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, Server, check, run_suite, parse_reply,  # noqa: E402
                        ErrorReply, log, shard_of)

SEED = int(os.environ.get("HOTPATH_DIFF_SEED", random.randrange(1 << 31)))
COUNT = int(os.environ.get("HOTPATH_DIFF_COUNT", "6000"))
MAX_MISMATCHES = 10
print("# seed %d (HOTPATH_DIFF_SEED), %d commands (HOTPATH_DIFF_COUNT)" % (SEED, COUNT),
      flush=True)

suite = Suite("diff_hash")
WORKERS = 2

KEYS = [b"h%d" % i for i in range(12)] + [b"{x}h%d" % i for i in range(4)] + [b"str1", b"str2"]
INTS = [b"0", b"1", b"-1", b"42", b"9223372036854775807", b"-9223372036854775808", b"abc",
        b"1.5", b"", b" 1", b"007", b"99999999999999999999"]
FLOATS = [b"1.5", b"-2.25", b"3e2", b"0.1", b"1e308", b"inf", b"-inf", b"nan", b"abc", b"",
          b"5.", b"1e-320", b"10"]
COUNTS = [b"0", b"1", b"2", b"5", b"-1", b"-5", b"-20", b"3", b"200", b"-200", b"abc",
          b"-9223372036854775808", b"9223372036854775807", b"4611686018427387904"]

EXACT, UNORDERED, RAND, SCAN = "exact", "unordered", "rand", "scan"


class Gen:
    def __init__(self, rng):
        self.r = rng
        # a field pool of ~700 so a key can pass 512 fields (Redis 7.0's
        # built-in hash-max-listpack-entries)
        self.fields = [b"f%d" % i for i in range(700)] + [b"", b"sp ace", b"bin\x00f", b"\xff"]

    def key(self):
        return self.r.choice(KEYS)

    def field(self):
        r = self.r.random()
        if r < 0.03:
            return b"L" * self.r.choice([64, 65, 100])   # the listpack value limit
        return self.r.choice(self.fields[:40] if r < 0.7 else self.fields)

    def value(self):
        r = self.r.random()
        if r < 0.3:
            return self.r.choice(INTS)
        if r < 0.35:
            return b"v" * self.r.choice([63, 64, 65, 200])
        return b"v%d" % self.r.randrange(1000)

    def command(self):
        r = self.r
        k = self.key()
        c = r.randrange(26)
        if c < 5:
            n = r.choice([1, 1, 2, 3, 40, 150])
            a = [b"HSET", k]
            for _ in range(n):
                a += [self.field(), self.value()]
            if r.random() < 0.03:
                a.append(b"odd")
            return a, EXACT
        if c == 5:
            a = [b"HMSET", k]
            for _ in range(r.choice([1, 2, 35])):
                a += [self.field(), self.value()]
            if r.random() < 0.05:
                a = a[:-1]
            return a, EXACT
        if c == 6:
            return [b"HSETNX", k, self.field(), self.value()], EXACT
        if c in (7, 8):
            return [b"HGET", k, self.field()], EXACT
        if c == 9:
            return [b"HDEL", k] + [self.field() for _ in range(r.choice([1, 2, 10]))], EXACT
        if c == 10:
            return [b"HEXISTS", k, self.field()], EXACT
        if c == 11:
            return [b"HLEN", k], EXACT
        if c == 12:
            return [b"HMGET", k] + [self.field() for _ in range(r.choice([1, 3]))], EXACT
        if c == 13:
            return [r.choice([b"HGETALL", b"HKEYS", b"HVALS"]), k], UNORDERED
        if c == 14:
            return [b"HSTRLEN", k, self.field()], EXACT
        if c in (15, 16):
            return [b"HINCRBY", k, self.field() if r.random() < 0.5 else b"n%d" % r.randrange(4),
                    r.choice(INTS)], EXACT
        if c == 17:
            return [b"HINCRBYFLOAT", k, self.field() if r.random() < 0.5
                    else b"n%d" % r.randrange(4), r.choice(FLOATS)], EXACT
        if c == 18:
            a = [b"HRANDFIELD", k]
            if r.random() < 0.8:
                a.append(r.choice(COUNTS))
                if r.random() < 0.5:
                    a.append(r.choice([b"WITHVALUES", b"withvalues", b"WITHVALUE"]))
                if r.random() < 0.03:
                    a.append(b"extra")
            return a, RAND
        if c == 19:
            # only cursor 0 (and spellings of it) or invalid ones: where a
            # non-zero cursor starts depends on each server's hash function
            a = [b"HSCAN", k, r.choice([b"0", b"0", b"abc", b"", b"+0", b" 0", b"-"])]
            if r.random() < 0.4:
                a += [b"MATCH", r.choice([b"f1*", b"*", b"f?", b"n*"])]
            if r.random() < 0.4:
                a += [b"COUNT", r.choice([b"1", b"5", b"100", b"0", b"x"])]
            if r.random() < 0.03:
                a.append(b"bogus")
            return a, SCAN
        if c == 20:
            return [r.choice([b"TYPE", b"EXISTS"]), k], EXACT
        if c == 21:
            return [b"HLEN", k], EXACT   # OBJECT is not served by hotpath yet
        if c == 22:
            return [b"SET", r.choice([b"str1", b"str2"]), b"x"], EXACT
        if c == 23:
            if r.random() < 0.2:
                return [b"DEL", k], EXACT
            if r.random() < 0.2:   # moves the hash, often to the other shard
                return [b"RENAME", k, self.key()], EXACT
            return [b"HELLO", r.choice([b"2", b"3"])], "hello"
        if c == 24:   # wrong arity
            return r.choice([[b"HSET", k, b"f"], [b"HGET", k], [b"HLEN"], [b"HSETNX", k, b"f"],
                             [b"HINCRBY", k, b"f"], [b"HSCAN", k], [b"HRANDFIELD"]]), EXACT
        return [b"HGET", k, b"n%d" % r.randrange(4)], EXACT


def sortkey(v):
    return repr(v)


class Diff:
    def __init__(self, tgt, ref, label):
        self.tgt, self.ref, self.label = tgt, ref, label
        self.mismatches = 0
        self.n = 0

    def mismatch(self, args, ref, tgt, why=""):
        self.mismatches += 1
        log("# MISMATCH %s #%d %s %r\n#   ref: %r\n#   tgt: %r"
            % (self.label, self.n, why, args, ref[:600] if isinstance(ref, bytes) else ref,
               tgt[:600] if isinstance(tgt, bytes) else tgt))

    def one(self, args, mode):
        self.n += 1
        if mode == SCAN:
            return self.scan(args)
        if mode == UNORDERED:
            enc = self.ref.call(b"OBJECT", b"ENCODING", args[1])
        r = self.ref.call_raw(*args)
        t = self.tgt.call_raw(*args)
        if mode == "hello":
            if r[:1] != t[:1]:
                self.mismatch(args, r, t, "HELLO reply types")
            return
        if mode == EXACT or r[:1] in (b"-", b"!") or t[:1] in (b"-", b"!"):
            if r != t:
                self.mismatch(args, r, t)
            return
        rv, tv = parse_reply(r)[0], parse_reply(t)[0]
        if mode == UNORDERED:
            if enc == b"listpack":
                if r != t:
                    self.mismatch(args, r, t, "listpack order")
                return
            # RESP3 maps parse to dicts, arrays to lists
            norm = (lambda v: sorted(v.items()) if isinstance(v, dict) else sorted(v))
            if type(rv) is not type(tv) or norm(rv) != norm(tv):
                self.mismatch(args, r, t, "as sorted multisets")
            return
        if mode == RAND:
            return self.rand(args, r, t, rv, tv)
        raise AssertionError(mode)

    def rand(self, args, r, t, rv, tv):
        if r[:1] != t[:1]:
            return self.mismatch(args, r, t, "reply types")
        if rv is None or tv is None:
            if rv != tv:
                self.mismatch(args, r, t)
            return
        h = self.ref.call(b"HGETALL", args[1])
        if isinstance(h, list):
            h = dict(zip(h[0::2], h[1::2]))
        if not isinstance(tv, list):
            if tv not in h:
                self.mismatch(args, r, t, "field not in the hash")
            return
        if len(rv) != len(tv):
            return self.mismatch(args, r, t, "lengths")
        withvalues = len(args) == 4
        items = []
        if withvalues and tv and isinstance(tv[0], list):
            items = [tuple(p) for p in tv]
            if not all(len(p) == 2 for p in tv) or not all(isinstance(p, list) for p in rv):
                return self.mismatch(args, r, t, "pair shape")
        elif withvalues:
            items = list(zip(tv[0::2], tv[1::2]))
        else:
            items = [(f, h.get(f)) for f in tv]
        for f, v in items:
            if f not in h or h[f] != v:
                return self.mismatch(args, r, t, "member %r not in the hash" % (f,))
        n = int(args[2])
        if n > 0 and len(set(f for f, _ in items)) != len(items):
            self.mismatch(args, r, t, "repeated field with a positive count")

    def scan(self, args):
        r = self.ref.call_raw(*args)
        t = self.tgt.call_raw(*args)
        if r[:1] == b"-" or t[:1] == b"-":
            if r != t:
                self.mismatch(args, r, t)
            return
        sets = []
        for conn, raw in ((self.ref, r), (self.tgt, t)):
            rep = parse_reply(raw)[0]
            pairs = set()
            for _ in range(100000):
                if not (isinstance(rep, list) and len(rep) == 2 and len(rep[1]) % 2 == 0):
                    return self.mismatch(args, r, t, "not a [cursor, pairs] reply")
                pairs.update(zip(rep[1][0::2], rep[1][1::2]))
                if rep[0] == b"0":
                    break
                rep = conn.call(*([args[0], args[1], rep[0]] + args[3:]))
            sets.append(pairs)
        if sets[0] != sets[1]:
            self.mismatch(args, sorted(sets[0])[:20], sorted(sets[1])[:20], "HSCAN sets differ")


def state(conn):
    """Every key: type and (for hashes) the field -> value dict."""
    conn.call(b"HELLO", b"2")
    out = {}
    for k in conn.call(b"KEYS", b"*"):
        t = conn.call(b"TYPE", k)
        if t == b"hash":
            h = conn.call(b"HGETALL", k)
            out[k] = (t, dict(zip(h[0::2], h[1::2])))
        else:
            out[k] = (t, conn.call(b"GET", k))
    return out


def compare_states(d, what):
    rs, ts = state(d.ref), state(d.tgt)
    if rs != ts:
        for k in sorted(set(rs) | set(ts)):
            if rs.get(k) != ts.get(k):
                d.mismatch([what, k], repr(rs.get(k))[:400], repr(ts.get(k))[:400], "state")


def stream(d, seed, count):
    gen = Gen(random.Random(seed))
    for _ in range(count):
        if d.mismatches >= MAX_MISMATCHES:
            break
        args, mode = gen.command()
        d.one(args, mode)


_ref = []


def reference():
    if not _ref or not _ref[0].alive():
        _ref[:] = [Server(kind="redis").start()]
    return _ref[0]


@suite.test(server=False, timeout=400)
def test_stream(_):
    # both shards get keys: the stream's keys must not all hash to one
    check(len({shard_of(k, WORKERS) for k in KEYS}) == WORKERS, "keys on every shard")
    srv = Server(workers=WORKERS).start()
    try:
        ref = reference()
        with srv.conn() as t, ref.conn() as r:
            check(r.call(b"FLUSHALL") == b"OK", "FLUSHALL")
            d = Diff(t, r, "stream")
            stream(d, SEED, COUNT)
            compare_states(d, b"final")
            check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
    finally:
        srv.stop()


@suite.test(server=False)
def test_edge_cases(_):
    srv = Server(workers=WORKERS).start()
    try:
        ref = reference()
        with srv.conn() as t, ref.conn() as r:
            check(r.call(b"FLUSHALL") == b"OK", "FLUSHALL")
            d = Diff(t, r, "edge")
            wide = [b"HSET", b"wide"]
            for i in range(600):            # > 64 arguments, > 512 fields
                wide += [b"w%d" % i, b"%d" % i]
            cases = [
                wide, [b"HLEN", b"wide"], [b"HSET", b"lp", b"a", b"1", b"b", b"2"],
                [b"HSET", b"lp", b"c", b"x" * 65], [b"HSET", b"lp2", b"x" * 64, b"y" * 64],
                [b"HINCRBYFLOAT", b"f", b"a", b"10.5"], [b"HINCRBYFLOAT", b"f", b"a", b"0.1"],
                [b"HINCRBYFLOAT", b"f", b"a", b"1e400"], [b"HINCRBYFLOAT", b"f", b"a", b"inf"],
                [b"HINCRBY", b"i", b"a", b"9223372036854775807"], [b"HINCRBY", b"i", b"a", b"1"],
                [b"HINCRBY", b"f", b"a", b"1"], [b"HINCRBYFLOAT", b"i2", b"a", b"nan"],
                [b"EXISTS", b"i2"], [b"HDEL", b"lp", b"a", b"b", b"c"], [b"EXISTS", b"lp"],
                [b"HRANDFIELD", b"nokey"], [b"HRANDFIELD", b"nokey", b"5"],
                [b"HRANDFIELD", b"wide", b"0"], [b"HRANDFIELD", b"wide", b"-9223372036854775808"],
                [b"HRANDFIELD", b"wide", b"-4611686018427387904", b"withvalues"],
                [b"HSCAN", b"nokey", b"0"], [b"HSCAN", b"wide", b"0", b"COUNT", b"0"],
                [b"HSCAN", b"wide", b"abc"], [b"HSCAN", b"wide", b"0", b"MATCH"],
                [b"TYPE", b"wide"], [b"HGETALL", b"nokey"], [b"HMGET", b"nokey", b"a"],
            ]
            for proto in (b"2", b"3"):
                t.call(b"HELLO", proto)
                r.call(b"HELLO", proto)
                for a in cases:
                    d.one(a, RAND if a[0] == b"HRANDFIELD" else EXACT)
                for n in (b"3", b"-3", b"300"):
                    d.one([b"HRANDFIELD", b"wide", n, b"WITHVALUES"], RAND)
                d.one([b"HGETALL", b"wide"], UNORDERED)
                d.one([b"HSCAN", b"wide", b"0", b"COUNT", b"7"], SCAN)
            compare_states(d, b"final")
            check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
    finally:
        srv.stop()


@suite.test(server=False, timeout=400)
def test_restart_with_log(_):
    """Operation records (HSET/HDEL as received, wide ones split, HINCRBYFLOAT
    as HSET of the result) and state records survive kill -9."""
    dirp = tempfile.mkdtemp(prefix="hp-hash-aof-")
    args = ["--appendonly", "yes", "--appendfsync", "always", "--dir", dirp]
    try:
        srv = Server(workers=WORKERS, extra_args=args).start()
        ref = reference()
        with srv.conn() as t, ref.conn() as r:
            check(r.call(b"FLUSHALL") == b"OK", "FLUSHALL")
            d = Diff(t, r, "log")
            stream(d, SEED + 1, COUNT // 2)
            wide = [b"HSET", b"{x}wide"]
            for i in range(150):
                wide += [b"w%d" % i, b"%d" % i]
            d.one(wide, EXACT)
            d.one([b"HDEL", b"{x}wide"] + [b"w%d" % i for i in range(100)], EXACT)
            d.one([b"HINCRBYFLOAT", b"{x}wide", b"w120", b"0.1"], EXACT)
            d.one([b"RENAME", b"{x}wide", b"{x}wide2"], EXACT)
            compare_states(d, b"before restart")
        srv.proc.kill()
        srv.proc.wait(10)
        srv.stop()
        srv.discard_logs()
        srv = Server(workers=WORKERS, extra_args=args).start()
        with srv.conn() as t, ref.conn() as r:
            d = Diff(t, r, "after restart")
            compare_states(d, b"after restart")
            check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
        srv.stop()
    finally:
        shutil.rmtree(dirp, ignore_errors=True)


if __name__ == "__main__":
    run_suite(suite)
