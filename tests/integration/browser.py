"""browser.py: a headless chromium driven over the DevTools protocol, for the HTML report's test.

chromium --remote-debugging-pipe reads the protocol's messages on its fd 3 and writes its own on
fd 4, each a JSON object ended by a NUL byte: no websocket, no library beyond Python's own.
Also here: a PNG decoder (zlib, unfiltering) to tell a screenshot from a blank one.
"""
import base64
import fcntl
import json
import select
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

CHROMIUM = '/usr/bin/chromium'


class BrowserError(AssertionError):
    pass


class Browser:
    """One chromium, one page. call() sends a command to the page and returns its result; the
    events that arrive meanwhile are kept in .events (method, params)."""

    def __init__(self, width=1280, height=900, timeout=30):
        if not os.access(CHROMIUM, os.X_OK):
            raise BrowserError('%s is not installed (scripts/install-deps)' % CHROMIUM)
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix='leaktop-chromium-')
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()

        def child_fds():
            # The protocol's fds where chromium looks for them; through fds above both, in case
            # one of the pipe's ends is 3 or 4 already. Runs before close_fds closes the rest.
            high_in = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)
        self.stderr = tempfile.TemporaryFile()
        # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
        self.proc = subprocess.Popen(
            [CHROMIUM, '--headless=new', '--no-sandbox', '--remote-debugging-pipe', '--disable-gpu',
             '--no-first-run', '--no-default-browser-check', '--disable-extensions',
             '--disable-background-networking', '--disable-sync', '--disable-dev-shm-usage',
             '--user-data-dir=' + self.profile, '--window-size=%d,%d' % (width, height),
             'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
            preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(to_child)
        os.close(from_child)
        self._buf = b''
        self._next_id = 0
        self.events = []
        self.session = None
        try:
            targets = self._call('Target.getTargets')['targetInfos']
            page = [t for t in targets if t['type'] == 'page'][0]
            self.session = self._call('Target.attachToTarget', targetId=page['targetId'],
                                      flatten=True)['sessionId']
            self.call('Page.enable')
            self.call('Network.enable')
            self.call('Emulation.setDeviceMetricsOverride', width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def _send(self, msg):
        data = json.dumps(msg).encode() + b'\0'
        while data:
            data = data[os.write(self._w, data):]

    def _recv(self, deadline):
        while b'\0' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError('chromium did not answer in %d s; stderr:\n%s' % (
                    self.timeout, self.stderr_text()))
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise BrowserError('chromium closed the pipe (exit %s); stderr:\n%s' % (
                    self.proc.poll(), self.stderr_text()))
            self._buf += chunk
        raw, self._buf = self._buf.split(b'\0', 1)
        return json.loads(raw)

    def _call(self, method, session=None, **params):
        self._next_id += 1
        msg = {'id': self._next_id, 'method': method, 'params': params}
        if session:
            msg['sessionId'] = session
        self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._recv(deadline)
            if m.get('id') == self._next_id:
                if 'error' in m:
                    raise BrowserError('%s: %s' % (method, m['error']))
                return m.get('result', {})
            if 'method' in m:
                self.events.append((m['method'], m.get('params', {})))

    def call(self, method, **params):
        return self._call(method, self.session, **params)

    def wait_event(self, method, timeout=None):
        """The params of the first event METHOD not yet taken; waits for it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, (m, p) in enumerate(self.events):
                if m == method:
                    del self.events[i]
                    return p
            m = self._recv(deadline)
            if 'method' in m:
                self.events.append((m['method'], m.get('params', {})))

    def navigate(self, url):
        """Loads URL and waits for its load event; returns the URLs the page requested."""
        self.events.clear()
        self.call('Page.navigate', url=url)
        self.wait_event('Page.loadEventFired')
        return [p['request']['url'] for m, p in self.events if m == 'Network.requestWillBeSent']

    def evaluate(self, expression):
        """The value of a JavaScript expression (JSON-able), or BrowserError on an exception."""
        r = self.call('Runtime.evaluate', expression=expression, returnByValue=True)
        if 'exceptionDetails' in r:
            raise BrowserError('%s: %s' % (expression[:80], r['exceptionDetails']))
        return r['result'].get('value')

    def click(self, x, y):
        for kind in ('mouseMoved', 'mousePressed', 'mouseReleased'):
            self.call('Input.dispatchMouseEvent', type=kind, x=x, y=y, button='left',
                      clickCount=1)

    def screenshot(self, full_page=True):
        """The page as PNG bytes."""
        params = {'format': 'png'}
        if full_page:
            params['captureBeyondViewport'] = True
            size = self.call('Page.getLayoutMetrics')['cssContentSize']
            params['clip'] = {'x': 0, 'y': 0, 'width': size['width'], 'height': size['height'],
                              'scale': 1}
        return base64.b64decode(self.call('Page.captureScreenshot', **params)['data'])

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors='replace')[-3000:]

    def close(self):
        if self.proc.poll() is None:
            try:
                self._call('Browser.close')
            except (BrowserError, OSError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def png_pixels(png):
    """(width, height, rows): rows is a list of bytes, 3 or 4 bytes a pixel (8-bit RGB or RGBA)."""
    if png[:8] != b'\x89PNG\r\n\x1a\n':
        raise AssertionError('not a PNG')
    pos, idat, ihdr = 8, [], None
    while pos < len(png):
        length, kind = struct.unpack('>I4s', png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    if depth != 8 or color not in (2, 6) or interlace:
        raise AssertionError('PNG of a kind this decoder does not read: %r' % (ihdr,))
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif f == 2:
            line = bytearray((a + b) & 0xff for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def distinct_colours(png):
    """How many distinct pixel colours the PNG holds."""
    _, _, bpp, rows = png_pixels(png)
    seen = set()
    for row in rows:
        seen.update(row[i:i + bpp] for i in range(0, len(row), bpp))
    return len(seen)
