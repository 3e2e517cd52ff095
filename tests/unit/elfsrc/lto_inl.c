/* lto_inl.c: fixture unit of lto_prog whose function is inlined into the other unit at link time. */
#include "fx_lines.h"

int fx_lto_sink(int n);
int fx_lto_inl(int n);

__attribute__((noinline, noipa)) int fx_lto_sink(int n)
{
	return n * 5;
}

int fx_lto_inl(int n)
{
	_Static_assert(__LINE__ == FX_LINE_LTO_CALL, "update fx_lines.h"); return fx_lto_sink(n) + 1;
}
