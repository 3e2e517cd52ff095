/* symbolize.h: addresses of a traced process -> function, source line, module; cached per object file. */
#ifndef LT_SYMBOLIZE_H
#define LT_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One source-level frame. Several come from one address when inlining is known (innermost first). */
struct sym_frame {
	uint64_t address;	/* the address in the traced process */
	const char *function;	/* demangled name, or NULL when no symbol covers the address */
	uint64_t offset;	/* address - symbol start (0 when function is NULL) */
	const char *module;	/* absolute path of the object file, or NULL when unmapped */
	uint64_t module_offset;	/* file offset inside `module` */
	const char *file;	/* source file (as DWARF names it), or NULL */
	uint32_t line;		/* 0 when unknown */
	bool inlined;		/* this frame was inlined into the next one */
};

struct symbolizer;

/* Creates an empty symbolizer. Object files are opened lazily and cached for its lifetime. */
struct symbolizer *symbolizer__new(void);

/*
 * Records the current mappings of pid so that its addresses can be resolved even after it exits.
 * Call at attach time; symbolizer__resolve() calls it again by itself when an address falls outside
 * the known mappings (dlopen). Returns 0 or -errno (-ESRCH when the process is gone).
 */
int symbolizer__add_pid(struct symbolizer *s, int pid);

/*
 * Resolves one address of process pid into frames. Every address leaktop captures is a return
 * address, so the symbol and line lookups use addr - 1 (the call instruction); `address` and
 * `offset` still report addr itself. Writes at most max_frames (innermost first) and
 * returns how many (always >= 1: an unknown address still gives a frame with address set).
 * Strings point into the symbolizer's cache and stay valid until symbolizer__free().
 */
size_t symbolizer__resolve(struct symbolizer *s, int pid, uint64_t addr, bool want_inlines,
			   struct sym_frame *frames, size_t max_frames);

void symbolizer__free(struct symbolizer *s);

/* Demangles a C++ name; returns a malloc'ed string, or NULL when the name is not mangled. */
char *sym_demangle(const char *name);

#endif
