/* log.c: leaktop's logging, and the bridge for libbpf's messages. */
#include <stdio.h>
#include <bpf/libbpf.h>

#include "base/log.h"

static enum log_level current_level = LOG_WARN;

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

/* The format attributes let clang's -Wformat=2 check the callers instead of these forwarders. */
static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };

	if (level > current_level)
		return;
	fprintf(stderr, "leaktop: %s", prefix[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/*
 * libbpf reports failures at its WARN level with many lines (a whole verifier log); leaktop logs
 * one line naming the failure itself, so libbpf speaks from -v on, and its debug output at -vv.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level mine = level == LIBBPF_DEBUG ? LOG_DEBUG : LOG_INFO;

	if (mine > current_level)
		return 0;
	fputs("leaktop: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void log_install_libbpf_printer(void)
{
	libbpf_set_print(libbpf_print);
}
