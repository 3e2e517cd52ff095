"""test_series.py: `leaktop report`: the profiles `leaktop record` stored, read back as one report:
each stack's bytes at every profile, its growth and the suspect rule; --base: a diff.

Workload: tests/workloads/steps.c, one step per line the test sends: after step K it holds
step_cache 65536 B / 16 (from step 1 on) and step_leak K * 10000 B / K * 10; step_churn frees
what it allocates. leaktop record writes a profile every 0.3 s meanwhile. A profile read wholly
between two steps has exact figures; the test knows which those are from the number of files
in the directory before and after each step (see Recording).

LEAKTOP_SCREENSHOT=PATH makes test_html keep its screenshot of the page there (the README's
docs/report.png).
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from browser import Browser, distinct_colours
from harness import CONFIG, LeaktopTestCase, marker_line, run_leaktop, tail
from test_continuous import Daemon

STEPS = 3
LEAK_STEP, LEAK_BLOCKS = 10000, 10
CACHE, CACHE_BLOCKS = 65536, 16


def profiles(d):
    return sorted(glob.glob(os.path.join(d, 'leaktop-*.pb.gz')))


def suspect_rule(samples):
    """The leak-suspect rule of src/model/history.c, over a list of bytes."""
    n = len(samples)
    if n < 5:
        return False
    steps = n - 1
    nondec = sum(samples[i + 1] >= samples[i] for i in range(steps))
    inc = sum(samples[i + 1] > samples[i] for i in range(steps))
    mid = (n - 1) // 2
    return (nondec * 5 >= steps * 4 and inc >= 3 and samples[mid] > samples[0]
            and samples[-1] > samples[mid])


class Recording(LeaktopTestCase):
    """One recorded series for all the tests: expected[i] is (step_leak bytes, step_cache bytes)
    of profile i when it was read wholly between two steps, else None."""

    @classmethod
    def setUpClass(cls):
        cls.dir = None
        if os.geteuid() != 0:
            return
        cls.dir = tempfile.mkdtemp(prefix='leaktop-series-')
        cls.expected = {}
        from harness import Workload
        w = Workload('steps', [STEPS])
        d = Daemon(['record', '-i', '0.3', '--dir', cls.dir, '-p', str(w.pid)])
        try:
            d.wait_attached()
            cls.wait_files(0, 1, d)
            for k in range(STEPS + 1):
                # Every profile written before the step began was read before it.
                before = len(profiles(cls.dir))
                for i in range(before):
                    cls.expected.setdefault(i, (LEAK_STEP * k, CACHE if k else 0))
                if k == STEPS:
                    break
                w.trigger()
                w.expect(r'^step %d$' % (k + 1))
                # The second profile written after the step's end was read wholly after it.
                after = len(profiles(cls.dir))
                cls.wait_files(after, 2, d)
                for i in range(before, after + 1):
                    cls.expected[i] = None
            w.expect('^done$')
            rc, err = d.stop(signal.SIGTERM)
            if rc != 0:
                raise AssertionError('leaktop record exited %d:\n%s' % (rc, tail(err)))
            # the profile SIGTERM wrote
            cls.expected[len(profiles(cls.dir)) - 1] = (LEAK_STEP * STEPS, CACHE)
            w.finish()
        finally:
            d.close()
            w.close()

    @classmethod
    def wait_files(cls, have, more, daemon, timeout=30):
        deadline = time.monotonic() + timeout
        while len(profiles(cls.dir)) < have + more:
            if time.monotonic() > deadline or daemon.proc.poll() is not None:
                raise AssertionError('leaktop record wrote %d profiles, not %d' % (
                    len(profiles(cls.dir)), have + more))
            time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        if cls.dir:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def report(self, *args, fmt='json'):
        r = run_leaktop(['report', '--dir', self.dir, '-f', fmt] + list(args))
        self.assertOk(r)
        return json.loads(r.stdout) if fmt == 'json' else r.stdout

    def by_site(self, rep):
        out = {}
        for st in rep['stacks']:
            out.setdefault(st['frames'][0]['function'] if st['frames'] else None, []).append(st)
        return out

    def test_timeline(self):
        files = profiles(self.dir)
        self.assertGreaterEqual(len(files), 2 * STEPS + 2)
        rep = self.report()
        sites = self.by_site(rep)
        self.assertEqual(sorted(sites), ['step_cache', 'step_leak'], rep['stacks'])
        leak, cache = sites['step_leak'][0], sites['step_cache'][0]
        # The newest profile's figures, exact.
        self.assertEqual((leak['outstanding_bytes'], leak['outstanding_allocs']),
                         (LEAK_STEP * STEPS, LEAK_BLOCKS * STEPS))
        self.assertEqual((cache['outstanding_bytes'], cache['outstanding_allocs']),
                         (CACHE, CACHE_BLOCKS))
        self.assertEqual(rep['totals']['outstanding_bytes'], LEAK_STEP * STEPS + CACHE)
        self.assertEqual(rep['totals']['frees'], 5 * STEPS)
        self.assertEqual(rep['stacks'][0], cache)
        self.assertEqual(leak['frames'][0]['line'], marker_line('steps.c', 'SITE:step_leak'))
        # The readings: tracing's start, then each profile. A stack's samples are its bytes at
        # the reading before it first held memory (0), then at every profile since.
        self.assertEqual(rep['window_samples'], len(files) + 1)
        self.assertFalse(rep['too_few_samples'])
        clean = 0
        for st, which in ((leak, 0), (cache, 1)):
            ts, tb = st['timeline_s'], st['timeline_bytes']
            self.assertEqual(len(ts), len(tb))
            self.assertEqual(ts, sorted(ts))
            self.assertEqual(tb[0], 0)
            self.assertEqual(tb, sorted(tb))
            for j in range(1, len(tb)):
                want = self.expected.get(len(files) - len(tb) + j)
                if want is None:
                    # read while a step ran: between the figures before and after it
                    self.assertLessEqual(tb[j], (LEAK_STEP * STEPS, CACHE)[which])
                    continue
                clean += 1
                self.assertEqual(tb[j], want[which], 'profile %d (%s): %s' % (
                    len(files) - len(tb) + j, files[len(files) - len(tb) + j], tb))
            # Growth over its samples, and the suspect rule's verdict over them.
            self.assertAlmostEqual(st['growth_bytes_per_s'], tb[-1] / (ts[-1] - ts[0]), places=3)
            self.assertEqual(st['suspect'], suspect_rule(tb), st)
        self.assertGreaterEqual(clean, 2 * STEPS)
        self.assertEqual(rep['suspects'], leak['suspect'] + cache['suspect'])
        self.assertFalse(cache['suspect'])  # one jump, then flat: a cache, not a leak

        # The text report: the same figures, and each stack's bytes at every profile.
        text = self.report(fmt='text')
        self.assertIn('from %d profiles in %s, ' % (len(files), self.dir), text)
        self.assertIn('outstanding: 93.3 KiB (%d bytes) in %d blocks, 2 stacks' % (
            LEAK_STEP * STEPS + CACHE, LEAK_BLOCKS * STEPS + CACHE_BLOCKS), text)
        self.assertRegex(text, r'\n#\d (LEAK\? )?30000 bytes in 30 blocks \(29.3 KiB\), pid ')
        self.assertIn('\n    bytes at each reading: %s\n' % ' '.join(
            str(b) for b in leak['timeline_bytes']), text)
        self.assertIn('growth over ', text)

    def test_base(self):
        files = profiles(self.dir)
        first_after_step1 = min(i for i, v in self.expected.items() if v and v[0] == LEAK_STEP)
        rep = self.report('--base', files[first_after_step1])
        # What grew from step 1 to the end: step_leak's two steps; the cache did not change.
        self.assertEqual([(st['frames'][0]['function'], st['outstanding_bytes'],
                           st['outstanding_allocs']) for st in rep['stacks']],
                         [('step_leak', 2 * LEAK_STEP, 2 * LEAK_BLOCKS)])
        self.assertEqual(rep['totals']['outstanding_bytes'], 2 * LEAK_STEP)
        self.assertEqual(rep['totals']['outstanding_allocs'], 2 * LEAK_BLOCKS)
        self.assertIn(' minus the base %s ' % files[first_after_step1], rep['source'])
        # Against the first profile (before step 1): everything, and a shrink shows negative.
        rep = self.report('--base', files[0])
        self.assertEqual(sorted((st['frames'][0]['function'], st['outstanding_bytes'])
                                for st in rep['stacks']),
                         [('step_cache', CACHE), ('step_leak', STEPS * LEAK_STEP)])
        rev = run_leaktop(['report', '--dir', files[0], '--base', files[-1], '-f', 'json'])
        self.assertOk(rev)
        self.assertEqual(sorted(st['outstanding_bytes'] for st in json.loads(rev.stdout)['stacks']),
                         [-CACHE, -STEPS * LEAK_STEP])

    def test_html(self):
        """The series as a page: the timeline draws a line per stack, a point per profile."""
        out = os.path.join(self.dir, 'report.html')
        r = run_leaktop(['report', '--dir', self.dir, '-f', 'html', '-o', out])
        self.assertOk(r)
        b = Browser()
        self.addCleanup(b.close)
        self.assertEqual(b.navigate('file://' + out), ['file://' + out])
        lines = b.evaluate('''[...document.querySelectorAll("#timeline polyline.series")]
            .map(p => [p.dataset.site, p.getAttribute("points").split(" ").length])''')
        rep = self.report()
        self.assertEqual(sorted(lines), sorted([self.by_site(rep)[name][0]['frames'][0]['function'],
                                                len(self.by_site(rep)[name][0]['timeline_bytes'])]
                                               for name in ('step_cache', 'step_leak')))
        self.assertIn('from %d profiles in ' % len(profiles(self.dir)),
                      b.evaluate('document.getElementById("source").textContent'))
        png = b.screenshot()
        colours = distinct_colours(png)
        self.assertGreater(colours, 50, 'the screenshot has %d colours' % colours)
        keep = os.environ.get('LEAKTOP_SCREENSHOT')
        if keep:
            with open(keep, 'wb') as f:
                f.write(png)

    def test_bad_input(self):
        empty = tempfile.mkdtemp(prefix='leaktop-series-empty-')
        self.addCleanup(shutil.rmtree, empty)
        r = run_leaktop(['report', '--dir', empty])
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('no profiles in %s' % empty, r.stderr)
        junk = os.path.join(empty, 'leaktop-20260101T000000.000Z.pb.gz')
        with open(junk, 'wb') as f:
            f.write(b'\x1f\x8b\x08\x00not gzip at all')
        r = run_leaktop(['report', '--dir', empty])
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('%s: not a profile (a broken gzip stream)' % junk, r.stderr)
        r = run_leaktop(['report', '--dir', self.dir, '--base', '/etc/passwd'])
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('/etc/passwd: not a profile', r.stderr)
        self.assertEqual(r.stdout, '')
