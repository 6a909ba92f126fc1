#!/usr/bin/python3
"""test_pktgen_udp.py - hotpath-pktgen's datagram modes (docs/PROTOCOL.md):

* kernel UDP against hotpathd's UDP dataplane, reached through a DPDK TAP
  port: hotpathd owns one end (net_tap), the kernel the other, so pktgen's
  ordinary UDP sockets talk to the kernel-bypass dataplane (needs root and
  /dev/net/tun);
* DPDK mode over a memif link, against hotpathd (correctness mode; one
  lcore, and two lcores over a 2-queue memif to a 2-worker hotpathd, steered
  and spread; retransmission under injected loss) and against
  dpdk-testpmd in macswap mode (the reflector; Debian's dpdk-dev).

Tests whose prerequisites are missing are skipped (not counted)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Server, Skip, Suite, check, eq, log, run_suite  # noqa: E402
from test_pktgen_tcp import pktgen  # noqa: E402

suite = Suite("pktgen_udp")
NET_BASE = (100 + os.getpid() % 100, (os.getpid() // 100) % 200)
UDP_PORT = 9000
_taps = [0]
NET = IFACE = None     # of the TAP server running now


def needs(ok, why, only="hotpathd"):
    """Registers the test when its prerequisites hold; otherwise a stand-in
    of the same name that is reported and counted as skipped, with why."""
    def reg(fn):
        if ok:
            return suite.test(fn, server=False, only=only)

        def skipped(_):
            raise Skip(why)
        skipped.__name__ = fn.__name__
        suite.test(skipped, server=False)
        return fn
    return reg


IS_ROOT = os.geteuid() == 0
HAVE_TUN = os.path.exists("/dev/net/tun")
TESTPMD = shutil.which("dpdk-testpmd")


def tap_server(workers):
    # a fresh interface and subnet each time: the last one may still be
    # going away while the next server starts
    global NET, IFACE
    _taps[0] += 1
    NET = "10.%d.%d" % (NET_BASE[0], NET_BASE[1] + _taps[0])
    IFACE = "hppg%d_%d" % (os.getpid() % 100000, _taps[0])
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


@needs(IS_ROOT and HAVE_TUN, "needs root and /dev/net/tun")
def test_udp_correctness(_):
    srv = tap_server(2)      # two shards: hand-over (no steering), then steered
    try:
        correctness(srv)
        correctness(srv, "--steer")
        # without --shards, MGETs span both shards: the dataplane runs them
        # under a shard hand-over, so every one is answered without error
        rc, out, rep = udp_run(srv, "--mix", "mget=100", "--duration", "0.3", "--warmup", "0")
        check(rc == 0 and rep["errors"]["server"] == 0 and rep["answered"] > 0,
              "cross-shard MGET over UDP:\n" + out)
    finally:
        srv.stop()


@needs(IS_ROOT and HAVE_TUN, "needs root and /dev/net/tun")
def test_udp_unreachable_is_lost(_):
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


def memif_eal(sock, role, prefix, lcores=None):
    eal = "--no-huge --no-pci -m 256 --file-prefix %s --vdev net_memif0,role=%s,socket=%s" % (
        prefix, role, sock)
    return ("-l %s " % lcores if lcores else "") + eal


@needs(IS_ROOT, "needs root")
def test_dpdk_memif_hotpathd(_):
    sock = "/tmp/hp-pg-memif-%d.sock" % os.getpid()
    srv = Server(workers=1, extra_args=[
        "--eal-args", "--no-shconf " + memif_eal(sock, "server", "hp-pgs-%d" % os.getpid()),
        "--udp-ports", "all", "--udp-addr", "10.0.0.1/24"])
    srv.start()
    try:
        rc, out, rep = pktgen(9000, "--mode", "dpdk", "--eal",
                              memif_eal(sock, "client", "hp-pgc-%d" % os.getpid(), "0"),
                              "--check", "--load", "--keys", "1000",
                              "--mix", "get=50,set=30,incr=10,mget=10", "--mget-batch", "4",
                              "--cmds", "4", "--flows", "2", "--window", "8",
                              "--duration", "1.5", "--warmup", "0.3", timeout=90)
        check(rc == 0, "rc %d:\n%s" % (rc, out))
        eq(rep["mode"], "dpdk")
        eq(rep["errors"], {"server": 0, "mismatches": 0, "lost": 0, "protocol": 0})
        check(rep["answered"] > 100 and rep["verified"] >= 1000, "too little done:\n" + out)
    finally:
        srv.stop()
        if os.path.exists(sock):
            os.unlink(sock)


def udp_info_sum(srv, field):
    """A UDP dataplane counter of INFO, summed over ports and queues."""
    with srv.conn() as c:
        raw = c.call("INFO", "dataplane").decode(errors="replace")
    return sum(int(part.split("=", 1)[1]) for line in raw.split("\r\n") if "queue" in line
               for part in line.split(":", 1)[-1].split(",") if part.startswith(field + "="))


@needs(IS_ROOT, "needs root")
def test_dpdk_memif_two_lcores(_):
    # Two pktgen lcores against two hotpathd workers over a 2-queue memif:
    # steered (lcore q -> queue q -> worker q, the owner: no hand-over) and
    # spread over both queues (most requests handed over between workers),
    # each with --check (lcore q makes shard q's requests: disjoint models).
    tag = "%d" % os.getpid()
    sock = "/tmp/hp-pg-memif2-%s.sock" % tag
    srv = Server(workers=2, extra_args=[
        "--eal-args", "--no-shconf " + memif_eal(sock, "server", "hp-pgs2-" + tag),
        "--udp-ports", "all", "--udp-addr", "10.0.0.1/24"])
    srv.start()
    try:
        for n, steer in enumerate((["--steer"], [])):
            with srv.conn() as c:
                eq(c.call("FLUSHALL"), b"OK")     # several shards: not over UDP
            before = udp_info_sum(srv, "handed_over")
            rc, out, rep = pktgen(9000, "--mode", "dpdk", "--eal",
                                  memif_eal(sock, "client", "hp-pgc2-%s-%d" % (tag, n), "0,1"),
                                  "--check", "--no-flush", "--load", "--keys", "1000",
                                  "--shards", "2", *steer,
                                  "--mix", "get=50,set=30,incr=10,mget=10", "--mget-batch", "4",
                                  "--cmds", "4", "--flows", "4", "--window", "8",
                                  "--duration", "1.5", "--warmup", "0.3", timeout=90)
            handed = udp_info_sum(srv, "handed_over") - before
            what = "steered" if steer else "spread"
            check(rc == 0, "%s: rc %d:\n%s" % (what, rc, out))
            eq(rep["errors"], {"server": 0, "mismatches": 0, "lost": 0, "protocol": 0})
            check(rep["answered"] > 100 and rep["verified"] >= 1000 and rep["checked"] > 100,
                  "%s: too little done:\n%s" % (what, out))
            if steer:
                eq(handed, 0, "steered requests were handed over")
            else:
                check(handed > rep["answered"] // 4,
                      "spread: only %d of %d handed over" % (handed, rep["answered"]))
        # without --shards, two lcores cannot split the keys: a clear refusal
        rc, out, rep = pktgen(9000, "--mode", "dpdk", "--eal",
                              memif_eal(sock, "client", "hp-pgc2-%s-x" % tag, "0,1"),
                              "--duration", "0.2", "--warmup", "0", timeout=60)
        eq(rc, 1, "two lcores without --shards should fail:\n" + out)
        check("--shards equal to the lcores" in out, "no clear message:\n" + out)
    finally:
        srv.stop()
        if os.path.exists(sock):
            os.unlink(sock)


@needs(IS_ROOT, "needs root")
def test_dpdk_memif_retransmit(_):
    # pktgen drops 5 % of its first transmissions and of the replies: every
    # such request must be retransmitted with its id, and a retried SET or
    # INCR that already ran must be answered from the server's kept
    # replies, not run twice (the model would see a counter off by one).
    tag = "%d" % os.getpid()
    sock = "/tmp/hp-pg-memifr-%s.sock" % tag
    srv = Server(workers=1, extra_args=[
        "--eal-args", "--no-shconf " + memif_eal(sock, "server", "hp-pgsr-" + tag),
        "--udp-ports", "all", "--udp-addr", "10.0.0.1/24"])
    srv.start()
    try:
        rc, out, rep = pktgen(9000, "--mode", "dpdk", "--eal",
                              memif_eal(sock, "client", "hp-pgcr-" + tag, "0"),
                              "--check", "--load", "--keys", "500", "--inject-loss", "5",
                              "--retry-ms", "20", "--mix", "get=40,set=30,incr=20,mget=10",
                              "--mget-batch", "4", "--cmds", "4", "--flows", "4", "--window", "8",
                              "--duration", "1.5", "--warmup", "0.3", timeout=90)
        check(rc == 0, "rc %d:\n%s" % (rc, out))
        eq(rep["errors"], {"server": 0, "mismatches": 0, "lost": 0, "protocol": 0})
        check(rep["retries"] > 20 and rep["answered"] > 100 and rep["verified"] >= 500,
              "too little done or retried:\n" + out)
        check(udp_info_sum(srv, "dup_replays") > 0, "no retransmission answered from kept replies")
    finally:
        srv.stop()
        if os.path.exists(sock):
            os.unlink(sock)


@needs(IS_ROOT and TESTPMD, "needs root and dpdk-testpmd (Debian dpdk-dev)", only=None)
def test_dpdk_reflector(_):
    testpmd = TESTPMD
    sock = "/tmp/hp-pg-refl-%d.sock" % os.getpid()
    # stdin held open: testpmd forwards until it reads a line or is killed
    tlog = tempfile.TemporaryFile()
    tp = subprocess.Popen([testpmd] + memif_eal(sock, "server", "hp-pgt-%d" % os.getpid(),
                                                "0-1").split() +
                          ["--", "--forward-mode=macswap", "--nb-cores=1",
                           "--total-num-mbufs=16384"],
                          stdin=subprocess.PIPE, stdout=tlog, stderr=subprocess.STDOUT)
    try:
        # memif sockets are abstract by default: wait for testpmd's own word
        for _ in range(200):
            tlog.seek(0)
            if b"packet forwarding" in tlog.read() or tp.poll() is not None:
                break
            time.sleep(0.1)
        rc, out, rep = pktgen(9000, "--mode", "dpdk", "--reflector", "--eal",
                              memif_eal(sock, "client", "hp-pgr-%d" % os.getpid(), "0"),
                              "--flows", "4", "--window", "16", "--duration", "1",
                              "--warmup", "0.3", timeout=60)
        check(rc == 0, "rc %d:\n%s" % (rc, out))
        check(rep["requests_per_s"] > 10000, "reflector rate %.0f" % rep["requests_per_s"])
        eq(rep["lost"], 0)
    finally:
        tp.kill()
        tp.wait()
        if os.path.exists(sock):
            os.unlink(sock)


if __name__ == "__main__":
    run_suite(suite)
