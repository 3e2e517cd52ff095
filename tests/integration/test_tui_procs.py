"""test_tui_procs.py: the live view and --batch over several processes: a PID column beside each
row, and the view's merged mode (key m), one row per site with the figures of every process.

The workload is simple, twice: two processes of one PIE binary, loaded at different addresses
(ASLR), each holding the same figures per site once triggered:
    simple_calloc 14000 B in 2 blocks, simple_realloc 9000 B in 1, simple_malloc 6000 B in 4,
    simple_memalign 2500 B in 1.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

from harness import (CONFIG, LeaktopTestCase, _tmpfile, check_stderr_clean, marker_line, read_text,
                     tail)
from test_tui import Terminal, find_child, human, split_frames

SITES = {'simple_calloc': (14000, 2), 'simple_realloc': (9000, 1), 'simple_malloc': (6000, 4),
         'simple_memalign': (2500, 1)}
TOTAL_BYTES = sum(b for b, _ in SITES.values())
TOTAL_BLOCKS = sum(n for _, n in SITES.values())
# Rows led by a PID or PROCS column: the number, then the columns of the single-process view.
LEAD_ROW_RE = re.compile(r'^ *(?P<lead>\d+) +(?P<bytes>-?[\d.]+ [KMGTPE]?i?B) +(?P<blocks>-?\d+) +'
                         r'(?P<growth>\S+(?: \S+)?) +(?P<trend>LEAK\?|grow|flat|shrink|-) +'
                         r'(?P<age>\S+) +(?P<site>\S.*)$')


def lead_rows(text):
    """[(lead, function, bytes, blocks)] of the rows led by a PID or PROCS column, in order."""
    rows = []
    for line in text.splitlines():
        m = LEAD_ROW_RE.match(line.rstrip())
        if m:
            rows.append((int(m['lead']), m['site'].split(' ')[0], m['bytes'], m['blocks']))
    return rows


def per_pid_rows(pids):
    """The rows each pid's sites make: {(pid, function): (bytes, blocks)} as the view prints them."""
    return {(pid, fn): (human(b), str(n)) for pid in pids for fn, (b, n) in SITES.items()}


def exe_base(pid):
    """Where pid maps the first page of its executable."""
    exe = os.path.realpath('/proc/%d/exe' % pid)
    with open('/proc/%d/maps' % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip() == exe:
                return int(parts[0].split('-')[0], 16)
    raise AssertionError('pid %d does not map %s' % (pid, exe))


class TwoProcesses(LeaktopTestCase):

    def start_two(self):
        ws = [self.start_workload('simple'), self.start_workload('simple')]
        # Merging must hold across processes whose raw addresses differ.
        self.assertNotEqual(exe_base(ws[0].pid), exe_base(ws[1].pid),
                            'both processes map simple at one address (ASLR off?)')
        return ws, [w.pid for w in ws]

    def finish_all(self, ws):
        for w in ws:
            rc, last = w.finish()
            self.assertEqual((rc, last), (0, 'bye sum=729300'))


class BatchProcs(TwoProcesses):

    def test_batch_pid_column(self):
        """--batch -p P1,P2: a PID column, each process's rows with its own exact figures."""
        ws, pids = self.start_two()
        err = _tmpfile('.stderr')
        self.addCleanup(os.unlink, err)
        out = _tmpfile('.frames')
        self.addCleanup(os.unlink, out)
        with open(out, 'w') as outf, open(err, 'w') as errf:
            proc = subprocess.Popen([CONFIG.leaktop, '-v', '--batch', '-i', '0.5', '-p',
                                     '%d,%d' % tuple(pids)],
                                    stdin=subprocess.DEVNULL, stdout=outf, stderr=errf)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        deadline = time.monotonic() + 60
        while 'probes attached' not in read_text(err):
            self.assertIsNone(proc.poll(), 'leaktop exited: %s' % tail(read_text(err)))
            self.assertLess(time.monotonic(), deadline, 'leaktop did not attach')
            time.sleep(0.05)
        for w in ws:
            w.trigger()
        for w in ws:
            w.wait_done()
        time.sleep(1.6)  # three frames after both are done
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(30), 0, tail(read_text(err)))
        check_stderr_clean(read_text(err))
        frames = split_frames(read_text(out))
        self.assertGreaterEqual(len(frames), 3, read_text(out))

        f = frames[-1]
        self.assertRegex(f, r'(?m)^leaktop \S+  pids %d \(simple\), %d \(simple\)  ' % tuple(pids))
        self.assertRegex(f, r'(?m)^ +PID +BYTES +BLOCKS +GROWTH +TREND +OLDEST +SITE$')
        self.assertIn('heap   %s (%d bytes) in %d blocks' % (human(2 * TOTAL_BYTES), 2 * TOTAL_BYTES,
                                                             2 * TOTAL_BLOCKS), f)
        # More than one process: the processes line sums the live ones' RSS beside what leaktop
        # accounts for in them.
        self.assertRegex(f, r'(?m)^procs  2 traced \(2 given, 0 followed\), 0 exited; rss [\d.]+ '
                            r'[KM]iB \(anon [\d.]+ [KM]iB\) in 2 live, leaktop accounts for %s$'
                         % re.escape(human(2 * TOTAL_BYTES)))
        rows = lead_rows(f)
        got = {(pid, fn): (b, n) for pid, fn, b, n in rows if fn in SITES}
        self.assertEqual(got, per_pid_rows(pids), f)
        # One row per stack: each site once per process, nothing else holds memory.
        self.assertEqual(len([r for r in rows if r[2] != '0 B']), 2 * len(SITES), f)
        self.assertEqual({r[0] for r in rows}, set(pids), f)
        self.assertIn('simple.c:%d' % marker_line('simple.c', 'SITE:simple_calloc'), f)
        self.finish_all(ws)


class ViewProcs(TwoProcesses):

    def setUp(self):
        super().setUp()
        if not shutil.which('tmux'):
            self.fail('tmux is not installed (scripts/install-deps installs it)')
        self.term = Terminal()
        self.addCleanup(self.term.close)

    def wait_rows(self, pred, what, timeout=40):
        return self.term.wait_for(lambda s: pred(lead_rows(s), s), what, timeout)

    def test_merge_key(self):
        """Two processes in the view: PID rows; m merges each site into one row with both processes'
        figures summed and PROCS 2; Enter lists both processes; / filters merged rows; m again splits
        them; q restores the terminal."""
        ws, pids = self.start_two()
        err = _tmpfile('.stderr')
        self.addCleanup(os.unlink, err)
        self.term.type('%s -i 0.5 -p %d,%d 2>%s; echo "rc=$?"' % (
            shlex.quote(CONFIG.leaktop), pids[0], pids[1], shlex.quote(err)))
        self.term.wait_for(lambda s: re.search(r'(?m)^leaktop \S+  pids %d \(simple\), %d \(simple\)'
                                               % tuple(pids), s), 'the view did not open', 60)
        self.assertIsNotNone(find_child(self.term.pane_pid, CONFIG.leaktop))
        for w in ws:
            w.trigger()
        for w in ws:
            w.wait_done()

        # One row per stack, with the PID column.
        want = per_pid_rows(pids)
        s = self.wait_rows(lambda r, s: {(p, fn): (b, n) for p, fn, b, n in r if fn in SITES} == want,
                           'no PID rows with the figures of both processes')
        self.assertRegex(s, r'(?m)^ +PID +BYTES +BLOCKS +GROWTH +TREND +OLDEST +SITE$')

        # m: one row per site, both processes' figures summed.
        self.term.keys('m')
        merged = {(2, fn): (human(2 * b), str(2 * n)) for fn, (b, n) in SITES.items()}
        s = self.wait_rows(lambda r, s: {(p, fn): (b, n) for p, fn, b, n in r if fn in SITES} == merged
                           and 'sites merged' in s, 'no merged rows')
        self.assertRegex(s, r'(?m)^ +PROCS +BYTES +BLOCKS +GROWTH +TREND +OLDEST +SITE$')
        self.assertNotRegex(s, r'(?m)^ +PID ')
        fns = [fn for _, fn, b, _ in lead_rows(s) if fn in SITES]
        self.assertEqual(sorted(fns), sorted(SITES), 'a site is not on one row:\n' + s)
        self.assertEqual(fns[0], 'simple_calloc', s)  # the most bytes: 28000

        # Enter: the merged row's stack, its sums, and each process's own stack.
        self.term.keys('Home', 'Enter')
        s = self.term.wait_for(lambda s: 'stacks merged' in s, 'no stack view of the merged row')
        b, n = SITES['simple_calloc']
        self.assertIn('%s (%d bytes) in %d blocks, 2 processes' % (human(2 * b), 2 * b, 2 * n), s)
        self.assertRegex(s, r'(?m)^#0 +simple_calloc\+0x[0-9a-f]+ \(simple\) \S*simple\.c:%d$' %
                         marker_line('simple.c', 'SITE:simple_calloc'))
        ids = []
        for pid in pids:
            m = re.search(r'(?m)^  pid %d +%s \(%d bytes\) in %d blocks, .*; stack (0x[0-9a-f]+)$' % (
                pid, re.escape(human(b)), b, n), s)
            self.assertIsNotNone(m, 'pid %d is not listed:\n%s' % (pid, s))
            ids.append(m.group(1))
        self.assertNotEqual(ids[0], ids[1], 'one stack id for two address spaces')
        self.term.keys('Escape')
        self.term.wait_for(lambda s: re.search(r'(?m)^ +PROCS +BYTES', s), 'Esc did not go back')

        # /: the filter keeps working on merged rows.
        self.term.keys('/')
        self.term.wait_for(lambda s: 'filter: _' in s, 'no filter prompt')
        self.term.keys('-l', 'simple_malloc')
        self.term.keys('Enter')
        b, n = SITES['simple_malloc']
        s = self.wait_rows(lambda r, s: [x for x in r if x[2] != '0 B'] ==
                           [(2, 'simple_malloc', human(2 * b), str(2 * n))],
                           'the filter did not apply to merged rows')
        self.assertIn('2 match the filter, 1 row of merged sites', s)

        # m again: one row per stack, the filter still on.
        self.term.keys('m')
        s = self.wait_rows(lambda r, s: sorted(x for x in r if x[2] != '0 B') ==
                           sorted((p, 'simple_malloc', human(b), str(n)) for p in pids),
                           'm did not split the merged row')
        self.assertNotIn('sites merged', s)

        self.term.keys('q')
        s = self.term.wait_for(lambda s: re.search(r'(?m)^rc=\d+$', s), 'leaktop did not end', 60)
        self.assertRegex(s, r'(?m)^rc=0$')
        self.assertFalse(self.term.alternate_on())
        check_stderr_clean(read_text(err))
        self.assertRegex(read_text(err), r'leaktop \S+: pids %d, %d traced for' % tuple(pids))
        self.finish_all(ws)
