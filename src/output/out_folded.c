/* out_folded.c: writes a report as folded stacks ("outer;...;inner bytes") for flame graphs. */
#include <errno.h>
#include <inttypes.h>

#include "output/output.h"

/*
 * ';' separates frames and the last blank separates the count, so neither may appear in a name
 * (C++ names hold blanks: "operator new(unsigned long)"); control bytes would end the line.
 */
static void put_name(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == ';')
			fputc(':', out);
		else if (*s == ' ' || (unsigned char)*s < 0x20 || *s == 0x7f)
			fputc('_', out);
		else
			fputc(*s, out);
	}
}

static void put_frame(FILE *out, const struct sym_frame *f)
{
	if (f->function && f->function[0]) {
		put_name(out, f->function);
	} else if (f->module && f->module[0]) {
		put_name(out, output_basename(f->module));
		fprintf(out, "+0x%" PRIx64, f->module_offset);
	} else {
		fprintf(out, "0x%" PRIx64, f->address);
	}
}

int out_folded_write(const struct report *r, FILE *out)
{
	size_t i, j;

	for (i = 0; i < r->nr_stacks; i++) {
		const struct report_stack *rs = &r->stacks[i];

		/* flamegraph.pl takes only positive integer counts; such a stack holds nothing. */
		if (rs->rec->outstanding_bytes <= 0)
			continue;
		if (!rs->nr_frames)
			fputs("[unknown]", out);
		/* frames are innermost first; folded stacks read from the root. */
		for (j = rs->nr_frames; j-- > 0;) {
			put_frame(out, &rs->frames[j]);
			if (j)
				fputc(';', out);
		}
		fprintf(out, " %" PRId64 "\n", rs->rec->outstanding_bytes);
	}
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
