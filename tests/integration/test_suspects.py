"""test_suspects.py: leak suspects in the reports taken over a run, the metrics and the alert rules.

Workload: tests/workloads/demo.c, a service: `demo S` serves 50 requests a second for S seconds.
At its end it holds exactly:
  session_leak   S*4800 B in S*50 blocks   (96 B a request, never freed: a slow leak)
  cache_fill     1048576 B in 256 blocks   (filled once at start)
  parse_headers, build_response: nothing   (churn, freed by each request)
The reports apply the live view's suspect rule (history_trend_of) to readings taken every refresh
interval through the run: the leak is a suspect and listed first in text, the cache never is. A run
with fewer readings than the rule needs (5, the first at the start) says so and gives no growth.
"""
import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.parse

from harness import (CONFIG, LeaktopTestCase, free_port, marker_line, parse_report, read_text,
                     run_command, tail, workload)
from test_continuous import Daemon, http_get, start_prometheus

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
RULES = os.path.join(ROOT, 'scripts', 'leaktop.rules.yml')
RULES_TEST = os.path.join(ROOT, 'tests', 'prometheus', 'leaktop.rules.test.yml')

CACHE = (1048576, 256)
MIN_SAMPLES = 5  # HISTORY_MIN_SAMPLES


def leak(seconds):
    return (seconds * 4800, seconds * 50)


def last_text_report(text):
    """The last of the text reports -i writes one after another (each begins 'leaktop V: ')."""
    starts = [m.start() for m in re.finditer(r'(?m)^leaktop \S+: ', text)]
    if not starts:
        raise AssertionError('no text report:\n%s' % text[:2000])
    return text[starts[-1]:]


def last_json_report(text):
    """The last of the JSON objects -i writes one after another."""
    dec, pos, last = json.JSONDecoder(), 0, None
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        last, pos = dec.raw_decode(text, pos)
    return parse_report(json.dumps(last))


def stack_blocks(report):
    """The text report's stacks: [(header line, first frame)], in the order printed."""
    return re.findall(r'(?m)^(#\d+ .*)\n    (.*)$', report)


class Suspects(LeaktopTestCase):

    def test_text_suspects_first(self):
        """Command mode, a report every 0.5 s: the last one lists the leak first, marked LEAK?, with
        exact figures; the cache, ten times bigger, follows unmarked."""
        r = run_command([workload('demo'), '3'], opts=['-i', '0.5'], fmt='text')
        rep = last_text_report(r.output)
        pid = int(re.search(r'^leaktop \S+: pid (\d+) ', rep).group(1))
        m = re.search(r'(?m)^growth over (\S+) \((\d+) readings\): 1 leak suspect, marked LEAK\? '
                      r'and listed first$', rep)
        self.assertIsNotNone(m, rep)
        self.assertGreaterEqual(int(m.group(2)), MIN_SAMPLES, rep)
        self.assertIn('outstanding: 1.0 MiB (%d bytes) in %d blocks, 2 stacks\n' % (
            CACHE[0] + leak(3)[0], CACHE[1] + leak(3)[1]), rep)
        blocks = stack_blocks(rep)
        self.assertEqual(len(blocks), 2, rep)
        (leak_head, leak_frame), (cache_head, cache_frame) = blocks
        self.assertRegex(leak_head, r'^#1 LEAK\? %d bytes in %d blocks \(14\.1 KiB\), pid %d, oldest '
                         r'\S+, growth \+[\d.]+ KiB/s$' % (leak(3) + (pid,)))
        self.assertRegex(leak_frame, r'^session_leak\+0x[0-9a-f]+ \(demo\) \S*demo\.c:%d$' %
                         marker_line('demo.c', 'SITE:session_leak'))
        self.assertRegex(cache_head, r'^#2 %d bytes in %d blocks \(1\.0 MiB\), pid %d, oldest \S+, '
                         r'growth \+[\d.]+ KiB/s$' % (CACHE + (pid,)))
        self.assertRegex(cache_frame, r'^cache_fill\+0x[0-9a-f]+ \(demo\) \S*demo\.c:%d$' %
                         marker_line('demo.c', 'SITE:cache_fill'))
        # The first reports, under 5 readings, could not judge yet.
        first = r.output[:r.output.index('leaktop', 1)]
        self.assertRegex(first, r'(?m)^growth: not judged, the run was too short: 2 readings over '
                         r'\S+, and the leak-suspect rule needs 5$')

    def test_json_attached(self):
        """-p with -d 9 and no -i: readings every 2 s (the view's refresh), 6 in all with the first
        at the start and the last at the end (5 if a stall of the machine pushed the one at 8 s
        past the end). JSON keeps its bytes order; the leak's growth is its bytes over the
        window, exactly, as the cache's. With --error-exitcode 5, the suspect makes leaktop exit
        5 (-p: a suspect, not anything outstanding, fails the check)."""
        w = self.start_workload('demo', ['6'])
        t = self.start_tracer([w.pid], ['-d', '9', '--error-exitcode', '5'])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(sig=None)
        self.assertEqual(r.rc, 5, r.describe())
        r.report = parse_report(r.output, r.stderr)
        d = r.report.data
        self.assertIn(d['window_samples'], (5, 6), r.output[:600])
        self.assertEqual((d['too_few_samples'], d['suspects']), (False, 1), r.output[:600])
        self.assertAlmostEqual(d['window_s'], d['duration_s'], delta=0.05)
        self.assertGreater(d['window_s'], 8.9)
        self.assertSites(r.report, {'session_leak': leak(6), 'cache_fill': CACHE,
                                    'parse_headers': (0, 0), 'build_response': (0, 0)})
        got = [(s['frames'][0]['function'], s['outstanding_bytes'], s['suspect'])
               for s in r.report.stacks]
        self.assertEqual(got, [('cache_fill', CACHE[0], False), ('session_leak', leak(6)[0], True)])
        for s in r.report.stacks:
            # Both grew from nothing at the start of tracing to what they hold now.
            self.assertAlmostEqual(s['growth_bytes_per_s'], s['outstanding_bytes'] / d['window_s'],
                                   delta=1e-6 * s['outstanding_bytes'])
        w.finish()

    def test_no_suspect_passes_the_check(self):
        """-p -d 2 --error-exitcode 5 on the demo: 1 MiB of cache and a leak outstanding, but the
        run is too short to judge, so no suspect: exit 0."""
        w = self.start_workload('demo', ['1'])
        t = self.start_tracer([w.pid], ['-d', '2', '--error-exitcode', '5'])
        t.wait_attached()
        w.trigger()
        w.wait_done()
        r = t.stop(sig=None)
        self.assertOk(r)
        self.assertEqual((r.report.data['too_few_samples'], r.report.data['suspects']), (True, 0))
        self.assertSites(r.report, {'session_leak': leak(1), 'cache_fill': CACHE})
        w.finish()

    def test_too_short(self):
        """A run of one second: 2 readings (the start's and the end's; 3 if the run took over 2 s);
        no growth figure, no suspect, and the report says why."""
        r = run_command([workload('demo'), '1'], fmt='text')
        self.assertRegex(r.output, r'(?m)^no losses\ngrowth: not judged, the run was too short: [23] '
                         r'readings over \d\.\ds, and the leak-suspect rule needs 5\n')
        self.assertNotIn('LEAK?', r.output)
        self.assertNotIn('growth +', r.output)
        self.assertRegex(r.output, r'(?m)^#1 %d bytes in %d blocks \(1\.0 MiB\), pid \d+, oldest '
                         r'\S+\n    cache_fill\+' % CACHE)
        self.assertRegex(r.output, r'(?m)^#2 %d bytes in %d blocks \(4\.7 KiB\), pid \d+, oldest '
                         r'\S+\n    session_leak\+' % leak(1))
        r = run_command([workload('demo'), '1'])
        d = r.report.data
        self.assertIn(d['window_samples'], (2, 3))
        self.assertEqual((d['too_few_samples'], d['suspects']), (True, 0))
        self.assertSites(r.report, {'session_leak': leak(1), 'cache_fill': CACHE})
        self.assertEqual([(s['growth_bytes_per_s'], s['suspect']) for s in r.report.stacks],
                         [(None, False)] * 2)


class AlertRules(LeaktopTestCase):
    """scripts/leaktop.rules.yml: promtool's checks on synthetic series, and a real Prometheus
    (Debian's) scraping leaktop on the leaking demo until the suspect alert is pending."""

    def test_promtool(self):
        for args in (['check', 'rules', RULES], ['test', 'rules', RULES_TEST]):
            p = subprocess.run(['promtool'] + args, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, ' '.join(args) + ':\n' + p.stdout + p.stderr)
            self.assertIn('SUCCESS', p.stdout)

    def test_prometheus_alert_pending(self):
        w = self.start_workload('demo', ['60'])
        port = free_port()
        d = Daemon(['-i', '0.5', '--metrics', '127.0.0.1:%d' % port, '-p', str(w.pid)])
        self.addCleanup(d.close)
        d.wait_attached()
        w.trigger()
        prom_port, prom_log = start_prometheus(self, '127.0.0.1:%d' % port, [RULES])
        url = 'http://127.0.0.1:%d/api/v1/alerts' % prom_port
        deadline = time.monotonic() + 60
        alerts = []
        while time.monotonic() < deadline:
            try:
                _, _, body = http_get(url)
                alerts = json.loads(body)['data']['alerts']
                if any(a['labels'].get('alertname') == 'LeaktopLeakSuspect' for a in alerts):
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        got = [(a['labels'].get('alertname'), a['labels'].get('site'), a['labels'].get('pid'),
                a['state']) for a in alerts]
        self.assertEqual(got, [('LeaktopLeakSuspect', 'session_leak (demo)', str(w.pid), 'pending')],
                         'alerts; Prometheus log:\n%s' % tail(read_text(prom_log)))
        # The series behind it, as Prometheus scraped them.
        q = 'http://127.0.0.1:%d/api/v1/query?query=%s' % (prom_port, urllib.parse.quote(
            'leaktop_site_leak_suspect{pid="%d"}' % w.pid))
        res = json.loads(http_get(q)[2])['data']['result']
        self.assertEqual(sorted((x['metric']['site'], x['value'][1]) for x in res),
                         [('cache_fill (demo)', '0'), ('session_leak (demo)', '1')])
        rc, err = d.stop()
        self.assertEqual(rc, 0, err)


if __name__ == '__main__':
    unittest.main()
