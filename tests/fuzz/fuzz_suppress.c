/* fuzz_suppress.c: libFuzzer harness for suppressions files and LeakSanitizer's pattern match. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/suppress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input, up to its first NUL, is a suppressions file; each of its lines is also tried as a
 * pattern against every other line, and every rule is matched against a frame made of lines.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct suppressions *s = suppressions__new();
	char *text = malloc(size + 1), *lines[8], err[256];
	size_t nr = 0;

	if (!s || !text)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	suppressions__parse(s, text, "fuzz", err, sizeof(err));
	for (char *p = strtok(text, "\n"); p && nr < 8; p = strtok(NULL, "\n"))
		lines[nr++] = p;
	for (size_t i = 0; i < nr; i++)
		for (size_t j = 0; j < nr; j++)
			/* A pattern always matches itself when it holds no `*`, `^` or `$`. */
			if (!suppress_pattern_match(lines[i], lines[j]) && i == j &&
			    !strpbrk(lines[i], "*^$"))
				__builtin_trap();
	if (nr >= 3) {
		struct sym_frame f = { .module = lines[0], .function = lines[1], .file = lines[2] };

		(void)suppressions__match(s, &f, 1);
	}
out:
	free(text);
	suppressions__free(s);
	return 0;
}
