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

struct procview;

/*
 * Creates an empty symbolizer over the process view pv (borrowed: it must outlive the symbolizer;
 * NULL: the symbolizer makes one of its own). The files come from the view, opened when a pid's
 * mappings are read (so files of a process that later exits stay readable); the symbolizer parses
 * each on first use and keeps what it read for its lifetime. NULL and errno ENOMEM.
 */
struct symbolizer *symbolizer__new(struct procview *pv);

/*
 * Records the current mappings of pid so that its addresses can be resolved even after it exits.
 * Call at attach time; symbolizer__resolve() calls it again by itself when an address falls outside
 * the known mappings (dlopen). Returns 0 or -errno (-ESRCH when the process is gone).
 */
int symbolizer__add_pid(struct symbolizer *s, int pid);

/*
 * Resolves one address of process pid into frames, in the image it ran while its self_exec_id
 * was exec_id (the stack's: an address means other code after an exec), or its current one. Every address leaktop captures is a return
 * address, so the symbol and line lookups use addr - 1 (the call instruction); `address` and
 * `offset` still report addr itself. Writes at most max_frames (innermost first) and
 * returns how many (always >= 1: an unknown address still gives a frame with address set;
 * 0 only when max_frames is 0). Strings point into the symbolizer's and the view's caches and
 * stay valid until both are freed.
 *
 * The last frame is always the real function (named by the symbol table, else by DWARF), with
 * the line of the call it makes (for inlined code: where the outermost inlined function is
 * called), so that without want_inlines function and line agree. With want_inlines, inlined
 * frames come first, each with `offset` counted from the start of its inlined copy; when they do
 * not fit, the outermost ones are left out. A pid not added before is read from /proc on first
 * use.
 */
size_t symbolizer__resolve(struct symbolizer *s, int pid, uint32_t exec_id, uint64_t addr,
			   bool want_inlines,
			   struct sym_frame *frames, size_t max_frames);

/*
 * Records one mapping [start, end) of path at file_offset for pid, without reading /proc: used by
 * the unit tests and by callers that know the mappings themselves (a core file, a replay). path
 * should be absolute; it is reported as the frame's module. A pid given mappings this way is never
 * refreshed from /proc/PID/maps. Returns 0 or -errno: -EINVAL (empty range), -EEXIST (overlaps a
 * known mapping of pid), -ENOENT/-EACCES (cannot stat path), -ENOMEM.
 */
int symbolizer__add_mapping(struct symbolizer *s, int pid, uint64_t start, uint64_t end,
			    uint64_t file_offset, const char *path);

/* One mapping of an object file in a process, as /proc/PID/maps showed it. */
struct sym_mapping {
	uint64_t start;		/* [start, end) maps the file from file_offset on */
	uint64_t end;
	uint64_t file_offset;
	const char *module;	/* as sym_frame.module */
	const char *build_id;	/* GNU build-id of the file opened, lowercase hex; NULL when none */
};

/*
 * The recorded mapping of pid that holds addr (as symbolizer__resolve() last saw it; /proc is not
 * re-read). The build-id is that of the file the symbolizer opened, which is still the mapped
 * one when the path now names another file or lies in another mount namespace. Strings live as
 * long as s. Returns 0, or -ENOENT when addr lies in no recorded file mapping of pid.
 */
int symbolizer__mapping(struct symbolizer *s, int pid, uint32_t exec_id, uint64_t addr,
			struct sym_mapping *out);

/* Number of distinct object files opened so far (for tests and statistics). */
size_t symbolizer__nr_objects(const struct symbolizer *s);

void symbolizer__free(struct symbolizer *s);

#endif
