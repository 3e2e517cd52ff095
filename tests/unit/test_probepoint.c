/* test_probepoint.c: entry probe points chosen for allocator prologues, as bytes and in libc. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gelf.h>
#include <libelf.h>

#include "trace/probepoint.h"

#define VADDR 0x98ef0ULL

struct prologue_case {
	const char *what;
	const uint8_t *code;
	size_t size;
	uint64_t offset;
	uint32_t sp_adj;
	bool emulated;
	const char *insn; /* prefix of pp.insn */
};

/* clang-format off */
#define CODE(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static const struct prologue_case cases[] = {
	/* glibc free: test %rdi,%rdi; je; push %rbp; lea -0x10(%rdi),%rsi; push %rbx; sub $0x18,%rsp */
	{ "free", CODE(0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48, 0x8d, 0x77,
		       0xf0, 0x53, 0x48, 0x83, 0xec, 0x18),
	  3, 0, true, "je " },
	/* glibc malloc: push %r12 is itself emulated */
	{ "malloc", CODE(0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10),
	  0, 0, true, "push r12" },
	/* glibc posix_memalign: cmpb $0,x(%rip); push %r12; mov %rdx,%r12; push %rbp */
	{ "posix_memalign", CODE(0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54, 0x49, 0x89,
				 0xd4, 0x55),
	  7, 0, true, "push r12" },
	/* glibc valloc: cmpb $0,x(%rip); push %rbx; mov %rdi,%rbx; je */
	{ "valloc", CODE(0x80, 0x3d, 0x31, 0x0e, 0x14, 0x00, 0x00, 0x53, 0x48, 0x89, 0xfb, 0x74,
			 0x1b),
	  7, 0, true, "push rbx" },
	/* cmp $0x1000,%rdi; ja +5; ... */
	{ "cmp-ja", CODE(0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00, 0x77, 0x05, 0x31, 0xc0, 0xc3,
			 0x90, 0x90, 0xc3),
	  7, 0, true, "ja " },
	/* push %rbx; mov %rdi,%rbx: the push at the start is emulated */
	{ "push-first", CODE(0x53, 0x48, 0x89, 0xfb, 0x74, 0x00, 0x5b, 0xc3), 0, 0, true,
	  "push rbx" },
	/* mov %rax,%rdi; je: the argument is gone by the je */
	{ "writes-rdi", CODE(0x48, 0x89, 0xc7, 0x74, 0x00, 0xc3), 0, 0, false, "mov rdi, rax" },
	/* xor %edi,%edi writes rdi through its 32-bit name */
	{ "writes-edi", CODE(0x31, 0xff, 0x74, 0x00, 0xc3), 0, 0, false, "xor edi, edi" },
	/* mov %al,%cl writes rcx through its byte name */
	{ "writes-cl", CODE(0x88, 0xc1, 0x55, 0xc3), 0, 0, false, "mov cl, al" },
	/* glibc reallocarray: mov %rsi,%rax; mul %rdx writes rdx implicitly */
	{ "reallocarray", CODE(0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6, 0x70, 0x05, 0xe9,
			       0x40, 0xb8, 0xf8, 0xff),
	  0, 0, false, "mov rax, rsi" },
	/* glibc calloc: push %r13 first */
	{ "calloc", CODE(0x41, 0x55, 0x48, 0x89, 0xf8, 0x41, 0x54), 0, 0, true, "push r13" },
	/* test; je +5; dec %rdi; jmp back to the start; ret: the probe at the je would run twice */
	{ "loop-to-start", CODE(0x48, 0x85, 0xff, 0x74, 0x05, 0x48, 0xff, 0xcf, 0xeb, 0xf6, 0xc3),
	  0, 0, false, "test rdi, rdi" },
	/* a later jmp to the je itself */
	{ "jump-to-point", CODE(0x48, 0x85, 0xff, 0x74, 0x05, 0x48, 0xff, 0xcf, 0xeb, 0xf9, 0xc3),
	  0, 0, false, "test rdi, rdi" },
	/* a later jmp just past the je does not matter */
	{ "jump-past-point", CODE(0x48, 0x85, 0xff, 0x74, 0x05, 0x48, 0xff, 0xcf, 0xeb, 0xfb, 0xc3),
	  3, 0, true, "je " },
	/* the je at the point jumps back to the start */
	{ "point-branches-back", CODE(0x48, 0x85, 0xff, 0x74, 0xfb, 0xc3), 0, 0, false,
	  "test rdi, rdi" },
	/* a call to the start from inside the function */
	{ "call-to-start", CODE(0x48, 0x85, 0xff, 0x74, 0x05, 0xe8, 0xf6, 0xff, 0xff, 0xff, 0xc3),
	  0, 0, false, "test rdi, rdi" },
	/* sub $0x18,%rsp; push %rbx: the stack moved 24 bytes before the point */
	{ "sub-then-push", CODE(0x48, 0x83, 0xec, 0x18, 0x53, 0xc3), 4, 0x18, true, "push rbx" },
	/* push $0; push %rbp: a single-stepped push counts 8 */
	{ "push-imm", CODE(0x6a, 0x00, 0x55, 0xc3), 2, 8, true, "push rbp" },
	/* sub $0x100,%rsp is more than sp_adj may hold */
	{ "sub-too-big", CODE(0x48, 0x81, 0xec, 0x00, 0x01, 0x00, 0x00, 0x55, 0xc3), 0, 0, false,
	  "sub rsp, 0x100" },
	/* sub $0xf0 then push: 0xf8 fits; a second push would pass 255 */
	{ "sub-limit", CODE(0x48, 0x81, 0xec, 0xf0, 0x00, 0x00, 0x00, 0x6a, 0x00, 0x53, 0xc3), 9,
	  0xf8, true, "push rbx" },
	{ "sub-over-limit", CODE(0x48, 0x81, 0xec, 0xf8, 0x00, 0x00, 0x00, 0x6a, 0x00, 0x53, 0xc3),
	  0, 0, false, "sub rsp, 0xf8" },
	/* glibc memalign's slow path: sub $0x18,%rsp; mov %rsi,8(%rsp): a store through rsp */
	{ "store-via-rsp", CODE(0x48, 0x83, 0xec, 0x18, 0x48, 0x89, 0x74, 0x24, 0x08, 0x74, 0x00),
	  0, 0, false, "sub rsp, 0x18" },
	/* lea (%rsp),%rax only reads the stack pointer */
	{ "reads-rsp", CODE(0x48, 0x8d, 0x04, 0x24, 0x53, 0xc3), 4, 0, true, "push rbx" },
	/* mov %rsp,%rbp writes rbp, where a stack taken at the probe starts its frame walk */
	{ "writes-rbp", CODE(0x48, 0x89, 0xe5, 0x53, 0xc3), 0, 0, false, "mov rbp, rsp" },
	/* pop, lea into rsp, add to rsp: other stack pointer changes stop the scan */
	{ "pop", CODE(0x5b, 0x55, 0xc3), 0, 0, false, "pop rbx" },
	{ "lea-rsp", CODE(0x48, 0x8d, 0x64, 0x24, 0xf8, 0x55, 0xc3), 0, 0, false, "lea rsp" },
	{ "add-rsp", CODE(0x48, 0x83, 0xc4, 0xf8, 0x55, 0xc3), 0, 0, false, "add rsp" },
	/* endbr64 (CET builds) is single-stepped and harmless to skip */
	{ "endbr64", CODE(0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5), 4, 0, true, "push rbp" },
	/* syscall, an indirect call and ret end the straight line */
	{ "syscall", CODE(0x0f, 0x05, 0x55, 0xc3), 0, 0, false, "syscall" },
	{ "indirect-call", CODE(0xff, 0xd0, 0x55, 0xc3), 0, 0, false, "call rax" },
	{ "ret", CODE(0xc3, 0x55), 0, 0, false, "ret" },
	/* the kernel refuses a ds-prefixed je, so it is no point; being a branch, it ends the scan */
	{ "ds-je", CODE(0x31, 0xc0, 0x3e, 0x74, 0x00, 0xc3), 0, 0, false, "xor eax, eax" },
	/* a jcc with a disp32 that runs past size: the instruction does not decode, the scan stops */
	{ "truncated", CODE(0x31, 0xc0, 0x0f, 0x84, 0x00), 0, 0, false, "xor eax, eax" },
	/* the kernel "emulates" xchg %eax,%r8d as a nop: never a point, and it writes r8 anyway */
	{ "xchg-r8", CODE(0x41, 0x90, 0x55, 0xc3), 0, 0, true, "xchg eax, r8d" },
	/* rex.W nop is a true nop: a point like any other */
	{ "rexw-nop", CODE(0x31, 0xc0, 0x48, 0x90, 0xc3), 2, 0, true, "nop" },
	/* bytes capstone cannot decode later in the function could hide a branch to the start */
	{ "undecodable-tail", CODE(0x48, 0x85, 0xff, 0x74, 0x01, 0xc3, 0x06, 0xc3), 0, 0, false,
	  "test rdi, rdi" },
};
/* clang-format on */

static void test_prologues(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct prologue_case *c = &cases[i];
		struct probe_point pp;

		memset(&pp, 0xa5, sizeof(pp));
		print_message("%s\n", c->what);
		assert_int_equal(probepoint_choose(c->code, c->size, VADDR, 6, &pp), 0);
		assert_int_equal(pp.offset, c->offset);
		assert_int_equal(pp.sp_adj, c->sp_adj);
		assert_int_equal(pp.emulated, c->emulated);
		assert_non_null(memchr(pp.insn, 0, sizeof(pp.insn)));
		assert_memory_equal(pp.insn, c->insn, strlen(c->insn));
	}
}

static void test_unknown_size(void **state)
{
	static const uint8_t code[] = {0x48, 0x85, 0xff, 0x74, 0x00, 0xc3};
	struct probe_point pp;

	memset(&pp, 0xa5, sizeof(pp));
	assert_int_equal(probepoint_choose(code, 0, VADDR, 6, &pp), 0);
	assert_int_equal(pp.offset, 0);
	assert_int_equal(pp.sp_adj, 0);
	assert_false(pp.emulated);
	assert_string_equal(pp.insn, "");
}

static void test_undecodable(void **state)
{
	static const uint8_t code[] = {0x48};
	struct probe_point pp;

	memset(&pp, 0xa5, sizeof(pp));
	assert_int_equal(probepoint_choose(code, sizeof(code), VADDR, 6, &pp), -EINVAL);
	assert_int_equal(pp.offset, 0);
	assert_int_equal(pp.sp_adj, 0);
	assert_false(pp.emulated);
	assert_int_equal(probepoint_choose(NULL, 4, VADDR, 6, &pp), -EINVAL);
}

/* The classification, one row per instruction measured by tests/bench/probecost.c. */
static void test_insn_emulated(void **state)
{
	/* clang-format off */
	static const struct {
		const char *what;
		uint8_t code[16];
		bool emulated;
	} insns[] = {
		{ "nop", { 0x90 }, true },
		{ "xchg ax,ax", { 0x66, 0x90 }, true },
		{ "nopl (rax)", { 0x0f, 0x1f, 0x00 }, true },
		{ "nopl 0(rax)", { 0x0f, 0x1f, 0x40, 0x00 }, true },
		{ "nop5", { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, true },
		{ "nopw 6", { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 }, true },
		{ "nopl 7", { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "nopl 8", { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "nopw 9", { 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 }, false },
		{ "cs nopw 10", { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 }, false },
		{ "nopl 4 other", { 0x0f, 0x1f, 0x40, 0x08 }, false },
		{ "pause", { 0xf3, 0x90 }, true },
		{ "xchg eax,r8d", { 0x41, 0x90 }, true },
		{ "rex.W nop", { 0x48, 0x90 }, true },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, false },
		{ "push rbx", { 0x53 }, true },
		{ "push rbp", { 0x55 }, true },
		{ "push rdi", { 0x57 }, true },
		{ "push r8", { 0x41, 0x50 }, true },
		{ "push r12", { 0x41, 0x54 }, true },
		{ "push r15", { 0x41, 0x57 }, true },
		{ "rex.W push rbx", { 0x48, 0x53 }, false },
		{ "push $0", { 0x6a, 0x00 }, false },
		{ "push (rdi)", { 0xff, 0x37 }, false },
		{ "pop rbx", { 0x5b }, false },
		{ "jmp rel8", { 0xeb, 0x00 }, true },
		{ "jmp rel32", { 0xe9, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "bnd jmp rel32", { 0xf2, 0xe9, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "call rel32", { 0xe8, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "je rel8", { 0x74, 0x00 }, true },
		{ "jo rel8", { 0x70, 0x00 }, true },
		{ "jg rel8", { 0x7f, 0x00 }, true },
		{ "je rel32", { 0x0f, 0x84, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "jg rel32", { 0x0f, 0x8f, 0x00, 0x00, 0x00, 0x00 }, true },
		{ "ds je", { 0x3e, 0x74, 0x00 }, false },
		{ "data16 je", { 0x66, 0x74, 0x00 }, false },
		{ "jrcxz", { 0xe3, 0x00 }, false },
		{ "loop", { 0xe2, 0x00 }, false },
		{ "jmp *rax", { 0xff, 0xe0 }, false },
		{ "call *rax", { 0xff, 0xd0 }, false },
		{ "test rdi,rdi", { 0x48, 0x85, 0xff }, false },
		{ "mov rdi,rax", { 0x48, 0x89, 0xf8 }, false },
		{ "sub $8,rsp", { 0x48, 0x83, 0xec, 0x08 }, false },
		{ "cmp $0x1000,rdi", { 0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00 }, false },
		{ "cmpb $0,x(rip)", { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00 }, false },
		{ "lea 8(rdi),rax", { 0x48, 0x8d, 0x47, 0x08 }, false },
		{ "xor eax,eax", { 0x31, 0xc0 }, false },
		{ "mov rsp,rbp", { 0x48, 0x89, 0xe5 }, false },
		{ "ret", { 0xc3 }, false },
		{ "lock inc (rdi)", { 0xf0, 0xff, 0x07 }, false },
	};
	/* clang-format on */

	for (size_t i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		print_message("%s\n", insns[i].what);
		assert_int_equal(
		    probepoint_insn_emulated(insns[i].code, sizeof(insns[i].code), 0x1000),
		    insns[i].emulated);
	}
	assert_false(probepoint_insn_emulated(NULL, 4, 0x1000));
	assert_false(probepoint_insn_emulated((const uint8_t[]){0x90}, 0, 0x1000));
	/* a rel32 branch cut short is no instruction at all */
	assert_false(probepoint_insn_emulated((const uint8_t[]){0xe9, 0x00}, 2, 0x1000));
}

struct func_code {
	uint8_t *code;
	size_t size;
	uint64_t vaddr;
};

/* Reads an exported function's bytes from an ELF file, through .dynsym and the PT_LOAD headers. */
static int read_func(const char *path, const char *name, struct func_code *fc)
{
	Elf_Scn *scn = NULL;
	int fd, ret = -ENOENT;
	GElf_Sym sym;
	bool found = false;
	size_t nphdr;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e) {
		close(fd);
		return -EINVAL;
	}
	while (!found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			n = elf_strptr(e, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name)) {
				found = true;
				break;
			}
		}
	}
	if (found && !elf_getphdrnum(e, &nphdr)) {
		for (size_t i = 0; i < nphdr; i++) {
			GElf_Phdr ph;
			ssize_t got;
			off_t off;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD ||
			    sym.st_value < ph.p_vaddr ||
			    sym.st_value + sym.st_size > ph.p_vaddr + ph.p_filesz)
				continue;
			fc->size = sym.st_size;
			fc->vaddr = sym.st_value;
			fc->code = malloc(fc->size ? fc->size : 1);
			if (!fc->code) {
				ret = -ENOMEM;
				break;
			}
			off = (off_t)(sym.st_value - ph.p_vaddr + ph.p_offset);
			got = pread(fd, fc->code, fc->size, off);
			ret = got == (ssize_t)fc->size ? 0 : -EIO;
			break;
		}
	}
	elf_end(e);
	close(fd);
	return ret;
}

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static void check_real(const char *path, const char *name, uint64_t offset, const char *insn)
{
	struct func_code fc = {0};
	struct probe_point pp;

	print_message("%s in %s\n", name, path);
	assert_int_equal(read_func(path, name, &fc), 0);
	assert_int_equal(probepoint_choose(fc.code, fc.size, fc.vaddr, 6, &pp), 0);
	assert_int_equal(pp.offset, offset);
	assert_true(pp.emulated);
	assert_memory_equal(pp.insn, insn, strlen(insn));
	free(fc.code);
}

/* Debian 12's glibc 2.36: free is test %rdi,%rdi; je ...; the je is the point. */
static void test_real_glibc(void **state)
{
	if (access(LIBC, R_OK))
		skip();
	check_real(LIBC, "free", 3, "je ");
	check_real(LIBC, "malloc", 0, "push r12");
	check_real(LIBC, "posix_memalign", 7, "push r12");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prologues),	cmocka_unit_test(test_unknown_size),
	    cmocka_unit_test(test_undecodable), cmocka_unit_test(test_insn_emulated),
	    cmocka_unit_test(test_real_glibc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
