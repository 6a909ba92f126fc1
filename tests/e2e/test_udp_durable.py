#!/usr/bin/python3
"""
test_udp_durable.py - durable acknowledgements on the UDP dataplane
(issue 5 part 4): hotpathd with `appendonly yes, appendfsync always` serves
UDP over net_af_packet on a veth whose peer sits in a network namespace
this test creates (the set-up of test_udp_afpacket.py); kernel UDP sockets
in the namespace are the clients.

* kill -9 cycles: writers send SETs over UDP (each one waits for its
  reply), the server is killed at a random moment, restarted on the same
  log; every acknowledged write must be there, and no value that was never
  sent.  Replies must have been held for the log (durable_held counter).
* retransmissions of a write whose reply is held are dropped as "in
  flight" and later answered from the kept reply, never run twice.
* a write datagram while the log refuses writes (MISCONF) gets the error
  reply; reads keep being served.
* a write datagram while the log has no room (forced with the test hook
  HP_PERSIST_DEBUG_RING_FULL_MS) waits parked and is answered OK once
  there is room, never BUSY; TCP keeps being served meanwhile.

Needs root, iproute2 and network namespaces (netns, veth); without them
every test is reported and counted as skipped, with the reason.
"""
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Server, Suite, check, eq, log, RespConn, need_netns  # noqa: E402
import hpudp  # noqa: E402
import test_udp_afpacket as A  # noqa: E402  (netns/veth set-up, UDP client)

# A build that acknowledged before the sync lost a write in about one
# cycle in seven here, so CI runs enough cycles to catch it.
CYCLES = int(os.environ.get("HP_UDP_CRASH_CYCLES", "16"))
WRITERS = 3
SEED = int(os.environ.get("HP_CRASH_SEED", str(int(time.time()))))


def server(d, extra=()):
    return Server(workers=A.WORKERS, extra_args=[
        "--eal-args", "--no-huge --no-pci -m 512 --vdev net_af_packet0,iface=%s,qpairs=%d"
        % (A.VETH_HOST, A.WORKERS),
        "--udp-ports", "0", "--udp-addr", A.SRV_IP + "/24", "--udp-port", str(A.UDP_BASE),
        "--appendonly", "yes", "--appendfsync", "always", "--dir", d] + list(extra))


def writer(wid, cycle, acked, pending, stop, count):
    """SETs key w<wid>:<i> = <cycle>:<i> one at a time until the server dies."""
    cl = A.client()
    try:
        cl.call("PING")
        i = 0
        while not stop.is_set():
            k, v = "w%d:%d" % (wid, i % 200), "%d:%d" % (cycle, i)
            pending[k] = v
            try:
                r = cl.call("SET", k, v)
            except RuntimeError:
                return      # TIMEOUT: the server is gone; k stays in flight
            if r != b"OK":
                raise AssertionError("SET answered %r" % (r,))
            acked[k] = v
            del pending[k]
            count[wid] += 1
            i += 1
    finally:
        cl.close()


def verify(port, acked, pending):
    keys = sorted(set(acked) | set(pending))
    bad = []
    with RespConn(port) as c:
        for i in range(0, len(keys), 100):
            part = keys[i:i + 100]
            for k, v in zip(part, c.call("MGET", *part)):
                got = None if v is None else v.decode()
                # the last acknowledged value, or the one in flight at the
                # kill; None only if no write of k was ever acknowledged
                ok = {acked.get(k), pending.get(k)} - {None}
                if acked.get(k) is None:
                    ok.add(None)
                if got not in ok:
                    bad.append("%s: got %r, acknowledged %r, in flight %r"
                               % (k, got, acked.get(k), pending.get(k)))
                if got is not None:
                    acked[k] = got       # the in-flight one made it: now it must stay
                pending.pop(k, None)
    return bad


suite = Suite("udp_durable")


@suite.test(server=False, timeout=60 + CYCLES * 30)
def test_kill9_cycles_keep_acknowledged_udp_writes(_):
    rng = random.Random(SEED)
    log("# %d cycles, seed %d (HP_CRASH_SEED to repeat)" % (CYCLES, SEED))
    d = tempfile.mkdtemp(prefix="hp-udp-crash-")
    acked, pending = {}, {}
    total = 0
    try:
        for cycle in range(CYCLES):
            srv = server(d).start()
            bad = verify(srv.port, acked, pending)
            check(not bad, "cycle %d after restart: %d bad keys, e.g. %s"
                  % (cycle, len(bad), "; ".join(bad[:3])))
            before = len(acked)
            stop = threading.Event()
            pend = [dict() for _ in range(WRITERS)]
            ack = [dict() for _ in range(WRITERS)]
            count = [0] * WRITERS
            ts = [threading.Thread(target=writer, args=(w, cycle, ack[w], pend[w], stop, count))
                  for w in range(WRITERS)]
            for t in ts:
                t.start()
            time.sleep(rng.uniform(0.4, 1.2))
            held = A.dataplane(srv).get("durable_held", 0)
            srv.proc.kill()
            stop.set()
            for t in ts:
                t.join(15)
                check(not t.is_alive(), "a writer did not stop")
            srv.proc.wait(10)
            srv.stop()
            srv.discard_logs()   # the kill was ours
            n = sum(count)
            check(held > 0, "cycle %d: no reply was held for the log (durable_held 0)" % cycle)
            for w in range(WRITERS):
                acked.update(ack[w])
                pending.update(pend[w])
            total += n
            log("# cycle %d: %d UDP writes acknowledged, %d keys known (was %d)"
                % (cycle, n, len(acked), before))
        srv = server(d).start()
        bad = verify(srv.port, acked, pending)
        srv.stop()
        check(not bad, "final restart: %d bad keys, e.g. %s" % (len(bad), "; ".join(bad[:3])))
        check(total >= CYCLES * 10, "enough acknowledged writes: %d" % total)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False, timeout=60)
def test_retransmission_while_held_runs_once(_):
    d = tempfile.mkdtemp(prefix="hp-udp-held-")
    srv = server(d).start()
    cl = A.client()
    try:
        A.handshake(cl)
        rid = cl.next_id
        cl.next_id += 1
        # The request and two retransmissions back to back: the copies
        # arrive while the first one's reply waits for its sync.
        req = cl.build(hpudp.encode_cmd("INCR", "held:ctr"), 1, rid)
        again = cl.build(hpudp.encode_cmd("INCR", "held:ctr"), 1, rid, retry=True)
        cl.sock.sendto(req, cl.server)
        cl.sock.sendto(again, cl.server)
        cl.sock.sendto(again, cl.server)
        # (Late copies of the handshake's replies may still arrive: only
        # this request's replies count.)
        got = [h for h in map(hpudp.decode, cl.recv_all(0.5)) if h and h["request"] == rid]
        check(len(got) >= 1, "no reply")
        for h in got:
            eq((h["status"], h["payload"]), (0, b":1\r\n"), "every reply is the first INCR's")
        later = [h for h in map(hpudp.decode, cl.raw(again, 0.5)) if h and h["request"] == rid]
        eq([h["payload"] for h in later], [b":1\r\n"], "kept reply afterwards")
        eq(cl.call("GET", "held:ctr"), b"1", "applied once")
        dp = A.dataplane(srv)
        check(dp.get("durable_held", 0) >= 1, "durable_held counter %r" % dp.get("durable_held"))
        with srv.conn() as c:
            info = c.call("INFO", "persistence").decode()
        check("aof_enabled:1" in info, "INFO persistence: %s" % info[:200])
    finally:
        cl.close()
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False, timeout=60)
def test_write_waits_parked_while_the_log_has_no_room(_):
    d = tempfile.mkdtemp(prefix="hp-udp-wait-")
    os.environ["HP_PERSIST_DEBUG_RING_FULL_MS"] = "1500"
    try:
        srv = server(d).start()
    finally:
        del os.environ["HP_PERSIST_DEBUG_RING_FULL_MS"]
    cl = A.client()
    try:
        A.handshake(cl)
        got = {}  # the window starts with the first write that asks for room

        def udp_set():
            t0 = time.monotonic()
            got["reply"] = cl.call("SET", "wait:k", "v")
            got["took"] = time.monotonic() - t0

        t = threading.Thread(target=udp_set)
        t.start()
        time.sleep(0.2)
        with srv.conn() as c:
            p0 = time.monotonic()
            eq(c.call("PING"), b"PONG")
            check(time.monotonic() - p0 < 0.5, "TCP served while the datagram waits")
        t.join(10)
        eq(got.get("reply"), b"OK", "answered once there was room, not BUSY")
        check(got["took"] >= 0.5, "it did wait: %.2f s" % got["took"])
        eq(cl.call("GET", "wait:k"), b"v")
        dp = A.dataplane(srv)
        check(dp.get("log_wait", 0) >= 1, "log_wait counter %r" % dp.get("log_wait"))
        check(dp.get("held_busy", 0) == 0, "no BUSY")
    finally:
        cl.close()
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def main():
    why = need_netns()
    if why:
        return suite.skip_all(why)
    try:
        A.setup_net()
    except Exception as e:  # noqa: BLE001
        A.cleanup()
        return suite.skip_all("cannot create netns/veth (%s)" % e)
    try:
        return suite.main()
    finally:
        A.cleanup()


if __name__ == "__main__":
    sys.exit(main())
