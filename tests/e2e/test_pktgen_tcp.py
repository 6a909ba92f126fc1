#!/usr/bin/python3
"""test_pktgen_tcp.py - hotpath-pktgen's TCP mode against the real servers:
correctness mode passes on hotpathd (4 shards, cross-shard MGET) and on
redis-server, detects a server that answers wrongly, reports a dying server,
keeps an open-loop schedule, and rejects bad arguments clearly.

The binary: $HOTPATH_PKTGEN, else <build>/pktgen/hotpath-pktgen next to
$HOTPATHD's build folder."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Server, Suite, check, eq, hotpathd_path, run_suite  # noqa: E402

suite = Suite("pktgen_tcp")


def pktgen_path():
    p = os.environ.get("HOTPATH_PKTGEN")
    if p:
        return p
    build = os.path.dirname(os.path.dirname(hotpathd_path()))
    return os.path.join(build, "pktgen", "hotpath-pktgen")


def pktgen(port, *args, timeout=60):
    """Runs pktgen; returns (exit status, stdout+stderr, parsed JSON or None)."""
    fd, jpath = tempfile.mkstemp(prefix="hp-pktgen-", suffix=".json")
    os.close(fd)
    try:
        cmd = [pktgen_path(), "--port", str(port), "--quiet", "--json", jpath] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out = p.stdout.decode(errors="replace")
        rep = None
        try:
            with open(jpath) as f:
                txt = f.read()
            rep = json.loads(txt) if txt.strip() else None
        except (OSError, ValueError) as e:
            out += "\n(json: %s)" % e
        return p.returncode, out, rep
    finally:
        os.unlink(jpath)


MIXED = ["--check", "--load", "--keys", "2000", "--mix", "get=50,set=30,incr=10,mget=10",
         "--mget-batch", "6", "--flows", "4", "--window", "8", "--cmds", "4",
         "--duration", "1.5", "--warmup", "0.3"]


def correctness_run(srv):
    rc, out, rep = pktgen(srv.port, *MIXED)
    check(rc == 0, "pktgen failed (rc %d):\n%s" % (rc, out))
    check(rep is not None, "no JSON report:\n" + out)
    eq(rep["passed"], True)
    eq(rep["errors"], {"server": 0, "mismatches": 0, "lost": 0, "protocol": 0})
    eq(rep["load_keys"], 2000)
    check(rep["answered"] > 100, "too few requests answered: %d" % rep["answered"])
    check(rep["checked"] > rep["answered"], "replies were not checked")
    check(rep["verified"] >= 2000, "final verification covered %d keys" % rep["verified"])
    lat = rep["latency_us"]
    check(0 < lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], "latency order %r" % lat)
    check("result: PASS" in out, "text report lacks the verdict")


@suite.test
def test_correctness_hotpathd_or_target(srv):
    correctness_run(srv)


@suite.test(server=False)
def test_correctness_redis_server(_):
    srv = Server(kind="redis").start()
    try:
        correctness_run(srv)
    finally:
        srv.stop()


@suite.test
def test_detects_wrong_answers(srv):
    # Plant a value pktgen never wrote (and skip its FLUSHALL): the model
    # expects nil or a well-formed value of its own, so the run must fail.
    with srv.conn() as c:
        eq(c.call("SET", "k000000000000003", "not-a-pktgen-value"), b"OK")
        eq(c.call("SET", "c000000000000004", "41"), b"OK")
    rc, out, rep = pktgen(srv.port, "--check", "--no-flush", "--keys", "8",
                          "--mix", "get=50,incr=50", "--duration", "0.5", "--warmup", "0")
    eq(rc, 1, "pktgen should fail:\n" + out)
    check(rep and rep["passed"] is False, "JSON says passed:\n" + out)
    check(rep["errors"]["mismatches"] > 0, "no mismatch counted")
    check("first mismatch:" in out, "no mismatch described:\n" + out)
    check("k#3" in rep["first_mismatch"] or "c#4" in rep["first_mismatch"],
          "mismatch names another key: %s" % rep["first_mismatch"])


@suite.test
def test_open_loop_schedule(srv):
    rc, out, rep = pktgen(srv.port, "--rate", "2000", "--arrival", "poisson", "--flows", "2",
                          "--duration", "2", "--warmup", "0.2", "--mix", "get=90,set=10",
                          "--keys", "500")
    check(rc == 0, "rc %d:\n%s" % (rc, out))
    eq(rep["loop"], "open")
    # 4000 intended in 2 s; Poisson spread is ~sqrt(4000) = 63
    check(3400 <= rep["sent"] <= 4600, "sent %d requests, expected ~4000" % rep["sent"])
    check(rep["unsent"] < 200, "backlog of %d at 2000 req/s" % rep["unsent"])
    check(abs(rep["requests_per_s"] - 2000) < 300, "rate %.0f" % rep["requests_per_s"])


@suite.test
def test_distributions(srv):
    for dist in ("zipf:0.99", "hotset:0.01:0.9", "uniform"):
        rc, out, rep = pktgen(srv.port, "--dist", dist, "--keys", "100000", "--key-size", "12",
                              "--value-size", "100", "--duration", "0.5", "--warmup", "0",
                              "--mix", "get=80,set=20")
        check(rc == 0, "%s: rc %d:\n%s" % (dist, rc, out))
        check(rep["answered"] > 100, "%s: %d answered" % (dist, rep["answered"]))
        eq(rep["dist"], dist)


@suite.test(server=False)
def test_server_dies_mid_run(_):
    srv = Server().start()
    try:
        p = subprocess.Popen([pktgen_path(), "--port", str(srv.port), "--quiet", "--check",
                              "--duration", "4", "--warmup", "0", "--timeout-ms", "1000"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.0)
        srv.proc.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
        out = out.decode(errors="replace")
        eq(p.returncode, 1, "pktgen should fail:\n" + out)
        check("fatal:" in out and "result: FAIL" in out, "no failure reported:\n" + out)
    finally:
        srv.stop()


@suite.test(server=False)
def test_bad_arguments(_):
    bad = [["--flows", "0"], ["--flows", "5000"], ["--window", "x"], ["--mix", "get=50"],
           ["--dist", "zipf:-1"], ["--dist", "pareto"], ["--key-size", "3", "--keys", "100000"],
           ["--port", "70000"], ["--rate", "-5"], ["--no-verify"], ["--value-size", "8", "--check"],
           ["--mode", "quic"], ["--bogus"], ["extra"], ["--mode", "udp", "--window", "1000"]]
    for args in bad:
        p = subprocess.run([pktgen_path()] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        err = p.stderr.decode(errors="replace")
        eq(p.returncode, 2, "%r: rc %d, stderr %r" % (args, p.returncode, err))
        check(err.startswith("hotpath-pktgen: ") and len(err) > 20, "%r: message %r" % (args, err))
    p = subprocess.run([pktgen_path(), "--help"], stdout=subprocess.PIPE, timeout=10)
    eq(p.returncode, 0)
    check(b"--check" in p.stdout and b"--rate" in p.stdout, "--help is incomplete")


if __name__ == "__main__":
    run_suite(suite)
