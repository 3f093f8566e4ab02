/* Unit tests for pstree_parse_children() (src/pstree.c): /proc/PID/task/TID/children. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pstree.h"

/* Parse buf and check it gives exactly the n PIDs of want. */
static void expect(const char *buf, const pid_t *want, int n)
{
	pid_t *got = (pid_t *)1;
	int nr = pstree_parse_children(buf, &got);

	assert_int_equal(nr, n);
	if (!n)
		assert_null(got);
	else
		assert_memory_equal(got, want, n * sizeof(pid_t));
	free(got);
}

#define EXPECT(buf, ...) do {							\
		const pid_t w[] = { __VA_ARGS__ };				\
		expect(buf, w, sizeof(w) / sizeof(w[0]));			\
	} while (0)

static void test_children(void **state)
{
	EXPECT("1 2 3\n", 1, 2, 3);
	EXPECT("1 2 3 ", 1, 2, 3);		/* what the kernel writes */
	EXPECT("42", 42);
	EXPECT("  7 ", 7);
	EXPECT("\n7\n", 7);
	EXPECT("100  200\n\n300", 100, 200, 300);
	EXPECT("4194304 2147483647 ", 4194304, 2147483647);
}

static void test_empty(void **state)
{
	expect("", NULL, 0);
	expect(" ", NULL, 0);
	expect("\n", NULL, 0);
	expect("  \n \n", NULL, 0);
}

static void test_many(void **state)
{
	char buf[8192] = "";
	pid_t want[1000];
	size_t off = 0;

	for (int i = 0; i < 1000; i++) {
		want[i] = 1000 + i * 7;
		off += snprintf(buf + off, sizeof(buf) - off, "%d ", want[i]);
	}
	expect(buf, want, 1000);
}

static void test_garbage(void **state)
{
	static const char *bad[] = {
		"x", "abc\n", "1 2 x", "1 a 3\n", "12abc", "-5", "1 -2",
		"0", "3 0 ", "1,2", "1.5", "0x10", "+", "-",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid_t *out = NULL;
		int nr = pstree_parse_children(bad[i], &out);

		if (nr != -1)
			fail_msg("'%s' parsed as %d children", bad[i], nr);
		free(out);	/* may be partly filled */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
