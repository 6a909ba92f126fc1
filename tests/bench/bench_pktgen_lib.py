"""bench_pktgen_lib.py - shared pieces of the bench_pktgen_*.py benchmarks:
servers side by side (hotpathd, redis-server, dpdk-testpmd), hotpath-pktgen
runs with JSON results, medians, Markdown tables and gnuplot charts.

Only the Python standard library; gnuplot (Debian gnuplot-nox) for charts."""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IMG = os.path.join(REPO, "docs", "img")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def common_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="meson build folder with dataplane/hotpathd and pktgen/hotpath-pktgen")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per case (median reported)")
    ap.add_argument("--server-cpus", default="1", help="taskset CPUs of the servers")
    ap.add_argument("--client-cpus", default="0", help="taskset CPUs of pktgen")
    ap.add_argument("--no-pin", action="store_true", help="no taskset")
    ap.add_argument("--workers", type=int, default=1, help="hotpathd workers")
    ap.add_argument("--png", default=None, help="chart file (default docs/img/<bench>.png)")
    ap.add_argument("--json", default=None, help="also write all results here")
    return ap


def pin(args, cpus):
    return [] if args.no_pin else ["taskset", "-c", cpus]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(port, *words, timeout=5.0):
    """One command over a fresh connection; returns the raw reply bytes."""
    payload = b"*%d\r\n" % len(words)
    for w in words:
        w = w if isinstance(w, bytes) else str(w).encode()
        payload += b"$%d\r\n%s\r\n" % (len(w), w)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if data.startswith((b"+", b"-", b":")) and data.endswith(b"\r\n"):
                break
            if data.startswith(b"$"):
                n = int(data[1:data.index(b"\r\n")])
                if n < 0 or len(data) >= data.index(b"\r\n") + 2 + n + 2:
                    break
        return data


def info_field(port, section, field):
    raw = resp(port, "INFO", section).decode(errors="replace")
    for line in raw.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


class Proc:
    """A server process that is always stopped again."""

    def __init__(self, label, argv, port=None, ready=None):
        self.label, self.argv, self.port, self.ready = label, argv, port, ready
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="hp-bench-%s-" % label, suffix=".log",
                                               delete=False)

    def start(self, timeout=30):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=os.setsid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start; log %s" % (self.label, self.log.name))
            try:
                if self.ready():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("%s did not become ready; log %s" % (self.label, self.log.name))

    def pid(self):
        return self.proc.pid

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()


def ping_ready(port):
    return lambda: resp(port, "PING", timeout=1.0).startswith(b"+PONG")


def hotpathd(args, extra=(), port=None):
    port = port or free_port()
    argv = pin(args, args.server_cpus) + [
        os.path.join(args.build, "dataplane", "hotpathd"), "--port", str(port),
        "--bind", "127.0.0.1", "--workers", str(args.workers),
        "--file-prefix", "hp-bench-pg-%d-%d" % (os.getpid(), port),
        "--loglevel", "warning"] + list(extra)
    return Proc("hotpathd", argv, port, ping_ready(port)).start()


def redis(args, port=None):
    port = port or free_port()
    argv = pin(args, args.server_cpus) + [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no"]
    return Proc("redis", argv, port, ping_ready(port)).start()


def pktgen(args, port, *opts, timeout=900, client_cpus=None):
    """Runs hotpath-pktgen; returns its JSON report (raises on failure)."""
    fd, jpath = tempfile.mkstemp(prefix="hp-bench-pktgen-", suffix=".json")
    os.close(fd)
    try:
        cmd = pin(args, client_cpus or args.client_cpus) + [
            os.path.join(args.build, "pktgen", "hotpath-pktgen"), "--port", str(port),
            "--quiet", "--json", jpath] + [str(o) for o in opts]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        with open(jpath) as f:
            txt = f.read()
        if not txt.strip():
            raise RuntimeError("pktgen wrote no report (rc %d):\n%s"
                               % (p.returncode, p.stdout.decode(errors="replace")))
        rep = json.loads(txt)
        rep["_rc"] = p.returncode
        rep["_cmd"] = " ".join(cmd)
        return rep
    finally:
        os.unlink(jpath)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(x) for x in r) + " |")
    return "\n".join(out)


def fmt(x):
    if isinstance(x, float):
        if x >= 1000:
            return "{:,.0f}".format(x)
        return "%.3g" % x if x < 10 else "%.1f" % x
    if isinstance(x, int):
        return "{:,}".format(x)
    return str(x)


def gnuplot(script, png):
    """Renders a chart; returns the PNG path or None when gnuplot is missing."""
    os.makedirs(os.path.dirname(png), exist_ok=True)
    head = "set terminal pngcairo size 900,520 noenhanced font 'sans,10'\nset output '%s'\n" % png
    try:
        subprocess.run(["gnuplot"], input=(head + script).encode(), check=True, timeout=60)
    except FileNotFoundError:
        log("gnuplot not found (Debian: gnuplot-nox): no chart")
        return None
    return png


def data_file(rows):
    f = tempfile.NamedTemporaryFile("w", prefix="hp-bench-", suffix=".dat", delete=False)
    for r in rows:
        f.write(" ".join(str(x) for x in r) + "\n")
    f.close()
    return f.name


def machine():
    try:
        model = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")][0]
    except (OSError, IndexError):
        model = "?"
    return "%s, %d CPUs, %s" % (model, os.cpu_count(), time.strftime("%Y-%m-%d %H:%M UTC",
                                                                        time.gmtime()))


def write_json(args, obj):
    if args.json:
        with open(args.json, "w") as f:
            json.dump(obj, f, indent=1)


# ---- DPDK memif pairs (added for bench_pktgen_latency.py --transport memif) ----

def memif_eal(sock, role, prefix, lcores=None):
    """EAL words for one end of a memif link: no hugepages, no PCI, its own
    --file-prefix; lcores ("-l" list) only where the caller wants them."""
    return (("-l %s " % lcores) if lcores else "") + (
        "--no-huge --no-pci -m 256 --file-prefix %s --vdev net_memif0,role=%s,socket=%s"
        % (prefix, role, sock))


def log_says(proc, text):
    """Ready check for servers without a TCP port: `text` is in the log.
    (memif sockets are abstract by default: no file to wait for.)"""
    def ready():
        with open(proc.log.name, errors="replace") as f:
            return text in f.read()
    return ready


def hotpathd_memif(args, sock, prefix, extra=(), workers=None, poll="busy"):
    """hotpathd serving UDP (docs/PROTOCOL.md) on the server end of a memif
    link at 10.0.0.1, UDP base port 9000; pinned to args.server_cpus."""
    return hotpathd(args, port=free_port(), extra=[
        "--workers", str(workers or args.workers),
        "--eal-args", "--no-shconf " + memif_eal(sock, "server", prefix),
        "--udp-ports", "all", "--udp-addr", "10.0.0.1/24", "--poll-mode", poll] + list(extra))


def testpmd_reflector(args, sock, prefix, testpmd="dpdk-testpmd"):
    """dpdk-testpmd returning every frame (macswap) on the server end of a
    memif link: its main lcore (which only waits on stdin) on the client
    CPU, its one forwarding lcore on the server CPU."""
    cpus = "%s,%s" % (args.client_cpus, args.server_cpus)
    argv = pin(args, cpus) + [testpmd, "-l", cpus] + memif_eal(sock, "server", prefix).split() + [
        "--", "--forward-mode=macswap", "--nb-cores=1", "--total-num-mbufs=16384"]
    srv = Proc("testpmd", argv)
    # its stdout is block-buffered into the log: the first words that
    # show up come a little before the port listens (pktgen retries)
    srv.ready = log_says(srv, "packet forwarding")
    srv.start()
    time.sleep(0.5)
    return srv


def load_average():
    """The 1-minute load average, to print next to every figure."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def poller_preemptions(pid):
    """Involuntary context switches so far of a DPDK process' forwarding
    threads (EAL worker lcores, named rte-worker-N or lcore-worker-N; the
    main lcore too when it is the only one): a busy poller that was
    preempted could not serve while another task had its CPU."""
    total, main = 0, 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            base = "/proc/%d/task/%s/" % (pid, tid)
            with open(base + "comm") as f:
                comm = f.read().strip()
            with open(base + "status") as f:
                n = [int(l.split()[1]) for l in f if l.startswith("nonvoluntary_ctxt_switches")]
            if "worker" in comm:
                total += n[0] if n else 0
            elif tid == str(pid):
                main = n[0] if n else 0
    except OSError:
        return 0
    return total if total else main
