/* fmt.h: sizes, rates and durations as people read them, for every human-facing output. */
#ifndef LT_FMT_H
#define LT_FMT_H

#include <stddef.h>

/*
 * bytes in binary units: "512 B", "1.5 KiB", "-2.0 MiB": one decimal above 1024, none for whole
 * bytes below. Writes at most len bytes (16 are always enough).
 */
void fmt_bytes(char *buf, size_t len, double bytes);

#endif
