#!/usr/bin/python3
"""check_layout.py - the folder layout rule, checked on every #include "...".

Reads tests/layout_rules (which folder may depend on which; the include
edges that still run against that direction, each with the call that has to
become a callback; the files allowed over the size limit) and then:

  * resolves every `#include "..."` of every C file in the tree (relative to
    the including file, else by its unique name in the tree, which is how
    meson's include_directories resolve the bare names) and fails on an
    include whose folder is not among the including folder's dependencies
    (transitively), unless the exact edge is listed as "against";
  * fails on an include cycle between folders made of anything but listed
    "against" edges, and on a rules file whose dependencies form a cycle;
  * fails on a source file over the line limit that is not listed, and on a
    listed exception (edge or size) that no longer exists, so the lists only
    shrink;
  * checks each folder's meson.build: a library may declare only
    dependencies (`*_dep` of another folder) that the rules allow.

It prints what it checked.  `--self-test` first runs it on small generated
trees (a wrong include, a cycle, a stale exception, an oversize file) and
checks each is refused; without arguments it runs the self-test and then
checks this tree.  The last line is LAYOUT-RESULT: ok|FAILED.
"""
import os
import re
import sys
import tempfile

SOURCE_EXT = ('.c', '.h')
SIZE_EXT = ('.c', '.h', '.py', '.sh')
SKIP_DIRS = {'.git', '__pycache__'}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


class Rules:
    def __init__(self):
        self.deps = {}        # folder -> set of folders (direct)
        self.any = set()      # folders that may include anything (tests)
        self.against = {}     # (file, header) -> reason
        self.oversize = {}    # file -> reason
        self.max_lines = 1000


def parse_rules(path):
    """Lines: `folder: dep dep ...`, `folder: *`, `max-lines N`,
    `against FILE -> HEADER  # reason`, `oversize FILE  # reason`.
    Blank lines and lines starting with # are comments."""
    r = Rules()
    errors = []
    for n, raw in enumerate(open(path, encoding='utf-8'), 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        body, _, comment = line.partition('#')
        body = body.strip()
        comment = comment.strip()
        if body.startswith('max-lines '):
            r.max_lines = int(body.split()[1])
        elif body.startswith('against '):
            m = re.match(r'against\s+(\S+)\s*->\s*(\S+)$', body)
            if not m or not comment:
                errors.append('%s:%d: "against FILE -> HEADER  # the call to turn around" expected'
                              % (path, n))
                continue
            r.against[(m.group(1), m.group(2))] = comment
        elif body.startswith('oversize '):
            parts = body.split()
            if len(parts) != 2 or not comment:
                errors.append('%s:%d: "oversize FILE  # reason" expected' % (path, n))
                continue
            r.oversize[parts[1]] = comment
        elif ':' in body:
            folder, _, deps = body.partition(':')
            folder = folder.strip().rstrip('/')
            if folder in r.deps:
                errors.append('%s:%d: folder %s listed twice' % (path, n, folder))
            deps = deps.split()
            if deps == ['*']:
                r.any.add(folder)
                r.deps[folder] = set()
            else:
                r.deps[folder] = set(d.rstrip('/') for d in deps)
        else:
            errors.append('%s:%d: cannot parse: %s' % (path, n, line))
    for f, ds in r.deps.items():
        for d in ds:
            if d not in r.deps:
                errors.append('%s: %s depends on %s, which has no rule' % (path, f, d))
    return r, errors


def closure(rules):
    """folder -> every folder it may include (transitive), itself included."""
    out = {}
    for f in rules.deps:
        seen = {f}
        todo = list(rules.deps[f])
        while todo:
            d = todo.pop()
            if d in seen or d not in rules.deps:
                continue
            seen.add(d)
            todo.extend(rules.deps[d])
        out[f] = seen
    return out


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def walk(root):
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = sorted(x for x in dirs
                         if x not in SKIP_DIRS and not x.startswith('build')
                         and not (rel == '.' and x.startswith('.')))
        for f in sorted(files):
            p = os.path.normpath(os.path.join(rel, f))
            yield p


def meson_calls(text, names):
    """The argument text of every call to one of `names` (parentheses matched)."""
    for m in re.finditer(r'\b(?:%s)\s*\(' % '|'.join(names), text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {'(': 1, ')': -1}.get(text[i], 0)
            i += 1
        yield text[m.end():i - 1]


def folder_of(rules, path):
    """The longest ruled folder containing path ('' for the tree root)."""
    d = os.path.dirname(path)
    while True:
        if d in rules.deps:
            return d
        if d == '':
            return None
        d = os.path.dirname(d)


def check(root, rules_path, out=print):
    rules, errors = parse_rules(rules_path)
    allowed = closure(rules)
    for comp in cycles({f: rules.deps[f] for f in rules.deps}):
        errors.append('rules: the dependencies of %s form a cycle' % ' '.join(comp))

    files = list(walk(root))
    by_name = {}
    for p in files:
        by_name.setdefault(os.path.basename(p), []).append(p)
    fileset = set(files)

    n_includes = 0
    used_against = set()
    folder_graph = {}
    folder_edges = {}   # (from folder, to folder) -> [(file, header)]
    for p in files:
        if not p.endswith(SOURCE_EXT):
            continue
        src_folder = folder_of(rules, p)
        if src_folder is None:
            errors.append('%s: its folder has no rule in %s' % (p, rules_path))
            continue
        text = open(os.path.join(root, p), encoding='utf-8', errors='replace').read()
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(1)
            n_includes += 1
            target = os.path.normpath(os.path.join(os.path.dirname(p), inc))
            if target not in fileset:
                cands = by_name.get(os.path.basename(inc), [])
                if len(cands) != 1:
                    errors.append('%s: #include "%s" %s' % (
                        p, inc, 'matches no file of the tree' if not cands else
                        'is ambiguous (%s): use a relative path' % ', '.join(cands)))
                    continue
                target = cands[0]
            dst_folder = folder_of(rules, target)
            if dst_folder is None or dst_folder == src_folder:
                continue
            edge = (p, target)
            if dst_folder not in allowed[src_folder] and src_folder not in rules.any:
                if edge in rules.against:
                    used_against.add(edge)
                else:
                    errors.append('%s: #include "%s": %s may not depend on %s (allowed: %s)' % (
                        p, inc, src_folder, dst_folder,
                        ' '.join(sorted(allowed[src_folder] - {src_folder})) or 'nothing'))
            if src_folder in rules.any:
                continue
            folder_graph.setdefault(src_folder, set()).add(dst_folder)
            folder_edges.setdefault((src_folder, dst_folder), []).append(edge)

    for comp in cycles(folder_graph):
        bad = []
        for a in comp:
            for b in comp:
                for e in folder_edges.get((a, b), []):
                    if e not in rules.against and b not in allowed[a]:
                        bad.append('%s -> %s' % e)
        listed = sum(1 for a in comp for b in comp for e in folder_edges.get((a, b), [])
                     if e in rules.against)
        if bad:
            errors.append('include cycle between folders %s through unlisted edges: %s'
                          % (' '.join(comp), '; '.join(bad)))
        else:
            out('  known cycle (listed "against" edges: %d): %s' % (listed, ' <-> '.join(comp)))

    for edge, reason in sorted(rules.against.items()):
        if edge not in used_against:
            errors.append('rules: "against %s -> %s" no longer exists (or is now allowed): '
                          'remove it' % edge)

    n_sized = 0
    for p in files:
        if not p.endswith(SIZE_EXT):
            continue
        n_sized += 1
        with open(os.path.join(root, p), 'rb') as fh:
            lines = fh.read().count(b'\n')
        if lines > rules.max_lines and p not in rules.oversize:
            errors.append('%s: %d lines, over the %d-line limit: split it by concern'
                          % (p, lines, rules.max_lines))
        if p in rules.oversize and lines <= rules.max_lines:
            errors.append('rules: "oversize %s" is %d lines now: remove the exception' % (p, lines))
    for p in sorted(rules.oversize):
        if p not in fileset:
            errors.append('rules: "oversize %s": no such file, remove the exception' % p)

    # meson: a folder's declared *_dep dependencies must be allowed folders.
    dep_home = {}
    mesons = [p for p in files if os.path.basename(p) == 'meson.build']
    texts = {p: open(os.path.join(root, p), encoding='utf-8').read() for p in mesons}
    for p, t in texts.items():
        for m in re.finditer(r'^(\w+_dep)\s*=\s*declare_dependency', t, re.M):
            dep_home[m.group(1)] = os.path.dirname(p)
    n_meson = 0
    for p, t in texts.items():
        folder = os.path.dirname(p)
        if folder not in rules.deps or folder in rules.any:
            continue
        for call in meson_calls(t, ('static_library', 'executable', 'declare_dependency')):
            for dm in re.finditer(r'dependencies\s*:\s*\[([^\]]*)\]', call):
                for dep in re.findall(r'\w+_dep', dm.group(1)):
                    home = dep_home.get(dep)
                    if home is None or home == folder:
                        continue      # external (dpdk_dep, uring_dep, ...) or its own
                    n_meson += 1
                    hf = folder_of(rules, os.path.join(home, 'meson.build'))
                    if hf is not None and hf not in allowed[folder]:
                        errors.append('%s: declares %s (%s), which the rules do not allow'
                                      % (p, dep, hf))

    out('  rules: %d folders, %d listed against-direction edges, %d size exceptions'
        % (len(rules.deps), len(rules.against), len(rules.oversize)))
    out('  checked %d #include "..." lines in %d C files, %d meson dependencies, '
        'sizes of %d files (limit %d lines)'
        % (n_includes, sum(1 for p in files if p.endswith(SOURCE_EXT)), n_meson, n_sized,
           rules.max_lines))
    for e in errors:
        out('  ERROR ' + e)
    return errors


def self_test():
    """Each broken tree must be refused with the expected message; the good
    one must pass."""
    rules = ('low:\nmid: low\nhigh: mid\ntests: *\n'
             'against low/a.c -> high/h.h  # low_cb: to become a callback\n'
             'oversize mid/big.c  # self-test\nmax-lines 10\n')
    good = {
        'low/l.h': '', 'low/a.c': '#include "l.h"\n#include "../high/h.h"\n',
        'mid/m.c': '#include "../low/l.h"\n', 'mid/big.c': '\n' * 11,
        'high/h.h': '#include "../mid/m.h"\n#include "l.h"\n', 'mid/m.h': '',
        'tests/t.c': '#include "../high/h.h"\n',
        'mid/meson.build': 'mid_dep = declare_dependency()\n',
        'high/meson.build': "x = static_library('x',\n  dependencies : [mid_dep])\n",
    }
    cases = [
        ('good tree', {}, None),
        ('wrong include', {'low/b.c': '#include "../mid/m.h"\n'}, 'low may not depend on mid'),
        ('wrong bare include', {'low/b.c': '#include "m.h"\n'}, 'low may not depend on mid'),
        ('unlisted cycle', {'mid/c.c': '#include "../high/h.h"\n'}, 'include cycle'),
        ('stale against', {'low/a.c': '#include "l.h"\n'}, 'no longer exists'),
        ('oversize', {'high/big2.c': '\n' * 11}, 'over the 10-line limit'),
        ('stale oversize', {'mid/big.c': '\n'}, 'remove the exception'),
        ('unknown header', {'mid/d.c': '#include "nope.h"\n'}, 'matches no file'),
        ('wrong meson dep', {'low/meson.build': "y = static_library('y',\n"
                             "  dependencies : [mid_dep])\n"}, 'which the rules do not allow'),
        ('rules cycle', {'rules=': rules.replace('low:\n', 'low: high\n')}, 'form a cycle'),
    ]
    ok = True
    for name, change, want in cases:
        with tempfile.TemporaryDirectory() as d:
            files = dict(good)
            files.update({k: v for k, v in change.items() if k != 'rules='})
            for p, t in files.items():
                os.makedirs(os.path.join(d, os.path.dirname(p)), exist_ok=True)
                with open(os.path.join(d, p), 'w') as fh:
                    fh.write(t)
            rp = os.path.join(d, 'rules')
            with open(rp, 'w') as fh:
                fh.write(change.get('rules=', rules))
            errs = check(d, rp, out=lambda s: None)
            if want is None:
                passed = not errs
            else:
                passed = any(want in e for e in errs)
            print('  self-test %-18s %s%s' % (name, 'ok' if passed else 'FAILED',
                                             '' if passed else ': ' + '; '.join(errs)))
            ok = ok and passed
    return ok


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    print('== layout self-test')
    ok = self_test()
    if '--self-test' not in argv:
        print('== layout of %s (rules: tests/layout_rules)' % root)
        ok = not check(root, os.path.join(here, 'layout_rules')) and ok
    print('LAYOUT-RESULT: %s' % ('ok' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
