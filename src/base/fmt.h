/* fmt.h: sizes, rates and durations as people read them, for every human-facing output. */
#ifndef LT_FMT_H
#define LT_FMT_H

#include <stddef.h>

/* Enough for any text of these functions. */
#define FMT_LEN 32

/*
 * bytes in binary units: "512 B", "1.5 KiB", "-2.0 MiB": one decimal above 1024, none for whole
 * bytes below. Writes at most len bytes (16 are always enough).
 */
void fmt_bytes(char *buf, size_t len, double bytes);

/*
 * A rate of bytes per second, signed: "+1.5 KiB/s", "0 B/s", "-12 B/s"; "-" when not finite
 * (unknown). Writes at most len bytes (FMT_LEN are always enough).
 */
void fmt_rate(char *buf, size_t len, double bytes_per_s);

/*
 * A duration in seconds, with its units glued to the figures: "4.2s" below a minute, "2m05s" below
 * an hour, "1h02m" beyond; "-" when negative or not finite (unknown). Writes at most len bytes
 * (FMT_LEN are always enough).
 */
void fmt_duration(char *buf, size_t len, double s);

#endif
