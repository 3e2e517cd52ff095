"""harness.py: runs leaktop and the workloads for the integration tests, and reads the reports.

Two ways to trace a workload:
  run_command([...])          leaktop -- WORKLOAD ARGS: traced from its first instruction, report at exit
  Workload(...) + Tracer(...) attach mode: the workload prints "ready PID" and waits (see
                              tests/workloads/wl.h), leaktop attaches with -p (or another target:
                              Tracer's target=), the test triggers the allocation phase, waits for
                              "done", stops leaktop and reads the report.
Every leaktop run is checked for sanitizer reports on its stderr (the ASan/UBSan build runs this suite too).
"""
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest


class Config:
    leaktop = None  # path of the leaktop binary under test
    workloads = None  # directory of the built workloads (build/workloads)
    src = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'workloads'))


CONFIG = Config()

SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer')
JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'
TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4'
MIMALLOC = '/usr/lib/x86_64-linux-gnu/libmimalloc.so.2'
ATTACHED_RE = re.compile(r'probes attached')


def in_ci():
    return os.environ.get('CI') == 'true'


def bpf_unavailable_reason():
    if os.geteuid() != 0:
        return 'needs root to load BPF programs'
    if not os.path.exists('/sys/kernel/btf/vmlinux'):
        return 'the kernel has no BTF (/sys/kernel/btf/vmlinux)'
    return None


def require_bpf(test):
    """Skips a test that needs BPF where it cannot load; under CI=true that is a failure instead."""
    reason = bpf_unavailable_reason()
    if reason:
        if in_ci():
            test.fail('cannot load BPF: %s (CI=true: not skipping)' % reason)
        test.skipTest(reason)


def workload(name):
    path = os.path.join(CONFIG.workloads, name)
    if not os.access(path, os.X_OK if not name.endswith('.so') else os.R_OK):
        raise AssertionError('workload %s is not built (make workloads)' % path)
    return path


def marker_line(src_name, marker):
    """The 1-based line of tests/workloads/SRC_NAME that carries the comment MARKER (e.g. SITE:leak_malloc)."""
    pat = re.compile(r'(?<![\w:])' + re.escape(marker) + r'(?![\w:])')
    with open(os.path.join(CONFIG.src, src_name)) as f:
        hits = [i for i, line in enumerate(f, 1) if pat.search(line) and ('/*' in line or '//' in line)]
    if len(hits) != 1:
        raise AssertionError('marker %s occurs %d times in %s' % (marker, len(hits), src_name))
    return hits[0]


def check_stderr_clean(stderr, what='leaktop'):
    for m in SANITIZER_MARKERS:
        if m in stderr:
            raise AssertionError('%s stderr has a sanitizer report (%r):\n%s' % (what, m, tail(stderr, 60)))


def tail(text, lines=25):
    return '\n'.join(text.splitlines()[-lines:])


def read_text(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


class Site:
    """The stacks of one allocation-site function (frames[0].function), summed."""

    def __init__(self):
        self.bytes = 0
        self.allocs = 0  # outstanding allocations
        self.total_allocs = 0  # allocations since attach, over the listed stacks
        self.stacks = []

    def __repr__(self):
        return '%d B / %d' % (self.bytes, self.allocs)


class Report:
    def __init__(self, data, stderr=''):
        self.data = data
        self.stderr = stderr
        for key in ('tool', 'version', 'pids', 'duration_s', 'totals', 'stats', 'stacks'):
            if key not in data:
                raise AssertionError('report lacks %r: %s' % (key, sorted(data)))
        self.stacks = data['stacks']
        self.totals = data['totals']
        self.stats = data['stats']

    @staticmethod
    def site_name(stack):
        frames = stack.get('frames') or []
        return frames[0].get('function') if frames else None

    def sites(self):
        out = {}
        for st in self.stacks:
            s = out.setdefault(self.site_name(st), Site())
            s.bytes += st['outstanding_bytes']
            s.allocs += st['outstanding_allocs']
            s.total_allocs += st['allocs']
            s.stacks.append(st)
        return out

    def site(self, function):
        return self.sites().get(function) or Site()

    def summary(self, limit=40):
        rows = sorted(self.sites().items(), key=lambda kv: -kv[1].bytes)
        lines = ['  %-45s %10d B %6d allocs  %s' % (k, v.bytes, v.allocs,
                                                      (v.stacks[0]['frames'][0].get('module') or '?')
                                                      if v.stacks and v.stacks[0].get('frames') else '')
                 for k, v in rows[:limit]]
        return 'sites in report (%d stacks; totals %s; stats %s):\n%s' % (
            len(self.stacks), self.totals, self.stats, '\n'.join(lines))


class Run:
    def __init__(self, rc, stdout, stderr, report=None, output=None):
        self.rc, self.stdout, self.stderr, self.report, self.output = rc, stdout, stderr, report, output

    def describe(self):
        return 'exit %s; stderr:\n%s' % (self.rc, tail(self.stderr))


def _tmpfile(suffix):
    fd, path = tempfile.mkstemp(prefix='leaktop-it-', suffix=suffix)
    os.close(fd)
    return path


def run_leaktop(args, timeout=120, env=None, stdin=subprocess.DEVNULL):
    """Runs leaktop ARGS to completion; returns Run (no output file). Fails on timeout or a sanitizer report."""
    try:
        p = subprocess.run([CONFIG.leaktop] + list(args), stdin=stdin, capture_output=True, text=True,
                           errors='replace', timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError('leaktop %s did not finish in %d s; stderr:\n%s' % (
            ' '.join(args), timeout, tail(e.stderr.decode(errors='replace') if e.stderr else '')))
    check_stderr_clean(p.stderr)
    return Run(p.returncode, p.stdout, p.stderr)


def run_command(argv, opts=(), fmt='json', timeout=120, env=None, expect_rc=0):
    """leaktop -f FMT -n 0 -o OUT OPTS -- ARGV; returns Run with .report (json) or .output (other formats).
    EXPECT_RC: leaktop's exit status, which is the command's own (or --error-exitcode's)."""
    out = _tmpfile('.' + fmt)
    try:
        top = [] if '-n' in opts else ['-n', '0']
        r = run_leaktop(['-f', fmt, '-o', out] + top + list(opts) + ['--'] + list(argv),
                        timeout=timeout, env=env)
        if expect_rc is not None and r.rc != expect_rc:
            raise AssertionError('leaktop -- %s: expected exit %d, got %s' % (' '.join(argv), expect_rc,
                                                                           r.describe()))
        r.output = read_text(out)
        # A report is written whatever the command's status (which leaktop's exit status is)
        if fmt == 'json' and r.output.strip():
            r.report = parse_report(r.output, r.stderr)
        return r
    finally:
        os.unlink(out)


def parse_report(text, stderr=''):
    try:
        data = json.loads(text)
    except ValueError as e:
        raise AssertionError('report is not one JSON object (%s):\n%s\nstderr:\n%s' % (e, text[:2000],
                                                                                    tail(stderr)))
    return Report(data, stderr)


class Workload:
    """A workload started with -w: waits for 'ready PID', then trigger()/wait_done()/finish()."""

    def __init__(self, name, args=(), env=None, wait_ready=True, argv=None):
        """ARGV, when given, is the whole command line to run instead of [PATH, '-w', ARGS...] (a
        launcher that ends by exec'ing the workload with -w, so that its pid is the workload's)."""
        self.name = name
        self.path = workload(name)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.stderr_path = _tmpfile('.wl-stderr')
        self._stderr = open(self.stderr_path, 'w')
        if argv is None:
            argv = [self.path, '-w'] + [str(a) for a in args]
        self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=full_env)
        self.lines = queue.Queue()
        self.seen = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.pid = None
        if wait_ready:
            m = self.expect(r'^ready (\d+)$')
            self.pid = int(m.group(1))
            if self.pid != self.proc.pid:
                raise AssertionError('%s says pid %d, is %d' % (name, self.pid, self.proc.pid))

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors='replace').rstrip('\n'))
        self.lines.put(None)

    def expect(self, pattern, timeout=60):
        """The next line matching PATTERN (earlier lines are kept in .seen); fails on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError('%s: no line matching %r in %d s (saw %r)' % (self.name, pattern,
                                                                                 timeout, self.seen))
            if line is None:
                self.lines.put(None)
                raise AssertionError('%s ended (exit %s) before a line matching %r; saw %r; stderr: %s' % (
                    self.name, self.proc.poll(), pattern, self.seen, read_text(self.stderr_path)))
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def trigger(self):
        self.proc.stdin.write(b'\n')
        self.proc.stdin.flush()

    def wait_done(self, timeout=60):
        self.expect(r'^done$', timeout)

    def finish(self, timeout=30):
        """Lets the workload exit (after its 'done'); returns (exit code, last line)."""
        try:
            self.proc.stdin.write(b'\n')
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        m = self.expect(r'^bye', timeout)
        rc = self.proc.wait(timeout)
        return rc, m.string

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self._stderr.close()
        os.unlink(self.stderr_path)


def link_fds(pid):
    n = 0
    try:
        for fd in os.listdir('/proc/%d/fd' % pid):
            try:
                if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == 'anon_inode:bpf_link':
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


class Tracer:
    """leaktop -v -p PIDS -f FMT -n 0 -o OUT OPTS, in the background; TARGET, a list of arguments
    (['--cgroup', PATH], ['--comm', NAME]...), is given instead of -p PIDS when not None."""

    def __init__(self, pids, opts=(), fmt='json', env=None, target=None):
        self.out = _tmpfile('.' + fmt)
        self.err = _tmpfile('.stderr')
        self.fmt = fmt
        if target is None:
            target = ['-p', ','.join(str(p) for p in pids)]
        self.cmd = [CONFIG.leaktop, '-v'] + list(target) + ['-f', fmt, '-n', '0',
                                                             '-o', self.out] + list(opts)
        with open(self.err, 'w') as errf:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=errf, env=env)
        self.pid = self.proc.pid

    def stderr(self):
        return read_text(self.err)

    def wait_attached(self, timeout=60):
        """Until leaktop says its probes are attached ('N probes attached' at -v)."""
        self.wait_stderr(ATTACHED_RE, timeout, 'attaching')

    def wait_traced(self, pid, timeout=60):
        """Until leaktop says it traces process PID ('pid N (COMM) traced' at -v); returns COMM."""
        return self.wait_stderr(r'(?m)^leaktop: pid %d \((.*)\) traced' % pid, timeout,
                                'tracing pid %d' % pid).group(1)

    def wait_stderr(self, pattern, timeout=60, what=None):
        """Until leaktop's stderr matches PATTERN; returns the match. Fails if leaktop exits first."""
        what = what or 'a line matching %r' % getattr(pattern, 'pattern', pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            err = self.stderr()
            m = re.search(pattern, err)
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError('leaktop exited (%s) before %s:\n%s' % (self.proc.returncode,
                                                                           what, tail(err)))
            time.sleep(0.05)
        raise AssertionError('leaktop did not report %s in %d s (%d bpf_link fds):\n%s' % (
            what, timeout, link_fds(self.pid), tail(self.stderr())))

    def stop(self, sig=signal.SIGINT, timeout=60):
        """Sends SIG (None: just waits for leaktop to end by itself); returns Run with the report."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('leaktop did not exit within %d s of %s:\n%s' % (
                timeout, sig and signal.Signals(sig).name, tail(self.stderr())))
        err = self.stderr()
        check_stderr_clean(err)
        r = Run(rc, '', err, output=read_text(self.out))
        if rc == 0 and self.fmt == 'json':
            r.report = parse_report(r.output, err)
        return r

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for p in (self.out, self.err):
            if os.path.exists(p):
                os.unlink(p)


def bpftool_json(*args):
    p = subprocess.run(['bpftool', '-j'] + list(args), capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError('bpftool %s failed: %s' % (' '.join(args), p.stderr))
    return json.loads(p.stdout or '[]') or []


def bpf_objects_of(pid):
    """(link ids, prog ids) that process PID holds: from its fds' fdinfo (bpftool's "pids" needs a
    bpftool built with pid iterators, which Debian's is not), plus what bpftool attributes to it."""
    links, progs = set(), set()
    fd_dir = '/proc/%d/fd' % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
            with open('/proc/%d/fdinfo/%s' % (pid, fd)) as f:
                info = dict(l.split(':', 1) for l in f.read().splitlines() if ':' in l)
        except OSError:
            continue
        if target == 'anon_inode:bpf_link' and 'link_id' in info:
            links.add(int(info['link_id']))
            if 'prog_id' in info:
                progs.add(int(info['prog_id']))
        elif target == 'anon_inode:bpf-prog' and 'prog_id' in info:
            progs.add(int(info['prog_id']))

    def held(objs):
        return {o['id'] for o in objs if any(h.get('pid') == pid for h in o.get('pids', []))}
    return links | held(bpftool_json('link', 'show')), progs | held(bpftool_json('prog', 'show'))


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class LeaktopTestCase(unittest.TestCase):
    """Base class: needs BPF; assertion helpers that print the report's sites when they fail."""

    needs_bpf = True
    maxDiff = None

    def setUp(self):
        if self.needs_bpf:
            require_bpf(self)

    def start_workload(self, name, args=(), env=None):
        w = Workload(name, args, env)
        self.addCleanup(w.close)
        return w

    def start_tracer(self, pids=(), opts=(), fmt='json', target=None, env=None):
        t = Tracer(pids, opts, fmt, env=env, target=target)
        self.addCleanup(t.close)
        return t

    def attach_and_run(self, name, opts=(), env=None):
        """NAME -w, leaktop -p with OPTS, trigger, done; returns (workload, tracer), still tracing."""
        w = self.start_workload(name, env=env)
        t = self.start_tracer([w.pid], opts)
        t.wait_attached()
        w.trigger()
        w.wait_done()
        return w, t

    def assertSite(self, report, function, nbytes, nallocs, module=None, total_allocs=None):
        s = report.site(function)
        self.assertEqual((s.bytes, s.allocs), (nbytes, nallocs),
                         'site %s: expected %d B / %d allocs, got %d B / %d allocs\n%s' % (
                             function, nbytes, nallocs, s.bytes, s.allocs, report.summary()))
        if total_allocs is not None:
            self.assertEqual(s.total_allocs, total_allocs, 'site %s: allocs since attach\n%s' % (
                function, report.summary()))
        if module is not None:
            mods = {os.path.realpath(st['frames'][0].get('module') or '') for st in s.stacks}
            self.assertEqual(mods, {os.path.realpath(module)}, 'site %s: module of frames[0]' % function)
        return s

    def assertSites(self, report, expected, module=None):
        """EXPECTED: {function: (bytes, allocs)}; every listed site must match exactly."""
        got = {f: (report.site(f).bytes, report.site(f).allocs) for f in expected}
        self.assertEqual(got, dict(expected), report.summary())
        if module is not None:
            for f, (nbytes, _) in expected.items():
                if nbytes:
                    self.assertSite(report, f, *expected[f], module=module)

    def assertNoSite(self, report, function):
        """The site holds nothing: absent, or listed with zero outstanding."""
        s = report.site(function)
        self.assertEqual((s.bytes, s.allocs), (0, 0), 'site %s should hold nothing\n%s' % (
            function, report.summary()))

    def assertOk(self, run, what='leaktop'):
        self.assertEqual(run.rc, 0, '%s: %s' % (what, run.describe()))
