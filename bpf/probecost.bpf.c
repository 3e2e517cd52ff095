// SPDX-License-Identifier: GPL-2.0
/* probecost.bpf.c: empty uprobes, so that what the kernel spends on a probe is measured alone. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Also a session program that asks for the return (returns 0): entry and return in one link. */
SEC("uprobe")
int probecost(void *ctx)
{
	return 0;
}

/* A session program that declines the return: an entry alone. */
SEC("uprobe")
int probecost_entry(void *ctx)
{
	return 1;
}
