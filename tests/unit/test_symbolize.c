/* test_symbolize.c: symbolizer tests on built ELF fixtures, this process and a dead child. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/elf_file.h"
#include "elfsrc/fx_lines.h"
#include "fixtures/fixture_path.h"
#include "symbol/symbolize.h"
#include "symbol/symtab.h"

#define FAKE_PID 90001
#define BASE	 0x555555554000ULL
#define MAP_LEN	 0x100000ULL

int self_marker(int x);

/* A function of this binary with a body long enough to point inside it. */
__attribute__((noinline)) int self_marker(int x)
{
	volatile int v = x;

	v = v * 3 + 1;
	v ^= 0x55;
	return v;
}

struct fixture {
	char *path;
	struct elf_file *ef;
};

static struct fixture fx_open(const char *name)
{
	struct fixture f = {fixture_path(name), NULL};

	assert_non_null(f.path);
	f.ef = elf_file__open(f.path);
	if (!f.ef)
		fail_msg("cannot open %s: %s", f.path, strerror(errno));
	return f;
}

static void fx_close(struct fixture *f)
{
	elf_file__free(f->ef);
	free(f->path);
}

struct any_ctx {
	const char *name;
	struct elf_sym sym;
	bool found;
};

static int any_cb(const struct elf_sym *sym, void *ctx)
{
	struct any_ctx *a = ctx;

	if (strcmp(sym->name, a->name))
		return 0;
	a->sym = *sym;
	a->found = true;
	return 1;
}

/* A function symbol of any binding (the callees may be static). */
static struct elf_sym func(struct elf_file *ef, const char *name)
{
	struct any_ctx a = {.name = name};

	elf_file__for_each_func(ef, any_cb, &a);
	if (!a.found)
		fail_msg("no function %s", name);
	return a.sym;
}

/* The return address (vaddr) of the direct call from caller to callee, found in the code bytes. */
static uint64_t call_return(struct elf_file *ef, const char *caller, const char *callee)
{
	struct elf_sym c = func(ef, caller), t = func(ef, callee);
	const uint8_t *code = elf_file__code(ef, c.vaddr, c.size);
	size_t i;

	assert_non_null(code);
	for (i = 0; i + 5 <= c.size; i++) {
		int32_t rel;

		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, sizeof(rel));
		if (c.vaddr + i + 5 + (uint64_t)(int64_t)rel == t.vaddr)
			return c.vaddr + i + 5;
	}
	fail_msg("no call from %s to %s", caller, callee);
	return 0;
}

/*
 * The file offset of vaddr in the file at path, from its program headers read here (the PT_LOAD
 * segment whose file bytes hold vaddr): the expected offsets owe nothing to elf_file's own
 * conversion, which the symbolizer uses.
 */
static uint64_t file_offset(const char *path, uint64_t vaddr)
{
	uint64_t off = UINT64_MAX;
	size_t nr = 0;
	Elf *elf;
	int fd;

	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getphdrnum(elf, &nr), 0);
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;

		assert_non_null(gelf_getphdr(elf, (int)i, &ph));
		if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz)
			off = ph.p_offset + (vaddr - ph.p_vaddr);
	}
	elf_end(elf);
	close(fd);
	if (off == UINT64_MAX)
		fail_msg("0x%llx is in no loaded segment of %s", (unsigned long long)vaddr, path);
	return off;
}

static const char *base_name(const char *p)
{
	const char *s;

	assert_non_null(p);
	s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Maps the whole file at BASE, as if at file offset 0, for FAKE_PID. */
static struct symbolizer *map_whole(const char *path)
{
	struct symbolizer *s = symbolizer__new(NULL);

	assert_non_null(s);
	assert_int_equal(symbolizer__add_mapping(s, FAKE_PID, BASE, BASE + MAP_LEN, 0, path), 0);
	return s;
}

static bool section_flags(const char *path, const char *name, uint64_t *flags)
{
	struct elf_file *ef = elf_file__open(path);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	assert_non_null(ef);
	elf = elf_file__elf(ef);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while (!found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		assert_non_null(gelf_getshdr(scn, &sh));
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name)) {
			*flags = sh.sh_flags;
			found = true;
		}
	}
	elf_file__free(ef);
	return found;
}

/* fx_outer's call of fx_sink in a prog variant: function, offset, line, module, one frame. */
static void check_outer_call(const char *variant, bool want_lines)
{
	struct fixture prog = fx_open("prog");
	char *path = fixture_path(variant);
	uint64_t ret = call_return(prog.ef, "fx_outer", "fx_sink");
	uint64_t addr = BASE + file_offset(prog.path, ret);
	struct symbolizer *s = map_whole(path);
	struct sym_frame f[4];

	memset(f, 0xa5, sizeof(f));
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 4), 1);
	assert_int_equal(f[0].address, addr);
	assert_non_null(f[0].function);
	assert_string_equal(f[0].function, "fx_outer");
	assert_int_equal(f[0].offset, ret - func(prog.ef, "fx_outer").vaddr);
	assert_string_equal(f[0].module, path);
	assert_int_equal(f[0].module_offset, addr - BASE);
	assert_false(f[0].inlined);
	if (want_lines) {
		assert_string_equal(base_name(f[0].file), "prog.c");
		assert_int_equal(f[0].line, FX_LINE_OUTER_CALL);
	}
	symbolizer__free(s);
	free(path);
	fx_close(&prog);
}

static void test_pie_call_site(void **state)
{
	check_outer_call("prog", true);
}

/* A non-PIE executable is mapped at its link address. */
static void test_non_pie_executable(void **state)
{
	struct fixture prog = fx_open("prog_nopie");
	uint64_t ret = call_return(prog.ef, "fx_outer", "fx_sink");
	uint64_t load = 0x400000, addr = load + file_offset(prog.path, ret);
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[2];

	assert_int_equal(elf_file__type(prog.ef), ET_EXEC);
	assert_int_equal(addr, ret);
	assert_int_equal(symbolizer__add_mapping(s, FAKE_PID, load, load + MAP_LEN, 0, prog.path),
			 0);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_string_equal(f[0].function, "fx_outer");
	assert_int_equal(f[0].offset, ret - func(prog.ef, "fx_outer").vaddr);
	assert_int_equal(f[0].line, FX_LINE_OUTER_CALL);
	assert_int_equal(f[0].module_offset, addr - load);
	symbolizer__free(s);
	fx_close(&prog);
}

/* Stripped of everything but .dynsym: names come from the .debug file that .gnu_debuglink names. */
static void test_debuglink_same_dir(void **state)
{
	struct fixture split = fx_open("prog_split");

	assert_false(elf_file__has_symtab(split.ef));
	assert_non_null(elf_file__debuglink(split.ef));
	fx_close(&split);
	check_outer_call("prog_split", true);
}

static void test_compressed_debug_sections(void **state)
{
	char *path = fixture_path("prog_zdebug");
	uint64_t flags = 0;

	assert_true(section_flags(path, ".debug_info", &flags));
	assert_true(flags & SHF_COMPRESSED);
	free(path);
	check_outer_call("prog_zdebug", true);
}

static void test_inlined_frames(void **state)
{
	struct fixture prog = fx_open("prog");
	uint64_t ret = call_return(prog.ef, "fx_inl_caller", "fx_sink");
	uint64_t caller = func(prog.ef, "fx_inl_caller").vaddr;
	uint64_t addr = BASE + file_offset(prog.path, ret);
	struct symbolizer *s = map_whole(prog.path);
	struct sym_frame f[4];

	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 4), 2);
	assert_string_equal(f[0].function, "fx_inl");
	assert_true(f[0].inlined);
	assert_string_equal(base_name(f[0].file), "prog.c");
	assert_int_equal(f[0].line, FX_LINE_INL_CALL);
	assert_int_equal(f[0].address, addr);
	assert_string_equal(f[1].function, "fx_inl_caller");
	assert_false(f[1].inlined);
	assert_int_equal(f[1].offset, ret - caller);
	assert_string_equal(base_name(f[1].file), "prog.c");
	assert_int_equal(f[1].line, FX_LINE_INL_SITE);
	assert_int_equal(f[1].address, addr);

	/* without inline frames, or without room: the real function at its own line */
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, false, f, 4), 1);
	assert_string_equal(f[0].function, "fx_inl_caller");
	assert_int_equal(f[0].line, FX_LINE_INL_SITE);
	assert_false(f[0].inlined);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 1), 1);
	assert_string_equal(f[0].function, "fx_inl_caller");
	assert_int_equal(f[0].line, FX_LINE_INL_SITE);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 0), 0);
	symbolizer__free(s);
	fx_close(&prog);
}

static void test_nested_inlined_frames(void **state)
{
	struct fixture prog = fx_open("prog");
	uint64_t ret = call_return(prog.ef, "fx_deep_caller", "fx_sink");
	uint64_t caller = func(prog.ef, "fx_deep_caller").vaddr;
	uint64_t addr = BASE + file_offset(prog.path, ret);
	struct symbolizer *s = map_whole(prog.path);
	struct sym_frame f[4];

	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 4), 3);
	assert_string_equal(f[0].function, "fx_inl_deep");
	assert_int_equal(f[0].line, FX_LINE_DEEP_CALL);
	assert_true(f[0].inlined);
	assert_string_equal(f[1].function, "fx_inl_mid");
	assert_int_equal(f[1].line, FX_LINE_MID_SITE);
	assert_true(f[1].inlined);
	assert_string_equal(f[2].function, "fx_deep_caller");
	assert_int_equal(f[2].line, FX_LINE_DEEP_SITE);
	assert_false(f[2].inlined);
	assert_int_equal(f[2].offset, ret - caller);

	/* no room for all: the innermost and the real function */
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 2);
	assert_string_equal(f[0].function, "fx_inl_deep");
	assert_int_equal(f[0].line, FX_LINE_DEEP_CALL);
	assert_string_equal(f[1].function, "fx_deep_caller");
	assert_int_equal(f[1].line, FX_LINE_DEEP_SITE);
	symbolizer__free(s);
	fx_close(&prog);
}

/*
 * A function inlined across units by LTO: its abstract origin lies in another unit. The inlined
 * frame is found, and nothing leaks (dwarf_getscopes() leaked 32 bytes here; LeakSanitizer tells).
 */
static void test_inlined_across_units(void **state)
{
	struct fixture prog = fx_open("lto_prog");
	uint64_t ret = call_return(prog.ef, "fx_lto_caller", "fx_lto_sink");
	uint64_t addr = BASE + file_offset(prog.path, ret);
	struct symbolizer *s = map_whole(prog.path);
	struct sym_frame f[4];

	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 4), 2);
	assert_string_equal(f[0].function, "fx_lto_inl");
	assert_true(f[0].inlined);
	assert_string_equal(base_name(f[0].file), "lto_inl.c");
	assert_int_equal(f[0].line, FX_LINE_LTO_CALL);
	assert_string_equal(f[1].function, "fx_lto_caller");
	assert_false(f[1].inlined);
	assert_string_equal(base_name(f[1].file), "lto_main.c");
	assert_int_equal(f[1].line, FX_LINE_LTO_SITE);
	symbolizer__free(s);
	fx_close(&prog);
}

static void test_stripped_gives_module_offset(void **state)
{
	struct fixture prog = fx_open("prog");
	char *path = fixture_path("prog_stripped");
	uint64_t ret = call_return(prog.ef, "fx_outer", "fx_sink");
	/* The return address's offset in the stripped file, from its own program headers: strip
	 * keeps the loaded segments where they were in the unstripped build. */
	uint64_t off = file_offset(path, ret);
	uint64_t addr = BASE + off;
	struct symbolizer *s = map_whole(path);
	struct sym_frame f[2];

	assert_int_equal(off, file_offset(prog.path, ret));
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_int_equal(f[0].address, addr);
	assert_null(f[0].function);
	assert_int_equal(f[0].offset, 0);
	assert_null(f[0].file);
	assert_int_equal(f[0].line, 0);
	assert_string_equal(f[0].module, path);
	assert_int_equal(f[0].module_offset, off);
	assert_false(f[0].inlined);
	symbolizer__free(s);
	free(path);
	fx_close(&prog);
}

/*
 * Debug info whose units cover no address (a library of data only): no line, and the unit table
 * built when .debug_aranges has no answer is empty, not sorted as a NULL array.
 */
static void test_debug_info_without_ranges(void **state)
{
	struct fixture lib = fx_open("libdataonly.so");
	uint64_t init = func(lib.ef, "_init").vaddr;
	uint64_t addr = BASE + file_offset(lib.path, init) + 1;
	struct symbolizer *s = map_whole(lib.path);
	struct sym_frame f[2];

	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_string_equal(f[0].function, "_init");
	assert_null(f[0].file);
	assert_int_equal(f[0].line, 0);
	symbolizer__free(s);
	fx_close(&lib);
}

/* A debuglink whose file belongs to another build (its build-id differs) gives no names or lines.
 */
static void test_foreign_debug_file_refused(void **state)
{
	struct fixture prog = fx_open("prog");
	struct fixture bad = fx_open("prog_badlink");
	uint64_t ret = call_return(prog.ef, "fx_outer", "fx_sink");
	uint64_t addr = BASE + file_offset(prog.path, ret);
	struct symbolizer *s = map_whole(bad.path);
	struct sym_frame f[2];

	assert_string_equal(elf_file__debuglink(bad.ef), "prog_badlink.debug");
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_null(f[0].function);
	assert_null(f[0].file);
	assert_int_equal(f[0].line, 0);
	assert_string_equal(f[0].module, bad.path);
	assert_int_equal(f[0].module_offset, addr - BASE);
	symbolizer__free(s);
	fx_close(&bad);
	fx_close(&prog);
}

/*
 * Only the text page mapped, at an address unrelated to the link address, as the kernel maps a
 * library; the debug info is in .debug/ beside it.
 */
static void check_lib_call(const char *variant)
{
	struct fixture lib = fx_open("libfx.so");
	char *path = fixture_path(variant);
	uint64_t ret = call_return(lib.ef, "fx_lib_outer", "fx_lib_sink");
	uint64_t off = file_offset(lib.path, ret), page = off & ~0xfffULL;
	uint64_t start = 0x7f1234560000ULL, addr = start + (off - page);
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[2];

	assert_int_equal(symbolizer__add_mapping(s, FAKE_PID, start, start + 0x1000, page, path),
			 0);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_string_equal(f[0].function, "fx_lib_outer");
	assert_int_equal(f[0].offset, ret - func(lib.ef, "fx_lib_outer").vaddr);
	assert_int_equal(f[0].module_offset, off);
	assert_string_equal(f[0].module, path);
	assert_string_equal(base_name(f[0].file), "libfx.c");
	assert_int_equal(f[0].line, FX_LINE_LIB_CALL);
	symbolizer__free(s);
	free(path);
	fx_close(&lib);
}

static void test_shared_library(void **state)
{
	check_lib_call("libfx.so");
}

static void test_debuglink_dot_debug_dir(void **state)
{
	char *path = fixture_path("libfx_split.so");
	uint64_t flags;

	assert_false(section_flags(path, ".debug_info", &flags));
	free(path);
	check_lib_call("libfx_split.so");
}

static void test_cxx_demangled(void **state)
{
	struct fixture w = fx_open("libwidget.so");
	uint64_t grow = func(w.ef, "_ZN2ns6Widget4growEm").vaddr;
	uint64_t addr = BASE + file_offset(w.path, grow + 4);
	struct symbolizer *s = map_whole(w.path);
	struct sym_frame f[2];

	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_string_equal(f[0].function, "ns::Widget::grow(unsigned long)");
	assert_int_equal(f[0].offset, 4);
	assert_string_equal(base_name(f[0].file), "widget.cc");
	assert_int_equal(f[0].line, FX_LINE_GROW);
	symbolizer__free(s);
	fx_close(&w);
}

static void test_demangle(void **state)
{
	char *d = symtab_demangle("_ZN2ns6Widget4growEm");

	assert_string_equal(d, "ns::Widget::grow(unsigned long)");
	free(d);
	assert_null(symtab_demangle("malloc"));
	assert_null(symtab_demangle("_Z!!"));
	assert_null(symtab_demangle(NULL));
}

struct last_before {
	uint64_t limit;
	struct elf_sym best;
	bool found;
};

static int last_before_cb(const struct elf_sym *sym, void *ctx)
{
	struct last_before *lb = ctx;

	if (sym->vaddr < lb->limit && (!lb->found || sym->vaddr > lb->best.vaddr)) {
		lb->best = *sym;
		lb->found = true;
	}
	return 0;
}

static void test_zero_size_symbols(void **state)
{
	struct fixture prog = fx_open("prog");
	struct elf_sym nosize = func(prog.ef, "fx_nosize");
	struct last_before lb;
	struct symbolizer *s = map_whole(prog.path);
	struct sym_frame f[2];
	uint64_t addr, rodata_start, rodata_end, flags;

	/* a label without size covers what follows it in its section */
	assert_int_equal(nosize.size, 0);
	addr = BASE + file_offset(prog.path, nosize.vaddr + 4);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_string_equal(f[0].function, "fx_nosize");
	assert_int_equal(f[0].offset, 4);

	/* but not past its section: .rodata follows .fini, whose _fini has no size */
	assert_true(section_flags(prog.path, ".rodata", &flags));
	{
		Elf *elf = elf_file__elf(prog.ef);
		Elf_Scn *scn = NULL;
		size_t shstrndx;
		GElf_Shdr sh;

		assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
		while ((scn = elf_nextscn(elf, scn))) {
			assert_non_null(gelf_getshdr(scn, &sh));
			if (!strcmp(elf_strptr(elf, shstrndx, sh.sh_name), ".rodata"))
				break;
		}
		assert_non_null(scn);
		rodata_start = sh.sh_addr;
		rodata_end = sh.sh_addr + sh.sh_size;
	}
	assert_true(rodata_end - rodata_start >= 4);
	lb = (struct last_before){.limit = rodata_start};
	elf_file__for_each_func(prog.ef, last_before_cb, &lb);
	assert_true(lb.found);
	assert_int_equal(lb.best.size, 0);
	addr = BASE + file_offset(prog.path, rodata_start + 2);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, f, 2), 1);
	assert_null(f[0].function);
	assert_string_equal(f[0].module, prog.path);
	assert_int_equal(f[0].module_offset, addr - BASE);
	symbolizer__free(s);
	fx_close(&prog);
}

static void test_unmapped_address(void **state)
{
	struct fixture prog = fx_open("prog");
	struct symbolizer *s = map_whole(prog.path);
	struct sym_frame f[2];

	assert_int_equal(symbolizer__add_mapping(s, FAKE_PID, BASE + 2 * MAP_LEN,
						 BASE + 3 * MAP_LEN, 0, prog.path),
			 0);
	memset(f, 0xa5, sizeof(f));
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, 0x1234, true, f, 2), 1);
	assert_int_equal(f[0].address, 0x1234);
	assert_null(f[0].function);
	assert_null(f[0].module);
	assert_null(f[0].file);
	assert_int_equal(f[0].line, 0);
	assert_int_equal(f[0].offset, 0);
	/* in the gap between the two mappings */
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, BASE + MAP_LEN + 0x10, true, f, 2), 1);
	assert_null(f[0].module);
	symbolizer__free(s);
	fx_close(&prog);
}

static void test_one_cache_entry_per_file(void **state)
{
	struct fixture lib = fx_open("libfx.so");
	uint64_t addr = BASE + file_offset(lib.path, func(lib.ef, "fx_code_marker").vaddr + 2);
	struct symbolizer *s = map_whole(lib.path);
	struct sym_frame f1, f2;

	assert_int_equal(
	    symbolizer__add_mapping(s, FAKE_PID + 1, BASE, BASE + MAP_LEN, 0, lib.path), 0);
	assert_int_equal(symbolizer__nr_objects(s), 1);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID, 0, addr, true, &f1, 1), 1);
	assert_int_equal(symbolizer__resolve(s, FAKE_PID + 1, 0, addr, true, &f2, 1), 1);
	assert_string_equal(f1.function, "fx_code_marker");
	assert_int_equal(f1.offset, 2);
	assert_ptr_equal(f1.function, f2.function);
	assert_ptr_equal(f1.module, f2.module);
	assert_int_equal(symbolizer__nr_objects(s), 1);
	symbolizer__free(s);
	fx_close(&lib);
}

static void test_add_mapping_errors(void **state)
{
	struct fixture prog = fx_open("prog");
	struct symbolizer *s = map_whole(prog.path);
	char *missing = fixture_path("no-such-file");

	assert_int_equal(symbolizer__add_mapping(s, FAKE_PID, 0x2000, 0x2000, 0, prog.path),
			 -EINVAL);
	assert_int_equal(
	    symbolizer__add_mapping(s, FAKE_PID, BASE + 0x1000, BASE + 0x2000, 0, prog.path),
	    -EEXIST);
	assert_int_equal(
	    symbolizer__add_mapping(s, FAKE_PID, BASE - 0x1000, BASE + 0x1000, 0, prog.path),
	    -EEXIST);
	assert_int_equal(symbolizer__add_mapping(s, FAKE_PID, 0x1000, 0x2000, 0, missing), -ENOENT);
	assert_int_equal(symbolizer__nr_objects(s), 1);
	free(missing);
	symbolizer__free(s);
	fx_close(&prog);
}

static void check_self_marker(struct symbolizer *s, int pid)
{
	uint64_t addr = (uint64_t)(uintptr_t)&self_marker + 3;
	char *exe = realpath("/proc/self/exe", NULL);
	struct sym_frame f[4];

	assert_non_null(exe);
	assert_true(symbolizer__resolve(s, pid, 0, addr, false, f, 4) == 1);
	assert_int_equal(f[0].address, addr);
	assert_string_equal(f[0].function, "self_marker");
	assert_int_equal(f[0].offset, 3);
	assert_string_equal(f[0].module, exe);
	assert_string_equal(base_name(f[0].file), "test_symbolize.c");
	free(exe);
}

static void test_live_process(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);

	assert_int_equal(symbolizer__add_pid(s, getpid()), 0);
	check_self_marker(s, getpid());
	symbolizer__free(s);

	/* a pid never added is read on first use */
	s = symbolizer__new(NULL);
	check_self_marker(s, getpid());
	symbolizer__free(s);
}

/* An object loaded after the maps were recorded is found by re-reading them. */
static void test_dlopen_after_attach(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	char *path = fixture_path("libfx.so");
	struct sym_frame f;
	size_t before;
	void *h, *marker;

	assert_int_equal(symbolizer__add_pid(s, getpid()), 0);
	before = symbolizer__nr_objects(s);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	marker = dlsym(h, "fx_code_marker");
	assert_non_null(marker);

	assert_int_equal(
	    symbolizer__resolve(s, getpid(), 0, (uint64_t)(uintptr_t)marker + 5, true, &f, 1), 1);
	assert_string_equal(f.function, "fx_code_marker");
	assert_int_equal(f.offset, 5);
	assert_string_equal(f.module, path);
	assert_int_equal(symbolizer__nr_objects(s), before + 1);
	symbolizer__free(s);
	dlclose(h);
	free(path);
}

/* Frames of a process that exited after attach still resolve from the snapshot. */
static void test_exited_process(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f;
	int fds[2];
	pid_t child;
	char c;

	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(fds[1]);
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	assert_int_equal(symbolizer__add_pid(s, child), 0);
	close(fds[1]);
	assert_int_equal(waitpid(child, NULL, 0), child);

	check_self_marker(s, child);
	/* a miss tries the maps again, finds the process gone, and keeps the snapshot */
	assert_int_equal(symbolizer__resolve(s, child, 0, 0x10, true, &f, 1), 1);
	assert_null(f.module);
	check_self_marker(s, child);
	assert_int_equal(symbolizer__add_pid(s, child), -ESRCH);
	check_self_marker(s, child);

	/* never seen and gone: the address alone */
	symbolizer__free(s);
	s = symbolizer__new(NULL);
	assert_int_equal(
	    symbolizer__resolve(s, child, 0, (uint64_t)(uintptr_t)&self_marker, true, &f, 1), 1);
	assert_null(f.module);
	assert_null(f.function);
	symbolizer__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pie_call_site),
	    cmocka_unit_test(test_non_pie_executable),
	    cmocka_unit_test(test_debuglink_same_dir),
	    cmocka_unit_test(test_compressed_debug_sections),
	    cmocka_unit_test(test_inlined_frames),
	    cmocka_unit_test(test_nested_inlined_frames),
	    cmocka_unit_test(test_inlined_across_units),
	    cmocka_unit_test(test_stripped_gives_module_offset),
	    cmocka_unit_test(test_debug_info_without_ranges),
	    cmocka_unit_test(test_foreign_debug_file_refused),
	    cmocka_unit_test(test_shared_library),
	    cmocka_unit_test(test_debuglink_dot_debug_dir),
	    cmocka_unit_test(test_cxx_demangled),
	    cmocka_unit_test(test_demangle),
	    cmocka_unit_test(test_zero_size_symbols),
	    cmocka_unit_test(test_unmapped_address),
	    cmocka_unit_test(test_one_cache_entry_per_file),
	    cmocka_unit_test(test_add_mapping_errors),
	    cmocka_unit_test(test_live_process),
	    cmocka_unit_test(test_dlopen_after_attach),
	    cmocka_unit_test(test_exited_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
