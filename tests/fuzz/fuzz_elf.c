/* fuzz_elf.c: libFuzzer harness for the ELF reader and the symbolizer, on an ELF given as bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc/elf_file.h"
#include "fuzz_file.h"
#include "base/log.h"
#include "symbol/symbolize.h"

/* Bounds the work per input: a symbol table can be as long as the file allows. */
#define MAX_ADDRS    64
#define FILE_STRIDES 16
#define FAKE_PID     4242
/* Where the fake process maps the file: a page boundary, as a real mapping starts. */
#define BASE 0x7f0000000000ULL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct addrs {
	uint64_t offset[MAX_ADDRS]; /* file offsets to resolve */
	size_t nr;
	struct elf_file *ef;
};

static void add_offset(struct addrs *a, uint64_t offset)
{
	if (a->nr < MAX_ADDRS)
		a->offset[a->nr++] = offset;
}

static int sym_cb(const struct elf_sym *sym, void *ctx)
{
	struct addrs *a = ctx;
	struct elf_sym found;
	uint64_t off, vaddr, start, end;
	const uint8_t *code;

	/* Every query a caller makes of a symbol, so that each answer is read once. */
	code = elf_file__code(a->ef, sym->vaddr, sym->size < 16 ? (size_t)sym->size : 16);
	if (code && sym->size)
		(void)*(volatile const uint8_t *)code;
	(void)elf_file__section_range(a->ef, sym->shndx, &start, &end);
	if (a->nr < 4)
		(void)elf_file__find_func(a->ef, sym->name, a->nr & 1, &found);
	if (elf_file__vaddr_to_offset(a->ef, sym->vaddr, &off))
		return 0;
	(void)elf_file__offset_to_vaddr(a->ef, off, &vaddr);
	/* A return address inside the function, and one just past its first instruction. */
	add_offset(a, off + sym->size / 2);
	add_offset(a, off + 1);
	return a->nr >= MAX_ADDRS;
}

/* The ELF reader alone: everything attach and the symbolizer ask of an elf_file. */
static void read_elf(struct elf_file *ef, struct addrs *a)
{
	const uint8_t *id;
	const char *link;
	struct elf_sym sym;
	size_t len;

	(void)elf_file__type(ef);
	len = elf_file__build_id(ef, &id);
	if (len)
		(void)*(volatile const uint8_t *)&id[len - 1];
	link = elf_file__debuglink(ef);
	if (link)
		(void)strlen(link);
	(void)elf_file__debuglink_crc(ef);
	(void)elf_file__has_symtab(ef);
	(void)elf_file__find_func(ef, "malloc", false, &sym);
	(void)elf_file__find_func(ef, "free", true, &sym);
	a->ef = ef;
	(void)elf_file__for_each_func(ef, sym_cb, a);
}

/* The symbolizer on the file as one mapping of a fake process, as the unit tests map fixtures. */
static void symbolize(const char *path, size_t size, const struct addrs *a)
{
	struct sym_frame frames[8];
	struct sym_mapping m;
	struct symbolizer *s;
	uint64_t len = (size + 0xfff) & ~0xfffULL;
	size_t i, n, k;

	s = symbolizer__new(NULL);
	if (!s)
		abort();
	if (symbolizer__add_mapping(s, FAKE_PID, BASE, BASE + (len ? len : 0x1000), 0, path)) {
		symbolizer__free(s);
		return;
	}
	for (i = 0; i <= a->nr; i++) {
		/* The last round resolves the first address again: the answer from the cache. */
		uint64_t addr = BASE + 1 + (i < a->nr ? a->offset[i] : a->nr ? a->offset[0] : 0);

		n = symbolizer__resolve(s, FAKE_PID, 0, addr, i & 1, frames, 1 + i % 8);
		if (n < 1 || n > 1 + i % 8)
			__builtin_trap();
		for (k = 0; k < n; k++) {
			if (frames[k].function)
				(void)strlen(frames[k].function);
			if (frames[k].file)
				(void)strlen(frames[k].file);
		}
		(void)symbolizer__mapping(s, FAKE_PID, 0, addr, &m);
	}
	/* Addresses spread over the whole file, for objects with DWARF but no symbols. */
	for (i = 0; i < FILE_STRIDES; i++)
		(void)symbolizer__resolve(s, FAKE_PID, 0, BASE + 1 + i * (size / FILE_STRIDES), true,
					  frames, 8);
	symbolizer__free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The symbolizer logs unreadable files at debug level; a warning would flood the run. */
	log_set_level(LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addrs a = {.nr = 0};
	struct fuzz_file f;
	struct elf_file *ef;

	fuzz_file_open(&f, data, size);
	ef = elf_file__open(f.path);
	if (ef) {
		read_elf(ef, &a);
		elf_file__free(ef);
	}
	symbolize(f.path, size, &a);
	fuzz_file_close(&f);
	return 0;
}
