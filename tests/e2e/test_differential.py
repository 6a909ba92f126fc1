#!/usr/bin/python3
"""
test_differential.py - the same seeded random command stream to the target
(hotpathd, or a second redis-server when HOTPATH_E2E_TARGET=redis) and to a
reference redis-server; every raw reply is compared byte for byte, except
where replies legitimately differ:

  KEYS / SCAN          order (compared as sorted sets; SCAN fully iterated)
  RANDOMKEY            which key (each side's key must exist on the other)
  TTL/PTTL/EXPIRETIME  a small tolerance (the two servers run a moment apart)
  INFO/CLIENT ID/COMMAND COUNT/TIME/HELLO   only the reply type

Expiry timing never races: relative TTLs are >= 100 s, absolute times sit in
gaps no relative TTL can reach within the run, and GT/LT compare only
absolute times; expiry in the past deletes at once on both sides.

Environment: HOTPATH_DIFF_SEED (default random, printed), HOTPATH_DIFF_COUNT
(commands per stream, default 20000), HOTPATH_DIFF_SECONDS (time budget per
stream, default 100).
"""
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, Server, check, run_suite, parse_reply,  # noqa: E402
                        encode, ErrorReply, ConnectionClosed, log)

SEED = int(os.environ.get("HOTPATH_DIFF_SEED", random.randrange(1 << 31)))
COUNT = int(os.environ.get("HOTPATH_DIFF_COUNT", "20000"))
SECONDS = float(os.environ.get("HOTPATH_DIFF_SECONDS", "100"))
MAX_MISMATCHES = 10
print("# seed %d (HOTPATH_DIFF_SEED), %d commands per stream (HOTPATH_DIFF_COUNT)"
      % (SEED, COUNT), flush=True)

suite = Suite("differential")

# ---------------------------------------------------------------------------
# the random command stream

KEYS = ([b"k%d" % i for i in range(100)] + [b"{t}%d" % i for i in range(40)]
        + [b"{u}x%d" % i for i in range(20)] + [b"bin\x00%d" % i for i in range(10)]
        + [b"\xff\xfe%d" % i for i in range(10)] + [b"sp ace%d" % i for i in range(10)]
        + [b"nl\r\n%d" % i for i in range(10)])

PATTERNS = [b"*", b"k*", b"k1*", b"k?", b"k?5", b"k[1-3]*", b"k[^1]?", b"{t}*", b"\\{t\\}1*",
            b"*\x00*", b"bin*", b"nomatch", b"k[", b"*[", b"[]", b"*?*", b"sp ace*", b"\xff*",
            b"k\\", b"*1", b"{u}x[0-9]", b"nl\r\n*", b"?", b"k[a-]*", b"K*"]

INTS = [b"0", b"1", b"-1", b"42", b"-100", b"9223372036854775807", b"-9223372036854775808",
        b"9223372036854775806", b"-9223372036854775807", b"18446744073709551616", b"007",
        b"+5", b" 3", b"3 ", b"-0", b"1e3", b"", b"12345678901234567890"]
FLOATS = [b"1.5", b"-2.25", b"3e2", b"0.1", b"1e308", b"-1e308", b"inf", b"-inf", b"nan",
          b".5", b"5.", b" 1", b"1 ", b"1e", b"0x10", b"1.0000000000000001", b"-0.0",
          b"2.5e-3", b"abc", b"", b"infinity", b"1e-320"]
INCRS = [b"1", b"-1", b"7", b"-100", b"1000000", b"9223372036854775807",
         b"-9223372036854775808", b"-9223372036854775807", b"abc", b"1.5", b"", b"0",
         b"99999999999999999999", b" 1"]

REL_S = [100, 1000, 10000, 100000]            # relative TTLs (s)
ABS_OFF = [50, 500, 5000, 50000, 500000]      # absolute times: base + these (s)
BAD_TIMES = [b"0", b"-1", b"abc", b"1.5", b"", b"9223372036854775807",
             b"-9223372036854775808", b"9223372036854775806"]

ARITY = {b"GET": 2, b"SET": -3, b"SETNX": 3, b"SETEX": 4, b"PSETEX": 4, b"GETSET": 3,
         b"GETDEL": 2, b"GETEX": -2, b"MGET": -2, b"MSET": -3, b"MSETNX": -3, b"APPEND": 3,
         b"STRLEN": 2, b"GETRANGE": 4, b"SETRANGE": 4, b"INCR": 2, b"DECR": 2, b"INCRBY": 3,
         b"DECRBY": 3, b"INCRBYFLOAT": 3, b"DEL": -2, b"UNLINK": -2, b"EXISTS": -2,
         b"TOUCH": -2, b"TYPE": 2, b"RENAME": 3, b"RENAMENX": 3, b"KEYS": 2, b"SCAN": -2,
         b"RANDOMKEY": 1, b"DBSIZE": 1, b"EXPIRE": -3, b"PEXPIRE": -3, b"EXPIREAT": -3,
         b"PEXPIREAT": -3, b"TTL": 2, b"PTTL": 2, b"EXPIRETIME": 2, b"PEXPIRETIME": 2,
         b"PERSIST": 2, b"ECHO": 2, b"SELECT": 2}

# Compare modes.
EXACT, SORTED, TYPE_ONLY, RANDOMKEY, SCAN = "exact", "sorted", "type", "randomkey", "scan"


def tol(n):
    return ("tol", n)


class Gen:
    def __init__(self, rng, base):
        self.rng = rng
        self.base = base  # unix seconds at the start of the stream
        self.past = False  # the command being built sets an expiry in the past
        self.pending = []  # commands that must follow the last one

    def key(self):
        return self.rng.choice(KEYS)

    def keys(self, lo, hi):
        return [self.key() for _ in range(self.rng.randint(lo, hi))]

    def value(self):
        rng = self.rng
        c = rng.random()
        if c < 0.3:
            return rng.choice(INTS)
        if c < 0.45:
            return rng.choice(FLOATS)
        if c < 0.55:
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))
        if c < 0.57:
            return b"L" * rng.choice((100, 1000, 5000))
        return rng.choice((b"hello", b"world", b"", b"v", b"x y", b"%d" % rng.randrange(1000)))

    def rel(self, ms=False):
        r = self.rng
        if r.random() < 0.15:
            return r.choice(BAD_TIMES)
        v = r.choice(REL_S)
        return b"%d" % (v * 1000 + r.randrange(1000) if ms else v)

    def absolute(self, ms=False):
        r = self.rng
        c = r.random()
        if c < 0.12:
            return r.choice(BAD_TIMES)
        if c < 0.22:  # in the past
            self.past = True
            t = r.choice((1, 1000, self.base - 100))
            return b"%d" % (t * 1000 if ms else t)
        t = self.base + r.choice(ABS_OFF)
        return b"%d" % (t * 1000 + r.randrange(1000) if ms else t)

    def set_options(self):
        r = self.rng
        opts = []
        for _ in range(r.choice((0, 0, 1, 1, 1, 2, 2, 3))):
            o = r.randrange(11)
            if o == 0:
                opts.append(r.choice((b"NX", b"nx")))
            elif o == 1:
                opts.append(b"XX")
            elif o == 2:
                opts.append(r.choice((b"GET", b"get")))
            elif o == 3:
                opts.append(b"KEEPTTL")
            elif o == 4:
                opts += [r.choice((b"EX", b"ex")), self.rel()]
            elif o == 5:
                opts += [b"PX", self.rel(ms=True)]
            elif o == 6:
                opts += [b"EXAT", self.absolute()]
            elif o == 7:
                opts += [b"PXAT", self.absolute(ms=True)]
            elif o == 8:
                opts.append(r.choice((b"EX", b"PX", b"BOGUS", b"NXX", b"")))
            else:
                opts += [r.choice((b"EX", b"PX")), self.rel(ms=True)]
        return opts

    def getex_options(self):
        r = self.rng
        c = r.randrange(10)
        if c == 0:
            return []
        if c == 1:
            return [b"EX", self.rel()]
        if c == 2:
            return [b"PX", self.rel(ms=True)]
        if c == 3:
            return [b"EXAT", self.absolute()]
        if c == 4:
            return [b"PXAT", self.absolute(ms=True)]
        if c == 5:
            return [b"PERSIST"]
        if c == 6:
            return [b"persist", b"EX", b"10"]
        if c == 7:
            return [b"EX", self.rel(), b"PX", self.rel(ms=True)]
        if c == 8:
            return [b"EX"]
        return [b"BOGUS"]

    def expire_flags(self, absolute):
        r = self.rng
        c = r.random()
        if c < 0.45:
            return []
        if c < 0.6:
            return [b"NX"]
        if c < 0.75:
            return [b"xx"]
        if absolute and c < 0.9:
            return [r.choice((b"GT", b"LT", b"gt", b"lt")), *r.choice(([], [b"XX"]))]
        return list(r.choice(([b"NX", b"XX"], [b"GT", b"LT"], [b"NX", b"GT"], [b"BOGUS"],
                              [b"XX", b"LT", b"GT"])))

    def wrong_arity(self):
        r = self.rng
        name, arity = r.choice(list(ARITY.items()))
        if arity > 0:
            n = r.choice([x for x in range(1, arity + 3) if x != arity])
        else:
            need = -arity
            if need <= 1:
                return [b"GET"]
            n = r.randrange(1, need)
        args = [name if r.random() < 0.5 else name.lower()] + [self.key() for _ in range(n - 1)]
        return args

    def unknown(self):
        r = self.rng
        name = r.choice((b"FOOBAR", b"gett", b"SETX", b"x" * 200, b"nl\r\ncmd", b"get2"))
        args = [name]
        for _ in range(r.randint(0, 4)):
            args.append(r.choice((b"a", b"arg two", b"y" * 150, b"cr\r\nlf", b"", b"'q'")))
        return args

    def command(self):
        """-> (args, compare mode)"""
        if self.pending:
            return self.pending.pop(0)
        self.past = False
        args, mode = self.build()
        if self.past and args[0] == b"SET":
            # Redis 7.0 stores a key SET with an expiry in the past and lets
            # it expire later, so DBSIZE would depend on the expiry cycle's
            # timing: touch the key at once to make both sides reclaim it.
            self.pending.append(([b"EXISTS", args[1]], EXACT))
        return args, mode

    def build(self):
        r, k = self.rng, self.key()
        c = r.randrange(1000)
        if c < 90:
            return [b"GET", k], EXACT
        if c < 200:
            return [b"SET", k, self.value()] + self.set_options(), EXACT
        if c < 215:
            return [b"SETNX", k, self.value()], EXACT
        if c < 225:
            return [b"SETEX", k, self.rel(), self.value()], EXACT
        if c < 235:
            return [b"PSETEX", k, self.rel(ms=True), self.value()], EXACT
        if c < 245:
            return [b"GETSET", k, self.value()], EXACT
        if c < 255:
            return [b"GETDEL", k], EXACT
        if c < 275:
            return [b"GETEX", k] + self.getex_options(), EXACT
        if c < 305:
            return [b"MGET"] + self.keys(1, 8), EXACT
        if c < 330:
            a = [b"MSET"]
            for kk in self.keys(1, 5):
                a += [kk, self.value()]
            if r.random() < 0.1:
                a.append(self.key())  # odd count
            return a, EXACT
        if c < 345:
            a = [b"MSETNX"]
            for kk in self.keys(1, 4):
                a += [kk, self.value()]
            if r.random() < 0.1:
                a = a[:-1]
            return a, EXACT
        if c < 365:
            return [b"APPEND", k, self.value()], EXACT
        if c < 375:
            return [b"STRLEN", k], EXACT
        if c < 400:
            idx = lambda: r.choice((b"%d" % r.randint(-30, 30), b"%d" % r.randint(-30, 30),
                                    b"9223372036854775807", b"-9223372036854775808", b"abc",
                                    b"1.5", b"-1", b"0"))
            return [b"GETRANGE", k, idx(), idx()], EXACT
        if c < 420:
            off = r.choice((b"%d" % r.randint(0, 40), b"%d" % r.randint(0, 1000), b"-1",
                            b"abc", b"536870912", b"9223372036854775807", b"0"))
            v = r.choice((self.value(), b"", b"Z"))
            return [b"SETRANGE", k, off, v], EXACT
        if c < 470:
            op = r.choice((b"INCR", b"DECR", b"incr"))
            return [op, k], EXACT
        if c < 510:
            op = r.choice((b"INCRBY", b"DECRBY"))
            return [op, k, r.choice(INCRS)], EXACT
        if c < 540:
            return [b"INCRBYFLOAT", k, r.choice(FLOATS + [b"1", b"-3", b"10.5"])], EXACT
        if c < 560:
            return [r.choice((b"DEL", b"UNLINK"))] + self.keys(1, 4), EXACT
        if c < 580:
            return [b"EXISTS"] + self.keys(1, 5), EXACT
        if c < 585:
            return [b"TOUCH"] + self.keys(1, 3), EXACT
        if c < 595:
            return [b"TYPE", k], EXACT
        if c < 615:
            dst = k if r.random() < 0.15 else self.key()
            return [r.choice((b"RENAME", b"RENAMENX")), k, dst], EXACT
        if c < 625:
            return [b"KEYS", r.choice(PATTERNS)], SORTED
        if c < 632:
            return self.scan_args(), SCAN
        if c < 637:
            return [b"RANDOMKEY"], RANDOMKEY
        if c < 647:
            return [b"DBSIZE"], EXACT
        if c < 665:
            db = r.choice((b"0", b"0", b"1", b"2", b"3", b"15", b"16", b"-1", b"x", b"01"))
            return [b"SELECT", db], EXACT
        if c < 667:
            return [b"FLUSHDB"] + r.choice(([], [b"ASYNC"], [b"SYNC"], [b"BAD"])), EXACT
        if c == 667 and r.random() < 0.3:
            return [b"FLUSHALL"], EXACT
        if c < 690:
            op = r.choice((b"EXPIRE", b"PEXPIRE"))
            return [op, k, self.rel(ms=op == b"PEXPIRE")] + self.expire_flags(False), EXACT
        if c < 715:
            op = r.choice((b"EXPIREAT", b"PEXPIREAT"))
            return [op, k, self.absolute(ms=op == b"PEXPIREAT")] + self.expire_flags(True), EXACT
        if c < 730:
            return [b"TTL", k], tol(2)
        if c < 740:
            return [b"PTTL", k], tol(2000)
        if c < 748:
            return [b"EXPIRETIME", k], tol(2)
        if c < 753:
            return [b"PEXPIRETIME", k], tol(2000)
        if c < 768:
            return [b"PERSIST", k], EXACT
        if c < 778:
            return [b"PING"] + r.choice(([], [self.value()], [b"a", b"b"])), EXACT
        if c < 788:
            return [b"ECHO", self.value()], EXACT
        if c < 810:
            return self.wrong_arity(), EXACT
        if c < 822:
            return self.unknown(), EXACT
        if c < 828:
            name = r.choice((b"conn", b"a b", b"", b"x\ny", b"long" * 20, b"\xff"))
            return [b"CLIENT", b"SETNAME", name], EXACT
        if c < 832:
            return [b"CLIENT", b"GETNAME"], EXACT
        if c < 835:
            return [b"CLIENT", b"ID"], TYPE_ONLY
        if c < 838:
            return [b"HELLO", r.choice((b"2", b"3", b"3", b"2"))], TYPE_ONLY
        if c < 840:
            return [b"HELLO", r.choice((b"4", b"x", b"1"))], EXACT
        if c < 842:
            return [b"RESET"], EXACT
        if c < 845:
            return [b"INFO"] + r.choice(([], [b"keyspace"], [b"stats"])), TYPE_ONLY
        if c < 847:
            return [b"TIME"], TYPE_ONLY
        if c < 849:
            return [b"COMMAND", b"COUNT"], TYPE_ONLY
        if c < 852:
            return [b"CONFIG", b"GET", b"hz"], EXACT
        # Case variations of common commands.
        return [r.choice((b"get", b"Get", b"gEt")), k], EXACT

    def scan_args(self):
        r = self.rng
        a = [b"SCAN", b"0"]
        if r.random() < 0.08:
            a[1] = r.choice((b"abc", b"1.5", b" 0", b"0x"))
        if r.random() < 0.5:
            a += [b"MATCH", r.choice(PATTERNS)]
        if r.random() < 0.5:
            a += [b"COUNT", r.choice((b"1", b"5", b"20", b"100", b"0", b"-1", b"x"))]
        if r.random() < 0.3:
            a += [b"TYPE", r.choice((b"string", b"STRING", b"hash", b"foo"))]
        if r.random() < 0.05:
            a += [r.choice((b"BOGUS", b"MATCH", b"COUNT"))]
        return a


# ---------------------------------------------------------------------------
# running it against both servers

def short(b, n=240):
    r = repr(b)
    return r if len(r) <= n else r[:n] + "...(%d bytes)" % len(b)


class Diff:
    def __init__(self, tgt, ref, seed, label):
        self.tgt = tgt        # RespConn to the target
        self.ref = ref        # RespConn to the reference
        self.seed = seed
        self.label = label
        self.mismatches = 0
        self.index = 0
        self.stats = {}

    def mismatch(self, args, ref_reply, tgt_reply, why=""):
        self.mismatches += 1
        if self.mismatches <= MAX_MISMATCHES:
            log("MISMATCH %s #%d (seed %d): %s%s\n    reference: %s\n    target:    %s"
                % (self.label, self.index, self.seed, short(args, 400),
                   " (%s)" % why if why else "", short(ref_reply), short(tgt_reply)))

    def count(self, args, ref_reply):
        name = args[0].upper() if args else b"?"
        ok, err = self.stats.get(name, (0, 0))
        if ref_reply[:1] in (b"-", b"!"):
            err += 1
        else:
            ok += 1
        self.stats[name] = (ok, err)

    def compare(self, args, mode, ref_raw, tgt_raw):
        self.count(args, ref_raw)
        if mode == EXACT:
            if ref_raw != tgt_raw:
                self.mismatch(args, ref_raw, tgt_raw)
            return
        if mode == TYPE_ONLY:
            if ref_raw[:1] != tgt_raw[:1]:
                self.mismatch(args, ref_raw, tgt_raw, "reply types differ")
            return
        rv, tv = parse_reply(ref_raw)[0], parse_reply(tgt_raw)[0]
        if isinstance(rv, ErrorReply) or isinstance(tv, ErrorReply):
            if ref_raw != tgt_raw:
                self.mismatch(args, ref_raw, tgt_raw)
            return
        if mode == SORTED:
            if not (isinstance(rv, list) and isinstance(tv, list)) or sorted(rv) != sorted(tv):
                self.mismatch(args, ref_raw, tgt_raw, "as sorted sets")
            return
        if isinstance(mode, tuple) and mode[0] == "tol":
            ok = isinstance(rv, int) and isinstance(tv, int) and ref_raw[:1] == tgt_raw[:1]
            if ok and (rv < 0 or tv < 0):
                ok = rv == tv
            elif ok:
                ok = abs(rv - tv) <= mode[1]
            if not ok:
                self.mismatch(args, ref_raw, tgt_raw, "tolerance %d" % mode[1])
            return
        raise AssertionError("unknown compare mode %r" % (mode,))

    def exchange(self, batch):
        """Send a batch of (args, mode) to both, compare the replies in order."""
        data = b"".join(encode(*a) for a, _ in batch)
        self.tgt.send_raw(data)
        self.ref.send_raw(data)
        for args, mode in batch:
            self.index += 1
            ref_raw = self.ref.read_raw()
            try:
                tgt_raw = self.tgt.read_raw()
            except (ConnectionClosed, OSError) as e:
                self.mismatch(args, ref_raw, b"<connection lost: %s>" % str(e).encode())
                raise
            self.compare(args, mode, ref_raw, tgt_raw)

    def randomkey(self, args):
        self.index += 1
        r_raw = self.ref.call_raw(*args)
        t_raw = self.tgt.call_raw(*args)
        self.count(args, r_raw)
        rk, tk = parse_reply(r_raw)[0], parse_reply(t_raw)[0]
        if (rk is None) != (tk is None) or r_raw[:1] != t_raw[:1]:
            self.mismatch(args, r_raw, t_raw, "one side empty")
            return
        if rk is None:
            return
        on_ref = self.ref.call(b"EXISTS", tk)
        on_tgt = self.tgt.call(b"EXISTS", rk)
        if on_ref != 1 or on_tgt != 1:
            self.mismatch(args, r_raw, t_raw, "RANDOMKEY returned a key the other side lacks")

    def scan(self, args):
        self.index += 1
        r_raw = self.ref.call_raw(*args)
        t_raw = self.tgt.call_raw(*args)
        self.count(args, r_raw)
        rv, tv = parse_reply(r_raw)[0], parse_reply(t_raw)[0]
        if isinstance(rv, ErrorReply) or isinstance(tv, ErrorReply):
            if r_raw != t_raw:
                self.mismatch(args, r_raw, t_raw)
            return
        if not (isinstance(tv, list) and len(tv) == 2 and isinstance(tv[1], list)):
            self.mismatch(args, r_raw, t_raw, "not a [cursor, keys] reply")
            return
        rset, tset = self.scan_rest(self.ref, args, rv), self.scan_rest(self.tgt, args, tv)
        if rset is None or tset is None:
            self.mismatch(args, r_raw, t_raw, "SCAN iteration did not finish")
        elif rset != tset:
            self.mismatch(args, sorted(rset), sorted(tset), "SCAN key sets differ")

    @staticmethod
    def scan_rest(conn, args, first):
        keys = set(first[1])
        cursor = first[0]
        for _ in range(20000):
            if cursor == b"0":
                return keys
            rep = conn.call(*([args[0], cursor] + args[2:]))
            if not (isinstance(rep, list) and len(rep) == 2):
                return None
            cursor = rep[0]
            keys.update(rep[1])
        return None


def final_state(d, nd):
    """Every db's keys, values and TTLs must match at the end."""
    for conn in (d.ref, d.tgt):
        conn.call(b"HELLO", b"2")
    for db in range(16):
        for conn in (d.ref, d.tgt):
            check(conn.call(b"SELECT", b"%d" % db) == b"OK", "SELECT %d" % db)
        rk = sorted(d.ref.call(b"KEYS", b"*"))
        tk = sorted(d.tgt.call(b"KEYS", b"*"))
        if rk != tk:
            d.mismatch([b"KEYS", b"*", b"(db %d, final)" % db], short(rk, 2000), short(tk, 2000))
            continue
        if not rk:
            continue
        rv, tv = d.ref.call(b"MGET", *rk), d.tgt.call(b"MGET", *rk)
        for k, a, b in zip(rk, rv, tv):
            if a != b:
                d.mismatch([b"GET", k, b"(db %d, final)" % db], a, b)
        for k in rk:
            a, b = d.ref.call(b"PTTL", k), d.tgt.call(b"PTTL", k)
            if (a < 0 or b < 0) and a != b or abs(a - b) > 2000:
                d.mismatch([b"PTTL", k, b"(db %d, final)" % db], a, b)
        nd[0] += len(rk)


_reference = []


def reference_server():
    """A reference redis-server, started once for this file."""
    if not _reference or not _reference[0].alive():
        _reference[:] = [Server(kind="redis").start()]
    return _reference[0]


def run_stream(srv, seed, count, batch_max, label):
    ref = reference_server()
    rng = random.Random(seed)
    base = int(time.time())
    gen = Gen(rng, base)
    tconn, rconn = srv.conn(), ref.conn()
    d = Diff(tconn, rconn, seed, label)
    try:
        check(rconn.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        t0 = time.monotonic()
        batch = []
        sent = 0
        while sent < count and d.mismatches < MAX_MISMATCHES:
            if time.monotonic() - t0 > SECONDS:
                log("# %s: time budget of %.0f s reached after %d commands" % (label, SECONDS,
                                                                               sent))
                break
            args, mode = gen.command()
            sent += 1
            if mode in (SCAN, RANDOMKEY):
                if batch:
                    d.exchange(batch)
                    batch = []
                (d.scan if mode == SCAN else d.randomkey)(args)
                continue
            batch.append((args, mode))
            if len(batch) >= rng.randint(1, batch_max):
                d.exchange(batch)
                batch = []
        if batch:
            d.exchange(batch)
        nkeys = [0]
        if d.mismatches < MAX_MISMATCHES:
            final_state(d, nkeys)
        errs = sum(e for _, e in d.stats.values())
        log("# %s: %d commands in %.1f s, %d error replies, %d keys compared at the end; "
            "%d mismatches" % (label, sent, time.monotonic() - t0, errs, nkeys[0], d.mismatches))
        check(d.mismatches == 0, "%d mismatches (first ones printed above; seed %d)"
              % (d.mismatches, seed))
        check(nkeys[0] > 0 or count < 1000, "the stream left no keys to compare")
    finally:
        tconn.close()
        rconn.close()


@suite.test(timeout=int(SECONDS) + 120)
def test_stream_sequential(srv):
    run_stream(srv, SEED, COUNT, 1, "sequential")


@suite.test(timeout=int(SECONDS) + 120)
def test_stream_pipelined(srv):
    run_stream(srv, SEED + 1, COUNT // 2, 64, "pipelined")


@suite.test
def test_known_edge_cases(srv):
    # Fixed requests that once differed or are easy to get wrong, compared
    # byte for byte with the reference.
    ref = reference_server()
    cases = [
        [b"SET", b"n", b"9223372036854775807"], [b"INCR", b"n"], [b"INCRBY", b"n", b"-1"],
        [b"DECRBY", b"n", b"-9223372036854775808"], [b"SET", b"f", b"10.50"],
        [b"INCRBYFLOAT", b"f", b"0.1"], [b"INCRBYFLOAT", b"f", b"1e308"],
        [b"INCRBYFLOAT", b"f", b"1e308"], [b"INCRBYFLOAT", b"f", b"-1e308"],
        [b"SET", b"g", b"3"], [b"INCRBYFLOAT", b"g", b"1.0000000000000001"],
        [b"INCRBYFLOAT", b"g", b"5.0e3"], [b"INCRBYFLOAT", b"g", b"0x10"],
        [b"SET", b"s", b"This is a string"], [b"GETRANGE", b"s", b"-3", b"-1"],
        [b"GETRANGE", b"s", b"-1", b"-5"], [b"GETRANGE", b"s", b"5", b"3"],
        [b"GETRANGE", b"s", b"-100", b"100"], [b"GETRANGE", b"s", b"0", b"-100"],
        [b"GETRANGE", b"s", b"-9223372036854775808", b"9223372036854775807"],
        [b"SETRANGE", b"s", b"536870912", b""], [b"SETRANGE", b"s", b"536870912", b"x"],
        [b"SETRANGE", b"nokey", b"536870912", b""], [b"SETRANGE", b"s", b"-1", b""],
        [b"RENAME", b"s", b"s"], [b"RENAMENX", b"s", b"s"], [b"RENAME", b"nokey", b"nokey"],
        [b"SET", b"k", b"v", b"EX", b"abc", b"NX", b"XX"], [b"SET", b"k", b"v", b"GET", b"NX"],
        [b"SET", b"k", b"v", b"KEEPTTL", b"PX", b"100"], [b"SET", b"k", b"v", b"EXAT", b"1"],
        [b"EXISTS", b"k"],
        [b"GETEX", b"s", b"EX", b"9223372036854775807"], [b"EXPIRE", b"s", b"-9223372036854775808"],
        [b"PEXPIREAT", b"s", b"9223372036854775807"], [b"EXPIRE", b"s", b"100", b"gt", b"xx"],
        [b"MSETNX", b"a", b"1", b"a", b"2"], [b"MGET", b"a"], [b"MSET", b"a"],
        [b"SELECT", b"01"], [b"SELECT", b" 1"], [b"ECHO", b""], [b"PING", b""],
        [b"SCAN", b"0", b"COUNT"], [b"SCAN", b"0", b"MATCH"], [b"SCAN", b"18446744073709551616"],
        [b"KEYS", b"*"], [b"TYPE", b"a"], [b"DBSIZE"],
        [b"CLIENT", b"SETNAME", b""], [b"CLIENT", b"GETNAME"], [b"CLIENT", b"BOGUS"],
        [b"CONFIG", b"SET", b"hz"], [b"COMMAND", b"BOGUS"], [b"FLUSHALL", b"BAD"],
        [b"GET", b"x" * 300], [b"SET", b"x" * 300, b"y"],
    ]
    d = Diff(srv.conn(), ref.conn(), 0, "edge")
    try:
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        for args in cases:
            mode = SORTED if args[0] == b"KEYS" else EXACT
            d.exchange([(args, mode)])
        check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
    finally:
        d.tgt.close()
        d.ref.close()


if __name__ == "__main__":
    run_suite(suite)
