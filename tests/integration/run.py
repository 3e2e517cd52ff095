#!/usr/bin/env python3
"""run.py: runs leaktop's integration tests (as root: they load the real BPF programs).

    python3 tests/integration/run.py --leaktop build/leaktop --workloads build/workloads [-k PATTERN]...

Ends with exactly one line "integration: N passed, N failed" (", N skipped" when any were skipped) and
exits 1 when any test failed. Under CI=true a test that cannot load BPF fails instead of skipping.
"""
import argparse
import fnmatch
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


class CountingResult(unittest.TextTestResult):
    """Counts tests, not subtests: a test with any failing subtest is one failure."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.failed_ids = set()
        self.durations = {}

    def startTest(self, test):
        self.started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.durations[test.id()] = time.monotonic() - self.started

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed_ids.add(test.id())

    def addError(self, test, err):
        super().addError(test, err)
        self.failed_ids.add(getattr(test, 'id', lambda: str(test))())

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.failed_ids.add(test.id())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--leaktop', required=True, help='the leaktop binary under test')
    ap.add_argument('--workloads', required=True, help='directory of the built workloads')
    ap.add_argument('-k', action='append', default=[], metavar='PATTERN',
                    help='run only tests whose id contains PATTERN (or matches it as a glob)')
    ap.add_argument('-v', action='store_true', help='name every test as it runs')
    args = ap.parse_args()

    harness.CONFIG.leaktop = os.path.abspath(args.leaktop)
    harness.CONFIG.workloads = os.path.abspath(args.workloads)
    if not os.access(harness.CONFIG.leaktop, os.X_OK):
        print('run.py: %s is not an executable' % args.leaktop, file=sys.stderr)
        print('integration: 0 passed, 1 failed')
        return 1

    suite = unittest.defaultTestLoader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    tests = list(flatten(suite))
    if args.k:
        tests = [t for t in tests if any(p in t.id() or fnmatch.fnmatch(t.id(), p) for p in args.k)]
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if args.v else 1,
                                     resultclass=CountingResult)
    sys.stdout.flush()
    result = runner.run(unittest.TestSuite(tests))

    # make test has a time budget: the slowest tests are where to look first
    slowest = sorted(result.durations.items(), key=lambda kv: -kv[1])[:8]
    if len(tests) > 1:
        print('slowest: ' + ', '.join('%s %.1fs' % (k.split('.')[-1], v) for k, v in slowest))
    failed = len(result.failed_ids)
    skipped = len({t.id() for t, _ in result.skipped} - result.failed_ids)
    passed = result.testsRun - failed - skipped
    line = 'integration: %d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    print(line, flush=True)
    return 1 if failed or not result.testsRun else 0


if __name__ == '__main__':
    sys.exit(main())
