// SPDX-License-Identifier: GPL-2.0
/* probecost.bpf.c: an empty uprobe, so the bench measures only what the kernel spends on it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int probecost(void *ctx)
{
	return 0;
}
