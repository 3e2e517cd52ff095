"""test_follow.py: processes forked or exec'd after tracing began are traced: a command's process
tree (held under ptrace until its probes are in place), -p with its followed children, execs in
both modes, a library loaded just before the exit, a child that first runs after its parent has
exited, and what the reports say about each process."""
import os
import re
import shutil
import signal
import tempfile
import time

from harness import LeaktopTestCase, Report, marker_line, run_command, workload
from services import Cgroup, adopt_orphans, kill_orphan, run_orphaned_frozen_child, wait_exit

# tests/workloads/tree.c, per process
TREE_PARENT = {'tree_inherited': (7000, 1), 'tree_leak_parent': (12000, 3)}
TREE_CHILD = {'tree_leak_child': (10000, 2)}
TREE_GRANDCHILD = {'tree_leak_grandchild': (6000, 1)}
LEAKY = {'leaky_leak': (100000, 100)}
# tests/workloads/clone_into.c, the child
CLONE_INTO_CHILD = {'clone_into_leak': (8000, 2)}


def for_pid(rep, pid):
    data = dict(rep.data)
    data['stacks'] = [s for s in rep.stacks if s.get('pid') == pid]
    return Report(data)


def stopped_processes():
    """(pid, comm) of every process in state T (stopped) on the machine."""
    out = []
    for d in os.listdir('/proc'):
        try:
            with open('/proc/%s/stat' % d) as f:
                comm, rest = f.read().rsplit(')', 1)
        except (OSError, ValueError):
            continue
        if rest.split()[0] == 'T':
            out.append((int(d), comm.split('(', 1)[1]))
    return out


def procs(rep):
    return {p['pid']: p for p in rep.data['processes']}


class Follow(LeaktopTestCase):

    def assertFirstFrame(self, rep, function, src):
        f = rep.site(function).stacks[0]['frames'][0]
        self.assertEqual((os.path.basename(f.get('file') or ''), f.get('line')),
                         (src, marker_line(src, 'SITE:' + function)), f)

    def assertTree(self, rep, root):
        """The tree's three processes, each with its own sites and nothing of the others'."""
        p = procs(rep)
        self.assertEqual(len(p), 3, p)
        self.assertEqual(p[root]['followed'], False)
        child = [q for q in p.values() if q['ppid'] == root]
        self.assertEqual(len(child), 1, p)
        grand = [q for q in p.values() if q['ppid'] == child[0]['pid']]
        self.assertEqual(len(grand), 1, p)
        for q, sites in ((p[root], TREE_PARENT), (child[0], TREE_CHILD), (grand[0], TREE_GRANDCHILD)):
            self.assertEqual((q['comm'], q['state']), ('tree', 'exited'), q)
            self.assertSites(for_pid(rep, q['pid']), sites)
            self.assertEqual(sum(s['outstanding_bytes'] for s in rep.stacks if s['pid'] == q['pid']),
                             sum(b for b, _ in sites.values()), rep.summary())
        self.assertEqual(sorted(rep.data['pids']), sorted(p))
        # the child frees its copy of the parent's block: no loss, and the parent keeps its 7000
        self.assertEqual((rep.stats['inherited_frees'], rep.stats['unmatched_frees']), (1, 0))
        self.assertFirstFrame(rep, 'tree_leak_grandchild', 'tree.c')
        return child[0]['pid'], grand[0]['pid']

    def test_command_tree(self):
        """leaktop -- tree: three levels, each process with its exact figures, nothing lost."""
        r = run_command([workload('tree')])
        rep = r.report
        root = rep.data['processes'][0]['pid']
        child, grand = self.assertTree(rep, root)
        p = procs(rep)
        self.assertEqual([p[x]['gap_s'] for x in (root, child, grand)], [0, 0, 0],
                         'held processes never run untraced')
        self.assertEqual(rep.totals['outstanding_bytes'], 35000)
        self.assertEqual(rep.totals['outstanding_allocs'], 7)

    def test_command_sh_c(self):
        """leaktop -- sh -c 'leaky; true': dash forks the child that leaks; its 100 kB are there."""
        r = run_command(['sh', '-c', workload('leaky') + '; true'])
        rep = r.report
        p = procs(rep)
        self.assertEqual(len(p), 2, p)
        sh, child = sorted(p.values(), key=lambda q: q['ppid'])
        self.assertEqual((sh['comm'], sh['followed'], sh['execs']), ('sh', False, 0))
        self.assertEqual((child['ppid'], child['followed'], child['execs'], child['comm']),
                         (sh['pid'], True, 1, 'leaky'))
        self.assertSites(for_pid(rep, child['pid']), LEAKY, module=workload('leaky'))
        self.assertFirstFrame(rep, 'leaky_leak', 'leaky.c')

    def test_command_text_header(self):
        """The text report says which processes were traced, followed and exited."""
        r = run_command(['sh', '-c', workload('leaky') + '; true'], fmt='text')
        self.assertIn('\nprocesses: 0 traced (1 given, 1 followed), 2 exited, 1 exec\n', r.output)

    def test_command_exec_chain(self):
        """leaktop -- exec_first: the site before the exec named in exec_first, the one after in
        exec_second, one process with one exec."""
        r = run_command([workload('exec_first')])
        rep = r.report
        self.assertEqual(len(rep.data['processes']), 1)
        self.assertEqual(rep.data['processes'][0]['execs'], 1)
        self.assertSites(rep, {'exec_first_leak': (10000, 4)}, module=workload('exec_first'))
        self.assertSites(rep, {'exec_second_leak': (7000, 2)}, module=workload('exec_second'))
        self.assertFirstFrame(rep, 'exec_first_leak', 'exec_first.c')
        self.assertFirstFrame(rep, 'exec_second_leak', 'exec_second.c')
        self.assertEqual(rep.totals['outstanding_bytes'], 17000)

    def test_command_dlopen_then_exit(self):
        """A library loaded moments before the process exits: its frames named all the same."""
        r = run_command([workload('dlopen_exit')])
        rep = r.report
        lib = workload('libdlsite.so')
        self.assertSites(rep, {'dl_leak_block': (19629, 3), 'dl_leak_calloc': (5000, 1)}, module=lib)
        self.assertFirstFrame(rep, 'dl_leak_block', 'libdlsite.c')

    def test_attach_dlopen_then_exit(self):
        """-p on dlopen_exit: it loads a library, leaks through it and exits at once, before
        leaktop has read its mappings again: the BPF side tells the mappings at the exit, and the
        frames are named all the same."""
        w = self.start_workload('dlopen_exit')
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        self.assertEqual(w.proc.wait(30), 0)
        r = t.stop(sig=None, timeout=30)
        self.assertOk(r)
        lib = workload('libdlsite.so')
        self.assertSites(r.report, {'dl_leak_block': (19629, 3), 'dl_leak_calloc': (5000, 1)},
                         module=lib)
        self.assertFirstFrame(r.report, 'dl_leak_block', 'libdlsite.c')
        self.assertFirstFrame(r.report, 'dl_leak_calloc', 'libdlsite.c')

    def test_attach_follows_forks(self):
        """-p on the tree's parent: its child and grandchild, forked after attach, are followed;
        each settles 300 ms after its fork, past the gap until its probes are in place."""
        w = self.start_workload('tree', env=dict(os.environ, TREE_SETTLE_MS='300'))
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.expect(r'^pids ')
        w.wait_done()
        self.assertEqual(w.finish(), (0, 'bye'))
        r = t.stop(sig=None, timeout=30)
        self.assertOk(r)
        rep = r.report
        child, grand = self.assertTree(rep, w.pid)
        p = procs(rep)
        self.assertEqual(p[w.pid]['gap_s'], 0)
        for q in (child, grand):
            self.assertGreater(p[q]['gap_s'], 0, 'a followed process runs untraced for a while')
            self.assertLess(p[q]['gap_s'], 0.3, 'its probes were in place before it settled')

    def test_attach_exec(self):
        """-p on exec_first: after its exec, exec_second's site is seen and named (the probes in
        the libraries it maps again stayed in place)."""
        w = self.start_workload('exec_first')
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        self.assertEqual(w.finish(), (0, 'bye'))
        r = t.stop(sig=None, timeout=30)
        self.assertOk(r)
        rep = r.report
        self.assertSites(rep, {'exec_first_leak': (10000, 4)}, module=workload('exec_first'))
        self.assertSites(rep, {'exec_second_leak': (7000, 2)}, module=workload('exec_second'))
        self.assertFirstFrame(rep, 'exec_second_leak', 'exec_second.c')
        self.assertEqual(procs(rep)[w.pid]['execs'], 1)

    def test_pid_list_with_a_dead_pid(self):
        """-p with one live pid and one that has exited: the live one is traced, the other named."""
        dead = os.fork()
        if dead == 0:
            os._exit(0)
        os.waitpid(dead, 0)
        w = self.start_workload('simple')
        t = self.start_tracer([w.pid, dead])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        self.assertIn('pid %d skipped: no such process' % dead, r.stderr)
        p = procs(r.report)
        self.assertEqual(p[dead]['state'], 'not traced')
        self.assertEqual(p[dead]['reason'], 'exited before it could be traced')
        self.assertEqual(r.report.data['pids'], [w.pid])
        self.assertSites(r.report, {'simple_malloc': (6000, 4)})
        w.finish()

    def test_command_child_runs_after_its_parent_exits(self):
        """leaktop -- clone_into GROUP, the group frozen: the child is born frozen, and its parent
        exits before the child has run at all. The run goes on while the child waits (it is of the
        command's tree); once thawed, it is traced from its first instruction (its exact figures),
        runs to its end (exit 0: not left stopped), and the run ends with it."""
        root, child, r = run_orphaned_frozen_child(self, [])
        rep = r.report
        self.assertEqual(procs(rep)[child], {'pid': child, 'nspid': child, 'ppid': root,
                                             'comm': 'clone_into', 'state': 'exited',
                                             'followed': True, 'execs': 0, 'gap_s': 0})
        self.assertEqual(sorted(procs(rep)), [root, child])
        self.assertSites(for_pid(rep, child), CLONE_INTO_CHILD, module=workload('clone_into'))
        self.assertFirstFrame(rep, 'clone_into_leak', 'clone_into.c')
        self.assertEqual((rep.totals['outstanding_bytes'], rep.totals['outstanding_allocs']),
                         (8000, 2))

    def test_command_duration_ends_amid_forks(self):
        """leaktop -d ends while the command forks without pause (a shell running /bin/true): a
        fork whose event leaktop has not read yet has a child with the SIGSTOP of its attach
        pending. leaktop stops the tree and reads those events before letting go, so every process
        runs to its end: the loop finishes and no process of it is left stopped. Six runs, each
        ended at another moment (the race it checks came in 1 run of 6 before)."""
        loop = 'i=0; while [ $i -lt 800 ]; do /bin/true; i=$((i+1)); done; echo done > %s'
        tmp = tempfile.mkdtemp(prefix='leaktop-forks-')
        self.addCleanup(shutil.rmtree, tmp, True)
        for n in range(6):
            done = os.path.join(tmp, 'done%d' % n)
            r = run_command(['sh', '-c', loop % done], opts=('-d', '0.%d' % (1 + n % 9)))
            self.assertEqual(r.rc, 0, r.describe())
            deadline = time.monotonic() + 30
            while not os.path.exists(done) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(done), 'run %d: the loop never finished; stopped: %s'
                            % (n, stopped_processes()))

    def test_command_duration_ends_before_a_child_ran(self):
        """leaktop -d 1 -- clone_into GROUP, the group frozen: -d ends the run while the child,
        born frozen, has not run yet. leaktop lets it go without the SIGSTOP the kernel queued for
        it when it was attached, so that once thawed it runs to its end, untraced (exit 0: not
        left stopped). The report lists it as traced, with no stack."""
        adopt_orphans(self)
        cg = Cgroup(self)
        cg.freeze()
        t = self.start_tracer(target=[], opts=['-d', '1', '--', workload('clone_into'), cg.path])
        r = t.stop(sig=None, timeout=30)
        self.assertOk(r)
        (child,) = cg.procs()
        self.addCleanup(kill_orphan, child)
        cg.freeze(False)
        self.assertEqual(wait_exit(child, 10), 0)
        rep = r.report
        root = int(re.search(r'the command .* \(pid (\d+)\) exited with status \d+\n', r.stderr).group(1))
        self.assertEqual(procs(rep)[child], {'pid': child, 'nspid': child, 'ppid': root,
                                             'comm': 'clone_into', 'state': 'traced',
                                             'followed': True, 'execs': 0, 'gap_s': 0})
        self.assertEqual(rep.stacks, [])
