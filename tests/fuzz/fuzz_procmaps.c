/* fuzz_procmaps.c: libFuzzer harness for the /proc/PID/maps parser and its lookups. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proc/procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct procmap *found;
	struct procmaps *pm;
	uint64_t off;
	size_t i;

	/* The parser takes a length, not a string: the input is passed as it is, NULs and all. */
	pm = procmaps__parse((const char *)data, size, 1);
	if (!pm)
		return 0;
	for (i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];

		if (m->end <= m->start || m->perms[2] != 'x' || strlen(m->perms) != 4 || !m->path)
			__builtin_trap();
		if (i && pm->maps[i - 1].start > m->start)
			__builtin_trap();
		/* Overlapping lines make lookups ambiguous; whatever is found holds the address. */
		found = procmaps__find(pm, m->start);
		if (found && (m->start < found->start || m->start >= found->end))
			__builtin_trap();
		if (procmaps__file_offset(pm, m->end - 1, &found, &off) &&
		    off != m->end - 1 - found->start + found->file_offset)
			__builtin_trap();
		(void)strlen(m->path);
	}
	procmaps__free(pm);
	return 0;
}
