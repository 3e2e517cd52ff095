/* lto_main.c: fixture unit of lto_prog that calls, and so inlines, the other unit's function. */
#include "fx_lines.h"

int fx_lto_inl(int n);
int fx_lto_caller(int n);

__attribute__((noinline)) int fx_lto_caller(int n)
{
	_Static_assert(__LINE__ == FX_LINE_LTO_SITE, "update fx_lines.h"); return fx_lto_inl(n) * 3;
}

int main(int argc, char **argv)
{
	return fx_lto_caller(argc);
}
