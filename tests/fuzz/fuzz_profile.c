/* fuzz_profile.c: libFuzzer harness for profile_read(), which `leaktop report` runs on any file. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_file.h"
#include "output/profile_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every string a frame points to: each must be a whole C string of the profile's. */
static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_file f;
	struct profile *p;
	char err[256];
	size_t sum = 0;

	fuzz_file_open(&f, data, size);
	p = profile_read(f.path, err, sizeof(err));
	if (p) {
		for (size_t i = 0; i < p->nr_stacks; i++) {
			const struct profile_stack *ps = &p->stacks[i];

			if (ps->rec.nr_ips > LT_MAX_DEPTH || (ps->nr_frames && !ps->frames))
				__builtin_trap();
			for (size_t j = 0; j < ps->nr_frames; j++)
				sum += touch(ps->frames[j].function) + touch(ps->frames[j].file) +
				       touch(ps->frames[j].module);
		}
		profile_free(p);
	} else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
		__builtin_trap(); /* a failure always says why */
	}
	fuzz_file_close(&f);
	return sum == (size_t)-1;
}
