"""test_harmless.py: leaktop never hurts a process, traced or not. operator new throwing
std::bad_alloc (and nothrow new failing) under glibc, jemalloc and tcmalloc, with session links and
classic probes: in the traced process, in a forked child nobody traces, and in a process another
leaktop traces through the same libraries. Every run must exit 0, and the leak that follows the
failures must be exact."""
import os
import signal

from harness import JEMALLOC, MIMALLOC, TCMALLOC, LeaktopTestCase, run_command, workload

# tests/workloads/throws.cc, after its failures
THROWS = {'keep_array()': (9000, 3), 'keep_malloc()': (4242, 1)}
ALLOCATORS = (('glibc', None), ('jemalloc', JEMALLOC), ('tcmalloc', TCMALLOC))
LINKS = (('sessions', ()), ('classic', ('--no-session',)))


def preload(lib):
    env = dict(os.environ)
    if lib:
        env['LD_PRELOAD'] = lib
    return env


class Harmless(LeaktopTestCase):

    def setUp(self):
        super().setUp()
        for lib in (JEMALLOC, TCMALLOC, MIMALLOC):
            if not os.path.exists(lib):
                self.fail('%s is missing (scripts/install-deps installs it)' % lib)

    def run_attached(self, args, lib, opts):
        """throws -w ARGS under LIB, traced by leaktop -p OPTS from before its phase."""
        w = self.start_workload('throws', args, env={'LD_PRELOAD': lib} if lib else None)
        t = self.start_tracer([w.pid], opts)
        t.wait_attached()
        w.trigger()
        w.wait_done()
        rc, _ = w.finish()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        return rc, r.report

    def test_bad_alloc_then_leak(self):
        """1,000 caught bad_allocs and 1,000 failing nothrow news, then a leak: exit 0 and exact
        figures under every allocator and both link kinds. An allocator's own operator new ends
        at exit probes, so the failed calls count as unwound, never as missed returns."""
        for name, lib in ALLOCATORS:
            for link, opts in LINKS:
                with self.subTest(allocator=name, links=link):
                    rc, rep = self.run_attached(['1000'], lib, opts)
                    self.assertEqual(rc, 0, 'the traced process was disturbed')
                    self.assertSites(rep, THROWS, module=workload('throws'))
                    self.assertEqual(rep.stats['missed_returns'], 0, rep.summary())
                    # The exception objects: allocated and freed inside the failing calls.
                    self.assertEqual(rep.stats['unmatched_frees'], 0, rep.summary())
                    self.assertEqual(rep.stats['unwound_calls'], 0 if lib is None else 1000,
                                     rep.summary())

    def test_exit_probes_mimalloc(self):
        """mimalloc's own operator new, recorded at its exits: the same exact figures. (mimalloc
        aborts by itself on an impossible size, so no failure here.)"""
        for link, opts in LINKS:
            with self.subTest(links=link):
                rc, rep = self.run_attached(['0'], MIMALLOC, opts)
                self.assertEqual(rc, 0)
                self.assertSites(rep, THROWS, module=workload('throws'))

    def test_forked_child_throws(self):
        """A child forked by a traced process inherits its breakpoints; it throws 500 times and
        must exit 0, as must the parent, whose figures are exact."""
        for name, lib in ALLOCATORS:
            for link, opts in LINKS:
                with self.subTest(allocator=name, links=link):
                    rc, rep = self.run_attached(['500', 'fork'], lib, opts)
                    self.assertEqual(rc, 0, 'the forked child or its parent was disturbed')
                    self.assertSites(rep, THROWS)

    def test_process_traced_by_another_leaktop(self):
        """leaktop A traces one C++ process; leaktop B traces another through the same libraries,
        so A's probes sit at the breakpoints B's process hits. B's process throws 900 times per
        allocator and link kind: 0 aborts, and B's figures are exact."""
        for name, lib in ALLOCATORS:
            for link, opts in LINKS:
                with self.subTest(allocator=name, links=link):
                    other = self.start_workload('throws', ['1'], env=preload(lib))
                    a = self.start_tracer([other.pid], opts)
                    a.wait_attached()
                    rc, rep = self.run_attached(['900'], lib, opts)
                    self.assertEqual(rc, 0, 'a process traced by another leaktop aborted')
                    self.assertSites(rep, THROWS)
                    other.trigger()
                    other.wait_done()
                    self.assertEqual(other.finish()[0], 0)
                    self.assertOk(a.stop(signal.SIGINT))

    def test_command_mode(self):
        """leaktop -- throws 1000 fork: traced from the first instruction, the same figures; and
        leaktop says so when the command fails (here it does not, below it does)."""
        r = run_command([workload('throws'), '1000', 'fork'])
        self.assertSites(r.report, THROWS, module=workload('throws'))
        self.assertNotIn('the command', r.stderr)
        r = run_command(['/bin/sh', '-c', 'kill -ABRT $$'], expect_rc=128 + signal.SIGABRT)
        self.assertRegex(r.stderr, r'the command /bin/sh \(pid \d+\) killed by SIGABRT \(Aborted\)')
