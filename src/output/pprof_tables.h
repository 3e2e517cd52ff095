/* pprof_tables.h: the tables of a pprof profile being built: strings, Functions, Mappings,
 * Locations. */
#ifndef LT_PPROF_TABLES_H
#define LT_PPROF_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "model/report.h"
#include "profile.pb-c.h"

struct pprof_tables;

/*
 * Empty tables for the frames of report r, whose mappings give the Mappings their ranges; string
 * 0 is "", as profile.proto requires. r must outlive the tables. NULL and errno ENOMEM.
 */
struct pprof_tables *pprof_tables__new(const struct report *r);

/* The string table index of s (NULL counts as ""), adding s when new. -ENOMEM when out of memory.
 */
int64_t pprof_tables__string(struct pprof_tables *t, const char *s);

/*
 * The Location of one return address of process pid: frames[0..n) are its inlined frames,
 * innermost first, then the real function; they become its Lines in that order. One Location per
 * distinct (Mapping, address), with its Functions and Mapping. A Location id (from 1), or 0 when
 * out of memory.
 */
uint64_t pprof_tables__location(struct pprof_tables *t, int pid, const struct sym_frame *frames,
				size_t n);

/* The one Location of every stack whose frames were lost ("[unknown]"). 0 when out of memory. */
uint64_t pprof_tables__unknown_location(struct pprof_tables *t);

/* Zeroed memory for n elements of size bytes that lives as long as t. NULL when out of memory. */
void *pprof_tables__alloc(struct pprof_tables *t, size_t n, size_t size);

/*
 * Pointers to the n elements of size bytes of arr, as protobuf-c's repeated message fields want
 * them; they live as long as t. NULL when out of memory.
 */
void **pprof_tables__pointers(struct pprof_tables *t, void *arr, size_t n, size_t size);

/*
 * Hands the tables to p: its Mappings (flagged by how far their Locations were symbolized, the
 * lowest first), Locations, Functions and string table. Add nothing to t after this. What p then
 * points to still belongs to t. 0 or -ENOMEM.
 */
int pprof_tables__fill(struct pprof_tables *t, Perftools__Profiles__Profile *p);

/* Frees the tables and everything p was given from them. NULL-safe. */
void pprof_tables__free(struct pprof_tables *t);

#endif
