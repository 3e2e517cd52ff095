"""test_losses.py: every loss counter can become non-zero, with the exact count its cause gives (two
faults are made on purpose: a thread without per-thread state, which the kernel alone can cause, and
a stack scratch another task holds, which needs a preemption at the right instant); the
stack tables follow the live set (a late leak after a flood of transient stacks is found); frees the
allocator makes of its own blocks are told apart from frees of blocks allocated before attach."""
import glob
import os
import signal
import subprocess
import tempfile
import time

from harness import CONFIG, LeaktopTestCase, Tracer, marker_line, run_command, workload

BLOCK = 777  # tests/workloads/recursion.c


class Losses(LeaktopTestCase):

    def recursion(self, args, opts, env=None):
        """recursion -w ARGS traced by leaktop -p OPTS (ENV for leaktop); returns the report."""
        w = self.start_workload('recursion', args)
        t = Tracer([w.pid], opts, env=env)
        self.addCleanup(t.close)
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        self.assertEqual(w.finish()[0], 0)
        return r

    def test_full_stack_table(self):
        """--max-stacks 16 and 40 stacks that all hold a block: 16 get their entry, the other 24
        are counted under the unknown stack, in lost_stacks and stack_table_full; none dropped."""
        rep = self.recursion(['1', '40'], ['--max-stacks', '16']).report
        self.assertEqual((rep.stats['lost_stacks'], rep.stats['stack_table_full']), (24, 24),
                         rep.summary())
        self.assertEqual(rep.stats['dropped_allocs'], 0)
        self.assertSites(rep, {'bottom': (16 * BLOCK, 16), None: (24 * BLOCK, 24)})
        self.assertEqual(rep.totals['outstanding_bytes'], 40 * BLOCK)

    def test_truncated_stacks(self):
        """Three allocations 100 calls deep: each stack is cut at 64 frames and counted, with frame
        and DWARF unwinding; 30 calls deep nothing is cut."""
        for unwind in ('fp', 'dwarf'):
            with self.subTest(unwind=unwind):
                rep = self.recursion(['100', '3'], ['--unwind', unwind]).report
                self.assertEqual(rep.stats['truncated_stacks'], 3, rep.summary())
                s = self.assertSite(rep, 'bottom', 3 * BLOCK, 3)
                frames = s.stacks[0]['frames']
                self.assertEqual(len(frames), 64)
                self.assertEqual([f.get('function') for f in frames], ['bottom'] + ['dig'] * 63)
                self.assertEqual(frames[1].get('line'), marker_line('recursion.c', 'CALL:bottom'))
                rep = self.recursion(['30', '3'], ['--unwind', unwind]).report
                self.assertEqual(rep.stats['truncated_stacks'], 0, rep.summary())
                self.assertSite(rep, 'bottom', 3 * BLOCK, 3)

    def test_unwind_not_ready(self):
        """A process whose unwind tables cannot be published (an injected map-update failure):
        leaktop says so once, and each of its 5 stacks, walked by frame pointers, is counted."""
        env = dict(os.environ)
        env['LD_PRELOAD'] = workload('libltfault.so')
        env['LT_FAULT_MAP_UPDATE'] = 'unwind_procs'
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'
        r = self.recursion(['1', '5'], ['--unwind', 'dwarf'], env=env)
        self.assertRegex(r.stderr, r'warning: no unwind tables for pid \d+ \(Input/output error\)')
        self.assertEqual(r.report.stats['unwind_not_ready'], 5, r.report.summary())
        self.assertSite(r.report, 'bottom', 5 * BLOCK, 5)

    def test_dropped_allocs(self):
        """--max-allocs 10 and 40 blocks held: 10 recorded, 30 dropped and counted."""
        rep = self.recursion(['1', '40'], ['--max-allocs', '10']).report
        self.assertEqual(rep.stats['dropped_allocs'], 30, rep.summary())
        self.assertSite(rep, 'bottom', 10 * BLOCK, 10)

    def test_thread_state_full(self):
        """A thread that gets no per-thread state (a fault the BPF side makes on purpose, from
        LEAKTOP_FAULT): each of its 5 allocator calls is counted as not seen."""
        env = dict(os.environ)
        env['LEAKTOP_FAULT'] = 'thread_state'
        rep = self.recursion(['1', '5'], [], env=env).report
        self.assertEqual(rep.stats['thread_state_full'], 5, rep.summary())
        self.assertNoSite(rep, 'bottom')

    def test_scratch_busy(self):
        """Every capture finds the CPU's stack scratch taken (a fault the BPF side makes on
        purpose: on a kernel with full preemption, a task preempted inside a capture holds it),
        with frame and DWARF unwinding: the 5 blocks are counted under the unknown stack, in
        scratch_busy and lost_stacks, none dropped."""
        env = dict(os.environ)
        env['LEAKTOP_FAULT'] = 'scratch_busy'
        for unwind in ('fp', 'dwarf'):
            with self.subTest(unwind=unwind):
                rep = self.recursion(['1', '5'], ['--unwind', unwind], env=env).report
                self.assertEqual((rep.stats['scratch_busy'], rep.stats['lost_stacks']), (5, 5),
                                 rep.summary())
                self.assertEqual(rep.stats['dropped_allocs'], 0)
                self.assertSites(rep, {None: (5 * BLOCK, 5)})

    def test_unwind_cuts_by_cause(self):
        """With the CFI tables, 4 allocations under a trampoline without CFI, one whose CFA is in
        rbx, one whose frame is unreadable, and (for the table) a row table too small for libc:
        each cause counted once per stack, and the stacks cut right there."""
        for kind, counter in (('nocfi', 'unwind_no_cfi'), ('stoprow', 'unwind_stop_row'),
                              ('badframe', 'unwind_read_failed')):
            with self.subTest(kind=kind):
                w = self.start_workload('unwinds', [kind, '4'])
                t = self.start_tracer([w.pid], ['--unwind', 'dwarf'])
                t.wait_attached()
                w.trigger()
                w.wait_done()
                r = t.stop(signal.SIGINT)
                self.assertOk(r)
                rep = r.report
                cut = {k: v for k, v in rep.stats.items() if k.startswith('unwind_') and v}
                self.assertEqual(cut, {counter: 4}, rep.summary())
                s = self.assertSite(rep, 'unw_alloc', 4 * 555, 4)
                self.assertEqual([f.get('function') for f in s.stacks[0]['frames']],
                                 ['unw_alloc', 'tramp_' + kind])
                self.assertEqual(w.finish()[0], 0)
        r = self.recursion(['1', '5'], ['--unwind', 'dwarf', '--unwind-rows', '1000'])
        self.assertRegex(r.stderr, r'warning: unwind row table full \(--unwind-rows 1000\): '
                                   r'\S*libc\.so\.6 and later objects get no unwind table')
        self.assertEqual(r.report.stats['unwind_no_table'], 5, r.report.summary())
        # Cut at libc's first frame: its caller (__libc_start_main, then _start) needs its table.
        depths = sorted([f.get('function') for f in st['frames']].count('dig')
                        for st in r.report.site('bottom').stacks)
        self.assertEqual(depths, [2, 3, 4, 5, 6])
        for st in r.report.site('bottom').stacks:
            self.assertEqual([f.get('function') for f in st['frames']][-2:],
                             ['main', '__libc_start_call_main'])

    def test_missed_returns(self):
        """An allocator library whose operator new leaves through an indirect jump: leaktop says it
        cannot find its exits; of 10 calls, the 9 it finds left behind (each at the next call)
        are counted as missed returns, and none is recorded."""
        env = dict(os.environ)
        env['LD_PRELOAD'] = workload('libxnew.so')
        w = self.start_workload('newloop', ['10'], env=env)
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        self.assertRegex(r.stderr, r'warning: cannot find where _Znwm in \S*libxnew\.so returns: '
                                   r'its allocations are not recorded')
        self.assertEqual(r.report.stats['missed_returns'], 9, r.report.summary())
        self.assertNoSite(r.report, 'new_many()')
        self.assertEqual(w.finish()[0], 0)

    def test_allocator_frees_in_command_mode(self):
        """Command mode allocates nothing before attach: glibc's per-thread caches, flushed at
        each of the 4 threads' exit (one cached block and the cache itself), are the allocator's
        own frees, not frees of blocks allocated before attach."""
        r = run_command([workload('threads')])
        self.assertEqual(r.report.stats['unmatched_frees'], 0, r.report.summary())
        self.assertEqual(r.report.stats['allocator_frees'], 8, r.report.summary())
        r = run_command([workload('threads')], fmt='text')
        self.assertIn(', 8 frees by the allocator of blocks it keeps for itself', r.output)
        self.assertNotIn('allocated before attach', r.output)


class Eviction(LeaktopTestCase):

    def test_late_leak_after_a_flood_of_stacks(self):
        """In compressed time: 8 s of transient stacks (every path of a 2^20-path call tree, each
        one malloc and free) with --max-stacks 2000, a 3 s pause, then a leak from a new stack:
        the next profile read after it shows the leak exactly (50 blocks, 50000 B); a stack that
        allocated before and after the flood (its entries in two epochs) is one stack there."""
        d = tempfile.mkdtemp(prefix='leaktop-evict-')
        self.addCleanup(lambda: subprocess.run(['rm', '-rf', d]))
        w = self.start_workload('transient', ['8', '3', '20'])
        t = subprocess.Popen([CONFIG.leaktop, 'record', '-vv', '--dir', d, '--interval', '1',
                              '--max-stacks', '2000', '-p', str(w.pid)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: t.poll() is None and t.kill())
        err = ''
        while 'probes attached' not in err:
            line = t.stderr.readline()
            self.assertTrue(line, 'leaktop record ended before attaching: %s' % err)
            err += line
        w.trigger()
        paths = int(w.expect(r'^paths (\d+)$', timeout=60).group(1))
        w.wait_done()
        done = time.time()
        # A profile written just after "done" may have been read just before it: the second one
        # written after it was read after it.
        newer = []
        deadline = time.time() + 10
        while len(newer) < 2 and time.time() < deadline:
            time.sleep(0.2)
            newer = [p for p in glob.glob(os.path.join(d, '*.pb.gz'))
                     if os.path.getmtime(p) > done]
        t.send_signal(signal.SIGTERM)
        err += t.communicate(timeout=60)[1]
        self.assertEqual(t.returncode, 0, err[-2000:])
        self.assertEqual(len(newer), 2, 'no profile after the leak')
        self.assertGreater(paths, 200 * 2000, 'the flood was too small to test eviction')
        first = sorted(newer)[1]
        for index, want in (('inuse_space', '50000B'), ('inuse_objects', '50')):
            out = subprocess.run(['go', 'tool', 'pprof', '-top', '-sample_index=' + index,
                                  '-unit=B' if index == 'inuse_space' else '-unit=count', first],
                                 capture_output=True, text=True, timeout=120).stdout
            rows = [l.split() for l in out.splitlines() if l.strip().endswith('late_leak')]
            self.assertEqual(len(rows), 1, out)
            self.assertEqual(rows[0][0], want, out)
        # One stack allocated before the flood and after it: entries in two epochs, one sample.
        self.assertIn('stack epoch 1:', err)
        for index, want in (('inuse_space', '12000B'), ('inuse_objects', '40')):
            out = subprocess.run(['go', 'tool', 'pprof', '-traces', '-sample_index=' + index,
                                  '-unit=B' if index == 'inuse_space' else '-unit=count', first],
                                 capture_output=True, text=True, timeout=120).stdout
            traces = [t.split() for t in out.split('-----------+') if 'epoch_leak' in t]
            self.assertEqual(len(traces), 1, out)
            self.assertEqual(traces[0][traces[0].index('epoch_leak') - 1], want, out)
        self.assertEqual(w.finish()[0], 0)
