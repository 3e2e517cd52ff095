"""test_redis.py: a real server: Debian's redis-server (linked with jemalloc) under redis-benchmark."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import LeaktopTestCase, in_ci, free_port, tail

# Functions of redis that allocate (frames[0]) or sit right above an allocation
REDIS_FUNCTIONS = {'zmalloc', 'zcalloc', 'zrealloc', 'ztrymalloc_usable', 'zmalloc_usable', 'ztrycalloc_usable',
                   'zcalloc_usable', 'ztryrealloc_usable', 'zrealloc_usable', 'sdsnewlen', '_sdsnewlen',
                   'createStringObject', 'createObject', 'createRawStringObject', 'createEmbeddedStringObject',
                   'sdsMakeRoomFor', '_sdsMakeRoomFor', 'sdsMakeRoomForNonGreedy', 'zmalloc_no_tcache',
                   'zcalloc_num'}


def ping(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
            s.sendall(b'PING\r\n')
            return s.recv(64).startswith(b'+PONG')
    except OSError:
        return False


class Redis(LeaktopTestCase):

    def setUp(self):
        super().setUp()
        for tool in ('redis-server', 'redis-benchmark'):
            if not shutil.which(tool):
                msg = '%s is not installed (scripts/install-deps installs it)' % tool
                if in_ci():
                    self.fail(msg)
                self.skipTest(msg)

    def start_redis(self):
        d = tempfile.mkdtemp(prefix='leaktop-redis-')
        self.addCleanup(shutil.rmtree, d, True)
        port = free_port()
        log = open(os.path.join(d, 'redis.log'), 'w')
        self.addCleanup(log.close)
        p = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                              '--appendonly', 'no', '--daemonize', 'no', '--dir', d],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def stop():
            if p.poll() is None:
                p.kill()
                p.wait()
        self.addCleanup(stop)
        deadline = time.monotonic() + 20
        while not ping(port):
            if p.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(d, 'redis.log')) as f:
                    self.fail('redis-server did not start: %s' % tail(f.read()))
            time.sleep(0.1)
        return p, port

    def test_redis_benchmark(self):
        server, port = self.start_redis()
        t = self.start_tracer([server.pid])
        t.wait_attached()
        bench = subprocess.run(['redis-benchmark', '-h', '127.0.0.1', '-p', str(port), '-n', '20000',
                                '-t', 'set,lpush', '-q'], capture_output=True, text=True, timeout=300)
        self.assertEqual(bench.returncode, 0, bench.stderr)
        self.assertIn('requests per second', bench.stdout)
        r = t.stop(signal.SIGINT)
        self.assertOk(r)
        rep = r.report

        # jemalloc's malloc, not libc's, is the one probed
        self.assertRegex(r.stderr, r'malloc at \S*libjemalloc\.so\.2\b')
        self.assertEqual(rep.data['pids'], [server.pid])
        self.assertTrue(rep.stacks, rep.summary())
        # 20000 SETs and 20000 LPUSHes allocate at least once each
        self.assertGreaterEqual(rep.totals['allocs'], 40000, rep.summary())
        self.assertGreaterEqual(rep.totals['frees'], 20000, rep.summary())
        seen = {f.get('function') for st in rep.stacks for f in st['frames']}
        self.assertTrue(seen & REDIS_FUNCTIONS, 'no redis function in any frame: %s\n%s' % (
            sorted(x for x in seen if x)[:50], rep.summary()))
        sites = {st['frames'][0].get('function') for st in rep.stacks if st['frames']}
        self.assertTrue(sites & REDIS_FUNCTIONS, 'no redis allocation site\n' + rep.summary())

        # redis is unharmed: still answers, then shuts down cleanly
        self.assertTrue(ping(port))
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(30), 0)


if __name__ == '__main__':
    unittest.main()
