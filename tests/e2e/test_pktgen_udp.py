#!/usr/bin/python3
"""test_pktgen_udp.py - hotpath-pktgen's kernel-UDP mode (docs/PROTOCOL.md)
against hotpathd's UDP dataplane, reached through a DPDK TAP port: hotpathd
owns one end (net_tap), the kernel the other, so pktgen's ordinary UDP
sockets talk to the kernel-bypass dataplane.  Needs root and /dev/net/tun;
elsewhere the tests are skipped (not counted)."""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Server, Suite, check, eq, log, target, run_suite  # noqa: E402
from test_pktgen_tcp import pktgen  # noqa: E402

suite = Suite("pktgen_udp")
NET = "10.%d.%d" % (100 + os.getpid() % 100, (os.getpid() // 100) % 250)
IFACE = "hppg%d" % (os.getpid() % 100000)
UDP_PORT = 9000


def can_run():
    return target() == "hotpathd" and os.geteuid() == 0 and os.path.exists("/dev/net/tun")


def tap_server(workers):
    srv = Server(workers=workers, extra_args=[
        "--eal-args", "--no-huge --no-pci --no-shconf -m 256 --vdev net_tap0,iface=%s" % IFACE,
        "--udp-ports", "all", "--udp-addr", NET + ".1/24", "--udp-port", str(UDP_PORT)])
    srv.start()
    try:
        for cmd in (["ip", "addr", "add", NET + ".2/24", "dev", IFACE],
                    ["ip", "link", "set", IFACE, "up"]):
            subprocess.run(cmd, check=True, timeout=10)
        time.sleep(0.3)
    except Exception:
        srv.stop()
        raise
    return srv


def udp_run(srv, *args):
    return pktgen(UDP_PORT, "--mode", "udp", "--host", NET + ".1", *args)


def correctness(srv, *extra):
    # FLUSHALL needs every shard, which a UDP request cannot have: over TCP.
    with srv.conn() as c:
        eq(c.call("FLUSHALL"), b"OK")
    rc, out, rep = udp_run(srv, "--check", "--no-flush", "--load", "--keys", "1000",
                           "--shards", "2", "--mix", "get=50,set=30,incr=10,mget=10",
                           "--mget-batch", "4", "--cmds", "4", "--flows", "2", "--window", "8",
                           "--duration", "1.5", "--warmup", "0.3", *extra)
    check(rc == 0, "rc %d:\n%s" % (rc, out))
    eq(rep["passed"], True)
    eq(rep["mode"], "udp")
    eq(rep["errors"], {"server": 0, "mismatches": 0, "lost": 0, "protocol": 0})
    check(rep["answered"] > 100 and rep["verified"] >= 1000, "too little done:\n" + out)


@suite.test(server=False)
def test_udp_correctness(_):
    if not can_run():
        log("SKIP udp_correctness (needs root, /dev/net/tun, target hotpathd)")
        return
    srv = tap_server(2)      # two shards: hand-over (no steering), then steered
    try:
        correctness(srv)
        correctness(srv, "--steer")
        # without --shards, multi-key requests would span shards: refused clearly
        rc, out, rep = udp_run(srv, "--mix", "mget=100", "--duration", "0.3", "--warmup", "0")
        check(rep["errors"]["server"] > 0, "CROSSSLOT errors not counted:\n" + out)
    finally:
        srv.stop()


@suite.test(server=False)
def test_udp_unreachable_is_lost(_):
    if not can_run():
        log("SKIP udp_unreachable_is_lost (needs root, /dev/net/tun, target hotpathd)")
        return
    srv = tap_server(1)
    try:
        # a port the dataplane does not serve: every request times out
        rc, out, rep = pktgen(UDP_PORT + 7, "--mode", "udp", "--host", NET + ".1", "--check",
                              "--no-flush", "--no-verify", "--flows", "1", "--window", "2",
                              "--duration", "0.3", "--warmup", "0", "--timeout-ms", "200",
                              timeout=60)
        eq(rc, 1, "should fail:\n" + out)
        check(rep["errors"]["lost"] > 0, "nothing counted lost:\n" + out)
        check(rep["retries"] > 0, "no retransmission counted:\n" + out)
    finally:
        srv.stop()


if __name__ == "__main__":
    run_suite(suite)
