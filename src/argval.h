/* argval.h: readers of option arguments, each giving a value or a one-line usage message. Pure. */
#ifndef LT_ARGVAL_H
#define LT_ARGVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Each reader takes the option's name (for the message, "--duration"), its argument, where the
 * value goes, and err (err_len bytes; may be NULL with 0). It returns 0 with the value stored, or
 * -EINVAL with a one-line message in err ("--top: 'x' is not a non-negative integer"), cut short
 * by a small buffer but always terminated, and *out untouched.
 */

/* Writes the message fmt says into err and returns -EINVAL: a usage error (exit code 2). */
int argval_error(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether the first len bytes of s are all decimal digits (and len > 0). */
bool argval_digits(const char *s, size_t len);

/* Seconds: a plain decimal number with an optional fraction or exponent, 0 to 1e9 (no "inf",
 * "nan", hex or blanks). */
int argval_seconds(const char *opt, const char *arg, double *out, char *err, size_t err_len);

/* A percentage above 0: a plain decimal number, an optional '%' after it, at most MAX_PERCENT (a
 * budget of probe time may be many times the traced processes' own). */
#define MAX_PERCENT 1e6
int argval_percent(const char *opt, const char *arg, double *out, char *err, size_t err_len);

/* A size in bytes: decimal digits and an optional suffix, B, K, M, G, KiB, MiB, GiB (powers of
 * 1024, any case), that fits a uint64_t. */
int argval_size(const char *opt, const char *arg, uint64_t *out, char *err, size_t err_len);

/* A plain decimal count, 0..max (no sign, no blanks). */
int argval_count(const char *opt, const char *arg, uint64_t max, uint64_t *out, char *err,
		 size_t err_len);

/* The size of a BPF map: a plain decimal count, 1..max entries. */
int argval_entries(const char *opt, const char *arg, uint32_t max, uint32_t *out, char *err,
		   size_t err_len);

#endif
