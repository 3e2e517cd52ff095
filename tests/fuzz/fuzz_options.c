/* fuzz_options.c: libFuzzer harness for options_parse, on one line split into argv words. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* More words than any option can use; bounds the work of one input. */
#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* err must come back a terminated string however small it is, and hold nothing else on success. */
static void parse(int argc, char **argv, size_t err_len)
{
	struct options opts;
	char err[256];
	int ret;

	memset(err, 'x', sizeof(err));
	ret = options_parse(&opts, argc, argv, err_len ? err : NULL, err_len);
	if (ret && ret != -EINVAL && ret != -ENOMEM)
		__builtin_trap();
	if (err_len && strnlen(err, err_len) == err_len)
		__builtin_trap();
	if (!ret && err_len && err[0])
		__builtin_trap();
	if (!ret && !opts.help && !opts.version && !opts.nr_pids == !opts.command)
		__builtin_trap();
	options_free(&opts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *argv[MAX_WORDS + 2], *save = NULL, *word;
	int argc = 0;

	/* Words split at blanks and newlines, as a shell would split an unquoted line. */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[argc++] = "leaktop";
	for (word = strtok_r(text, " \t\n", &save); word && argc <= MAX_WORDS;
	     word = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = word;
	argv[argc] = NULL;
	parse(argc, argv, 256);
	/* A message cut short by a small buffer. */
	parse(argc, argv, 8);
	parse(argc, argv, 0);
	free(text);
	return 0;
}
