/* output.c: the output-format table: one line per format, looked up by the name given to -f. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "output/output.h"

static const struct output_format formats[] = {
	{ "text", out_text_write },
	{ "json", out_json_write },
	{ "folded", out_folded_write },
	{ "pprof", out_pprof_write },
};

#define NR_FORMATS (sizeof(formats) / sizeof(formats[0]))

const struct output_format *output_format_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < NR_FORMATS; i++) {
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	}
	return NULL;
}

const char *output_format_names(void)
{
	/* Built from the table so that adding a format stays a one-line change. */
	static char names[128];
	size_t len = 0, i;
	int n;

	for (i = 0; i < NR_FORMATS; i++) {
		n = snprintf(names + len, sizeof(names) - len, "%s%s", i ? "|" : "",
			     formats[i].name);
		if (n < 0 || (size_t)n >= sizeof(names) - len) {
			/* Never with today's table; a shorter list beats a cut-off name. */
			names[len] = '\0';
			break;
		}
		len += (size_t)n;
	}
	return names;
}

int output_error(FILE *out, int err)
{
	if (err == -EIO && out && ferror(out) && errno > 0)
		return -errno;
	return err;
}

const char *output_basename(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	/* A path ending in '/' names no object file; keep it whole rather than print nothing. */
	return slash && slash[1] ? slash + 1 : path;
}
