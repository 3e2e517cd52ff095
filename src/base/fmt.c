/* fmt.c: sizes, rates and durations as people read them, for every human-facing output. */
#include <math.h>
#include <stdio.h>

#include "base/fmt.h"

void fmt_bytes(char *buf, size_t len, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = fabs(v);
	size_t u = 0;

	if (d < 1023.95) {
		snprintf(buf, len, "%s%.*f B", v < 0 ? "-" : "", d == floor(d) ? 0 : 1, d);
		return;
	}
	while (d >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%s%.1f %s", v < 0 ? "-" : "", d, units[u]);
}
