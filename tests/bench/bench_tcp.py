#!/usr/bin/python3
"""bench_tcp.py - hotpathd against redis-server, side by side, with redis-benchmark.

Both servers run for the whole benchmark.  Every case (workload x pipeline)
is measured on both, several times, and the order of the two servers flips
from one repetition to the next (A B, B A, A B, ...) so that slow drift of
the machine (thermal, neighbours, page cache) hits both alike.  We report
medians, because one noisy repetition on a shared 2-core box must not move
the result.

Server CPU per operation comes from /proc/<pid>/stat (utime + stime of all
threads, in clock ticks) read right before and right after each
redis-benchmark run, divided by the number of requests.  It includes
everything the server spent in that window: parsing, the store, syscalls,
and for hotpathd any poll-mode spinning, which is the point of measuring it.

Only Debian's python3 standard library is used.
"""
import argparse
import csv
import datetime
import io
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

READY_TIMEOUT_S = 30.0     # hotpathd's EAL start-up may take a few seconds
STOP_TIMEOUT_S = 10.0
PING = b"*1\r\n$4\r\nPING\r\n"

# Targets from the issue, printed next to the results.
TARGET_P16_RATIO = 1.5


def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_args():
    p = argparse.ArgumentParser(
        description="redis-benchmark against hotpathd and redis-server, side by side.")
    p.add_argument("--build", required=True, help="meson build folder holding dataplane/hotpathd")
    p.add_argument("-n", "--requests", type=int, default=200000,
                   help="requests per redis-benchmark run (default 200000)")
    p.add_argument("-c", "--clients", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("-r", "--keyspace", type=int, default=100000,
                   help="random keys: redis-benchmark -r (default 100000)")
    p.add_argument("-d", "--datasize", type=int, default=3, help="value size in bytes (default 3)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per case (default 3)")
    p.add_argument("--pipelines", default="1,16", help="comma list of -P values (default 1,16)")
    p.add_argument("--tests", default="set,get", help="comma list of workloads (default set,get)")
    p.add_argument("--workers", default="1",
                   help="comma list of hotpathd worker counts, one section each (default 1; "
                        "e.g. 1,2)")
    p.add_argument("--server-cpus", default="1",
                   help="CPU list both servers are pinned to (default 1)")
    p.add_argument("--client-cpus", default="0",
                   help="CPU list redis-benchmark is pinned to (default 0)")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset at all")
    p.add_argument("--out", default=None,
                   help="results file (default /tmp/hotpath-bench-<date>-<pid>.md)")
    p.add_argument("--run-timeout", type=float, default=300.0,
                   help="seconds one redis-benchmark run may take (default 300)")
    a = p.parse_args()
    for name in ("requests", "clients", "keyspace", "datasize", "reps"):
        if getattr(a, name) < 1:
            die(f"--{name} must be >= 1")
    try:
        a.pipelines = [int(x) for x in a.pipelines.split(",") if x]
        a.workers = [int(x) for x in a.workers.split(",") if x]
    except ValueError:
        die("--pipelines and --workers take comma lists of integers")
    a.tests = [t.strip().lower() for t in a.tests.split(",") if t.strip()]
    if not a.pipelines or min(a.pipelines) < 1:
        die("--pipelines: need integers >= 1")
    if not a.workers or min(a.workers) < 1:
        die("--workers: need integers >= 1")
    for t in a.tests:
        if t not in ("set", "get"):
            die(f"--tests: unknown workload {t!r} (set, get)")
    return a


def cpu_list(spec):
    """Parse a taskset-style CPU list ('0', '0,1', '0-3') into a sorted list."""
    cpus = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.update(range(int(lo), int(hi) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp_call(port, payload, timeout=2.0):
    """Send raw RESP, return the first reply line (bytes) or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(payload)
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                buf += chunk
            return buf
    except OSError:
        return None


def resp_cmd(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
    return b"".join(out)


def proc_cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        # comm may contain spaces: fields after the closing parenthesis.
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])   # fields 14 and 15 of proc(5)


def proc_threads(pid):
    """[(tid, name, last cpu, cpu ticks)] of every thread of pid."""
    out = []
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw.rsplit(")", 1)[1].split()
        out.append((int(tid), name, int(rest[36]), int(rest[11]) + int(rest[12])))
    return out


def proc_affinity(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


class Server:
    """One server under test, started pinned, stopped on exit."""

    def __init__(self, label, argv, port, logpath, cleanup_dirs=()):
        self.label = label
        self.argv = argv
        self.port = port
        self.logpath = logpath
        self.cleanup_dirs = list(cleanup_dirs)
        self.proc = None

    def start(self, pin):
        argv = (["taskset", "-c", pin] if pin else []) + self.argv
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with status {self.proc.returncode} "
                                   f"during start-up; log {self.logpath}:\n{self.log_tail()}")
            reply = resp_call(self.port, PING, timeout=0.5)
            if reply and reply.startswith(b"+PONG"):
                self.sanity_check()
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not answer PING on port {self.port} within "
                           f"{READY_TIMEOUT_S:.0f}s; log {self.logpath}:\n{self.log_tail()}")

    def sanity_check(self):
        """A benchmark of a server that answers wrongly measures nothing."""
        r1 = resp_call(self.port, resp_cmd("SET", "bench:probe", "v42"))
        r2 = resp_call(self.port, resp_cmd("GET", "bench:probe"))
        if r1 != b"+OK\r\n" or r2 != b"$3\r\nv42\r\n":
            raise RuntimeError(f"{self.label}: SET/GET probe failed: {r1!r} {r2!r}")

    def log_tail(self, n=20):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()
        for d in self.cleanup_dirs:
            shutil.rmtree(d, ignore_errors=True)


def run_benchmark(args, port, test, pipeline, pin_client):
    argv = (["taskset", "-c", pin_client] if pin_client else []) + [
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
        "-c", str(args.clients), "-n", str(args.requests), "-r", str(args.keyspace),
        "-d", str(args.datasize), "-P", str(pipeline), "-t", test, "--csv"]
    t0 = time.monotonic()
    try:
        res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=args.run_timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"redis-benchmark timed out after {args.run_timeout:.0f}s: "
                           f"{shlex.join(argv)}")
    wall = time.monotonic() - t0
    if res.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({res.returncode}): {shlex.join(argv)}\n"
                           f"{res.stdout[-2000:]}{res.stderr[-2000:]}")
    rows = list(csv.reader(io.StringIO(res.stdout)))
    data = [r for r in rows if r and r[0].upper() == test.upper()]
    if not data:
        raise RuntimeError(f"no {test.upper()} line in redis-benchmark output:\n{res.stdout}"
                           f"{res.stderr}")
    header = rows[0]
    rec = dict(zip(header, data[0]))
    return {"rps": float(rec["rps"]), "p50_ms": float(rec.get("p50_latency_ms", "nan")),
            "p99_ms": float(rec.get("p99_latency_ms", "nan")), "wall_s": wall}


def measure(args, server, test, pipeline, pin_client, clk_tck):
    if not server.alive():
        raise RuntimeError(f"{server.label} is not running any more; log:\n{server.log_tail()}")
    before = proc_cpu_ticks(server.proc.pid)
    r = run_benchmark(args, server.port, test, pipeline, pin_client)
    after = proc_cpu_ticks(server.proc.pid)
    r["ticks"] = after - before
    r["cpu_us_per_op"] = (after - before) * 1e6 / clk_tck / args.requests
    return r


def fmt_rate(x):
    return f"{x:,.0f}"


def verdict(ok):
    return "MET" if ok else "NOT MET"


def describe_threads(server, pin):
    if not server.alive():
        return "not running"
    parts = [f"{name}(tid {tid})@cpu{cpu} {ticks}t"
             for tid, name, cpu, ticks in proc_threads(server.proc.pid)]
    # DPDK re-pins its main thread, so its affinity now may be narrower than
    # the taskset mask the process was started with: show both.
    return (f"started with taskset -c {pin or 'none'}; main thread affinity now "
            f"{proc_affinity(server.proc.pid)}; threads: " + ", ".join(parts))


def run_section(args, workers, a_cmd, hotpathd, clk_tck, out, stop_list):
    ncpu = os.cpu_count() or 1
    pin_server = pin_client = None
    pin_note = "no pinning (--no-pin)"
    if not args.no_pin and shutil.which("taskset"):
        server_cpus = [c for c in cpu_list(args.server_cpus) if c < ncpu]
        client_cpus = [c for c in cpu_list(args.client_cpus) if c < ncpu]
        if a_cmd is None and workers > len(server_cpus):
            # hotpathd pins its lcores round-robin over its affinity; cramming
            # W workers onto fewer CPUs would measure time-slicing.  Give both
            # servers every CPU and let redis-benchmark float.
            pin_server = f"0-{ncpu - 1}"
            pin_note = (f"both servers on CPUs {pin_server} (W={workers} needs more than "
                        f"--server-cpus {args.server_cpus}); redis-benchmark not pinned, it "
                        f"shares the cores with the server")
        elif server_cpus and client_cpus:
            pin_server = ",".join(map(str, server_cpus))
            pin_client = ",".join(map(str, client_cpus))
            pin_note = (f"both servers pinned to CPU {pin_server} (taskset), redis-benchmark "
                        f"pinned to CPU {pin_client}")
            if set(server_cpus) & set(client_cpus):
                pin_note += " (overlapping!)"
        else:
            pin_note = "no pinning (CPU lists do not fit this machine)"

    pid = os.getpid()
    port_a, port_b = free_port(), free_port()
    while port_b == port_a:
        port_b = free_port()
    if a_cmd is not None:
        a_argv = [x.replace("{port}", str(port_a)) for x in shlex.split(a_cmd)]
        a_label = "A (BENCH_A_CMD)"
        a_cleanup = []
    else:
        prefix = f"hp-bench-{pid}"
        a_argv = [hotpathd, "--port", str(port_a), "--bind", "127.0.0.1",
                  "--workers", str(workers), "--file-prefix", prefix, "--loglevel", "warning"]
        a_label = "hotpathd"
        run_dir = os.environ.get("XDG_RUNTIME_DIR") if os.getuid() != 0 else "/var/run"
        a_cleanup = [os.path.join(run_dir or "/tmp", "dpdk", prefix)]
    b_argv = ["redis-server", "--port", str(port_b), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no"]
    server_a = Server(a_label, a_argv, port_a, f"/tmp/hp-bench-{pid}-a-w{workers}.log", a_cleanup)
    server_b = Server("redis-server", b_argv, port_b, f"/tmp/hp-bench-{pid}-b-w{workers}.log")
    stop_list.extend([server_a, server_b])

    out(f"\n## Section: hotpathd workers = {workers}\n")
    out(f"- A: `{shlex.join(a_argv)}`")
    out(f"- B: `{shlex.join(b_argv)}`")
    out(f"- Pinning: {pin_note}")
    server_a.start(pin_server)
    server_b.start(pin_server)

    cases = [(t, p) for p in args.pipelines for t in args.tests]
    raw = []   # (rep, order, server, test, pipeline, result)
    results = {(s, t, p): [] for s in ("A", "B") for t, p in cases}
    for rep in range(args.reps):
        order = [("A", server_a), ("B", server_b)]
        if rep % 2 == 1:
            order.reverse()
        for test, pipeline in cases:
            for pos, (key, srv) in enumerate(order):
                r = measure(args, srv, test, pipeline, pin_client, clk_tck)
                results[(key, test, pipeline)].append(r)
                raw.append((rep + 1, pos + 1, srv.label, test.upper(), pipeline, r))
                print(f"  rep {rep + 1} {srv.label:>14} {test.upper():3} -P {pipeline:<2} "
                      f"{r['rps']:>12,.0f} ops/s  {r['cpu_us_per_op']:7.3f} CPU-us/op",
                      file=sys.stderr, flush=True)

    out(f"- A threads at the end: {describe_threads(server_a, pin_server)}")
    out(f"- B threads at the end: {describe_threads(server_b, pin_server)}")
    out("  (name(tid)@cpuN = CPU each thread last ran on; Nt = its CPU clock ticks)")
    server_a.stop()
    server_b.stop()

    a_name = "hotpathd" if a_cmd is None else "A"
    out(f"\n### Medians of {args.reps} repetitions (-n {args.requests}, -c {args.clients}, "
        f"-r {args.keyspace}, -d {args.datasize})\n")
    out(f"| workload | pipeline | {a_name} ops/s | redis ops/s | ratio {a_name}/redis | "
        f"{a_name} CPU-µs/op | redis CPU-µs/op | targets |")
    out("|---|---|---:|---:|---:|---:|---:|---|")
    checks = []
    for test, pipeline in cases:
        ra, rb = results[("A", test, pipeline)], results[("B", test, pipeline)]
        a_rps = statistics.median(r["rps"] for r in ra)
        b_rps = statistics.median(r["rps"] for r in rb)
        a_cpu = statistics.median(r["cpu_us_per_op"] for r in ra)
        b_cpu = statistics.median(r["cpu_us_per_op"] for r in rb)
        ratio = a_rps / b_rps if b_rps > 0 else float("nan")
        notes = []
        cpu_ok = a_cpu < b_cpu
        notes.append(f"CPU/op < redis: {verdict(cpu_ok)}")
        checks.append((f"W={workers} {test.upper()} -P {pipeline}: {a_name} CPU/op "
                       f"{a_cpu:.3f} µs vs redis {b_cpu:.3f} µs (target: lower)", cpu_ok))
        if pipeline == 16:
            thr_ok = ratio >= TARGET_P16_RATIO
            notes.insert(0, f"ratio >= {TARGET_P16_RATIO}: {verdict(thr_ok)}")
            checks.append((f"W={workers} {test.upper()} -P 16: throughput ratio {ratio:.2f} "
                           f"(target: >= {TARGET_P16_RATIO})", thr_ok))
        out(f"| {test.upper()} | {pipeline} | {fmt_rate(a_rps)} | {fmt_rate(b_rps)} | "
            f"{ratio:.2f} | {a_cpu:.3f} | {b_cpu:.3f} | {'; '.join(notes)} |")

    out(f"\n### Raw repetitions (W={workers})\n")
    out("| rep | order | server | workload | pipeline | ops/s | p50 ms | p99 ms | wall s | "
        "CPU ticks | CPU-µs/op |")
    out("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for rep, pos, label, test, pipeline, r in raw:
        out(f"| {rep} | {pos} | {label} | {test} | {pipeline} | {fmt_rate(r['rps'])} | "
            f"{r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['wall_s']:.2f} | {r['ticks']} | "
            f"{r['cpu_us_per_op']:.3f} |")
    return checks


def machine_summary(clk_tck):
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rs = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return (f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, CLK_TCK {clk_tck}, "
            f"{rs.strip()}")


def main():
    args = parse_args()
    for tool in ("redis-benchmark", "redis-server"):
        if shutil.which(tool) is None:
            die(f"{tool} not found (Debian: apt-get install redis-tools redis-server)")
    a_cmd = os.environ.get("BENCH_A_CMD") or None
    hotpathd = os.path.join(args.build, "dataplane", "hotpathd")
    if a_cmd is None and not os.access(hotpathd, os.X_OK):
        die(f"{hotpathd} not found or not executable (build first, or set BENCH_A_CMD)")
    try:
        clk_tck = int(subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True,
                                     check=True).stdout.strip())
    except (OSError, ValueError, subprocess.CalledProcessError):
        clk_tck = os.sysconf("SC_CLK_TCK")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = args.out or f"/tmp/hotpath-bench-{stamp}-{os.getpid()}.md"
    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    servers = []

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    out(f"# hotpath TCP benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}\n")
    out(f"- Machine: {machine_summary(clk_tck)}")
    out(f"- Method: redis-benchmark, both servers running side by side; every case measured "
        f"{args.reps}x on each, server order flipped each repetition (A B, B A, ...); medians "
        f"reported. CPU-µs/op = server (utime+stime) from /proc/<pid>/stat over the run / "
        f"requests; tick = {1e6 / clk_tck:.0f} µs.")
    if a_cmd is not None:
        out(f"- NOTE: BENCH_A_CMD set, side A is `{a_cmd}`, not hotpathd (validation run).")
    checks = []
    rc = 0
    try:
        for w in args.workers:
            checks += run_section(args, w, a_cmd, hotpathd, clk_tck, out, servers)
    except KeyboardInterrupt as e:
        out(f"\nINTERRUPTED ({e}); stopping servers.")
        rc = 130
    except (RuntimeError, OSError) as e:
        out(f"\nFAILED: {e}")
        rc = 1
    finally:
        for s in servers:
            s.stop()

    if checks:
        out("\n## Targets (issue): -P 16 throughput >= 1.5x redis-server; CPU/op below "
            "redis-server in every case\n")
        for text, ok in checks:
            out(f"- {verdict(ok)}: {text}")
        if a_cmd is not None:
            out("- (validation run: side A is not hotpathd, so verdicts mean nothing)")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nresults written to {out_path}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
