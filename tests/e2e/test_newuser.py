#!/usr/bin/python3
"""test_newuser.py - what a new user trips over first (issue 12, item 6):
half-closed clients, a second server on a taken port, INFO's keyspace
counters, the CONFIG GET answers redis-benchmark needs, SHUTDOWN SAVE,
large multibulk counts, the start-up output and --help.

Each test compares with redis-server (Redis 7.0) where the behaviour is
Redis'; run the suite with HOTPATH_E2E_TARGET=redis to check the
expectations themselves."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Skip, Suite, Server, check, eq, encode, info_fields,  # noqa
                        remove_dpdk_runtime_dir, run_suite, target)

suite = Suite("newuser")

HALFCLOSE_CLIENTS = 150


def half_close_round(port, nclients, key):
    """nclients connections each send INCR key, then shutdown(SHUT_WR) at
    once; returns how many got their reply before the server closed."""
    socks = []
    for _ in range(nclients):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        socks.append(s)
    for s in socks:
        s.sendall(encode("INCR", key))
        s.shutdown(socket.SHUT_WR)
    answered = 0
    for s in socks:
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        finally:
            s.close()
        if data.startswith(b":") and data.endswith(b"\r\n"):
            answered += 1
    return answered


def half_close_check(extra, workers):
    srv = Server(extra_args=extra, workers=workers).start()
    try:
        got = half_close_round(srv.port, HALFCLOSE_CLIENTS, "hc")
        with srv.conn() as c:
            total = c.call("GET", "hc")
        eq(total, str(HALFCLOSE_CLIENTS).encode(), "every INCR ran")
        eq(got, HALFCLOSE_CLIENTS, "replies received by half-closed clients (%s, %d workers)"
           % (" ".join(extra) or "default", workers))
    finally:
        srv.stop()


def backend_args(name):
    return ["--io-backend", name] if target() == "hotpathd" else []


@suite.test(server=False)
def test_half_close_uring_1_worker(_):
    half_close_check(backend_args("io_uring"), 1)


@suite.test(server=False)
def test_half_close_uring_2_workers(_):
    half_close_check(backend_args("io_uring"), 2)


@suite.test(server=False)
def test_half_close_epoll_1_worker(_):
    half_close_check(backend_args("epoll"), 1)


@suite.test(server=False)
def test_half_close_epoll_2_workers(_):
    half_close_check(backend_args("epoll"), 2)


@suite.test
def test_half_close_pipeline(srv):
    """A pipeline of requests then FIN: every reply comes back, in order."""
    n = 2000
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(b"".join(encode("INCR", "hp") for _ in range(n)))
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    want = b"".join(b":%d\r\n" % (i + 1) for i in range(n))
    eq(data, want, "replies to a pipeline sent before the half-close")


SECOND_START_BOUND_S = 15


def start_second(kind, port, extra=()):
    """Run another server on port; returns (exit status or None if it kept
    running, its output).  It must refuse to start."""
    second = Server(kind=kind, port=port, extra_args=list(extra), workers=1)
    cmd = second.command(port)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd="/tmp")
    try:
        out, _ = p.communicate(timeout=SECOND_START_BOUND_S)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        rc = None
    if second.file_prefix:
        remove_dpdk_runtime_dir(second.file_prefix)
    return rc, out.decode("utf-8", "replace")


def still_one_keyspace(srv, n=10):
    """A SET on one connection is seen by GETs on n fresh connections."""
    with srv.conn() as c:
        eq(c.call("SET", "owner", "first"), b"OK", "SET on the first server")
    for i in range(n):
        with srv.conn() as c:
            eq(c.call("GET", "owner"), b"first", "GET %d on a new connection" % i)


@suite.test
def test_second_server_same_port_refused(srv):
    rc, out = start_second(target(), srv.port)
    check(rc is not None, "the second server kept running on a port in use: %s" % out[-300:])
    check(rc != 0, "the second server exited with 0")
    check("Address already in use" in out, "no 'Address already in use' in: %s" % out[-300:])
    still_one_keyspace(srv)


@suite.test(only="hotpathd")
def test_second_hotpathd_other_address_same_port_refused(srv):
    """The claim is per port: another hotpathd on 127.0.0.2 of the same
    port is refused too (its probe alone would pass)."""
    rc, out = start_second("hotpathd", srv.port, ["--bind", "127.0.0.2"])
    check(rc is not None, "the second hotpathd kept running: %s" % out[-300:])
    check(rc != 0 and "another hotpathd (pid %d)" % srv.pid in out,
          "exit %r, output: %s" % (rc, out[-300:]))
    still_one_keyspace(srv)


@suite.test(server=False, only="hotpathd")
def test_hotpathd_refused_where_redis_listens(_):
    """Debian's redis-server on the port: hotpathd says so and exits 1."""
    redis = Server(kind="redis").start()
    try:
        rc, out = start_second("hotpathd", redis.port)
        eq(rc, 1, "hotpathd exit status (output: %s)" % out[-300:])
        check("Could not create server TCP listening socket 127.0.0.1:%d: bind: Address "
              "already in use" % redis.port in out, "output: %s" % out[-300:])
        with redis.conn() as c:
            eq(c.call("PING"), b"PONG", "redis-server still answers")
    finally:
        redis.stop()


# (command, keyspace hits, keyspace misses) as counted by redis-server 7.0:
# read lookups count (lookupKeyRead), lookups to write do not.
KEYSPACE_SEQUENCE = [
    (("SET", "a", "1"), 0, 0),
    (("SET", "b", "2"), 0, 0),
    (("GET", "a"), 1, 0),
    (("GET", "nx"), 0, 1),
    (("MGET", "a", "b", "nx", "ny"), 2, 2),
    (("EXISTS", "a", "nx", "a"), 2, 1),
    (("TYPE", "a"), 1, 0),
    (("TTL", "nx"), 0, 1),
    (("PTTL", "a"), 1, 0),
    (("STRLEN", "a"), 1, 0),
    (("GETRANGE", "nx", "0", "1"), 0, 1),
    (("INCR", "c"), 0, 0),
    (("SETNX", "a", "5"), 0, 0),
    (("APPEND", "a", "x"), 0, 0),
    (("SET", "a", "3", "GET"), 1, 0),
    (("SET", "d", "1", "NX"), 0, 0),
    (("SET", "nz", "1", "XX", "GET"), 0, 1),
    (("GETSET", "d", "2"), 1, 0),
    (("GETDEL", "b"), 1, 0),
    (("GETEX", "nx"), 0, 1),
    (("TOUCH", "a", "nx"), 1, 1),
    (("EXPIRE", "a", "100"), 0, 0),
    (("PERSIST", "a"), 0, 0),
    (("DEL", "a", "nx"), 0, 0),
    (("GET", "a"), 0, 1),
]


def keyspace_counts(c):
    f = info_fields(c.call("INFO", "stats").decode())
    return int(f["keyspace_hits"]), int(f["keyspace_misses"])


@suite.test
def test_keyspace_hits_misses(srv):
    with srv.conn() as c:
        eq(c.call("CONFIG", "RESETSTAT"), b"OK", "CONFIG RESETSTAT")
        eq(keyspace_counts(c), (0, 0), "after RESETSTAT")
        hits = misses = 0
        for cmd, h, m in KEYSPACE_SEQUENCE:
            c.call(*cmd)
            hits += h
            misses += m
            eq(keyspace_counts(c), (hits, misses), "hits, misses after %s" % " ".join(cmd))
        check(hits > 0 and misses > 0, "the sequence counts both")
        eq(c.call("CONFIG", "RESETSTAT"), b"OK", "CONFIG RESETSTAT")
        eq(keyspace_counts(c), (0, 0), "after the second RESETSTAT")


@suite.test
def test_keyspace_hits_misses_many_keys(srv):
    """Keys on every shard, from several connections, pipelined."""
    n = 500
    with srv.conn() as c:
        c.call("CONFIG", "RESETSTAT")
        for i in range(n):
            c.send("SET", "k%d" % i, "v")
        c.read_n(n)
    conns = [srv.conn() for _ in range(4)]
    try:
        for j, c in enumerate(conns):
            for i in range(n):
                c.send("GET", "k%d" % i if (i + j) % 2 == 0 else "missing%d" % i)
        for c in conns:
            c.read_n(n)
        with srv.conn() as c:
            eq(keyspace_counts(c), (2 * n, 2 * n), "hits, misses of 4 x %d GETs" % n)
    finally:
        for c in conns:
            c.close()


# What redis-server (started with save "") answers, and hotpath too.
CONFIG_ANSWERS = {
    "save": b"",
    "requirepass": b"",
    "maxmemory": b"0",
    "maxmemory-policy": b"noeviction",
    "maxmemory-samples": b"5",
    "appendonly": b"no",
}


@suite.test
def test_config_get_tool_settings(srv):
    with srv.conn() as c:
        for name, want in CONFIG_ANSWERS.items():
            eq(c.call("CONFIG", "GET", name), [name.encode(), want], "CONFIG GET %s" % name)
        eq(c.call("CONFIG", "GET", "SAVE"), [b"SAVE", b""], "a plain name as spelled")
        got = c.call("CONFIG", "GET", "maxmemory*")
        pairs = dict(zip(got[0::2], got[1::2]))
        for name in ("maxmemory", "maxmemory-policy", "maxmemory-samples"):
            eq(pairs.get(name.encode()), CONFIG_ANSWERS[name], "CONFIG GET maxmemory* has " + name)
        everything = c.call("CONFIG", "GET", "*")
        names = everything[0::2]
        check(b"save" in names and b"requirepass" in names, "CONFIG GET * lists save, requirepass")
        eq(len(names), len(set(names)), "CONFIG GET * names each setting once")
        two = c.call("CONFIG", "GET", "save", "s*")
        eq(two.count(b"save"), 1, "save once for two matching patterns")


@suite.test
def test_redis_benchmark_fetches_config(srv):
    p = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.port), "-n", "200",
                        "-c", "2", "-t", "set,get", "-q"], capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    eq(p.returncode, 0, "redis-benchmark exit status (%s)" % out[-300:])
    check("Could not fetch server CONFIG" not in out, "redis-benchmark: %s" % out[-300:])
    check("GET:" in out and "SET:" in out, "redis-benchmark ran both tests: %s" % out[-300:])


SHUTDOWN_EXIT_BOUND_S = 20


def shutdown_save_and_restart(workers):
    d = tempfile.mkdtemp(prefix="hp-e2e-shutsave-")
    args = ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", d]
    n = 2000
    try:
        srv = Server(extra_args=args, workers=workers).start()
        port = srv.port
        try:
            with srv.conn() as c:
                for i in range(n):
                    c.send("SET", "k%d" % i, "v%d" % i)
                check(all(r == b"OK" for r in c.read_n(n)), "SETs acknowledged")
                c.send("SHUTDOWN", "SAVE")
                data, closed = c.read_until_close(SHUTDOWN_EXIT_BOUND_S)
                check(closed and data == b"", "SHUTDOWN SAVE closes silently (%r)" % data[:200])
            rc = srv.wait(SHUTDOWN_EXIT_BOUND_S)
            eq(rc, 0, "exit status after SHUTDOWN SAVE (log: %s)" % srv.log_tail(400)[-300:])
        finally:
            srv.stop()
        again = Server(extra_args=args, workers=workers, port=port).start()
        try:
            with again.conn() as c:
                eq(c.call("DBSIZE"), n, "keys after SHUTDOWN SAVE and restart")
                for i in (0, n // 2, n - 1):
                    eq(c.call("GET", "k%d" % i), b"v%d" % i, "value of k%d" % i)
        finally:
            again.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_shutdown_save_keeps_log_1_worker(_):
    shutdown_save_and_restart(1)


@suite.test(server=False)
def test_shutdown_save_keeps_log_4_workers(_):
    shutdown_save_and_restart(4)


@suite.test(server=False, only="hotpathd")
def test_shutdown_save_with_failed_log_refused_unless_force(_):
    """A log that failed (full disk): SHUTDOWN SAVE answers Redis' "Errors
    trying to SHUTDOWN" and the server goes on; SAVE FORCE stops it."""
    mnt = tempfile.mkdtemp(prefix="hp-e2e-tmpfs-")
    # As test_aof.py: 24 MiB holds the first preallocated segment, not the next.
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if rc != 0:
        os.rmdir(mnt)
        raise Skip("cannot mount a tmpfs (not permitted)")
    srv = None
    try:
        srv = Server(extra_args=["--appendonly", "yes", "--appendfsync", "everysec",
                                 "--dir", mnt], workers=1).start()
        val = "x" * 65536
        refused = None
        with srv.conn() as c:
            for i in range(2000):
                r = c.call("SET", "big%d" % i, val)
                if r != b"OK":
                    refused = r
                    break
            check(refused is not None and refused.startswith(b"MISCONF"),
                  "writes refused once the disk is full: %r" % refused)
            eq(c.call_raw("SHUTDOWN", "SAVE"), b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n",
               "SHUTDOWN SAVE with a failed log")
            eq(c.call("PING"), b"PONG", "still running")
            c.send("SHUTDOWN", "SAVE", "FORCE")
            data, closed = c.read_until_close(SHUTDOWN_EXIT_BOUND_S)
            check(closed and data == b"", "SHUTDOWN SAVE FORCE closes silently (%r)" % data[:200])
        check(srv.wait(SHUTDOWN_EXIT_BOUND_S) is not None, "exits after SHUTDOWN SAVE FORCE")
    finally:
        if srv is not None:
            srv.stop()
        subprocess.run(["umount", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(mnt, ignore_errors=True)


@suite.test(only="hotpathd")
def test_shutdown_save_without_log_refused(srv):
    """appendonly no: nothing to save to (no RDB); the server keeps running."""
    with srv.conn() as c:
        r = c.call_raw("SHUTDOWN", "SAVE")
        check(r.startswith(b"-ERR SHUTDOWN SAVE: nothing to save to"), "SHUTDOWN SAVE: %r" % r)
        eq(c.call("PING"), b"PONG", "still running")
        eq(c.call_raw("SHUTDOWN", "SAVE", "NOSAVE"), b"-ERR syntax error\r\n", "SAVE NOSAVE")


def raw_exchange(port, data, wait=0.5):
    """Send data; returns (what came back, whether the server closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(data)
        s.settimeout(wait)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
    finally:
        s.close()


@suite.test
def test_large_multibulk_counts_accepted(srv):
    """Redis 7.0 accepts counts up to INT_MAX and waits for the arguments."""
    for count in (1048577, 2147483647):
        out, closed = raw_exchange(srv.port, b"*%d\r\n$4\r\nPING\r\n" % count)
        eq((out, closed), (b"", False), "*%d then one argument: waits for the rest" % count)
    out, closed = raw_exchange(srv.port, b"*2147483648\r\n")
    eq((out, closed), (b"-ERR Protocol error: invalid multibulk length\r\n", True), "*2147483648")


@suite.test
def test_command_with_1048577_arguments(srv):
    n = 1048577
    req = b"*%d\r\n$3\r\nDEL\r\n" % n + b"".join(
        b"$%d\r\nk%d\r\n" % (len(str(i)) + 1, i) for i in range(n - 1))
    with srv.conn(timeout=60) as c:
        c.call("SET", "k5", "v")
        c.send_raw(req)
        eq(c.read(), 1, "DEL of 1048576 keys, one of them set")
        eq(c.call("PING"), b"PONG", "the connection goes on")


@suite.test(only="hotpathd")
def test_huge_multibulk_bounded_by_query_buffer_limit(srv):
    """The argument table counts against client-query-buffer-limit: a count
    near INT_MAX with 150000 empty arguments (900 kB of input, below the
    1mb limit, but 2.4 MB of argument table) is cut off at the limit."""
    with srv.conn() as c:
        eq(c.call("CONFIG", "SET", "client-query-buffer-limit", "1mb"), b"OK", "CONFIG SET")
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        closed = False
        try:
            s.sendall(b"*2147483647\r\n")
            chunk = b"$0\r\n\r\n" * 1000
            for _ in range(150):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            s.settimeout(10)
            try:
                closed = s.recv(1) == b""
            except ConnectionResetError:
                closed = True
        s.close()
        check(closed, "the server closed the connection at the query buffer limit")
        with srv.conn() as c:
            eq(c.call("PING"), b"PONG", "the server goes on")
    finally:
        with srv.conn() as c:
            c.call("CONFIG", "SET", "client-query-buffer-limit", "1gb")


@suite.test(server=False, only="hotpathd")
def test_start_prints_no_telemetry_line(_):
    """DPDK's "TELEMETRY: No legacy callbacks" notice is not printed, at the
    default log level nor at verbose."""
    for level in ("notice", "verbose"):
        srv = Server(extra_args=["--loglevel", level], workers=1).start()
        try:
            with srv.conn() as c:
                c.call("PING")
            # The workers answer as soon as they listen; the main thread
            # prints "Ready" once all of them report ready, a moment later
            # (seen empty once in a fresh root): wait for it, bounded.
            deadline = time.monotonic() + 10
            out = srv.log_tail(200000)
            while "Ready to accept connections" not in out and time.monotonic() < deadline:
                time.sleep(0.05)
                out = srv.log_tail(200000)
        finally:
            srv.stop()
        check("Ready to accept connections" in out, "start-up output (%s): %s" % (level, out[-300:]))
        check("TELEMETRY" not in out and "legacy" not in out,
              "telemetry notice at loglevel %s: %s" % (level, out[-400:]))


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def help_directives():
    from hp_harness import hotpathd_path
    out = subprocess.run([hotpathd_path(), "--help"], capture_output=True, timeout=20).stdout
    names = []
    for ln in out.decode().splitlines():
        parts = ln.split()
        if ln.startswith("  ") and parts and parts[0] not in ("directive",) and "-" in ln:
            names.append(parts[0])
    return names


@suite.test(server=False, only="hotpathd")
def test_help_agrees_with_compatibility_doc(_):
    """What --help lists is configurable; docs/COMPATIBILITY.md must not say
    otherwise (it called auto-aof-rewrite-* "not configurable")."""
    names = help_directives()
    check("auto-aof-rewrite-percentage" in names, "--help lists auto-aof-rewrite-percentage")
    text = " ".join(open(os.path.join(REPO, "docs", "COMPATIBILITY.md")).read().split())
    for sentence in text.split(". "):
        if "not configurable" in sentence or "not settable" in sentence:
            for name in names:
                check("`%s`" % name not in sentence,
                      "COMPATIBILITY.md calls %s not configurable: %s" % (name, sentence))


@suite.test(server=False, only="hotpathd")
def test_auto_aof_rewrite_settings_are_parsed(_):
    d = tempfile.mkdtemp(prefix="hp-e2e-autoaof-")
    try:
        srv = Server(extra_args=["--appendonly", "yes", "--dir", d,
                                 "--auto-aof-rewrite-percentage", "37",
                                 "--auto-aof-rewrite-min-size", "2mb"], workers=1).start()
        try:
            with srv.conn() as c:
                eq(c.call("CONFIG", "GET", "auto-aof-rewrite-*"),
                   [b"auto-aof-rewrite-percentage", b"37", b"auto-aof-rewrite-min-size",
                    b"2097152"], "CONFIG GET auto-aof-rewrite-*")
        finally:
            srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


README_FIRST_SCREEN_LINES = 50


@suite.test(server=False, only="hotpathd")
def test_readme_first_screen(_):
    """The README says early what is missing, how to stop the server and
    what a taken port 6379 looks like (issue 12)."""
    lines = open(os.path.join(REPO, "README.md")).read().splitlines()
    head = " ".join(" ".join(lines[:README_FIRST_SCREEN_LINES]).split())
    for word in ("hashes", "lists", "sorted sets", "MULTI", "EVAL", "pub/sub", "AUTH", "TLS",
                 "replication", "cluster", "eviction", "redis-cli -p 6379 shutdown", "Ctrl-C",
                 "redis-server", "Address already in use", "--port 6380"):
        check(word in head, "README's first %d lines do not mention %r"
              % (README_FIRST_SCREEN_LINES, word))


if __name__ == "__main__":
    run_suite(suite)
