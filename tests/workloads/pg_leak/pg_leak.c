/* pg_leak.c: a PostgreSQL 15 extension; pg_leak(n) leaks n blocks of plain malloc. */
/*
 * SQL (pg_leak--1.0.sql):
 *   pg_leak(n int) RETURNS bigint      calls leak_per_call(n); returns the bytes this backend has
 *                                      leaked so far (over every call, this one included)
 *   pg_leak_heap_bytes() RETURNS bigint glibc's mallinfo2().uordblks in this backend: the bytes
 *                                      in use in the main arena, to check the leak without trusting
 *                                      the counter above (a backend is single-threaded)
 * Figures per call of pg_leak(n), in the backend that runs it (outstanding bytes / allocations
 * per allocation-site function, module = pg_leak.so):
 *   leak_per_call     1234 * n / n    malloc(1234) x n, never freed (kept on a list, touched)
 * So pgbench -c C -t T with "SELECT pg_leak(N)" leaks 1234 * N * T bytes in each of C backends.
 * The allocator is libc's malloc, not palloc: palloc carves blocks of its own out of big mallocs,
 * which would not show one allocation per block. n < 0 is an error; NULL gives NULL (STRICT).
 * Built with PGXS (tests/workloads/pg_leak/Makefile), -O0 and frame pointers like every workload.
 */
#include "postgres.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "fmgr.h"

PG_MODULE_MAGIC;

#define PG_LEAK_BYTES 1234
#define NOINLINE      __attribute__((noinline))

/* Every leaked block starts with a pointer to the one leaked before it. */
static void *leak_list;
static int64 leaked_bytes;

NOINLINE static void leak_per_call(int n)
{
	for (int i = 0; i < n; i++) {
		void **p = malloc(PG_LEAK_BYTES); /* SITE:leak_per_call */

		if (p == NULL)
			ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY), errmsg("pg_leak: out of memory")));
		memset(p, 0x5a, PG_LEAK_BYTES);
		*p = leak_list;
		leak_list = p;
		leaked_bytes += PG_LEAK_BYTES;
	}
}

PG_FUNCTION_INFO_V1(pg_leak);
Datum pg_leak(PG_FUNCTION_ARGS)
{
	int32 n = PG_GETARG_INT32(0);

	if (n < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("pg_leak: n must not be negative")));
	leak_per_call(n);
	PG_RETURN_INT64(leaked_bytes);
}

PG_FUNCTION_INFO_V1(pg_leak_heap_bytes);
Datum pg_leak_heap_bytes(PG_FUNCTION_ARGS)
{
	struct mallinfo2 mi = mallinfo2();

	PG_RETURN_INT64((int64)mi.uordblks);
}
