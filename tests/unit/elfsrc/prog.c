/* prog.c: fixture executable for the symbolize and elf_file unit tests; read, never run. */
#include "fx_lines.h"

/*
 * Line numbers matter here: each _Static_assert pins the line the tests expect (fx_lines.h). The
 * file is not clang-formatted, so the statement and its assertion share a line.
 */
int fx_sink(int n);
int fx_outer(int n);
int fx_inl_caller(int n);
int fx_deep_caller(int n);

__attribute__((noinline)) int fx_sink(int n)
{
	return n + 1;
}

int fx_outer(int n)
{
	int r = fx_sink(n); _Static_assert(__LINE__ == FX_LINE_OUTER_CALL, "update fx_lines.h");

	return r * 3;
}

static inline __attribute__((always_inline)) int fx_inl(int n)
{
	_Static_assert(__LINE__ == FX_LINE_INL_CALL, "update fx_lines.h"); return fx_sink(n) + 1;
}

int fx_inl_caller(int n)
{
	_Static_assert(__LINE__ == FX_LINE_INL_SITE, "update fx_lines.h"); return fx_inl(n) * 2;
}

/* Two levels of inlining. */
static inline __attribute__((always_inline)) int fx_inl_deep(int n)
{
	_Static_assert(__LINE__ == FX_LINE_DEEP_CALL, "update fx_lines.h"); return fx_sink(n) + 5;
}

static inline __attribute__((always_inline)) int fx_inl_mid(int n)
{
	_Static_assert(__LINE__ == FX_LINE_MID_SITE, "update fx_lines.h"); return fx_inl_deep(n) * 7;
}

int fx_deep_caller(int n)
{
	_Static_assert(__LINE__ == FX_LINE_DEEP_SITE, "update fx_lines.h"); return fx_inl_mid(n) - 1;
}

/* A label with no size: its extent is "up to the next symbol in the same section". */
__asm__(".pushsection .text\n"
	".globl fx_nosize\n"
	".type fx_nosize, @function\n"
	"fx_nosize:\n"
	"nop\nnop\nnop\nnop\nnop\nnop\nnop\nret\n"
	".popsection\n");

int main(int argc, char **argv)
{
	return fx_outer(argc) + fx_inl_caller(argc) + fx_deep_caller(argc);
}
