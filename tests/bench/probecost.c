/* probecost.c: measures a uprobe's cost per hit on this kernel, by the instruction it sits on. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <capstone/capstone.h>

#include "probecost.skel.h"
#include "trace/probepoint.h"

/*
 * Every test function starts with the instruction under test and returns; the probe goes on its
 * first byte. They are called through pc_call, which saves rbp and rbx, so that a function may
 * clobber them (mov %rsp,%rbp) and the stack stays aligned for the ones that call.
 */
#define PC_FUNC(name, body)                                                                        \
	".globl pc_" #name "\n.type pc_" #name ",@function\n.p2align 4\npc_" #name ":\n" body      \
	"\n.size pc_" #name ", .-pc_" #name "\n"

/* clang-format off */
asm(".text\n"
    ".globl pc_call\n.type pc_call,@function\n.p2align 4\npc_call:\n"
    "push %rbp\npush %rbx\nsub $8,%rsp\nmov %rdi,%rax\nmov %rsi,%rdi\ncall *%rax\n"
    "add $8,%rsp\npop %rbx\npop %rbp\nret\n.size pc_call, .-pc_call\n"
    PC_FUNC(nop1, "nop\nret")
    PC_FUNC(nop2, ".byte 0x66,0x90\nret")
    PC_FUNC(nop3, ".byte 0x0f,0x1f,0x00\nret")
    PC_FUNC(nop4, ".byte 0x0f,0x1f,0x40,0x00\nret")
    PC_FUNC(nop5, ".byte 0x0f,0x1f,0x44,0x00,0x00\nret")
    PC_FUNC(nop6, ".byte 0x66,0x0f,0x1f,0x44,0x00,0x00\nret")
    PC_FUNC(nop7, ".byte 0x0f,0x1f,0x80,0x00,0x00,0x00,0x00\nret")
    PC_FUNC(nop8, ".byte 0x0f,0x1f,0x84,0x00,0x00,0x00,0x00,0x00\nret")
    PC_FUNC(nop9, ".byte 0x66,0x0f,0x1f,0x84,0x00,0x00,0x00,0x00,0x00\nret")
    PC_FUNC(nop10, ".byte 0x66,0x2e,0x0f,0x1f,0x84,0x00,0x00,0x00,0x00,0x00\nret")
    PC_FUNC(nop11, ".byte 0x66,0x66,0x2e,0x0f,0x1f,0x84,0x00,0x00,0x00,0x00,0x00\nret")
    PC_FUNC(nop3_eax, ".byte 0x0f,0x1f,0xc0\nret")
    PC_FUNC(nop4_disp8, ".byte 0x0f,0x1f,0x40,0x08\nret")
    /* xchg %eax,%r8d: the kernel takes it for a nop, see probepoint.c */
    PC_FUNC(xchg_r8, ".byte 0x41,0x90\nret")
    PC_FUNC(pause, "pause\nret")
    PC_FUNC(endbr64, "endbr64\nret")
    PC_FUNC(push_rbx, "push %rbx\npop %rbx\nret")
    PC_FUNC(push_rbp, "push %rbp\npop %rbp\nret")
    PC_FUNC(push_r12, "push %r12\npop %r12\nret")
    PC_FUNC(push_r15, "push %r15\npop %r15\nret")
    PC_FUNC(push_rexw, ".byte 0x48,0x53\npop %rbx\nret")
    PC_FUNC(push_imm, "push $0\nadd $8,%rsp\nret")
    PC_FUNC(jmp8, ".byte 0xeb,0x00\nret")
    PC_FUNC(jmp32, ".byte 0xe9\n.long 0\nret")
    PC_FUNC(bnd_jmp32, ".byte 0xf2,0xe9\n.long 0\nret")
    PC_FUNC(call32, "call 1f\nret\n1: ret")
    PC_FUNC(je8, ".byte 0x74,0x00\nret")
    PC_FUNC(je32, ".byte 0x0f,0x84\n.long 0\nret")
    PC_FUNC(ds_je8, ".byte 0x3e,0x74,0x00\nret")
    PC_FUNC(data16_je8, ".byte 0x66,0x74,0x00\nret")
    PC_FUNC(jrcxz, ".byte 0xe3,0x00\nret")
    PC_FUNC(loop, ".byte 0xe2,0x00\nret")
    PC_FUNC(lock_inc, "lock incl pc_data(%rip)\nret")
    PC_FUNC(test_rdi, "test %rdi,%rdi\nje 1f\n1: ret")
    PC_FUNC(mov_rdi_rax, "mov %rdi,%rax\nret")
    PC_FUNC(sub_rsp, "sub $8,%rsp\nadd $8,%rsp\nret")
    PC_FUNC(cmp_rdi, "cmp $0x1000,%rdi\nret")
    PC_FUNC(cmpb_rip, "cmpb $0,pc_data(%rip)\nret")
    PC_FUNC(lea, "lea 8(%rdi),%rax\nret")
    PC_FUNC(xor_eax, "xor %eax,%eax\nret")
    PC_FUNC(mov_rsp_rbp, "mov %rsp,%rbp\nret")
    PC_FUNC(ret, "ret")
    ".skip 32, 0xcc\n"
    ".data\npc_data: .quad 0\n.text\n");

typedef void pc_fn(uint64_t arg);
void pc_call(pc_fn *fn, uint64_t arg);

#define PC_DECL(name) pc_fn pc_##name;
#define PC_LIST(X)                                                                                 \
	X(nop1) X(nop2) X(nop3) X(nop4) X(nop5) X(nop6) X(nop7) X(nop8) X(nop9) X(nop10) X(nop11)  \
	X(nop3_eax) X(nop4_disp8) X(xchg_r8) X(pause) X(endbr64)                                   \
	X(push_rbx) X(push_rbp) X(push_r12) X(push_r15) X(push_rexw) X(push_imm)                   \
	X(jmp8) X(jmp32) X(bnd_jmp32) X(call32) X(je8) X(je32) X(ds_je8) X(data16_je8)             \
	X(jrcxz) X(loop) X(lock_inc)                                                               \
	X(test_rdi) X(mov_rdi_rax) X(sub_rsp) X(cmp_rdi) X(cmpb_rip) X(lea) X(xor_eax)             \
	X(mov_rsp_rbp) X(ret)
PC_LIST(PC_DECL)

/* clang-format on */

#define PC_ENTRY(name) {#name, pc_##name},
static const struct {
	const char *name;
	pc_fn *fn;
} funcs[] = {PC_LIST(PC_ENTRY)};

/* A probe costing more than this per hit is single-stepped: the two cases differ 30-fold. */
#define SINGLE_STEP_NS 3000.0

/* The kernel's own errno for an instruction it will not probe; not in the C library's headers. */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

static long calls = 20000;
static bool libbpf_quiet;
static int rounds = 3;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double time_fn(pc_fn *fn)
{
	double best = 0;

	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns(), t;

		for (long i = 0; i < calls; i++)
			pc_call(fn, (uint64_t)i);
		t = (now_ns() - t0) / calls;
		if (!r || t < best)
			best = t;
	}
	return best;
}

/* The allocator workloads, called through volatile pointers so the compiler keeps every call. */
static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void (*volatile v_free)(void *) = free;

static void wl_free_null(void)
{
	v_free(NULL);
}

static void wl_malloc(void)
{
	v_free(v_malloc(16));
}

static void wl_calloc(void)
{
	v_free(v_calloc(1, 16));
}

static void wl_realloc(void)
{
	v_free(v_realloc(NULL, 16));
}

static void wl_posix_memalign(void)
{
	void *p = NULL;

	if (!v_posix_memalign(&p, 64, 16))
		v_free(p);
}

static double time_wl(void (*wl)(void))
{
	double best = 0;

	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns(), t;

		for (long i = 0; i < calls; i++)
			wl();
		t = (now_ns() - t0) / calls;
		if (!r || t < best)
			best = t;
	}
	return best;
}

/* The mapped file holding addr and addr's offset in it, from /proc/self/maps. */
static int file_of(uintptr_t addr, char **path, uint64_t *off)
{
	uintptr_t start, end;
	unsigned long long pgoff;
	char line[4096], file[4096];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		file[0] = 0;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %llx %*s %*s %4095s", &start, &end,
			   &pgoff, file) < 3)
			continue;
		if (addr < start || addr >= end || file[0] != '/')
			continue;
		*path = strdup(file);
		*off = addr - start + pgoff;
		ret = *path ? 0 : -ENOMEM;
		break;
	}
	fclose(f);
	return ret;
}

/* With may_refuse, -ENOTSUPP (the kernel will not probe that instruction) is returned quietly. */
static int attach(struct probecost_bpf *skel, uintptr_t addr, struct bpf_link **link,
		  bool may_refuse)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	uint64_t off;
	char *path;
	int err;

	err = file_of(addr, &path, &off);
	if (err) {
		fprintf(stderr, "probecost: no mapped file holds %#" PRIxPTR "\n", addr);
		return err;
	}
	libbpf_quiet = may_refuse;
	*link = bpf_program__attach_uprobe_opts(skel->progs.probecost, getpid(), path, off, &opts);
	err = *link ? 0 : -errno;
	libbpf_quiet = false;
	if (err == -ENOTSUPP && may_refuse)
		*link = NULL;
	else if (err)
		fprintf(stderr, "probecost: cannot attach at %s+%#" PRIx64 ": %s\n", path, off,
			strerror(-err));
	free(path);
	return err;
}

static void print_bytes(const uint8_t *b, size_t n, char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && used + 4 < outsz; i++)
		used += (size_t)snprintf(out + used, outsz - used, "%s%02x", i ? " " : "", b[i]);
}

/* The instruction at code as text, for the tables. */
static void disasm_one(const uint8_t *code, uint64_t addr, char *out, size_t outsz)
{
	cs_insn *insn;
	csh cs;

	snprintf(out, outsz, "?");
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return;
	if (cs_disasm(cs, code, 16, addr, 1, &insn) == 1) {
		if (snprintf(out, outsz, "%s %s", insn->mnemonic, insn->op_str) >= (int)outsz)
			snprintf(out, outsz, "%s", insn->mnemonic);
		cs_free(insn, 1);
	}
	cs_close(&cs);
}

/* Measures each test function; returns the number whose cost disagrees with probepoint. */
static int bench_insns(struct probecost_bpf *skel)
{
	int mismatches = 0;

	printf("%-12s %-32s %-30s %9s %9s %9s  %-12s %s\n", "function", "bytes", "instruction",
	       "base_ns", "probed_ns", "cost_ns", "kernel", "probepoint");
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		const uint8_t *code = (const uint8_t *)funcs[i].fn;
		struct bpf_link *link;
		double base, probed;
		char bytes[64], insn[48];
		bool measured, predicted;
		int err;

		print_bytes(code, 11, bytes, sizeof(bytes));
		base = time_fn(funcs[i].fn);
		err = attach(skel, (uintptr_t)code, &link, true);
		if (err && err != -ENOTSUPP)
			return -1;
		probed = err ? 0 : time_fn(funcs[i].fn);
		bpf_link__destroy(link);

		/* 16 bytes always lie inside .text: the functions end in 32 bytes of padding. */
		predicted = probepoint_insn_emulated(code, 16, (uintptr_t)code);
		disasm_one(code, (uintptr_t)code, insn, sizeof(insn));
		if (err) {
			/* the kernel refuses a uprobe here (segment or lock prefix) */
			printf("%-12s %-32s %-30s %9.1f %9s %9s  %-12s %s%s\n", funcs[i].name,
			       bytes, insn, base, "-", "-", "refused",
			       predicted ? "emulated" : "single-step",
			       predicted ? "  MISMATCH" : "");
			mismatches += predicted;
			continue;
		}
		measured = probed - base < SINGLE_STEP_NS;
		if (measured != predicted)
			mismatches++;
		printf("%-12s %-32s %-30s %9.1f %9.1f %9.1f  %-12s %s%s\n", funcs[i].name, bytes,
		       insn, base, probed, probed - base, measured ? "emulated" : "single-step",
		       predicted ? "emulated" : "single-step",
		       measured != predicted ? "  MISMATCH" : "");
		fflush(stdout);
	}
	return mismatches;
}

/* The real allocator: the probe at the function's start and at the point probepoint chooses. */
static int bench_libc(struct probecost_bpf *skel)
{
	static const struct {
		const char *sym;
		void (*wl)(void);
		const char *what;
	} libc[] = {
	    {"free", wl_free_null, "free(NULL)"},
	    {"malloc", wl_malloc, "free(malloc(16))"},
	    {"calloc", wl_calloc, "free(calloc(1, 16))"},
	    {"realloc", wl_realloc, "free(realloc(NULL, 16))"},
	    {"posix_memalign", wl_posix_memalign, "posix_memalign(64, 16)+free"},
	};

	printf("\n%-16s %-28s %6s %6s %-28s %9s %9s %9s\n", "symbol", "workload", "offset",
	       "sp_adj", "instruction", "base_ns", "probed_ns", "cost_ns");
	for (size_t i = 0; i < sizeof(libc) / sizeof(libc[0]); i++) {
		void *fn = dlsym(RTLD_DEFAULT, libc[i].sym);
		const ElfW(Sym) *sym = NULL;
		struct probe_point pp;
		Dl_info info;
		double base;

		if (!fn || !dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) {
			fprintf(stderr, "probecost: cannot find %s\n", libc[i].sym);
			return -1;
		}
		probepoint_choose(fn, sym->st_size, (uintptr_t)fn, 6, &pp);
		base = time_wl(libc[i].wl);
		/* offset 0 first, then the chosen point when it differs */
		for (uint64_t off = 0;; off = pp.offset) {
			struct bpf_link *link;
			char insn[48];
			double probed;

			disasm_one((const uint8_t *)fn + off, (uintptr_t)fn + off, insn,
				   sizeof(insn));
			if (attach(skel, (uintptr_t)fn + off, &link, false))
				return -1;
			probed = time_wl(libc[i].wl);
			bpf_link__destroy(link);
			printf("%-16s %-28s %6" PRIu64 " %6u %-28s %9.1f %9.1f %9.1f\n",
			       libc[i].sym, libc[i].what, off, off ? pp.sp_adj : 0, insn, base,
			       probed, probed - base);
			fflush(stdout);
			if (off == pp.offset)
				break;
		}
	}
	return 0;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN && !libbpf_quiet ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct probecost_bpf *skel;
	int opt, mismatches, err;

	while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
		switch (opt) {
		case 'n':
			calls = strtol(optarg, NULL, 10);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-n calls] [-r rounds]\n"
				"Prints ns per call with an empty uprobe on each kind of first\n"
				"instruction against the unprobed call; needs root.\n",
				argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (calls < 1 || rounds < 1) {
		fprintf(stderr, "probecost: -n and -r must be positive\n");
		return 2;
	}
	libbpf_set_print(print_libbpf);
	skel = probecost_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "probecost: cannot load the BPF program: %s\n", strerror(errno));
		return 1;
	}
	printf("probecost: %ld calls, best of %d rounds; kernel verdict: cost < %.0f ns = "
	       "emulated\n\n",
	       calls, rounds, SINGLE_STEP_NS);
	mismatches = bench_insns(skel);
	err = mismatches < 0 ? -1 : bench_libc(skel);
	probecost_bpf__destroy(skel);
	if (mismatches > 0)
		fprintf(stderr,
			"probecost: %d instruction(s) where probepoint_insn_emulated is wrong\n",
			mismatches);
	return err || mismatches ? 1 : 0;
}
