"""test_service.py: real services traced whole with -p: a PostgreSQL server whose backends, forked
after attach, leak through an extension; nginx, whose workers after a reload are new processes."""
import signal

from harness import LeaktopTestCase, Report
from services import PG_LEAK_BYTES, PG_LEAK_SITE, Nginx, Postgres, alive, wait_for


def sites_by_bytes(rep):
    return sorted(rep.sites().items(), key=lambda kv: -kv[1].bytes)


class Services(LeaktopTestCase):

    def test_postgres_pgbench(self):
        """leaktop -p on the postmaster and its processes, then pgbench: 4 clients x 25 transactions
        of pg_leak(30), each client a backend forked after attach. The leak is ranked first, with
        its exact bytes: 1234 per unit, 30 units per call, 100 calls."""
        pg = Postgres(self)
        t = self.start_tracer([pg.postmaster_pid] + pg.child_pids())
        t.wait_attached()
        before = set(pg.child_pids())
        clients, transactions, units = 4, 25, 30
        # Each transaction sleeps 100 ms first: a backend's probes are in place a few ms after its
        # fork (more under ASan and load; one ASan run saw a gap past 20 ms).
        r = pg.pgbench('\\sleep 100 ms\nSELECT pg_leak(%d);' % units, clients, transactions)
        self.assertEqual(r.failed, 0)
        wait_for(lambda: set(pg.child_pids()) <= before, 30, "pgbench's backends to exit")
        run = t.stop(signal.SIGINT)
        self.assertOk(run)
        rep = run.report
        name, site = sites_by_bytes(rep)[0]
        self.assertEqual(name, PG_LEAK_SITE, rep.summary())
        # four backends, each followed, each with its share: every call of pg_leak whole, all
        # of them when its probes were in within the 100 ms before its first; else (the four
        # forks come together and their probes go in one after the other: under load that can
        # take longer) without those its reported gap missed, and only those
        backends = {st['pid'] for st in site.stacks}
        self.assertEqual(len(backends), clients)
        procs = {p['pid']: p for p in rep.data['processes']}
        call = units * PG_LEAK_BYTES
        for pid in backends:
            self.assertTrue(procs[pid]['followed'], procs[pid])
            self.assertEqual(procs[pid]['ppid'], pg.postmaster_pid)
            self.assertEqual(procs[pid]['state'], 'exited')
            mine = sum(st['outstanding_bytes'] for st in site.stacks if st['pid'] == pid)
            gap = procs[pid]['gap_s']
            self.assertGreater(gap, 0, 'the gap is measured')
            self.assertEqual(mine % call, 0, 'whole calls')
            missed = transactions - mine // call
            self.assertLessEqual(missed, 0 if gap < 0.1 else int(gap / 0.1) + 1,
                                 'pid %d: %d calls missed with a gap of %.3f s' % (pid, missed, gap))
        self.assertEqual(site.allocs * PG_LEAK_BYTES, site.bytes)
        f = site.stacks[0]['frames'][0]
        self.assertTrue((f.get('file') or '').endswith('pg_leak.c'), f)
        self.assertEqual(f.get('module'), pg.extension_so)
        self.assertTrue(alive(pg.postmaster_pid), 'the postmaster went on')

    def test_nginx_reload(self):
        """-p on nginx's master and workers, then a reload: the new workers are followed, and their
        requests' allocations seen."""
        ng = Nginx(self)
        t = self.start_tracer([ng.master_pid] + ng.worker_pids())
        t.wait_attached()
        old = set(ng.worker_pids())
        new = set(ng.reload())
        self.assertFalse(old & new)
        for _ in range(200):
            status, _, _ = ng.get('/pid')
            self.assertEqual(status, 200)
        run = t.stop(signal.SIGINT)
        self.assertOk(run)
        rep = run.report
        procs = {p['pid']: p for p in rep.data['processes']}
        for pid in new:
            self.assertIn(pid, procs, 'a worker started by the reload is traced')
            self.assertEqual((procs[pid]['followed'], procs[pid]['ppid'], procs[pid]['state']),
                             (True, ng.master_pid, 'traced'))
        served = {st['pid'] for st in rep.stacks if st['pid'] in new and st['allocs'] > 0}
        self.assertTrue(served, 'no allocation of the new workers was seen:\n' + rep.summary())
        for pid in old:
            self.assertEqual(procs[pid]['state'], 'exited')

    def test_postgres_connection_per_transaction(self):
        """pgbench -C: a new connection, so a new backend forked and one exiting, for each of 2 x 20
        transactions. Detaching an exited backend's probes waits for the kernel's grace periods;
        done off the loop, it never delays the probes of the next backend, nor does long work on
        the loop (a reading, symbolization): a fork's probes go in from inside it. Each backend
        loads pg_leak.so itself at its first call and exits milliseconds later, often before
        leaktop has read its mappings again: the mappings told at its exit name the site.
        Each backend calls pg_leak 100 ms after its fork or later. Every backend is accounted for:
        all its 10 blocks are counted, or leaktop reports the gap that missed them (100 ms or
        more, or not traced: gone before its probes were in); none is counted in part."""
        pg = Postgres(self)
        t = self.start_tracer([pg.postmaster_pid] + pg.child_pids())
        t.wait_attached()
        before = set(pg.child_pids())
        clients, transactions, units = 2, 20, 10
        r = pg.pgbench('\\sleep 100 ms\nSELECT pg_leak(%d);' % units, clients, transactions,
                       extra=('-C',))
        self.assertEqual(r.failed, 0)
        wait_for(lambda: set(pg.child_pids()) <= before, 30, "pgbench's backends to exit")
        run = t.stop(signal.SIGINT)
        self.assertOk(run)
        rep = run.report
        site = rep.site(PG_LEAK_SITE)
        counted = {}
        for st in site.stacks:
            b, n = counted.get(st['pid'], (0, 0))
            counted[st['pid']] = (b + st['outstanding_bytes'], n + st['outstanding_allocs'])
        self.assertEqual(set(counted.values()), {(units * PG_LEAK_BYTES, units)}, rep.summary())
        procs = {p['pid']: p for p in rep.data['processes']}
        late = set()
        for p in procs.values():
            if not p['followed'] or p['pid'] in counted:
                continue
            if p['state'] == 'not traced' or p['gap_s'] >= 0.1:
                late.add(p['pid'])
        # (late may also hold another child of the postmaster's, an autovacuum worker)
        self.assertLessEqual(len(counted), clients * transactions)
        self.assertGreaterEqual(len(counted) + len(late), clients * transactions,
                                'every backend counted, or its gap reported: %d counted, %d '
                                'late; %s' % (len(counted), len(late), rep.summary()))
        for pid in counted:
            self.assertEqual((procs[pid]['followed'], procs[pid]['state']), (True, 'exited'))
            self.assertGreater(procs[pid]['gap_s'], 0, 'the gap is measured')
        for st in site.stacks:
            f = st['frames'][0]
            self.assertEqual(f.get('module'), pg.extension_so, f)
            self.assertTrue((f.get('file') or '').endswith('pg_leak.c'), f)

    def test_postgres_exited_released_under_pressure(self):
        """A small allocation table (--max-allocs 10000) and pgbench -C: 40 backends come and go,
        each leaving about 200 blocks. Once the table is half full, the blocks of the backends
        that exited are released (they hold no memory any more): nothing is dropped, and a
        backend that stays keeps its exact figures."""
        pg = Postgres(self)
        t = self.start_tracer([pg.postmaster_pid] + pg.child_pids(), opts=['--max-allocs', '10000'])
        t.wait_attached()
        session = pg.session()
        session.query('SELECT pg_leak(7)')
        before = set(pg.child_pids())
        transactions, units = 40, 10
        r = pg.pgbench('\\sleep 100 ms\nSELECT pg_leak(%d);' % units, 1, transactions, extra=('-C',))
        self.assertEqual(r.failed, 0)
        wait_for(lambda: set(pg.child_pids()) <= before, 30, "pgbench's backends to exit")
        run = t.stop(signal.SIGINT)
        self.assertOk(run)
        rep = run.report
        self.assertEqual(rep.stats['dropped_allocs'], 0, rep.summary())
        self.assertGreater(rep.stats['exited_released'], 0, rep.summary())
        site = rep.site(PG_LEAK_SITE)
        by_pid = {}
        for st in site.stacks:
            b, n = by_pid.get(st['pid'], (0, 0))
            by_pid[st['pid']] = (b + st['outstanding_bytes'], n + st['outstanding_allocs'])
        self.assertEqual(by_pid.pop(session.backend_pid), (7 * PG_LEAK_BYTES, 7))
        # each backend left holds its whole leak; the others' blocks were all released
        self.assertLess(len(by_pid), transactions, 'some backends were released')
        for pid, figures in by_pid.items():
            self.assertEqual(figures, (units * PG_LEAK_BYTES, units), pid)
        self.assertEqual(rep.totals['outstanding_allocs'],
                         sum(st['outstanding_allocs'] for st in rep.stacks))
