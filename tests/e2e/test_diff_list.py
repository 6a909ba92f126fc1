#!/usr/bin/python3
"""
test_diff_list.py - lists against a reference redis-server: a seeded random
stream of every list command (valid and invalid arguments, WRONGTYPE on
string keys, keys on several shards with 2 workers, RESP2 and RESP3),
every raw reply compared byte for byte (list replies are ordered, so no
reply is compared as a set), then every key's final contents; and a
restart with the log on (operation records, the state fallback of a wide
push, a compaction) compared with what redis-server holds.

Environment: HOTPATH_DIFF_SEED (default random, printed),
HOTPATH_DIFF_COUNT (commands per stream, default 6000).
"""
import os
import random
import sys
import tempfile
import shutil

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Suite, Server, check, run_suite, log  # noqa: E402
from test_differential import Diff, EXACT, TYPE_ONLY, reference_server  # noqa: E402

SEED = int(os.environ.get("HOTPATH_DIFF_SEED", random.randrange(1 << 31)))
COUNT = int(os.environ.get("HOTPATH_DIFF_COUNT", "6000"))
print("# list seed %d (HOTPATH_DIFF_SEED)" % SEED, flush=True)

suite = Suite("diff_list", server_args=["--workers", "2"])

# Several hash tags, so with 2 workers the keys sit on both shards; {a}
# keys share a slot (LMOVE on one shard), the others mostly do not.
LKEYS = [b"l%d" % i for i in range(8)] + [b"{a}%d" % i for i in range(4)] + [b"x\x00y", b"e"]
SKEYS = [b"s0", b"s1"]  # strings: WRONGTYPE
NUMS = [b"0", b"1", b"-1", b"2", b"-2", b"3", b"5", b"-5", b"10", b"-10", b"100", b"-100",
        b"9223372036854775807", b"-9223372036854775808", b"abc", b"", b"1.5", b" 1", b"007"]


def value(rng):
    r = rng.random()
    if r < 0.5:
        return rng.choice([b"a", b"b", b"c", b"d", b"", b"1", b"-7", b"x\x00y", b"a\r\nb"])
    if r < 0.9:
        return b"v%d" % rng.randrange(40)
    if r < 0.98:
        return bytes([rng.randrange(97, 123)]) * rng.choice([100, 700, 3000])
    return b"B" * rng.choice([8185, 8200, 20000])   # an element over one node


def key(rng):
    return rng.choice(LKEYS) if rng.random() < 0.92 else rng.choice(SKEYS)


def gen(rng):
    k = key(rng)
    c = rng.randrange(100)
    side = lambda: rng.choice([b"LEFT", b"RIGHT", b"left", b"Right", b"up"] if rng.random() < 0.1
                              else [b"LEFT", b"RIGHT"])
    if c < 18:
        n = rng.choice([1, 1, 2, 3, 10, 40, 70, 150])
        return [rng.choice([b"LPUSH", b"RPUSH"]), k] + [value(rng) for _ in range(n)]
    if c < 22:
        return [rng.choice([b"LPUSHX", b"RPUSHX"]), k] + [value(rng) for _ in range(
            rng.choice([1, 2, 5]))]
    if c < 30:
        a = [rng.choice([b"LPOP", b"RPOP"]), k]
        if rng.random() < 0.5:
            a.append(rng.choice(NUMS + [b"20", b"200"]))
        if rng.random() < 0.03:
            a.append(b"1")
        return a
    if c < 33:
        return [b"LLEN", k]
    if c < 43:
        return [b"LRANGE", k, rng.choice(NUMS), rng.choice(NUMS)]
    if c < 48:
        return [b"LINDEX", k, rng.choice(NUMS)]
    if c < 52:
        return [b"LSET", k, rng.choice(NUMS), value(rng)]
    if c < 56:
        return [b"LINSERT", k, rng.choice([b"BEFORE", b"AFTER", b"after", b"middle"]),
                value(rng), value(rng)]
    if c < 60:
        return [b"LREM", k, rng.choice(NUMS), value(rng)]
    if c < 64:
        return [b"LTRIM", k, rng.choice(NUMS), rng.choice(NUMS)]
    if c < 72:
        a = [b"LPOS", k, value(rng)]
        for _ in range(rng.randrange(4)):
            o = rng.choice([b"RANK", b"COUNT", b"MAXLEN", b"rank", b"BOGUS"])
            a += [o, rng.choice(NUMS)] if rng.random() < 0.95 else [o]
        return a
    if c < 82:
        return [b"LMOVE", k, key(rng), side(), side()]
    if c < 86:
        return [b"RPOPLPUSH", k, key(rng)]
    if c < 93:
        nk = rng.choice([1, 2, 3])
        a = [b"LMPOP", rng.choice([b"%d" % nk] * 8 + [b"0", b"-1", b"abc", b"9"])]
        a += [key(rng) for _ in range(nk)] + [side()]
        if rng.random() < 0.5:
            a += [b"COUNT", rng.choice(NUMS)]
        if rng.random() < 0.05:
            a += [b"COUNT", b"1"]
        return a
    if c < 94:
        return [b"SET", rng.choice(SKEYS), b"str"]
    if c < 95:
        # RENAME across shards copies the list into the other shard's arena
        return [rng.choice([b"RENAME", b"RENAMENX"]), k, key(rng)]
    if c < 96:
        return rng.choice([[b"DEL", k], [b"EXPIRE", k, b"1000"], [b"PERSIST", k],
                           [b"EXISTS", k]])
    if c < 97:
        return [b"HELLO", rng.choice([b"2", b"3"])]
    if c < 98:
        return [b"TYPE", k]
    # OBJECT is not served by hotpath yet (not a list command): no OBJECT
    # ENCODING here; the unit suite checks the encoding's name.
    return [rng.choice([b"LPUSH", b"LPOP", b"LRANGE", b"LMOVE", b"LMPOP", b"LPOS"])]


def mode_of(args):
    return TYPE_ONLY if args[0] == b"HELLO" else EXACT


def final_lists(d):
    """Every key's type and whole contents must match."""
    for conn in (d.ref, d.tgt):
        conn.call(b"HELLO", b"2")
    n = 0
    for k in LKEYS + SKEYS:
        for args in ([b"TYPE", k], [b"LRANGE", k, b"0", b"-1"], [b"LLEN", k]):
            d.exchange([(args, EXACT)])
        # The two servers ran a moment apart: TTLs within 2 s.
        d.exchange([([b"PTTL", k], ("tol", 2000))])
        n += 1
    return n


def run(srv, seed, count, batch_max, label):
    ref = reference_server()
    rng = random.Random(seed)
    d = Diff(srv.conn(), ref.conn(), seed, label)
    try:
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        batch = []
        for _ in range(count):
            if d.mismatches:
                break
            args = gen(rng)
            batch.append((args, mode_of(args)))
            if len(batch) >= rng.randint(1, batch_max):
                d.exchange(batch)
                batch = []
        if batch:
            d.exchange(batch)
        final_lists(d)
        stats = sorted((k.decode(errors="replace"), v) for k, v in d.stats.items())
        log("# %s: %d commands; per command (ok, err): %s" % (label, d.index, stats))
        check(d.mismatches == 0, "%d mismatches (seed %d)" % (d.mismatches, seed))
    finally:
        d.tgt.close()
        d.ref.close()


@suite.test(timeout=300)
def test_stream_sequential(srv):
    run(srv, SEED, COUNT, 1, "sequential")


@suite.test(timeout=300)
def test_stream_pipelined(srv):
    run(srv, SEED + 1, COUNT // 2, 32, "pipelined")


@suite.test
def test_edge_cases(srv):
    ref = reference_server()
    cases = [
        [b"LPOP", b"nokey"], [b"LPOP", b"nokey", b"0"], [b"LPOP", b"nokey", b"-1"],
        [b"HELLO", b"3"], [b"LPOP", b"nokey"], [b"LPOP", b"nokey", b"2"], [b"LINDEX", b"nokey", b"0"],
        [b"LMPOP", b"1", b"nokey", b"LEFT"], [b"LMOVE", b"nokey", b"d", b"LEFT", b"LEFT"],
        [b"LPOS", b"nokey", b"a"], [b"LPOS", b"nokey", b"a", b"COUNT", b"0"], [b"HELLO", b"2"],
        [b"RPUSH", b"l", b"a", b"b", b"c", b"a", b"b", b"a"],
        [b"LPOP", b"l", b"0"], [b"LPOS", b"l", b"a", b"RANK", b"-2", b"COUNT", b"0"],
        [b"LPOS", b"l", b"a", b"RANK", b"0"], [b"LPOS", b"l", b"a", b"RANK", b"-9223372036854775808"],
        [b"LPOS", b"l", b"a", b"MAXLEN", b"3", b"COUNT", b"0"], [b"LPOS", b"l", b"a", b"COUNT"],
        [b"LREM", b"l", b"-9223372036854775808", b"a"], [b"LRANGE", b"l", b"0", b"-1"],
        [b"LMOVE", b"l", b"l", b"LEFT", b"RIGHT"], [b"LMOVE", b"l", b"l", b"RIGHT", b"RIGHT"],
        [b"LMOVE", b"l", b"l", b"LEFT", b"LEFT"], [b"LMOVE", b"l", b"l", b"RIGHT", b"LEFT"],
        [b"LRANGE", b"l", b"0", b"-1"], [b"TYPE", b"l"],
        [b"LMPOP", b"2", b"l"], [b"LMPOP", b"2", b"a", b"l", b"LEFT", b"COUNT", b"0"],
        [b"LMPOP", b"1", b"l", b"LEFT", b"COUNT", b"2", b"COUNT", b"2"],
        [b"LMPOP", b"1", b"l", b"RIGHT", b"COUNT", b"100"], [b"EXISTS", b"l"],
        [b"LTRIM", b"nokey", b"a", b"b"], [b"LSET", b"nokey", b"0", b"x"],
        [b"LPOP", b"a", b"1", b"2"], [b"LINSERT", b"nokey", b"bad", b"a", b"b"],
        [b"RPUSH", b"m", b"1", b"2", b"3"], [b"LMPOP", b"9223372036854775807", b"m", b"LEFT"],
        [b"LMPOP", b"1", b"m", b"b"], [b"LMPOP", b"2", b"m"], [b"LMPOP", b"1", b"m", b"LEFT", b"COUNT"],
        [b"LMPOP", b"1", b"m", b"LEFT", b"COUNT", b"-9223372036854775808"],
        [b"LPOS", b"m", b"1", b"RANK", b"9223372036854775807"],
        [b"LPOS", b"m", b"1", b"MAXLEN", b"-1"], [b"LPOS", b"m", b"1", b"RANK", b"x"],
        [b"LRANGE", b"m", b"-9223372036854775808", b"9223372036854775807"],
        [b"LSET", b"m", b"-9223372036854775808", b"x"], [b"LINDEX", b"m", b"-9223372036854775808"],
        [b"LTRIM", b"m", b"-9223372036854775808", b"9223372036854775807"], [b"LRANGE", b"m", b"0", b"-1"],
        [b"LREM", b"m", b"9223372036854775807", b"1"], [b"LPOP", b"m", b"9223372036854775807"],
        [b"LPUSHX", b"m"], [b"LPUSH", b"m"], [b"LMOVE", b"m", b"m", b"LEFT"], [b"LRANGE", b"m", b"0"],
    ]
    d = Diff(srv.conn(), ref.conn(), 0, "edge")
    try:
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        for args in cases:
            d.exchange([(args, mode_of(args))])
        check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
    finally:
        d.tgt.close()
        d.ref.close()


@suite.test
def test_long_list_ranges(srv):
    """A list of 60,000 elements (hundreds of nodes): LRANGE, LINDEX, LSET,
    LINSERT and LTRIM at both ends and in the middle, as the reference."""
    ref = reference_server()
    d = Diff(srv.conn(), ref.conn(), 0, "long")
    try:
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        for i in range(0, 60000, 50):
            d.exchange([([b"RPUSH", b"big"] + [b"e%d" % j for j in range(i, i + 50)], EXACT)])
        for args in ([b"LRANGE", b"big", b"29990", b"30010"], [b"LRANGE", b"big", b"-5", b"-1"],
                     [b"LINDEX", b"big", b"31234"], [b"LINDEX", b"big", b"-31234"],
                     [b"LSET", b"big", b"30000", b"X" * 9000], [b"LINSERT", b"big", b"BEFORE",
                                                                 b"e40000", b"Y"],
                     [b"LPOS", b"big", b"e59999"], [b"LREM", b"big", b"0", b"e7"],
                     [b"LTRIM", b"big", b"100", b"-100"], [b"LLEN", b"big"],
                     [b"LRANGE", b"big", b"0", b"-1"], [b"LPOP", b"big", b"20000"],
                     [b"RPOP", b"big", b"1000"], [b"LRANGE", b"big", b"0", b"-1"]):
            d.exchange([(args, EXACT)])
        check(d.mismatches == 0, "%d mismatches (printed above)" % d.mismatches)
    finally:
        d.tgt.close()
        d.ref.close()


def aof_server(dirname):
    return Server(workers=2, extra_args=["--appendonly", "yes", "--appendfsync", "always",
                                         "--dir", dirname, "--loglevel", "notice"])


@suite.test(server=False, timeout=300)
def test_restart_with_log(_):
    """The same stream to hotpathd (log on) and redis-server, a kill -9,
    a restart: every key as the reference holds it.  The stream has a push
    wider than the operation records allow (the state fallback) and a
    BGREWRITEAOF in the middle (states again)."""
    d_dir = tempfile.mkdtemp(prefix="hp-list-aof-")
    ref = reference_server()
    try:
        srv = aof_server(d_dir).start()
        rng = random.Random(SEED + 7)
        d = Diff(srv.conn(), ref.conn(), SEED + 7, "restart")
        check(d.ref.call(b"FLUSHALL") == b"OK", "FLUSHALL on the reference")
        wide = [b"RPUSH", b"l1"] + [b"w%d" % i for i in range(1500)]
        for i in range(COUNT // 2):
            args = gen(rng)
            if args[0] == b"HELLO":
                continue
            d.exchange([(args, EXACT)])
            if i == COUNT // 8:
                d.exchange([(wide, EXACT)])
            if i == COUNT // 4:
                check(d.tgt.call(b"BGREWRITEAOF") is not None, "BGREWRITEAOF")
        d.exchange([(wide, EXACT)])
        check(d.mismatches == 0, "%d mismatches before the restart" % d.mismatches)
        d.tgt.close()
        srv.proc.kill()
        srv.proc.wait(10)
        srv.stop()
        srv.discard_logs()
        srv = aof_server(d_dir).start()
        d.tgt = srv.conn()
        n = final_lists(d)
        check(d.mismatches == 0, "%d keys differ after the restart" % d.mismatches)
        log("# restart: %d keys compared" % n)
        d.tgt.close()
        d.ref.close()
        srv.stop()
    finally:
        shutil.rmtree(d_dir, ignore_errors=True)


if __name__ == "__main__":
    run_suite(suite)
