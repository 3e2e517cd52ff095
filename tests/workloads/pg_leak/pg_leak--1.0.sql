-- pg_leak--1.0.sql: the functions of pg_leak.c (see its opening comment for the figures).
-- tests/integration/services.py runs this file with MODULE_PATHNAME replaced by the absolute path of
-- the cluster's copy of pg_leak.so, since PostgreSQL 15 reads extension files from its share dir only.
\echo Use "CREATE EXTENSION pg_leak" to load this file. \quit

CREATE FUNCTION pg_leak(n int) RETURNS bigint
	AS 'MODULE_PATHNAME', 'pg_leak'
	LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION pg_leak_heap_bytes() RETURNS bigint
	AS 'MODULE_PATHNAME', 'pg_leak_heap_bytes'
	LANGUAGE C STRICT VOLATILE;
