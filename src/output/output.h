/* output.h: the writers of the report model, and the output-format table. */
#ifndef LT_OUTPUT_H
#define LT_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "model/report.h"

/* Each writer returns 0, or -EIO when the stream failed (or -ENOMEM, one that builds in memory). */
typedef int (*report_writer_fn)(const struct report *r, FILE *out);

int out_text_write(const struct report *r, FILE *out);
int out_json_write(const struct report *r, FILE *out);
int out_folded_write(const struct report *r, FILE *out);
int out_pprof_write(const struct report *r, FILE *out);
int out_html_write(const struct report *r, FILE *out);

struct output_format {
	const char *name;
	report_writer_fn write;
	/* The writer names each stack as it writes it (report_frames()): a report from
	 * report_init() will do, and only one stack's frames are held at a time. */
	bool names_stacks;
};

/* The format table; NULL when name is unknown. */
const struct output_format *output_format_find(const char *name);
/* "text|json|folded|...", for messages. */
const char *output_format_names(void);

/*
 * The error to report after a writer (or fflush) returned err on out. -EIO says only that the
 * stream failed; errno, set by the write(2) that failed, says why (ENOSPC, EPIPE, EDQUOT...). Call
 * it right after the writer, before anything else can change errno. Other errors come back as is.
 */
int output_error(FILE *out, int err);

/* The last component of a module path, for the human formats; path itself when it has no '/'. */
const char *output_basename(const char *path);

/* A signal's name as kill -l spells it with SIG in front ("SIGSEGV"; "SIG42" when unnamed). */
void output_signal_name(int signo, char *buf, size_t len);

/*
 * How the command ended, in words: "exited with status 3", "killed by SIGSEGV (Segmentation
 * fault)", "still running when tracing ended". Returns buf.
 */
const char *output_command_exit(const struct report_exit *e, char *buf, size_t len);

/* Where the human formats write their text: len bytes of text, no newline. */
typedef void (*output_put_fn)(void *ctx, const char *text, size_t len);

/*
 * Writes s with each control character as '?': names come from the traced program's files, and a
 * newline or an escape sequence in one must not break the layout or drive the terminal.
 */
void output_put_clean(const char *s, output_put_fn put, void *ctx);

/*
 * One frame as the human formats show it: `function+0xoffset (module) file:line [inlined]`, or
 * `0xaddress (module+0xoffset)` where no symbol covers it; the module by its base name. short_form
 * (a site in the view's rows) leaves out the function's offset and the file's directories.
 */
void output_put_frame(const struct sym_frame *f, bool short_form, output_put_fn put, void *ctx);

#endif
