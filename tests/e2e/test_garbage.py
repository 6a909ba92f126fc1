#!/usr/bin/python3
"""
test_garbage.py - protocol abuse: bad lengths, oversized requests, unbalanced
quotes, random bytes, half requests, connection storms.  Error texts are
Redis 7.0's, byte for byte; after every abuse the server must still be alive
and answer PING on a fresh connection.
"""
import os
import random
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, check, eq, encode, info_fields, run_suite, wait_for,  # noqa
                        RespConn)

suite = Suite("garbage")
SEED = int(os.environ.get("HOTPATH_GARBAGE_SEED", random.randrange(1 << 30)))
print("# seed %d (HOTPATH_GARBAGE_SEED)" % SEED, flush=True)

PROTO_ERR = b"-ERR Protocol error: "


def healthy(srv, what):
    check(srv.alive(), "server process died after %s (exit %s)" % (what, srv.proc.poll()))
    try:
        with srv.conn(timeout=5) as c:
            r = c.call_raw("PING")
    except Exception as e:
        raise AssertionError("fresh connection after %s: %r" % (what, e))
    eq(r, b"+PONG\r\n", "PING on a fresh connection after %s" % what)


def expect_close(srv, payload, expected, what=None):
    """payload -> exactly `expected`, then the server closes the connection."""
    what = what or repr(payload[:40])
    with srv.conn() as c:
        c.send_raw(payload)
        data, closed = c.read_until_close(timeout=5)
    eq(data, expected, "reply to %s" % what)
    check(closed, "server closed the connection after %s (got %r)" % (what, data))
    healthy(srv, what)


def expect_open(srv, payload, expected, what=None):
    """payload -> exactly `expected`, and the connection keeps working."""
    what = what or repr(payload[:40])
    with srv.conn(timeout=5) as c:
        c.send_raw(payload)
        got = b""
        deadline = time.monotonic() + 5
        while len(got) < len(expected) and time.monotonic() < deadline:
            got += c.read_raw()
        eq(got, expected, "reply to %s" % what)
        eq(c.call_raw("PING"), b"+PONG\r\n", "connection still usable after %s" % what)


@suite.test
def test_invalid_multibulk_length(srv):
    err = PROTO_ERR + b"invalid multibulk length\r\n"
    for p in (b"*abc\r\n", b"*3000000000\r\n", b"*2147483648\r\n", b"* 1\r\n", b"*1x\r\n",
              b"*\r\n", b"*01\r\n$4\r\nPING\r\n", b"*+1\r\n$4\r\nPING\r\n",
              b"*-\r\n", b"*99999999999999999999999\r\n"):
        expect_close(srv, p, err)
    # Valid requests before the garbage are answered first.
    expect_close(srv, b"PING\r\n*1\r\n$4\r\nPING\r\n*abc\r\n", b"+PONG\r\n+PONG\r\n" + err,
                 "PING, PING, *abc")


@suite.test
def test_empty_and_negative_multibulk(srv):
    # Redis ignores "*0" and "*-1" requests.
    expect_open(srv, b"*0\r\nPING\r\n", b"+PONG\r\n")
    expect_open(srv, b"*-1\r\n*1\r\n$4\r\nPING\r\n", b"+PONG\r\n")
    expect_open(srv, b"\r\n\r\nPING\r\n", b"+PONG\r\n", "empty inline lines")
    expect_open(srv, b"PING\n", b"+PONG\r\n", "inline LF only")
    expect_open(srv, b"  PING  \r\n", b"+PONG\r\n", "inline with blanks")
    expect_open(srv, b"*1\r\n$0\r\n\r\n",
                b"-ERR unknown command '', with args beginning with: \r\n", "empty command name")


@suite.test
def test_expected_dollar(srv):
    expect_close(srv, b"*1\r\nfoo\r\n", PROTO_ERR + b"expected '$', got 'f'\r\n")
    expect_close(srv, b"*2\r\n$3\r\nGET\r\n:1\r\n", PROTO_ERR + b"expected '$', got ':'\r\n")
    expect_close(srv, b"*1\r\n*1\r\n", PROTO_ERR + b"expected '$', got '*'\r\n")
    # A CR in the offending byte must not break the reply line.
    expect_close(srv, b"*1\r\n\r\n", PROTO_ERR + b"expected '$', got ' '\r\n")


@suite.test
def test_invalid_bulk_length(srv):
    err = PROTO_ERR + b"invalid bulk length\r\n"
    for p in (b"*1\r\n$abc\r\n", b"*1\r\n$-5\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$ 3\r\n",
              b"*1\r\n$3x\r\n", b"*1\r\n$\r\n", b"*1\r\n$04\r\nPING\r\n",
              b"*1\r\n$+4\r\nPING\r\n", b"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n"):
        expect_close(srv, p, err)


@suite.test
def test_bulk_above_proto_max_bulk_len(srv):
    err = PROTO_ERR + b"invalid bulk length\r\n"
    expect_close(srv, b"*1\r\n$536870913\r\n", err, "bulk of 512 MiB + 1")
    expect_close(srv, b"*2\r\n$3\r\nSET\r\n$600000000\r\n", err, "bulk of 600 MB")
    with srv.conn() as c:
        eq(c.call("CONFIG", "SET", "proto-max-bulk-len", "1048576"), b"OK")
    try:
        expect_close(srv, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n", err, "bulk above a lowered limit")
        # Exactly the limit is fine.
        with srv.conn() as c:
            v = b"z" * 1048576
            eq(c.call("ECHO", v), v, "bulk of exactly proto-max-bulk-len")
    finally:
        with srv.conn() as c:
            eq(c.call("CONFIG", "SET", "proto-max-bulk-len", "536870912"), b"OK")


@suite.test
def test_too_big_requests(srv):
    expect_close(srv, b"x" * 70000, PROTO_ERR + b"too big inline request\r\n",
                 "70000-byte inline request without newline")
    expect_close(srv, b"*" + b"1" * 70000, PROTO_ERR + b"too big mbulk count string\r\n",
                 "70000-byte multibulk count")
    expect_close(srv, b"*1\r\n$" + b"1" * 70000, PROTO_ERR + b"too big bulk count string\r\n",
                 "70000-byte bulk count")


@suite.test
def test_unbalanced_quotes(srv):
    err = PROTO_ERR + b"unbalanced quotes in request\r\n"
    for p in (b"set \"a b\r\n", b"set 'a\r\n", b"set \"a\"b c\r\n", b"echo 'x'y\r\n"):
        expect_close(srv, p, err)
    expect_open(srv, b"echo \"\\x41\\n\"\r\n", b"$2\r\nA\n\r\n", "inline escapes")
    expect_open(srv, b"set 'k 1' \"v\\t2\"\r\nget 'k 1'\r\n", b"+OK\r\n$3\r\nv\t2\r\n",
                "inline quoting")


@suite.test
def test_half_requests_then_disconnect(srv):
    parts = [b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nval",
             b"*3\r\n$3\r\nSET\r\n$4\r\nhalf",
             b"*3\r\n$3\r\nSE",
             b"*3\r",
             b"SET half val",  # inline without newline
             b"*2\r\n$3\r\nSET\r\n$100000000\r\n" + b"x" * 1000000]  # big arg, cut short
    for p in parts:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(p)
        time.sleep(0.02)
        s.close()
        healthy(srv, "half request %r" % p[:30])
        with srv.conn() as c:
            eq(c.call("EXISTS", "half"), 0, "half request %r was not executed" % p[:30])
    # The same with RST instead of FIN.
    for p in parts:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(p)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    healthy(srv, "half requests with RST")
    with srv.conn() as c:
        eq(c.call("EXISTS", "half"), 0, "no half request executed")


def drain_after_eof(sock, timeout=3.0):
    """Half-close our side, then read until the server closes (bounded)."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


@suite.test
def test_random_binary_bytes(srv):
    rng = random.Random(SEED)
    for rnd in range(150):
        n = rng.choice((1, 7, 64, 1000, 5000, 20000))
        data = bytes(rng.randrange(256) for _ in range(n))
        if rnd % 3 == 1:
            data = rng.choice((b"*", b"$", b"*2\r\n$", b"*1\r\n")) + data
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may close on us mid-send
        closed = drain_after_eof(s)
        s.close()
        check(closed, "round %d: server did not close after our EOF" % rnd)
        if rnd % 10 == 0:
            healthy(srv, "random bytes round %d" % rnd)
    healthy(srv, "150 rounds of random bytes")


@suite.test
def test_mutated_requests(srv):
    # Valid pipelines with random bytes flipped, dropped or duplicated.
    rng = random.Random(SEED + 1)
    base = (encode("SET", "mut", "value") + encode("GET", "mut") + encode("MGET", "a", "b", "mut")
            + encode("INCRBY", "n", "5") + b"ECHO \"x y\"\r\n" + encode("EXPIRE", "mut", "100"))
    for rnd in range(200):
        data = bytearray(base)
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(data))
            op = rng.randrange(3)
            if op == 0:
                data[i] = rng.randrange(256)
            elif op == 1:
                del data[i]
            else:
                data[i:i] = bytes([data[i]]) * rng.randrange(1, 4)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(bytes(data))
        except OSError:
            pass
        closed = drain_after_eof(s)
        s.close()
        check(closed, "round %d: server did not close after our EOF" % rnd)
    healthy(srv, "200 mutated pipelines")


@suite.test
def test_connect_disconnect_storm(srv):
    t0 = time.monotonic()
    for i in range(3000):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        if i % 3 == 1:
            s.sendall(b"PING\r\n")  # closed before reading the reply
        elif i % 3 == 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        check(time.monotonic() - t0 < 120, "storm took over 120 s (at %d)" % i)
    healthy(srv, "3000 connect/disconnect")

    def count():
        with srv.conn() as c:
            return int(info_fields(c.call("INFO", "clients"))["connected_clients"])
    check(wait_for(lambda: count() == 1, 15, 0.1),
          "connected_clients back to 1 after the storm (now %d)" % count())


@suite.test
def test_error_then_valid_on_other_connections(srv):
    # One connection's protocol error must not disturb others.
    good = [srv.conn() for _ in range(8)]
    try:
        for i, c in enumerate(good):
            c.send("SET", "g%d" % i, "v%d" % i)
        expect_close(srv, b"*1\r\n$abc\r\n", PROTO_ERR + b"invalid bulk length\r\n")
        for i, c in enumerate(good):
            eq(c.read(), b"OK")
            eq(c.call("GET", "g%d" % i), b"v%d" % i, "connection %d unaffected" % i)
    finally:
        for c in good:
            c.close()


if __name__ == "__main__":
    run_suite(suite)
