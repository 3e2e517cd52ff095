"""test_cleanup.py: however leaktop ends (duration over, SIGINT, SIGTERM, the traced process exited), no
BPF link or program of its own remains, and a traced process that outlives it runs on unharmed and
exits normally."""
import os
import signal
import time
import unittest

from harness import LeaktopTestCase, bpf_objects_of, bpftool_json, workload

SIMPLE_FIGURES = {'simple_malloc': (6000, 4), 'simple_calloc': (14000, 2), 'simple_realloc': (9000, 1),
                  'simple_memalign': (2500, 1)}
TRACEFS_UPROBES = ('/sys/kernel/tracing/uprobe_events', '/sys/kernel/debug/tracing/uprobe_events')


class Detach(LeaktopTestCase):

    def check_detach(self, how):
        w = self.start_workload('simple')
        t = self.start_tracer([w.pid], ['-d', '6'] if how == 'duration' else [])
        t.wait_attached()

        # exactly the objects this leaktop holds (other BPF users may come and go meanwhile)
        links, progs = bpf_objects_of(t.pid)
        self.assertTrue(links, 'bpftool shows no link held by leaktop while it traces')
        self.assertTrue(progs, 'bpftool shows no program held by leaktop while it traces')
        types = {l['type'] for l in bpftool_json('link', 'show') if l['id'] in links}
        # classic uprobes are perf_event links; session links are uprobe_multi links, which
        # Debian's bpftool 7.1 predates and shows by number (BPF_LINK_TYPE_UPROBE_MULTI = 12); the
        # processes' forks, execs and exits are BTF tracepoints (raw_tracepoint links)
        self.assertTrue(types <= {'perf_event', 'uprobe_multi', 12, 'raw_tracepoint'}, types)
        self.assertIn('raw_tracepoint', types, 'the exec and exit tracepoints are attached')

        w.trigger()
        w.wait_done()
        if how == 'exit':
            rc, last = w.finish()
            self.assertEqual((rc, last), (0, 'bye sum=729300'), 'the traced process was disturbed')
        r = t.stop({'duration': None, 'exit': None, 'sigint': signal.SIGINT, 'sigterm': signal.SIGTERM}[how])
        self.assertOk(r)
        self.assertSites(r.report, SIMPLE_FIGURES, module=workload('simple'))

        # the kernel frees a closed link and its program asynchronously (work queue, RCU): allow it 5 s
        deadline = time.monotonic() + 5
        while True:
            links_after = bpftool_json('link', 'show')
            progs_after = bpftool_json('prog', 'show')
            left = [o for o in links_after if o['id'] in links] + [o for o in progs_after if o['id'] in progs]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual([l for l in links_after if l['id'] in links], [],
                         'links of leaktop remain after it exited')
        self.assertEqual([p for p in progs_after if p['id'] in progs], [],
                         'programs of leaktop remain after it exited')
        for path in TRACEFS_UPROBES:
            if os.path.exists(path):
                with open(path) as f:
                    stale = [l for l in f if 'libbpf_%d_' % t.pid in l]
                self.assertEqual(stale, [], 'legacy uprobe events of leaktop remain in ' + path)

        if how == 'exit':
            return
        self.assertTrue(w.alive(), 'the traced process died')
        rc, last = w.finish()
        self.assertEqual((rc, last), (0, 'bye sum=729300'), 'the traced process was disturbed')

    def test_detach_after_duration(self):
        self.check_detach('duration')

    def test_detach_after_traced_process_exits(self):
        self.check_detach('exit')

    def test_detach_after_sigint(self):
        self.check_detach('sigint')

    def test_detach_after_sigterm(self):
        self.check_detach('sigterm')


if __name__ == '__main__':
    unittest.main()
