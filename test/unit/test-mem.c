/*
 * Unit tests for mem_vma_kind() (src/mem.c): what a maps line's path is;
 * and mem_cow_parent_vma(): which parent VMA a child's VMA shares with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "mem.h"

#define POISON	((VmaKind)0x5a5a)

static void expect(const char *path, int shared, VmaKind want)
{
	VmaKind k = POISON;

	if (mem_vma_kind(path, shared, &k))
		fail_msg("'%s' (%s) refused", path, shared ? "shared" : "private");
	if (k != want)
		fail_msg("'%s' (%s) is kind %d, expected %d", path,
			 shared ? "shared" : "private", k, want);
}

static void expect_refused(const char *path, int shared)
{
	VmaKind k = POISON;

	assert_int_equal(mem_vma_kind(path, shared, &k), -1);
}

static void test_special(void **state)
{
	expect("[vdso]", 0, VMA_KIND__VMA_VDSO);
	expect("[vvar]", 0, VMA_KIND__VMA_VVAR);
	expect("[vvar_vclock]", 0, VMA_KIND__VMA_VVAR_VCLOCK);
	/* Exactly these names. */
	expect_refused("[vdso", 0);
	expect_refused("[vdso]x", 0);
	expect_refused("[vvar_vclock2]", 0);
}

static void test_anon(void **state)
{
	expect("", 0, VMA_KIND__VMA_ANON_PRIVATE);
	expect("", 1, VMA_KIND__VMA_ANON_SHARED);
	expect("[heap]", 0, VMA_KIND__VMA_ANON_PRIVATE);
	expect("[stack]", 0, VMA_KIND__VMA_ANON_PRIVATE);
	expect("[anon:foo]", 0, VMA_KIND__VMA_ANON_PRIVATE);
	expect("[anon:foo]", 1, VMA_KIND__VMA_ANON_SHARED);
	expect("[anon:]", 0, VMA_KIND__VMA_ANON_PRIVATE);
	expect("[anon:with spaces and ] brackets]", 0, VMA_KIND__VMA_ANON_PRIVATE);
	/* Shared anonymous memory is a deleted /dev/zero in maps. */
	expect("/dev/zero (deleted)", 1, VMA_KIND__VMA_ANON_SHARED);
	/* A private one is just a file mapping by name. */
	expect("/dev/zero (deleted)", 0, VMA_KIND__VMA_FILE_PRIVATE);
	expect("/dev/zero", 1, VMA_KIND__VMA_FILE_SHARED);
	expect("/dev/zero (deleted) ", 1, VMA_KIND__VMA_FILE_SHARED);
}

static void test_files(void **state)
{
	expect("/usr/lib/x86_64-linux-gnu/libc.so.6", 0, VMA_KIND__VMA_FILE_PRIVATE);
	expect("/usr/lib/x86_64-linux-gnu/libc.so.6", 1, VMA_KIND__VMA_FILE_SHARED);
	expect("/tmp/a file with spaces", 1, VMA_KIND__VMA_FILE_SHARED);
	expect("/tmp/gone (deleted)", 0, VMA_KIND__VMA_FILE_PRIVATE);
	expect("/memfd:x (deleted)", 0, VMA_KIND__VMA_FILE_PRIVATE);
	expect("/memfd:x (deleted)", 1, VMA_KIND__VMA_FILE_SHARED);
	expect("/", 0, VMA_KIND__VMA_FILE_PRIVATE);
}

static void test_unknown(void **state)
{
	expect_refused("[uprobes]", 0);
	expect_refused("[uprobes]", 1);
	expect_refused("[vsyscall]", 0);	/* add_vma() skips it before */
	expect_refused("[heap", 0);
	expect_refused("[anon", 0);
	expect_refused("anon_inode:[perf_event]", 1);
	expect_refused("relative/path", 0);
	expect_refused("[Heap]", 0);
}

static VmaEntry *vma(uint64_t start, uint64_t end, VmaKind kind, uint32_t flags)
{
	VmaEntry *v = calloc(1, sizeof(*v));

	vma_entry__init(v);
	v->start = start;
	v->end = end;
	v->kind = kind;
	v->flags = flags;
	return v;
}

#define ANON	VMA_KIND__VMA_ANON_PRIVATE
#define PRIV	(MAP_PRIVATE | MAP_ANONYMOUS)

static void test_cow_parent(void **state)
{
	VmaEntry *p[] = {
		vma(0x1000, 0x5000, ANON, PRIV),
		vma(0x5000, 0x9000, VMA_KIND__VMA_ANON_SHARED, MAP_SHARED),
		vma(0x10000, 0x20000, ANON, PRIV),
		vma(0x30000, 0x40000, ANON, PRIV | MAP_GROWSDOWN),
		vma(0x50000, 0x60000, VMA_KIND__VMA_FILE_PRIVATE, MAP_PRIVATE),
	};
	size_t n = sizeof(p) / sizeof(p[0]);
	VmaEntry *c;

	/* The same VMA, or a piece of one (the child split it). */
	c = vma(0x1000, 0x5000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), 0);
	c = vma(0x12000, 0x14000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), 2);
	c = vma(0x10000, 0x20000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), 2);
	/* Larger than the parent's, across two, or outside all. */
	c = vma(0x1000, 0x6000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	c = vma(0xf000, 0x11000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	c = vma(0x70000, 0x71000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	/* Stacks, shared and file mappings never. */
	c = vma(0x30000, 0x40000, ANON, PRIV | MAP_GROWSDOWN);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	c = vma(0x30000, 0x40000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	c = vma(0x5000, 0x9000, ANON, PRIV);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	c = vma(0x50000, 0x60000, VMA_KIND__VMA_FILE_PRIVATE, MAP_PRIVATE);
	assert_int_equal(mem_cow_parent_vma(p, n, c), -1);
	assert_int_equal(mem_cow_parent_vma(p, 0, c), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_special),
		cmocka_unit_test(test_anon),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_cow_parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
