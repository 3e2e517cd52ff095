/* libfx.c: fixture shared library for the symbolize and elf_file unit tests (also dlopen'ed). */
#include "fx_lines.h"

int fx_lib_outer(int n);
int fx_versioned_v1(int n);
int fx_versioned_v2(int n);
int fx_old_impl(int n);

static __attribute__((noinline)) int fx_lib_sink(int n)
{
	return n * 7;
}

int fx_lib_outer(int n)
{
	_Static_assert(__LINE__ == FX_LINE_LIB_CALL, "update fx_lines.h"); return fx_lib_sink(n) + 1;
}

/* Known bytes at a known symbol: nopl 0(%rax,%rax); mov $42,%eax; ret. See FX_MARKER_BYTES. */
__asm__(".pushsection .text\n"
	".globl fx_code_marker\n"
	".type fx_code_marker, @function\n"
	"fx_code_marker:\n"
	".byte 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3\n"
	".size fx_code_marker, . - fx_code_marker\n"
	".popsection\n");

/* Two versions of one name: FX_1 kept for old binaries, FX_2 the default. */
int fx_versioned_v1(int n)
{
	return n - 1;
}

int fx_versioned_v2(int n)
{
	return n - 2;
}

__asm__(".symver fx_versioned_v1, fx_versioned@FX_1");
__asm__(".symver fx_versioned_v2, fx_versioned@@FX_2");

/* Only a compat version, as glibc keeps for removed interfaces. */
int fx_old_impl(int n)
{
	return n - 3;
}

__asm__(".symver fx_old_impl, fx_old@FX_1");

/* Lives in .bss: the tests check that no code bytes are returned for it. */
int fx_bss_counter[64];
