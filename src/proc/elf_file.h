/* elf_file.h: one opened ELF object: symbols, address <-> file offset, code bytes, build-id, debuglink. */
#ifndef LT_ELF_FILE_H
#define LT_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct elf_sym {
	const char *name;	/* raw (mangled) name; valid while the elf_file is open */
	uint64_t vaddr;		/* st_value */
	uint64_t size;		/* st_size */
	bool global;		/* STB_GLOBAL or STB_WEAK */
	bool dynamic;		/* from .dynsym (exported) rather than .symtab */
	bool compat_version;	/* a non-default version ("name@V", hidden in .gnu.version) */
	uint32_t shndx;		/* section index (st_shndx; 0 when not a regular section) */
};

/* Opens path read-only. NULL and errno: ENOENT, EACCES, ENOEXEC (not an ELF file), ENOMEM. */
struct elf_file *elf_file__open(const char *path);

/* ET_EXEC, ET_DYN. */
int elf_file__type(const struct elf_file *ef);

/*
 * Calls fn for every defined function symbol (STT_FUNC or STT_GNU_IFUNC with a non-zero value),
 * .symtab first, then .dynsym. Stops early and returns fn's value when it returns non-zero.
 */
int elf_file__for_each_func(struct elf_file *ef, int (*fn)(const struct elf_sym *sym, void *ctx),
			    void *ctx);

/*
 * Finds a defined, global or weak function symbol by exact name (versions like "@@GLIBC_2.2.5"
 * ignored). With exported_only, only .dynsym counts (what the dynamic linker can bind to).
 * Returns 0 or -ENOENT.
 */
int elf_file__find_func(struct elf_file *ef, const char *name, bool exported_only, struct elf_sym *out);

/* Converts a virtual address to a file offset through the PT_LOAD headers. 0 or -ENOENT. */
int elf_file__vaddr_to_offset(const struct elf_file *ef, uint64_t vaddr, uint64_t *offset);
/* The reverse. 0 or -ENOENT. */
int elf_file__offset_to_vaddr(const struct elf_file *ef, uint64_t offset, uint64_t *vaddr);

/* Pointer to size bytes of file contents at vaddr (inside the mapped file), or NULL when outside. */
const uint8_t *elf_file__code(const struct elf_file *ef, uint64_t vaddr, size_t size);

/*
 * The name of the symbol whose address the dynamic linker writes into the pointer at slot (a GOT
 * entry: R_X86_64_JUMP_SLOT or GLOB_DAT against .dynsym), or NULL. Valid while ef is open.
 */
const char *elf_file__slot_symbol(const struct elf_file *ef, uint64_t slot);

/* The GNU build-id note; returns its length (0 when absent) and sets *id to bytes inside ef. */
size_t elf_file__build_id(const struct elf_file *ef, const uint8_t **id);

/* The .gnu_debuglink file name, or NULL. */
const char *elf_file__debuglink(const struct elf_file *ef);

/* The CRC-32 stored after the .gnu_debuglink name (0 when there is none). */
uint32_t elf_file__debuglink_crc(const struct elf_file *ef);

/* Whether a .symtab with contents exists (false for stripped files). */
bool elf_file__has_symtab(const struct elf_file *ef);

/* Virtual address range [*start, *end) of section shndx. 0 or -ENOENT. */
int elf_file__section_range(const struct elf_file *ef, size_t shndx, uint64_t *start,
			    uint64_t *end);

/* The libelf handle, for libdw (dwarf_begin_elf). */
struct Elf *elf_file__elf(const struct elf_file *ef);

void elf_file__free(struct elf_file *ef);

#endif
