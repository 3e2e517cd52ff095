"""test_tui.py: the live view, driven in a real pseudo-terminal (tmux send-keys / capture-pane), and
--batch, whose frames are the same view as text.

The workload is tui_mix: a 2 MiB cache filled once, a 64-byte leak per request, and churn that frees
everything it allocates. The view must put the slow leak first by growth with the suspect mark,
never mark the cache, list the churn site with nothing outstanding, show the leak's callers on
Enter, filter rows, and restore the terminal however it ends: q, Ctrl-C, SIGTERM, the traced
process exiting, a fatal error, leaktop itself crashing.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import (CONFIG, LeaktopTestCase, _tmpfile, check_stderr_clean, marker_line, read_text,
                     tail, workload)

CACHE_BYTES = 512 * 4096
LEAK_BYTES = 64
HEADER_RE = re.compile(r'^leaktop \S+ +pids? ', re.M)
TITLE_RE = re.compile(r'^ +BYTES +BLOCKS +GROWTH +TREND +OLDEST +SITE$')
ROW_RE = re.compile(r'^ *(?P<bytes>-?[\d.]+ [KMGTPE]?i?B) +(?P<blocks>-?\d+) +(?P<growth>\S+(?: \S+)?) +'
                    r'(?P<trend>LEAK\?|grow|flat|shrink|-) +(?P<age>\S+) +(?P<site>\S.*)$')


def human(n):
    """The view's size format (fmt_bytes in src/base/fmt.c): '512 B', '1.5 KiB', '2.0 MiB'."""
    d = abs(float(n))
    sign = '-' if n < 0 else ''
    if d < 1023.95:
        return '%s%d B' % (sign, d) if d == int(d) else '%s%.1f B' % (sign, d)
    units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
    u = 0
    while d >= 1023.95 and u + 1 < len(units):
        d /= 1024
        u += 1
    return '%s%.1f %s' % (sign, d, units[u])


def parse_rows(text):
    """{site function: row dict} of the rows on a screen or in a frame (the first row of each site)."""
    rows = {}
    order = []
    for line in text.splitlines():
        m = ROW_RE.match(line.rstrip())
        if not m:
            continue
        row = m.groupdict()
        row['function'] = row['site'].split(' ')[0]
        order.append(row['function'])
        rows.setdefault(row['function'], row)
    return rows, order


def split_frames(text):
    """--batch output -> list of frames (each from its 'leaktop X.Y.Z  pid' line on)."""
    starts = [m.start() for m in HEADER_RE.finditer(text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


class Batch(LeaktopTestCase):

    def run_batch(self, pid, args, err_path):
        out = _tmpfile('.frames')
        self.addCleanup(os.unlink, out)
        with open(out, 'w') as outf, open(err_path, 'w') as errf:
            proc = subprocess.Popen([CONFIG.leaktop, '-v', '--batch'] + list(args) + ['-p', str(pid)],
                                    stdin=subprocess.DEVNULL, stdout=outf, stderr=errf)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc, out

    def wait_attached(self, proc, err_path):
        deadline = time.monotonic() + 60
        while 'probes attached' not in read_text(err_path):
            self.assertIsNone(proc.poll(), 'leaktop exited: %s' % tail(read_text(err_path)))
            self.assertLess(time.monotonic(), deadline, 'leaktop did not attach')
            time.sleep(0.05)

    def test_batch_frames_exact_figures(self):
        """Frames after the workload's phase show exact blocks, bytes and totals; the leak was marked
        while it grew, the cache never; the churn site is listed with nothing outstanding."""
        seconds, rate = 4, 50
        requests = seconds * rate
        w = self.start_workload('tui_mix', [seconds, rate])
        err = _tmpfile('.stderr')
        self.addCleanup(os.unlink, err)
        proc, out = self.run_batch(w.pid, ['-i', '0.5'], err)
        self.wait_attached(proc, err)
        w.trigger()
        w.wait_done(timeout=60)
        done_at = time.monotonic()
        while time.monotonic() < done_at + 2.2:  # at least four frames after "done"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(30), 0, tail(read_text(err)))
        check_stderr_clean(read_text(err))
        frames = split_frames(read_text(out))
        self.assertGreaterEqual(len(frames), 8, read_text(out))

        leak_bytes = requests * LEAK_BYTES
        after = []  # frames taken once every request was made
        marked_leak = False
        cache_trends = []
        for f in frames:
            rows, _ = parse_rows(f)
            self.assertTrue(any(TITLE_RE.match(l) for l in f.splitlines()), f)
            if 'cache_fill' in rows:
                cache_trends.append(rows['cache_fill']['trend'])
            if 'leak_slow' in rows:
                marked_leak |= rows['leak_slow']['trend'] == 'LEAK?'
                if int(rows['leak_slow']['blocks']) == requests:
                    after.append((f, rows))
        self.assertTrue(marked_leak, 'the leak never carried the mark:\n' + '\n'.join(frames))
        self.assertGreaterEqual(len(after), 3, '\n'.join(frames))
        # The cache, filled at the first request: no trend at its first sample, then growing while
        # the fill is inside the window (10 samples, 4.5 s), then flat, never marked. The last frame
        # comes at least 6.2 s after the fill (4 s of requests, 2.2 s after them): flat by then.
        shape = re.fullmatch(r'-?(grow)*(flat)+', ''.join(cache_trends))
        self.assertIsNotNone(shape, 'the cache\'s trends, frame by frame: %s' % cache_trends)
        last_rows, _ = parse_rows(frames[-1])
        self.assertEqual((last_rows['cache_fill']['trend'], last_rows['cache_fill']['growth']),
                         ('flat', '0 B/s'), frames[-1])

        total = CACHE_BYTES + leak_bytes
        for f, rows in after:
            self.assertEqual((rows['cache_fill']['bytes'], rows['cache_fill']['blocks']),
                             (human(CACHE_BYTES), '512'), f)
            self.assertEqual((rows['leak_slow']['bytes'], rows['leak_slow']['blocks']),
                             (human(leak_bytes), str(requests)), f)
            self.assertIn('heap   %s (%d bytes) in %d blocks' % (human(total), total, 512 + requests), f)
            self.assertRegex(f, r'(?m)^losses dropped_allocs 0, lost_stacks 0, stack_table_full 0, '
                                r'thread_state_full 0, missed_returns 0, '
                                r'unwind_no_mapping 0, unwind_no_table 0, unwind_no_cfi 0, '
                                r'unwind_stop_row 0, unwind_read_failed 0, truncated_stacks 0, '
                                r'unwind_not_ready 0, lost_events 0; pre-attach frees 0$')
            self.assertRegex(f, r'(?m)^rss    pid %d [\d.]+ [KMG]iB \(anon [\d.]+ [KMG]iB\), '
                                r'leaktop accounts for %s$' % (w.pid, re.escape(human(total))))
            self.assertRegex(f, r'(?m)^cost   BPF [\d.]+ ms/s')
            if 'churn_alloc' in rows:
                self.assertEqual((rows['churn_alloc']['bytes'], rows['churn_alloc']['blocks']),
                                 ('0 B', '0'), f)
            self.assertIn('tui_mix.c:%d' % marker_line('tui_mix.c', 'SITE:leak_slow'),
                          rows['leak_slow']['site'])
        # The window still holds the churn of the last requests in the first frame after them.
        self.assertIn('churn_alloc', after[0][1], after[0][0])
        # Every frame lists the rows in the order of the bytes they hold.
        _, order = parse_rows(after[-1][0])
        self.assertEqual(order[:2], ['cache_fill', 'leak_slow'], after[-1][0])
        rc, _ = w.finish()
        self.assertEqual(rc, 0)

    def test_iterations(self):
        """--batch --iterations 3: exactly three frames, then exit 0, with no report on stdout."""
        w = self.start_workload('tui_mix', [60, 20])
        w.trigger()
        err = _tmpfile('.stderr')
        self.addCleanup(os.unlink, err)
        report = _tmpfile('.txt')
        self.addCleanup(os.unlink, report)
        start = time.monotonic()
        proc, out = self.run_batch(w.pid, ['-i', '0.3', '--iterations', '3', '-o', report], err)
        self.assertEqual(proc.wait(60), 0, tail(read_text(err)))
        check_stderr_clean(read_text(err))
        frames = split_frames(read_text(out))
        self.assertEqual(len(frames), 3, read_text(out))
        self.assertNotIn('since attach', read_text(out), 'a report was written to stdout')
        self.assertRegex(read_text(report), r'^leaktop \S+: pid %d traced for' % w.pid)
        self.assertLess(time.monotonic() - start, 30)
        for f in frames:
            self.assertRegex(f, r'refresh 0\.3s')

    def test_bpf_cost_measured_one_interval_in_four(self):
        """The kernel's BPF statistics cost every program run two clock reads in the traced
        process, so they are on for one refresh interval in four: the cost line keeps the figure
        of the last interval measured, and changes at frames 1, 5, 9 and 13 only."""
        w = self.start_workload('tui_mix', [5, 200])
        err = _tmpfile('.stderr')
        self.addCleanup(os.unlink, err)
        proc, out = self.run_batch(w.pid, ['-i', '0.3', '--iterations', '13'], err)
        self.wait_attached(proc, err)
        w.trigger()
        self.assertEqual(proc.wait(60), 0, tail(read_text(err)))
        check_stderr_clean(read_text(err))
        frames = split_frames(read_text(out))
        self.assertEqual(len(frames), 13, read_text(out))
        costs = []
        for f in frames:
            m = re.search(r'(?m)^cost   (BPF [\d.]+ ms/s \([\d.]+% of a CPU\) in \d+ runs/s'
                          r'(, \d+ ns/run)?);', f)
            self.assertIsNotNone(m, f)
            costs.append(m.group(1))
        for first in (0, 4, 8):
            self.assertEqual(costs[first + 1:first + 4], [costs[first]] * 3, costs)
        # The requests run from the trigger on, 200 a second of 201 blocks each: 80,000 program
        # runs a second or more, and two measured intervals never give the same figures.
        measured = [costs[4], costs[8], costs[12]]
        self.assertEqual(len(set(measured)), 3, costs)
        for c in measured:
            self.assertGreater(int(re.search(r'in (\d+) runs/s', c).group(1)), 40000, costs)
        w.wait_done(timeout=60)
        rc, _ = w.finish()
        self.assertEqual(rc, 0)


def find_child(ppid, exe):
    """The pid of a child of PPID running EXE, or None."""
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                stat = f.read()
            if int(stat.rsplit(')', 1)[1].split()[1]) != ppid:
                continue
            if os.path.realpath('/proc/%s/exe' % d) == os.path.realpath(exe):
                return int(d)
        except (OSError, ValueError, IndexError):
            continue
    return None


class Terminal:
    """A bash in a tmux pane of its own tmux server; keys in, screen text out."""

    def __init__(self, cols=120, lines=40):
        self.socket = 'leaktop-it-%d-%d' % (os.getpid(), int(time.monotonic() * 1000))
        self.dir = tempfile.mkdtemp(prefix='leaktop-it-tmux-')
        self.tmux(['new-session', '-d', '-s', 'it', '-x', str(cols), '-y', str(lines),
                   'env PS1="prompt$ " TERM=screen bash --norc --noprofile'])
        self.pane_pid = int(self.tmux(['display', '-p', '-t', 'it', '#{pane_pid}']).strip())
        self.wait_for(lambda s: 'prompt$' in s, 'no shell prompt')

    def tmux(self, args):
        p = subprocess.run(['tmux', '-L', self.socket] + args, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError('tmux %s: %s' % (' '.join(args), p.stderr))
        return p.stdout

    def keys(self, *keys):
        self.tmux(['send-keys', '-t', 'it'] + list(keys))

    def type(self, line):
        self.tmux(['send-keys', '-t', 'it', '-l', line])
        self.keys('Enter')

    def screen(self):
        return self.tmux(['capture-pane', '-p', '-t', 'it'])

    def history(self):
        """The screen with every line that scrolled off it."""
        return self.tmux(['capture-pane', '-p', '-S', '-', '-t', 'it'])

    def alternate_on(self):
        return self.tmux(['display', '-p', '-t', 'it', '#{alternate_on}']).strip() == '1'

    def resize(self, cols, lines):
        self.tmux(['resize-window', '-t', 'it', '-x', str(cols), '-y', str(lines)])

    def wait_for(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError('%s within %d s; the screen:\n%s' % (what, timeout, s))
            time.sleep(0.2)

    def close(self):
        subprocess.run(['tmux', '-L', self.socket, 'kill-server'], capture_output=True, timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


class LiveView(LeaktopTestCase):

    def setUp(self):
        super().setUp()
        if not shutil.which('tmux'):
            self.fail('tmux is not installed (scripts/install-deps installs it)')
        self.term = Terminal()
        self.addCleanup(self.term.close)

    def start_view(self, pid, opts=('-i', '0.5'), env='', stderr_file=True):
        """Types `leaktop OPTS -p PID [2>FILE]; echo rc=$?` at the prompt; waits for the view."""
        self.err = _tmpfile('.stderr') if stderr_file else None
        if self.err:
            self.addCleanup(os.unlink, self.err)
        cmd = '%s%s %s -p %d%s; echo "rc=$?"' % (
            env, shlex.quote(CONFIG.leaktop), ' '.join(opts), pid,
            ' 2>%s' % shlex.quote(self.err) if self.err else '')
        self.term.type(cmd)
        s = self.term.wait_for(lambda s: re.search(r'^leaktop \S+ +pid %d \(tui_mix\)' % pid, s, re.M),
                               'the view did not open', timeout=60)
        self.assertTrue(self.term.alternate_on(), 'the view is not on the alternate screen')
        self.leaktop_pid = find_child(self.term.pane_pid, CONFIG.leaktop)
        return s

    def assertTerminalRestored(self, rc):
        """The view has ended with exit RC; the shell works as before, nothing of the view is left."""
        s = self.term.wait_for(lambda s: re.search(r'(?m)^rc=\d+$', s), 'leaktop did not end', timeout=60)
        self.assertRegex(s, r'(?m)^rc=%d$' % rc)
        self.assertFalse(self.term.alternate_on(), 'the alternate screen is still on')
        self.assertNotRegex(s, r'(?m)^ +BYTES +BLOCKS', 'the view is still on screen:\n' + s)
        stty = _tmpfile('.stty')
        self.addCleanup(os.unlink, stty)
        self.term.type('stty -a > %s; echo "ok-$((40 + 2))"' % stty)
        self.term.wait_for(lambda s: 'ok-42' in s, 'the shell did not answer')
        flags = read_text(stty).split()
        for flag in ('icanon', 'echo', 'icrnl', 'opost'):
            self.assertIn(flag, flags, 'terminal left with -%s:\n%s' % (flag, read_text(stty)))
        return s

    def assertRestored(self, rc=0, report=True):
        """assertTerminalRestored, with a clean stderr and (report) the final report in it."""
        s = self.assertTerminalRestored(rc)
        err = read_text(self.err) if self.err else s
        check_stderr_clean(err)
        if report:
            self.assertRegex(err, r'leaktop \S+: pid \d+ traced for', 'no final report:\n' + err)
        return s, err

    def wait_rows(self, pred, what, timeout=40):
        return self.term.wait_for(lambda s: pred(parse_rows(s)[0], parse_rows(s)[1], s), what, timeout)

    def test_view_keys_and_quit(self):
        """Growth sort puts the slow leak first, marked; the cache is unmarked; churn shows 0; Enter shows
        the leak's callers; / filters; p pauses; + slows the refresh; h helps; q restores the terminal."""
        w = self.start_workload('tui_mix', [600])
        self.start_view(w.pid)
        w.trigger()

        # Sorted by bytes (the default) the cache comes first and the small leak is marked.
        self.wait_rows(lambda r, o, s: 'leak_slow' in r and r['leak_slow']['trend'] == 'LEAK?'
                       and o[:1] == ['cache_fill'], 'the leak carries no mark')
        self.term.keys('g')
        # Once the cache's fill has left the growth window, the leak leads.
        s = self.wait_rows(lambda r, o, s: o[:1] == ['leak_slow'] and 'churn_alloc' in r
                           and r['churn_alloc']['bytes'] == '0 B', 'the leak is not first by growth')
        rows, order = parse_rows(s)
        self.assertIn('sort growth', s)
        self.assertEqual(rows['leak_slow']['trend'], 'LEAK?', s)
        # Led by a 3200 B/s leak, the 2 MiB cache grows at 0 (its fill has left the window).
        self.assertEqual((rows['cache_fill']['trend'], rows['cache_fill']['growth']), ('flat', '0 B/s'), s)
        self.assertEqual(rows['cache_fill']['blocks'], '512', s)
        self.assertEqual(rows['churn_alloc']['blocks'], '0', s)
        self.assertRegex(rows['leak_slow']['growth'], r'^\+[\d.]+ (KiB|B)/s$')
        self.assertIn('tui_mix.c:%d' % marker_line('tui_mix.c', 'SITE:leak_slow'), rows['leak_slow']['site'])

        # Enter: the full stack of the selected (first) row, with its callers and lines.
        self.term.keys('Home', 'Enter')
        s = self.term.wait_for(lambda s: 'stack of the selected row' in s, 'no stack view')
        self.assertRegex(s, r'(?m)^#0 +leak_slow\+0x[0-9a-f]+ \(tui_mix\) \S*tui_mix\.c:%d$' %
                         marker_line('tui_mix.c', 'SITE:leak_slow'))
        self.assertRegex(s, r'(?m)^#1 +handle_request\+0x[0-9a-f]+ \(tui_mix\) \S*tui_mix\.c:\d+$')
        self.assertRegex(s, r'(?m)^#2 +main\+0x[0-9a-f]+ \(tui_mix\)')
        self.assertNotIn('cache_fill', s)
        self.term.keys('Escape')
        self.term.wait_for(lambda s: re.search(r'(?m)^ +BYTES +BLOCKS', s), 'Esc did not go back')

        # /: only the rows whose stack has a matching function or module.
        self.term.keys('/')
        self.term.wait_for(lambda s: 'filter: _' in s, 'no filter prompt')
        self.term.keys('-l', 'leak')
        self.term.keys('Enter')
        s = self.wait_rows(lambda r, o, s: 'filter "leak"' in s and o == ['leak_slow'],
                           'the filter did not apply')
        self.assertIn('1 match the filter', s)
        self.term.keys('Escape')
        self.wait_rows(lambda r, o, s: {'leak_slow', 'cache_fill', 'churn_alloc'} <= set(r),
                       'Esc did not clear the filter')

        # p: the display stops while tracing goes on; p again resumes.
        self.term.keys('p')
        s1 = self.term.wait_for(lambda s: 'PAUSED' in s, 'no PAUSED')
        traced = re.search(r'traced (\S+)', s1).group(1)
        time.sleep(1.5)
        self.assertIn('traced %s ' % traced, self.term.screen())
        self.term.keys('p')
        self.term.wait_for(lambda s: 'PAUSED' not in s and 'traced %s ' % traced not in s, 'no resume')

        # +: a longer refresh interval.
        self.term.keys('+')
        self.term.wait_for(lambda s: 'refresh 1.0s' in s, 'the refresh interval did not change')

        # h: help, any key closes it.
        self.term.keys('h')
        self.term.wait_for(lambda s: 'leaktop live view: keys' in s, 'no help')
        self.term.keys('x')
        self.term.wait_for(lambda s: re.search(r'(?m)^ +BYTES +BLOCKS', s), 'the help did not close')

        self.term.keys('q')
        _, err = self.assertRestored(0)
        self.assertIn('leak_slow', err)
        self.assertTrue(w.alive(), 'the traced process died')

    def test_resize_narrow_and_short(self):
        """Resizes to narrow and short windows, and back: the view adapts, never crashes, and q works."""
        w = self.start_workload('tui_mix', [600])
        self.start_view(w.pid)
        w.trigger()
        self.wait_rows(lambda r, o, s: 'leak_slow' in r, 'no rows')
        self.term.resize(50, 8)
        s = self.term.wait_for(lambda s: re.search(r'(?m)^ +BYTES +GROWTH +TREND +SITE', s)
                               and max(len(l) for l in s.splitlines()) <= 50, 'no narrow layout')
        self.assertIn('q quit', s)
        self.assertRegex(s, r'(?m)^ +[\d.]+ [KM]?i?B +\S+ +\S+ +(LEAK\?|grow|flat)  ')
        self.term.resize(30, 5)
        self.term.wait_for(lambda s: re.search(r'(?m)^ +BYTES +TREND +SITE', s), 'no narrowest layout')
        self.term.resize(12, 2)
        self.term.wait_for(lambda s: 'leaktop: en' in s, 'no message for a tiny window')
        self.term.resize(120, 40)
        self.wait_rows(lambda r, o, s: {'leak_slow', 'cache_fill'} <= set(r) and 'OLDEST' in s,
                       'the full view did not come back')
        self.term.keys('q')
        self.assertRestored(0)

    def test_ctrl_c_restores(self):
        """Ctrl-C: the view ends, the terminal is restored, the final report shows on the terminal."""
        w = self.start_workload('tui_mix', [600])
        self.start_view(w.pid, stderr_file=False)
        w.trigger()
        self.term.keys('C-c')
        s, _ = self.assertRestored(0)
        self.assertRegex(s, r'(?m)^leaktop \S+: pid %d traced for' % w.pid)

    def test_sigterm_restores(self):
        """SIGTERM: the view ends, the terminal is restored; with -o PATH the final report goes there."""
        w = self.start_workload('tui_mix', [600])
        report = _tmpfile('.txt')
        self.addCleanup(os.unlink, report)
        self.start_view(w.pid, opts=('-i', '0.5', '-o', shlex.quote(report)))
        self.assertIsNotNone(self.leaktop_pid, 'leaktop is not a child of the shell')
        w.trigger()
        time.sleep(1)
        os.kill(self.leaktop_pid, signal.SIGTERM)
        _, err = self.assertRestored(0, report=False)
        self.assertNotIn('traced for', err)
        self.assertRegex(read_text(report), r'^leaktop \S+: pid %d traced for' % w.pid)
        self.assertIn('leak_slow', read_text(report))
        self.assertTrue(w.alive())

    def test_traced_process_exit_restores(self):
        w = self.start_workload('tui_mix', [1])
        self.start_view(w.pid)
        w.trigger()
        w.wait_done()
        rc, _ = w.finish()
        self.assertEqual(rc, 0)
        self.assertRestored(0)

    def test_fatal_error_restores(self):
        """A BPF map read that fails mid-view (injected with libltfault.so): exit 1, the terminal is
        restored, and the error logged while the view held the screen is shown after it."""
        w = self.start_workload('tui_mix', [600])
        env = 'LD_PRELOAD=%s LT_FAULT_AFTER_S=2 ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 ' % (
            shlex.quote(workload('libltfault.so')))
        self.start_view(w.pid, env=env, stderr_file=False)
        s, _ = self.assertRestored(1, report=False)
        self.assertIn('cannot read the BPF maps', s)
        self.assertTrue(w.alive())


    def crash_view(self, kind):
        """The view of tui_mix, crashed by libltfault (LT_FAULT_CRASH=KIND) inside a libbpf call
        after 2 s, its stderr on the terminal: returns (the terminal's whole text, asan)."""
        w = self.start_workload('tui_mix', [600])
        env = ('LD_PRELOAD=%s LT_FAULT_AFTER_S=2 LT_FAULT_CRASH=%s '
               'ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 ' % (
                   shlex.quote(workload('libltfault.so')), kind))
        self.start_view(w.pid, env=env, stderr_file=False)
        # A sanitizer build reports and exits 1; otherwise the signal's own status (128 + signal).
        asan = 'libasan' in subprocess.run(['ldd', CONFIG.leaktop], capture_output=True,
                                           text=True).stdout
        signo = signal.SIGSEGV if kind == 'segv' else signal.SIGABRT
        self.assertTerminalRestored(1 if asan else 128 + signo)
        self.assertTrue(w.alive(), 'the traced process died')
        return self.term.history(), asan

    def test_crash_restores(self):
        """leaktop itself crashes in the view (a SIGSEGV inside a libbpf call): the terminal is
        restored, the crash is reported with where it happened, and the status is the signal's."""
        text, asan = self.crash_view('segv')
        self.assertIn('leaktop crashed on signal 11 (SIGSEGV); the terminal is restored.', text)
        if asan:
            self.assertIn('ERROR: AddressSanitizer: SEGV on unknown address', text)
        else:
            self.assertIn('backtrace:', text)
        self.assertRegex(text, r'bpf_map_lookup_(batch|elem)')

    def test_abort_restores(self):
        """A double free in the view: glibc aborts (SIGABRT), or the sanitizer reports it and exits;
        either way the terminal is restored and the report shown after it."""
        text, asan = self.crash_view('double_free')
        if asan:
            self.assertIn('ERROR: AddressSanitizer: attempting double-free', text)
            self.assertIn("leaktop crashed (the sanitizer's report is above); the terminal is "
                          'restored.', text)
        else:
            self.assertIn('free(): double free detected', text)
            self.assertIn('leaktop crashed on signal 6 (SIGABRT); the terminal is restored.', text)


if __name__ == '__main__':
    unittest.main()
