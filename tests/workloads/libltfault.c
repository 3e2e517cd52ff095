/* libltfault.c: not a workload: preloaded into leaktop by tests, a fatal error on demand. */
/*
 * With LT_FAULT_AFTER_S=SECONDS in the environment, leaktop's BPF map reads (libbpf's
 * bpf_map_lookup_batch and bpf_map_get_next_key) fail with EIO once SECONDS have passed since the
 * first one: the collector then fails as it would if the kernel refused, and leaktop must end
 * with exit 1, its terminal restored. Without the variable every call goes through unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int failing(void)
{
	static double first;
	const char *after = getenv("LT_FAULT_AFTER_S");

	if (!after)
		return 0;
	if (!first)
		first = now_s();
	return now_s() - first >= atof(after);
}

typedef int (*batch_fn)(int, void *, void *, void *, void *, void *, const void *);
typedef int (*next_fn)(int, const void *, void *);

int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			 void *count, const void *opts)
{
	batch_fn real = (batch_fn)dlsym(RTLD_NEXT, "bpf_map_lookup_batch");

	if (failing() || !real) {
		errno = EIO;
		return -EIO;
	}
	return real(fd, in_batch, out_batch, keys, values, count, opts);
}

int bpf_map_get_next_key(int fd, const void *key, void *next_key)
{
	next_fn real = (next_fn)dlsym(RTLD_NEXT, "bpf_map_get_next_key");

	if (failing() || !real) {
		errno = EIO;
		return -EIO;
	}
	return real(fd, key, next_key);
}
