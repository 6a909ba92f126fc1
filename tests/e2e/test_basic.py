#!/usr/bin/python3
"""test_basic.py - string/key/server commands through redis-py, raw RESP and redis-cli."""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from hp_harness import (Suite, check, eq, info_fields, run_suite, wait_for,  # noqa: E402
                        ErrorReply, ConnectionClosed)

suite = Suite("basic")


def expect_error(fn, text):
    """fn() must raise a redis ResponseError whose message is exactly text."""
    try:
        r = fn()
    except redis.ResponseError as e:
        eq(str(e), text, "error text")
        return
    raise AssertionError("expected error %r, got reply %r" % (text, r))


@suite.test
def test_ping_echo(srv):
    r = srv.client()
    eq(r.ping(), True, "PING")
    eq(r.echo("hello world"), b"hello world", "ECHO")
    eq(r.echo(b"\x00\xff\r\n"), b"\x00\xff\r\n", "ECHO binary")
    with srv.conn() as c:
        eq(c.call_raw("PING"), b"+PONG\r\n", "raw PING")
        eq(c.call_raw("PING", "hi"), b"$2\r\nhi\r\n", "PING with message")
        eq(c.call_raw("ping"), b"+PONG\r\n", "lower-case ping")
        eq(c.call_raw("PING", "a", "b"),
           b"-ERR wrong number of arguments for 'ping' command\r\n", "PING arity")
        c.send_raw(b"PING\r\n")          # inline form
        eq(c.read_raw(), b"+PONG\r\n", "inline PING")
        c.send_raw(b"ECHO \"a b\"\r\n")  # inline with quotes
        eq(c.read_raw(), b"$3\r\na b\r\n", "inline ECHO with quotes")


@suite.test
def test_set_get_del_exists_type(srv):
    r = srv.client()
    eq(r.get("nokey"), None, "GET missing")
    eq(r.set("k1", "v1"), True, "SET")
    eq(r.get("k1"), b"v1", "GET")
    eq(r.set("k1", "v2"), True, "SET overwrite")
    eq(r.get("k1"), b"v2", "GET after overwrite")
    for i in range(20):
        r.set("key:%d" % i, i)
    eq(r.exists("k1", "key:1", "nokey", "k1"), 3, "EXISTS counts duplicates")
    eq(r.type("k1"), b"string", "TYPE string")
    eq(r.type("nokey"), b"none", "TYPE none")
    eq(r.delete("k1", "key:1", "key:2", "nokey"), 3, "DEL count")
    eq(r.exists("k1"), 0, "EXISTS after DEL")
    eq(r.unlink("key:3", "key:3", "key:4"), 2, "UNLINK")
    eq(r.touch("key:5", "key:6", "nokey"), 2, "TOUCH")
    eq(r.dbsize(), 16, "DBSIZE")


@suite.test
def test_set_options(srv):
    r = srv.client()
    eq(r.set("s", "a", nx=True), True, "SET NX on missing")
    eq(r.set("s", "b", nx=True), None, "SET NX on existing")
    eq(r.get("s"), b"a", "value kept")
    eq(r.set("s", "c", xx=True), True, "SET XX on existing")
    eq(r.set("s2", "c", xx=True), None, "SET XX on missing")
    eq(r.exists("s2"), 0, "SET XX did not create")
    eq(r.set("s", "d", get=True), b"c", "SET GET returns old")
    eq(r.set("new", "x", get=True), None, "SET GET on missing")
    eq(r.setnx("s", "z"), False, "SETNX existing")
    eq(r.setnx("s3", "z"), True, "SETNX missing")
    eq(r.getset("s3", "y"), b"z", "GETSET")
    eq(r.getdel("s3"), b"y", "GETDEL")
    eq(r.getdel("s3"), None, "GETDEL missing")
    eq(r.setex("se", 100, "v"), True, "SETEX")
    check(0 < r.ttl("se") <= 100, "SETEX ttl")
    eq(r.psetex("pse", 100000, "v"), True, "PSETEX")
    check(0 < r.pttl("pse") <= 100000, "PSETEX pttl")
    with srv.conn() as c:
        eq(c.call_raw("SET", "s", "v", "NX", "XX"), b"-ERR syntax error\r\n", "NX+XX")
        eq(c.call_raw("SET", "s", "v", "EX", "10", "PX", "100"), b"-ERR syntax error\r\n",
           "EX+PX")
        eq(c.call_raw("SET", "s", "v", "EX", "0"),
           b"-ERR invalid expire time in 'set' command\r\n", "EX 0")
        eq(c.call_raw("SET", "s", "v", "EX", "abc"),
           b"-ERR value is not an integer or out of range\r\n", "EX abc")
        eq(c.call_raw("SET", "s", "v", "BOGUS"), b"-ERR syntax error\r\n", "bad option")
        eq(c.call_raw("SETEX", "s", "-1", "v"),
           b"-ERR invalid expire time in 'setex' command\r\n", "SETEX -1")


@suite.test
def test_incr_family(srv):
    r = srv.client()
    eq(r.incr("c"), 1, "INCR new")
    eq(r.incr("c"), 2, "INCR")
    eq(r.incrby("c", 10), 12, "INCRBY")
    eq(r.decr("c"), 11, "DECR")
    eq(r.decrby("c", 20), -9, "DECRBY")
    eq(r.get("c"), b"-9", "value as string")
    r.set("big", "9223372036854775806")
    eq(r.incr("big"), 9223372036854775807, "INCR to max")
    expect_error(lambda: r.incr("big"), "increment or decrement would overflow")
    r.set("small", "-9223372036854775808")
    expect_error(lambda: r.decr("small"), "increment or decrement would overflow")
    r.set("str", "abc")
    expect_error(lambda: r.incr("str"), "value is not an integer or out of range")
    r.set("sp", " 1")
    expect_error(lambda: r.incr("sp"), "value is not an integer or out of range")
    expect_error(lambda: r.incrby("c", "1.5"), "value is not an integer or out of range")
    expect_error(lambda: r.decrby("c", "-9223372036854775808"), "decrement would overflow")
    eq(r.get("c"), b"-9", "failed ops left value alone")


@suite.test
def test_incrbyfloat(srv):
    r = srv.client()
    with srv.conn() as c:
        eq(c.call("SET", "f", "10.50"), b"OK")
        eq(c.call("INCRBYFLOAT", "f", "0.1"), b"10.6", "INCRBYFLOAT")
        eq(c.call("INCRBYFLOAT", "f", "-5"), b"5.6", "negative")
        eq(c.call("SET", "g", "5.0e3"), b"OK")
        eq(c.call("INCRBYFLOAT", "g", "2.0e2"), b"5200", "exponent form")
        eq(c.call("INCRBYFLOAT", "h", "3"), b"3", "new key")
        eq(c.call("INCRBYFLOAT", "h", "1.5"), b"4.5")
        eq(c.call_raw("INCRBYFLOAT", "h", "abc"), b"-ERR value is not a valid float\r\n")
        eq(c.call_raw("INCRBYFLOAT", "h", "inf"),
           b"-ERR increment would produce NaN or Infinity\r\n")
        eq(c.call("SET", "s", "hello"), b"OK")
        eq(c.call_raw("INCRBYFLOAT", "s", "1"), b"-ERR value is not a valid float\r\n")
    eq(r.get("h"), b"4.5", "value after errors")


@suite.test
def test_append_strlen_ranges(srv):
    r = srv.client()
    eq(r.append("a", "Hello"), 5, "APPEND new")
    eq(r.append("a", " World"), 11, "APPEND")
    eq(r.get("a"), b"Hello World")
    eq(r.strlen("a"), 11, "STRLEN")
    eq(r.strlen("nokey"), 0, "STRLEN missing")
    r.set("s", "This is a string")
    eq(r.getrange("s", 0, 3), b"This")
    eq(r.getrange("s", -3, -1), b"ing")
    eq(r.getrange("s", 0, -1), b"This is a string")
    eq(r.getrange("s", 10, 100), b"string")
    eq(r.getrange("s", 5, 3), b"", "start > end")
    eq(r.getrange("nokey", 0, 10), b"", "missing key")
    r.set("k", "Hello World")
    eq(r.setrange("k", 6, "Redis"), 11, "SETRANGE")
    eq(r.get("k"), b"Hello Redis")
    eq(r.setrange("pad", 5, "x"), 6, "SETRANGE pads")
    eq(r.get("pad"), b"\x00\x00\x00\x00\x00x", "zero padding")
    eq(r.setrange("empty", 3, ""), 0, "SETRANGE empty value on missing key")
    eq(r.exists("empty"), 0, "not created")
    expect_error(lambda: r.setrange("k", -1, "x"), "offset is out of range")
    expect_error(lambda: r.setrange("k", 536870912, "x"),
                 "string exceeds maximum allowed size (proto-max-bulk-len)")


@suite.test
def test_mset_mget_msetnx(srv):
    r = srv.client()
    pairs = {"m:%d" % i: "v%d" % i for i in range(200)}  # spread over all shards
    eq(r.mset(pairs), True, "MSET")
    keys = list(pairs) + ["missing:1", "missing:2"]
    got = r.mget(keys)
    eq(got, [pairs[k].encode() for k in pairs] + [None, None], "MGET")
    eq(r.msetnx({"n:1": "a", "n:2": "b", "{t}n3": "c"}), True, "MSETNX all new")
    eq(r.msetnx({"n:4": "a", "n:1": "z"}), False, "MSETNX one exists")
    eq(r.exists("n:4"), 0, "MSETNX set nothing")
    eq(r.get("n:1"), b"a", "MSETNX left old value")
    with srv.conn() as c:
        eq(c.call_raw("MSET", "a", "1", "b"),
           b"-ERR wrong number of arguments for 'mset' command\r\n", "MSET odd args")
        eq(c.call_raw("MSETNX", "a", "1", "b"),
           b"-ERR wrong number of arguments for 'msetnx' command\r\n", "MSETNX odd args")


@suite.test
def test_rename(srv):
    r = srv.client()
    r.set("src", "v", ex=1000)
    eq(r.rename("src", "dst:far"), True, "RENAME")
    eq(r.get("dst:far"), b"v")
    eq(r.exists("src"), 0, "source gone")
    check(990 < r.ttl("dst:far") <= 1000, "RENAME keeps TTL: %r" % r.ttl("dst:far"))
    r.set("other", "o")
    eq(r.rename("dst:far", "other"), True, "RENAME overwrites")
    eq(r.get("other"), b"v")
    check(r.ttl("other") > 0, "overwritten target takes source TTL")
    expect_error(lambda: r.rename("nokey", "x"), "no such key")
    eq(r.rename("other", "other"), True, "RENAME to self")
    eq(r.get("other"), b"v")
    r.set("a", "1")
    r.set("b", "2")
    eq(r.renamenx("a", "b"), False, "RENAMENX existing target")
    eq(r.get("a"), b"1")
    eq(r.renamenx("a", "c"), True, "RENAMENX")
    eq(r.get("c"), b"1")
    eq(r.renamenx("c", "c"), False, "RENAMENX to self")
    expect_error(lambda: r.renamenx("nokey", "x"), "no such key")
    for i in range(50):  # many shard pairs
        r.set("rn:%d" % i, i)
        eq(r.rename("rn:%d" % i, "rn2:%d" % i), True)
        eq(r.get("rn2:%d" % i), str(i).encode(), "renamed value %d" % i)
    eq(len(r.keys("rn:*")), 0, "no source left")


@suite.test
def test_keys_pattern(srv):
    r = srv.client()
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "user:1", "user:22", "{t}x", "a*b"]
    for n in names:
        r.set(n, 1)
    eq(sorted(r.keys("*")), sorted(n.encode() for n in names), "KEYS *")
    eq(sorted(r.keys("h?llo")), [b"hallo", b"hello", b"hxllo"], "h?llo")
    eq(sorted(r.keys("h*llo")), [b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"], "h*llo")
    eq(sorted(r.keys("h[ae]llo")), [b"hallo", b"hello"], "h[ae]llo")
    eq(sorted(r.keys("h[^e]llo")), [b"hallo", b"hxllo"], "h[^e]llo")
    eq(sorted(r.keys("h[a-b]llo")), [b"hallo"], "h[a-b]llo")
    eq(sorted(r.keys("user:*")), [b"user:1", b"user:22"], "user:*")
    eq(r.keys("a\\*b"), [b"a*b"], "escaped *")
    eq(r.keys("nomatch*"), [], "no match")


def scan_all(r, **kw):
    keys, cursor, calls = [], 0, 0
    while True:
        cursor, batch = r.scan(cursor, **kw)
        keys += batch
        calls += 1
        check(calls < 20000, "SCAN did not finish within 20000 calls")
        if cursor == 0:
            return keys, calls


@suite.test
def test_scan_full_iteration(srv):
    r = srv.client()
    p = r.pipeline(transaction=False)
    for i in range(3000):
        p.set("scan:%d" % i, i)
    for i in range(500):
        p.set("other:%d" % i, i)
    p.execute()
    keys, calls = scan_all(r)
    eq(len(keys), 3500, "keys returned (duplicates included)")
    eq(len(set(keys)), 3500, "all distinct keys seen")
    keys, calls = scan_all(r, match="scan:*", count=50)
    eq(set(keys), {("scan:%d" % i).encode() for i in range(3000)}, "MATCH scan:*")
    check(calls > 1, "COUNT 50 over 3000 keys needs several calls")
    keys, _ = scan_all(r, match="other:1*", count=1000)
    eq(set(keys), {("other:%d" % i).encode() for i in range(500) if str(i).startswith("1")},
       "MATCH other:1*")
    keys, _ = scan_all(r, _type="string", count=500)
    eq(len(set(keys)), 3500, "TYPE string")
    keys, _ = scan_all(r, _type="hash", count=500)
    eq(keys, [], "TYPE hash")
    with srv.conn() as c:
        eq(c.call_raw("SCAN", "abc"), b"-ERR invalid cursor\r\n", "bad cursor")
        eq(c.call_raw("SCAN", "0", "COUNT", "0"), b"-ERR syntax error\r\n", "COUNT 0")
        eq(c.call_raw("SCAN", "0", "COUNT", "x"),
           b"-ERR value is not an integer or out of range\r\n", "COUNT x")
        eq(c.call_raw("SCAN", "0", "BOGUS", "1"), b"-ERR syntax error\r\n", "bad option")


@suite.test
def test_scan_empty_and_dbs(srv):
    r = srv.client()
    eq(scan_all(r)[0], [], "empty db")
    r1 = srv.client(db=3)
    r1.set("in3", 1)
    eq(scan_all(r)[0], [], "db0 still empty")
    eq(scan_all(r1)[0], [b"in3"], "db3 has its key")


@suite.test
def test_randomkey_dbsize(srv):
    r = srv.client()
    eq(r.randomkey(), None, "RANDOMKEY empty")
    eq(r.dbsize(), 0, "DBSIZE empty")
    names = {("rk:%d" % i).encode() for i in range(64)}
    for n in names:
        r.set(n, 1)
    eq(r.dbsize(), 64, "DBSIZE")
    seen = set()
    for _ in range(300):
        k = r.randomkey()
        check(k in names, "RANDOMKEY returned %r, not an existing key" % (k,))
        seen.add(k)
    check(len(seen) >= 8, "RANDOMKEY not random: only %d distinct keys in 300 calls" % len(seen))
    r.flushdb()
    r.set("only", 1)
    for _ in range(20):
        eq(r.randomkey(), b"only", "single key")


@suite.test
def test_select_flush_isolation(srv):
    dbs = [srv.client(db=i) for i in range(4)]
    for i, r in enumerate(dbs):
        for j in range(30):
            r.set("k%d" % j, "db%d" % i)
    for i, r in enumerate(dbs):
        eq(r.get("k7"), ("db%d" % i).encode(), "value in db %d" % i)
        eq(r.dbsize(), 30, "DBSIZE db %d" % i)
    eq(dbs[1].flushdb(), True, "FLUSHDB")
    eq(dbs[1].dbsize(), 0, "db1 flushed")
    eq(dbs[0].dbsize(), 30, "db0 untouched by FLUSHDB 1")
    eq(dbs[2].dbsize(), 30, "db2 untouched by FLUSHDB 1")
    with srv.conn() as c:
        eq(c.call("SELECT", "2"), b"OK")
        eq(c.call("GET", "k0"), b"db2", "raw SELECT 2")
        eq(c.call_raw("SELECT", "16"), b"-ERR DB index is out of range\r\n")
        eq(c.call_raw("SELECT", "-1"), b"-ERR DB index is out of range\r\n")
        eq(c.call_raw("SELECT", "x"), b"-ERR value is not an integer or out of range\r\n")
        eq(c.call("GET", "k0"), b"db2", "failed SELECT kept the db")
        eq(c.call("SELECT", "15"), b"OK")
        eq(c.call("SET", "last", "15"), b"OK")
    eq(srv.client(db=15).get("last"), b"15")
    eq(dbs[0].flushall(), True, "FLUSHALL")
    for i, r in enumerate(dbs + [srv.client(db=15)]):
        eq(r.dbsize(), 0, "db emptied by FLUSHALL (%d)" % i)
    eq(dbs[0].flushdb(asynchronous=True), True, "FLUSHDB ASYNC")
    with srv.conn() as c:
        eq(c.call_raw("FLUSHALL", "SYNC"), b"+OK\r\n")
        eq(c.call_raw("FLUSHDB", "BOGUS"), b"-ERR syntax error\r\n")


@suite.test
def test_hello_resp3(srv):
    # python3-redis 4.3 has no RESP3 client, so speak it on a raw socket.
    with srv.conn() as c:
        h = c.call("HELLO", "3")
        check(isinstance(h, dict), "HELLO 3 must answer a map, got %r" % (h,))
        eq(h.get(b"proto"), 3, "HELLO 3 proto")
        check(isinstance(h.get(b"id"), int), "HELLO reply has an integer id")
        check(b"version" in h and b"server" in h, "HELLO reply has server and version")
        eq(c.call_raw("GET", "nokey"), b"_\r\n", "RESP3 null")
        eq(c.call_raw("SET", "k", "v"), b"+OK\r\n")
        eq(c.call_raw("GET", "k"), b"$1\r\nv\r\n")
        eq(c.call_raw("MGET", "k", "nokey"), b"*2\r\n$1\r\nv\r\n_\r\n", "RESP3 MGET")
        eq(c.call_raw("EXISTS", "k"), b":1\r\n")
        cg = c.call("CONFIG", "GET", "hz")
        check(isinstance(cg, dict) and b"hz" in cg, "CONFIG GET under RESP3 is a map: %r" % (cg,))
        h2 = c.call("HELLO", "2")
        check(isinstance(h2, list), "HELLO 2 answers a flat array, got %r" % (h2,))
        eq(dict(zip(h2[::2], h2[1::2])).get(b"proto"), 2, "HELLO 2 proto")
        eq(c.call_raw("GET", "nokey"), b"$-1\r\n", "back to RESP2 null")
        eq(c.call_raw("HELLO", "4"), b"-NOPROTO unsupported protocol version\r\n")
        eq(c.call_raw("HELLO", "x"),
           b"-ERR Protocol version is not an integer or out of range\r\n")
        h = c.call("HELLO", "3", "SETNAME", "hello-conn")
        eq(h.get(b"proto"), 3)
        eq(c.call("CLIENT", "GETNAME"), b"hello-conn", "HELLO SETNAME")
        eq(c.call_raw("RESET"), b"+RESET\r\n", "RESET")
        eq(c.call_raw("GET", "nokey"), b"$-1\r\n", "RESET went back to RESP2")
        eq(c.call_raw("CLIENT", "GETNAME"), b"$-1\r\n", "RESET cleared the name")


@suite.test
def test_client_commands(srv):
    a = srv.conn()
    b = srv.conn()
    try:
        eq(a.call("CLIENT", "SETNAME", "conn-a"), b"OK")
        eq(a.call("CLIENT", "GETNAME"), b"conn-a")
        eq(b.call("CLIENT", "GETNAME"), None, "no name yet")
        eq(a.call_raw("CLIENT", "SETNAME", "bad name"),
           b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        ida = a.call("CLIENT", "ID")
        idb = b.call("CLIENT", "ID")
        check(isinstance(ida, int) and isinstance(idb, int) and ida != idb,
              "distinct integer ids: %r %r" % (ida, idb))
        lst = a.call("CLIENT", "LIST").decode()
        lines = [ln for ln in lst.splitlines() if ln.strip()]
        check(len(lines) >= 2, "CLIENT LIST lists both connections: %r" % lst)
        mine = [ln for ln in lines if ("id=%d " % ida) in ln]
        eq(len(mine), 1, "one CLIENT LIST line for id %d" % ida)
        check(" name=conn-a " in " " + mine[0] + " ", "name in CLIENT LIST: %r" % mine[0])
        check(" addr=127.0.0.1:" in " " + mine[0], "addr in CLIENT LIST: %r" % mine[0])
        eq(a.call("CLIENT", "KILL", "ID", str(idb)), 1, "CLIENT KILL ID")
        try:
            rb = b.call("PING")
            raise AssertionError("killed client still answered %r" % (rb,))
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
            pass
        eq(a.call("CLIENT", "KILL", "ID", "99999999"), 0, "CLIENT KILL unknown id")
        eq(a.call_raw("CLIENT", "KILL", "1.2.3.4:5"), b"-ERR No such client\r\n",
           "old-form KILL unknown addr")
        c = srv.conn()
        idc = c.call("CLIENT", "ID")  # also makes sure the server accepted c
        addr = [ln for ln in a.call("CLIENT", "LIST").decode().splitlines()
                if ("id=%d " % idc) in ln]
        check(len(addr) == 1, "CLIENT LIST has a line for id %d" % idc)
        addr = addr[0]
        addr = addr.split(" addr=", 1)[1].split(" ", 1)[0]
        eq(a.call("CLIENT", "KILL", addr), b"OK", "old-form KILL by addr")
        try:
            rc = c.call("PING")
            raise AssertionError("killed client still answered %r" % (rc,))
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
            pass
        c.close()
        eq(a.call("PING"), b"PONG", "killer connection still fine")
    finally:
        a.close()
        b.close()


@suite.test
def test_client_kill_many(srv):
    # Connections land on different workers; every one must be killable.
    conns = [srv.conn() for _ in range(16)]
    ctl = srv.conn()
    try:
        ids = [c.call("CLIENT", "ID") for c in conns]
        listed = ctl.call("CLIENT", "LIST").decode()
        for i in ids:
            check(("id=%d " % i) in listed, "CLIENT LIST shows connection id %d" % i)
        for i in ids:
            eq(ctl.call("CLIENT", "KILL", "ID", str(i)), 1, "kill id %d" % i)
        for c in conns:
            try:
                c.call("PING")
                raise AssertionError("killed connection still answers")
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                pass
        eq(ctl.call("PING"), b"PONG")
    finally:
        ctl.close()
        for c in conns:
            c.close()


@suite.test
def test_config_get_set(srv):
    r = srv.client()
    eq(r.config_get("hz"), {"hz": "10"}, "default hz")
    eq(r.config_set("hz", 20), True, "CONFIG SET hz")
    eq(r.config_get("hz"), {"hz": "20"}, "hz changed")
    eq(r.config_set("hz", 10), True)
    eq(r.config_get("nosuchparam"), {}, "unknown parameter matches nothing")
    got = r.config_get("maxclient*")
    check("maxclients" in got, "glob matches maxclients: %r" % got)
    with srv.conn() as c:
        eq(c.call_raw("CONFIG", "SET", "hz", "abc"),
           b"-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't "
           b"be parsed into an integer\r\n", "CONFIG SET bad value")
        eq(c.call_raw("CONFIG", "SET", "nosuch", "1"),
           b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
           "CONFIG SET unknown")
        eq(c.call_raw("CONFIG", "BOGUS"),
           b"-ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.\r\n", "CONFIG BOGUS")
    eq(r.config_get("hz"), {"hz": "10"}, "bad CONFIG SET changed nothing")


@suite.test
def test_info_sections(srv):
    r = srv.client()
    for i in range(25):
        r.set("i:%d" % i, i)
    r.set("e", 1, ex=100)
    c = srv.conn()
    try:
        ks = c.call("INFO", "keyspace").decode()
        check(ks.startswith("# Keyspace"), "INFO keyspace header: %r" % ks[:40])
        f = info_fields(ks)
        check("db0" in f, "db0 line in %r" % ks)
        parts = dict(p.split("=") for p in f["db0"].split(","))
        eq(parts.get("keys"), "26", "db0 keys")
        eq(parts.get("expires"), "1", "db0 expires")
        cl = info_fields(c.call("INFO", "clients"))
        check(int(cl["connected_clients"]) >= 1, "connected_clients")
        all_ = c.call("INFO").decode()
        for sec in ("# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"):
            check(sec in all_, "INFO has section %s" % sec)
        fa = info_fields(all_)
        for fld in ("uptime_in_seconds", "connected_clients", "used_memory", "tcp_port"):
            check(fld in fa, "INFO has field %s" % fld)
        eq(fa["tcp_port"], str(srv.port), "tcp_port")
        check(c.call("INFO", "nosuchsection") == b"", "unknown section is empty")
    finally:
        c.close()


@suite.test
def test_command_and_errors(srv):
    with srv.conn() as c:
        n = c.call("COMMAND", "COUNT")
        check(isinstance(n, int) and n > 40, "COMMAND COUNT > 40, got %r" % (n,))
        eq(c.call_raw("FOOBAR", "a", "b"),
           b"-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' \r\n")
        eq(c.call_raw("nosuchcmd"),
           b"-ERR unknown command 'nosuchcmd', with args beginning with: \r\n")
        eq(c.call_raw("GET"), b"-ERR wrong number of arguments for 'get' command\r\n")
        eq(c.call_raw("set", "x"), b"-ERR wrong number of arguments for 'set' command\r\n")
        eq(c.call_raw("GET", "a", "b"), b"-ERR wrong number of arguments for 'get' command\r\n")
        eq(c.call_raw("DEL"), b"-ERR wrong number of arguments for 'del' command\r\n")
        eq(c.call_raw("PING"), b"+PONG\r\n", "connection fine after errors")


@suite.test
def test_binary_and_large_values(srv):
    r = srv.client()
    key = b"bin\x00key\r\n\xff"
    val = bytes(range(256)) * 4
    eq(r.set(key, val), True)
    eq(r.get(key), val, "binary round trip")
    eq(r.strlen(key), 1024)
    big = os.urandom(3 * 1024 * 1024)
    eq(r.set("big", big), True, "3 MiB SET")
    eq(r.get("big"), big, "3 MiB GET")
    eq(r.append("big", b"tail"), len(big) + 4, "APPEND to big")
    eq(r.getrange("big", -4, -1), b"tail")
    eq(r.set("", "empty key"), True, "empty key")
    eq(r.get(""), b"empty key")
    eq(r.set("ev", ""), True, "empty value")
    eq(r.get("ev"), b"")
    eq(r.exists("ev"), 1)


@suite.test
def test_time_quit(srv):
    with srv.conn() as c:
        t = c.call("TIME")
        check(isinstance(t, list) and len(t) == 2, "TIME is a 2-array: %r" % (t,))
        secs = int(t[0]) + int(t[1]) / 1e6
        check(abs(secs - time.time()) < 5, "TIME close to now: %r" % (t,))
        check(0 <= int(t[1]) < 1000000, "microseconds in range")
        eq(c.call_raw("QUIT"), b"+OK\r\n", "QUIT")
        data, closed = c.read_until_close(5)
        check(closed and data == b"", "QUIT closes the connection (got %r, closed %s)"
              % (data, closed))


@suite.test
def test_redis_cli(srv):
    p = srv.cli("set", "a", "b")
    eq(p.returncode, 0, "redis-cli set exit")
    eq(p.stdout.strip(), b"OK", "redis-cli set")
    p = srv.cli("get", "a")
    eq(p.stdout.strip(), b"b", "redis-cli get")
    p = srv.cli("get", "nokey")
    eq(p.stdout.strip(), b"", "redis-cli get missing")
    p = srv.cli("incrby", "n", "5")
    eq(p.stdout.strip(), b"5", "redis-cli incrby")
    p = srv.cli("nosuchcommand")
    check(b"unknown command" in p.stdout + p.stderr, "redis-cli error shown: %r" % (p.stdout,))
    p = srv.cli(input=b"set x 1\nincr x\nget x\n")
    eq(p.stdout.split(), [b"OK", b"2", b"2"], "redis-cli reading commands from stdin")


@suite.test
def test_redis_cli_pipe(srv):
    n = 10000
    lines = [b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
             % (len(k), k, len(v), v)
             for k, v in ((b"pipe:%d" % i, b"value-%d" % i) for i in range(n))]
    p = srv.cli("--pipe", input=b"".join(lines), timeout=120)
    eq(p.returncode, 0, "redis-cli --pipe exit (stdout %r stderr %r)" % (p.stdout, p.stderr))
    check(b"errors: 0, replies: %d" % n in p.stdout, "--pipe summary: %r" % (p.stdout,))
    r = srv.client()
    eq(r.dbsize(), n, "DBSIZE after --pipe")
    for i in (0, 1, 4999, 9999):
        eq(r.get("pipe:%d" % i), b"value-%d" % i, "key pipe:%d" % i)
    eq(srv.cli("dbsize").stdout.strip(), str(n).encode(), "redis-cli dbsize")


@suite.test
def test_many_keys(srv):
    # Enough keys for every shard's index to grow several times, then shrink.
    n, batch = 200000, 10000
    with srv.conn() as c:
        for base in range(0, n, batch):
            c.send_raw(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\nvalue-16\r\n"
                                % (len(k), k) for k in (b"mk:%d" % i
                                                        for i in range(base, base + batch))))
            rs = c.read_n(batch)
            check(all(r == b"OK" for r in rs), "SET replies in batch %d" % base)
        eq(c.call("DBSIZE"), n, "DBSIZE")
        eq(len(c.call("KEYS", "mk:1999*")), 111, "KEYS mk:1999*")
        cursor, seen, calls = b"0", set(), 0
        while True:
            cursor, ks = c.call("SCAN", cursor, "COUNT", "1000")
            seen.update(ks)
            calls += 1
            check(calls < 5000, "SCAN did not finish")
            if cursor == b"0":
                break
        eq(len(seen), n, "SCAN saw every key")
        keys = [b"mk:%d" % i for i in range(n)]
        for base in range(0, n, batch):
            for k in keys[base:base + batch:2]:
                c.send(b"DEL", k)
            rs = c.read_n(batch // 2)
            check(all(r == 1 for r in rs), "DEL replies")
        eq(c.call("DBSIZE"), n // 2, "DBSIZE after deleting half")
        eq(c.call("GET", "mk:1"), b"value-16")
        eq(c.call("GET", "mk:0"), None)
        eq(c.call("FLUSHALL"), b"OK")
        eq(c.call("DBSIZE"), 0, "DBSIZE after FLUSHALL")


if __name__ == "__main__":
    run_suite(suite)
