#!/usr/bin/python3
"""test_clients.py - 1,000 concurrent clients from one thread (non-blocking sockets + selectors)."""
import errno
import os
import resource
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, check, eq, encode, info_fields, parse_reply, run_suite,  # noqa
                        wait_for, Incomplete)

NCLIENTS = 1000
MAX_CONNECTING = 200      # connects in flight at once (listen backlogs are finite)
PHASE_TIMEOUT_S = 60

# Raise the descriptor limit before the server starts, so it inherits it too.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
_want = NCLIENTS * 2 + 512
if _hard != resource.RLIM_INFINITY and _hard < _want:
    _want = _hard
if _soft == resource.RLIM_INFINITY or _soft < _want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_want, _hard))

suite = Suite("clients")


class Client:
    def __init__(self, i, request, nreplies):
        self.i = i
        self.request = request
        self.nreplies = nreplies
        self.sock = None
        self.sent = 0
        self.buf = bytearray()
        self.pos = 0
        self.replies = []
        self.state = "new"
        self.error = None


def drive(port, clients, timeout):
    """Connect every client, send its request, read its replies; leave the sockets open."""
    sel = selectors.DefaultSelector()
    todo = list(clients)
    connecting = 0
    done = 0
    deadline = time.monotonic() + timeout
    try:
        while done < len(clients) and time.monotonic() < deadline:
            while todo and connecting < MAX_CONNECTING:
                cl = todo.pop()
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", port))
                if rc not in (0, errno.EINPROGRESS):
                    cl.state, cl.error = "failed", "connect: %s" % os.strerror(rc)
                    s.close()
                    done += 1
                    continue
                cl.sock, cl.state = s, "connecting"
                connecting += 1
                sel.register(s, selectors.EVENT_WRITE, cl)
            for key, ev in sel.select(timeout=0.5):
                cl = key.data
                if cl.state == "connecting":
                    err = cl.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    connecting -= 1
                    if err:
                        cl.state, cl.error = "failed", "connect: %s" % os.strerror(err)
                        sel.unregister(cl.sock)
                        done += 1
                        continue
                    cl.state = "sending"
                if cl.state == "sending" and ev & selectors.EVENT_WRITE:
                    try:
                        cl.sent += cl.sock.send(cl.request[cl.sent:])
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        cl.state, cl.error = "failed", "send: %s" % e
                        sel.unregister(cl.sock)
                        done += 1
                        continue
                    if cl.sent == len(cl.request):
                        cl.state = "reading"
                        sel.modify(cl.sock, selectors.EVENT_READ, cl)
                    continue
                if cl.state == "reading" and ev & selectors.EVENT_READ:
                    try:
                        chunk = cl.sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        chunk, cl.error = b"", "recv: %s" % e
                    if not chunk:
                        cl.state = "failed"
                        cl.error = cl.error or "closed after %d replies" % len(cl.replies)
                        sel.unregister(cl.sock)
                        done += 1
                        continue
                    cl.buf += chunk
                    while True:
                        try:
                            v, nxt = parse_reply(cl.buf, cl.pos)
                        except Incomplete:
                            break
                        cl.replies.append(v)
                        cl.pos = nxt
                    if len(cl.replies) >= cl.nreplies:
                        cl.state = "done"
                        sel.unregister(cl.sock)
                        done += 1
    finally:
        sel.close()
    return [c for c in clients if c.state != "done"]


def close_all(clients):
    for c in clients:
        if c.sock is not None:
            c.sock.close()
            c.sock = None


def connected_clients(srv):
    with srv.conn() as c:
        return int(info_fields(c.call("INFO", "clients"))["connected_clients"])


def summarize(bad):
    return "; ".join("client %d: %s (%s)" % (c.i, c.state, c.error) for c in bad[:5])


@suite.test
def test_thousand_clients_set_get(srv):
    clients = [Client(i, encode("SET", "client:%d" % i, "value-%d" % i)
                      + encode("GET", "client:%d" % i), 2) for i in range(NCLIENTS)]
    try:
        bad = drive(srv.port, clients, PHASE_TIMEOUT_S)
        check(not bad, "%d clients did not finish: %s" % (len(bad), summarize(bad)))
        for c in clients:
            eq(c.replies, [b"OK", b"value-%d" % c.i], "client %d replies" % c.i)
        # All 1000 are still open, plus the INFO connection.
        n = connected_clients(srv)
        eq(n, NCLIENTS + 1, "connected_clients with every client open")
        with srv.conn() as c:
            eq(c.call("DBSIZE"), NCLIENTS, "one key per client")
            eq(c.call("GET", "client:777"), b"value-777", "a client's key")
    finally:
        close_all(clients)
    n = wait_for(lambda: connected_clients(srv) == 1, 15, 0.1)
    check(n, "connected_clients back to 1 after all closed (now %d)" % connected_clients(srv))


@suite.test
def test_thousand_clients_shared_counter(srv):
    # Every client increments the same counters and reads keys on all shards.
    req = b"".join([encode("INCR", "shared")] * 5 + [encode("INCRBY", "{t}other", "2")]
                   + [encode("MGET", "a", "b", "c", "shared")])
    clients = [Client(i, req, 7) for i in range(NCLIENTS)]
    try:
        bad = drive(srv.port, clients, PHASE_TIMEOUT_S)
        check(not bad, "%d clients did not finish: %s" % (len(bad), summarize(bad)))
        seen = set()
        for c in clients:
            incrs = c.replies[:5]
            check(all(isinstance(x, int) for x in incrs), "INCR replies %r" % incrs)
            check(incrs == sorted(incrs) and len(set(incrs)) == 5,
                  "client %d: its INCRs are increasing: %r" % (c.i, incrs))
            seen.update(incrs)
            m = c.replies[6]
            check(isinstance(m, list) and m[:3] == [None, None, None] and int(m[3]) >= incrs[-1],
                  "client %d MGET %r" % (c.i, m))
        eq(seen, set(range(1, 5 * NCLIENTS + 1)), "every INCR value handed out once")
        with srv.conn() as c:
            eq(c.call("GET", "shared"), b"%d" % (5 * NCLIENTS), "final counter")
            eq(c.call("GET", "{t}other"), b"%d" % (2 * NCLIENTS), "final INCRBY counter")
    finally:
        close_all(clients)
    n = wait_for(lambda: connected_clients(srv) == 1, 15, 0.1)
    check(n, "connected_clients back to 1 (now %d)" % connected_clients(srv))


@suite.test
def test_abrupt_close_with_pending_replies(srv):
    # Clients that send a pipeline and close without reading: the server must
    # drop them cleanly and keep serving.
    req = b"".join(encode("SET", "ab:%d" % i, "x" * 100) for i in range(200))
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(req)
        socks.append(s)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    with srv.conn() as c:
        eq(c.call("PING"), b"PONG", "server answers after 200 abrupt closes")
    n = wait_for(lambda: connected_clients(srv) == 1, 15, 0.1)
    check(n, "connected_clients back to 1 (now %d)" % connected_clients(srv))


@suite.test
def test_maxclients(srv):
    ctl = srv.conn()
    extra = []
    try:
        # Connections of the suite's earlier tests close asynchronously (in
        # redis-server too): count from a settled server, ctl alone.
        check(wait_for(lambda: connected_clients_via(ctl) == 1, 10, 0.05),
              "earlier tests' connections are gone")
        eq(ctl.call("CONFIG", "SET", "maxclients", "5"), b"OK")
        extra = [srv.conn() for _ in range(4)]  # 5 with ctl
        for c in extra:
            eq(c.call("PING"), b"PONG", "connections within maxclients")
        for attempt in range(3):
            with srv.conn() as over:
                over.send_raw(b"PING\r\n")
                data, closed = over.read_until_close(5)
            eq(data, b"-ERR max number of clients reached\r\n",
               "connection over maxclients (attempt %d)" % attempt)
            check(closed, "connection over maxclients is closed")
        extra.pop().close()
        ok = wait_for(lambda: connected_clients_via(ctl) == 4, 10, 0.05)
        check(ok, "connected_clients drops to 4 after one close")
        with srv.conn() as again:
            eq(again.call("PING"), b"PONG", "a slot freed up")
    finally:
        for c in extra:
            c.close()
        ctl.call("CONFIG", "SET", "maxclients", "10000")
        ctl.close()
    with srv.conn() as c:
        eq(c.call("PING"), b"PONG", "maxclients restored")


def connected_clients_via(conn):
    return int(info_fields(conn.call("INFO", "clients"))["connected_clients"])


@suite.test
def test_idle_timeout(srv):
    with srv.conn() as ctl:
        eq(ctl.call("CONFIG", "SET", "timeout", "1"), b"OK")
        try:
            idle = [srv.conn() for _ in range(10)]
            t0 = time.monotonic()
            for c in idle:
                data, closed = c.read_until_close(10)
                check(closed and data == b"", "idle client closed silently (%r, %s)"
                      % (data, closed))
                c.close()
            dt = time.monotonic() - t0
            check(0.9 <= dt <= 10, "idle clients closed after %.2f s with timeout 1" % dt)
        finally:
            # ctl itself may have been idle-closed: use a fresh connection.
            with srv.conn() as c2:
                eq(c2.call("CONFIG", "SET", "timeout", "0"), b"OK")
    with srv.conn() as c:
        time.sleep(1.5)
        eq(c.call("PING"), b"PONG", "timeout 0 keeps idle clients")


@suite.test
def test_query_buffer_limit(srv):
    with srv.conn() as ctl:
        eq(ctl.call("CONFIG", "SET", "client-query-buffer-limit", "1mb"), b"OK")
    try:
        with srv.conn() as c:
            try:
                c.send_raw(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n" + b"x" * 3000000)
            except OSError:
                pass  # closed while we were still sending
            data, closed = c.read_until_close(5)
            check(closed, "client over the query buffer limit is closed")
            eq(data, b"", "no reply to an over-limit request")
        with srv.conn() as c:
            v = b"y" * 500000
            eq(c.call("ECHO", v), v, "requests under the limit still work")
    finally:
        with srv.conn() as ctl:
            eq(ctl.call("CONFIG", "SET", "client-query-buffer-limit", "1gb"), b"OK")


if __name__ == "__main__":
    run_suite(suite)
