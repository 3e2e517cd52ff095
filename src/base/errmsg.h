/* errmsg.h: a one-line message into a caller's buffer, for functions that report why they failed.
 */
#ifndef LT_ERRMSG_H
#define LT_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Writes the message (fmt, as printf) into err, err_len bytes, cut short if it must be (a message
 * cut short still names the problem); err may be NULL with err_len 0. Returns -errnum.
 */
int errmsg(char *err, size_t err_len, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* errmsg() with the arguments as a va_list. */
int errmsg_v(char *err, size_t err_len, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
