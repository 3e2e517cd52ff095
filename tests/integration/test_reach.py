"""test_reach.py: --reachability: the lost / possibly lost / reachable split per stack equals
valgrind memcheck's on the same workload (run here, in the test), at a command's exit and in a
running process paused for the scan; the process is never left stopped, SIGKILL of leaktop
mid-scan included."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

from services import PG_LEAK_BYTES, Postgres
from harness import CONFIG, LeaktopTestCase, Report, run_command, run_leaktop, workload

# tests/workloads/reach.c, by allocation site: (lost, possibly lost, reachable), each (bytes, blocks)
REACH = {
    'list_node_new': ((480, 10), (0, 0), (0, 0)),
    'cache_table_new': ((0, 0), (0, 0), (64, 1)),
    'cache_entry_new': ((0, 0), (0, 0), (640, 8)),
    'interior_new': ((0, 0), (288, 3), (0, 0)),
    'thread_block_new': ((0, 0), (0, 0), (560, 5)),
    'tail_new': ((80, 2), (0, 0), (0, 0)),
}
KINDS = {'Leak_DefinitelyLost': 0, 'Leak_IndirectlyLost': 0, 'Leak_PossiblyLost': 1,
         'Leak_StillReachable': 2}


def memcheck(argv):
    """Runs ARGV under memcheck (no heuristics: an interior pointer is an interior pointer);
    returns {site: [[bytes, blocks] x 3]} over its loss records, as leaktop splits them."""
    fd, xml = tempfile.mkstemp(prefix='leaktop-vg-', suffix='.xml')
    os.close(fd)
    try:
        subprocess.run(['valgrind', '-q', '--xml=yes', '--xml-file=' + xml, '--leak-check=full',
                        '--show-leak-kinds=all', '--leak-check-heuristics=none'] + list(argv),
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=120, check=True)
        root = ET.parse(xml).getroot()
    finally:
        os.unlink(xml)
    out = {}
    for err in root.iter('error'):
        kind = err.findtext('kind')
        if kind not in KINDS:
            continue
        frames = [f for f in err.find('stack').iter('frame')
                  if 'vgpreload' not in (f.findtext('obj') or '')]
        site = frames[0].findtext('fn') if frames else None
        nbytes = int(err.findtext('xwhat/leakedbytes'))
        # a definitely lost record counts the blocks it holds indirectly too: those have their own
        direct = re.search(r'\(([\d,]+) direct', err.findtext('xwhat/text'))
        if direct:
            nbytes = int(direct.group(1).replace(',', ''))
        split = out.setdefault(site, [[0, 0], [0, 0], [0, 0]])
        split[KINDS[kind]][0] += nbytes
        split[KINDS[kind]][1] += int(err.findtext('xwhat/leakedblocks'))
    return out


def leaktop_split(rep):
    """{site: [[bytes, blocks] x 3]} from a report's reachability fields."""
    out = {}
    for st in rep.stacks:
        if 'lost_bytes' not in st:
            continue
        split = out.setdefault(rep.site_name(st), [[0, 0], [0, 0], [0, 0]])
        for i, k in enumerate(('lost', 'possibly_lost', 'reachable')):
            split[i][0] += st[k + '_bytes']
            split[i][1] += st[k + '_allocs']
    return out


def as_lists(expected):
    return {k: [list(p) for p in v] for k, v in expected.items()}


def state_of(pid):
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()[0]


def tracer_of(pid):
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'TracerPid:\s*(\d+)', f.read()).group(1))


class Reach(LeaktopTestCase):

    def assertSplit(self, got, expected, what):
        sites = {k: got.get(k) for k in expected}
        self.assertEqual(sites, as_lists(expected), '%s: all sites %s' % (what, got))

    @unittest.skipUnless(shutil.which('valgrind'), 'valgrind not installed')
    def test_command_exit_equals_memcheck(self):
        """At the command's exit stop: the list lost, the cache reachable, interior pointers
        possibly, another thread's stack a root; the same split as memcheck's, to the byte."""
        argv = [workload('reach')]
        vg = memcheck(argv)
        self.assertSplit(vg, REACH, 'memcheck')
        r = run_command(argv, ['--reachability'])
        self.assertOk(r)
        got = leaktop_split(r.report)
        self.assertSplit(got, REACH, 'leaktop')
        self.assertEqual({k: got.get(k) for k in vg}, vg, 'leaktop against memcheck, every site')

    def test_text(self):
        r = run_command([workload('reach')], ['--reachability'], fmt='text')
        self.assertOk(r)
        self.assertIn('reachability: 1 scan\n', r.output)
        self.assertIn('lost 480 bytes in 10 blocks, possibly lost 0 in 0, reachable 0 in 0', r.output)
        self.assertNotIn('approximate', r.output)

    def test_no_scan_no_fields(self):
        r = run_command([workload('reach')])
        self.assertOk(r)
        self.assertEqual(leaktop_split(r.report), {})

    def test_pid_paused(self):
        """-p: the threads paused for the scan (every thread's stack from its stack pointer),
        the same split; the process goes on as before."""
        w, t = self.attach_and_run('reach', ['--reachability'])
        run = t.stop()
        self.assertOk(run)
        self.assertSplit(leaktop_split(run.report), REACH, 'leaktop -p')
        self.assertRegex(run.stderr, r'reachability scan of [\d.]+ MiB and \d+ blocks in [\d.]+ ms, '
                         r'paused [\d.]+ ms')
        self.assertEqual(tracer_of(w.pid), 0)
        self.assertNotIn(state_of(w.pid), 'tT')
        w.finish()

    def test_pid_live(self):
        """--reachability=live: no pause, and the reports say the answer is approximate."""
        w, t = self.attach_and_run('reach', ['--reachability=live'])
        run = t.stop()
        self.assertOk(run)
        self.assertSplit(leaktop_split(run.report), REACH, 'leaktop -p, live')
        self.assertIn('not paused: approximate', run.stderr)
        self.assertEqual(tracer_of(w.pid), 0)
        w.finish()

    def test_sigkill_mid_scan(self):
        """leaktop killed while the process is seized for a scan: the kernel lets it go, and it
        runs on (it answers its next line)."""
        w = self.start_workload('reach', args=('512',))
        t = self.start_tracer([w.pid], ['--reachability', '-i', '0.05'], fmt='text')
        t.wait_attached()
        w.trigger()
        w.wait_done()
        # stopped in a ptrace stop of leaktop's: the copy of its 512 MiB is under way
        deadline = time.monotonic() + 30
        while tracer_of(w.pid) != t.pid or state_of(w.pid) != 't':
            self.assertLess(time.monotonic(), deadline, 'no scan stopped the process')
        t.proc.send_signal(signal.SIGKILL)
        t.proc.wait()
        deadline = time.monotonic() + 5
        while tracer_of(w.pid) or state_of(w.pid) in 'tT':
            self.assertLess(time.monotonic(), deadline, 'the process stayed stopped or traced')
            time.sleep(0.01)
        w.finish()

    def test_batch_lost_column(self):
        """--batch (the view's frames as text) with --reachability: a LOST column, from a scan
        before each frame."""
        w = self.start_workload('reach')
        out = tempfile.NamedTemporaryFile(prefix='leaktop-it-', suffix='.frames')
        err = tempfile.NamedTemporaryFile(prefix='leaktop-it-', suffix='.stderr')
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        proc = subprocess.Popen([CONFIG.leaktop, '-v', '--batch', '-i', '0.3', '--reachability',
                                 '-p', str(w.pid)], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        deadline = time.monotonic() + 60
        while b'probes attached' not in open(err.name, 'rb').read():
            self.assertIsNone(proc.poll(), 'leaktop exited')
            self.assertLess(time.monotonic(), deadline, 'leaktop did not attach')
            time.sleep(0.05)
        w.trigger()
        w.wait_done()
        time.sleep(1)  # frames after "done"
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(30), 0, open(err.name).read())
        frame = open(out.name).read().split('\nleaktop ')[-1]
        self.assertRegex(frame, r'BYTES +BLOCKS +LOST +GROWTH')
        rows = {m.group(3): (m.group(1), m.group(2))
                for m in re.finditer(r'(?m)^ +(\d+ B) +\d+ +(\d+ B) .*  (\w+) ', frame)}
        self.assertEqual(rows.get('list_node_new'), ('480 B', '480 B'), frame)
        self.assertEqual(rows.get('cache_entry_new'), ('640 B', '0 B'), frame)
        w.finish()

    @unittest.skipUnless(shutil.which('go'), 'go not installed')
    def test_pprof_values(self):
        """pprof: after a scan, lost_space, possibly_lost_space, reachable_space (and _objects)
        sample values, read back by go tool pprof."""
        from test_pprof import Profile
        tmp = tempfile.mkdtemp(prefix='leaktop-pprof-')
        self.addCleanup(shutil.rmtree, tmp, True)
        env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, 'gocache'),
                   GOPATH=os.path.join(tmp, 'gopath'), GOPROXY='off', GOTOOLCHAIN='local',
                   GOFLAGS='', PPROF_TMPDIR=tmp)
        path = os.path.join(tmp, 'heap.pb.gz')
        r = run_leaktop(['-f', 'pprof', '-o', path, '-n', '0', '--reachability', '--',
                         workload('reach')])
        self.assertOk(r)
        prof = Profile(path, env)
        for index, k in (('lost_space', 0), ('possibly_lost_space', 1), ('reachable_space', 2)):
            _, rows, _ = prof.top(index)
            for site, split in REACH.items():
                self.assertEqual(rows.get(site, (0, 0))[0], split[k][0], '%s %s' % (index, site))
        _, rows, _ = prof.top('lost_objects')
        self.assertEqual(rows['list_node_new'][0], 10)


class ReachPostgres(LeaktopTestCase):

    def test_backend_static_list_reachable(self):
        """A PostgreSQL backend: pg_leak's blocks grow with every call, yet a static list holds
        them all: reachable, not lost. Growth alone would call them a leak."""
        pg = Postgres(self)
        s = pg.session()
        s.query('SELECT pg_leak(0)')  # the extension loaded before the attach
        t = self.start_tracer([s.backend_pid], ['--reachability'])
        t.wait_attached()
        for n in (10, 20, 30):
            s.query('SELECT pg_leak(%d)' % n)
        run = t.stop()
        self.assertOk(run)
        site = run.report.site('leak_per_call')
        self.assertEqual((site.bytes, site.allocs), (60 * PG_LEAK_BYTES, 60), run.report.summary())
        self.assertEqual(leaktop_split(run.report)['leak_per_call'],
                         [[0, 0], [0, 0], [60 * PG_LEAK_BYTES, 60]])
        self.assertEqual(tracer_of(s.backend_pid), 0)
        self.assertEqual(s.query('SELECT pg_leak(1)'), [[str(61 * PG_LEAK_BYTES)]])


class ReachView(LeaktopTestCase):

    def test_view_key_scans(self):
        """The live view: no LOST column until r runs a scan; then each row's lost bytes, and the
        stack screen's split; the process is let go."""
        from test_tui import Terminal, find_child
        if not shutil.which('tmux'):
            self.fail('tmux is not installed (scripts/install-deps installs it)')
        term = Terminal()
        self.addCleanup(term.close)
        w = self.start_workload('reach')
        term.type('%s -i 0.5 -p %d 2>/dev/null; echo "rc=$?"' % (CONFIG.leaktop, w.pid))
        term.wait_for(lambda s: re.search(r'(?m)^leaktop \S+ +pid %d \(reach\)' % w.pid, s),
                      'the view did not open', timeout=60)
        w.trigger()
        w.wait_done()
        s = term.wait_for(lambda s: 'list_node_new' in s, 'no rows')
        self.assertNotIn('LOST', s)
        term.keys('r')
        s = term.wait_for(lambda s: re.search(r'(?m)^ +480 B +10 +480 B .*list_node_new', s),
                          'no LOST column after r')
        self.assertRegex(s, r'(?m)^ +BYTES +BLOCKS +LOST')
        self.assertRegex(s, r'(?m)^ +640 B +8 +0 B .*cache_entry_new')
        self.assertRegex(s, r'(?m)^ +288 B +3 +0 B .*interior_new')
        self.assertEqual(tracer_of(w.pid), 0)
        # the stack screen of the list's row (the third by bytes) has the whole split
        term.keys('Home', 'Down', 'Down', 'Enter')
        s = term.wait_for(lambda s: 'last scan:' in s, 'no split on the stack screen')
        self.assertIn('last scan: lost 480 bytes in 10 blocks, possibly lost 0 in 0, '
                      'reachable 0 in 0', s)
        term.keys('Escape')
        term.keys('q')
        term.wait_for(lambda s: re.search(r'(?m)^rc=0$', s), 'leaktop did not end', timeout=60)
        w.finish()


class ReachChurn(LeaktopTestCase):

    def test_busy_process_nothing_lost(self):
        """Scans of a process that frees and allocates all the time: none of its blocks comes out
        lost or possibly lost (a block freed after the pause, before the allocation table is
        read, is not scanned: its memory may be the allocator's again)."""
        w = self.start_workload('reach_churn')
        t = self.start_tracer([w.pid], ['--reachability', '-i', '0.3'])
        t.wait_attached()
        w.trigger()
        w.wait_done()

        def read_splits():
            with open(t.out) as f:
                text = f.read()
            dec = json.JSONDecoder()
            pos, found = 0, []
            while pos < len(text):
                if text[pos].isspace():
                    pos += 1
                    continue
                try:
                    obj, pos = dec.raw_decode(text, pos)
                except ValueError:
                    break  # a report being written
                split = leaktop_split(Report(obj)).get('churn_block')
                if split:
                    found.append(split)
            return found
        # 4 scans, however long each takes on a loaded machine (the ASan build scans slower)
        deadline = time.monotonic() + 60
        while len(read_splits()) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        t.proc.send_signal(signal.SIGINT)
        self.assertEqual(t.proc.wait(60), 0, t.stderr())
        splits = read_splits()
        self.assertGreaterEqual(len(splits), 4, t.stderr())
        for split in splits:
            self.assertEqual((split[0], split[1]), ([0, 0], [0, 0]), splits)
        # the scans saw blocks (those the thread had not yet replaced when the table was read)
        self.assertGreater(sum(split[2][1] for split in splits), 0, splits)
        w.finish()

    def test_other_tracer(self):
        """A process another tracer holds cannot be paused: the scan says so, the report comes
        without a split, and the other tracer keeps it."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
        w, t = self.attach_and_run('reach', ['--reachability'])
        self.assertEqual(libc.ptrace(PTRACE_SEIZE, w.pid, None, None), 0, ctypes.get_errno())
        try:
            run = t.stop()
            self.assertOk(run)
            self.assertIn('pid %d: reachability scan failed: Operation not permitted (another '
                          'tracer' % w.pid, run.stderr)
            self.assertEqual(leaktop_split(run.report), {})
            self.assertEqual(run.report.site('list_node_new').bytes, 480)
            self.assertEqual(tracer_of(w.pid), os.getpid())
        finally:
            libc.ptrace(PTRACE_INTERRUPT, w.pid, None, None)
            os.waitpid(w.pid, 0x40000000)  # __WALL
            libc.ptrace(PTRACE_DETACH, w.pid, None, None)
        self.assertEqual(tracer_of(w.pid), 0)
        w.finish()
