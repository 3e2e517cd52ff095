"""test_html.py: the HTML report (-f html) in a real browser, Debian's chromium, headless.

Workload: tests/workloads/demo.c run for 3 s in command mode: at its exit it holds cache_fill
1048576 B in 256 blocks and session_leak 3 * 4800 = 14400 B in 150 blocks; parse_headers and
build_response free everything.
"""
import os

from browser import Browser, distinct_colours
from harness import LeaktopTestCase, _tmpfile, marker_line, run_leaktop, workload

SITES = [('cache_fill', 1048576, 256), ('session_leak', 14400, 150)]
TOTAL_BYTES, TOTAL_BLOCKS = 1062976, 406


class HtmlReport(LeaktopTestCase):

    def write_page(self):
        path = _tmpfile('.html')
        self.addCleanup(os.unlink, path)
        r = run_leaktop(['-f', 'html', '-o', path, '-n', '0', '--', workload('demo'), '3'])
        self.assertOk(r)
        return path

    def open_page(self, path):
        b = Browser()
        self.addCleanup(b.close)
        url = 'file://' + path
        # Self-contained: the page is the only thing the browser loads.
        self.assertEqual(b.navigate(url), [url])
        self.assertEqual(b.evaluate('document.body.dataset.rendered'), '1')
        return b

    def frame_box(self, b, name):
        """The flame graph's frame NAME: [x, y, width, height, bytes] in the page's pixels."""
        return b.evaluate('''(() => {
            const g = [...document.querySelectorAll("#flame g.frame")]
                .find(g => g.dataset.name === %r);
            if (!g) return null;
            const r = g.querySelector("rect").getBoundingClientRect();
            return [r.x, r.y, r.width, r.height, Number(g.dataset.bytes)];
        })()''' % name)

    def test_page(self):
        path = self.write_page()
        b = self.open_page(path)
        leak_line = marker_line('demo.c', 'SITE:session_leak')

        # The stack list: every site with its exact bytes and blocks, and its frames.
        rows = b.evaluate('''[...document.querySelectorAll("tr.stack")].map(r =>
            [r.dataset.site, Number(r.dataset.bytes), Number(r.dataset.blocks),
             r.querySelector(".frames").textContent])''')
        self.assertEqual([tuple(r[:3]) for r in rows], SITES)
        self.assertIn('session_leak+0x', rows[1][3])
        self.assertIn('tests/workloads/demo.c:%d' % leak_line, rows[1][3])
        self.assertIn('handle_request+0x', rows[1][3])
        # The header: the totals and every loss counter, as the JSON report has them.
        self.assertIn('(%d bytes) in %d blocks, 2 stacks' % (TOTAL_BYTES, TOTAL_BLOCKS),
                      b.evaluate('document.getElementById("totals").textContent'))
        counters = b.evaluate('''Object.fromEntries([...document.querySelectorAll(
            "#losses [data-counter]")].map(e => [e.dataset.counter, e.textContent]))''')
        for name in ('dropped_allocs', 'lost_stacks', 'missed_returns', 'unwind_not_ready',
                     'lost_events'):
            self.assertEqual(counters.get(name), name + ' 0', counters)
        self.assertRegex(b.evaluate('document.getElementById("cost").textContent'),
                         r"^leaktop's cost: \d+\.\d\d s of CPU, RSS \d")

        # 3 s are too short to judge a trend (readings every 2 s, the rule needs 5), but the
        # timeline draws each site's bytes at each reading: from 0 to its bytes at exit.
        self.assertRegex(b.evaluate('document.getElementById("verdict").textContent'),
                         r'^not judged: the run was too short, \d readings over \d\.\ds')
        lines = dict(b.evaluate('''[...document.querySelectorAll("#timeline polyline.series")]
            .map(p => [p.dataset.site, p.dataset.bytes.split(",").map(Number)])'''))
        self.assertEqual(sorted(lines), ['cache_fill', 'session_leak'])
        for site, nbytes, _ in SITES:
            self.assertEqual((lines[site][0], lines[site][-1]), (0, nbytes), lines)
            self.assertEqual(lines[site], sorted(lines[site]))

        # The flame graph: the root holds every byte; each site is a frame of its bytes.
        self.assertEqual(self.frame_box(b, 'all')[4], TOTAL_BYTES)
        leak = self.frame_box(b, 'session_leak')
        self.assertEqual(leak[4], 14400)
        self.assertEqual(self.frame_box(b, 'cache_fill')[4], 1048576)
        width = b.evaluate('document.querySelector("#flame svg").getBoundingClientRect().width')
        self.assertLess(leak[2], width / 20)
        # Hovering a frame names its function and file:line.
        b.call('Input.dispatchMouseEvent', type='mouseMoved', x=leak[0] + leak[2] / 2,
               y=leak[1] + leak[3] / 2)
        tip = b.evaluate('document.getElementById("tip").textContent')
        self.assertIn('session_leak\ntests/workloads/demo.c:%d\n' % leak_line, tip)
        self.assertIn('14400 bytes', tip)

        # A click on a frame zooms to it: it spans the graph, and the other site is gone.
        b.click(leak[0] + leak[2] / 2, leak[1] + leak[3] / 2)
        self.assertEqual(b.evaluate('document.querySelector("#flame svg").dataset.zoom'),
                         'session_leak')
        zoomed = self.frame_box(b, 'session_leak')
        self.assertAlmostEqual(zoomed[2], width, delta=1)
        self.assertIsNone(self.frame_box(b, 'cache_fill'))
        # and a click on the root zooms out again.
        root = self.frame_box(b, 'all')
        b.click(root[0] + 5, root[1] + root[3] / 2)
        self.assertEqual(self.frame_box(b, 'cache_fill')[4], 1048576)

        # Search: the frames that match stand out, and the bytes of their stacks are summed.
        b.evaluate('''(() => { const s = document.getElementById("search");
            s.value = "session"; s.dispatchEvent(new Event("input")); })()''')
        self.assertEqual(b.evaluate('document.getElementById("matched").textContent'),
                         'matched 14400 bytes (14.1 KiB), 1.4%')
        self.assertEqual(b.evaluate('''[...document.querySelectorAll("#flame g.match")]
            .map(g => g.dataset.name)'''), ['session_leak'])

        # The screenshot is a picture, not a blank page.
        png = b.screenshot()
        colours = distinct_colours(png)
        self.assertGreater(colours, 50, 'the screenshot has %d colours' % colours)
