#!/usr/bin/python3
"""test_exec_path.py - the one execution path (dataplane/core/call.c) with
the append-only log: writes are logged by what they changed (not by the
reply), records of one write form a group that replay applies whole or not
at all, a write waiting for log room does not stop the worker, and INFO
commandstats counts calls.  hotpathd only: the test hooks are
HP_PERSIST_DEBUG_* environment variables (docs/AOF.md, "Test hooks")."""
import os
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Suite, Server, ErrorReply, check, eq, run_suite  # noqa

from hp_harness import shard_of  # noqa: E402
suite = Suite("exec_path")


def keys_on(shard, workers, n, prefix):
    out, i = [], 0
    while len(out) < n:
        k = "%s%d" % (prefix, i)
        if shard_of(k, workers) == shard:
            out.append(k)
        i += 1
    return out


def aof_server(d, workers=2, env=None):
    srv = Server(workers=workers, extra_args=["--appendonly", "yes", "--appendfsync", "always",
                                              "--dir", d, "--loglevel", "notice"])
    old = {}
    for k, v in (env or {}).items():
        old[k] = os.environ.get(k)
        os.environ[k] = v
    try:
        srv.start()
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    return srv


@suite.test(server=False)
def test_mset_oom_part_way_is_logged(_):
    """MSET runs out of memory part-way: the pairs set stay set, the client
    gets the OOM error, and after a restart the same pairs are there (they
    were logged although the reply is an error)."""
    d = tempfile.mkdtemp(prefix="hp-exec-")
    try:
        srv = aof_server(d, workers=1, env={"HP_PERSIST_DEBUG_FAIL_ALLOCS_AFTER": "6"})
        keys = ["m%d" % i for i in range(20)]
        with srv.conn() as c:
            args = []
            for k in keys:
                args += [k, "v-" + k]
            r = c.call("MSET", *args)
            check(isinstance(r, ErrorReply) and r.startswith(b"OOM"), "reply %r" % (r,))
            got = c.call("MGET", *keys)
        present = [k for k, v in zip(keys, got) if v is not None]
        check(0 < len(present) < len(keys), "part-way: %d of %d set" % (len(present), len(keys)))
        eq(srv.stop()[0], 0, "exit status")
        srv = aof_server(d, workers=1)
        with srv.conn() as c:
            eq(c.call("MGET", *keys), got, "the same pairs after restart")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_group_cut_by_crash_is_dropped(_):
    """The process stops (HP_PERSIST_DEBUG_GROUP_CRASH) right after the first
    record of a two-shard MSET is durable: after restart neither key is
    there.  Unwired (ungrouped records) the first key would be."""
    d = tempfile.mkdtemp(prefix="hp-exec-")
    try:
        a = keys_on(0, 2, 1, "ga")[0]
        b = keys_on(1, 2, 1, "gb")[0]
        srv = aof_server(d)
        with srv.conn() as c:
            eq(c.call("SET", "before", "1"), b"OK")
        eq(srv.stop()[0], 0, "exit status")
        srv = aof_server(d, env={"HP_PERSIST_DEBUG_GROUP_CRASH": "1"})
        with srv.conn() as c:
            try:
                c.call("MSET", a, "new", b, "new")
            except Exception:
                pass  # the process is gone: no reply
        srv.proc.wait(10)
        eq(srv.proc.returncode, 3, "stopped by the hook")
        srv.stop()
        srv.discard_logs()
        srv = aof_server(d)
        with srv.conn() as c:
            eq(c.call("GET", "before"), b"1")
            eq(c.call("MGET", a, b), [None, None], "a cut group is dropped whole")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_more_changes_than_the_list_holds(_):
    """MSET / DEL of more keys than the changed list holds (EXEC_CHANGED_MAX
    128): logged by the key specs instead, nothing lost."""
    d = tempfile.mkdtemp(prefix="hp-exec-")
    try:
        srv = aof_server(d)
        keys = ["{t}k%d" % i for i in range(300)]
        with srv.conn() as c:
            args = []
            for k in keys:
                args += [k, k.upper()]
            eq(c.call("MSET", *args), b"OK")
            eq(c.call("DEL", *keys[:200]), 200)
            eq(c.call("MSET", "x1", "1", "x2", "2"), b"OK")  # two shards
        eq(srv.stop()[0], 0, "exit status")
        srv = aof_server(d)
        with srv.conn() as c:
            got = c.call("MGET", *keys)
            eq(got[:200], [None] * 200)
            eq(got[200:], [k.upper().encode() for k in keys[200:]])
            eq(c.call("MGET", "x1", "x2"), [b"1", b"2"])
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_ping_answers_while_a_write_waits_for_the_log(_):
    """With the log forced full for 1.5 s (HP_PERSIST_DEBUG_RING_FULL_MS) a
    local write, a remote write and a two-shard MSET wait (no reply) while
    PING on another connection still answers at once; then they all
    complete, in order, and survive a restart."""
    d = tempfile.mkdtemp(prefix="hp-exec-")
    try:
        srv = aof_server(d, env={"HP_PERSIST_DEBUG_RING_FULL_MS": "1500"})
        a = keys_on(0, 2, 1, "wa")[0]
        b = keys_on(1, 2, 1, "wb")[0]
        results = {}

        def writer(name, *cmds):
            with srv.conn(timeout=10) as c:
                t0 = time.monotonic()
                for cmd in cmds:
                    c.send(*cmd)
                first = c.read()
                t1 = time.monotonic() - t0
                results[name] = ([first] + [c.read() for _ in cmds[1:]], t1)

        threads = []
        for i in range(4):  # several connections: some land on each worker, so
            # SET a (shard 0) is local on some and remote (parked) on others
            threads.append(threading.Thread(target=writer, args=(
                "c%d" % i, ("SET", a, "A%d" % i), ("SET", b, "B%d" % i),
                ("MSET", a + "m", str(i), b + "m", str(i)), ("GET", a))))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(0.3)
        with srv.conn(timeout=5) as c:
            for _ in range(5):
                p0 = time.monotonic()
                eq(c.call("PING"), b"PONG")
                check(time.monotonic() - p0 < 0.5, "PING answered while writes wait")
        check(time.monotonic() - t0 < 1.4, "PINGs done inside the full window")
        for t in threads:
            t.join(20)
        for name, (replies, took) in sorted(results.items()):
            eq(replies[:3], [b"OK", b"OK", b"OK"], name)
            check(replies[3] is not None and replies[3].startswith(b"A"), "%s read its write" % name)
        eq(len(results), 4, "every writer finished")
        took = sorted(t for _, t in results.values())
        check(took[0] >= 0.9, "every first write waited, local or remote: %r" % took)
        with srv.conn() as c:
            want = c.call("MGET", a, b, a + "m", b + "m")
        eq(srv.stop()[0], 0, "exit status")
        srv = aof_server(d)
        with srv.conn() as c:
            eq(c.call("MGET", a, b, a + "m", b + "m"), want, "after restart")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_info_commandstats(_):
    """INFO commandstats in Redis 7.0's format, summed over the workers:
    calls, failed_calls (ran, replied an error), rejected_calls (arity)."""
    import re
    srv = Server(workers=2).start()
    try:
        with srv.conn() as c:
            for i in range(6):
                eq(c.call("SET", "k%d" % i, "x"), b"OK")  # both workers' shards
            eq(c.call("GET", "k0"), b"x")
            check(isinstance(c.call("INCR", "k0"), ErrorReply), "INCR on a string fails")
            check(isinstance(c.call("GET"), ErrorReply), "arity error")
            before = c.call("INFO", "commandstats")
            eq(c.call("PING"), b"PONG")
            text = c.call("INFO", "commandstats")
            check(b"# Keyspace" not in text, "only the asked section")
            default = c.call("INFO")
            check(b"cmdstat_" not in default, "not in the default INFO")
        def parse(t):
            out = {}
            for ln in t.decode().split("\r\n"):
                m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                             r"rejected_calls=(\d+),failed_calls=(\d+)$", ln)
                if m:
                    out[m.group(1)] = [int(m.group(i)) for i in (2, 5, 6)]
            return out
        stats = parse(text)
        # The harness PINGs to see the server up: count the difference.
        stats["ping"][0] -= parse(before)["ping"][0]
        check(text.startswith(b"# Commandstats\r\n"), "header: %r" % text[:40])
        eq(stats.get("set"), [6, 0, 0], "set")
        eq(stats.get("get"), [1, 1, 0], "get: one call, one rejected")
        eq(stats.get("incr"), [1, 0, 1], "incr failed")
        eq(stats.get("ping"), [1, 0, 0], "ping")
        # Time is sampled (one call in 16, the first included, scaled up):
        # a command called many times still shows time, per call about
        # what it costs (well under a millisecond here).
        with srv.conn() as c:
            for i in range(200):
                eq(c.call("SET", "t%d" % i, "v"), b"OK")
            t = c.call("INFO", "commandstats").decode()
        m = re.search(r"cmdstat_set:calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d)", t)
        check(m is not None, "set line: %r" % t)
        calls, usec, per = int(m.group(1)), int(m.group(2)), float(m.group(3))
        eq(calls, 206, "set calls")
        check(usec > 0 and 0 < per < 1000, "sampled time: usec=%d per_call=%.2f" % (usec, per))
    finally:
        srv.stop()


if __name__ == "__main__":
    run_suite(suite)
