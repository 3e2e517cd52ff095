/* errmsg.c: a one-line message into a caller's buffer. */
#include <stdio.h>

#include "base/errmsg.h"

int errmsg_v(char *err, size_t err_len, int errnum, const char *fmt, va_list ap)
{
	if (err && err_len)
		(void)vsnprintf(err, err_len, fmt, ap);
	return -errnum;
}

int errmsg(char *err, size_t err_len, int errnum, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = errmsg_v(err, err_len, errnum, fmt, ap);
	va_end(ap);
	return ret;
}
