/* log.h: the one logging module for leaktop, and the libbpf print callback. */
#ifndef LT_LOG_H
#define LT_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped. Default LOG_WARN; -v raises it. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Prints "leaktop: [level: ]message\n" on stderr. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Routes libbpf's messages through log_msg (libbpf debug output only at LOG_DEBUG). */
void log_install_libbpf_printer(void);

#endif
