"""test_mountns.py: processes in another mount namespace, as in a container: the binary and a
library exist only on a private tmpfs, so every file is reached through the process (map_files,
/proc/PID/root), and a file on the host under the same name must never be taken for it."""
import os
import shutil
import signal

from harness import LeaktopTestCase, marker_line
from services import MountNsWorkload
from test_attach import SIMPLE, SIMPLE_BYE


class MountNamespace(LeaktopTestCase):

    def assertNamed(self, rep, function, module, src, marker):
        """Every frame of FUNCTION's stacks that lies in MODULE is named, with file:line but for the C
        runtime's _start (crt1.o carries no line table); the first is at MARKER in SRC."""
        site = rep.site(function)
        self.assertTrue(site.stacks, rep.summary())
        for st in site.stacks:
            mine = [f for f in st['frames'] if f.get('module') == module]
            self.assertTrue(mine, 'no frame of %s in %s' % (module, st['frames']))
            for f in mine:
                self.assertTrue(f.get('function'), 'frame not named: %s' % f)
                if f['function'] != '_start':
                    self.assertTrue(f.get('file') and f.get('line'), 'frame without a line: %s' % f)
            first = st['frames'][0]
            self.assertEqual((first.get('module'), os.path.basename(first.get('file') or ''),
                              first.get('line')), (module, src, marker_line(src, marker)))

    def test_attach(self):
        """-p on a process whose binary exists only in its own mount namespace: exact figures, and
        its frames named with file:line."""
        w = MountNsWorkload(self, 'simple')
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report
        self.assertSites(rep, SIMPLE)
        for f in ('simple_malloc', 'simple_calloc', 'simple_realloc', 'simple_memalign'):
            self.assertNamed(rep, f, w.ns_path, 'simple.c', 'SITE:' + f)
        self.assertEqual(w.finish(), (0, SIMPLE_BYE))

    def test_host_file_of_the_same_name(self):
        """A different file at the same path on the host (another build, another container's copy)
        is not read for the process: the frames still name the namespace's binary's functions."""
        w = MountNsWorkload(self, 'simple')
        # On the host, the path now leads to another ELF program: without the inode check its
        # symbols would name the frames.
        shutil.copy('/bin/true', w.ns_path)
        self.addCleanup(os.unlink, w.ns_path)
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        self.assertSites(r.report, SIMPLE)
        self.assertNamed(r.report, 'simple_malloc', w.ns_path, 'simple.c', 'SITE:simple_malloc')
        self.assertEqual(w.finish(), (0, SIMPLE_BYE))

    def test_dlopen(self):
        """A library dlopen'ed from the namespace's tmpfs after attach: its site named with file:line."""
        w = MountNsWorkload(self, 'dlopen', extra=('libdlsite.so',))
        t = self.start_tracer([w.pid])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        lib = os.path.join(w.mount_dir, 'libdlsite.so')
        self.assertSites(r.report, {'dl_leak_block': (19629, 3), 'dl_leak_calloc': (5000, 1)})
        self.assertNamed(r.report, 'dl_leak_block', lib, 'libdlsite.c', 'SITE:dl_leak_block')
        self.assertEqual(w.finish()[0], 0)
