/* test_elf_file.c: unit tests for elf_file on ELF files built from tests/unit/elfsrc. */
#include <errno.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "elfsrc/fx_lines.h"
#include "proc/elf_file.h"
#include "fixtures/fixture_path.h"

static struct elf_file *open_fixture(const char *name)
{
	char *path = fixture_path(name);
	struct elf_file *ef;

	assert_non_null(path);
	ef = elf_file__open(path);
	if (!ef)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	free(path);
	return ef;
}

static struct elf_sym find(struct elf_file *ef, const char *name, bool exported_only)
{
	struct elf_sym sym;

	memset(&sym, 0, sizeof(sym));
	if (elf_file__find_func(ef, name, exported_only, &sym))
		fail_msg("%s not found", name);
	return sym;
}

/* The section header named name, read with plain libelf, independent of the code under test. */
static bool section_by_name(struct elf_file *ef, const char *name, GElf_Shdr *out)
{
	Elf *elf = elf_file__elf(ef);
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		assert_non_null(gelf_getshdr(scn, out));
		n = elf_strptr(elf, shstrndx, out->sh_name);
		if (n && !strcmp(n, name))
			return true;
	}
	return false;
}

static void test_pie_function(void **state)
{
	static const uint8_t prologue[] = {0x55, 0x48, 0x89, 0xe5}; /* push %rbp; mov %rsp,%rbp */
	struct elf_file *ef = open_fixture("prog");
	struct elf_sym sym = find(ef, "fx_outer", false);
	uint64_t off = 0, back = 0, start = 0, end = 0;
	GElf_Shdr text;
	const uint8_t *code;

	assert_int_equal(elf_file__type(ef), ET_DYN);
	assert_string_equal(sym.name, "fx_outer");
	assert_true(sym.global);
	assert_false(sym.dynamic);
	assert_false(sym.compat_version);
	assert_true(sym.size > sizeof(prologue));

	/* .text: the symbol lies in it, and its file offset follows from the section header */
	assert_true(section_by_name(ef, ".text", &text));
	assert_int_equal(elf_file__section_range(ef, sym.shndx, &start, &end), 0);
	assert_int_equal(start, text.sh_addr);
	assert_int_equal(end, text.sh_addr + text.sh_size);
	assert_int_equal(elf_file__vaddr_to_offset(ef, sym.vaddr, &off), 0);
	assert_int_equal(off, text.sh_offset + (sym.vaddr - text.sh_addr));
	assert_int_equal(elf_file__offset_to_vaddr(ef, off, &back), 0);
	assert_int_equal(back, sym.vaddr);

	code = elf_file__code(ef, sym.vaddr, sym.size);
	assert_non_null(code);
	assert_memory_equal(code, prologue, sizeof(prologue));
	assert_true(elf_file__has_symtab(ef));
	elf_file__free(ef);
}

static void test_code_marker_bytes(void **state)
{
	static const uint8_t expect[] = FX_MARKER_BYTES;
	struct elf_file *ef = open_fixture("libfx.so");
	struct elf_sym dyn = find(ef, "fx_code_marker", true);
	struct elf_sym tab = find(ef, "fx_code_marker", false);
	const uint8_t *code;

	assert_int_equal(elf_file__type(ef), ET_DYN);
	assert_true(dyn.dynamic);
	assert_false(tab.dynamic);
	assert_int_equal(dyn.vaddr, tab.vaddr);
	assert_int_equal(dyn.size, sizeof(expect));
	code = elf_file__code(ef, dyn.vaddr, dyn.size);
	assert_non_null(code);
	assert_memory_equal(code, expect, sizeof(expect));
	/* one byte in, the same image */
	assert_ptr_equal(elf_file__code(ef, dyn.vaddr + 1, 1), code + 1);
	elf_file__free(ef);
}

static void test_no_code_outside_file_bytes(void **state)
{
	struct elf_file *ef = open_fixture("libfx.so");
	struct elf_sym sym = find(ef, "fx_code_marker", true);
	uint64_t off, va;
	GElf_Shdr bss;

	assert_true(section_by_name(ef, ".bss", &bss));
	assert_true(bss.sh_size >= 64 * sizeof(int));
	assert_null(elf_file__code(ef, bss.sh_addr, 4));
	assert_int_equal(elf_file__vaddr_to_offset(ef, bss.sh_addr + 8, &off), -ENOENT);

	assert_null(elf_file__code(ef, 0x7fffffff0000ULL, 1));
	assert_null(elf_file__code(ef, sym.vaddr, SIZE_MAX));
	assert_null(elf_file__code(ef, UINT64_MAX - 1, 4));
	assert_int_equal(elf_file__vaddr_to_offset(ef, 0x7fffffff0000ULL, &off), -ENOENT);
	assert_int_equal(elf_file__offset_to_vaddr(ef, 0x10000000, &va), -ENOENT);
	elf_file__free(ef);
}

/* A debug-only file keeps the program headers but not the bytes: no code must come from it. */
static void test_debug_file_has_no_code(void **state)
{
	struct elf_file *prog = open_fixture("prog");
	struct elf_file *dbg = open_fixture("prog_split.debug");
	struct elf_sym sym = find(prog, "fx_outer", false);

	assert_non_null(elf_file__code(prog, sym.vaddr, 4));
	assert_null(elf_file__code(dbg, sym.vaddr, 4));
	assert_int_equal(find(dbg, "fx_outer", false).vaddr, sym.vaddr);
	elf_file__free(dbg);
	elf_file__free(prog);
}

static void test_symbol_versions(void **state)
{
	struct elf_file *ef = open_fixture("libfx.so");
	struct elf_sym v2 = find(ef, "fx_versioned_v2", true);
	struct elf_sym v1 = find(ef, "fx_versioned_v1", true);
	struct elf_sym sym;

	assert_int_not_equal(v1.vaddr, v2.vaddr);

	/* .dynsym: the default version (FX_2), whatever the order */
	sym = find(ef, "fx_versioned", true);
	assert_int_equal(sym.vaddr, v2.vaddr);
	assert_string_equal(sym.name, "fx_versioned");
	assert_true(sym.dynamic);
	assert_false(sym.compat_version);

	/* .symtab names carry the version: "fx_versioned@@FX_2" */
	sym = find(ef, "fx_versioned", false);
	assert_int_equal(sym.vaddr, v2.vaddr);
	assert_string_equal(sym.name, "fx_versioned@@FX_2");
	assert_false(sym.dynamic);

	/* only a compat version exists: it is still found, and marked */
	sym = find(ef, "fx_old", true);
	assert_int_equal(sym.vaddr, find(ef, "fx_old_impl", true).vaddr);
	assert_true(sym.compat_version);

	assert_int_equal(elf_file__find_func(ef, "fx_versioned_v", false, &sym), -ENOENT);
	assert_int_equal(elf_file__find_func(ef, "fx_version", true, &sym), -ENOENT);
	/* static: neither global nor exported */
	assert_int_equal(elf_file__find_func(ef, "fx_lib_sink", false, &sym), -ENOENT);
	/* an object, not a function */
	assert_int_equal(elf_file__find_func(ef, "fx_bss_counter", false, &sym), -ENOENT);
	elf_file__free(ef);
}

struct count_ctx {
	int symtab, dynsym, calls, stop_after;
	bool saw_local_sink;
};

static int count_cb(const struct elf_sym *sym, void *ctx)
{
	struct count_ctx *c = ctx;

	c->calls++;
	if (!strncmp(sym->name, "fx_", 3)) {
		if (sym->dynamic)
			c->dynsym++;
		else
			c->symtab++;
		if (!strcmp(sym->name, "fx_lib_sink") && !sym->global)
			c->saw_local_sink = true;
	}
	return c->stop_after && c->calls == c->stop_after ? 77 : 0;
}

static void test_for_each_func(void **state)
{
	struct elf_file *ef = open_fixture("libfx.so");
	struct count_ctx c = {0};

	assert_int_equal(elf_file__for_each_func(ef, count_cb, &c), 0);
	/*
	 * .symtab: fx_lib_outer, fx_lib_sink, fx_code_marker, fx_versioned@FX_1,
	 * fx_versioned@@FX_2, fx_versioned_v1, fx_versioned_v2, fx_old@FX_1, fx_old_impl; .dynsym:
	 * the same but the static fx_lib_sink (fx_bss_counter is an object in both).
	 */
	assert_int_equal(c.symtab, 9);
	assert_int_equal(c.dynsym, 8);
	assert_true(c.saw_local_sink);

	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	assert_int_equal(elf_file__for_each_func(ef, count_cb, &c), 77);
	assert_int_equal(c.calls, 3);
	elf_file__free(ef);
}

static void test_build_id_and_debuglink(void **state)
{
	struct elf_file *prog = open_fixture("prog");
	struct elf_file *stripped = open_fixture("prog_stripped");
	struct elf_file *split = open_fixture("prog_split");
	struct elf_file *lib = open_fixture("libfx.so");
	const uint8_t *a, *b, *c;
	char *dbg_text;
	size_t len = 0;

	assert_int_equal(elf_file__build_id(prog, &a), 20);
	assert_int_equal(elf_file__build_id(stripped, &b), 20);
	assert_int_equal(elf_file__build_id(lib, &c), 20);
	assert_memory_equal(a, b, 20);
	assert_memory_not_equal(a, c, 20);

	assert_null(elf_file__debuglink(prog));
	assert_int_equal(elf_file__debuglink_crc(prog), 0);
	assert_string_equal(elf_file__debuglink(split), "prog_split.debug");
	dbg_text = fixture_read("prog_split.debug", &len);
	assert_non_null(dbg_text);
	assert_int_equal(elf_file__debuglink_crc(split),
			 (uint32_t)crc32(0, (const Bytef *)dbg_text, (uInt)len));
	free(dbg_text);

	assert_false(elf_file__has_symtab(stripped));
	assert_false(elf_file__has_symtab(split));
	elf_file__free(lib);
	elf_file__free(split);
	elf_file__free(stripped);
	elf_file__free(prog);
}

static void test_open_errors(void **state)
{
	char *text = fixture_path("pie.maps");
	char *missing = fixture_path("no-such-file");
	char *dir = fixture_path(".debug");
	char empty[] = "/tmp/leaktop-test-empty-XXXXXX";
	int fd;

	errno = 0;
	assert_null(elf_file__open(text));
	assert_int_equal(errno, ENOEXEC);
	errno = 0;
	assert_null(elf_file__open(missing));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(elf_file__open(dir));
	assert_int_equal(errno, ENOEXEC);

	fd = mkstemp(empty);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	assert_null(elf_file__open(empty));
	assert_int_equal(errno, ENOEXEC);
	unlink(empty);

	elf_file__free(NULL);
	free(dir);
	free(missing);
	free(text);
}

/* A FIFO (where a crafted debuglink could lead) is refused at once, not opened and waited on. */
static void test_fifo_refused(void **state)
{
	char dir[] = "/tmp/leaktop-test-fifo-XXXXXX";
	char *fifo;

	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&fifo, "%s/fifo", dir) > 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* Without a writer, open() would block: the alarm turns a hang into a failure. */
	alarm(10);
	errno = 0;
	assert_null(elf_file__open(fifo));
	assert_int_equal(errno, ENOEXEC);
	alarm(0);
	unlink(fifo);
	rmdir(dir);
	free(fifo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pie_function),
	    cmocka_unit_test(test_code_marker_bytes),
	    cmocka_unit_test(test_no_code_outside_file_bytes),
	    cmocka_unit_test(test_debug_file_has_no_code),
	    cmocka_unit_test(test_symbol_versions),
	    cmocka_unit_test(test_for_each_func),
	    cmocka_unit_test(test_build_id_and_debuglink),
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_fifo_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
