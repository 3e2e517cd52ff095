/* output.c: the output-format table: one line per format, looked up by the name given to -f. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "output/output.h"

static const struct output_format formats[] = {
	{ "text", out_text_write, false },
	{ "json", out_json_write, true },
	{ "folded", out_folded_write, false },
	{ "pprof", out_pprof_write, false },
	{ "html", out_html_write, false },
};

#define NR_FORMATS (sizeof(formats) / sizeof(formats[0]))

void output_signal_name(int signo, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(signo);

	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "SIG%d", signo);
}

const char *output_command_exit(const struct report_exit *e, char *buf, size_t len)
{
	char sig[32];

	if (!e->ended) {
		snprintf(buf, len, "still running when tracing ended");
	} else if (e->signal) {
		output_signal_name(e->signal, sig, sizeof(sig));
		snprintf(buf, len, "killed by %s (%s)", sig, strsignal(e->signal));
	} else {
		snprintf(buf, len, "exited with status %d", e->code);
	}
	return buf;
}

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

void output_put_clean(const char *s, output_put_fn put, void *ctx)
{
	while (*s) {
		size_t n = 0;

		while (s[n] && (unsigned char)s[n] >= 0x20 && s[n] != 0x7f)
			n++;
		if (n)
			put(ctx, s, n);
		if (!s[n])
			break;
		put(ctx, "?", 1);
		s += n + 1;
	}
}

/* A figure: numbers only, so the buffer always holds it. */
static void put_hex(output_put_fn put, void *ctx, const char *prefix, uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%s0x%" PRIx64, prefix, v);

	if (n > 0 && (size_t)n < sizeof(buf))
		put(ctx, buf, (size_t)n);
}

static void put_str(output_put_fn put, void *ctx, const char *s)
{
	put(ctx, s, strlen(s));
}

void output_put_frame(const struct sym_frame *f, bool short_form, output_put_fn put, void *ctx)
{
	const char *mod = f->module && f->module[0] ? output_basename(f->module) : NULL;
	char line[16];

	if (f->function) {
		output_put_clean(f->function, put, ctx);
		if (!short_form)
			put_hex(put, ctx, "+", f->offset);
	} else {
		put_hex(put, ctx, "", f->address);
	}
	if (mod) {
		put_str(put, ctx, " (");
		output_put_clean(mod, put, ctx);
		if (!f->function)
			put_hex(put, ctx, "+", f->module_offset);
		put_str(put, ctx, ")");
	}
	if (f->file) {
		put_str(put, ctx, " ");
		output_put_clean(short_form ? output_basename(f->file) : f->file, put, ctx);
		if (f->line) {
			snprintf(line, sizeof(line), ":%" PRIu32, f->line);
			put_str(put, ctx, line);
		}
	}
	if (f->inlined)
		put_str(put, ctx, " [inlined]");
}
