/* libltfault.c: not a workload: preloaded into leaktop by tests, a fatal error on demand. */
/*
 * With LT_FAULT_AFTER_S=SECONDS in the environment, leaktop's BPF map reads (libbpf's
 * bpf_map_lookup_batch and bpf_map_get_next_key, and bpf_map_lookup_elem of the heap stacks'
 * totals, which a reading makes for the stacks that changed) fail with EIO once SECONDS have
 * passed since the first one: the collector then fails as it would if the kernel refused, and leaktop must end
 * with exit 1, its terminal restored. With LT_FAULT_MAP_UPDATE=NAME, every update of the BPF map
 * of that name fails with EIO (unwind_procs: a process's unwind tables cannot be published).
 * With LT_FAULT_CRASH=segv as well, the map read that would fail crashes leaktop instead, with a
 * SIGSEGV inside the libbpf call; with LT_FAULT_CRASH=double_free, it frees a block twice (glibc
 * aborts, a sanitizer reports it): leaktop's crash handler must restore the terminal.
 * Without the variables every call goes through unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* LT_FAULT_CRASH: the fault, as a crash of the program that called. */
static void crash(void)
{
	const char *kind = getenv("LT_FAULT_CRASH");
	void *volatile block;

	if (!kind)
		return;
	if (!strcmp(kind, "segv")) {
		*(volatile int *)(uintptr_t)8 = 1;
	} else if (!strcmp(kind, "double_free")) {
		block = malloc(64);
		free(block);
		free(block);
	}
	fprintf(stderr, "libltfault: LT_FAULT_CRASH=%s did not crash\n", kind);
	abort();
}

static int failing(void)
{
	static double first;
	const char *after = getenv("LT_FAULT_AFTER_S");

	if (!after)
		return 0;
	if (!first)
		first = now_s();
	if (now_s() - first < atof(after))
		return 0;
	crash();
	return 1;
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

typedef int (*update_fn)(int, const void *, const void *, __u64);
typedef int (*lookup_fn)(int, const void *, void *);
int bpf_obj_get_info_by_fd(int fd, void *info, __u32 *info_len);

/* Whether fd is the BPF map of that name. */
static int map_named(int fd, const char *name)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name);
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	lookup_fn real = (lookup_fn)dlsym(RTLD_NEXT, "bpf_map_lookup_elem");

	if (!real || (getenv("LT_FAULT_AFTER_S") &&
		       (map_named(fd, "stack_totals") || map_named(fd, "unknown_totals")) &&
		       failing())) {
		errno = EIO;
		return -EIO;
	}
	return real(fd, key, value);
}

int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	update_fn real = (update_fn)dlsym(RTLD_NEXT, "bpf_map_update_elem");
	const char *name = getenv("LT_FAULT_MAP_UPDATE");

	if (!real || (name && map_named(fd, name))) {
		errno = EIO;
		return -EIO;
	}
	return real(fd, key, value, flags);
}
