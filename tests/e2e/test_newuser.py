#!/usr/bin/python3
"""test_newuser.py - what a new user trips over first (issue 12, item 6):
half-closed clients, a second server on a taken port, INFO's keyspace
counters, the CONFIG GET answers redis-benchmark needs, SHUTDOWN SAVE,
large multibulk counts, the start-up output and --help.

Each test compares with redis-server (Redis 7.0) where the behaviour is
Redis'; run the suite with HOTPATH_E2E_TARGET=redis to check the
expectations themselves."""
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, Server, check, eq, encode, run_suite, target)  # noqa

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


if __name__ == "__main__":
    run_suite(suite)
