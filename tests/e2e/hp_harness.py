"""
hp_harness.py - shared pieces of hotpath's end-to-end tests.

* Server: starts the target (hotpathd, or redis-server when
  HOTPATH_E2E_TARGET=redis) on a free port, waits until it answers PING, and
  always stops it again (SIGTERM, then SIGKILL), also when a test fails or
  the test process is interrupted.
* RespConn: a raw RESP2/RESP3 client over a plain socket, which can return
  parsed replies or the exact bytes of each reply (for byte-for-byte
  comparisons and for protocol abuse).
* Suite: a tiny test runner.  Prints "PASS name (t s)" / "FAIL name: reason"
  / "SKIP name: reason" per test and ends with exactly one line
  "E2E-RESULT: N passed, M failed, K skipped"; the exit status is non-zero
  when any test failed.  A test that cannot run here (no root, no network
  namespaces, a missing package, another target) raises Skip(reason), or
  the whole suite is skipped with Suite.skip_all(reason): skipped tests are
  named and counted, never silently left out.  need_root(), need_netns(),
  need_tun() and need_program() return the reason a prerequisite is
  missing (None when it is there).

Only the Python standard library and Debian's python3-redis are used.
"""
import atexit
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

START_TIMEOUT_S = 20.0       # until the target must answer PING
STOP_TIMEOUT_S = 10.0        # SIGTERM grace before SIGKILL
PORT_TRIES = 6               # ports tried before giving up
PORT_LOW, PORT_HIGH = 20000, 32000   # below Linux' ephemeral range
TEST_TIMEOUT_S = 240         # one test, enforced with SIGALRM
IO_TIMEOUT_S = 15.0          # default socket timeout of RespConn


def target():
    """The server under test: 'hotpathd' (default) or 'redis'."""
    t = os.environ.get("HOTPATH_E2E_TARGET", "hotpathd").strip().lower()
    if t in ("redis", "redis-server"):
        return "redis"
    if t != "hotpathd":
        raise SystemExit("HOTPATH_E2E_TARGET must be 'hotpathd' or 'redis', not %r" % t)
    return "hotpathd"


def hotpathd_path():
    return os.environ.get("HOTPATHD") or os.path.join(REPO, "build", "dataplane", "hotpathd")


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# process management

_live_servers = set()
_libc = None


def _set_pdeathsig():
    # Runs in the child before exec: if the test process dies without
    # cleaning up (SIGKILL, timeout), the kernel kills the server too.
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop_all_servers():
    for s in list(_live_servers):
        try:
            s.stop()
        except Exception:
            pass


def _remove_own_runtime_dirs():
    import glob
    mine = "hp-e2e-%d-" % os.getpid()
    for base in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent"),
                                               "dpdk"), "/tmp/dpdk"):
        for d in glob.glob(os.path.join(base, mine + "*")):
            remove_dpdk_runtime_dir(os.path.basename(d))


def _on_term(signum, frame):
    # Turn SIGTERM (e.g. from `timeout`) into a normal exit so finally blocks
    # and atexit handlers stop the servers.
    raise SystemExit(128 + signum)


atexit.register(_remove_own_runtime_dirs)  # runs after _stop_all_servers
atexit.register(_stop_all_servers)
signal.signal(signal.SIGTERM, _on_term)

_server_seq = 0


def port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port():
    for _ in range(200):
        p = random.randint(PORT_LOW, PORT_HIGH)
        if port_is_free(p):
            return p
    raise RuntimeError("no free port found in %d..%d" % (PORT_LOW, PORT_HIGH))


class ServerStartError(RuntimeError):
    pass


class Server:
    """One server process (hotpathd or redis-server) on 127.0.0.1."""

    def __init__(self, kind=None, extra_args=(), workers=4, config_file=None, port=None):
        self.kind = kind or target()
        self.extra_args = list(extra_args)
        if self.kind == target() and os.environ.get("HOTPATH_E2E_ARGS"):
            import shlex
            self.extra_args += shlex.split(os.environ["HOTPATH_E2E_ARGS"])
        self.config_file = config_file
        self.fixed_port = port
        self.file_prefix = None
        self.old_logs = []
        self.workers = workers
        self.port = None
        self.proc = None
        self.logfile = None
        self.log_path = None
        self.returncode = None

    def command(self, port):
        global _server_seq
        conf = [self.config_file] if self.config_file else []
        if self.kind == "redis":
            return ["redis-server"] + conf + ["--port", str(port), "--bind", "127.0.0.1",
                                              "--save", "", "--appendonly", "no"] + self.extra_args
        _server_seq += 1
        self.file_prefix = "hp-e2e-%d-%d" % (os.getpid(), _server_seq)
        return [hotpathd_path()] + conf + ["--port", str(port), "--bind", "127.0.0.1",
                "--workers", str(self.workers),
                "--file-prefix", self.file_prefix,
                "--loglevel", "warning"] + self.extra_args

    def start(self):
        if self.kind == "hotpathd" and not os.access(hotpathd_path(), os.X_OK):
            raise ServerStartError("hotpathd binary not found or not executable: %s"
                                   % hotpathd_path())
        last = ""
        for _ in range(1 if self.fixed_port else PORT_TRIES):
            port = self.fixed_port or pick_port()
            outcome = self._try_start(port)
            if outcome == "up":
                return self
            last = self.log_tail()
            self._reap()
            if outcome == "timeout":
                break  # running but silent: another port will not help
        for p in self.old_logs:  # keep only the last attempt's log
            try:
                os.unlink(p)
            except OSError:
                pass
        self.old_logs = []
        raise ServerStartError("%s did not start (tried %d port(s)); log %s:\n%s"
                               % (self.kind, 1 if self.fixed_port else PORT_TRIES,
                                  self.log_path, last))

    def _try_start(self, port):
        self.port = port
        self.returncode = None
        if self.log_path:
            self.old_logs.append(self.log_path)
        fd, self.log_path = tempfile.mkstemp(prefix="hp-e2e-%s-" % self.kind, suffix=".log")
        self.logfile = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL,
                                     stdout=self.logfile, stderr=subprocess.STDOUT,
                                     preexec_fn=_set_pdeathsig, cwd=tempfile.gettempdir())
        _live_servers.add(self)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            if ping_ok(port):
                # Make sure it is our process that answered.
                return "up" if self.proc.poll() is None else "exited"
            time.sleep(0.05)
        return "timeout"

    def _reap(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self.returncode = self.proc.poll()
        _live_servers.discard(self)
        if self.logfile is not None:
            self.logfile.close()
            self.logfile = None
        if self.file_prefix:
            remove_dpdk_runtime_dir(self.file_prefix)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Exit status within timeout seconds, or None (still running)."""
        try:
            self.returncode = self.proc.wait(timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM, SIGKILL after timeout; returns (exit status, killed)."""
        if self.proc is None:
            return None, False
        killed = False
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        self.returncode = self.proc.poll()
        _live_servers.discard(self)
        if self.logfile is not None:
            self.logfile.close()
            self.logfile = None
        self._cleanup(clean=self.returncode == 0 and not killed)
        return self.returncode, killed

    def _cleanup(self, clean):
        # DPDK leaves a runtime directory named after the file prefix (ours
        # alone); logs are kept only when the server did not exit cleanly.
        if self.file_prefix:
            remove_dpdk_runtime_dir(self.file_prefix)
        if clean and not os.environ.get("HOTPATH_E2E_KEEP_LOGS"):
            self.discard_logs()
        elif self.log_path:
            print("# %s log kept: %s" % (self.kind, self.log_path), flush=True)

    def discard_logs(self):
        """After a deliberate kill: the stop() that follows keeps the logs
        (an unclean exit); a test that expected it removes them."""
        for p in self.old_logs + [self.log_path]:
            try:
                os.unlink(p)
            except (OSError, TypeError):   # TypeError: never started (no path)
                pass
        self.old_logs = []

    def log_tail(self, nbytes=3000):
        if not self.log_path:
            return ""
        try:
            if self.logfile is not None:
                self.logfile.flush()
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-nbytes:].decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, **kw):
        import redis
        kw.setdefault("socket_timeout", IO_TIMEOUT_S)
        kw.setdefault("socket_connect_timeout", IO_TIMEOUT_S)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def conn(self, timeout=IO_TIMEOUT_S):
        return RespConn(self.port, timeout=timeout)

    def cli(self, *args, input=None, timeout=60):
        """Run redis-cli against this server; returns CompletedProcess (bytes)."""
        return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port)]
                              + [str(a) for a in args], input=input, capture_output=True,
                              timeout=timeout)


def remove_dpdk_runtime_dir(prefix):
    """Remove DPDK's runtime directory for one of our own hp-e2e-* prefixes."""
    if not prefix.startswith("hp-e2e-") or "/" in prefix:
        return
    bases = ["/var/run/dpdk"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        bases.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "dpdk"))
    bases.append("/tmp/dpdk")
    for b in bases:
        d = os.path.join(b, prefix)
        if os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)


def ping_ok(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"PING\r\n")
            data = b""
            while not data.endswith(b"\r\n") and len(data) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            return data == b"+PONG\r\n"
    except OSError:
        return False


# ---------------------------------------------------------------------------
# RESP

class Status(bytes):
    """A +simple string reply."""


class ErrorReply(bytes):
    """A -error reply (or RESP3 !blob error)."""


class Verbatim(bytes):
    pass


class Push(list):
    pass


class Incomplete(Exception):
    pass


class ProtocolViolation(Exception):
    pass


def encode(*args):
    """RESP multibulk for one command; args are bytes, str or int."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _line(buf, pos):
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    return bytes(buf[pos:end]), end + 2


def parse_reply(buf, pos=0):
    """Parse one reply at buf[pos:]; returns (value, next_pos) or raises Incomplete."""
    if pos >= len(buf):
        raise Incomplete()
    t = buf[pos:pos + 1]
    line, nxt = _line(buf, pos + 1)
    if t == b"+":
        return Status(line), nxt
    if t == b"-":
        return ErrorReply(line), nxt
    if t == b":" or t == b"(":
        return int(line), nxt
    if t == b"$" or t == b"=" or t == b"!":
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            raise Incomplete()
        data = bytes(buf[nxt:nxt + n])
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ProtocolViolation("bulk not terminated by CRLF at %d" % (nxt + n))
        if t == b"!":
            return ErrorReply(data), nxt + n + 2
        if t == b"=":
            return Verbatim(data), nxt + n + 2
        return data, nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(line)
        if n < 0:
            return None, nxt
        items = []
        for _ in range(n):
            v, nxt = parse_reply(buf, nxt)
            items.append(v)
        if t == b">":
            return Push(items), nxt
        return items, nxt
    if t == b"%" or t == b"|":
        n = int(line)
        d = {}
        for _ in range(n):
            k, nxt = parse_reply(buf, nxt)
            v, nxt = parse_reply(buf, nxt)
            if isinstance(k, list):
                k = tuple(k)
            d[k] = v
        if t == b"|":  # attribute: the real reply follows
            return parse_reply(buf, nxt)
        return d, nxt
    if t == b"_":
        return None, nxt
    if t == b",":
        return float(line.replace(b"inf", b"inf")), nxt
    if t == b"#":
        return line == b"t", nxt
    raise ProtocolViolation("unknown reply type byte %r at %d" % (t, pos))


class ConnectionClosed(Exception):
    pass


class RespConn:
    """Raw RESP connection; replies are read and parsed in order."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT_S):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def _fill(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        if self.pos > (1 << 20) and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _read(self, raw):
        while True:
            try:
                v, nxt = parse_reply(self.buf, self.pos)
            except Incomplete:
                self._fill()
                continue
            start, self.pos = self.pos, nxt
            return bytes(self.buf[start:nxt]) if raw else v

    def read(self):
        return self._read(False)

    def read_raw(self):
        """Exact bytes of the next reply."""
        return self._read(True)

    def call(self, *args):
        self.send(*args)
        return self.read()

    def call_raw(self, *args):
        self.send(*args)
        return self.read_raw()

    def read_n(self, n):
        return [self.read() for _ in range(n)]

    def read_until_close(self, timeout=5.0, limit=1 << 20):
        """Everything the server sends until it closes; (data, closed)."""
        data = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        deadline = time.monotonic() + timeout
        while len(data) < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return data, False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False


def info_fields(text):
    """INFO text -> {field: value} (bytes or str input)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = {}
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln.startswith("#") or ":" not in ln:
            continue
        k, v = ln.split(":", 1)
        out[k] = v
    return out


def wait_for(pred, timeout, interval=0.05):
    """Poll pred() until it returns truthy or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    v = pred()
    while not v and time.monotonic() < deadline:
        time.sleep(interval)
        v = pred()
    return v


# ---------------------------------------------------------------------------
# assertions

class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test (or a prerequisite check) that cannot run here;
    the argument is the reason printed on its SKIP line."""


def need_root():
    return None if os.geteuid() == 0 else "needs root"


def need_program(name):
    if shutil.which(name) or os.path.exists("/usr/sbin/" + name) or \
            os.path.exists("/sbin/" + name):
        return None
    return "needs the program %s (not installed)" % name


def need_tun():
    return need_root() or (None if os.path.exists("/dev/net/tun")
                           else "needs /dev/net/tun (no TUN/TAP device node)")


def need_netns():
    """Root, iproute2, and a network namespace that can really be created
    (a container may forbid unshare(CLONE_NEWNET))."""
    why = need_root() or need_program("ip") or need_program("nsenter")
    if why:
        return why
    r = subprocess.run(["unshare", "--net", "true"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    if r.returncode != 0:
        return "cannot create a network namespace: %s" % r.stdout.decode(
            errors="replace").strip()[-200:]
    return None


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def _short(v, n=300):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def _first_difference(got, expected):
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                return "; first difference at [%d]: expected %s, got %s" % (i, _short(e, 200),
                                                                            _short(g, 200))
        if len(got) != len(expected):
            return "; lengths %d (expected) and %d (got)" % (len(expected), len(got))
    return ""



# ---- key placement (storage/slot.c, dataplane/main.c) ------------------------

SLOTS = 16384


def crc16(data):
    """CRC16/XMODEM, Redis Cluster's key slot hash (storage/slot.c)."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """Redis Cluster's slot of `key` (str or bytes), {hash tags} included."""
    k = key.encode() if isinstance(key, str) else bytes(key)
    lb = k.find(b"{")
    if lb >= 0:
        rb = k.find(b"}", lb + 1)
        if rb > lb + 1:
            k = k[lb + 1:rb]
    return crc16(k) % SLOTS


def shard_of(key, workers):
    """The shard hotpathd with `workers` workers keeps `key` on: slots are
    split into contiguous ranges, slot s on shard s * workers / SLOTS."""
    return key_slot(key) * workers // SLOTS

def eq(got, expected, what=""):
    if got != expected:
        raise TestFailure("%sexpected %s, got %s%s" % (what + ": " if what else "",
                                                       _short(expected), _short(got),
                                                       _first_difference(got, expected)))


# ---------------------------------------------------------------------------
# mini test framework

class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


class Suite:
    """
    suite = Suite("basic")
    @suite.test                       -> gets the running Server
    @suite.test(only="hotpathd")      -> skipped (not counted) on other targets
    @suite.test(server=False)         -> gets None; the test manages processes
    suite.main()
    A test that raises Skip("reason") is counted as skipped; on another
    target an only= test is skipped with the reason "<target> only".
    """

    def __init__(self, name, server_args=(), flush=True):
        self.name = name
        self.server_args = list(server_args)
        self.flush = flush
        self.tests = []
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def test(self, fn=None, only=None, server=True, timeout=TEST_TIMEOUT_S):
        def reg(f):
            self.tests.append((f, only, server, timeout))
            return f
        return reg(fn) if fn is not None else reg

    @staticmethod
    def _name(fn):
        name = fn.__name__
        return name[5:] if name.startswith("test_") else name

    def skip(self, name, reason):
        self.skipped += 1
        log("SKIP %s: %s" % (name, reason))

    def _result(self):
        log("E2E-RESULT: %d passed, %d failed, %d skipped"
            % (self.passed, self.failed, self.skipped))
        sys.stdout.flush()
        return 1 if self.failed else 0

    def skip_all(self, reason):
        """The whole suite cannot run here: every test is reported and
        counted as skipped.  Returns the exit status (0)."""
        log("# suite %s skipped: %s" % (self.name, reason))
        for fn, _only, _server, _timeout in self.tests:
            self.skip(self._name(fn), reason)
        return self._result()

    def _record(self, name, ok, dt, reason=""):
        if ok:
            self.passed += 1
            log("PASS %s (%.2f s)" % (name, dt))
        else:
            self.failed += 1
            reason = " | ".join(str(reason).strip().splitlines()[-12:]) if reason else "failed"
            if len(reason) > 2000:
                reason = reason[:2000] + "...(%d chars)" % len(reason)
            log("FAIL %s: %s" % (name, reason))

    def _start_server(self):
        srv = Server(extra_args=self.server_args)
        srv.start()
        return srv

    def main(self):
        tgt = target()
        log("# suite %s, target %s%s" % (self.name, tgt,
            " (%s)" % hotpathd_path() if tgt == "hotpathd" else ""))
        signal.signal(signal.SIGALRM, _on_alarm)
        srv = None
        start_error = None  # once the server cannot start, later tests fail at once
        try:
            for fn, only, needs_server, timeout in self.tests:
                name = self._name(fn)
                if only and only != tgt:
                    self.skip(name, "%s only" % only)
                    continue
                if needs_server and (srv is None or not srv.alive()):
                    if srv is not None:
                        srv.stop()
                        srv = None
                    if start_error is None:
                        try:
                            srv = self._start_server()
                        except Exception as e:
                            start_error = str(e)
                            self._record(name, False, 0, "server did not start: %s" % e)
                            continue
                    else:
                        self._record(name, False, 0, "server did not start (see above)")
                        continue
                t0 = time.monotonic()
                ok, reason = True, ""
                signal.alarm(int(timeout))
                try:
                    if needs_server and self.flush:
                        with srv.conn() as c:
                            r = c.call("FLUSHALL")
                            check(r == b"OK", "FLUSHALL before the test answered %r" % r)
                    fn(srv if needs_server else None)
                except _Alarm:
                    ok, reason = False, "timed out after %d s" % timeout
                except Skip as e:
                    ok, reason = None, str(e)
                except TestFailure as e:
                    ok, reason = False, str(e)
                except Exception as e:
                    ok = False
                    tb = traceback.extract_tb(e.__traceback__)
                    where = ["%s:%d" % (os.path.basename(f.filename), f.lineno) for f in tb[-3:]]
                    reason = "%s: %s (at %s)" % (type(e).__name__, e, " < ".join(reversed(where)))
                finally:
                    signal.alarm(0)
                if needs_server and srv is not None and not srv.alive():
                    ok = False
                    reason = (reason + "; " if reason else "") + \
                        "server died (exit %s); log tail: %s" % (srv.proc.poll(),
                                                                 srv.log_tail(600))
                if ok is None:
                    self.skip(name, reason)
                else:
                    self._record(name, ok, time.monotonic() - t0, reason)
        finally:
            signal.alarm(0)
            if srv is not None:
                srv.stop()
            _stop_all_servers()
        return self._result()


def run_suite(suite):
    sys.exit(suite.main())
