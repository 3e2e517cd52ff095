"""test_refresh.py: each refresh shows what changed since the last one.

A reading keeps what never changes (a stack's addresses, its suppression verdict) from one refresh
to the next and reads the figures anew: a stack whose figures change shows the new ones in the
next report, and a stack first seen after several refreshes is read and named then.
"""
import json
import os
import signal
import time

from harness import LeaktopTestCase, marker_line, read_text


def reports(path):
    """The complete JSON reports leaktop has written to PATH so far, one per interval."""
    text, docs, pos = read_text(path), [], 0
    dec = json.JSONDecoder()
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        try:
            doc, pos = dec.raw_decode(text, pos)
        except ValueError:
            return docs
        docs.append(doc)


class Refresh(LeaktopTestCase):

    def wait_reports(self, t, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            docs = reports(t.out)
            if len(docs) >= n:
                return docs
            time.sleep(0.05)
        self.fail('fewer than %d reports in %d s:\n%s' % (n, timeout, t.stderr()))

    def test_changed_and_late_stacks(self):
        """steps under a report every 0.3 s: nothing for two reports, then after each step the
        second report (read wholly after it) has step_leak at 10000 B in 10 blocks, then 20000 B
        in 20, and step_cache at 65536 B in 16, each named to its line in steps.c. A reading
        looks up the stacks the programs say changed (the changed ring)."""
        err = self.changed_and_late_stacks(None)
        self.assertNotIn('the changed ring filled', err)

    def test_changed_ring_full(self):
        """The same when the changed ring is always full (a fault the BPF side makes on purpose):
        every reading reads every stack."""
        env = dict(os.environ)
        env['LEAKTOP_FAULT'] = 'changed_full'
        err = self.changed_and_late_stacks(env)
        self.assertIn('the changed ring filled: reading every stack', err)

    def changed_and_late_stacks(self, env):
        """The steps run under leaktop -vv with ENV; leaktop's stderr."""
        w = self.start_workload('steps', ['3'])
        t = self.start_tracer([w.pid], ['-vv', '-i', '0.3'], env=env)
        t.wait_attached()
        done = len(self.wait_reports(t, 2))
        lines = {f: marker_line('steps.c', 'SITE:' + f) for f in ('step_leak', 'step_cache')}
        for k in (1, 2):
            w.trigger()
            w.expect(r'^step %d$' % k)
            done = len(reports(t.out))
            rep = self.wait_reports(t, done + 2)[done + 1]
            sites = {s['frames'][0]['function']: s for s in rep['stacks'] if s['frames']}
            for fn, want in (('step_leak', (10000 * k, 10 * k)), ('step_cache', (65536, 16))):
                self.assertIn(fn, sites, rep['stacks'])
                s = sites[fn]
                self.assertEqual((s['outstanding_bytes'], s['outstanding_allocs']), want, fn)
                self.assertTrue(s['frames'][0]['file'].endswith('steps.c'), s['frames'][0])
                self.assertEqual(s['frames'][0]['line'], lines[fn])
        w.trigger()
        w.expect('^done$')
        t.proc.send_signal(signal.SIGINT)
        self.assertEqual(t.proc.wait(60), 0, t.stderr())
        return t.stderr()
