"""test_targets.py: the targets besides -p and a command, on real processes: --cgroup (the
processes of a group at start and those moved in later; an empty group waited on), --comm (a name
no process has yet, waited on), bad targets (exit 2, one line, no report), and --no-follow with -p
and with a command (the children are neither traced nor disturbed, even one that first runs after
its parent has exited)."""
import os
import shutil
import signal
import tempfile
import time
import uuid

from harness import LeaktopTestCase, Report, Workload, run_command, run_leaktop, workload
from services import Cgroup, cgroup_of, run_orphaned_frozen_child

# tests/workloads/simple.c, as seen from an attach before its allocation phase: 31500 B in 8
# blocks; its 8 frees of blocks allocated before the attach are unmatched.
SIMPLE = {
    'pre_attach_alloc': (0, 0),
    'simple_malloc': (6000, 4),
    'simple_calloc': (14000, 2),
    'simple_realloc_src': (0, 0),
    'simple_realloc': (9000, 1),
    'simple_memalign': (2500, 1),
}
SIMPLE_BYTES, SIMPLE_ALLOCS = 31500, 8
SIMPLE_BYE = 'bye sum=729300'
# tests/workloads/tree.c, the parent's sites (19000 B in 4 blocks)
TREE_PARENT = {'tree_inherited': (7000, 1), 'tree_leak_parent': (12000, 3)}
TREE_CHILDREN = ('tree_free_inherited', 'tree_leak_child', 'tree_leak_grandchild')

WAITING = 'leaktop: warning: nothing to trace yet (%s); waiting for a process\n'


def for_pid(rep, pid):
    data = dict(rep.data)
    data['stacks'] = [s for s in rep.stacks if s.get('pid') == pid]
    return Report(data)


def procs(rep):
    return {p['pid']: p for p in rep.data['processes']}


def given(pid, comm, state='traced'):
    """A process entry of the report for a process leaktop was given (found, not forked)."""
    return {'pid': pid, 'nspid': pid, 'ppid': 0, 'comm': comm, 'state': state, 'followed': False,
            'execs': 0, 'gap_s': 0}


class Targets(LeaktopTestCase):

    def assertSimple(self, rep, pid, module=None):
        """Process PID of simple: its exact figures, all of them in stacks tagged with its pid."""
        mine = for_pid(rep, pid)
        self.assertSites(mine, SIMPLE, module=module or workload('simple'))
        self.assertEqual((sum(s['outstanding_bytes'] for s in mine.stacks),
                          sum(s['outstanding_allocs'] for s in mine.stacks)),
                         (SIMPLE_BYTES, SIMPLE_ALLOCS), mine.summary())

    def assertSimpleExitsCleanly(self, w):
        self.assertEqual(w.finish(), (0, SIMPLE_BYE), 'the traced workload was disturbed')

    def test_cgroup_now_and_later(self):
        """--cgroup /GROUP (the path as /proc/PID/cgroup writes it): the process in the group at
        start is traced before the probes are reported attached; one moved in afterwards is found
        by the next poll; both have simple's exact figures, each in its own stacks, and both are
        listed as given (not followed)."""
        w1 = self.start_workload('simple')
        cg = Cgroup(self)
        cg.move(w1.pid)
        group = '/' + os.path.relpath(cg.path, cg.root)
        self.assertEqual(cgroup_of(w1.pid), group)
        t = self.start_tracer(target=['--cgroup', group])
        t.wait_attached()
        err = t.stderr()
        first = 'leaktop: pid %d (simple) traced\n' % w1.pid
        self.assertIn(first, err)
        self.assertLess(err.index(first), err.index('probes attached'), err)
        w2 = self.start_workload('simple')
        cg.move(w2.pid)
        self.assertEqual(t.wait_traced(w2.pid, timeout=5), 'simple')
        for w in (w1, w2):
            w.trigger()
            w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertNotIn('nothing to trace yet', r.stderr)
        self.assertEqual(rep.data['pids'], sorted([w1.pid, w2.pid]))
        self.assertEqual(procs(rep), {w1.pid: given(w1.pid, 'simple'), w2.pid: given(w2.pid, 'simple')})
        for w in (w1, w2):
            with self.subTest(pid=w.pid):
                self.assertSimple(rep, w.pid)
        self.assertEqual(rep.site('simple_malloc').bytes, 12000)
        self.assertEqual((rep.totals['outstanding_bytes'], rep.totals['outstanding_allocs']),
                         (2 * SIMPLE_BYTES, 2 * SIMPLE_ALLOCS))
        self.assertEqual(rep.stats['unmatched_frees'], 16, rep.summary())
        for w in (w1, w2):
            self.assertSimpleExitsCleanly(w)

    def test_cgroup_empty_waits(self):
        """--cgroup on an empty group (its directory in the mount): leaktop warns once that it is
        waiting, goes on, and traces the process moved in later, with its exact figures."""
        cg = Cgroup(self)
        t = self.start_tracer(target=['--cgroup', cg.path])
        t.wait_attached()
        self.assertIn(WAITING % ('cgroup ' + cg.path), t.stderr())
        self.assertIn('leaktop: 0 probes attached\n', t.stderr())
        w = self.start_workload('simple')
        cg.move(w.pid)
        self.assertEqual(t.wait_traced(w.pid, timeout=5), 'simple')
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertEqual(r.stderr.count('nothing to trace yet'), 1, r.stderr)
        self.assertEqual(rep.data['pids'], [w.pid])
        self.assertEqual(procs(rep), {w.pid: given(w.pid, 'simple')})
        self.assertSimple(rep, w.pid)
        self.assertEqual(rep.stats['unmatched_frees'], 8, rep.summary())
        self.assertSimpleExitsCleanly(w)

    def test_comm_waits_for_the_name(self):
        """--comm NAME before any process has that name: leaktop warns that it is waiting; the
        process that starts with that name later (simple, copied under it) is traced, its sites
        named in the copy, with exact figures; no other process is."""
        name = 'lt' + uuid.uuid4().hex[:13]  # 15 bytes: all of it is the comm
        d = tempfile.mkdtemp(prefix='leaktop-it-')
        self.addCleanup(shutil.rmtree, d)
        copy = os.path.join(d, name)
        shutil.copy2(workload('simple'), copy)
        t = self.start_tracer(target=['--comm', name])
        t.wait_attached()
        self.assertIn(WAITING % ('processes named ' + name), t.stderr())
        w = Workload('simple', argv=[copy, '-w'])
        self.addCleanup(w.close)
        self.assertEqual(t.wait_traced(w.pid, timeout=5), name)
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertEqual(rep.data['pids'], [w.pid])
        self.assertEqual(procs(rep), {w.pid: given(w.pid, name)})
        self.assertSimple(rep, w.pid, module=copy)
        self.assertEqual((rep.totals['outstanding_bytes'], rep.totals['outstanding_allocs']),
                         (SIMPLE_BYTES, SIMPLE_ALLOCS))
        self.assertSimpleExitsCleanly(w)

    def test_bad_targets(self):
        """A target that names nothing leaktop could trace, or two targets: exit 2, a one-line
        message that says why (usage errors add the --help hint), nothing on stdout, no report
        file created."""
        cg = Cgroup(self)
        mount = cg.root
        missing = '/leaktop-test-missing-%d' % os.getpid()
        usage = "Try 'leaktop --help' for more information."
        cases = [
            (['--cgroup', missing],
             ['leaktop: error: --cgroup %s: no such group (no directory %s%s)' % (missing, mount,
                                                                                  missing)]),
            (['--cgroup', '/tmp'],
             ['leaktop: error: --cgroup /tmp: /tmp is outside the cgroup2 hierarchy (mounted at %s)'
              % mount]),
            (['--cgroup', cg.path + '/../..'],
             ['leaktop: error: --cgroup %s/../..: %s is outside the cgroup2 hierarchy (mounted '
              'at %s)' % (cg.path, os.path.dirname(mount), mount)]),
            (['--unit', 'leaktop-test'],
             ["leaktop: error: --unit needs systemd, which is not running here (no "
              "/run/systemd/system); give the unit's cgroup with --cgroup"]),
            (['-p', str(os.getpid()), '--cgroup', cg.path],
             ['leaktop: give either -p PID or --cgroup PATH, not both', usage]),
            (['--comm', 'sh', '--', 'true'],
             ['leaktop: give either --comm NAME or a command to run, not both', usage]),
        ]
        if os.path.isdir('/run/systemd/system'):
            cases = [c for c in cases if c[0][0] != '--unit']
        d = tempfile.mkdtemp(prefix='leaktop-it-')
        self.addCleanup(shutil.rmtree, d)
        out = os.path.join(d, 'report.json')
        for args, lines in cases:
            with self.subTest(args=args):
                r = run_leaktop(['-f', 'json', '-o', out] + args, timeout=30)
                self.assertEqual((r.rc, r.stderr.splitlines(), r.stdout), (2, lines, ''))
                self.assertFalse(os.path.exists(out), 'a report was written')

    def test_no_follow_pid(self):
        """-p on tree's parent with --no-follow: only the parent's figures; its child and grandchild
        (each settling 300 ms after its fork) are not traced, not listed, leave no stack and no
        free counted; the tree runs to its end (each parent reaps its child: exit 0)."""
        w = self.start_workload('tree', env={'TREE_SETTLE_MS': '300'})
        t = self.start_tracer([w.pid], ['--no-follow'])
        t.wait_attached()
        w.trigger()
        _, child, grand = (int(p) for p in w.expect(r'^pids (\d+) (\d+) (\d+)$').groups())
        w.wait_done()
        self.assertEqual(w.finish(), (0, 'bye'))
        r = t.stop(sig=None, timeout=30)  # it ends with the parent, its only process
        self.assertOk(r)
        rep = r.report
        self.assertEqual(procs(rep), {w.pid: given(w.pid, 'tree', 'exited')})
        self.assertEqual(rep.data['pids'], [w.pid])
        self.assertEqual({s['pid'] for s in rep.stacks}, {w.pid})
        self.assertSites(rep, TREE_PARENT, module=workload('tree'))
        for site in TREE_CHILDREN:
            self.assertNotIn(site, rep.sites())
        self.assertEqual((rep.totals['outstanding_bytes'], rep.totals['outstanding_allocs']),
                         (19000, 4))
        self.assertEqual((rep.stats['inherited_frees'], rep.stats['unmatched_frees']), (0, 0))
        for pid in (child, grand):
            self.assertNotIn('pid %d ' % pid, r.stderr)

    def test_no_follow_command(self):
        """leaktop --no-follow -- sh -c 'leaky; echo ...': only sh is traced; the leaky it forks is
        let go (not listed, its 100 kB site absent) and runs to its end, exit 0; leaktop exits 0."""
        leaky = workload('leaky')
        r = run_command(['sh', '-c', '%s; echo "leaky exited $?"' % leaky], opts=['--no-follow', '-v'])
        rep = r.report
        self.assertEqual(r.stdout, 'leaky exited 0\n')
        p = procs(rep)
        self.assertEqual(len(p), 1, p)
        sh = list(p)[0]
        self.assertEqual(p[sh], given(sh, 'sh', 'exited'))
        self.assertEqual(rep.data['pids'], [sh])
        self.assertIn('leaktop: the command sh (pid %d) exited with status 0\n' % sh, r.stderr)
        self.assertEqual(r.stderr.count(') traced'), 1, r.stderr)
        self.assertEqual({s['pid'] for s in rep.stacks} - {sh}, set())
        self.assertNotIn('leaky_leak', rep.sites())
        self.assertNotIn(leaky, {f.get('module') for s in rep.stacks for f in s['frames']})

    def test_no_follow_command_child_not_run_yet(self):
        """leaktop --no-follow -- clone_into GROUP, the group frozen: the child is born frozen and
        its parent exits before the child has run at all. leaktop waits to let it go at its first
        stop (without the SIGSTOP the kernel queued for it when it was attached), so that once
        thawed it runs to its end, untraced (exit 0, not left stopped; not listed, no stack)."""
        root, child, r = run_orphaned_frozen_child(self, ['--no-follow'])
        rep = r.report
        self.assertEqual(procs(rep), {root: given(root, 'clone_into', 'exited')})
        self.assertEqual(rep.stacks, [])
        self.assertNotIn('pid %d ' % child, r.stderr)
