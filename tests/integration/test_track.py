"""test_track.py: --track faults (pages of anonymous memory made resident, per stack): exact pages per
function on the real kernel, their release by munmap, madvise (through libc and a raw syscall) and
exit, a Go program, and heap and faults side by side."""
import os
import re
import signal
import subprocess
import tempfile
import time

from harness import ATTACHED_RE, CONFIG, LeaktopTestCase, marker_line, run_command, run_leaktop, workload
from test_pprof import Profile

PAGE = os.sysconf('SC_PAGESIZE')
PAGES = 100


def kind_sites(report, kind):
    """{function of frames[0]: (bytes, pages)} over the stacks of KIND."""
    out = {}
    for st in report.stacks:
        if st['kind'] != kind:
            continue
        fn = st['frames'][0]['function'] if st['frames'] else None
        b, n = out.get(fn, (0, 0))
        out[fn] = (b + st['outstanding_bytes'], n + st['outstanding_allocs'])
    return out


class TrackFaults(LeaktopTestCase):

    def trace_faults(self, release, opts=('--track', 'faults'), fmt='json'):
        """faults PAGES traced with OPTS until its work is done (and, with RELEASE, undone): the
        report (json), or the tracer, stopped (another FMT)."""
        w = self.start_workload('faults', [PAGES])
        t = self.start_tracer([w.pid], opts, fmt=fmt)
        t.wait_attached()
        w.trigger()
        w.wait_done()
        if release:
            w.trigger()
            w.expect('^released$')
        r = t.stop()
        self.assertOk(r)
        return r.report if fmt == 'json' else t

    def test_pages_made_resident(self):
        """PAGES pages written in touch_pages, PAGES / 2 in touch_advised, PAGES / 4 in touch_freed
        and in touch_spanned: exactly those, in those functions (and their lines); the PAGES pages
        only read are the zero page: nothing."""
        rep = self.trace_faults(False)
        sites = kind_sites(rep, 'faults')
        self.assertEqual(sites.get('touch_pages'), (PAGES * PAGE, PAGES), rep.summary())
        self.assertEqual(sites.get('touch_advised'), (PAGES // 2 * PAGE, PAGES // 2), rep.summary())
        self.assertEqual(sites.get('touch_freed'), (PAGES // 4 * PAGE, PAGES // 4), rep.summary())
        self.assertEqual(sites.get('touch_spanned'), (PAGES // 4 * PAGE, PAGES // 4), rep.summary())
        self.assertNotIn('read_pages', sites, rep.summary())
        st = next(s for s in rep.stacks if s['frames'] and s['frames'][0]['function'] == 'touch_pages')
        self.assertEqual(st['frames'][0]['line'], marker_line('faults.c', 'SITE:touch_pages'))
        self.assertEqual(st['frames'][1]['function'], 'main')
        self.assertEqual({s['kind'] for s in rep.stacks}, {'faults'})
        self.assertEqual(rep.stats['track_table_full'], 0)

    def test_service_target(self):
        """--comm: the processes of a name, found by discovery, are the faults programs' too."""
        w = self.start_workload('faults', [PAGES])
        t = self.start_tracer(opts=['--track', 'faults'], target=['--comm', 'faults'])
        t.wait_traced(w.pid)
        w.trigger()
        w.wait_done()
        r = t.stop()
        self.assertOk(r)
        sites = kind_sites(r.report, 'faults')
        self.assertEqual(sites.get('touch_pages'), (PAGES * PAGE, PAGES), r.report.summary())

    def test_released(self):
        """munmap of the first mapping, madvise(MADV_DONTNEED) of the second through libc,
        MADV_FREE of the third through a raw syscall, MADV_DONTNEED over two mappings: all back to
        0. Each end is seen from inside the call (mmap_lock's tracepoint, rss_stat's, tlb_flush's,
        mmap_lock's again, as a madvise over two mappings locks the map: bpf/track.bpf.c)."""
        rep = self.trace_faults(True)
        sites = kind_sites(rep, 'faults')
        self.assertEqual(sites.get('touch_pages', (0, 0)), (0, 0), rep.summary())
        self.assertEqual(sites.get('touch_advised', (0, 0)), (0, 0), rep.summary())
        self.assertEqual(sites.get('touch_freed', (0, 0)), (0, 0), rep.summary())
        self.assertEqual(sites.get('touch_spanned', (0, 0)), (0, 0), rep.summary())
        self.assertEqual(rep.stats['track_calls_lost'], 0)

    def test_exit_releases(self):
        """Command mode: at the process's exit its memory is gone, and so are its pages."""
        r = run_command([workload('faults'), str(PAGES)], opts=['--track', 'faults'])
        self.assertOk(r)
        self.assertEqual(kind_sites(r.report, 'faults').get('touch_pages', (0, 0)), (0, 0),
                         r.report.summary())

    def test_go_leak_ranked_first(self):
        """A Go program (no malloc) leaking through a slice of byte slices in leakSlices: first."""
        w = self.start_workload('goleak', [])
        t = self.start_tracer([w.pid], ['--track', 'faults'])
        t.wait_traced(w.pid)
        w.trigger()
        w.wait_done()
        r = t.stop()
        self.assertOk(r)
        rep = r.report
        self.assertTrue(rep.stacks, rep.summary())
        names = [f['function'] for f in rep.stacks[0]['frames']]
        self.assertIn('main.leakSlices', names, rep.summary())
        # 64 MiB written through the slices (by leakSlices, or by the runtime zeroing memory it
        # reuses for them): at least that many bytes made resident under it
        under = sum(s['outstanding_bytes'] for s in rep.stacks
                    if any(f['function'] == 'main.leakSlices' for f in s['frames']))
        self.assertGreaterEqual(under, 64 << 20, rep.summary())

    def test_heap_and_faults_apart(self):
        """--track heap,faults: the malloc'ed block as heap, the pages as faults, apart in JSON, in
        --batch's rows (a KIND column) and in pprof (a kind label). One leaktop per run: a fault's
        mapping is looked up once per fault at most (bpf_find_vma), so two at once lose faults."""
        opts = ['--track', 'heap,faults']
        rep = self.trace_faults(False, opts)
        self.assertEqual(kind_sites(rep, 'faults').get('touch_pages'), (PAGES * PAGE, PAGES))
        self.assertEqual(kind_sites(rep, 'heap').get('heap_block'), (1000, 1), rep.summary())
        self.assertNotIn('touch_pages', kind_sites(rep, 'heap'))
        self.assertNotIn('heap_block', kind_sites(rep, 'faults'))
        # pprof: a kind label on each sample
        tp = self.trace_faults(False, opts, fmt='pprof')
        env = dict(os.environ, HOME=tempfile.gettempdir(), GOTOOLCHAIN='local', GOFLAGS='',
                   GOPROXY='off', PPROF_TMPDIR=tempfile.gettempdir())
        kinds = {}
        for tr in Profile(tp.out, env).traces('-sample_index=inuse_space'):
            kinds.setdefault(tr['frames'][0], set()).add(tr['labels'].get('kind'))
        self.assertEqual(kinds.get('touch_pages'), {'faults'}, kinds)
        self.assertEqual(kinds.get('heap_block'), {'heap'}, kinds)
        # --batch: the last frame's rows, a KIND column before BYTES
        w = self.start_workload('faults', [PAGES])
        out = tempfile.NamedTemporaryFile(prefix='leaktop-it-', suffix='.batch', delete=False)
        self.addCleanup(os.unlink, out.name)
        err = tempfile.NamedTemporaryFile(prefix='leaktop-it-', suffix='.stderr', delete=False)
        self.addCleanup(os.unlink, err.name)
        tb = subprocess.Popen([CONFIG.leaktop, '-v', '--batch', '-i', '0.3', '-n', '0', '-p', str(w.pid)]
                              + opts, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: tb.poll() is None and tb.kill())
        deadline = time.monotonic() + 60
        while not ATTACHED_RE.search(open(err.name).read()) and time.monotonic() < deadline:
            time.sleep(0.05)
        w.trigger()
        w.wait_done()
        time.sleep(0.8)  # a frame after the work
        tb.send_signal(signal.SIGINT)
        self.assertEqual(tb.wait(60), 0, open(err.name).read())
        frame = open(out.name).read().split('leaktop 0.')[-1]
        rows = {m.group(3): (m.group(1), m.group(2)) for m in re.finditer(
            r'(?m)^\s*(heap|faults)\s+(\S+ \S+)\s.*?  (\w+) \(faults\)', frame)}
        self.assertIn('KIND', frame)
        self.assertEqual(rows.get('touch_pages'), ('faults', '400.0 KiB'), frame)
        self.assertEqual(rows.get('heap_block'), ('heap', '1000 B'), frame)

    def mmaps_report(self, env=None):
        """The report of --track mmap over the mmaps workload's run."""
        w = self.start_workload('mmaps')
        t = self.start_tracer([w.pid], ['--track', 'mmap'], env=env)
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop()
        self.assertOk(r)
        return r.report

    def test_mmap_exact(self):
        """--track mmap: anonymous mappings outstanding, exact in bytes, under the function that
        called mmap: kept, unmapped, cut in the middle (two mappings left), grown by mremap."""
        rep = self.mmaps_report()
        sites = kind_sites(rep, 'mmap')
        self.assertEqual(sites.get('leak_maps'), (3 * 65536, 3), rep.summary())
        self.assertEqual(sites.get('unmapped_maps', (0, 0)), (0, 0), rep.summary())
        self.assertEqual(sites.get('partial_map'), (2 * PAGE, 2), rep.summary())
        self.assertEqual(sites.get('grown_map'), (8 * PAGE, 1), rep.summary())
        st = next(s for s in rep.stacks if s['frames'] and s['frames'][0]['function'] == 'leak_maps')
        self.assertEqual(st['frames'][0]['line'], marker_line('mmaps.c', 'SITE:leak_maps'))
        self.assertEqual(st['frames'][1]['function'], 'main')
        self.assertEqual({s['kind'] for s in rep.stacks}, {'mmap'})

    def test_call_end_scratch_busy(self):
        """Every mapping call's end finds its stack slot taken (a fault made on purpose: the end
        runs as a task work, with migration disabled but not preemption, and another task's may
        preempt it on the CPU): the mappings are counted, exact, under the unknown stack, and each
        of the 7 anonymous mmaps in track_lost_stacks (not in the heap's scratch_busy)."""
        env = dict(os.environ)
        env['LEAKTOP_FAULT'] = 'scratch_busy'
        rep = self.mmaps_report(env)
        self.assertEqual(kind_sites(rep, 'mmap'), {None: (3 * 65536 + 10 * PAGE, 6)}, rep.summary())
        self.assertEqual(rep.stats['track_lost_stacks'], 7, rep.summary())
        self.assertEqual(rep.stats['scratch_busy'], 0, rep.summary())

    def test_kernel_pipes(self):
        """--track kernel -p: N pipes created and kept open show the kernel stack of their
        allocation (alloc_pipe_info under do_pipe2), at least N blocks, followed by the user stack
        of the process that made them (main); after they are closed, nothing there."""
        n = 50

        def under_pipes(rep):
            sts = [s for s in rep.stacks if s['kind'] == 'kernel' and s['frames'] and
                   s['frames'][0]['function'] == 'alloc_pipe_info']
            return sts, sum(s['outstanding_allocs'] for s in sts)

        for close in (False, True):
            w = self.start_workload('pipes', [n])
            t = self.start_tracer([w.pid], ['--track', 'kernel'])
            t.wait_attached()
            w.trigger()
            w.wait_done()
            if close:
                w.trigger()
                w.expect('^closed$')
            r = t.stop()
            self.assertOk(r)
            rep = r.report
            sts, blocks = under_pipes(rep)
            if close:
                self.assertEqual(blocks, 0, rep.summary())
                continue
            self.assertGreaterEqual(blocks, n, rep.summary())
            names = [f['function'] for f in sts[0]['frames']]
            self.assertIn('do_pipe2', names)
            self.assertEqual(sts[0]['frames'][0]['module'], '[kernel]')
            # the user stack of the allocating process, from the caller of libc's pipe2 on
            user = [f for f in sts[0]['frames'] if f['module'] != '[kernel]']
            self.assertEqual([f['function'] for f in user[:3]], ['pipe2', 'make_pipes', 'main'])
            self.assertEqual(user[1]['line'], marker_line('pipes.c', 'SITE:make_pipes'))
            self.assertEqual(sts[0]['pid'], w.pid)

    def test_bad_kind(self):
        r = run_leaktop(['--track', 'heap,disk', '-p', str(os.getpid())])
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn("unknown kind 'disk'", r.stderr)
        r = run_leaktop(['-a', '-d', '1'])
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('-a traces the whole system', r.stderr)

