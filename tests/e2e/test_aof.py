#!/usr/bin/python3
"""test_aof.py - the append-only log end to end (docs/AOF.md): restart keeps
data in every appendfsync mode, kill -9 keeps every acknowledged write,
torn tails are cut, corruption / bad manifests refuse start-up unless
aof-load-corrupt yes, and a full disk turns writes into MISCONF errors while
reads go on, until the disk has room again.  hotpathd only."""
import glob
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import (Suite, Server, ErrorReply, Skip, check, eq, pick_port,  # noqa
                        run_suite, wait_for)

suite = Suite("aof")
HDR = 4096            # segment header; records start here
REC_HDR = 40
REC_MAGIC = b"HPR1"


def aof_server(d, fsync="always", workers=4, extra=(), port=None):
    return Server(workers=workers, port=port, extra_args=["--appendonly", "yes", "--appendfsync", fsync,
                                               "--dir", d, "--loglevel", "notice"] + list(extra))


def start_fails(d, extra=(), workers=4):
    """Start a server that must refuse to start; returns its log text."""
    # One port: a refusal is final, retrying other ports would only repeat it.
    srv = aof_server(d, workers=workers, extra=extra, port=pick_port())
    try:
        srv.start()
    except Exception:
        return open(srv.log_path, errors="replace").read()
    srv.stop()
    raise AssertionError("server started although it should have refused")


def kill9(srv):
    """SIGKILL; the harness keeps a killed server's log, but this one is expected."""
    srv.proc.kill()
    srv.proc.wait(10)
    srv.stop()
    srv.discard_logs()


def manifest(d):
    lines = open(os.path.join(d, "MANIFEST")).read().splitlines()
    segs = []
    for ln in lines[1:-1]:
        _, sid, length = ln.split()
        segs.append((sid, length))
    return segs


def seg_path(d, sid):
    return os.path.join(d, "seg-%s.hpaof" % sid)


def records(path, limit=None):
    """(offset, length) of each record from the header on, until zeros."""
    data = open(path, "rb").read()
    end = len(data) if limit is None else min(limit, len(data))
    off, out = HDR, []
    while off + REC_HDR <= end and data[off:off + 4] == REC_MAGIC:
        ln = struct.unpack_from("<I", data, off + 8)[0]
        out.append((off, ln))
        off += ln
    return out


def newest_segment_with_records(d):
    for sid, length in reversed(manifest(d)):
        lim = None if length == "active" else int(length)
        if records(seg_path(d, sid), lim):
            return sid, length
    raise AssertionError("no segment holds records")


def fill(srv, n, prefix="k", db=0):
    with srv.conn() as c:
        if db:
            c.call("SELECT", str(db))
        for i in range(n):
            c.send("SET", "%s%d" % (prefix, i), "v%d" % i)
        got = c.read_n(n)
    check(all(r == b"OK" for r in got), "SETs acknowledged")


def verify(srv, n, prefix="k", db=0):
    with srv.conn() as c:
        if db:
            c.call("SELECT", str(db))
        for i in range(n):
            c.send("GET", "%s%d" % (prefix, i))
        got = c.read_n(n)
    missing = [i for i in range(n) if got[i] != b"v%d" % i]
    check(not missing, "%d of %d keys lost, e.g. %s%s" % (len(missing), n, prefix,
                                                         missing[:1]))


def tmpdir():
    return tempfile.mkdtemp(prefix="hp-aof-")


@suite.test(server=False)
def test_restart_keeps_data_always(_):
    d = tmpdir()
    try:
        srv = aof_server(d).start()
        with srv.conn() as c:
            for args in (("SET", "a", "1"), ("APPEND", "a", "23"), ("INCRBYFLOAT", "f", "1.25"),
                         ("INCR", "n"), ("INCRBY", "n", "41"),
                         ("MSET", "m1", "x", "m2", "y", "m3", "z", "m4", "w"),
                         ("SET", "r", "moved"), ("RENAME", "r", "r2"),
                         ("SET", "t", "ttl", "EX", "1000"), ("SET", "gone", "x", "PX", "50"),
                         ("SET", "p", "v", "EX", "100"), ("PERSIST", "p"),
                         ("SET", "d", "x"), ("DEL", "d"), ("SETRANGE", "sr", "3", "ab"),
                         ("SELECT", "2"), ("SET", "db2", "yes"), ("SELECT", "3"),
                         ("SET", "db3", "x"), ("FLUSHDB",), ("SELECT", "0")):
                r = c.call(*args)
                check(not isinstance(r, ErrorReply), "%s: %r" % (args, r))
        time.sleep(0.1)  # "gone" expires
        eq(srv.stop()[0], 0, "exit status")
        srv = aof_server(d).start()
        with srv.conn() as c:
            eq(c.call("GET", "a"), b"123")
            eq(c.call("GET", "f"), b"1.25")
            eq(c.call("GET", "n"), b"42")
            eq(c.call("MGET", "m1", "m2", "m3", "m4"), [b"x", b"y", b"z", b"w"])
            eq(c.call("GET", "r"), None)
            eq(c.call("GET", "r2"), b"moved")
            ttl = c.call("TTL", "t")
            check(990 <= ttl <= 1000, "TTL kept as an absolute expiry: %r" % ttl)
            eq(c.call("EXISTS", "gone"), 0, "expired key")
            eq(c.call("TTL", "p"), -1, "PERSIST replayed")
            eq(c.call("EXISTS", "d"), 0)
            eq(c.call("GET", "sr"), b"\x00\x00\x00ab")
            c.call("SELECT", "2")
            eq(c.call("GET", "db2"), b"yes")
            c.call("SELECT", "3")
            eq(c.call("DBSIZE"), 0, "FLUSHDB replayed")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_everysec_and_no_keep_data_on_clean_stop(_):
    for mode in ("everysec", "no"):
        d = tmpdir()
        try:
            srv = aof_server(d, fsync=mode).start()
            fill(srv, 300)
            eq(srv.stop()[0], 0, "%s: exit status" % mode)
            srv = aof_server(d, fsync=mode).start()
            verify(srv, 300)
            srv.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_kill9_keeps_acknowledged_writes(_):
    d = tmpdir()
    try:
        srv = aof_server(d).start()
        fill(srv, 2000)
        with srv.conn() as c:   # a multi-shard write too
            eq(c.call("MSET", "ma", "1", "mb", "2", "mc", "3", "md", "4"), b"OK")
        kill9(srv)
        srv = aof_server(d).start()
        verify(srv, 2000)
        with srv.conn() as c:
            eq(c.call("MGET", "ma", "mb", "mc", "md"), [b"1", b"2", b"3", b"4"])
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_restart_with_other_worker_count_refused(_):
    d = tmpdir()
    try:
        srv = aof_server(d, workers=4).start()
        fill(srv, 500)
        srv.stop()
        log = start_fails(d, workers=2)
        check("written with 4 workers; start with --workers 4" in log,
              "refusal names the worker count: %s" % log[-600:])
        srv = aof_server(d, workers=4).start()
        verify(srv, 500)
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _prepared_log(n=400, workers=4):
    d = tmpdir()
    srv = aof_server(d, workers=workers).start()
    fill(srv, n)
    kill9(srv)           # leave the last segment "active", as after a crash
    return d


@suite.test(server=False)
def test_torn_tail_is_cut(_):
    d = _prepared_log()
    try:
        sid, length = manifest(d)[-1]
        eq(length, "active", "last segment after a crash")
        path = seg_path(d, sid)
        recs = records(path)
        check(len(recs) > 10, "records in the active segment")
        off, ln = recs[-1]
        with open(path, "r+b") as f:        # a record cut in the middle of its write
            f.seek(off)
            head = f.read(ln)
            f.seek(off + ln)
            f.write(head[:ln - 3])
        srv = aof_server(d).start()
        log = open(srv.log_path, errors="replace").read()
        check("cut a torn record at the tail" in log and ("offset %d" % (off + ln)) in log,
              "torn tail log line naming the offset: %s" % log[-800:])
        verify(srv, 400)
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_corruption_refuses_start_unless_override(_):
    d = _prepared_log()
    try:
        sid, length = manifest(d)[-1]
        path = seg_path(d, sid)
        recs = records(path)
        off, ln = recs[len(recs) // 2]
        with open(path, "r+b") as f:        # flip a byte inside a record's payload
            f.seek(off + ln - 1)
            b = f.read(1)
            f.seek(off + ln - 1)
            f.write(bytes([b[0] ^ 0xFF]))
        log = start_fails(d)
        check(("seg-%s.hpaof" % sid) in log and ("offset %d" % off) in log,
              "refusal names segment and offset: %s" % log[-800:])
        check("aof-load-corrupt" in log, "the override is named: %s" % log[-600:])
        srv = aof_server(d, extra=["--aof-load-corrupt", "yes"]).start()
        with srv.conn() as c:
            got = c.call("DBSIZE")
        check(395 <= got < 400, "all keys but the damaged record's: %r" % got)
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_bad_manifest_refuses_start(_):
    d = _prepared_log(50)
    try:
        mpath = os.path.join(d, "MANIFEST")
        text = open(mpath).read()
        open(mpath, "w").write(text.replace("seg ", "seg  ", 1))
        log = start_fails(d)
        check("MANIFEST" in log, "refusal names the manifest: %s" % log[-600:])
        open(mpath, "w").write(text)       # restored: starts again
        os.unlink(mpath)                   # missing manifest, segments with records
        log = start_fails(d)
        check("MANIFEST is missing" in log, "missing manifest refused: %s" % log[-600:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_sealed_segment_truncated_refuses_start(_):
    d = tmpdir()
    try:
        srv = aof_server(d).start()
        fill(srv, 200)
        srv.stop()
        srv = aof_server(d).start()   # the first segment is sealed now
        srv.stop()
        sid, length = manifest(d)[0]
        check(length != "active", "first segment sealed")
        with open(seg_path(d, sid), "r+b") as f:
            f.truncate(int(length) - 10)
        log = start_fails(d)
        check(("seg-%s.hpaof" % sid) in log, "refusal names the segment: %s" % log[-600:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_disk_full_misconf_then_recovers(_):
    mnt = tempfile.mkdtemp(prefix="hp-aof-tmpfs-")
    # Segments are preallocated (16 MiB + 8 KiB): 24 MiB holds the first one
    # but not the next, so filling the first makes rotation fail with ENOSPC.
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if rc != 0:
        os.rmdir(mnt)
        raise Skip("cannot mount a tmpfs (not permitted here)")
    srv = None
    try:
        srv = aof_server(mnt, workers=2).start()
        val = "x" * 65536
        misconf = None
        held = srv.conn(timeout=2)
        eq(held.call("SET", "keep", "me"), b"OK")
        # Writes applied before the failure was seen stay held (appendfsync
        # always: not durable, so not acknowledged); later ones get MISCONF.
        n_ok, held_key = 0, None
        for i in range(400):
            try:
                r = held.call("SET", "big%d" % i, val)
            except OSError:      # socket timeout: this write's reply is held
                held_key = "big%d" % i
                break
            if isinstance(r, ErrorReply):
                misconf = r
                break
            n_ok += 1
        with srv.conn() as c:
            if misconf is None:
                misconf = c.call("SET", "other", "x")
            eq(c.call("GET", "keep"), b"me", "reads still served")
            check(isinstance(misconf, ErrorReply) and
                  misconf.startswith(b"MISCONF Errors writing to the AOF"),
                  "writes refused with MISCONF: %r" % misconf)
            check(b"No space left" in misconf, "error names the cause: %r" % misconf)
            r = c.call("SET", "other", "x")
            check(isinstance(r, ErrorReply) and r.startswith(b"MISCONF"), "still refused: %r" % r)
        subprocess.run(["mount", "-o", "remount,size=96m", mnt], check=True)
        if held_key is not None:
            held.sock.settimeout(15)
            eq(held.read(), b"OK", "the held write is acknowledged once durable")
        held.close()

        def accepted():
            with srv.conn() as c:
                return c.call("SET", "after", "ok") == b"OK"
        check(wait_for(accepted, 15), "writes resume by themselves after the disk has room")
        srv.stop()
        srv = aof_server(mnt, workers=2).start()
        with srv.conn() as c:
            eq(c.call("GET", "after"), b"ok")
            eq(c.call("GET", "keep"), b"me")
            for i in range(n_ok):
                eq(c.call("STRLEN", "big%d" % i), len(val), "acknowledged big%d" % i)
            if held_key:
                eq(c.call("STRLEN", held_key), len(val), "held write durable")
        srv.stop()
        srv = None
    finally:
        if srv is not None:
            srv.stop()
        subprocess.run(["umount", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(mnt, ignore_errors=True)


@suite.test(server=False)
def test_too_large_for_the_log_is_refused(_):
    d = tmpdir()
    try:
        srv = aof_server(d, workers=2).start()
        with srv.conn() as c:
            eq(c.call("SET", "v8", "x" * (8 << 20)), b"OK", "8 MiB value")
            r = c.call("SET", "v17", "x" * (17 << 20))
            check(isinstance(r, ErrorReply) and b"too large for the append-only log" in r,
                  "17 MiB value refused: %r" % r[:100])
            eq(c.call("EXISTS", "v17"), 0, "nothing applied")
            r = c.call("SETRANGE", "v8", str(17 << 20), "x")
            check(isinstance(r, ErrorReply) and b"too large" in r, "growth refused: %r" % r)
            eq(c.call("STRLEN", "v8"), 8 << 20)
        srv.stop()
        srv = aof_server(d, workers=2).start()
        with srv.conn() as c:
            eq(c.call("STRLEN", "v8"), 8 << 20, "8 MiB value recovered")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def info_persistence(c):
    text = c.call("INFO", "persistence")
    return dict(ln.split(":", 1) for ln in text.decode().splitlines() if ":" in ln)


def wait_logged(c, nbytes, timeout=30):
    """aof_current_size once it reaches nbytes (or at the timeout)."""
    size = lambda: int(info_persistence(c)["aof_current_size"])
    wait_for(lambda: size() >= nbytes, timeout)
    return size()


def wait_rewrite_done(c, timeout=30):
    wait_for(lambda: info_persistence(c)["aof_rewrite_in_progress"] == "0", timeout)


@suite.test(server=False, timeout=240)
def test_bgrewriteaof_shrinks_log_and_keeps_data(_):
    d = tmpdir()
    try:
        srv = aof_server(d, fsync="everysec", workers=2).start()
        big = "v" * 8192
        with srv.conn() as c:
            # About 40 MB of overwrites of 200 keys: three 16 MiB segments.
            for rnd in range(25):
                for i in range(200):
                    c.send("SET", "big%d" % i, "%d:%s" % (rnd, big))
                got = c.read_n(200)
                check(all(r == b"OK" for r in got), "SETs acknowledged")
            c.call("SET", "ttl", "x", "EX", "1000")
            c.call("SELECT", "5")
            c.call("SET", "db5", "five")
            c.call("SELECT", "0")
            # appendfsync everysec acknowledges a write once it is in the
            # shard's ring, before the log thread has written it (docs/AOF.md
            # section 8): wait until the log holds at least the 5000 values.
            logged = wait_logged(c, 25 * 200 * len(big))
            check(logged >= 25 * 200 * len(big), "log caught up with the acks: %d bytes" % logged)
            before = info_persistence(c)
            nseg = len(manifest(d))
            check(nseg >= 3, "log spans segments: %d" % nseg)
            eq(c.call("BGREWRITEAOF"), b"Background append only file rewriting started")
            # Writes during the rewrite are logged after its cut: kept.
            for i in range(300):
                c.send("SET", "during%d" % i, "d%d" % i)
            c.read_n(300)
            c.call("DEL", "big0")
            wait_rewrite_done(c)
            after = info_persistence(c)
            eq(after["aof_last_bgrewrite_status"], "ok")
            check(int(after["aof_current_size"]) < int(before["aof_current_size"]) // 2,
                  "log shrank: %s -> %s" % (before["aof_current_size"], after["aof_current_size"]))
            check(len(manifest(d)) < nseg, "segments dropped from the manifest")
            listed = {"seg-%s.hpaof" % s for s, _ in manifest(d)}
            files = {f for f in os.listdir(d) if f.startswith("seg-")}
            eq(files, listed, "covered segment files deleted")
        eq(srv.stop()[0], 0, "exit status")
        srv = aof_server(d, fsync="everysec", workers=2).start()
        with srv.conn() as c:
            eq(c.call("EXISTS", "big0"), 0, "DEL after the cut replayed")
            for i in range(1, 200):
                eq(c.call("GET", "big%d" % i), ("24:%s" % big).encode())
            for i in range(300):
                eq(c.call("GET", "during%d" % i), b"d%d" % i)
            ttl = c.call("TTL", "ttl")
            check(990 <= ttl <= 1000, "TTL survives the rewrite: %r" % ttl)
            c.call("SELECT", "5")
            eq(c.call("GET", "db5"), b"five")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_bgrewriteaof_errors(_):
    d = tmpdir()
    try:
        srv = aof_server(d, fsync="always", workers=2).start()
        with srv.conn() as c:
            fill(srv, 2000)
            r1 = c.call("BGREWRITEAOF")
            r2 = c.call("BGREWRITEAOF")
            eq(r1, b"Background append only file rewriting started")
            # The second may come after the first finished (tiny keyspace).
            check(r2 in (b"Background append only file rewriting started",
                         b"ERR Background append only file rewriting already in progress"),
                  "second BGREWRITEAOF: %r" % r2)
            r = c.call("BGREWRITEAOF", "x")
            check(isinstance(r, ErrorReply) and b"wrong number of arguments" in r, repr(r))
            wait_rewrite_done(c)
            info = info_persistence(c)
            eq(info["aof_enabled"], "1")
            eq(info["aof_last_bgrewrite_status"], "ok")
        srv.stop()
        srv = aof_server(d, fsync="always", workers=2).start()
        verify(srv, 2000)
        srv.stop()
        srv = Server(workers=2).start()
        with srv.conn() as c:
            r = c.call("BGREWRITEAOF")
            check(isinstance(r, ErrorReply) and r.startswith(b"ERR "), repr(r))
            eq(info_persistence(c)["aof_enabled"], "0")
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@suite.test(server=False)
def test_config_get_aof_settings(_):
    d = tmpdir()
    try:
        srv = aof_server(d, fsync="everysec").start()
        with srv.conn() as c:
            eq(c.call("CONFIG", "GET", "appendonly"), [b"appendonly", b"yes"])
            eq(c.call("CONFIG", "GET", "appendfsync"), [b"appendfsync", b"everysec"])
            eq(c.call("CONFIG", "GET", "dir"), [b"dir", d.encode()])
        srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    from hp_harness import target
    if target() != "hotpathd":
        sys.exit(suite.skip_all("hotpathd only"))
    run_suite(suite)
