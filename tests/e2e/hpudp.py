"""
hpudp.py - a small kernel-socket client of hotpath's UDP protocol
(docs/PROTOCOL.md) for end-to-end tests: header codec, cookie handshake,
retransmission with the same id, fragment reassembly, RESP2 reply parsing.
Standard library only.
"""
import os
import socket
import struct
import time

HDR = struct.Struct("!HBBHHQQQIIHHHH")
HDR_LEN = 48
MAGIC = 0x4850
F_REPLY, F_COOKIE, F_RETRY = 1, 2, 4
ST = {0: "OK", 1: "COOKIE", 2: "MALFORMED", 3: "LIMIT", 4: "DUP_GONE", 5: "TOO_OLD",
      6: "SESSION_LOST", 7: "BUSY", 8: "VERSION"}


def encode_cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def header(flags=0, status=0, cmd_count=1, session=1, request=1, cookie=0, total_len=0,
           frag_offset=0, frag_index=0, frag_count=1, max_dgram=0, version=1, magic=MAGIC,
           reserved=0):
    return HDR.pack(magic, version, flags, status, cmd_count, session, request, cookie,
                    total_len, frag_offset, frag_index, frag_count, max_dgram, reserved)


def decode(data):
    if len(data) < HDR_LEN:
        return None
    f = HDR.unpack_from(data)
    keys = ("magic", "version", "flags", "status", "cmd_count", "session", "request", "cookie",
            "total_len", "frag_offset", "frag_index", "frag_count", "max_dgram", "reserved")
    h = dict(zip(keys, f))
    h["payload"] = data[HDR_LEN:]
    h["len"] = len(data)
    return h


def parse_resp(buf, pos=0):
    """One RESP2 value from buf[pos:]: (value, new_pos).  Errors are
    returned as ('ERR', text) tuples."""
    t = buf[pos:pos + 1]
    end = buf.index(b"\r\n", pos)
    line = buf[pos + 1:end]
    pos = end + 2
    if t == b"+":
        return line, pos
    if t == b"-":
        return ("ERR", line.decode()), pos
    if t == b":":
        return int(line), pos
    if t == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        return buf[pos:pos + n], pos + n + 2
    if t == b"*":
        n = int(line)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = parse_resp(buf, pos)
            out.append(v)
        return out, pos
    raise ValueError("bad RESP type %r" % t)


def parse_all(buf, n):
    vals, pos = [], 0
    for _ in range(n):
        v, pos = parse_resp(buf, pos)
        vals.append(v)
    if pos != len(buf):
        raise ValueError("trailing bytes in reply")
    return vals


class Client:
    def __init__(self, server, port, bind=None, timeout=0.3, max_dgram=0):
        self.server = (server, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if bind:
            self.sock.bind((bind, 0))
        self.sock.settimeout(timeout)
        self.session = int.from_bytes(os.urandom(8), "big") or 1
        self.next_id = 1
        self.cookie = 0
        self.max_dgram = max_dgram

    def close(self):
        self.sock.close()

    def raw(self, data, wait=0.3):
        """Send bytes; return the list of datagrams received within `wait`."""
        self.sock.sendto(data, self.server)
        return self.recv_all(wait)

    def recv_all(self, wait):
        got = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                d, _ = self.sock.recvfrom(70000)
            except socket.timeout:
                return got
            got.append(d)

    def build(self, payload, cmd_count, rid, retry=False):
        flags = (F_COOKIE if self.cookie else 0) | (F_RETRY if retry else 0)
        return header(flags=flags, cmd_count=cmd_count, session=self.session, request=rid,
                      cookie=self.cookie, total_len=len(payload),
                      max_dgram=self.max_dgram) + payload

    def exchange(self, payload, cmd_count, rid, tries=6, wait=0.4):
        """Sends request `rid` until a complete reply arrives; returns the
        (status, header, reassembled payload)."""
        frags = {}
        for attempt in range(tries):
            self.sock.sendto(self.build(payload, cmd_count, rid, retry=attempt > 0), self.server)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    d, _ = self.sock.recvfrom(70000)
                except socket.timeout:
                    break
                h = decode(d)
                if h is None or h["session"] != self.session or h["request"] != rid:
                    continue
                if h["flags"] & F_COOKIE:
                    self.cookie = h["cookie"]
                st = ST.get(h["status"], h["status"])
                if st == "COOKIE":
                    break  # resend at once with the cookie
                if st != "OK":
                    return st, h, b""
                frags[h["frag_index"]] = h
                if len(frags) == h["frag_count"]:
                    data = bytearray(h["total_len"])
                    for f in frags.values():
                        data[f["frag_offset"]:f["frag_offset"] + len(f["payload"])] = f["payload"]
                    return "OK", h, bytes(data)
        return "TIMEOUT", None, b""

    def call_many(self, cmds, rid=None):
        """Runs commands in one datagram; returns the parsed replies."""
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        payload = b"".join(encode_cmd(*c) for c in cmds)
        st, h, data = self.exchange(payload, len(cmds), rid)
        if st != "OK":
            raise RuntimeError("request %d: status %s" % (rid, st))
        return parse_all(data, len(cmds))

    def call(self, *args):
        return self.call_many([args])[0]
