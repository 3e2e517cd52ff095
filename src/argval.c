/* argval.c: readers of option arguments (durations, sizes, counts, map sizes), each giving a value
 * or a one-line usage message. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argval.h"
#include "base/errmsg.h"

/* Keeps every duration, once in nanoseconds, far inside a uint64_t. */
#define MAX_SECONDS 1e9

int argval_error(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = errmsg_v(err, err_len, EINVAL, fmt, ap);
	va_end(ap);
	return ret;
}

bool argval_digits(const char *s, size_t len)
{
	return len > 0 && strspn(s, "0123456789") >= len;
}

int argval_seconds(const char *opt, const char *arg, double *out, char *err, size_t err_len)
{
	size_t len = strlen(arg);
	char *end;
	double v;

	/* strtod would also take "nan", "inf", hex floats and leading blanks: no durations. */
	if (!len || strspn(arg, "0123456789.eE+-") != len)
		return argval_error(err, err_len, "%s: '%s' is not a number of seconds", opt, arg);
	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end)
		return argval_error(err, err_len, "%s: '%s' is not a number of seconds", opt, arg);
	if (v < 0)
		return argval_error(err, err_len, "%s: '%s' is negative", opt, arg);
	if (!isfinite(v) || v > MAX_SECONDS)
		return argval_error(err, err_len, "%s: '%s' is too large (at most %.0f seconds)",
				   opt, arg, MAX_SECONDS);
	*out = v;
	return 0;
}

int argval_percent(const char *opt, const char *arg, double *out, char *err, size_t err_len)
{
	size_t len = strlen(arg);
	char *end;
	double v;

	if (len && arg[len - 1] == '%')
		len--;
	if (!len || strspn(arg, "0123456789.") < len)
		return argval_error(err, err_len, "%s: '%s' is not a percentage", opt, arg);
	v = strtod(arg, &end);
	if (end != arg + len || !isfinite(v) || v <= 0 || v > MAX_PERCENT)
		return argval_error(err, err_len,
				    "%s: '%s' is not a percentage above 0, at most %.0f", opt, arg,
				    MAX_PERCENT);
	*out = v;
	return 0;
}

int argval_entries(const char *opt, const char *arg, uint32_t max, uint32_t *out, char *err,
		   size_t err_len)
{
	unsigned long long v;

	if (!argval_digits(arg, strlen(arg)))
		return argval_error(err, err_len, "%s: '%s' is not a non-negative integer", opt,
				   arg);
	errno = 0;
	v = strtoull(arg, NULL, 10);
	if (errno == ERANGE || v < 1 || v > max)
		return argval_error(err, err_len, "%s: '%s' is out of range (1 to %u)", opt, arg,
				   max);
	*out = (uint32_t)v;
	return 0;
}

int argval_count(const char *opt, const char *arg, uint64_t max, uint64_t *out, char *err,
		 size_t err_len)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept blanks, a sign and wrap "-1" around to a huge count. */
	if (!argval_digits(arg, strlen(arg)))
		return argval_error(err, err_len, "%s: '%s' is not a non-negative integer", opt,
				   arg);
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno == ERANGE || v > max)
		return argval_error(err, err_len, "%s: '%s' is too large (at most %llu)", opt, arg,
				   (unsigned long long)max);
	*out = v;
	return 0;
}

int argval_size(const char *opt, const char *arg, uint64_t *out, char *err, size_t err_len)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} suffixes[] = {
		{ "", 1 },	     { "B", 1 },
		{ "K", 1ull << 10 }, { "KiB", 1ull << 10 },
		{ "M", 1ull << 20 }, { "MiB", 1ull << 20 },
		{ "G", 1ull << 30 }, { "GiB", 1ull << 30 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (!argval_digits(arg, 1))
		return argval_error(err, err_len, "%s: '%s' is not a size in bytes", opt, arg);
	errno = 0;
	v = strtoull(arg, &end, 10);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcasecmp(end, suffixes[i].suffix) == 0)
			break;
	}
	if (i == sizeof(suffixes) / sizeof(suffixes[0]))
		return argval_error(err, err_len, "%s: '%s' is not a size in bytes (suffixes: %s)",
				   opt, arg, "K, M, G, KiB, MiB, GiB");
	if (errno == ERANGE || v > UINT64_MAX / suffixes[i].mult)
		return argval_error(err, err_len, "%s: '%s' is too large", opt, arg);
	*out = v * suffixes[i].mult;
	return 0;
}

