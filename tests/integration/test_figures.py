"""test_figures.py: command mode (leaktop -- WORKLOAD): exact figures per allocation site at exit.

The expected figures are the ones each workload's header comment states (tests/workloads/*.c).
"""
import gzip
import os
import re
import unittest

from harness import LeaktopTestCase, Report, marker_line, run_command, run_leaktop, workload

BASIC = {
    'leak_malloc': (5000, 5),
    'partial_malloc': (12000, 6),
    'leak_calloc': (6300, 3),
    'chain_start': (0, 0),
    'grow_chain': (12000, 1),
    'realloc_null': (8642, 2),
    'realloc_zero_victim': (0, 0),
    'realloc_to_zero': (0, 0),
    'leak_reallocarray': (2250, 1),
    'leak_posix_memalign': (8000, 2),
    'bad_posix_memalign': (0, 0),
    'leak_aligned_alloc': (6144, 3),
    'leak_memalign': (2600, 2),
    'leak_valloc': (5200, 1),
    'leak_pvalloc': (12288, 2),
    'failing_malloc': (0, 0),
    'failing_calloc': (0, 0),
    'free_null': (0, 0),
}


def kernel_config():
    """The running kernel's configuration (/proc/config.gz, /boot/config-RELEASE), or None."""
    try:
        with gzip.open('/proc/config.gz', 'rt') as f:
            return f.read()
    except OSError:
        pass
    try:
        with open('/boot/config-' + os.uname().release) as f:
            return f.read()
    except OSError:
        return None


class CommandModeFigures(LeaktopTestCase):

    def test_every_entry_point(self):
        """malloc, calloc, realloc chains, realloc(NULL)/(p,0), reallocarray, posix_memalign (good and
        bad), aligned_alloc, memalign, valloc, pvalloc, partial frees, free(NULL), failed allocations."""
        r = run_command([workload('basic')])
        rep = r.report
        self.assertSites(rep, BASIC, module=workload('basic'))
        # allocations since start, where one stack holds them all
        self.assertSite(rep, 'partial_malloc', 12000, 6, total_allocs=10)
        self.assertSite(rep, 'grow_chain', 12000, 1, total_allocs=4)
        # every free in basic matches a traced allocation: nothing may count as unmatched
        self.assertEqual(rep.stats.get('unmatched_frees'), 0, rep.summary())
        self.assertEqual(rep.stats.get('dropped_allocs'), 0, rep.summary())
        self.assertEqual(len(rep.data['pids']), 1)
        self.assertTrue(all(st['pid'] == rep.data['pids'][0] for st in rep.stacks))
        # the totals are the sum of the stacks (-n 0 lists them all)
        self.assertEqual(rep.totals['outstanding_bytes'], sum(s['outstanding_bytes'] for s in rep.stacks))
        self.assertEqual(rep.totals['outstanding_allocs'], sum(s['outstanding_allocs'] for s in rep.stacks))
        # sorted by outstanding_bytes, largest first
        sizes = [s['outstanding_bytes'] for s in rep.stacks]
        self.assertEqual(sizes, sorted(sizes, reverse=True))
        # the allocator's own code is never an allocation site
        for st in rep.stacks:
            self.assertNotIn(Report.site_name(st), ('malloc', 'calloc', 'realloc', 'reallocarray', 'free',
                                               'posix_memalign', 'aligned_alloc', 'memalign', 'valloc',
                                               'pvalloc', '__libc_malloc', '_mid_memalign'),
                             'an allocator frame as frames[0]\n' + rep.summary())

    def test_site_file_and_line(self):
        """frames[0].file/line come from DWARF: the line of the allocation call (SITE: markers)."""
        rep = run_command([workload('basic')]).report
        for fn in ('leak_malloc', 'leak_calloc', 'grow_chain', 'leak_pvalloc', 'leak_posix_memalign'):
            with self.subTest(site=fn):
                s = rep.site(fn)
                self.assertTrue(s.stacks, 'no stack for %s\n%s' % (fn, rep.summary()))
                want = marker_line('basic.c', 'SITE:' + fn)
                got = {(os.path.basename(st['frames'][0].get('file') or ''), st['frames'][0].get('line'))
                       for st in s.stacks}
                self.assertEqual(got, {('basic.c', want)})

    def test_churn_frees_everything(self):
        """200000 malloc/free pairs: nothing outstanding at the churn site; the one kept block is seen."""
        rep = run_command([workload('churn')]).report
        self.assertSite(rep, 'churn_keep', 999, 1, module=workload('churn'))
        self.assertNoSite(rep, 'churn_alloc')
        for st in rep.site('churn_alloc').stacks:  # listed only if the tool keeps empty stacks
            self.assertEqual(st['allocs'], 200000)
        # The program allocates nothing else (its libc start-up does not either): the totals are
        # the churn's 200000 blocks and frees, plus the kept block, and their bytes replay the
        # workload's generator (tests/workloads/churn.c).
        self.assertEqual((rep.totals['allocs'], rep.totals['frees']), (200001, 200000), rep.summary())
        seed, churn_bytes = 12345, 0
        for _ in range(200000):
            seed = (seed * 1103515245 + 12345) & 0xffffffff
            churn_bytes += 16 + (seed >> 8) % 4096
        self.assertEqual(rep.totals['alloc_bytes'], churn_bytes + 999, rep.summary())
        self.assertEqual((rep.totals['outstanding_bytes'], rep.totals['outstanding_allocs']), (999, 1),
                         rep.summary())
        self.assertEqual(rep.stats.get('dropped_allocs'), 0, rep.summary())
        self.assertEqual(rep.stats.get('unmatched_frees'), 0, rep.summary())

    def test_four_threads(self):
        rep = run_command([workload('threads')]).report
        self.assertSites(rep, {
            'thread_leak_1': (3333, 3),
            'thread_leak_2': (11110, 5),
            'thread_leak_3': (23331, 7),
            'thread_leak_4': (39996, 9),
            'thread_churn': (0, 0),
        }, module=workload('threads'))
        # (no unmatched_frees assertion here: at thread exit glibc frees its tcache, which it allocated
        # through an internal path that no entry point sees)

    def test_cxx_demangled_and_counted_once(self):
        """new/new[]/nothrow/aligned new, demangled method names; each new counted once, not again
        for the malloc inside libstdc++."""
        rep = run_command([workload('cxx')]).report
        self.assertSites(rep, {
            'app::Cache::fill(int)': (600, 3),
            'app::Cache::fill_array(int)': (3000, 1),
            'app::Cache::fill_nothrow(int)': (960, 3),
            'app::Cache::fill_nothrow_array(int)': (1700, 1),
            'app::Cache::fill_aligned(int)': (896, 2),
            'app::Cache::fill_aligned_array(int)': (1280, 1),
            'app::Cache::fill_aligned_nothrow(int)': (1536, 2),
            'app::Cache::fail_nothrow()': (0, 0),
        }, module=workload('cxx'))
        for name in rep.sites():
            self.assertFalse(name and name.startswith('operator new'),
                             'operator new as an allocation site: %s\n%s' % (name, rep.summary()))
        # each delete matched its new exactly once
        self.assertEqual(rep.stats.get('unmatched_frees'), 0, rep.summary())

    def test_command_mode_sees_library_constructors(self):
        """Traced from the first instruction: libstdc++'s constructor allocates its emergency exception
        pool (72704 B with Debian 12's libstdc++) before the program's entry point; it must be seen
        (without the default suppressions, which drop it: test_gate.py)."""
        rep = run_command([workload('cxx')], opts=['--no-default-suppressions']).report
        pool = [st for st in rep.stacks if st['frames'] and st['outstanding_bytes'] == 72704
                and os.path.basename(st['frames'][0].get('module') or '').startswith('libstdc++')]
        self.assertEqual(len(pool), 1, 'no 72704 B block allocated by libstdc++ at load time\n' + rep.summary())

    def test_command_mode_passes_arguments(self):
        rep = run_command([workload('args'), '3', '1000', 'hello world']).report
        self.assertSites(rep, {'leak_args': (3000, 3), 'dup_arg': (12, 1)}, module=workload('args'))
        rep = run_command([workload('args'), '7', '333']).report
        self.assertSites(rep, {'leak_args': (2331, 7), 'dup_arg': (0, 0)})

    def test_deep_chain_frames(self):
        """frames of the leak at the bottom of main -> a -> b -> c -> d: d, c, b, a, main in that order,
        each on the line of its call."""
        rep = run_command([workload('deep')]).report
        s = self.assertSite(rep, 'd', 13701, 3, module=workload('deep'))
        self.assertEqual(len(s.stacks), 1, rep.summary())
        frames = s.stacks[0]['frames']
        self.assertGreaterEqual(len(frames), 5, frames)
        self.assertEqual([f.get('function') for f in frames[:5]], ['d', 'c', 'b', 'a', 'main'])
        want = [marker_line('deep.c', m) for m in ('SITE:d', 'CALL:d', 'CALL:c', 'CALL:b', 'CALL:a')]
        self.assertEqual([(os.path.basename(f.get('file') or ''), f.get('line')) for f in frames[:5]],
                         [('deep.c', n) for n in want])

    def test_static_binary(self):
        """A static executable: malloc is found in its own symbol table."""
        rep = run_command([workload('leak_static')]).report
        self.assertSites(rep, {
            'static_leak': (9499, 7),
            'static_calloc': (3000, 1),
            'static_churn': (0, 0),
        }, module=workload('leak_static'))
        s = rep.site('static_leak')
        self.assertEqual({(os.path.basename(st['frames'][0].get('file') or ''), st['frames'][0].get('line'))
                          for st in s.stacks}, {('leak_static.c', marker_line('leak_static.c',
                                                                                 'SITE:static_leak'))})

    def test_min_age(self):
        """aging 2: sets of blocks 2 s apart, aging_mixed's on one stack both times; read at exit from
        the stacks' age slots (no reading looks at the live blocks: bpf/ages.h). --min-age 1 counts
        exactly the sets from before the gap: 3 of aging_mixed's 5 blocks. OLDEST is exact while a
        stack's first block lives: aging_old's set lies late in one slot window and aging_mixed's
        early in the next, and their ages in one reading differ by the time between them, as the
        workload's clock tells it, not by a window."""
        r = run_command([workload('aging'), '2'], opts=['--min-age', '1'])
        rep = r.report
        t = {m.group(1): int(m.group(2)) / 1e9 for m in re.finditer(r'(?m)^aging: (\w+) (\d+)$', r.stderr)}
        self.assertSites(rep, {'aging_old': (8192, 4), 'aging_mixed': (3072, 3), 'aging_young': (0, 0),
                               'aging_gone': (0, 0)}, module=workload('aging'))
        self.assertSite(rep, 'aging_mixed', 3072, 3, total_allocs=5)
        self.assertEqual(len(rep.site('aging_mixed').stacks), 1)
        old = rep.site('aging_old').stacks[0]['oldest_age_s']
        mixed = rep.site('aging_mixed').stacks[0]['oldest_age_s']
        # The workload reads its clock just before a set's first malloc; the probe's time is the
        # malloc's return, microseconds later (more if the workload is preempted in between). Ages
        # from the windows' starts would differ by 268 ms, the true ones by about 78.
        self.assertAlmostEqual(old - mixed, t['mixed'] - t['old'], delta=0.1)
        self.assertGreaterEqual(old, t['end'] - t['old'])
        self.assertLess(old, t['end'] - t['old'] + 30)

    def test_block_times_step_by_the_tick(self):
        """The programs time a block by the kernel's tick count (src/trace/tickclock.c): -v names the
        HZ measured, which is the kernel's own (its configuration, when the kernel tells it). Two
        blocks' times then differ by a whole number of ticks, to the nanosecond (OLDEST is exact while
        a stack's first block lives), and by the workload's own clock to within a tick: aging_old's
        first block and aging_mixed's, 2 s apart."""
        r = run_command([workload('aging'), '2'], opts=['-v'])
        m = re.search(r"block times from the kernel's tick: HZ (\d+), ", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        hz = int(m.group(1))
        config = kernel_config()
        if config:
            self.assertIn('CONFIG_HZ=%d\n' % hz, config)
        tick_ns = (10 ** 9 + hz // 2) // hz
        t = {m.group(1): int(m.group(2)) for m in re.finditer(r'(?m)^aging: (\w+) (\d+)$', r.stderr)}
        old = r.report.site('aging_old').stacks[0]['oldest_age_s']
        mixed = r.report.site('aging_mixed').stacks[0]['oldest_age_s']
        between = round((old - mixed) * 1e9)
        self.assertEqual(between % tick_ns, 0, (between, tick_ns))
        # each block's time is early by less than a tick; the malloc follows its clock read by
        # microseconds (20 ms allowed for a preemption in between on a busy machine)
        self.assertLess(abs(between - (t['mixed'] - t['old'])), tick_ns + 20000000,
                        (between, t['mixed'] - t['old']))

    def test_freed_stack_has_no_age(self):
        """aging 0 1000 in --batch frames: once aging_gone's blocks are freed its row shows 0 B, 0
        blocks and no OLDEST; the stacks that hold blocks show theirs."""
        r = run_leaktop(['--batch', '-i', '0.3', '--', workload('aging'), '0', '1000'], timeout=60)
        self.assertEqual(r.rc, 0, r.describe())
        last = r.stdout.split('\nleaktop ')[-1]
        rows = {m.group(6): m.groups() for m in re.finditer(
            r'(?m)^\s+(\S+ \S*B)\s+(\d+)\s+(\S+ \S+)\s+(\S+)\s+(\S+)\s+(aging_\w+) ', last)}
        self.assertEqual(rows['aging_gone'][:2], ('0 B', '0'), last)
        self.assertEqual(rows['aging_gone'][4], '-', last)
        self.assertEqual(rows['aging_old'][:2], ('8.0 KiB', '4'), last)
        self.assertRegex(rows['aging_old'][4], r'^\d\.\ds$', last)

    def test_size_filters(self):
        """--min-size 50 --max-size 5000 keeps only blocks of 50..5000 bytes."""
        rep = run_command([workload('sizes')], opts=['--min-size', '50', '--max-size', '5000']).report
        self.assertSites(rep, {
            'size_tiny': (0, 0),
            'size_small': (800, 8),
            'size_medium': (6000, 6),
            'size_large': (0, 0),
            'size_huge': (0, 0),
            'size_mixed': (3300, 2),
        }, module=workload('sizes'))
        rep = run_command([workload('sizes')], opts=['--min-size', '2000']).report
        self.assertSites(rep, {
            'size_tiny': (0, 0),
            'size_small': (0, 0),
            'size_medium': (0, 0),
            'size_large': (40000, 4),
            'size_huge': (400000, 2),
            'size_mixed': (3000, 1),
        })

    def test_size_filter_bounds_inclusive(self):
        """--min-size 1000 --max-size 10000: both bounds are inclusive (1000 and 10000 are kept)."""
        rep = run_command([workload('sizes')], opts=['--min-size', '1000', '--max-size', '10000']).report
        self.assertSites(rep, {
            'size_tiny': (0, 0),
            'size_small': (0, 0),
            'size_medium': (6000, 6),
            'size_large': (40000, 4),
            'size_huge': (0, 0),
            'size_mixed': (3000, 1),
        })

    def test_top_limits_stacks(self):
        """-n 2 lists the two largest stacks; the totals still cover everything."""
        out = run_command([workload('sizes')], opts=['-n', '2']).report
        self.assertEqual(len(out.stacks), 2, out.summary())
        self.assertEqual([Report.site_name(s) for s in out.stacks], ['size_huge', 'size_large'])
        # tests/workloads/sizes.c holds 450260 bytes in 32 blocks, and nothing else is allocated
        self.assertEqual((out.totals['outstanding_bytes'], out.totals['outstanding_allocs']),
                         (450260, 32), out.summary())

    def test_demo(self):
        """The bundled demo, one second long: 50 requests, the session leak grows by 96 B each."""
        rep = run_command([workload('demo'), '1']).report
        self.assertSites(rep, {
            'cache_fill': (1048576, 256),
            'session_leak': (4800, 50),
            'parse_headers': (0, 0),
            'build_response': (0, 0),
        }, module=workload('demo'))
        self.assertSite(rep, 'session_leak', 4800, 50, total_allocs=50)
        frames = [f.get('function') for f in rep.site('session_leak').stacks[0]['frames']]
        self.assertEqual(frames[:3], ['session_leak', 'handle_request', 'main'])


if __name__ == '__main__':
    unittest.main()
