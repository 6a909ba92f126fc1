#!/usr/bin/python3
"""bench_aof.py - durable writes and recovery: hotpathd vs redis-server.

1. Durable SET throughput and latency with appendfsync always, both servers
   with the append-only log on (redis-server --appendonly yes --appendfsync
   always), redis-benchmark -t set with C clients, pipeline 1 and 16.
   Repetitions rotate the order of the servers; medians are reported, with
   each server's CPU time (all threads, io_uring workers included) per 1000
   SETs and context switches per SET.  --baseline BUILD adds an older
   hotpathd as a third server, for before/after comparisons on a noisy box.
2. Recovery: each server is loaded with K keys of D bytes (appendfsync
   everysec, pipelined), stopped, restarted; we time from spawn until the
   server answers DBSIZE with the full count (seconds to serve), and divide
   the log's size on disk by that time (MB/s replayed).

Not part of the test suite (minutes; machine-dependent).  Example:
  tests/bench/bench_aof.py --build build -n 100000 --reps 3
"""
import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

READY_TIMEOUT_S = 120.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True, help="meson build dir holding dataplane/hotpathd")
    p.add_argument("-n", "--requests", type=int, default=100000)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("-d", "--datasize", type=int, default=16)
    p.add_argument("--pipelines", default="1,16")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="hotpathd workers (default 1)")
    p.add_argument("--recovery-keys", type=int, default=1000000, help="0: skip recovery")
    p.add_argument("--recovery-datasize", type=int, default=100)
    p.add_argument("--dir", default=None, help="where the logs go (default: a temp dir in /tmp)")
    p.add_argument("--baseline", default=None,
                   help="a second build dir: its hotpathd runs side by side as 'baseline'")
    return p.parse_args()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, *args, timeout=2.0):
    req = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() if isinstance(x, str) else x
                                                   for x in args))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


class Srv:
    def __init__(self, kind, build, workers, d, fsync):
        self.kind, self.d = kind, d
        self.port = free_port()
        if kind == "baseline":
            kind = "hotpathd"
        if kind == "redis":
            self.argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                         "--save", "", "--appendonly", "yes", "--appendfsync", fsync,
                         "--dir", d, "--daemonize", "no", "--loglevel", "warning"]
        else:
            self.argv = [os.path.join(build, "dataplane", "hotpathd"), "--port", str(self.port),
                         "--bind", "127.0.0.1", "--workers", str(workers), "--appendonly", "yes",
                         "--appendfsync", fsync, "--dir", d, "--file-prefix",
                         "hp-bench-aof-%d" % self.port, "--loglevel", "notice"]
        self.proc = None
        self.log = os.path.join(d, "..", "%s-%d.log" % (kind, self.port))

    def start(self, expect_keys=None):
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        while time.monotonic() - t0 < READY_TIMEOUT_S:
            if self.proc.poll() is not None:
                sys.exit("bench: %s exited; log %s" % (self.kind, self.log))
            try:
                r = call(self.port, "DBSIZE")
                if r.startswith(b":") and (expect_keys is None or int(r[1:]) >= expect_keys):
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.005)
        sys.exit("bench: %s not ready in %d s" % (self.kind, READY_TIMEOUT_S))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                call(self.port, "SHUTDOWN", timeout=30)
            except OSError:
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def bench(port, clients, n, datasize, pipeline):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-c", str(clients),
                          "-n", str(n), "-r", "100000", "-d", str(datasize), "-P", str(pipeline),
                          "--csv", "-q"], capture_output=True, text=True, timeout=900).stdout
    rows = list(csv.reader(io.StringIO(out)))
    hdr, row = rows[0], rows[1]
    get = dict(zip(hdr, row))
    return float(get["rps"]), float(get["avg_latency_ms"]), float(get["p99_latency_ms"])


def proc_cpu_ms(pid):
    """User + system CPU of a process, all its threads (io_uring workers too)."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def proc_ctx_switches(pid):
    """Voluntary + involuntary context switches of the live threads."""
    n = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                n += sum(int(x.split()[1]) for x in f if "ctxt_switches" in x)
        except OSError:
            pass  # the thread exited meanwhile
    return n


def bench_measured(srv, a, p):
    """bench() plus the server's CPU ms per 1000 requests and context
    switches per request during the run."""
    pid = srv.proc.pid
    c0, x0 = proc_cpu_ms(pid), proc_ctx_switches(pid)
    r = bench(srv.port, a.clients, a.requests, a.datasize, p)
    c1, x1 = proc_cpu_ms(pid), proc_ctx_switches(pid)
    return r + ((c1 - c0) * 1000.0 / a.requests, (x1 - x0) / a.requests)


def dir_bytes(d):
    total = 0
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            # hotpathd preallocates its active segment: count allocated data
            total += min(os.path.getsize(p), os.stat(p).st_blocks * 512)
    return total


def main():
    a = parse_args()
    base = tempfile.mkdtemp(prefix="hp-bench-aof-", dir=a.dir)
    print("# bench_aof: %d clients, %d requests, %d-byte values, hotpathd workers %d, "
          "%d reps; logs under %s" % (a.clients, a.requests, a.datasize, a.workers, a.reps, base))
    print("# load average at start: %.2f %.2f %.2f" % os.getloadavg())
    try:
        kinds = ["hotpathd", "redis"] + (["baseline"] if a.baseline else [])
        dirs = {k: os.path.join(base, k) for k in kinds}
        for d in dirs.values():
            os.makedirs(d)
        srv = {k: Srv(k, a.baseline if k == "baseline" else a.build, a.workers, dirs[k],
                      "always") for k in kinds}
        for s in srv.values():
            s.start()
        print("\n## durable SET, appendfsync always\n")
        print("| pipeline | server | SET/s | avg ms | p99 ms | CPU ms / 1k SET | ctx sw / SET |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for p in [int(x) for x in a.pipelines.split(",")]:
            res = {k: [] for k in srv}
            for r in range(a.reps):
                # rotate the order so no server always runs first or last
                order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
                for k in order:
                    res[k].append(bench_measured(srv[k], a, p))
            med = {k: tuple(statistics.median(x[i] for x in res[k]) for i in range(5))
                   for k in res}
            for k in kinds:
                print("| %d | %s | %.0f | %.3f | %.3f | %.1f | %.2f |" % ((p, k) + med[k]))
            for k in [x for x in kinds if x != "redis"]:
                print("| %d | ratio %s/redis | %.2fx | | p99 %.2fx |" % (
                    p, k, med[k][0] / med["redis"][0],
                    med[k][2] / med["redis"][2] if med["redis"][2] else 0))
        print("\n# load average at end: %.2f %.2f %.2f" % os.getloadavg())
        for s in srv.values():
            s.stop()

        if a.recovery_keys <= 0:
            return
        print("\n## recovery: %d keys x %d bytes\n" % (a.recovery_keys, a.recovery_datasize))
        print("| server | log on disk MB | seconds to serve | MB/s |")
        print("|---|---:|---:|---:|")
        for k in ("hotpathd", "redis"):
            shutil.rmtree(dirs[k])
            os.makedirs(dirs[k])
            s = Srv(k, a.build, a.workers, dirs[k], "everysec")
            s.start()
            subprocess.run(["redis-benchmark", "-p", str(s.port), "-t", "set", "-c", "50",
                            "-n", str(a.recovery_keys), "-r", str(a.recovery_keys * 10),
                            "-d", str(a.recovery_datasize), "-P", "64", "-q"],
                           capture_output=True, timeout=900)
            keys = int(call(s.port, "DBSIZE")[1:])
            s.stop()
            mb = dir_bytes(dirs[k]) / 1e6
            s2 = Srv(k, a.build, a.workers, dirs[k], "everysec")
            t = s2.start(expect_keys=keys)
            print("| %s | %.1f | %.2f | %.1f |" % (k, mb, t, mb / t if t else 0))
            s2.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
