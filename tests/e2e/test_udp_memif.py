#!/usr/bin/python3
"""
test_udp_memif.py - two DPDK processes over net_memif: hotpathd (memif
server role, 2 workers = 2 queue pairs) and udp_memif_client (memif client
role, built from tests/e2e/udp_memif_client.c with the dataplane's own frame
and protocol code).  The client runs one million operations whose replies it
checks byte for byte; it puts each request on its owner's queue, so the
server must not hand any over.  A second run puts every other request on the
wrong queue: those must be handed over to the owner and still verify.

The client binary is found next to hotpathd's build directory
(<build>/tests/e2e/udp_memif_client) or through HOTPATH_MEMIF_CLIENT.
Without it every test is reported and counted as skipped.  The memif socket lives in a private
temporary directory, removed at exit.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, check, eq, hotpathd_path, log,  # noqa: E402
                        remove_dpdk_runtime_dir)

OPS = int(os.environ.get("HOTPATH_MEMIF_OPS", "1000000"))
WORKERS = 2
SERVER_MAC, CLIENT_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
SERVER_IP, CLIENT_IP = "10.89.0.1", "10.89.0.2"
UDP_BASE = 9000
SOCKDIR = tempfile.mkdtemp(prefix="hp-memif-")
SOCK = os.path.join(SOCKDIR, "memif.sock")


def client_path():
    env = os.environ.get("HOTPATH_MEMIF_CLIENT")
    if env:
        return env
    build = os.path.dirname(os.path.dirname(hotpathd_path()))
    return os.path.join(build, "tests", "e2e", "udp_memif_client")


def dataplane(srv):
    with srv.conn() as c:
        text = c.call("INFO", "dataplane").decode()
    tot = {}
    for line in text.split("\r\n"):
        if line.startswith("udp_port"):
            for kv in line.split(":", 1)[1].split(","):
                k, v = kv.split("=")
                tot[k] = tot.get(k, 0) + int(v)
    return tot


def run_client(ops, mode=None, timeout=200):
    prefix = "hp-e2e-%d-memifc" % os.getpid()
    cmd = [client_path(), "--no-huge", "--no-pci", "-m", "256", "--file-prefix", prefix,
           "-l", "0", "--log-level=*:warning",
           "--vdev", "net_memif0,role=client,socket=%s,mac=%s" % (SOCK, CLIENT_MAC), "--",
           SERVER_IP, SERVER_MAC, CLIENT_IP, str(UDP_BASE), str(WORKERS), str(ops)]
    if mode:
        cmd.append(mode)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    finally:
        remove_dpdk_runtime_dir(prefix)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"MEMIF-RESULT: ops=(\d+) verified=(\d+) retransmits=(\d+) mismatches=(\d+)",
                  out)
    check(m is not None, "client printed no result (exit %d): %s" % (r.returncode, out[-600:]))
    log("  " + m.group(0))
    ops_sent, verified, _, mismatches = (int(g) for g in m.groups())
    eq((ops_sent, verified, mismatches), (ops, ops, 0), "ops sent / verified / mismatches")
    eq(r.returncode, 0, "client exit status")


suite = Suite("udp_memif", server_args=[
    "--workers", str(WORKERS),
    "--eal-args", "--no-huge --no-pci -m 512 --vdev net_memif0,role=server,socket=%s,mac=%s"
    % (SOCK, SERVER_MAC),
    "--udp-ports", "0", "--udp-addr", SERVER_IP + "/24", "--udp-port", str(UDP_BASE),
])


@suite.test(timeout=400)
def test_million_ops_owner_queues(srv):
    before = dataplane(srv)
    run_client(OPS)
    after = dataplane(srv)
    check(after["ops"] - before["ops"] >= OPS, "server ops counter")
    eq(after["handed_over"] - before["handed_over"], 0,
       "requests on their owner's queue need no hand-over")
    # TCP clients see what the UDP clients wrote.
    with srv.conn() as c:
        check(c.call("DBSIZE") >= 2 * (OPS // 16), "keys written")


@suite.test(timeout=200)
def test_wrong_queue_handed_over(srv):
    before = dataplane(srv)
    run_client(100000, mode="cross")
    after = dataplane(srv)
    moved = after["handed_over"] - before["handed_over"]
    check(moved >= 100000 // 16 // 2, "hand-overs: %d" % moved)
    eq(after["handed_in"] - before["handed_in"], moved, "every hand-over arrived")


@suite.test(timeout=200)
def test_multi_shard_datagrams(srv):
    """Every datagram spans both shards (SET/GET on one, INCRs on
    the other, MGET over both): run under the shard hand-over, verified."""
    before = dataplane(srv)
    run_client(100000, mode="multi")
    after = dataplane(srv)
    multi = after["multi_shard"] - before["multi_shard"]
    reqs = 100000 // 16
    # The client picks the counter's hash tag on the other shard, whatever
    # the (random) session id: every datagram is multi-shard.
    eq(multi, reqs, "multi-shard datagrams of %d" % reqs)
    eq(after["handed_over"] - before["handed_over"], 0, "first-key owner queues: no hand-over")


@suite.test
def test_flow_steering_fallback_logged(srv):
    with open(srv.log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if "rte_flow steering" in ln]
    eq(len(lines), 1, "one rte_flow line: %r" % lines)
    check("unavailable" in lines[0], "net_memif has no rte_flow: %r" % lines[0])


@suite.test(server=False, timeout=120)
def test_bad_udp_config_refused(_):
    """Bad UDP settings stop start-up with a message naming the directive."""
    cases = [
        (["--udp-ports", "0", "--udp-addr", "10.1.1.1/33"], "udp-addr"),
        (["--udp-ports", "0", "--udp-addr", "10.1.1.1/24 10.1.2.1/24"], "udp-addr"),
        (["--udp-ports", "7", "--udp-addr", "10.1.1.1/24"], "udp-ports"),
        (["--udp-ports", "0", "--udp-addr", "10.1.1.1/24", "--udp-client-subnets", "x/8"],
         "udp-client-subnets"),
    ]
    for i, (args, word) in enumerate(cases):
        prefix = "hp-e2e-%d-badudp%d" % (os.getpid(), i)
        cmd = [hotpathd_path(), "--port", "0", "--workers", "1", "--file-prefix", prefix,
               "--eal-args", "--no-huge --no-pci -m 128 --vdev net_null0"] + args
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
        finally:
            remove_dpdk_runtime_dir(prefix)
        out = r.stdout.decode(errors="replace")
        check(r.returncode != 0, "%r started (exit 0)" % args)
        check(word in out, "%r: message does not name %s: %s" % (args, word, out[-300:]))


def main():
    if not os.access(client_path(), os.X_OK):
        return suite.skip_all("%s not built" % client_path())
    try:
        return suite.main()
    finally:
        shutil.rmtree(SOCKDIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
