"""test_cli.py: bad input exits 2 with a clear message; write errors exit 1 naming the file; the
folded output format."""
import errno
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import (CONFIG, LeaktopTestCase, Run, check_stderr_clean, run_command, run_leaktop,
                     workload)


def unused_pid():
    with open('/proc/sys/kernel/pid_max') as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 300, -1):
        if not os.path.exists('/proc/%d' % pid):
            return pid
    raise AssertionError('no free pid')


class BadInput(LeaktopTestCase):
    """Usage errors and bad input: exit 2, a message on stderr naming the problem, no report."""

    needs_bpf = False

    def assertUsageError(self, args, *needles):
        r = run_leaktop(args, timeout=30)
        self.assertEqual(r.rc, 2, 'leaktop %s: %s' % (' '.join(args), r.describe()))
        self.assertRegex(r.stderr, r'^leaktop: ', 'no message on stderr')
        for n in needles:
            self.assertIn(n, r.stderr)
        self.assertEqual(r.stdout, '', 'a usage error writes no report')
        return r

    def test_nonexistent_pid(self):
        pid = unused_pid()
        self.assertUsageError(['-d', '1', '-p', str(pid)], str(pid))

    def test_pid_given_twice(self):
        pid = os.getpid()  # alive: only the repetition is wrong
        self.assertUsageError(['-d', '1', '-p', '%d,%d' % (pid, pid)], str(pid))

    def test_command_not_executable(self):
        d = tempfile.mkdtemp(prefix='leaktop-it-')
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, 'not-executable')
        with open(path, 'w') as f:
            f.write('#!/bin/sh\nexit 0\n')
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        # root may read anything, but execve still wants an x bit
        self.assertUsageError(['-d', '5', '--', path], path)
        self.assertUsageError(['-d', '5', '--', os.path.join(d, 'missing')], 'missing')

    def test_unknown_option(self):
        self.assertUsageError(['--no-such-option', '-p', str(os.getpid())], '--no-such-option')

    def test_unknown_format(self):
        self.assertUsageError(['-f', 'xml', '-p', str(os.getpid())], 'xml')
        self.assertUsageError(['--format', 'xml', '--', workload('basic')], 'xml')

    def test_no_target(self):
        self.assertUsageError(['-d', '1'])


def machine_memory_bytes():
    """What the kernel can allocate at most (totalram): MemTotal."""
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no MemTotal in /proc/meminfo')


class TableLimits(LeaktopTestCase):
    """--max-allocs, --max-stacks and --unwind-rows beyond what the kernel takes, or than the
    machine's memory holds: refused before anything loads, exit 2, the range in the message."""

    needs_bpf = False  # nothing loads: the options check, or the pid check after it, ends the run

    def assertAccepted(self, args):
        """ARGS pass the options checks: the run goes on to the pid, which does not exist."""
        pid = unused_pid()
        r = run_leaktop(args + ['-p', str(pid)], timeout=30)
        self.assertEqual((r.rc, r.stderr), (2, 'leaktop: error: no process with pid %d\n' % pid))

    def test_beyond_the_kernel_limit(self):
        """2^27 entries per hash map (2^27 + 1 fails at load with E2BIG); 2^28 unwind rows."""
        for opt, value, accepted in (('--max-allocs', '134217729', '1 to 134217728'),
                                     ('--max-stacks', '134217729', '1 to 134217728'),
                                     ('--max-allocs', '0', '1 to 134217728'),
                                     ('--unwind-rows', '268435457', '1 to 268435456')):
            with self.subTest(opt=opt, value=value):
                r = run_leaktop([opt, value, '-p', str(unused_pid())], timeout=30)
                self.assertEqual(r.rc, 2, r.describe())
                self.assertEqual(r.stderr.splitlines()[0],
                                 "leaktop: %s: '%s' is out of range (%s)" % (opt, value, accepted))
                self.assertEqual(r.stdout, '')

    def test_largest_max_allocs(self):
        """2^27 live allocations: at most 14.4 GiB of kernel memory, too much to fill in a test, but
        accepted where the machine has it."""
        mem = machine_memory_bytes()
        if mem < 16 << 30:
            self.skipTest('%d bytes of memory: 2^27 allocations do not fit' % mem)
        self.assertAccepted(['--max-allocs', '134217728'])

    def test_beyond_the_machine_memory(self):
        """The largest --max-stacks the memory holds is accepted; one more is refused."""
        mem = machine_memory_bytes()
        if mem >= 134 << 30:
            self.skipTest('%d bytes of memory hold 2^27 stacks (135.1 GiB)' % mem)

        have = re.escape('%.1f GiB' % (mem / 2**30))

        def refused(stacks):
            """(GiB the maps would take, the largest --max-stacks accepted) from the message."""
            r = run_leaktop(['--max-stacks', str(stacks), '-p', str(unused_pid())], timeout=30)
            self.assertEqual(r.rc, 2, r.describe())
            m = re.match(r"leaktop: --max-stacks: '%d' is too large for this machine: the BPF maps "
                         r"would take ([0-9.]+) GiB of kernel memory, it has %s "
                         r"\(accepted: 1 to (\d+)\)\n" % (stacks, have), r.stderr)
            self.assertIsNotNone(m, r.stderr)
            return m.group(1), int(m.group(2))

        need, largest = refused(134217728)
        self.assertEqual(need, '135.1')  # their age slots and changed generation included
        self.assertLess(largest, 134217728)
        self.assertEqual(refused(largest + 1)[1], largest)
        self.assertAccepted(['--max-stacks', str(largest)])


class NoAllocator(LeaktopTestCase):
    """A process with no allocator entry point: a static executable stripped of its symbol table."""

    def stripped_static(self):
        d = tempfile.mkdtemp(prefix='leaktop-it-')
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, 'stripped_static')
        subprocess.run(['strip', '-s', '-o', path, workload('leak_static')], check=True)
        nm = subprocess.run(['nm', path], capture_output=True, text=True)
        self.assertNotIn(' malloc', nm.stdout)
        return path

    def test_process_without_allocator(self):
        path = self.stripped_static()
        r = run_leaktop(['-d', '5', '--', path], timeout=30)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('no allocator', r.stderr)
        w2 = subprocess.Popen([path, '-w'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(w2.kill)
        self.assertRegex(w2.stdout.readline().decode(), r'^ready \d+')
        r = run_leaktop(['-d', '5', '-p', str(w2.pid)], timeout=30)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn(str(w2.pid), r.stderr)
        self.assertIsNone(w2.poll(), 'the process died')
        w2.stdin.write(b'\n\n')
        w2.stdin.close()
        self.assertEqual(w2.wait(10), 0)

    def test_kernel_thread(self):
        """A kernel thread runs no program: a clear message and exit 2, not 'exited'."""
        kthread = None
        for d in sorted(os.listdir('/proc'), key=lambda x: (len(x), x)):
            if not d.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % d) as f:
                    flags = int(f.read().rsplit(')', 1)[1].split()[6])
            except (OSError, IndexError, ValueError):
                continue
            if flags & 0x00200000:  # PF_KTHREAD
                kthread = d
                break
        if kthread is None:
            self.skipTest('no kernel thread visible')
        r = run_leaktop(['-d', '1', '-p', kthread], timeout=30)
        self.assertEqual(r.rc, 2, r.describe())
        self.assertIn('pid %s runs no program' % kthread, r.stderr)
        self.assertEqual(r.stdout, '')

    def test_without_privileges(self):
        """Not root and no CAP_BPF/CAP_PERFMON: one clear line, exit 2, and the command never runs."""
        if os.geteuid() != 0:
            self.skipTest('needs root to drop to another user')
        # A copy nobody may execute: the build tree may sit under a directory only root enters.
        tmp = tempfile.mkdtemp(prefix='leaktop-noroot-')
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        lt = os.path.join(tmp, 'leaktop')
        shutil.copy(CONFIG.leaktop, lt)
        os.chmod(lt, 0o755)
        marker = os.path.join(tmp, 'ran')
        r = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                            '--inh-caps=-all', lt, '--', '/bin/touch', marker],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r'^leaktop: error: cannot load the BPF programs: .*needs root')
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(marker), 'the command ran although tracing failed')


def run_to_full_stdout(args, timeout=60):
    """leaktop ARGS with stdout on /dev/full, where every write fails with ENOSPC."""
    with open('/dev/full', 'w') as full:
        p = subprocess.run([CONFIG.leaktop] + list(args), stdin=subprocess.DEVNULL, stdout=full,
                           stderr=subprocess.PIPE, text=True, errors='replace', timeout=timeout)
    check_stderr_clean(p.stderr)
    return Run(p.returncode, '', p.stderr)


class WriteErrors(LeaktopTestCase):
    """A report, frame or profile that cannot be written: exit 1 and one line on stderr that names
    the file (or standard output) and the reason, whatever the format or mode."""

    ENOSPC = 'No space left on device'

    def assertWriteError(self, r, line):
        self.assertEqual(r.rc, 1, r.describe())
        self.assertEqual(r.stderr, 'leaktop: error: %s\n' % line)

    def test_every_format_to_a_full_device(self):
        for fmt in ('text', 'json', 'folded', 'pprof'):
            with self.subTest(fmt=fmt):
                r = run_leaktop(['-f', fmt, '-n', '0', '-o', '/dev/full', '--', workload('deep')],
                                timeout=60)
                self.assertWriteError(r, 'cannot write the report to /dev/full: ' + self.ENOSPC)

    def test_report_on_full_stdout(self):
        r = run_to_full_stdout(['-n', '0', '--', workload('deep')])
        self.assertWriteError(r, 'cannot write the report to standard output: ' + self.ENOSPC)

    def test_interval_report(self):
        """The first -i report fails: leaktop stops there (the workload would wait forever), and
        the traced process runs on."""
        w = self.start_workload('basic')
        r = run_leaktop(['-i', '0.3', '-o', '/dev/full', '-p', str(w.pid)], timeout=30)
        self.assertWriteError(r, 'cannot write the report to /dev/full: ' + self.ENOSPC)
        self.assertTrue(w.alive(), 'the traced process died')

    def test_batch_frames_on_full_stdout(self):
        w = self.start_workload('basic')
        r = run_to_full_stdout(['--batch', '-i', '0.3', '-p', str(w.pid)], timeout=30)
        self.assertWriteError(r, 'cannot write the frames to standard output: ' + self.ENOSPC)
        self.assertTrue(w.alive(), 'the traced process died')

    def test_help_on_full_stdout(self):
        r = run_to_full_stdout(['--help'])
        self.assertWriteError(r, 'cannot write the help to standard output: ' + self.ENOSPC)

    def tmpfs(self, options):
        d = tempfile.mkdtemp(prefix='leaktop-it-')
        self.addCleanup(os.rmdir, d)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'leaktop-it', d], check=True)
        self.addCleanup(subprocess.run, ['umount', d], check=True)
        return d

    def test_record_on_a_full_file_system(self):
        """The temporary profile cannot be written: named, with ENOSPC, and removed again."""
        d = self.tmpfs('size=64k')
        fd = os.open(os.path.join(d, 'fill'), os.O_WRONLY | os.O_CREAT)
        try:
            with self.assertRaises(OSError) as full:
                while True:
                    os.write(fd, b'\0' * 4096)
        finally:
            os.close(fd)
        self.assertEqual(full.exception.errno, errno.ENOSPC)
        w = self.start_workload('basic')
        r = run_leaktop(['record', '-i', '0.3', '--dir', d, '-p', str(w.pid)], timeout=30)
        self.assertEqual(r.rc, 1, r.describe())
        # The temporary file is named after the time and leaktop's pid.
        self.assertRegex(r.stderr, r'\Aleaktop: error: cannot write the profile to %s/\.leaktop-'
                         r'\d{8}T\d{6}\.\d+\.tmp: %s\n\Z' % (re.escape(d), self.ENOSPC))
        self.assertEqual(os.listdir(d), ['fill'])
        self.assertTrue(w.alive(), 'the traced process died')

    def test_record_into_a_read_only_directory(self):
        d = self.tmpfs('ro')
        w = self.start_workload('basic')
        r = run_leaktop(['record', '-i', '0.3', '--dir', d, '-p', str(w.pid)], timeout=30)
        self.assertEqual(r.rc, 1, r.describe())
        self.assertRegex(r.stderr, r'\Aleaktop: error: cannot create the profile %s/'
                         r'\.leaktop-\d{8}T\d{6}\.\d+\.tmp: Read-only file system\n\Z' % re.escape(d))
        self.assertEqual(os.listdir(d), [])


class Folded(LeaktopTestCase):

    def test_folded_format(self):
        """--format folded: lines 'outer;...;inner BYTES'; deep's leak reads ...;main;a;b;c;d 13701."""
        r = run_command([workload('deep')], opts=['--format', 'folded'], fmt='folded')
        lines = [l for l in r.output.splitlines() if l]
        self.assertTrue(lines, 'empty folded output')
        for line in lines:
            self.assertRegex(line, r'^[^ ]+(;[^ ]+)* [1-9][0-9]*$')
        leaf_d = [l for l in lines if l.rsplit(' ', 1)[0].split(';')[-1] == 'd']
        self.assertEqual(len(leaf_d), 1, lines)
        stack, count = leaf_d[0].rsplit(' ', 1)
        self.assertEqual(stack.split(';')[-5:], ['main', 'a', 'b', 'c', 'd'])
        self.assertEqual(int(count), 13701)


if __name__ == '__main__':
    unittest.main()
