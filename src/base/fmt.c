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

void fmt_rate(char *buf, size_t len, double v)
{
	char h[FMT_LEN];

	if (!isfinite(v)) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_bytes(h, sizeof(h), v);
	snprintf(buf, len, "%s%s/s", v > 0 ? "+" : "", h);
}

void fmt_duration(char *buf, size_t len, double s)
{
	long long whole = (long long)s;

	if (!(s >= 0) || !isfinite(s))
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", whole / 60, whole % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
}
