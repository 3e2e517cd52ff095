"""test_services.py: the fixtures of the whole-service tests (issue 9) prove themselves, and the
process-tree workloads show their documented figures where today's leaktop can see them.

Fixtures: no leaktop runs; each checks that its helper in services.py does what it says and tears
down. WorkloadFigures: leaktop on the parts of the new workloads that need no following of forks
or execs (a single process's own sites), so that their opening comments are checked against a tracer.
"""
import os
import subprocess

import harness
from harness import LeaktopTestCase, workload
from services import (PG_LEAK_BYTES, Cgroup, MountNsWorkload, Nginx, Postgres, alive, cgroup_of, children,
                      wait_for)


def maps_paths(pid):
    with open('/proc/%d/maps' % pid) as f:
        return {l.split(None, 5)[5].strip() for l in f if len(l.split(None, 5)) == 6}


class Fixtures(LeaktopTestCase):
    needs_bpf = False

    def test_postgres_fixture(self):
        pg = Postgres(self)
        pm = pg.postmaster_pid
        self.assertTrue(alive(pm))
        self.assertTrue(pg.child_pids(), 'the postmaster has its auxiliary processes')

        # Each psql -c is a new backend: the first call there returns n * 1234.
        self.assertEqual(pg.psql('SELECT pg_leak(1)'), [[str(PG_LEAK_BYTES)]])
        self.assertEqual(pg.psql('SELECT pg_leak(3)'), [[str(3 * PG_LEAK_BYTES)]])
        self.assertEqual(pg.psql('SELECT pg_leak(0)'), [['0']])

        # A session keeps one backend, a child of the postmaster; its counter adds up over calls, and
        # glibc's heap grows by 100 blocks of 1234 bytes (1248 with the chunk header) per pg_leak(100).
        s = pg.session()
        self.assertIn(s.backend_pid, pg.backend_pids())
        self.assertIn(s.backend_pid, children(pm))
        self.assertEqual(s.query('SELECT pg_leak(2)'), [[str(2 * PG_LEAK_BYTES)]])
        before = int(s.query('SELECT pg_leak_heap_bytes()')[0][0])
        self.assertEqual(s.query('SELECT pg_leak(100)'), [[str(102 * PG_LEAK_BYTES)]])
        grown = int(s.query('SELECT pg_leak_heap_bytes()')[0][0]) - before
        self.assertGreaterEqual(grown, 100 * PG_LEAK_BYTES)
        self.assertLessEqual(grown, 100 * 1248 + 8192, 'the heap grew by more than the leak and a block')

        # pgbench: C clients (backends forked at connect) x T transactions, each calling pg_leak(3)
        # once; every backend logs what its counter says after each call.
        clients, transactions, n = 4, 25, 3
        pg.psql('CREATE TABLE leak_log (pid int, leaked bigint)')
        r = pg.pgbench('INSERT INTO leak_log SELECT pg_backend_pid(), pg_leak(%d);' % n, clients, transactions)
        self.assertEqual((r.processed, r.failed), (clients * transactions, 0), r.stdout)
        per_backend = {}
        for pid, leaked in pg.psql('SELECT pid, leaked FROM leak_log'):
            per_backend.setdefault(int(pid), []).append(int(leaked))
        self.assertEqual(len(per_backend), clients, per_backend.keys())
        self.assertNotIn(s.backend_pid, per_backend)
        for pid, values in per_backend.items():
            self.assertEqual(sorted(values), [k * n * PG_LEAK_BYTES for k in range(1, transactions + 1)],
                             'backend %d' % pid)
        self.assertEqual(sum(max(v) for v in per_backend.values()), clients * transactions * n * PG_LEAK_BYTES)
        # pgbench's backends have exited; the session's is still there
        wait_for(lambda: pg.backend_pids() == [s.backend_pid], 10, 'pgbench backends to exit')

        # teardown: everything stopped and removed (close is idempotent; the cleanup runs it again)
        kids, data = pg.child_pids(), pg.dir
        pg.close()
        self.assertFalse(alive(pm))
        self.assertFalse(any(alive(k) for k in kids + [s.backend_pid]))
        self.assertFalse(os.path.exists(data))

    def test_nginx_fixture(self):
        ng = Nginx(self)
        master = ng.master_pid
        first = ng.worker_pids()
        self.assertEqual(len(first), 2)
        self.assertEqual(sorted(children(master)), first)
        status, body, served_by = ng.get('/')
        self.assertEqual(status, 200)
        self.assertIn(b'leaktop nginx fixture', body)
        self.assertIn(served_by, first)

        second = ng.reload()
        self.assertEqual(len(second), 2)
        self.assertFalse(set(first) & set(second))
        self.assertFalse(any(alive(p) for p in first), 'the old workers are gone')
        self.assertEqual(ng.master_pid, master)
        for _ in range(4):
            self.assertIn(ng.get('/pid')[2], second)
        third = ng.reload()
        self.assertFalse(set(third) & set(second + first))

        d = ng.dir
        ng.close()
        self.assertFalse(alive(master))
        self.assertFalse(any(alive(p) for p in third))
        self.assertFalse(os.path.exists(d))

    def test_mount_namespace_fixture(self):
        w = MountNsWorkload(self, 'simple')
        self.assertTrue(w.ns_path.startswith(w.mount_dir + '/'))
        self.assertIn(w.ns_path, maps_paths(w.pid), 'the process maps the binary from the tmpfs')
        self.assertFalse(os.path.exists(w.ns_path), 'the path must not exist on the host')
        self.assertEqual(os.listdir(w.mount_dir), [])
        self.assertNotEqual(os.readlink('/proc/%d/ns/mnt' % w.pid), os.readlink('/proc/self/ns/mnt'))
        with open('/proc/%d/root%s' % (w.pid, w.ns_path), 'rb') as f, open(workload('simple'), 'rb') as orig:
            self.assertEqual(f.read(), orig.read(), 'a copy of the workload, reachable through /proc/PID/root')
        w.trigger()
        w.wait_done()
        self.assertEqual(w.finish(), (0, 'bye sum=729300'))
        d = w.host_dir
        w.close()
        self.assertFalse(os.path.exists(d))

    def test_mount_namespace_dlopen(self):
        # A library copied beside the binary is found there (dlopen's default path) and mapped from it.
        w = MountNsWorkload(self, 'dlopen', extra=('libdlsite.so',))
        lib = os.path.join(w.mount_dir, 'libdlsite.so')
        w.trigger()
        w.wait_done()
        self.assertIn(lib, maps_paths(w.pid))
        self.assertFalse(os.path.exists(lib))
        self.assertEqual(w.finish()[0], 0)

    def test_mount_namespace_command(self):
        argv, ns_path = MountNsWorkload.command(self, 'leaky')
        self.assertEqual(argv[0], 'unshare')
        self.assertFalse(os.path.exists(ns_path))
        p = subprocess.run(argv, capture_output=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b'', b''))

    def test_cgroup_fixture(self):
        w = self.start_workload('tree')
        cg = Cgroup(self)
        self.assertTrue(os.path.isdir(cg.path))
        self.assertEqual(cg.procs(), [])
        origin = cgroup_of(w.pid)
        cg.move(w.pid)
        self.assertEqual(cg.procs(), [w.pid])
        self.assertEqual(cgroup_of(w.pid), '/' + os.path.relpath(cg.path, cg.root))
        # processes forked after the move are born in it
        w.trigger()
        pids = [int(p) for p in w.expect(r'^pids (\d+) (\d+) (\d+)$').groups()]
        self.assertEqual(cg.procs(), sorted(pids))
        w.wait_done()
        path = cg.path
        cg.close()  # with processes still inside: they go back where they came from
        self.assertFalse(os.path.exists(path))
        self.assertEqual(cgroup_of(w.pid), origin)
        self.assertEqual(w.finish()[0], 0)

    def test_tree_workload(self):
        w = self.start_workload('tree')
        w.trigger()
        parent, child, grandchild = (int(p) for p in w.expect(r'^pids (\d+) (\d+) (\d+)$').groups())
        w.wait_done()
        self.assertEqual(parent, w.pid)
        self.assertEqual(children(parent), [child])
        self.assertEqual(children(child), [grandchild])
        self.assertTrue(alive(grandchild))
        self.assertEqual(w.finish(), (0, 'bye'))
        self.assertFalse(alive(child) or alive(grandchild))
        self.assertEqual(subprocess.run([workload('tree')], capture_output=True, timeout=30).returncode, 0)

    def test_exec_chain_workload(self):
        w = self.start_workload('exec_first')
        self.assertEqual(os.path.realpath('/proc/%d/exe' % w.pid), os.path.realpath(workload('exec_first')))
        w.trigger()
        w.wait_done()
        self.assertEqual(os.path.realpath('/proc/%d/exe' % w.pid), os.path.realpath(workload('exec_second')))
        self.assertEqual(w.finish(), (0, 'bye'))
        p = subprocess.run([workload('exec_first')], capture_output=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, b''))

    def test_dlopen_exit_workload(self):
        w = self.start_workload('dlopen_exit')
        w.trigger()
        w.wait_done()
        w.expect(r'^bye$')
        self.assertEqual(w.proc.wait(30), 0, 'exits without waiting for another line')

    def test_leaky_under_sh(self):
        w = self.start_workload('leaky')
        w.trigger()
        w.wait_done()
        self.assertEqual(w.finish(), (0, 'bye'))
        # Debian's sh forks the command (a child of the shell), which prints nothing without -w
        p = subprocess.run(['sh', '-c', workload('leaky')], capture_output=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b'', b''))


class WorkloadFigures(LeaktopTestCase):
    """The new workloads' figures, where leaktop sees them without following forks or execs."""

    def test_leaky(self):
        r = harness.run_command([workload('leaky')])
        self.assertSite(r.report, 'leaky_leak', 100000, 100, module=workload('leaky'))

    def test_exec_second_alone(self):
        r = harness.run_command([workload('exec_second')])
        self.assertSite(r.report, 'exec_second_leak', 7000, 2)

    def test_tree_parent(self):
        w, t = self.attach_and_run('tree')
        r = t.stop()
        self.assertOk(r)
        # the parent's own sites; the descendants' are the subject of the fork-following tests
        self.assertSites(r.report, {'tree_inherited': (7000, 1), 'tree_leak_parent': (12000, 3)})
        self.assertEqual(w.finish()[0], 0)

    def test_dlopen_exit_bytes(self):
        w, t = self.attach_and_run('dlopen_exit')
        self.assertEqual(w.proc.wait(30), 0)
        r = t.stop(None)  # leaktop ends by itself when its process has exited
        self.assertOk(r)
        # the bytes of libdlsite.so's two sites, whether or not their frames are named yet
        held = [(st['outstanding_bytes'], st['outstanding_allocs']) for st in r.report.stacks]
        self.assertIn((19629, 3), held, r.report.summary())
        self.assertIn((5000, 1), held, r.report.summary())
