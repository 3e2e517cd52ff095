"""test_continuous.py: the long-running mode: --metrics (promtool, a real Prometheus scraping it) and
`leaktop record` (atomic, rotated profiles; SIGTERM in the middle of an interval).

Workload: tests/workloads/simple.c in attach mode; after its allocation phase it holds
simple_malloc 6000 B / 4, simple_calloc 14000 / 2, simple_realloc 9000 / 1, simple_memalign 2500 / 1:
31500 bytes in 8 blocks.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from harness import (CONFIG, LeaktopTestCase, check_stderr_clean, free_port, read_text, tail,
                     _tmpfile)
from test_tui import human, parse_rows, split_frames

SITES = {'simple_malloc': (6000, 4), 'simple_calloc': (14000, 2), 'simple_realloc': (9000, 1),
         'simple_memalign': (2500, 1)}
TOTAL_BYTES, TOTAL_BLOCKS = 31500, 8


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.headers.get('Content-Type', ''), resp.read().decode()


def start_prometheus(test, target, rule_files=()):
    """Debian's Prometheus, in a temporary directory, scraping TARGET (host:port) and evaluating
    RULE_FILES every second; stopped at TEST's cleanup. Returns (its port, the path of its log)."""
    tmp = tempfile.mkdtemp(prefix='leaktop-prom-')
    test.addCleanup(shutil.rmtree, tmp, True)
    port = free_port()
    config = os.path.join(tmp, 'prometheus.yml')
    with open(config, 'w') as f:
        f.write('global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n'
                'rule_files: [%s]\n'
                'scrape_configs:\n  - job_name: leaktop\n    static_configs:\n'
                '      - targets: ["%s"]\n' % (', '.join('"%s"' % r for r in rule_files), target))
    log_path = os.path.join(tmp, 'prometheus.log')
    log = open(log_path, 'w')
    prom = subprocess.Popen(['prometheus', '--config.file=' + config,
                             '--storage.tsdb.path=' + os.path.join(tmp, 'data'),
                             '--web.listen-address=127.0.0.1:%d' % port],
                            stdout=log, stderr=subprocess.STDOUT)

    def stop():
        prom.terminate()
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
    test.addCleanup(stop)
    return port, log_path


def parse_exposition(text):
    """{(name, frozenset(labels.items())): value} of Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        head, value = line.rsplit(' ', 1)
        if '{' in head:
            name, labels = head.split('{', 1)
            pairs = {}
            for part in labels.rstrip('}').split('",'):
                k, v = part.split('=', 1)
                pairs[k] = v.strip('"')
            out[(name, frozenset(pairs.items()))] = float(value)
        else:
            out[(head, frozenset())] = float(value)
    return out


def series(parsed, name, **labels):
    return [v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= set(ls)]


class Daemon:
    """leaktop OPTS -p PID in the background (no -f/-o: record or metrics modes)."""

    def __init__(self, args, stdout_path=None):
        self.err = _tmpfile('.stderr')
        args = list(args)
        # -v after the subcommand, which must come first
        args = args[:1] + ['-v'] + args[1:] if args[:1] == ['record'] else ['-v'] + args
        with open(self.err, 'w') as errf, open(stdout_path or os.devnull, 'w') as outf:
            self.proc = subprocess.Popen([CONFIG.leaktop] + args, stdin=subprocess.DEVNULL,
                                         stdout=outf, stderr=errf)

    def wait_attached(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if 'probes attached' in read_text(self.err):
                return
            if self.proc.poll() is not None:
                raise AssertionError('leaktop exited early:\n%s' % tail(read_text(self.err)))
            time.sleep(0.05)
        raise AssertionError('leaktop did not attach:\n%s' % tail(read_text(self.err)))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        err = read_text(self.err)
        check_stderr_clean(err)
        return rc, err

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.err)


class Metrics(LeaktopTestCase):

    def start(self, extra=(), stdout_path=None):
        w = self.start_workload('simple')
        port = free_port()
        d = Daemon(['-i', '1', '--metrics', '127.0.0.1:%d' % port, '-p', str(w.pid)] + list(extra),
                   stdout_path)
        self.addCleanup(d.close)
        d.wait_attached()
        w.trigger()
        w.wait_done()
        return w, d, 'http://127.0.0.1:%d/metrics' % port

    def scrape_until(self, url, pred, timeout=20):
        deadline = time.monotonic() + timeout
        text = ''
        while time.monotonic() < deadline:
            try:
                status, ctype, text = http_get(url)
                if status == 200 and pred(parse_exposition(text)):
                    return ctype, text
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError('metrics never showed the workload:\n%s' % text[:3000])

    def check_self_figures(self, url, pid):
        """leaktop's own CPU time and RSS in the metrics against /proc/PID of leaktop, read before
        and after a refresh of the metrics: the CPU time lies between the two readings (which
        /proc/PID/stat truncates to clock ticks, utime and stime apiece); the RSS equals VmRSS
        once it holds still (the workload is idle, each refresh allocates alike), and lies between
        the readings while it moves (under ASan it only grows: freed memory waits in quarantine)."""
        tick = os.sysconf('SC_CLK_TCK')

        def proc_cpu_rss():
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            with open('/proc/%d/status' % pid) as f:
                rss = [l for l in f if l.startswith('VmRSS:')][0].split()
            return (int(fields[11]) + int(fields[12])) / tick, int(rss[1]) * 1024

        def cpu_of(text):
            return series(parse_exposition(text), 'leaktop_cpu_seconds_total')[0]

        tries = []
        for _ in range(10):
            cpu_a, rss_a = proc_cpu_rss()
            _, first = self.scrape_until(url, lambda p: True)
            # a refresh made after the first reading (its CPU figure differs from the one then)
            _, text = self.scrape_until(url, lambda p: series(
                p, 'leaktop_cpu_seconds_total')[0] != cpu_of(first))
            cpu_b, rss_b = proc_cpu_rss()
            m = parse_exposition(text)
            cpu, rss = (series(m, 'leaktop_cpu_seconds_total')[0],
                        series(m, 'leaktop_resident_memory_bytes')[0])
            self.assertLessEqual(cpu_a, cpu, (cpu_a, cpu, cpu_b))
            self.assertLessEqual(cpu, cpu_b + 2.0 / tick, (cpu_a, cpu, cpu_b))
            tries.append((rss_a, rss, rss_b))
            self.assertTrue(min(rss_a, rss_b) <= rss <= max(rss_a, rss_b), tries)
            if rss_a == rss_b:
                return

    def test_metrics_figures_and_promtool(self):
        w, d, url = self.start()
        ctype, text = self.scrape_until(url, lambda p: series(
            p, 'leaktop_outstanding_bytes', pid=str(w.pid)) == [TOTAL_BYTES])
        self.assertIn('text/plain; version=0.0.4', ctype)
        p = parse_exposition(text)
        self.assertEqual(series(p, 'leaktop_outstanding_blocks', pid=str(w.pid)), [TOTAL_BLOCKS])
        self.assertEqual(series(p, 'leaktop_outstanding_bytes', comm='simple'), [TOTAL_BYTES])
        for site, (nbytes, nblocks) in SITES.items():
            self.assertEqual(series(p, 'leaktop_site_outstanding_bytes', site='%s (simple)' % site),
                             [nbytes], site)
            self.assertEqual(series(p, 'leaktop_site_outstanding_blocks', site='%s (simple)' % site),
                             [nblocks], site)
        # simple_malloc freed 2 of its 6; the realloc source block was released by realloc
        self.assertEqual(series(p, 'leaktop_frees_total', pid=str(w.pid)), [3])
        self.assertEqual(series(p, 'leaktop_events_total', kind='unmatched_frees'), [8])
        self.assertEqual(len(series(p, 'leaktop_cpu_seconds_total')), 1)
        self.assertGreater(series(p, 'leaktop_resident_memory_bytes')[0], 0)
        self.check_self_figures(url, d.proc.pid)
        # promtool (Debian's prometheus package) accepts the exposition
        check = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        # other paths and methods
        with self.assertRaises(urllib.error.HTTPError) as cm:
            http_get(url.replace('/metrics', '/other'))
        self.assertEqual(cm.exception.code, 404)
        rc, err = d.stop()
        self.assertEqual(rc, 0, err)
        w.finish()

    def test_prometheus_scrapes_leaktop(self):
        w, d, url = self.start()
        self.scrape_until(url, lambda p: series(p, 'leaktop_outstanding_bytes', pid=str(w.pid)) ==
                          [TOTAL_BYTES])
        prom_port, prom_log = start_prometheus(self, url.split('//')[1].split('/')[0])
        query = 'http://127.0.0.1:%d/api/v1/query?query=%s' % (
            prom_port, urllib.parse.quote('leaktop_outstanding_bytes{pid="%d"}' % w.pid))
        deadline = time.monotonic() + 60
        got = None
        while time.monotonic() < deadline:
            try:
                _, _, body = http_get(query)
                res = json.loads(body)['data']['result']
                if res:
                    got = float(res[0]['value'][1])
                    if got == TOTAL_BYTES:
                        break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        self.assertEqual(got, TOTAL_BYTES, 'Prometheus query result; its log:\n%s' % tail(
            read_text(prom_log)))
        rc, err = d.stop()
        self.assertEqual(rc, 0, err)
        w.finish()

    def test_metrics_refresh_with_batch(self):
        """The view's loop (here --batch) refreshes the metrics too, with the figures of its frames:
        the workload's sites and totals, exact in both."""
        frames_path = _tmpfile('.frames')
        self.addCleanup(os.unlink, frames_path)
        w, d, url = self.start(['--batch', '--iterations', '120'], frames_path)
        _, text = self.scrape_until(url, lambda p: series(
            p, 'leaktop_outstanding_bytes', pid=str(w.pid)) == [TOTAL_BYTES])
        p = parse_exposition(text)
        self.assertEqual(series(p, 'leaktop_outstanding_blocks', pid=str(w.pid)), [TOTAL_BLOCKS])
        for site, (nbytes, nblocks) in SITES.items():
            self.assertEqual(series(p, 'leaktop_site_outstanding_bytes', site='%s (simple)' % site),
                             [nbytes], site)
            self.assertEqual(series(p, 'leaktop_site_outstanding_blocks', site='%s (simple)' % site),
                             [nblocks], site)
        # a frame at least after the scrape, so that the last frames show what the metrics show
        time.sleep(1.5)
        rc, err = d.stop(signal.SIGINT)
        self.assertEqual(rc, 0, err)
        frames = split_frames(read_text(frames_path))
        self.assertGreaterEqual(len(frames), 2, read_text(frames_path))
        # Nothing changes after the workload's phase: the frames from the one the metrics matched
        # on show the same figures, and the last one is among them.
        last = frames[-1]
        rows, _ = parse_rows(last)
        self.assertEqual({fn: (rows[fn]['bytes'], rows[fn]['blocks']) for fn in SITES if fn in rows},
                         {fn: (human(b), str(n)) for fn, (b, n) in SITES.items()}, last)
        self.assertIn('heap   %s (%d bytes) in %d blocks' % (human(TOTAL_BYTES), TOTAL_BYTES,
                                                            TOTAL_BLOCKS), last)
        self.assertRegex(last, r'(?m)^leaktop \S+ +pid %d \(simple\)' % w.pid)
        w.finish()

    def test_bad_listen_address(self):
        w = self.start_workload('simple')
        for bad in ('nonsense', '127.0.0.1:99999', '300.1.1.1:80'):
            r = subprocess.run([CONFIG.leaktop, '--metrics', bad, '-p', str(w.pid)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, bad + ': ' + r.stderr)
            self.assertIn('--metrics', r.stderr)


class Record(LeaktopTestCase):

    def profiles(self, d):
        return sorted(glob.glob(os.path.join(d, 'leaktop-*.pb.gz')))

    def test_record_rotates_and_survives_sigterm(self):
        w = self.start_workload('simple')
        out = tempfile.mkdtemp(prefix='leaktop-record-')
        self.addCleanup(shutil.rmtree, out, True)
        d = Daemon(['record', '-i', '1', '--dir', out, '--keep', '2', '-p', str(w.pid)])
        self.addCleanup(d.close)
        d.wait_attached()
        w.trigger()
        w.wait_done()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(self.profiles(out)) < 2:
            time.sleep(0.1)
        # a few rotations, then SIGTERM in the middle of an interval
        time.sleep(2.4)
        rc, err = d.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, err)
        files = os.listdir(out)
        self.assertEqual([f for f in files if not f.startswith('leaktop-')], [],
                         'temporary files left behind')
        profs = self.profiles(out)
        self.assertEqual(len(profs), 2, files)
        # every profile is whole: go tool pprof reads the newest and shows the sites exactly
        env = dict(os.environ, HOME=out, GOCACHE=os.path.join(out, '.gocache'))
        for prof in profs:
            r = subprocess.run(['go', 'tool', 'pprof', '-top', '-sample_index=inuse_space', '-unit=B',
                                prof], capture_output=True, text=True, timeout=120, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            for site, (nbytes, _) in SITES.items():
                self.assertRegex(r.stdout, r'\b%dB .* %s\b' % (nbytes, site), r.stdout)
        w.finish()

    def test_record_usage_errors(self):
        for args in (['record', '--dir', '/tmp', '-p', '1'], ['record', '-i', '5', '-p', '1'],
                     ['--dir', '/tmp', '-p', '1'], ['record', '-i', '5', '--dir', '/tmp', '-f', 'json',
                                                    '-p', '1']):
            r = subprocess.run([CONFIG.leaktop] + args, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, ' '.join(args) + ': ' + r.stderr)


if __name__ == '__main__':
    unittest.main()
