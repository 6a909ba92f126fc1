#!/usr/bin/python3
"""
test_diff_set.py - sets against a reference redis-server: the same seeded
random stream of SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SPOP,
SRANDMEMBER, SMOVE, SINTER, SUNION, SDIFF, SINTERCARD, SINTERSTORE,
SUNIONSTORE, SDIFFSTORE and SSCAN (valid and invalid arguments, WRONGTYPE
against string keys, keys on both shards of a 2-worker hotpathd, RESP2 and
RESP3) goes to both, and every raw reply is compared byte for byte, except:

  SMEMBERS             a hashtable set's order is unspecified in Redis (dict
                       iteration order): compared as sorted multisets; an
                       intset (the reference's OBJECT ENCODING) byte for byte,
                       as both return it ascending.
  SINTER/SUNION/SDIFF  their order follows the iteration of a hashtable
                       (SINTER: the smallest input's, whose pick among equal
                       sizes is unspecified; SUNION/SDIFF: the temporary
                       result set's), so sorted multisets plus the reply
                       type; SUNION/SDIFF byte for byte when the result is
                       an intset in the reference (both then return it
                       ascending; asked through the STORE form).
  SPOP                 random: sent to hotpathd only, and the reference is
                       given the SREM of exactly what hotpathd popped (its
                       reply proves they were distinct members; when Redis
                       would rebuild the set from the few that stay, so is
                       the reference's, keeping the encodings alike); the reply's
                       shape (type, length) is checked against the
                       reference's SCARD.  Invalid or no-op forms go to both.
  SRANDMEMBER          random: shape, distinctness, membership compared.
  SSCAN                cursors are table positions: from cursor 0 fully
                       iterated on both and the member sets compared; from
                       another cursor only the reply's shape (which buckets
                       a cursor names differs); an intset's single reply
                       byte for byte.

Then the final state (every key's type and members), and the same after a
kill -9 and restart of a hotpathd writing its log with appendfsync always.

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
                        encode, ErrorReply, log)

SEED = int(os.environ.get("HOTPATH_DIFF_SEED", random.randrange(1 << 31)))
COUNT = int(os.environ.get("HOTPATH_DIFF_COUNT", "6000"))
MAX_MISMATCHES = 10
print("# seed %d (HOTPATH_DIFF_SEED), %d commands per stream" % (SEED, COUNT), flush=True)

suite = Suite("diff_set", server_args=["--workers", "2"])

# Plain names land on both shards; {t} ones share a slot (and a shard).
SET_KEYS = [b"s%d" % i for i in range(10)] + [b"{t}%d" % i for i in range(6)] + [b"bin\x00s"]
STR_KEYS = [b"str0", b"{t}str"]
KEYS = SET_KEYS + STR_KEYS
INTS = [b"%d" % i for i in range(-5, 30)] + [b"9223372036854775807", b"-9223372036854775808",
                                             b"4294967296", b"-70000"]
ODD = [b"007", b"+1", b" 1", b"1 ", b"-0", b"", b"18446744073709551616", b"1.5", b"0x1"]
STRS = [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"hello", b"x" * 70, b"bin\x00m", b"\xff",
        b"nl\r\n"]
COUNTS = [b"0", b"1", b"2", b"3", b"5", b"10", b"100", b"-1", b"-3", b"-20", b"x", b"",
          b"9223372036854775807", b"-9223372036854775808", b"1.5"]
PATTERNS = [b"*", b"1*", b"?", b"[a-c]", b"*e*", b"-*", b"x*", b"nomatch"]

EXACT, SMEMBERS, ALGEBRA, SPOP, SRAND, SSCAN = range(6)


class Gen:
    def __init__(self, rng):
        self.r = rng

    def key(self):
        return self.r.choice(KEYS) if self.r.random() < 0.08 else self.r.choice(SET_KEYS)

    def member(self):
        x = self.r.random()
        if x < 0.6:
            return self.r.choice(INTS)
        if x < 0.7:
            return self.r.choice(ODD)
        return self.r.choice(STRS)

    def members(self, lo=1, hi=6):
        return [self.member() for _ in range(self.r.randint(lo, hi))]

    def keys(self, lo=1, hi=4):
        # {t} keys together most of the time; any mix otherwise (2 shards)
        if self.r.random() < 0.3:
            return [self.r.choice(SET_KEYS[10:16]) for _ in range(self.r.randint(lo, hi))]
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def command(self):
        r = self.r
        c = r.randrange(100)
        if c < 16:
            if r.random() < 0.03:  # past set-max-intset-entries: conversion by size
                base = r.randrange(0, 1000)
                return [b"SADD", self.key()] + [b"%d" % (base + i) for i in range(520)], EXACT
            return [b"SADD", self.key()] + self.members(), EXACT
        if c < 26:
            if r.random() < 0.03:
                base = r.randrange(0, 1000)
                return [b"SREM", self.key()] + [b"%d" % (base + i) for i in range(500)], EXACT
            return [b"SREM", self.key()] + self.members(), EXACT
        if c < 31:
            return [b"SISMEMBER", self.key(), self.member()], EXACT
        if c < 35:
            return [b"SMISMEMBER", self.key()] + self.members(), EXACT
        if c < 39:
            return [b"SCARD", self.key()], EXACT
        if c < 46:
            return [b"SMEMBERS", self.key()], SMEMBERS
        if c < 52:
            a = [b"SPOP", self.key()]
            if r.random() < 0.6:
                a.append(r.choice(COUNTS))
            return a, SPOP
        if c < 58:
            a = [b"SRANDMEMBER", self.key()]
            if r.random() < 0.8:
                a.append(r.choice(COUNTS))
            return a, SRAND
        if c < 65:
            return [b"SMOVE", self.key(), self.key(), self.member()], EXACT
        if c < 75:
            return [r.choice([b"SINTER", b"SUNION", b"SDIFF"])] + self.keys(), ALGEBRA
        if c < 80:
            ks = self.keys()
            n = r.choice([b"%d" % len(ks), b"%d" % len(ks), b"0", b"x", b"%d" % (len(ks) + 1)])
            a = [b"SINTERCARD", n] + ks
            if r.random() < 0.4:
                a += [b"LIMIT", r.choice([b"0", b"1", b"2", b"-1", b"x"])]
            if r.random() < 0.05:
                a.append(b"BOGUS")
            return a, EXACT
        if c < 90:
            cmd = r.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"])
            return [cmd, self.key()] + self.keys(), EXACT
        if c < 95:
            a = [b"SSCAN", self.key(), r.choice([b"0", b"0", b"0", b"abc", b"-1", b""])]
            if r.random() < 0.5:
                a += [b"COUNT", r.choice([b"1", b"3", b"10", b"0", b"x"])]
            if r.random() < 0.4:
                a += [b"MATCH", r.choice(PATTERNS)]
            if r.random() < 0.05:
                a += [b"TYPE"]
            return a, SSCAN
        if c < 97:
            return [b"SET", r.choice(STR_KEYS), b"v"], EXACT
        # wrong arity
        return r.choice([[b"SADD", self.key()], [b"SREM"], [b"SISMEMBER", self.key()],
                         [b"SCARD"], [b"SMOVE", self.key(), self.key()], [b"SINTER"],
                         [b"SINTERSTORE", self.key()], [b"SSCAN", self.key()],
                         [b"SPOP", self.key(), b"1", b"2"],
                         [b"SRANDMEMBER", self.key(), b"1", b"2"]]), EXACT


def all_ints_small(members):
    ints = 0
    for m in members:
        try:
            v = int(m)
        except ValueError:
            return False
        if b"%d" % v != m or not -(1 << 63) <= v < (1 << 63):
            return False
        ints += 1
    return ints <= 512


class Diff:
    def __init__(self, tgt, ref, seed, label):
        self.tgt, self.ref = tgt, ref
        self.seed, self.label = seed, label
        self.mismatches = 0
        self.index = 0
        self.n = 0

    def bad(self, args, ref_raw, tgt_raw, why=""):
        self.mismatches += 1
        if self.mismatches <= MAX_MISMATCHES:
            log("MISMATCH %s #%d (seed %d): %r%s\n    reference: %r\n    target:    %r"
                % (self.label, self.index, self.seed, args[:12], " (%s)" % why if why else "",
                   ref_raw[:400], tgt_raw[:400]))

    def both(self, args):
        return self.ref.call_raw(*args), self.tgt.call_raw(*args)

    def run(self, args, mode):
        self.index += 1
        if mode == EXACT:
            r, t = self.both(args)
            if r != t:
                self.bad(args, r, t)
        elif mode == SMEMBERS:
            enc = self.ref.call(b"OBJECT", b"ENCODING", args[1])
            r, t = self.both(args)
            if enc == b"intset" or r[:1] == b"-":
                if r != t:
                    self.bad(args, r, t, "intset: exact")
            elif r[:1] != t[:1] or sorted(parse_reply(r)[0]) != sorted(parse_reply(t)[0]):
                self.bad(args, r, t, "as sorted multisets")
        elif mode == ALGEBRA:
            r, t = self.both(args)
            if r[:1] == b"-" or t[:1] == b"-":
                if r != t:
                    self.bad(args, r, t)
                return
            rv, tv = parse_reply(r)[0], parse_reply(t)[0]
            if r[:1] != t[:1] or sorted(rv) != sorted(tv):
                self.bad(args, r, t, "as sorted multisets")
            elif args[0] != b"SINTER" and all_ints_small(rv) and r != t:
                # SDIFF's result may still be a hashtable (Redis' algorithm 2
                # adds the whole first set, then removes): ask the reference
                # for the encoding through the STORE form into a scratch key.
                probe = b"__enc_probe"
                self.ref.call(args[0] + b"STORE", probe, *args[1:])
                enc = self.ref.call(b"OBJECT", b"ENCODING", probe)
                self.ref.call(b"DEL", probe)
                if enc == b"intset":
                    self.bad(args, r, t, "intset result: exact (ascending)")
        elif mode == SPOP:
            self.spop(args)
        elif mode == SRAND:
            self.srand(args)
        elif mode == SSCAN:
            self.sscan(args)

    def spop(self, args):
        key = args[1]
        typ = self.ref.call(b"TYPE", key)
        count = None
        if len(args) == 3:
            try:
                count = int(args[2])
                if b"%d" % count != args[2] or count <= 0:
                    count = None
            except ValueError:
                count = None
        popping = typ == b"set" and len(args) <= 3 and (len(args) == 2 or count is not None)
        if not popping:
            r, t = self.both(args)  # errors, missing keys, count 0: no change
            if r != t:
                self.bad(args, r, t)
            return
        card = self.ref.call(b"SCARD", key)
        t = self.tgt.call_raw(*args)
        tv = parse_reply(t)[0]
        if count is None:
            if t[:1] != b"$" or tv is None:
                self.bad(args, b"<a bulk member>", t)
                return
            popped = [tv]
        else:
            want = min(count, card)
            if t[:1] not in (b"*", b"~") or not isinstance(tv, list) or len(tv) != want:
                self.bad(args, b"<%d members>" % want, t)
                return
            popped = tv
        rem = self.ref.call(b"SREM", key, *popped)
        if rem != len(popped):
            self.bad(args, b"<distinct members of the set>", t, "SREM on the reference: %r" % rem)
        left = card - len(popped)
        if count is not None and left > 0 and left * 5 <= count:
            # Redis' SPOP case 3 rebuilt the set from the members that stay
            # (setTypeCreate + setTypeAdd: an intset when all are integers);
            # DEL + SADD makes the reference's encoding what SPOP's would be.
            stay = self.ref.call(b"SMEMBERS", key)
            self.ref.call(b"DEL", key)
            self.ref.call(b"SADD", key, *stay)

    def srand(self, args):
        r, t = self.both(args)
        if r[:1] == b"-" or t[:1] == b"-" or r in (b"$-1\r\n", b"*0\r\n", b"_\r\n"):
            if r != t:
                self.bad(args, r, t)
            return
        rv, tv = parse_reply(r)[0], parse_reply(t)[0]
        members = set(self.ref.call(b"SMEMBERS", args[1]))
        if len(args) == 2:
            if t[:1] != b"$" or tv not in members:
                self.bad(args, r, t, "a member")
            return
        if r[:1] != t[:1] or len(rv) != len(tv) or not set(tv) <= members:
            self.bad(args, r, t, "shape / membership")
        elif int(args[2]) > 0 and len(set(tv)) != len(tv):
            self.bad(args, r, t, "distinct members")
        elif int(args[2]) >= len(members) and sorted(rv) != sorted(tv):
            self.bad(args, r, t, "the whole set")

    def sscan(self, args):
        r, t = self.both(args)
        if r[:1] == b"-" or t[:1] == b"-":
            if r != t:
                self.bad(args, r, t)
            return
        rv, tv = parse_reply(r)[0], parse_reply(t)[0]
        if self.ref.call(b"OBJECT", b"ENCODING", args[1]) == b"intset":
            if r != t:
                self.bad(args, r, t, "intset: one exact reply")
            return
        if args[2] != b"0":
            if not (isinstance(tv, list) and len(tv) == 2 and isinstance(tv[1], list)):
                self.bad(args, r, t, "not a [cursor, members] reply")
            return
        rs, ts = self.scan_rest(self.ref, args, rv), self.scan_rest(self.tgt, args, tv)
        if rs is None or ts is None or rs != ts:
            self.bad(args, r, t, "SSCAN member sets differ")

    @staticmethod
    def scan_rest(conn, args, first):
        got = set(first[1])
        cursor = first[0]
        for _ in range(100000):
            if cursor == b"0":
                return got
            rep = conn.call(*([args[0], args[1], cursor] + args[3:]))
            if not (isinstance(rep, list) and len(rep) == 2):
                return None
            cursor = rep[0]
            got.update(rep[1])
        return None


def final_state(d):
    """Every key's type and members (sorted) must match."""
    n = 0
    for conn in (d.ref, d.tgt):
        conn.call(b"HELLO", b"2")
    rk, tk = sorted(d.ref.call(b"KEYS", b"*")), sorted(d.tgt.call(b"KEYS", b"*"))
    if rk != tk:
        d.bad([b"KEYS", b"*", b"(final)"], repr(rk).encode(), repr(tk).encode())
        return 0
    for k in rk:
        rt, tt = d.ref.call(b"TYPE", k), d.tgt.call(b"TYPE", k)
        if rt != tt:
            d.bad([b"TYPE", k], rt, tt)
        elif rt == b"set":
            a, b = sorted(d.ref.call(b"SMEMBERS", k)), sorted(d.tgt.call(b"SMEMBERS", k))
            if a != b:
                d.bad([b"SMEMBERS", k, b"(final)"], repr(a).encode(), repr(b).encode())
        n += 1
    return n


_reference = []


def reference_server():
    if not _reference or not _reference[0].alive():
        _reference[:] = [Server(kind="redis").start()]
    return _reference[0]


def run_stream(srv, seed, count, label, resp3=False):
    ref = reference_server()
    rng = random.Random(seed)
    gen = Gen(rng)
    d = Diff(srv.conn(), ref.conn(), seed, label)
    try:
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        if resp3:
            for conn in (d.ref, d.tgt):
                conn.call(b"HELLO", b"3")
        for _ in range(count):
            if d.mismatches >= MAX_MISMATCHES:
                break
            args, mode = gen.command()
            d.run(args, mode)
        nkeys = final_state(d) if d.mismatches < MAX_MISMATCHES else 0
        log("# %s: %d commands, %d keys compared at the end, %d mismatches"
            % (label, d.index, nkeys, d.mismatches))
        check(d.mismatches == 0, "%d mismatches (first ones printed above; seed %d)"
              % (d.mismatches, seed))
        check(nkeys > 0, "the stream left no keys to compare")
    finally:
        d.tgt.close()
        d.ref.close()


@suite.test
def test_stream_resp2(srv):
    run_stream(srv, SEED, COUNT, "resp2")


@suite.test
def test_stream_resp3(srv):
    run_stream(srv, SEED + 1, COUNT // 2, "resp3", resp3=True)


@suite.test
def test_edge_cases(srv):
    ref = reference_server()
    d = Diff(srv.conn(), ref.conn(), 0, "edge")
    try:
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL")
        cases = [
            [b"SADD", b"i", b"3", b"1", b"2", b"-7"], [b"SMEMBERS", b"i"],
            [b"SADD", b"i", b"007"], [b"SMEMBERS", b"i"], [b"SREM", b"i", b"007", b"3"],
            [b"SINTER", b"i", b"i"], [b"SDIFF", b"i", b"i"], [b"SUNION", b"i", b"nokey"],
            [b"SADD", b"big"] + [b"%d" % v for v in range(600, 0, -1)], [b"SCARD", b"big"],
            [b"SINTERSTORE", b"d", b"big", b"i"], [b"SMEMBERS", b"d"],
            [b"SINTERCARD", b"2", b"big", b"i", b"LIMIT", b"1"],
            [b"SSCAN", b"i", b"0"], [b"SSCAN", b"i", b"99", b"MATCH", b"-*"],
            [b"SSCAN", b"nokey", b"x"], [b"SSCAN", b"nokey", b"0", b"COUNT", b"0"],
            [b"SSCAN", b"i", b"18446744073709551616"], [b"SSCAN", b"i", b"+0"],
            [b"SPOP", b"nokey"], [b"SPOP", b"i", b"-1"], [b"SPOP", b"i", b"0"],
            [b"SRANDMEMBER", b"i", b"-9223372036854775808"], [b"SRANDMEMBER", b"i", b"0"],
            [b"SET", b"str", b"x"], [b"SADD", b"str", b"a"], [b"SMOVE", b"nokey", b"str", b"a"],
            [b"SMOVE", b"i", b"str", b"1"], [b"SINTER", b"nokey", b"str"],
            [b"SUNIONSTORE", b"str", b"i"], [b"TYPE", b"str"], [b"SMEMBERS", b"str"],
            [b"SDIFFSTORE", b"str", b"nokey"], [b"EXISTS", b"str"],
            [b"SINTERCARD", b"1"], [b"SINTERCARD", b"-1", b"a"],
        ]
        modes = {b"SMEMBERS": SMEMBERS, b"SINTER": ALGEBRA, b"SUNION": ALGEBRA,
                 b"SDIFF": ALGEBRA, b"SSCAN": SSCAN, b"SPOP": SPOP, b"SRANDMEMBER": SRAND}
        for args in cases:
            d.run(args, modes.get(args[0], EXACT))
        check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
    finally:
        d.tgt.close()
        d.ref.close()


@suite.test(server=False, only="hotpathd")
def test_restart_with_log(_):
    """Operation records (SADD/SREM as sent, SPOP as SREM, SMOVE as one
    record per shard) and states (the STORE forms, wide commands) replay
    to what the reference holds, after kill -9."""
    d_dir = tempfile.mkdtemp(prefix="hp-set-")
    extra = ["--appendonly", "yes", "--appendfsync", "always", "--dir", d_dir]
    try:
        srv = Server(workers=2, extra_args=extra).start()
        run_stream(srv, SEED + 2, COUNT // 2, "logged")
        srv.proc.kill()
        srv.proc.wait(10)
        srv.stop()
        srv.discard_logs()
        srv = Server(workers=2, extra_args=extra).start()
        ref = reference_server()
        d = Diff(srv.conn(), ref.conn(), SEED + 2, "restarted")
        try:
            n = final_state(d)
            log("# restarted: %d keys compared, %d mismatches" % (n, d.mismatches))
            check(d.mismatches == 0, "state after restart differs (printed above)")
            check(n > 0, "nothing to compare after restart")
        finally:
            d.tgt.close()
            d.ref.close()
        srv.stop()
    finally:
        shutil.rmtree(d_dir, ignore_errors=True)


if __name__ == "__main__":
    run_suite(suite)
