/* suppress.h: LeakSanitizer-style suppressions: rules parsed, stacks matched, readings filtered. */
#ifndef LT_SUPPRESS_H
#define LT_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "model/snapshot.h"
#include "symbol/symbolize.h"

/*
 * A list of rules in LeakSanitizer's syntax, one a line: `leak:PATTERN`; `#` starts a comment
 * line; blank lines and the blanks around a line are ignored. A stack is suppressed when a
 * pattern matches, at any of its frames, the module (the object file's path), the function
 * (demangled) or the source file (as DWARF names it), in that order, as LSan tries them.
 */
struct suppressions;

/* An empty list (it suppresses nothing). NULL and errno ENOMEM. */
struct suppressions *suppressions__new(void);

/* NULL-safe. */
void suppressions__free(struct suppressions *s);

/*
 * Adds the rules of text, a suppressions file's contents; origin names it in messages. 0, -EINVAL
 * with "ORIGIN:LINE: ..." in err (a line that is not `leak:PATTERN`, or an empty pattern: bad
 * input), or -ENOMEM. On error no rule of text is kept.
 */
int suppressions__parse(struct suppressions *s, const char *text, const char *origin, char *err,
			size_t err_len);

/*
 * Adds leaktop's default rules (src/model/default.supp, compiled in): what the C and C++ runtimes
 * hold until exit. 0 or -ENOMEM.
 */
int suppressions__add_defaults(struct suppressions *s);

/* suppressions__parse() of the file at path. 0, or -errno with the reason in err (naming path). */
int suppressions__load(struct suppressions *s, const char *path, char *err, size_t err_len);

/* The rules held. */
size_t suppressions__count(const struct suppressions *s);

/*
 * LeakSanitizer's pattern match (compiler-rt's TemplateMatch): the pattern's pieces between `*`
 * are found in str in order, each anywhere after the previous one; a leading `^` anchors the
 * first piece at str's start, and `$` ends the pattern at str's end (any text may come before
 * it after a `*`). Without anchors a pattern matches anywhere in str. An empty or NULL str never
 * matches. Pure.
 */
bool suppress_pattern_match(const char *pattern, const char *str);

/* The index of the first rule that matches one of frames (innermost first), or -1. Pure. */
int suppressions__match(const struct suppressions *s, const struct sym_frame *frames, size_t n);

/*
 * Drops from snap every stack that a rule matches in the frames the reports show, named by sym
 * (ending where report_ends_stack() says), keeping the order, and takes what they hold off snap's
 * outstanding totals into snap->suppressed (the stacks counted are those that hold a block). The
 * verdict on each return address is kept, so an address is named and matched once, not once per
 * stack and reading; verdicts on addresses gone from the readings are forgotten. A list with no
 * rules, or no sym, changes nothing. 0 or -ENOMEM (snap unchanged).
 */
int suppressions__apply(struct suppressions *s, struct snapshot *snap, struct symbolizer *sym);

#endif
