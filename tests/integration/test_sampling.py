"""test_sampling.py: --sample-rate gives unbiased estimates; session links and their classic fallback.

The workload tests/workloads/sampled.c allocates known numbers of blocks of known sizes per site.
Under sampling at rate R, a block of s bytes is sampled with probability p = 1 - exp(-s/R) and then
stands for s/p bytes and 1/p blocks. For a site of n blocks of s bytes the estimate of its bytes has
mean n*s and variance n * s^2 * (1 - p) / p (a sum of n independent scaled Bernoulli draws); of its
blocks, mean n and variance n * (1 - p) / p. Each estimate must fall within Z standard deviations
of the truth, plus the rounding the BPF side does (each recorded weight is rounded up or down at
random to an integer, which adds at most one unit per sampled block, and is unbiased).

Z = 5 makes a false failure about a one-in-a-million event per check (there are 8 checks per rate).
Without the weights (raw sampled bytes), a site's estimate would be about p * n * s: for the small
blocks here that is many standard deviations away, so the test fails if the weights are dropped.
"""
import math
import unittest

from harness import LeaktopTestCase, run_command, workload

# site: (blocks at scale 1, block size): tests/workloads/sampled.c
SITES = {
    'many_small': (40000, 50),
    'some_medium': (1000, 4096),
    'few_large': (60, 100000),
    'huge': (4, 2 << 20),
}
SCALE = 4
Z = 5.0


def expected(rate, n, s):
    """(mean bytes, sd bytes, mean blocks, sd blocks) of a site's estimate."""
    p = -math.expm1(-s / rate)
    var_blocks = n * (1 - p) / p
    return n * s, s * math.sqrt(var_blocks), n, math.sqrt(var_blocks)


def log_binom_pmf(n, k, q):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + \
        (k * math.log(q) if k else 0) + ((n - k) * math.log1p(-q) if n - k else 0)


def unsampled_spread(rate, n, s, eps=1e-7):
    """How far the number of unsampled blocks (Binomial(n, q), q = e^(-s/rate)) may stray from
    its mean n*q, both ways, with probability under eps each. Where q is tiny (big blocks: one
    block in 3,000 left out), the normal approximation says a single miss is 13 sd away, while
    it happens in 0.5% of runs; the binomial's own tails say what can happen."""
    q = math.exp(-s / rate)
    mean = n * q
    lo, tail = 0, 0.0
    for k in range(0, n + 1):
        tail += math.exp(log_binom_pmf(n, k, q))
        if tail >= eps:
            lo = k
            break
    hi, tail = n, 0.0
    for k in range(n, -1, -1):
        tail += math.exp(log_binom_pmf(n, k, q))
        if tail >= eps:
            hi = k
            break
    return max(mean - lo, hi - mean)


class Sampling(LeaktopTestCase):

    def check_rate(self, rate, opts=()):
        r = run_command([workload('sampled'), str(SCALE)], opts=['--sample-rate', str(rate)] + list(opts))
        rep = r.report
        self.assertEqual(rep.data['sample_rate_bytes'], rate)
        for site, (n, s) in SITES.items():
            n *= SCALE
            mean_b, sd_b, mean_n, sd_n = expected(rate, n, s)
            got = rep.site(site)
            # Rounding: at most one unit per sampled block, about n * p of them.
            p = -math.expm1(-s / rate)
            slack = 3 * math.sqrt(n * p) + 1
            # The estimate is off by s/p per unsampled block away from the mean number of them.
            spread = unsampled_spread(rate, n, s) / p
            self.assertLessEqual(abs(got.bytes - mean_b), max(Z * sd_b, s * spread) + slack,
                                 'rate %d, site %s: %d bytes estimated, %d true, sd %.0f\n%s' % (
                                     rate, site, got.bytes, mean_b, sd_b, rep.summary()))
            self.assertLessEqual(abs(got.allocs - mean_n), max(Z * sd_n, spread) + slack,
                                 'rate %d, site %s: %d blocks estimated, %d true, sd %.1f\n%s' % (
                                     rate, site, got.allocs, mean_n, sd_n, rep.summary()))
        # Everything churn allocated was freed: sampled blocks leave with their weights.
        self.assertNoSite(rep, 'churn')
        return rep

    def test_estimates_within_sampling_error(self):
        for rate in (4096, 32768, 262144):
            with self.subTest(rate=rate):
                self.check_rate(rate)

    def test_estimates_with_classic_probes(self):
        """Classic probes; and --min-age of a microsecond, so that the outstanding figures come
        from the stacks' age slots (bpf/ages.h), which carry the blocks' weights as the totals do:
        the sites free nothing, so their weighted figures since attach are exactly those."""
        rep = self.check_rate(32768, opts=['--no-session', '--min-age', '0.000001'])
        for site in SITES:
            got = rep.site(site)
            self.assertEqual(got.bytes, sum(st['alloc_bytes'] for st in got.stacks), site)
            self.assertEqual(got.allocs, got.total_allocs, site)

    def test_sampling_off_is_exact(self):
        r = run_command([workload('sampled'), '1'])
        self.assertEqual(r.report.data['sample_rate_bytes'], 0)
        self.assertSites(r.report, {site: (n * s, n) for site, (n, s) in SITES.items()})


class SessionLinks(LeaktopTestCase):
    """Both attach paths give the same exact figures: session links, and the forced fallback."""

    def figures(self, opts):
        r = run_command([workload('basic')], opts=['-v'] + opts)
        return r

    def test_session_and_classic_agree(self):
        session = self.figures([])
        classic = self.figures(['--no-session'])
        self.assertIn('session links', session.stderr)
        self.assertIn('uprobe + uretprobe pairs', classic.stderr)
        sites = lambda rep: {k: (v.bytes, v.allocs) for k, v in rep.sites().items()}
        self.assertEqual(sites(session.report), sites(classic.report))
        self.assertEqual(session.report.totals, classic.report.totals)
        self.assertSite(session.report, 'leak_malloc', 5000, 5)
        self.assertSite(session.report, 'grow_chain', 12000, 1)


if __name__ == '__main__':
    unittest.main()
