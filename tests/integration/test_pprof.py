"""test_pprof.py: --format pprof read back by Debian's `go tool pprof` (-top, -traces, -raw): the workloads'
leak sites with their exact bytes and counts (sampling off), build-ids, source lines and the pid label.
"""
import os
import pty
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import (CONFIG, LeaktopTestCase, check_stderr_clean, in_ci, marker_line, run_leaktop, tail,
                     workload)

# tests/workloads/basic.c: outstanding bytes / blocks per allocation site at exit (as test_figures.py)
BASIC = {
    'leak_malloc': (5000, 5),
    'partial_malloc': (12000, 6),
    'leak_calloc': (6300, 3),
    'grow_chain': (12000, 1),
    'realloc_null': (8642, 2),
    'leak_reallocarray': (2250, 1),
    'leak_posix_memalign': (8000, 2),
    'leak_aligned_alloc': (6144, 3),
    'leak_memalign': (2600, 2),
    'leak_valloc': (5200, 1),
    'leak_pvalloc': (12288, 2),
}
BASIC_EMPTY = ('chain_start', 'realloc_zero_victim', 'realloc_to_zero', 'bad_posix_memalign',
               'failing_malloc', 'failing_calloc', 'free_null')

# tests/workloads/cxx.cc; pprof shows C++ names without their parameter lists
CXX = {
    'app::Cache::fill': 600,
    'app::Cache::fill_array': 3000,
    'app::Cache::fill_nothrow': 960,
    'app::Cache::fill_nothrow_array': 1700,
    'app::Cache::fill_aligned': 896,
    'app::Cache::fill_aligned_array': 1280,
    'app::Cache::fill_aligned_nothrow': 1536,
}

TRACE_SEP = re.compile(r'^-+\+-+$')
VALUE = re.compile(r'^(-?\d+)(B?)$')


def value(text):
    m = VALUE.match(text)
    if not m:
        raise AssertionError('not a plain value (is -unit=B missing?): %r' % text)
    return int(m.group(1))


def build_id(path):
    out = subprocess.run(['readelf', '-n', path], capture_output=True, text=True, check=True).stdout
    m = re.search(r'Build ID: ([0-9a-f]+)', out)
    return m.group(1) if m else None


class Profile:
    """One profile file, read through `go tool pprof` run as a fresh user would (own HOME and cache)."""

    def __init__(self, path, env):
        self.path = path
        self.env = env

    def run(self, *args):
        p = subprocess.run(['go', 'tool', 'pprof'] + list(args) + [self.path], capture_output=True,
                           text=True, errors='replace', timeout=120, env=self.env)
        if p.returncode != 0:
            raise AssertionError('go tool pprof %s: exit %d\n%s' % (' '.join(args), p.returncode,
                                                                    tail(p.stderr + p.stdout)))
        return p.stdout

    def top(self, sample_index='inuse_space'):
        """(header lines, {function: (flat, cum)}, total) of -top, in bytes or counts."""
        out = self.run('-top', '-sample_index=' + sample_index, '-unit=B', '-nodecount=0')
        header, rows, total, in_rows = [], {}, None, False
        for line in out.splitlines():
            m = re.search(r'Showing nodes accounting for \S+, [\d.]+% of (\S+) total', line)
            if m:
                total = value(m.group(1))
            if not in_rows:
                in_rows = bool(re.match(r'^\s+flat\s+flat%\s+sum%\s+cum\s+cum%$', line))
                if not in_rows:
                    header.append(line)
                continue
            fields = line.split(None, 5)
            if len(fields) != 6:
                raise AssertionError('unexpected -top row %r in:\n%s' % (line, out))
            rows[fields[5]] = (value(fields[0]), value(fields[3]))
        if total is None:
            raise AssertionError('no total in -top output:\n%s' % out)
        return header, rows, total

    def traces(self, *args):
        """[{'labels': {key: value}, 'value': N, 'frames': [leaf, ..., root]}] from -traces."""
        out = self.run('-traces', '-unit=B', *args)
        blocks, cur = [], None
        for line in out.splitlines():
            if TRACE_SEP.match(line):
                cur = {'labels': {}, 'value': None, 'frames': []}
                blocks.append(cur)
                continue
            if cur is None or not line.strip():
                continue
            if cur['value'] is None:
                m = re.match(r'^\s*(-?\d+B?)\s+(\S.*)$', line)
                if m:
                    cur['value'] = value(m.group(1))
                    cur['frames'].append(m.group(2).strip())
                    continue
                m = re.match(r'^\s*(\w+):\s+\[?(.*?)\]?$', line)
                if not m:
                    raise AssertionError('unexpected -traces line %r in:\n%s' % (line, out))
                cur['labels'][m.group(1)] = m.group(2)
            else:
                cur['frames'].append(line.strip())
        return [b for b in blocks if b['value'] is not None]


class PprofFormat(LeaktopTestCase):
    """leaktop -f pprof -o FILE -- WORKLOAD, then go tool pprof on FILE."""

    def setUp(self):
        super().setUp()
        if not shutil.which('go'):
            if in_ci():
                self.fail('go is not installed (scripts/install-deps installs golang-go)')
            self.skipTest('go is not installed (apt-get install golang-go)')
        self.tmp = tempfile.mkdtemp(prefix='leaktop-pprof-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # go refuses to run without a writable HOME/GOCACHE (root in CI may have none); no network.
        self.env = dict(os.environ, HOME=self.tmp, GOCACHE=os.path.join(self.tmp, 'gocache'),
                        GOPATH=os.path.join(self.tmp, 'gopath'), GOPROXY='off', GOTOOLCHAIN='local',
                        GOFLAGS='', PPROF_TMPDIR=self.tmp)

    def profile(self, argv, opts=()):
        path = os.path.join(self.tmp, 'heap.pb.gz')
        r = run_leaktop(['-f', 'pprof', '-o', path, '-n', '0'] + list(opts) + ['--'] + list(argv))
        self.assertOk(r)
        self.assertEqual(r.stdout, '', 'with -o, nothing goes to stdout')
        with open(path, 'rb') as f:
            self.assertEqual(f.read(2), b'\x1f\x8b', 'not gzip')
        return Profile(path, self.env)

    def test_basic_top(self):
        """-top: every leak site of basic with its exact outstanding bytes and blocks."""
        prof = self.profile([workload('basic')])
        header, rows, total = prof.top()
        summary = '\n'.join(header) + '\n' + '\n'.join('%s %s' % kv for kv in sorted(rows.items()))
        self.assertEqual({fn: rows.get(fn, (0, 0))[0] for fn in BASIC},
                         {fn: b for fn, (b, _) in BASIC.items()}, summary)
        for fn in BASIC_EMPTY:
            self.assertEqual(rows.get(fn, (0, 0))[0], 0, summary)
        # every outstanding byte is in a listed leaf
        self.assertEqual(total, sum(flat for flat, _ in rows.values()), summary)
        # and basic holds nothing but its leak sites (its libc start-up allocates nothing)
        self.assertEqual(total, sum(b for b, _ in BASIC.values()), summary)
        self.assertIn('File: basic', header, summary)
        self.assertIn('Build ID: %s' % build_id(workload('basic')), header, summary)
        self.assertIn('Type: inuse_space', header, summary)

        _, objs, _ = prof.top('inuse_objects')
        self.assertEqual({fn: objs.get(fn, (0, 0))[0] for fn in BASIC},
                         {fn: n for fn, (_, n) in BASIC.items()})
        # since start: partial_malloc made 10 blocks of 2000, grow_chain 3000 + 6000 + 9000 + 12000
        _, alloc_space, _ = prof.top('alloc_space')
        _, alloc_objects, _ = prof.top('alloc_objects')
        self.assertEqual(alloc_space['partial_malloc'][0], 20000)
        self.assertEqual(alloc_objects['partial_malloc'][0], 10)
        self.assertEqual(alloc_space['grow_chain'][0], 30000)
        self.assertEqual(alloc_objects['grow_chain'][0], 4)

    def test_basic_traces(self):
        """-traces: each leak site as the leaf of its stack, called from main, with its bytes, pid label
        and (with -lines) the source line of the allocation call."""
        prof = self.profile([workload('basic')])
        traces = prof.traces('-sample_index=inuse_space')
        text = '\n'.join('%s %s %s' % (t['value'], t['labels'], t['frames']) for t in traces)
        by_leaf = {}
        for t in traces:
            by_leaf[t['frames'][0]] = by_leaf.get(t['frames'][0], 0) + t['value']
            self.assertGreaterEqual(len(t['frames']), 2, text)
        self.assertEqual({fn: by_leaf.get(fn, 0) for fn in BASIC}, {fn: b for fn, (b, _) in BASIC.items()},
                         text)
        for t in traces:
            if t['frames'][0] in BASIC:
                self.assertEqual(t['frames'][1], 'main', text)
        pids = {t['labels'].get('pid') for t in traces}
        self.assertEqual(len(pids), 1, text)
        self.assertRegex(pids.pop() or '', r'^\d+$', text)

        lines = prof.traces('-sample_index=inuse_space', '-lines')
        for fn in ('leak_malloc', 'grow_chain', 'leak_pvalloc'):
            with self.subTest(site=fn):
                want = '%s tests/workloads/basic.c:%d' % (fn, marker_line('basic.c', 'SITE:' + fn))
                leaves = {t['frames'][0] for t in lines if t['frames'][0].split(' ')[0] == fn}
                self.assertEqual(leaves, {want}, '\n'.join(str(t) for t in lines))

    def test_raw_header(self):
        """Sampling off: period 1 of space/bytes, so pprof's figures are the real bytes."""
        # Frame pointers only: the unwind tables carry stacks on past main into _start, whose
        # crt1.o code has no line information, and the mapping then says [FN] alone (see below).
        prof = self.profile([workload('basic')], ['--unwind', 'fp'])
        raw = prof.run('-raw')
        self.assertIn('PeriodType: space bytes', raw)
        self.assertRegex(raw, r'(?m)^Period: 1$')
        self.assertRegex(raw, r'(?m)^alloc_objects/count alloc_space/bytes inuse_objects/count '
                              r'inuse_space/bytes\[dflt\]\s*$')
        self.assertRegex(raw, r'(?m)^Comment: leaktop \d+\.\d+\.\d+')
        # the executable's mapping carries its build-id and says it was fully symbolized
        m = re.search(r'(?m)^\d+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S+) ([0-9a-f]*)\s*(.*)$', raw)
        self.assertIsNotNone(m, raw)
        self.assertEqual(os.path.realpath(m.group(1)), os.path.realpath(workload('basic')))
        self.assertEqual(m.group(2), build_id(workload('basic')))
        self.assertIn('[FN][FL][LN][IN]', m.group(3))

    def test_raw_header_partly_symbolized(self):
        """With the unwind tables, stacks reach _start (no line information): the executable's
        mapping says functions only, so that pprof does not take its missing lines for known."""
        raw = self.profile([workload('basic')]).run('-raw')
        m = re.search(r'(?m)^\d+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S+) ([0-9a-f]*)\s*(.*)$', raw)
        self.assertIsNotNone(m, raw)
        self.assertEqual(os.path.realpath(m.group(1)), os.path.realpath(workload('basic')))
        self.assertIn('_start', raw)
        self.assertEqual(m.group(3).strip(), '[FN]')

    def test_cxx_names(self):
        """C++: demangled method names as leaves, exact bytes; operator new is never the leaf."""
        prof = self.profile([workload('cxx')])
        _, rows, _ = prof.top()
        self.assertEqual({fn: rows.get(fn, (0, 0))[0] for fn in CXX}, CXX, rows)
        for fn, (flat, _) in rows.items():
            self.assertFalse(fn.startswith('operator new') and flat, 'operator new as a leaf: %s' % rows)


class PprofUsage(LeaktopTestCase):
    """A binary format is refused on a terminal: exit 2 before anything is traced."""

    needs_bpf = False

    def test_refused_on_a_terminal(self):
        master, slave = pty.openpty()
        try:
            p = subprocess.run([CONFIG.leaktop, '-f', 'pprof', '--', 'true'], stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=subprocess.PIPE, text=True, timeout=30)
        finally:
            os.close(slave)
            os.close(master)
        check_stderr_clean(p.stderr)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('--format pprof writes binary data: give -o FILE', p.stderr)

    def test_refused_with_interval(self):
        r = run_leaktop(['-f', 'pprof', '-o', os.devnull, '-i', '1', '--', 'true'], timeout=30)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('one profile per run', r.stderr)


if __name__ == '__main__':
    unittest.main()
