"""test_budget.py: --max-overhead: the sample rate follows the allocation rate; estimates stay unbiased.

tests/workloads/phases.c allocates 4096-byte blocks slowly (one per 200 us of its CPU), then
256-byte blocks fast (one per 6 us of work, about 10 us with its clock reads), and holds them
all; at exit it prints how many each site allocated. With a budget of 10% of its CPU time:

- the slow phase costs under 1%: the controller leaves the start rate (--sample-rate 4K) for
  full tracking (rate 0);
- the fast phase costs well over 10% fully tracked (an entry trap, a return trap and a stack
  walk per block): the controller samples, at a rate that depends on what its entry probes alone
  cost on the machine at the time (7 to 10% as leaktop measures them here).

A block's weight is computed with the rate its sampling decision read, and a thread's pending
gap is drawn anew when the rate changes (bpf/leaktop.bpf.c), so each site's estimate is unbiased
however the rate moved. Its variance is the sum over the blocks of s^2 (1 - p) / p, each block's
p = 1 - exp(-s/R) at the rate R in force when it was allocated: at most that of the highest rate
the run used (JSON's max_sample_rate_bytes), which bounds sigma here. Z = 5, as in
test_sampling.py. With the weights of the wrong rate (the new rate applied to a block decided at
the old one, or full weight 1), the slow site's estimate is off by far more: at 4096 bytes a
sampled block stands for 1.6 blocks.
"""
import math

from harness import LeaktopTestCase, run_command, workload

Z = 5.0


def workload_counts(stdout):
    """{site: (blocks, size)} from the workload's last lines."""
    counts = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith('_site'):
            counts[parts[0]] = (int(parts[1]), int(parts[2]))
    return counts


class Budget(LeaktopTestCase):

    def test_rate_follows_the_allocation_rate(self):
        r = run_command([workload('phases'), '500', '1000', '6'],
                        opts=['--max-overhead', '10', '--sample-rate', '4K'])
        rep = r.report
        b = rep.data['overhead_budget']
        counts = workload_counts(r.stdout)
        self.assertEqual(set(counts), {'slow_site', 'fast_site'}, r.stdout)
        info = 'budget %s\n%s' % (b, rep.summary())
        self.assertEqual(b['max_overhead_pct'], 10)
        # Trap costs measured at start-up, both a few hundred ns on this kernel.
        self.assertTrue(50 < b['trap_entry_ns'] < 5000, info)
        self.assertTrue(0 < b['trap_return_ns'] < 5000, info)
        # The slow phase was tracked whole; the fast phase sampled: the rate moved both ways.
        self.assertTrue(b['full_tracking'], info)
        self.assertGreater(rep.data['sample_rate_bytes'], 0, info)
        self.assertGreaterEqual(b['rate_changes'], 2, info)
        self.assertGreaterEqual(b['decisions'], 3, info)
        # The start's rate at least; more when the machine's load raised the floor near the budget.
        self.assertGreaterEqual(b['max_sample_rate_bytes'], 4096, info)
        # (Whether the entry probes alone stay within the budget in the fast phase depends on the
        # traps' cost on a loaded machine: when they do not, the rate goes up as far as the steps
        # allow, and sigma, from the highest rate, says so.)
        self.assertLessEqual(b['entry_probes_pct'], b['overhead_pct'], info)
        rate = b['max_sample_rate_bytes']
        for site, (n, s) in counts.items():
            p = -math.expm1(-s / rate)
            sd_n = math.sqrt(n * (1 - p) / p)
            # Rounding of the weights: at most one unit per sampled block (test_sampling.py).
            slack = 3 * math.sqrt(n) + 1
            got = rep.site(site)
            self.assertLessEqual(abs(got.bytes - n * s), Z * s * sd_n + slack,
                                 '%s: %d bytes estimated, %d true, sd %.0f\n%s' % (
                                     site, got.bytes, n * s, s * sd_n, info))
            self.assertLessEqual(abs(got.allocs - n), Z * sd_n + slack,
                                 '%s: %d blocks estimated, %d true, sd %.1f\n%s' % (
                                     site, got.allocs, n, sd_n, info))

    def test_entry_probes_over_budget_said(self):
        # Nothing but malloc in a loop: the entry probe alone costs many times the loop's work.
        r = run_command([workload('phases'), '0', '400', '0'],
                        opts=['--max-overhead', '2', '--sample-rate', '4K'])
        b = r.report.data['overhead_budget']
        info = 'budget %s\nstderr:\n%s' % (b, r.stderr)
        self.assertTrue(b['entry_probes_ever_over_budget'], info)
        self.assertGreater(b['entry_probes_pct'], 2, info)
        self.assertIn('the entry probes alone cost', r.stderr)
        self.assertIn('no sample rate can meet it', r.stderr)
        self.assertEqual(r.stderr.count('the entry probes alone cost'), 1, info)
        # The rate went as high as the steps allowed: 64 times per decision.
        self.assertGreater(b['max_sample_rate_bytes'], 4096 * 64 - 1, info)
