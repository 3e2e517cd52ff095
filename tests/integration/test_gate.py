"""test_gate.py: leaktop as a CI gate, as valgrind and LeakSanitizer are used: the command's exit
status passed on (128 + the signal when killed), --error-exitcode on what is outstanding at exit,
and suppressions in LeakSanitizer's syntax (files given, and the default list for the runtimes'
own holdings), with what they dropped counted in every report."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from harness import (CONFIG, LeaktopTestCase, check_stderr_clean, free_port, read_text, run_command,
                     run_leaktop, workload)

# tests/workloads/gate.c: what `gate leak` (and exit, segv) hold at exit, besides stdio's buffer
LEAKS = {'leak_one': (4000, 1), 'leak_two': (300, 3)}
# stdio's buffer for stdout on a pipe (the test's capture), held by glibc until exit
STDIO = 4096
GATE_RC = 7


class Gate(LeaktopTestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='leaktop-gate-')
        self.addCleanup(shutil.rmtree, self.dir)

    def supp(self, text, name='known.supp'):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def gate(self, args, opts=(), rc=0, fmt='json'):
        return run_command([workload('gate')] + list(args), opts=list(opts), expect_rc=rc, fmt=fmt)

    def assertSuppressed(self, rep, stacks, nbytes, allocs):
        self.assertEqual(rep.data['suppressed'], {'stacks': stacks, 'bytes': nbytes, 'allocs': allocs},
                         rep.summary())

    def test_passing_program(self):
        """A program that frees what it allocates passes the gate: stdio's buffer is dropped by the
        default suppressions and counted, not reported. Without them it fails the gate."""
        r = self.gate(['pass'], ['--error-exitcode', str(GATE_RC)], rc=0)
        self.assertEqual(r.report.data['command_exit'], {'code': 0})
        self.assertEqual(r.report.totals['outstanding_bytes'], 0, r.report.summary())
        self.assertEqual(r.report.totals['outstanding_allocs'], 0)
        self.assertEqual(r.report.stacks, [])
        self.assertSuppressed(r.report, 1, STDIO, 1)
        self.assertNotIn('the command', r.stderr)
        r = self.gate(['pass'], ['--error-exitcode', str(GATE_RC), '--no-default-suppressions'],
                      rc=GATE_RC)
        self.assertSuppressed(r.report, 0, 0, 0)
        self.assertEqual(r.report.totals['outstanding_bytes'], STDIO)
        self.assertSites(r.report, {'_IO_file_doallocate': (STDIO, 1)})

    def test_leaking_program(self):
        """Leaks fail the gate with N; the report lists them exactly."""
        r = self.gate(['leak'], ['--error-exitcode', str(GATE_RC)], rc=GATE_RC)
        self.assertSites(r.report, LEAKS, module=workload('gate'))
        self.assertEqual((r.report.totals['outstanding_bytes'], r.report.totals['outstanding_allocs']),
                         (4300, 4))
        self.assertSuppressed(r.report, 1, STDIO, 1)
        # without --error-exitcode, leaks alone do not change the status
        r = self.gate(['leak'], rc=0)
        self.assertSites(r.report, LEAKS)

    def test_leaks_suppressed(self):
        """A suppressions file (LSan's syntax: comments, blanks, ^ $ and * patterns, matched against
        functions, files and modules) drops matching stacks from the report and counts them; with
        every leak suppressed the gate passes."""
        both = self.supp('# known leaks of gate.c\n\nleak:leak_one\n  leak:^leak_tw*$  \n')
        r = self.gate(['leak'], ['--error-exitcode', str(GATE_RC), '--suppressions', both], rc=0)
        self.assertEqual(r.report.stacks, [], r.report.summary())
        self.assertEqual(r.report.totals['outstanding_bytes'], 0)
        self.assertSuppressed(r.report, 3, STDIO + 4300, 1 + 4)
        # one of two suppressed: the other still fails the gate, with its exact figures
        one = self.supp('leak:^leak_one$\n', 'one.supp')
        r = self.gate(['leak'], ['--error-exitcode', str(GATE_RC), '--suppressions', one], rc=GATE_RC)
        self.assertSites(r.report, {'leak_one': (0, 0), 'leak_two': (300, 3)})
        self.assertEqual(r.report.totals['outstanding_bytes'], 300)
        self.assertSuppressed(r.report, 2, STDIO + 4000, 2)
        # several files add up; a source file's name and a module's path match as well
        by_file = self.supp('leak:workloads/gate.c\n', 'file.supp')
        r = self.gate(['leak'], ['--error-exitcode', str(GATE_RC), '--suppressions', one,
                                 '--suppressions', by_file], rc=0)
        self.assertSuppressed(r.report, 3, STDIO + 4300, 5)
        by_module = self.supp('leak:/gate$\n', 'module.supp')
        r = self.gate(['leak'], ['--suppressions', by_module, '--no-default-suppressions'])
        # the stdio buffer's stack holds gate's main too, so the module rule takes it as well
        self.assertSuppressed(r.report, 3, STDIO + 4300, 5)
        # the text report says what was dropped
        r = self.gate(['leak'], ['--suppressions', one], fmt='text')
        self.assertIn('suppressed: 2 stacks, 7.9 KiB (8096 bytes) in 2 blocks, not shown\n', r.output)
        self.assertIn('outstanding: 300 B (300 bytes) in 3 blocks, 1 stack\n', r.output)

    def test_exit_status_passed_on(self):
        """leaktop exits with the command's status and says so; --error-exitcode's N wins when
        something leaked."""
        r = self.gate(['exit', '3'], rc=3)
        self.assertEqual(r.report.data['command_exit'], {'code': 3})
        self.assertRegex(r.stderr, r'the command \S+/gate \(pid \d+\) exited with status 3\n')
        self.assertSites(r.report, LEAKS)
        r = self.gate(['exit', '3'], ['--error-exitcode', str(GATE_RC)], rc=GATE_RC)
        r = self.gate(['exit', '3'], ['--error-exitcode', str(GATE_RC), '--suppressions',
                                      self.supp('leak:leak_\n')], rc=3)
        self.assertEqual(r.report.totals['outstanding_bytes'], 0)
        r = self.gate(['exit', '3'], fmt='text', rc=3)
        self.assertRegex(r.output, r'^leaktop \S+: pid \d+ traced for \S+\ncommand: exited with status 3\n')

    def test_killed_by_signal(self):
        """A command killed by a signal: 128 + its number, as a shell reports it, the signal named on
        stderr and in the reports; its leaks up to the crash are reported."""
        segv = 128 + signal.SIGSEGV
        r = self.gate(['segv'], rc=segv)
        self.assertEqual(r.report.data['command_exit'], {'signal': 'SIGSEGV', 'signo': 11})
        self.assertRegex(r.stderr,
                         r'the command \S+/gate \(pid \d+\) killed by SIGSEGV \(Segmentation fault\)\n')
        self.assertSites(r.report, LEAKS)
        r = self.gate(['segv'], fmt='text', rc=segv)
        self.assertIn('\ncommand: killed by SIGSEGV (Segmentation fault)\n', r.output)
        # leaks found win over the signal, as with valgrind
        self.gate(['segv'], ['--error-exitcode', str(GATE_RC)], rc=GATE_RC)

    def test_reachability_gate(self):
        """With --reachability the gate counts what valgrind's --error-exitcode counts: lost and
        possibly lost blocks, not reachable ones. gate.c's leaks hang off a global: reachable, the
        gate passes; reach.c drops a list: lost, it fails."""
        r = self.gate(['leak'], ['--error-exitcode', str(GATE_RC), '--reachability'], rc=0)
        self.assertSites(r.report, LEAKS)
        self.assertEqual([(s['reachable_bytes'], s['lost_bytes'], s['possibly_lost_bytes'])
                          for s in r.report.stacks], [(4000, 0, 0), (300, 0, 0)])
        r = run_command([workload('reach')], opts=['--error-exitcode', str(GATE_RC), '--reachability'],
                        expect_rc=GATE_RC)
        self.assertEqual(r.report.site('list_node_new').stacks[0]['lost_bytes'], 480)

    def test_cxx_runtime_suppressed(self):
        """libstdc++'s emergency exception pool (72704 B, from its static initializer) is no leak of
        the program's: the default list drops it, and counts it."""
        r = run_command([workload('cxx')])
        self.assertEqual(r.report.data['suppressed'], {'stacks': 1, 'bytes': 72704, 'allocs': 1},
                         r.report.summary())
        self.assertFalse([st for st in r.report.stacks if st['outstanding_bytes'] == 72704],
                         r.report.summary())
        self.assertSites(r.report, {'app::Cache::fill(int)': (600, 3)})
        self.assertEqual(r.report.totals['outstanding_bytes'], 10364, r.report.summary())

    def test_bad_suppressions(self):
        """A missing file or a line that is not leak:PATTERN is bad input: exit 2, a clear message,
        and the command never runs."""
        marker = os.path.join(self.dir, 'ran')
        cmd = ['--', '/bin/sh', '-c', 'touch %s' % marker]
        missing = os.path.join(self.dir, 'missing.supp')
        r = run_leaktop(['--suppressions', missing] + cmd)
        self.assertEqual((r.rc, r.stdout), (2, ''), r.describe())
        self.assertIn('leaktop: error: cannot read the suppressions %s: No such file or directory\n'
                      % missing, r.stderr)
        bad = self.supp('leak:fine\n# ok\nrace:foo\n', 'bad.supp')
        r = run_leaktop(['--suppressions', bad] + cmd)
        self.assertEqual((r.rc, r.stdout), (2, ''), r.describe())
        self.assertIn("leaktop: error: %s:3: 'race:foo' is not a leak suppression "
                      "(expected leak:PATTERN)\n" % bad, r.stderr)
        r = run_leaktop(['--error-exitcode', '256'] + cmd)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertFalse(os.path.exists(marker), 'the command ran despite bad input')

    def test_attached_outputs_agree(self):
        """With -p, one suppressions file drops the same stacks from --batch's frames, the metrics and
        the final report, and each counts them; there is no command line."""
        supp = self.supp('leak:^leak_one$\n')
        port = free_port()
        w = self.start_workload('gate', ['leak'])
        frames, err, report = (os.path.join(self.dir, n) for n in ('frames', 'stderr', 'report'))
        with open(frames, 'w') as fo, open(err, 'w') as fe:
            proc = subprocess.Popen([CONFIG.leaktop, '-v', '--batch', '-i', '0.3', '--metrics',
                                     '127.0.0.1:%d' % port, '--suppressions', supp, '-o', report,
                                     '-p', str(w.pid)], stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        deadline = time.time() + 60
        while 'probes attached' not in read_text(err):
            self.assertIsNone(proc.poll(), read_text(err))
            self.assertLess(time.time(), deadline, 'leaktop did not attach')
            time.sleep(0.05)
        w.trigger()
        w.wait_done()
        want = 'suppressed 2 stacks, 7.9 KiB'
        metrics = ''
        while want not in read_text(frames) or 'leaktop_suppressed_bytes 8096' not in metrics:
            self.assertLess(time.time(), deadline, 'no frame or metrics with the suppressed stacks:\n%s\n%s'
                            % (read_text(frames)[-3000:], metrics))
            time.sleep(0.2)
            with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=5) as resp:
                metrics = resp.read().decode()
        last = read_text(frames).split('leaktop ')[-1]
        self.assertIn('leak_two', last)
        self.assertNotIn('leak_one', last)
        self.assertIn('leaktop_suppressed_stacks 2\n', metrics)
        self.assertRegex(metrics, r'leaktop_site_outstanding_bytes\{[^}]*site="leak_two \(gate\)"[^}]*\} 300\n')
        self.assertNotIn('leak_one', metrics)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(60), 0, read_text(err))
        check_stderr_clean(read_text(err))
        text = read_text(report)
        self.assertIn('\nsuppressed: 2 stacks, 7.9 KiB (8096 bytes) in 2 blocks, not shown\n', text)
        self.assertIn('\noutstanding: 300 B (300 bytes) in 3 blocks, 1 stack\n', text)
        self.assertNotIn('command:', text)
        self.assertNotIn('leak_one', text)
