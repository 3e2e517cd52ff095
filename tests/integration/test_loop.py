"""test_loop.py: the one loop's failure policy, the same in every mode.

A reading of the BPF maps that fails mid-run (injected with libltfault.so: every map read fails with
EIO after 1 s) ends the plain reports, record, --metrics and --batch alike: exit 1 at once, the
failure logged once, and no final report. The live view's case is test_tui's
test_fatal_error_restores.
"""
import os
import shutil
import tempfile
import time

from harness import LeaktopTestCase, free_port, run_leaktop, workload

MESSAGE = 'cannot read the BPF maps: Input/output error'


class FailurePolicy(LeaktopTestCase):

    def run_failing(self, opts):
        w = self.start_workload('tui_mix', [600])
        w.trigger()
        env = dict(os.environ)
        env['LD_PRELOAD'] = workload('libltfault.so')
        env['LT_FAULT_AFTER_S'] = '1'
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'
        start = time.monotonic()
        r = run_leaktop(list(opts) + ['-d', '60', '-p', str(w.pid)], timeout=90, env=env)
        elapsed = time.monotonic() - start
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(r.stderr.count(MESSAGE), 1, r.stderr)
        self.assertLess(elapsed, 30, 'the run went on after the failure')
        self.assertNotIn('traced for', r.stdout, 'a report was written after the failure')
        self.assertTrue(w.alive(), 'the traced process died')
        return r

    def test_plain_report_at_the_end(self):
        """No interval: the failure comes from the eviction's reading between reports."""
        self.run_failing([])

    def test_plain_reports_per_interval(self):
        r = self.run_failing(['-i', '0.3', '-f', 'json'])
        # The reports written before the failure are whole ones.
        self.assertGreaterEqual(r.stdout.count('"tool": "leaktop"'), 1, r.stdout)
        self.assertEqual(r.stdout.count('"tool": "leaktop"'), r.stdout.count('\n}\n'))

    def test_metrics(self):
        self.run_failing(['--metrics', '127.0.0.1:%d' % free_port()])

    def test_record(self):
        d = tempfile.mkdtemp(prefix='leaktop-it-record-')
        self.addCleanup(shutil.rmtree, d, True)
        self.run_failing(['record', '-i', '0.3', '--dir', d])

    def test_batch(self):
        r = self.run_failing(['--batch', '-i', '0.3'])
        self.assertIn('BYTES', r.stdout)
