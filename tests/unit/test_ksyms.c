/* test_ksyms.c: /proc/kallsyms read into kernel address -> function and module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "symbol/ksyms.h"

static const char kallsyms[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81200000 t alloc_pipe_info\n"
	"ffffffff81200400 D some_data\n"
	"ffffffff81200100 T do_pipe2\n"
	"ffffffffc0a01000 t nf_hook [nf_tables]\n"
	"ffffffffc0a02000 W weak_one\t[mod_b]\n"
	"0000000000000000 T hidden\n";

static struct ksyms *load(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct ksyms *k;

	assert_non_null(f);
	k = ksyms__load(f);
	fclose(f);
	assert_non_null(k);
	return k;
}

static void test_find(void **state)
{
	struct ksyms *k = load(kallsyms);
	const char *mod = NULL, *name;
	uint64_t off = 0;

	/* out of order in the file, sorted here; data symbols are not functions */
	name = ksyms__find(k, 0xffffffff81200108, &off, &mod);
	assert_string_equal(name, "do_pipe2");
	assert_int_equal(off, 8);
	assert_string_equal(mod, "[kernel]");
	name = ksyms__find(k, 0xffffffff81200050, &off, &mod);
	assert_string_equal(name, "alloc_pipe_info");
	assert_int_equal(off, 0x50);
	name = ksyms__find(k, 0xffffffffc0a01010, &off, &mod);
	assert_string_equal(name, "nf_hook");
	assert_string_equal(mod, "[nf_tables]");
	name = ksyms__find(k, 0xffffffffc0a02001, &off, &mod);
	assert_string_equal(name, "weak_one");
	assert_string_equal(mod, "[mod_b]");
	assert_null(ksyms__find(k, 0xffffffff80000000, &off, &mod));
	ksyms__free(k);
}

/* Addresses hidden (kptr_restrict): nothing to name, and no failure. */
static void test_hidden(void **state)
{
	struct ksyms *k = load("0000000000000000 T _stext\n0000000000000000 t x\n");
	const char *mod;
	uint64_t off;

	assert_null(ksyms__find(k, 0xffffffff81000000, &off, &mod));
	ksyms__free(k);
	assert_true(ksyms_is_kernel(0xffffffff81000000));
	assert_false(ksyms_is_kernel(0x7fffffffe000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_hidden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
