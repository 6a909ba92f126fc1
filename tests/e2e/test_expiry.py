#!/usr/bin/python3
"""test_expiry.py - TTL options, lazy and active expiry, EXPIRE NX/XX/GT/LT."""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Suite, check, eq, info_fields, run_suite, encode  # noqa: E402

suite = Suite("expiry")


def near(got, want, tol, what):
    check(isinstance(got, int) and abs(got - want) <= tol,
          "%s: expected %d (+-%d), got %r" % (what, want, tol, got))


@suite.test
def test_set_ttl_options(srv):
    with srv.conn() as c:
        eq(c.call("SET", "ex", "v", "EX", "100"), b"OK")
        near(c.call("TTL", "ex"), 100, 1, "EX 100 -> TTL")
        near(c.call("PTTL", "ex"), 100000, 1500, "EX 100 -> PTTL")
        eq(c.call("SET", "px", "v", "PX", "123456"), b"OK")
        near(c.call("PTTL", "px"), 123456, 1500, "PX -> PTTL")
        near(c.call("TTL", "px"), 123, 1, "PX -> TTL")
        at = int(time.time()) + 500
        eq(c.call("SET", "exat", "v", "EXAT", str(at)), b"OK")
        eq(c.call("EXPIRETIME", "exat"), at, "EXAT -> EXPIRETIME")
        eq(c.call("PEXPIRETIME", "exat"), at * 1000, "EXAT -> PEXPIRETIME")
        near(c.call("TTL", "exat"), 500, 2, "EXAT -> TTL")
        psec = int(time.time()) + 300
        pat = psec * 1000 + 700
        eq(c.call("SET", "pxat", "v", "PXAT", str(pat)), b"OK")
        eq(c.call("PEXPIRETIME", "pxat"), pat, "PXAT -> PEXPIRETIME")
        eq(c.call("EXPIRETIME", "pxat"), psec + 1, "PXAT -> EXPIRETIME (rounded to nearest)")
        eq(c.call("SET", "pxat2", "v", "PXAT", str(psec * 1000 + 499)), b"OK")
        eq(c.call("EXPIRETIME", "pxat2"), psec, "EXPIRETIME rounds .499 down")
        eq(c.call("SET", "plain", "v"), b"OK")
        eq(c.call("TTL", "plain"), -1, "TTL no expiry")
        eq(c.call("PTTL", "plain"), -1, "PTTL no expiry")
        eq(c.call("EXPIRETIME", "plain"), -1, "EXPIRETIME no expiry")
        eq(c.call("TTL", "nokey"), -2, "TTL missing")
        eq(c.call("PTTL", "nokey"), -2, "PTTL missing")
        eq(c.call("EXPIRETIME", "nokey"), -2, "EXPIRETIME missing")
        eq(c.call("PEXPIRETIME", "nokey"), -2, "PEXPIRETIME missing")
        # Absolute times in the past: the key is gone at once.
        eq(c.call("SET", "past", "v", "EXAT", "1"), b"OK")
        eq(c.call("EXISTS", "past"), 0, "EXAT in the past")
        eq(c.call("SET", "past", "v", "PXAT", "1000"), b"OK")
        eq(c.call("GET", "past"), None, "PXAT in the past")
        for bad in (["EX", "0"], ["PX", "-5"], ["EXAT", "0"], ["EX", "9223372036854775807"],
                    ["PX", "9223372036854775807"]):
            eq(c.call_raw("SET", "x", "v", *bad),
               b"-ERR invalid expire time in 'set' command\r\n", "SET %s" % bad)
        eq(c.call_raw("SET", "x", "v", "EX", "1.5"),
           b"-ERR value is not an integer or out of range\r\n", "EX 1.5")
        eq(c.call_raw("SET", "x", "v", "EX"), b"-ERR syntax error\r\n", "EX without value")
        eq(c.call_raw("SET", "x", "v", "EX", "10", "KEEPTTL"), b"-ERR syntax error\r\n",
           "EX + KEEPTTL")
        eq(c.call("EXISTS", "x"), 0, "failed SETs wrote nothing")


@suite.test
def test_keepttl_and_ttl_survival(srv):
    with srv.conn() as c:
        c.call("SET", "k", "v1", "EX", "100")
        eq(c.call("SET", "k", "v2", "KEEPTTL"), b"OK")
        eq(c.call("GET", "k"), b"v2")
        near(c.call("TTL", "k"), 100, 1, "KEEPTTL kept it")
        eq(c.call("SET", "k", "v3"), b"OK")
        eq(c.call("TTL", "k"), -1, "plain SET clears the TTL")
        c.call("SET", "n", "1", "EX", "100")
        eq(c.call("INCR", "n"), 2)
        near(c.call("TTL", "n"), 100, 1, "INCR keeps TTL")
        eq(c.call("APPEND", "n", "0"), 2)
        near(c.call("TTL", "n"), 100, 1, "APPEND keeps TTL")
        eq(c.call("SETRANGE", "n", "0", "3"), 2)
        near(c.call("TTL", "n"), 100, 1, "SETRANGE keeps TTL")
        eq(c.call("INCRBYFLOAT", "n", "0.5"), b"30.5")
        near(c.call("TTL", "n"), 100, 1, "INCRBYFLOAT keeps TTL")
        eq(c.call("GETSET", "n", "x"), b"30.5")
        eq(c.call("TTL", "n"), -1, "GETSET clears TTL")
        c.call("SET", "m", "1", "EX", "100")
        c.call("MSET", "m", "2", "other", "3")
        eq(c.call("TTL", "m"), -1, "MSET clears TTL")
        c.call("SET", "r", "1", "PX", "100000")
        eq(c.call("RENAME", "r", "r2"), b"OK")
        near(c.call("PTTL", "r2"), 100000, 1500, "RENAME carries TTL")
        c.call("SET", "t", "1", "EX", "100")
        c.call("SET", "t", "2", "EX", "100", "GET")
        near(c.call("TTL", "t"), 100, 1, "SET GET EX")
        eq(c.call("SET", "t", "3", "KEEPTTL", "GET"), b"2")
        near(c.call("TTL", "t"), 100, 1, "SET KEEPTTL GET")


@suite.test
def test_getex(srv):
    with srv.conn() as c:
        c.call("SET", "g", "val")
        eq(c.call("GETEX", "g"), b"val", "GETEX plain")
        eq(c.call("TTL", "g"), -1, "GETEX plain leaves TTL")
        eq(c.call("GETEX", "g", "EX", "200"), b"val")
        near(c.call("TTL", "g"), 200, 1, "GETEX EX")
        eq(c.call("GETEX", "g", "PX", "50000"), b"val")
        near(c.call("PTTL", "g"), 50000, 1500, "GETEX PX")
        at = int(time.time()) + 900
        eq(c.call("GETEX", "g", "EXAT", str(at)), b"val")
        eq(c.call("EXPIRETIME", "g"), at, "GETEX EXAT")
        eq(c.call("GETEX", "g", "PXAT", str(at * 1000 + 7)), b"val")
        eq(c.call("PEXPIRETIME", "g"), at * 1000 + 7, "GETEX PXAT")
        eq(c.call("GETEX", "g", "PERSIST"), b"val")
        eq(c.call("TTL", "g"), -1, "GETEX PERSIST")
        eq(c.call("GETEX", "nokey", "EX", "10"), None, "GETEX missing")
        eq(c.call("EXISTS", "nokey"), 0)
        eq(c.call_raw("GETEX", "g", "EX", "10", "PX", "10"), b"-ERR syntax error\r\n")
        eq(c.call_raw("GETEX", "g", "EX", "0"),
           b"-ERR invalid expire time in 'getex' command\r\n")
        eq(c.call_raw("GETEX", "g", "EX", "x"),
           b"-ERR value is not an integer or out of range\r\n")
        eq(c.call_raw("GETEX", "g", "PERSIST", "EX", "10"), b"-ERR syntax error\r\n")
        eq(c.call_raw("GETEX", "g", "BOGUS"), b"-ERR syntax error\r\n")
        eq(c.call("TTL", "g"), -1, "failed GETEX changed nothing")
        eq(c.call("GETEX", "g", "EXAT", "1"), b"val", "GETEX EXAT past returns the value")
        eq(c.call("EXISTS", "g"), 0, "... and deletes the key")


@suite.test
def test_persist_and_expire_commands(srv):
    with srv.conn() as c:
        c.call("SET", "k", "v")
        eq(c.call("PERSIST", "k"), 0, "PERSIST without TTL")
        eq(c.call("PERSIST", "nokey"), 0, "PERSIST missing")
        eq(c.call("EXPIRE", "k", "100"), 1)
        near(c.call("TTL", "k"), 100, 1, "EXPIRE")
        eq(c.call("PERSIST", "k"), 1, "PERSIST")
        eq(c.call("TTL", "k"), -1)
        eq(c.call("PEXPIRE", "k", "100000"), 1)
        near(c.call("PTTL", "k"), 100000, 1500, "PEXPIRE")
        at = int(time.time()) + 1000
        eq(c.call("EXPIREAT", "k", str(at)), 1)
        eq(c.call("EXPIRETIME", "k"), at, "EXPIREAT")
        eq(c.call("PEXPIREAT", "k", str(at * 1000 + 5)), 1)
        eq(c.call("PEXPIRETIME", "k"), at * 1000 + 5, "PEXPIREAT")
        eq(c.call("EXPIRE", "nokey", "100"), 0, "EXPIRE missing")
        eq(c.call("EXPIRE", "k", "-1"), 1, "negative EXPIRE deletes")
        eq(c.call("EXISTS", "k"), 0)
        c.call("SET", "k", "v")
        eq(c.call("EXPIREAT", "k", "100"), 1, "EXPIREAT in the past deletes")
        eq(c.call("GET", "k"), None)
        c.call("SET", "k", "v")
        eq(c.call("PEXPIRE", "k", "0"), 1, "PEXPIRE 0 deletes")
        eq(c.call("EXISTS", "k"), 0)
        c.call("SET", "k", "v")
        eq(c.call_raw("EXPIRE", "k", "abc"),
           b"-ERR value is not an integer or out of range\r\n")
        eq(c.call_raw("EXPIRE", "k", "9223372036854775807"),
           b"-ERR invalid expire time in 'expire' command\r\n")
        eq(c.call_raw("PEXPIRE", "k", "9223372036854775807"),
           b"-ERR invalid expire time in 'pexpire' command\r\n")
        eq(c.call_raw("EXPIREAT", "k", "9223372036854775807"),
           b"-ERR invalid expire time in 'expireat' command\r\n")
        eq(c.call_raw("EXPIRE", "k", "10", "BOGUS"), b"-ERR Unsupported option BOGUS\r\n")
        eq(c.call_raw("EXPIRE", "k"), b"-ERR wrong number of arguments for 'expire' command\r\n")
        eq(c.call("TTL", "k"), -1, "failed EXPIREs changed nothing")


@suite.test
def test_expire_nx_xx_gt_lt(srv):
    with srv.conn() as c:
        c.call("SET", "k", "v")
        eq(c.call("EXPIRE", "k", "100", "XX"), 0, "XX without TTL")
        eq(c.call("TTL", "k"), -1)
        eq(c.call("EXPIRE", "k", "100", "GT"), 0, "GT without TTL (infinite)")
        eq(c.call("TTL", "k"), -1)
        eq(c.call("EXPIRE", "k", "100", "NX"), 1, "NX without TTL")
        near(c.call("TTL", "k"), 100, 1, "NX set it")
        eq(c.call("EXPIRE", "k", "200", "NX"), 0, "NX with TTL")
        near(c.call("TTL", "k"), 100, 1, "NX kept it")
        eq(c.call("EXPIRE", "k", "300", "XX"), 1, "XX with TTL")
        near(c.call("TTL", "k"), 300, 1, "XX set it")
        eq(c.call("EXPIRE", "k", "200", "GT"), 0, "GT smaller")
        eq(c.call("EXPIRE", "k", "400", "GT"), 1, "GT larger")
        near(c.call("TTL", "k"), 400, 1, "GT set it")
        eq(c.call("EXPIRE", "k", "500", "LT"), 0, "LT larger")
        eq(c.call("EXPIRE", "k", "50", "LT"), 1, "LT smaller")
        near(c.call("TTL", "k"), 50, 1, "LT set it")
        eq(c.call("EXPIRE", "k", "60", "XX", "GT"), 1, "XX GT")
        near(c.call("TTL", "k"), 60, 1, "XX GT set it")
        eq(c.call("PEXPIRE", "k", "1000", "gt"), 0, "lower-case gt, smaller")
        at = int(time.time()) + 5000
        eq(c.call("EXPIREAT", "k", str(at), "GT"), 1, "EXPIREAT GT")
        eq(c.call("EXPIRETIME", "k"), at)
        eq(c.call("PEXPIREAT", "k", str(at * 1000 - 1), "LT"), 1, "PEXPIREAT LT")
        eq(c.call("PEXPIRETIME", "k"), at * 1000 - 1)
        c.call("SET", "p", "v")
        eq(c.call("EXPIRE", "p", "100", "LT"), 1, "LT without TTL (infinite)")
        near(c.call("TTL", "p"), 100, 1, "LT on persistent key")
        eq(c.call("EXPIRE", "nokey", "100", "NX"), 0, "NX on missing key")
        eq(c.call_raw("EXPIRE", "k", "10", "NX", "XX"),
           b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n")
        eq(c.call_raw("EXPIRE", "k", "10", "NX", "GT"),
           b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n")
        eq(c.call_raw("EXPIRE", "k", "10", "GT", "LT"),
           b"-ERR GT and LT options at the same time are not compatible\r\n")
        eq(c.call("PEXPIRETIME", "k"), at * 1000 - 1, "errors changed nothing")


@suite.test
def test_lazy_expiry(srv):
    with srv.conn() as c:
        for i in range(50):
            c.send("SET", "lz:%d" % i, "v", "PX", "400")
        check(c.read_n(50) == [b"OK"] * 50, "SET PX replies")
        c.call("SET", "keep", "v")
        eq(c.call("EXISTS", *["lz:%d" % i for i in range(50)]), 50, "alive before expiry")
        time.sleep(0.7)
        eq(c.call("GET", "lz:0"), None, "GET after expiry")
        eq(c.call("EXISTS", "lz:1"), 0, "EXISTS after expiry")
        eq(c.call("TTL", "lz:2"), -2, "TTL after expiry")
        eq(c.call("TYPE", "lz:3"), b"none", "TYPE after expiry")
        eq(c.call("STRLEN", "lz:4"), 0, "STRLEN after expiry")
        eq(c.call("APPEND", "lz:5", "ab"), 2, "APPEND after expiry starts empty")
        eq(c.call("TTL", "lz:5"), -1, "new key has no TTL")
        eq(c.call("INCR", "lz:6"), 1, "INCR after expiry starts at 0")
        eq(c.call("SET", "lz:7", "n", "NX"), b"OK", "SET NX after expiry")
        eq(c.call("MGET", "lz:8", "lz:9", "keep"), [None, None, b"v"], "MGET after expiry")
        eq(c.call("PERSIST", "lz:10"), 0, "PERSIST after expiry")
        eq(c.call("EXPIRE", "lz:11", "100"), 0, "EXPIRE after expiry")
        eq(c.call("GETDEL", "lz:12"), None, "GETDEL after expiry")
        eq(c.call("RENAMENX", "keep", "lz:13"), 1, "RENAMENX onto expired key")
        eq(c.call_raw("RENAME", "lz:14", "x"), b"-ERR no such key\r\n", "RENAME expired")
        eq(sorted(c.call("KEYS", "*")), sorted([b"lz:5", b"lz:6", b"lz:7", b"lz:13"]),
           "KEYS hides expired keys")
        eq(c.call("RANDOMKEY") in (b"lz:5", b"lz:6", b"lz:7", b"lz:13"), True,
           "RANDOMKEY returns a live key")


def dbsize(c):
    return c.call("DBSIZE")


@suite.test
def test_active_expiry(srv):
    n = 20000
    with srv.conn() as c:
        # Pipelined in batches of 1000 so the test does not depend on buffering.
        for base in range(0, n, 1000):
            c.send_raw(b"".join(encode("SET", "ax:%d" % i, "v", "PX", "200")
                                for i in range(base, base + 1000)))
            replies = c.read_n(1000)
            check(all(r == b"OK" for r in replies), "SET PX replies")
        c.call("SELECT", "1")
        for i in range(500):
            c.send(b"SET", b"db1:%d" % i, b"v", b"PX", b"200")
        check(all(r == b"OK" for r in c.read_n(500)), "SET PX in db1")
        c.call("SELECT", "0")
        for i in range(100):
            c.call("SET", "persistent:%d" % i, "v")
        for i in range(100):
            c.call("SET", "long:%d" % i, "v", "EX", "1000")
        time.sleep(1.5)
        # Without touching the keys, the active cycle must reclaim them.
        deadline = time.monotonic() + 15
        size = dbsize(c)
        while size != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            size = dbsize(c)
        eq(size, 200, "DBSIZE once the active cycle reclaimed 20000 expired keys")
        c.call("SELECT", "1")
        size = dbsize(c)
        while size != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            size = dbsize(c)
        eq(size, 0, "db1 DBSIZE after active expiry")
        ks = info_fields(c.call("INFO", "keyspace"))
        check("db1" not in ks, "empty db1 not listed in INFO keyspace: %r" % ks)
        parts = dict(p.split("=") for p in ks["db0"].split(","))
        eq(parts["keys"], "200", "INFO keyspace db0 keys")
        eq(parts["expires"], "100", "INFO keyspace db0 expires")
        st = info_fields(c.call("INFO", "stats"))
        if "expired_keys" in st:
            check(int(st["expired_keys"]) >= n + 500,
                  "expired_keys counts the reclaimed keys: %r" % st["expired_keys"])


@suite.test
def test_active_expiry_spares_changed_keys(srv):
    # Keys whose TTL was removed or extended after they were set with a
    # short one must survive the active cycle; renamed ones expire under
    # their new name.
    n = 4000
    with srv.conn() as c:
        # 3 s leaves the overwrites below ample time even on a slow, loaded box.
        c.send_raw(b"".join(encode("SET", "ch:%d" % i, "v", "PX", "3000") for i in range(n)))
        check(all(r == b"OK" for r in c.read_n(n)), "SET PX replies")
        reqs = []
        for i in range(0, n, 4):
            reqs.append(encode("SET", "ch:%d" % i, "plain"))           # TTL cleared
            reqs.append(encode("PERSIST", "ch:%d" % (i + 1)))          # TTL removed
            reqs.append(encode("PEXPIRE", "ch:%d" % (i + 2), "100000"))  # TTL extended
            reqs.append(encode("RENAME", "ch:%d" % (i + 3), "moved:%d" % i))  # keeps its 3 s
        c.send_raw(b"".join(reqs))
        replies = c.read_n(len(reqs))
        eq(replies, [b"OK", 1, 1, b"OK"] * (n // 4), "overwrite replies")
        eq(len(c.call("KEYS", "moved:*")), n // 4, "renamed keys before they expire")
        time.sleep(3.0)
        deadline = time.monotonic() + 15
        size = dbsize(c)
        while size != 3 * n // 4 and time.monotonic() < deadline:
            time.sleep(0.2)
            size = dbsize(c)
        eq(size, 3 * n // 4, "DBSIZE: only the renamed (still expiring) keys are gone")
        eq(c.call("GET", "ch:0"), b"plain")
        eq(c.call("TTL", "ch:1"), -1, "persisted key")
        ttl = c.call("TTL", "ch:2")
        check(80 <= ttl <= 100, "extended key keeps its 100 s TTL: %r" % ttl)
        eq(c.call("EXISTS", "moved:0"), 0, "renamed key expired under its new name")
        eq(len(c.call("KEYS", "moved:*")), 0, "no renamed key left")
        eq(len(c.call("KEYS", "ch:*")), 3 * n // 4, "KEYS agrees with DBSIZE")


@suite.test
def test_expire_then_recreate(srv):
    # A key that expired and was created again must not be expired by a
    # stale expiry record of its previous life.
    with srv.conn() as c:
        for i in range(200):
            c.call("SET", "re:%d" % i, "old", "PX", "200")
        time.sleep(0.4)
        for i in range(200):
            eq(c.call("SET", "re:%d" % i, "new"), b"OK")
        time.sleep(0.6)
        eq(c.call("DBSIZE"), 200, "recreated keys all present")
        eq(c.call("TTL", "re:7"), -1, "recreated key has no TTL")
        eq(c.call("GET", "re:199"), b"new")


if __name__ == "__main__":
    run_suite(suite)
