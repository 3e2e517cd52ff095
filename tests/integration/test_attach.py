"""test_attach.py: attach mode (leaktop -p PID) on running workloads: exact figures, frees of blocks
allocated before attach, a library loaded after attach, jemalloc via LD_PRELOAD, several pids."""
import os
import signal
import unittest

from harness import JEMALLOC, LeaktopTestCase, Report, marker_line, workload

# tests/workloads/simple.c, as seen from an attach before its allocation phase
SIMPLE = {
    'pre_attach_alloc': (0, 0),
    'simple_malloc': (6000, 4),
    'simple_calloc': (14000, 2),
    'simple_realloc_src': (0, 0),
    'simple_realloc': (9000, 1),
    'simple_memalign': (2500, 1),
}
SIMPLE_BYE = 'bye sum=729300'


def for_pid(rep, pid):
    data = dict(rep.data)
    data['stacks'] = [s for s in rep.stacks if s.get('pid') == pid]
    return Report(data)


class AttachMode(LeaktopTestCase):

    def attach_simple(self, env=None, opts=()):
        """simple -w, leaktop -p, trigger, done; returns (workload, tracer)."""
        return self.attach_and_run('simple', opts, env)

    def assertSimpleExitsCleanly(self, w):
        self.assertTrue(w.alive(), 'the traced workload died')
        rc, last = w.finish()
        self.assertEqual((rc, last), (0, SIMPLE_BYE), 'the traced workload was disturbed')

    def test_attach_running_process(self):
        """-p on a process that is already running: its allocation phase after attach, exact figures."""
        w, t = self.attach_simple()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertSites(rep, SIMPLE, module=workload('simple'))
        self.assertSite(rep, 'simple_malloc', 6000, 4, total_allocs=6)
        self.assertEqual(rep.data['pids'], [w.pid])
        s = rep.site('simple_malloc').stacks[0]['frames'][0]
        self.assertEqual((os.path.basename(s.get('file') or ''), s.get('line')),
                         ('simple.c', marker_line('simple.c', 'SITE:simple_malloc')))
        self.assertSimpleExitsCleanly(w)

    def test_unmatched_frees_before_attach(self):
        """8 blocks allocated before attach and freed after: 8 unmatched frees, nothing else changes."""
        w, t = self.attach_simple()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertEqual(rep.stats.get('unmatched_frees'), 8, rep.summary())
        self.assertNoSite(rep, 'pre_attach_alloc')
        for st in rep.stacks:
            self.assertGreaterEqual(st['outstanding_bytes'], 0, rep.summary())
            self.assertGreaterEqual(st['outstanding_allocs'], 0, rep.summary())
        self.assertSites(rep, SIMPLE)
        self.assertSimpleExitsCleanly(w)

    def test_traced_pid_exits(self):
        """When the traced process exits, leaktop writes its final report by itself and exits 0."""
        w, t = self.attach_simple()
        rc, last = w.finish()
        self.assertEqual((rc, last), (0, SIMPLE_BYE))
        r = t.stop(sig=None, timeout=30)
        self.assertOk(r)
        self.assertSites(r.report, SIMPLE, module=workload('simple'))

    def test_dlopen_after_attach(self):
        """A library dlopen'ed after attach: its sites are symbolized, module = the .so."""
        w, t = self.attach_and_run('dlopen')
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        lib = workload('libdlsite.so')
        self.assertSites(rep, {'dl_leak_block': (19629, 3), 'dl_leak_calloc': (5000, 1)}, module=lib)
        f = rep.site('dl_leak_block').stacks[0]['frames']
        self.assertEqual((os.path.basename(f[0].get('file') or ''), f[0].get('line')),
                         ('libdlsite.c', marker_line('libdlsite.c', 'SITE:dl_leak_block')))
        self.assertIn('dl_entry', [x.get('function') for x in f], f)
        self.assertTrue(w.alive())
        self.assertEqual(w.finish()[0], 0)

    def test_jemalloc_preload(self):
        """The same workload under LD_PRELOAD=libjemalloc.so.2: jemalloc's malloc is the one probed
        (libc's is never called), with the same exact figures."""
        if not os.path.exists(JEMALLOC):
            self.fail('%s is missing (scripts/install-deps installs libjemalloc2)' % JEMALLOC)
        w, t = self.attach_simple(env={'LD_PRELOAD': JEMALLOC})
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        self.assertRegex(r.stderr, r'malloc at \S*libjemalloc\.so\.2\b',
                         'leaktop -v does not say it probed jemalloc\'s malloc')
        rep = r.report
        self.assertSites(rep, SIMPLE, module=workload('simple'))
        self.assertEqual(rep.stats.get('unmatched_frees'), 8, rep.summary())
        self.assertSimpleExitsCleanly(w)

    def test_two_pids(self):
        """-p A,B: both processes traced, each stack tagged with its pid."""
        w1 = self.start_workload('simple')
        w2 = self.start_workload('simple')
        t = self.start_tracer([w1.pid, w2.pid])
        t.wait_attached()
        for w in (w1, w2):
            w.trigger()
            w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertEqual(sorted(rep.data['pids']), sorted([w1.pid, w2.pid]))
        for w in (w1, w2):
            with self.subTest(pid=w.pid):
                self.assertSites(for_pid(rep, w.pid), SIMPLE, module=workload('simple'))
        self.assertEqual(rep.stats.get('unmatched_frees'), 16, rep.summary())
        self.assertEqual(rep.site('simple_calloc').bytes, 28000)
        for w in (w1, w2):
            self.assertSimpleExitsCleanly(w)


if __name__ == '__main__':
    unittest.main()
