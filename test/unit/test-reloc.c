/* Unit tests for src/reloc.c: --relocate OLD=NEW applied to paths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reloc.h"


/* reloc_path(rules, path) is want (NULL: no rule matches). */
static void expect(const struct reloc *rules, int nr, const char *path,
		   const char *want)
{
	char *got = reloc_path(rules, nr, path);

	if (!want) {
		if (got)
			fail_msg("'%s' relocated to '%s', expected no match", path, got);
		return;
	}
	if (!got)
		fail_msg("'%s' not relocated, expected '%s'", path, want);
	assert_string_equal(got, want);
	free(got);
}

static void test_whole_components(void **state)
{
	const struct reloc r[] = { { "/tmp/foo", "/new/place" } };

	expect(r, 1, "/tmp/foo", "/new/place");
	expect(r, 1, "/tmp/foo/1", "/new/place/1");
	expect(r, 1, "/tmp/foo/a/b/c.txt", "/new/place/a/b/c.txt");
	expect(r, 1, "/tmp/foo/", "/new/place/");
	/* Not a prefix of a longer component, not in the middle. */
	expect(r, 1, "/tmp/fooz", NULL);
	expect(r, 1, "/tmp/foo.txt", NULL);
	expect(r, 1, "/tmp/foo-1/x", NULL);
	expect(r, 1, "/var/tmp/foo", NULL);
	expect(r, 1, "/var/tmp/foo/1", NULL);
	expect(r, 1, "tmp/foo", NULL);
	/* Shorter than the rule. */
	expect(r, 1, "/tmp/fo", NULL);
	expect(r, 1, "/tmp", NULL);
	expect(r, 1, "/tmp/", NULL);
	expect(r, 1, "", NULL);
	/* Case matters. */
	expect(r, 1, "/TMP/foo", NULL);
}

static void test_first_rule_wins(void **state)
{
	const struct reloc r[] = {
		{ "/a/b", "/first" },
		{ "/a", "/second" },
		{ "/a/b/c", "/third" },
	};

	expect(r, 3, "/a/b/c/d", "/first/c/d");
	expect(r, 3, "/a/b", "/first");
	expect(r, 3, "/a/x", "/second/x");
	expect(r, 3, "/a", "/second");
	expect(r, 3, "/a/bc", "/second/bc");	/* /a/b does not match /a/bc */
	expect(r, 3, "/ab", NULL);

	/* Only the first nr rules count. */
	expect(r + 1, 2, "/a/b/c/d", "/second/b/c/d");
	expect(r, 0, "/a/b", NULL);
	expect(r + 2, 1, "/a/b/c/d", "/third/d");
	expect(r + 2, 1, "/a/b", NULL);
}

static void test_later_rule_when_first_misses(void **state)
{
	const struct reloc r[] = {
		{ "/home/old", "/home/new" },
		{ "/tmp/foo", "/scratch" },
		{ "/tmp/fo", "/never" },
	};

	expect(r, 3, "/tmp/foo/x", "/scratch/x");
	expect(r, 3, "/home/old/.bashrc", "/home/new/.bashrc");
	expect(r, 3, "/home/older", NULL);
	expect(r, 3, "/tmp/fo/y", "/never/y");
	expect(r, 3, "/tmp/fooo", NULL);
}

static void test_root_relative(void **state)
{
	/* Rules as blcr_parse_reloc() makes them: absolute, no trailing '/'. */
	const struct reloc up[] = { { "/var/lib/app/data", "/d" } };
	const struct reloc down[] = { { "/d", "/var/lib/app/data" } };
	const struct reloc to_root[] = { { "/chroot/jail", "/" } };
	const struct reloc from_root[] = { { "/", "/new" } };

	expect(up, 1, "/var/lib/app/data/db", "/d/db");
	expect(up, 1, "/var/lib/app/data", "/d");
	expect(up, 1, "/var/lib/app", NULL);
	expect(up, 1, "/var/lib/app/database", NULL);
	expect(down, 1, "/d/db", "/var/lib/app/data/db");
	expect(down, 1, "/d", "/var/lib/app/data");
	expect(down, 1, "/dd/db", NULL);
	expect(down, 1, "/", NULL);
	/* The relocated directory itself becomes the root. */
	expect(to_root, 1, "/chroot/jail", "/");
	expect(to_root, 1, "/chroot/jailbreak", NULL);
	expect(to_root, 1, "/chroot", NULL);
	/* The root itself moved. */
	expect(from_root, 1, "/", "/new");
}

static void test_result_is_own_copy(void **state)
{
	const struct reloc r[] = { { "/x", "/y" } };
	char path[] = "/x/file";
	char *a = reloc_path(r, 1, path), *b;

	assert_non_null(a);
	path[3] = 'F';
	b = reloc_path(r, 1, path);
	assert_string_equal(a, "/y/file");
	assert_string_equal(b, "/y/File");
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(a, path);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_components),
		cmocka_unit_test(test_first_rule_wins),
		cmocka_unit_test(test_later_rule_when_first_misses),
		cmocka_unit_test(test_root_relative),
		cmocka_unit_test(test_result_is_own_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
