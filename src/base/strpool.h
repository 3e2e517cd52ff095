/* strpool.h: interned strings: one copy of each distinct string, alive as long as the pool. */
#ifndef LT_STRPOOL_H
#define LT_STRPOOL_H

#include <stddef.h>

struct strpool;

/* An empty pool. NULL and errno ENOMEM. */
struct strpool *strpool__new(void);

/*
 * The pool's copy of the len bytes at str (str[len] need not be '\0'; the bytes hold no '\0'):
 * equal strings give the same pointer. The copy is owned by the pool and lives until
 * strpool__free(). NULL when out of memory.
 */
const char *strpool__intern(struct strpool *p, const char *str, size_t len);

/* Frees every string interned. NULL-safe. */
void strpool__free(struct strpool *p);

#endif
