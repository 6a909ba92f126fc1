#!/usr/bin/python3
"""test_shutdown.py - process life cycle: signals, SHUTDOWN, bad flags, --help/--version."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, Server, check, eq, encode, hotpathd_path, pick_port,  # noqa
                        run_suite, target, ping_ok)

suite = Suite("shutdown")
EXIT_BOUND_S = 10


def started(**kw):
    return Server(**kw).start()


def exits_zero(srv, what):
    rc = srv.wait(EXIT_BOUND_S)
    if rc is None:
        srv.stop(1)
        raise AssertionError("%s: still running after %d s" % (what, EXIT_BOUND_S))
    eq(rc, 0, "%s: exit status (log: %s)" % (what, srv.log_tail(400).strip()[-300:]))


@suite.test(server=False)
def test_sigterm_exits_zero(_):
    srv = started()
    try:
        with srv.conn() as c:
            for i in range(100):
                c.send("SET", "k%d" % i, "v")
            check(all(r == b"OK" for r in c.read_n(100)), "SETs before SIGTERM")
        srv.signal(signal.SIGTERM)
        exits_zero(srv, "SIGTERM")
        check(not ping_ok(srv.port), "nothing answers on the port after exit")
    finally:
        srv.stop()


@suite.test(server=False)
def test_sigint_exits_zero(_):
    srv = started()
    try:
        srv.signal(signal.SIGINT)
        exits_zero(srv, "SIGINT")
    finally:
        srv.stop()


@suite.test(server=False)
def test_sigterm_under_load(_):
    srv = started()
    stop = threading.Event()
    errors = []

    def blast(i):
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            req = b"".join(encode("SET", "load:%d:%d" % (i, j), "x" * 64) for j in range(200))
            while not stop.is_set():
                s.sendall(req)
                got = 0
                while got < 200 * 5:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    got += len(chunk)
        except OSError:
            return  # the server went away: expected
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=blast, args=(i,), daemon=True) for i in range(8)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        # Idle connections too, and one with a half-sent request.
        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(20)]
        idle[0].sendall(b"*3\r\n$3\r\nSET\r\n$1\r\n")
        srv.signal(signal.SIGTERM)
        exits_zero(srv, "SIGTERM with busy clients")
        for s in idle:
            s.settimeout(5)
            try:
                eq(s.recv(10), b"", "idle connection closed at exit")
            except ConnectionResetError:
                pass
            s.close()
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        srv.stop()
    check(not errors, "client errors: %r" % errors[:3])


@suite.test(server=False)
def test_shutdown_command(_):
    srv = started()
    try:
        other = srv.conn()
        with srv.conn() as c:
            eq(c.call("SET", "a", "b"), b"OK")
            c.send("SHUTDOWN")
            data, closed = c.read_until_close(EXIT_BOUND_S)
            check(closed, "SHUTDOWN closes the connection")
            eq(data, b"", "SHUTDOWN sends no reply on success")
        exits_zero(srv, "SHUTDOWN")
        data, closed = other.read_until_close(5)
        check(closed, "other connections closed at shutdown")
        other.close()
    finally:
        srv.stop()


@suite.test(server=False)
def test_shutdown_nosave_and_bad_args(_):
    srv = started()
    try:
        with srv.conn() as c:
            eq(c.call_raw("SHUTDOWN", "BOGUS"), b"-ERR syntax error\r\n", "SHUTDOWN BOGUS")
            eq(c.call_raw("PING"), b"+PONG\r\n", "still running after a bad SHUTDOWN")
            c.send("SHUTDOWN", "NOSAVE")
            data, closed = c.read_until_close(EXIT_BOUND_S)
            check(closed and data == b"", "SHUTDOWN NOSAVE closes silently (%r)" % data)
        exits_zero(srv, "SHUTDOWN NOSAVE")
    finally:
        srv.stop()


@suite.test(server=False)
def test_port_reusable_after_exit(_):
    srv = started()
    port = srv.port
    try:
        with srv.conn() as c:
            for _ in range(50):
                c.call("PING")  # leave connections in TIME_WAIT
        srv.signal(signal.SIGTERM)
        exits_zero(srv, "SIGTERM")
    finally:
        srv.stop()
    again = Server(port=port)
    try:
        again.start()
        with again.conn() as c:
            eq(c.call("DBSIZE"), 0, "restarted server is empty (no persistence)")
    finally:
        again.stop()


def base_cmd(port):
    if target() == "redis":
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"]
    return [hotpathd_path(), "--port", str(port), "--bind", "127.0.0.1", "--workers", "2",
            "--file-prefix", "hp-e2e-%d-flags" % os.getpid(), "--loglevel", "warning"]


def run_bounded(cmd, timeout=20):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           cwd=tempfile.gettempdir())
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, out.decode("utf-8", "replace")


def must_fail(args, names, what):
    rc, out = run_bounded(base_cmd(pick_port()) + args)
    check(rc is not None, "%s: still running after 20 s (killed); output %r" % (what, out[-300:]))
    check(rc != 0, "%s: exit status 0; output %r" % (what, out[-300:]))
    for n in names:
        check(n in out, "%s: error message does not name %r: %r" % (what, n, out[-400:]))


@suite.test(server=False)
def test_bad_flags(_):
    must_fail(["--port", "notanumber"], ["port", "notanumber"], "--port notanumber")
    must_fail(["--port", "70000"], ["port"], "--port 70000")
    must_fail(["--nosuch", "1"], ["nosuch"], "--nosuch 1")
    must_fail(["--hz", "abc"], ["hz"], "--hz abc")
    must_fail(["--maxclients", "-5"], ["maxclients"], "--maxclients -5")


@suite.test(server=False, only="hotpathd")
def test_bad_hotpathd_flags(_):
    must_fail(["--workers", "abc"], ["workers"], "--workers abc")
    must_fail(["--workers", "-1"], ["workers"], "--workers -1")
    must_fail(["--workers", "100000"], ["workers"], "--workers 100000")
    must_fail(["--port"], ["port"], "--port without value")


@suite.test(server=False)
def test_config_file(_):
    fd, path = tempfile.mkstemp(prefix="hp-e2e-", suffix=".conf")
    try:
        with os.fdopen(fd, "w") as f:
            f.write("# a comment\n\nhz 20\nmaxclients 500\n")
        srv = Server(config_file=path)
        try:
            srv.start()
            with srv.conn() as c:
                eq(c.call("CONFIG", "GET", "hz"), [b"hz", b"20"], "hz from the config file")
                eq(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"500"],
                   "maxclients from the config file")
        finally:
            srv.stop()
        with open(path, "w") as f:
            f.write("hz 10\nnosuchdirective 1\n")
        rc, out = run_bounded(base_cmd(pick_port())[:1] + [path]
                              + base_cmd(pick_port())[1:])
        check(rc not in (None, 0), "bad config file: exit %r, output %r" % (rc, out[-300:]))
        check("nosuchdirective" in out, "bad config file message names the directive: %r"
              % out[-300:])
        rc, out = run_bounded(base_cmd(pick_port())[:1] + ["/nonexistent/hp-e2e.conf"])
        check(rc not in (None, 0), "missing config file: exit %r" % rc)
        check("/nonexistent/hp-e2e.conf" in out, "message names the file: %r" % out[-300:])
    finally:
        os.unlink(path)


@suite.test(server=False)
def test_port_in_use(_):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen(5)
        port = holder.getsockname()[1]
        rc, out = run_bounded(base_cmd(port))
        check(rc is not None, "server on a busy port still running after 20 s")
        check(rc != 0, "server on a busy port exited 0: %r" % out[-300:])
        check("in use" in out or str(port) in out,
              "message mentions the busy port: %r" % out[-300:])
    finally:
        holder.close()


@suite.test(server=False)
def test_version(_):
    exe = "redis-server" if target() == "redis" else hotpathd_path()
    rc, out = run_bounded([exe, "--version"])
    eq(rc, 0, "--version exit status")
    check(out.strip(), "--version prints something")
    if target() == "hotpathd":
        check("hotpathd" in out, "--version names hotpathd: %r" % out)


@suite.test(server=False, only="hotpathd")
def test_worker_counts(_):
    # Any worker count works: keys spread over its shards, SCAN sees them
    # all, and it shuts down cleanly.
    for workers in (1, 2, 7):
        srv = Server(workers=workers).start()
        try:
            with srv.conn() as c:
                keys = [b"w:%d" % i for i in range(300)]
                eq(c.call(b"MSET", *[x for k in keys for x in (k, k)]), b"OK")
                eq(c.call(b"MGET", *keys), keys, "MGET with %d workers" % workers)
                seen, cursor = set(), b"0"
                for _ in range(1000):
                    cursor, ks = c.call(b"SCAN", cursor, b"COUNT", b"50")
                    seen.update(ks)
                    if cursor == b"0":
                        break
                eq(seen, set(keys), "SCAN with %d workers" % workers)
                c.send(b"SHUTDOWN")
                data, closed = c.read_until_close(EXIT_BOUND_S)
                check(closed and data == b"", "SHUTDOWN with %d workers" % workers)
            exits_zero(srv, "SHUTDOWN with %d workers" % workers)
        finally:
            srv.stop()


@suite.test(server=False, only="hotpathd")
def test_help(_):
    rc, out = run_bounded([hotpathd_path(), "--help"])
    eq(rc, 0, "--help exit status")
    check("usage" in out.lower(), "--help shows a usage line: %r" % out[:200])
    for word in ("port", "workers", "bind", "maxclients", "hz"):
        check(word in out, "--help lists the %s directive" % word)


if __name__ == "__main__":
    run_suite(suite)
