#!/usr/bin/python3
"""
test_command_info.py - COMMAND, COMMAND INFO/DOCS/GETKEYS/GETKEYSANDFLAGS/
COUNT/LIST of hotpathd against a real redis-server 7.0, in RESP2 and RESP3.

Every command hotpath has must answer COMMAND INFO byte for byte as Redis
does (flags, legacy key range, ACL categories, tips, key specs, subcommands).
Redis keeps subcommands in a hash table with a random seed, so their order
differs from run to run: a container's reply is compared with its
subcommands sorted by name, and each subcommand ("client|kill") also byte
for byte on its own; COMMAND DOCS likewise.  Counts and lists differ
only by the commands hotpath lacks: hotpath's answers must be Redis' answers
restricted to hotpath's commands.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hp_harness import Suite, Server, check, run_suite, encode  # noqa: E402

suite = Suite("command_info")

_reference = []


def reference_server():
    """A reference redis-server, started once for this file."""
    if not _reference or not _reference[0].alive():
        _reference[:] = [Server(kind="redis").start()]
    return _reference[0]


# ---------------------------------------------------------------------------
# a typed RESP reader: (type byte, value), so set/array/map differences show


def _line(buf, pos):
    end = buf.index(b"\r\n", pos)
    return buf[pos:end], end + 2


def typed(buf, pos=0):
    t = buf[pos:pos + 1]
    line, nxt = _line(buf, pos + 1)
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return (t, None), nxt
        return (t, buf[nxt:nxt + n]), nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(line)
        items = []
        for _ in range(max(n, 0)):
            v, nxt = typed(buf, nxt)
            items.append(v)
        return (t, tuple(items) if n >= 0 else None), nxt
    if t == b"%":
        items = []
        for _ in range(2 * int(line)):
            v, nxt = typed(buf, nxt)
            items.append(v)
        return (t, tuple(items)), nxt
    return (t, line), nxt


def parse_all(raw):
    v, nxt = typed(raw)
    check(nxt == len(raw), "trailing bytes after a reply")
    return v


def sort_subcommands(info):
    """A typed 10-element command info with its subcommands sorted by name."""
    t, items = info
    if t != b"*" or items is None or len(items) != 10:
        return info
    st, subs = items[9]
    subs = tuple(sorted((sort_subcommands(s) for s in subs), key=lambda s: s[1][0][1]))
    return (t, items[:9] + ((st, subs),))


def normalized(raw):
    """A COMMAND INFO reply, typed, its entries' subcommands sorted."""
    t, entries = parse_all(raw)
    return (t, tuple(sort_subcommands(e) for e in entries))


class Pair:
    """One connection to each server, in one protocol."""

    def __init__(self, srv, proto):
        self.tgt, self.ref = srv.conn(), reference_server().conn()
        self.proto = proto
        if proto == 3:
            for c in (self.tgt, self.ref):
                c.call(b"HELLO", b"3")

    def raw(self, *args):
        return self.tgt.call_raw(*args), self.ref.call_raw(*args)

    def close(self):
        self.tgt.close()
        self.ref.close()


def names_of(srv):
    """hotpath's top-level command names, from COMMAND LIST."""
    with srv.conn() as c:
        listed = c.call(b"COMMAND", b"LIST")
    return sorted(n for n in listed if b"|" not in n)


def each_proto(srv, fn):
    for proto in (2, 3):
        p = Pair(srv, proto)
        try:
            fn(p)
        finally:
            p.close()


# ---------------------------------------------------------------------------


@suite.test(only="hotpathd")
def test_info_every_command(srv):
    names = names_of(srv)
    check(len(names) > 50, "COMMAND LIST names %d commands" % len(names))

    def run(p):
        bad = []
        for n in names:
            got, want = p.raw(b"COMMAND", b"INFO", n)
            if got != want and normalized(got) != normalized(want):
                bad.append((n, got[:400], want[:400]))
        check(not bad, "RESP%d COMMAND INFO differs for %d commands, first: %r"
              % (p.proto, len(bad), bad[:1]))

    each_proto(srv, run)


@suite.test(only="hotpathd")
def test_info_subcommands(srv):
    def run(p):
        got = parse_all(p.raw(b"COMMAND", b"INFO", b"client", b"config", b"command")[0])
        subs = [s[1][0][1] for c in got[1] for s in c[1][9][1]]
        check(len(subs) == 28, "28 subcommands, got %d" % len(subs))
        bad = []
        for s in subs:
            for name in (s, s.upper()):
                g, w = p.raw(b"COMMAND", b"INFO", name)
                if g != w:
                    bad.append((name, g, w))
        check(not bad, "RESP%d: %d subcommands differ, first: %r" % (p.proto, len(bad), bad[:1]))
        # Unknown names, several at once, no name at all.
        for args in ([b"nosuch"], [b"get", b"nosuch", b"client|nosuch", b"SET"], [b"client|"],
                     [b"|get"], [b"get|x"]):
            g, w = p.raw(b"COMMAND", b"INFO", *args)
            check(g == w, "RESP%d COMMAND INFO %r: %r != %r" % (p.proto, args, g, w))

    each_proto(srv, run)


@suite.test(only="hotpathd")
def test_command_all(srv):
    """COMMAND and COMMAND INFO with no name: Redis' entries for hotpath's commands."""
    names = set(names_of(srv))

    def run(p):
        for args in ([b"COMMAND"], [b"COMMAND", b"INFO"]):
            got, want = (parse_all(r) for r in p.raw(*args))
            check(got[0] == b"*" and want[0] == b"*", "arrays")
            g = {e[1][0][1]: sort_subcommands(e) for e in got[1]}
            w = {e[1][0][1]: sort_subcommands(e) for e in want[1]}
            check(set(g) == names, "%r lists exactly COMMAND LIST's names" % args)
            bad = [n for n in g if g[n] != w.get(n)]
            check(not bad, "RESP%d %r differs for %r" % (p.proto, args, bad))

    each_proto(srv, run)


@suite.test(only="hotpathd")
def test_count_and_list(srv):
    names = names_of(srv)
    with srv.conn() as c, reference_server().conn() as r:
        check(c.call(b"COMMAND", b"COUNT") == len(names), "COMMAND COUNT == top-level names")
        every = set(c.call(b"COMMAND", b"LIST"))
        ref_every = set(r.call(b"COMMAND", b"LIST"))
        check(every <= ref_every, "hotpath lists only Redis commands: %r" % (every - ref_every))
        for sub in (b"client|*", b"config|*", b"command|*"):
            g = set(c.call(b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", sub))
            w = set(r.call(b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", sub))
            check(g == w, "LIST PATTERN %r: %r != %r" % (sub, g, w))
        cats = r.call(b"ACL", b"CAT")
        for cat in cats + [b"nosuchcategory"]:
            for spelled in (cat, cat.upper()):
                g = set(c.call(b"COMMAND", b"LIST", b"FILTERBY", b"ACLCAT", spelled))
                w = set(r.call(b"COMMAND", b"LIST", b"FILTERBY", b"ACLCAT", spelled)) & every
                check(g == w, "LIST ACLCAT %r: extra %r, missing %r" % (spelled, g - w, w - g))
        for args in ([b"FILTERBY", b"MODULE", b"x"], [b"FILTERBY", b"BOGUS", b"x"], [b"x"]):
            g = c.call_raw(b"COMMAND", b"LIST", *args)
            w = r.call_raw(b"COMMAND", b"LIST", *args)
            check(g == w, "LIST %r: %r != %r" % (args, g, w))


GETKEYS_CASES = [
    [b"GET", b"k"], [b"get", b"k"], [b"SET", b"k", b"v"], [b"SET", b"k", b"v", b"GET"],
    [b"SET", b"k", b"v", b"EX", b"10", b"get"], [b"SET", b"k", b"v", b"GETX"],
    [b"SET", b"k", b"v", b"get\x00"], [b"MSET", b"a", b"1", b"b", b"2"], [b"MSET", b"a", b"1", b"b"],
    [b"MSETNX", b"a", b"1"], [b"MGET", b"a", b"b", b"c"], [b"DEL", b"a", b"b"],
    [b"UNLINK", b"a"], [b"EXISTS", b"a", b"a"], [b"TOUCH", b"x"], [b"RENAME", b"a", b"b"],
    [b"RENAMENX", b"a", b"b"], [b"GETEX", b"a", b"PERSIST"], [b"GETDEL", b"a"],
    [b"GETSET", b"a", b"b"], [b"APPEND", b"a", b"b"], [b"SETRANGE", b"a", b"0", b"x"],
    [b"GETRANGE", b"a", b"0", b"1"], [b"STRLEN", b"a"], [b"INCRBYFLOAT", b"a", b"1"],
    [b"EXPIRE", b"a", b"1", b"NX"], [b"PEXPIREAT", b"a", b"1"], [b"EXPIRETIME", b"a"],
    [b"PERSIST", b"a"], [b"TTL", b"a"], [b"PTTL", b"a"], [b"TYPE", b"a"], [b"SETNX", b"a", b"b"],
    [b"SETEX", b"a", b"1", b"b"], [b"PSETEX", b"a", b"1", b"b"], [b"DECR", b"a"],
    # errors, in Redis' order of checks
    [b"GET"], [b"GET", b"a", b"b"], [b"SET", b"k"], [b"PING", b"x"], [b"KEYS", b"*"],
    [b"DBSIZE", b"x"], [b"SCAN", b"0"], [b"NOSUCH", b"a"], [b"CLIENT", b"KILL", b"x"],
    [b"CLIENT", b"nosuch"], [b"config", b"get", b"x"], [b"COMMAND", b"GETKEYS"],
    [b"CLIENT", b"LIST"], [b"FLUSHALL", b"ASYNC"], [b"client|kill", b"x"],
]


@suite.test(only="hotpathd")
def test_getkeys(srv):
    def run(p):
        bad = []
        for case in GETKEYS_CASES:
            for sub in (b"GETKEYS", b"GETKEYSANDFLAGS", b"getkeysandflags"):
                g, w = p.raw(b"COMMAND", sub, *case)
                if g != w:
                    bad.append((sub, case, g, w))
        for sub in (b"GETKEYS", b"GETKEYSANDFLAGS"):
            g, w = p.raw(b"COMMAND", sub)
            if g != w:
                bad.append((sub, [], g, w))
            g, w = p.raw(b"COMMAND", sub, b"get")
            if g != w:
                bad.append((sub, [b"get"], g, w))
        check(not bad, "RESP%d: %d GETKEYS replies differ, first: %r"
              % (p.proto, len(bad), bad[:3]))

    each_proto(srv, run)


@suite.test(only="hotpathd")
def test_getkeys_many(srv):
    """A command with many keys: all of them, in order (no capacity limit)."""
    args = [b"MSET"]
    for i in range(5000):
        args += [b"key:%d" % i, b"v"]

    def run(p):
        g, w = p.raw(b"COMMAND", b"GETKEYS", *args)
        check(g == w, "RESP%d GETKEYS of 5000 keys differs" % p.proto)

    each_proto(srv, run)


def sort_docs(typed_map):
    """A typed DOCS map value with its "subcommands" entries sorted by name."""
    t, items = typed_map
    out = list(items)
    for i in range(0, len(items), 2):
        if items[i][1] == b"subcommands":
            st, subs = items[i + 1]
            pairs = sorted(((subs[j], sort_docs(subs[j + 1])) for j in range(0, len(subs), 2)),
                           key=lambda kv: kv[0][1])
            out[i + 1] = (st, tuple(x for kv in pairs for x in kv))
    return (t, tuple(out))


def docs_entries(raw):
    """COMMAND DOCS reply -> {name: normalized typed value}."""
    t, items = parse_all(raw)
    return {items[i][1]: sort_docs(items[i + 1]) for i in range(0, len(items), 2)}


@suite.test(only="hotpathd")
def test_docs(srv):
    names = names_of(srv)

    def run(p):
        bad = []
        subs = []
        for n in names:
            g, w = p.raw(b"COMMAND", b"DOCS", n)
            if g != w and docs_entries(g) != docs_entries(w):
                bad.append((n, g[:300], w[:300]))
            for name, (t, items) in docs_entries(w).items():
                subs += [items[i + 1][1][j][1] for i in range(0, len(items), 2)
                         if items[i][1] == b"subcommands"
                         for j in range(0, len(items[i + 1][1]), 2)]
        check(len(subs) == 28, "28 subcommands in DOCS, got %d" % len(subs))
        for n in subs + [b"CLIENT|KILL", b"Get"]:
            g, w = p.raw(b"COMMAND", b"DOCS", n)
            if g != w:
                bad.append((n, g, w))
        check(not bad, "RESP%d DOCS differs for %d names, first: %r"
              % (p.proto, len(bad), bad[:1]))
        # several names, unknown ones left out; all commands
        for args in ([b"nosuch", b"get", b"client|nosuch", b"set", b"nosuch2"], [b"get", b"get"]):
            g, w = p.raw(b"COMMAND", b"DOCS", *args)
            check(g == w, "RESP%d DOCS %r: %r != %r" % (p.proto, args, g[:200], w[:200]))
        g, w = (docs_entries(r) for r in p.raw(b"COMMAND", b"DOCS"))
        check(set(g) == set(names), "COMMAND DOCS lists hotpath's commands")
        diff = [n for n in g if g[n] != w.get(n)]
        check(not diff, "RESP%d COMMAND DOCS (all) differs for %r" % (p.proto, diff))

    each_proto(srv, run)


if __name__ == "__main__":
    run_suite(suite)
