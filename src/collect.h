/* collect.h: reads the BPF maps into a snapshot (batch lookups, with a fallback). */
#ifndef LT_COLLECT_H
#define LT_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"
#include "tracer.h"

struct collector;

/* A collector over t's maps. Caches stacks it has read once. NULL and errno on no memory. */
struct collector *collector__new(const struct tracer *t);

/*
 * Reads one snapshot: per-stack totals and stacks, stats summed over CPUs, and totals.
 * With with_ages, also walks the live-allocation table (O(live allocations)) to set each stack's
 * oldest_age_s; with min_age_ns > 0, the outstanding figures then count only allocations at least
 * that old. growth_bytes_per_s is left NAN. NULL and errno on failure.
 */
struct snapshot *collector__read(struct collector *c, bool with_ages, uint64_t min_age_ns);

void collector__free(struct collector *c);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
uint64_t now_ns(void);

#endif
