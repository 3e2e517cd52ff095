"""test_unwind.py: --unwind dwarf|auto on code without frame pointers: the same stacks as a frame-pointer
build of the same source, C++ leaks through Debian's libstdc++, and redis-server against gdb's backtrace."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import LeaktopTestCase, free_port, in_ci, marker_line, run_command, tail, workload
from test_redis import ping

LIBSTDCXX = 'libstdc++.so.6'

# tests/workloads/chain_nofp.c: the leak and its callers, innermost first, as (function, marker)
CHAIN = [('level4', 'SITE:level4'), ('level3', 'CALL:level4'), ('level2', 'CALL:level3'),
         ('level1', 'CALL:level2'), ('main', 'CALL:level1')]


def frames_to_main(stack):
    """(function, file basename, line) of each frame, innermost first, up to and including main."""
    out = []
    for f in stack['frames']:
        out.append((f.get('function'), os.path.basename(f.get('file') or ''), f.get('line')))
        if f.get('function') == 'main':
            break
    return out


def frame_pointer_use(path, functions):
    """{function: {'sets_fp': bool, 'writes_rbp': bool}} read from objdump's disassembly of PATH:
    whether the function sets up a frame pointer (mov %rsp,%rbp), and whether it writes %rbp
    otherwise (as a general register, beyond saving and restoring it)."""
    out = subprocess.run(['objdump', '-d', '--no-show-raw-insn', path], capture_output=True,
                         text=True, check=True).stdout
    use, current = {}, None
    for line in out.splitlines():
        m = re.match(r'^[0-9a-f]+ <([^>]+)>:$', line)
        if m:
            current = m.group(1) if m.group(1) in functions else None
            if current:
                use[current] = {'sets_fp': False, 'writes_rbp': False}
            continue
        parts = line.split('\t')
        if not current or len(parts) < 2:
            continue
        insn = parts[-1].strip()
        if re.match(r'^mov\s+%rsp,%rbp$', insn):
            use[current]['sets_fp'] = True
        elif re.search(r',%[re]?bp$', insn):
            use[current]['writes_rbp'] = True
    missing = set(functions) - set(use)
    if missing:
        raise AssertionError('objdump shows no %s in %s' % (sorted(missing), path))
    return use


def stacks_with(report, function):
    return [st for st in report.stacks if any(f.get('function') == function for f in st['frames'])]


class Chain(LeaktopTestCase):
    """A leak at the bottom of a 4-deep call chain, built -O2 with and without frame pointers."""

    def expected_chain(self):
        return [(fn, 'chain_nofp.c', marker_line('chain_nofp.c', m)) for fn, m in CHAIN]

    def chain_stack(self, name, mode, attach=False):
        if attach:
            w, t = self.attach_and_run(name, ['--unwind', mode])
            r = t.stop(signal.SIGINT)
            self.assertOk(r)
            self.assertEqual(w.finish()[0], 0)
        else:
            r = run_command([workload(name)], ['--unwind', mode])
        rep = r.report
        self.assertSite(rep, 'level4', 24000, 6, module=workload(name))
        stacks = rep.site('level4').stacks
        self.assertEqual(len(stacks), 1, rep.summary())
        return rep, stacks[0]

    def test_nofp_matches_fp_build(self):
        """-O2 -fomit-frame-pointer through the tables (dwarf and auto) gives the stack that the
        frame-pointer build gives through frame pointers: every frame up to main, each on its line."""
        _, ref = self.chain_stack('chain_withfp', 'fp')
        self.assertEqual(frames_to_main(ref), self.expected_chain(), ref['frames'])
        for mode in ('dwarf', 'auto'):
            with self.subTest(mode=mode):
                rep, st = self.chain_stack('chain_nofp', mode)
                self.assertEqual(frames_to_main(st), frames_to_main(ref), st['frames'])
                # past main: libc's start-up, then _start, where the stack ends without a loss
                self.assertEqual([f.get('function') for f in st['frames']][-1], '_start', st['frames'])
                for k, v in rep.stats.items():
                    if k.startswith('unwind_'):
                        self.assertEqual(v, 0, (k, rep.stats))

    def test_fp_build_through_tables(self):
        """The frame-pointer build unwound through its tables (dwarf) gives the same frames again."""
        _, ref = self.chain_stack('chain_withfp', 'fp')
        _, st = self.chain_stack('chain_withfp', 'dwarf')
        self.assertEqual(frames_to_main(st), frames_to_main(ref))

    def test_fp_walk_loses_the_chain(self):
        """Why the tables exist: the frame-pointer walk of the -O2 build stops at the allocation
        site. Where it stops follows from the code (objdump): no function of the chain sets up a
        frame pointer, and level4 keeps its running sum in %rbp (0 before the first malloc, a sum of
        heap addresses after: never a frame), which is what the walk reads at malloc's return.
        So the stack is level4 alone; level3, level2, level1 and main are lost, with no loss
        counted (the walk ends at a null, misaligned or unreadable frame pointer, as at a stack's
        end)."""
        use = frame_pointer_use(workload('chain_nofp'), [fn for fn, _ in CHAIN])
        self.assertEqual({fn: u['sets_fp'] for fn, u in use.items()},
                         {fn: False for fn, _ in CHAIN}, use)
        self.assertTrue(use['level4']['writes_rbp'], use)
        # the oracle's other side: the frame-pointer build sets one up in every function
        use_fp = frame_pointer_use(workload('chain_withfp'), [fn for fn, _ in CHAIN])
        self.assertEqual({fn: u['sets_fp'] for fn, u in use_fp.items()},
                         {fn: True for fn, _ in CHAIN}, use_fp)
        rep, st = self.chain_stack('chain_nofp', 'fp')
        got = [(f.get('function'), os.path.basename(f.get('file') or ''), f.get('line'))
               for f in st['frames']]
        self.assertEqual(got, self.expected_chain()[:1], st['frames'])
        self.assertEqual(st['outstanding_allocs'], 6, st)
        for k in ('truncated_stacks', 'lost_stacks'):
            self.assertEqual(rep.stats[k], 0, rep.stats)

    def test_attach_mode(self):
        """-p on a running -O2 process: its tables are built at attach, the full chain comes out."""
        _, st = self.chain_stack('chain_nofp', 'dwarf', attach=True)
        self.assertEqual(frames_to_main(st), self.expected_chain(), st['frames'])

    def test_session_and_classic_agree(self):
        """The return probe's registers are the same with uprobe + uretprobe pairs."""
        r = run_command([workload('chain_nofp')], ['--unwind', 'dwarf', '--no-session'])
        st = r.report.site('level4').stacks[0]
        self.assertEqual(frames_to_main(st), self.expected_chain(), st['frames'])


class CachedStacks(LeaktopTestCase):
    """The unwinder reuses a stack when the probe's registers repeat and the stack words the walk
    read hold the same values again. tests/workloads/twopaths.c calls one allocation site through
    two callers in turn, with the same registers at malloc's return: only the return addresses on
    the stack differ, and each block must go to its own caller's stack."""

    def check(self, mode):
        src = 'twopaths.c'
        rep = run_command([workload('twopaths')], ['--unwind', mode]).report
        self.assertSite(rep, 'leaf', 64000, 1000, module=workload('twopaths'))
        got = {}
        for st in rep.site('leaf').stacks:
            got[tuple(frames_to_main(st))] = (st['outstanding_bytes'], st['outstanding_allocs'])
        leaf = ('leaf', src, marker_line(src, 'SITE:leaf'))
        want = {(leaf, ('path_a', src, marker_line(src, 'CALL:leaf_a')),
                 ('main', src, marker_line(src, 'CALL:path_a'))): (32000, 500),
                (leaf, ('path_b', src, marker_line(src, 'CALL:leaf_b')),
                 ('main', src, marker_line(src, 'CALL:path_b'))): (32000, 500)}
        self.assertEqual(got, want, rep.summary())
        for k, v in rep.stats.items():
            if k.startswith('unwind_'):
                self.assertEqual(v, 0, (k, rep.stats))

    def test_dwarf(self):
        self.check('dwarf')

    def test_auto(self):
        self.check('auto')


class Dlopen(LeaktopTestCase):
    """The tables follow code mapped after attach: a -O2 library dlopen'ed in the traced window."""

    def test_tables_follow_dlopen(self):
        src, lib = 'dlopen_nofp.c', 'libdlchain_nofp.c'
        w, t = self.attach_and_run('dlopen_nofp', ['--unwind', 'dwarf'])
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertSite(rep, 'dl_chain_leak', 12000, 4, module=workload('libdlchain_nofp.so'))
        expected = [('dl_chain_leak', lib, marker_line(lib, 'SITE:dl_chain_leak')),
                    ('dl_chain_middle', lib, marker_line(lib, 'CALL:dl_chain_leak')),
                    ('dl_chain_entry', lib, marker_line(lib, 'CALL:dl_chain_middle')),
                    ('call_library', src, marker_line(src, 'CALL:dl_chain_entry')),
                    ('main', src, marker_line(src, 'CALL:call_library_after'))]
        full = [st for st in rep.site('dl_chain_leak').stacks if frames_to_main(st) == expected]
        self.assertEqual(len(full), 1, rep.site('dl_chain_leak').stacks)
        # the calls after the pause, at least, were unwound through the new table
        self.assertGreaterEqual(full[0]['outstanding_allocs'], 3, rep.summary())
        # a call made before leaktop saw the library is cut there, and counted
        cut = rep.site('dl_chain_leak').allocs - full[0]['outstanding_allocs']
        self.assertEqual(rep.stats['unwind_no_mapping'], cut, rep.stats)
        self.assertEqual(w.finish()[0], 0)


class CxxThroughLibstdcxx(LeaktopTestCase):
    """std::string::reserve in Debian's libstdc++ (no frame pointers) calls operator new, whose stack
    is taken at its entry: the tables step over new's own frame and libstdc++'s."""

    def check(self, rep):
        src = 'cxxgrow_nofp.cc'
        reserve = stacks_with(rep, 'app::Journal::reserve_lines(int)')
        self.assertEqual(sum(st['outstanding_bytes'] for st in reserve), 15003, rep.summary())
        self.assertEqual(sum(st['outstanding_allocs'] for st in reserve), 3, rep.summary())
        for st in reserve:
            f = st['frames']
            # the allocation site is libstdc++'s reserve, operator new is not a frame
            self.assertIn(LIBSTDCXX, os.path.basename(f[0].get('module') or ''), f)
            self.assertTrue(f[0]['function'].startswith('std::__cxx11::basic_string'), f)
            self.assertFalse(any((x.get('function') or '').startswith('operator new') for x in f), f)
            self.assertEqual(frames_to_main(st)[-2:], [
                ('app::Journal::reserve_lines(int)', src, marker_line(src, 'CALL:reserve')),
                ('main', src, marker_line(src, 'CALL:reserve_lines'))], f)
        grow = stacks_with(rep, 'app::Journal::grow_index(int)')
        self.assertEqual(sum(st['outstanding_bytes'] for st in grow), 4096, rep.summary())
        for st in grow:
            self.assertEqual(frames_to_main(st)[-2:], [
                ('app::Journal::grow_index(int)', src, marker_line(src, 'CALL:push_back')),
                ('main', src, marker_line(src, 'CALL:grow_index'))], st['frames'])
        for k, v in rep.stats.items():
            if k.startswith('unwind_'):
                self.assertEqual(v, 0, (k, rep.stats))

    def test_default_mode(self):
        self.check(run_command([workload('cxxgrow_nofp')]).report)

    def test_dwarf_attach(self):
        w, t = self.attach_and_run('cxxgrow_nofp', ['--unwind', 'dwarf'])
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        self.check(r.report)
        self.assertEqual(w.finish()[0], 0)


GDB_BT = r'''
import gdb
f = gdb.newest_frame()
print('BT-BEGIN')
while f is not None:
    print('%x|%s' % (f.pc(), gdb.execute('info symbol 0x%x' % f.pc(), to_string=True).strip()))
    f = f.older()
print('BT-END')
'''


class RedisAgainstGdb(LeaktopTestCase):
    """Debian's redis-server (-O2, no frame pointers, stripped: .dynsym names only) under
    redis-benchmark: stacks reach the command handlers and main, frame for frame as gdb unwinds
    the same path at a breakpoint."""

    def setUp(self):
        super().setUp()
        for tool in ('redis-server', 'redis-benchmark', 'redis-cli', 'gdb'):
            if not shutil.which(tool):
                msg = '%s is not installed (scripts/install-deps installs it)' % tool
                if in_ci():
                    self.fail(msg)
                self.skipTest(msg)
        self.tmp = tempfile.mkdtemp(prefix='leaktop-unwind-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def redis_argv(self, port):
        return ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                '--appendonly', 'no', '--daemonize', 'no', '--dir', self.tmp]

    def gdb_callers(self, function):
        """gdb's backtrace at a breakpoint on FUNCTION while one LPUSH runs: [(name or None, offset)]
        of the callers of FUNCTION, outermost last (gdb stops at main)."""
        port = free_port()
        script = os.path.join(self.tmp, 'bt.py')
        with open(script, 'w') as f:
            f.write(GDB_BT)
        gdb = subprocess.Popen(['gdb', '-q', '-batch', '-ex', 'set pagination off', '-ex', 'set confirm off',
                                '-ex', 'break ' + function, '-ex', 'run', '-ex', 'source ' + script,
                                '-ex', 'kill', '--args'] + self.redis_argv(port),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        self.addCleanup(lambda: gdb.poll() is None and gdb.kill())
        deadline = time.monotonic() + 30
        while not ping(port):
            self.assertIsNone(gdb.poll(), 'redis-server did not start under gdb')
            self.assertLess(time.monotonic(), deadline, 'redis-server did not start under gdb')
            time.sleep(0.2)
        cli = subprocess.Popen(['redis-cli', '-p', str(port), 'lpush', 'unwind-list', 'v'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out, _ = gdb.communicate(timeout=60)
        cli.wait(30)
        self.assertIn('BT-END', out, tail(out))
        lines = out.split('BT-BEGIN\n', 1)[1].split('\nBT-END', 1)[0].splitlines()
        frames = []
        for line in lines:
            _, sym = line.split('|', 1)
            if sym.startswith('No symbol'):
                frames.append((None, None))
            else:
                name = sym.split(' in section ', 1)[0]
                fn, _, off = name.partition(' + ')
                frames.append((fn, int(off or 0)))
        self.assertEqual(frames[0][0], function, frames)
        return frames[1:]

    def test_redis_benchmark_stacks_match_gdb(self):
        reference = self.gdb_callers('pushGenericCommand')
        self.assertEqual(reference[-1][0], 'main', reference)
        self.assertEqual(reference[-2][0], 'aeMain', reference)

        port = free_port()
        log = open(os.path.join(self.tmp, 'redis.log'), 'w')
        self.addCleanup(log.close)
        server = subprocess.Popen(self.redis_argv(port), stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(lambda: server.poll() is None and (server.kill(), server.wait()))
        deadline = time.monotonic() + 20
        while not ping(port):
            self.assertLess(time.monotonic(), deadline, 'redis-server did not start')
            time.sleep(0.1)
        t = self.start_tracer([server.pid])
        t.wait_attached()
        bench = subprocess.run(['redis-benchmark', '-h', '127.0.0.1', '-p', str(port), '-n', '20000',
                                '-t', 'set,lpush', '-q'], capture_output=True, text=True, timeout=300)
        self.assertEqual(bench.returncode, 0, bench.stderr)
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertGreaterEqual(rep.totals['allocs'], 40000, rep.summary())

        # every stack of a request reaches the event loop and main
        handled = [st for st in rep.stacks if any(f.get('function') == 'readQueryFromClient'
                                                   for f in st['frames'])]
        self.assertTrue(handled, rep.summary())
        for st in handled:
            fns = [f.get('function') for f in st['frames']]
            self.assertIn('aeMain', fns, fns)
            self.assertIn('main', fns, fns)
        # the LPUSH path: from pushGenericCommand's caller on, gdb's frames exactly
        lpush = [st for st in rep.stacks if any(f.get('function') == 'pushGenericCommand'
                                                 for f in st['frames'])]
        self.assertTrue(lpush, rep.summary())
        for st in lpush:
            fns = [f.get('function') for f in st['frames']]
            i = fns.index('pushGenericCommand')
            ours = [(f.get('function'), f.get('offset') if f.get('function') else None)
                    for f in st['frames'][i + 1:]]
            ours = ours[:[fn for fn, _ in ours].index('main') + 1]
            self.assertEqual(ours, reference, st['frames'])
        for k, v in rep.stats.items():
            if k.startswith('unwind_'):
                self.assertEqual(v, 0, (k, rep.stats))
        self.assertTrue(ping(port))
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(30), 0)


if __name__ == '__main__':
    import unittest
    unittest.main()
