/*
 * Unit tests for src/creds.c: which credentials in an image a caller may
 * give a restored process, and that each problem is reported by field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "creds.h"

static char said[16][256];
static int nr_said;

static void collect(pid_t pid, const char *msg)
{
	(void)pid;
	if (nr_said < 16)
		snprintf(said[nr_said++], sizeof(said[0]), "%s", msg);
}

static int said_has(const char *needle)
{
	for (int i = 0; i < nr_said; i++)
		if (strstr(said[i], needle))
			return 1;
	return 0;
}

struct img {
	CoreEntry core;
	CredsEntry creds;
	ThreadCoreEntry th, *ths[1];
	ThreadAttrsEntry ta;
	CapsEntry caps;
	uint32_t groups[2];
};

/* A process of uid/gid 1000, groups {1000, 27}, no capabilities. */
static void user_image(struct img *m)
{
	core_entry__init(&m->core);
	creds_entry__init(&m->creds);
	thread_core_entry__init(&m->th);
	thread_attrs_entry__init(&m->ta);
	caps_entry__init(&m->caps);
	m->creds.uid = m->creds.euid = m->creds.suid = m->creds.fsuid = 1000;
	m->creds.gid = m->creds.egid = m->creds.sgid = m->creds.fsgid = 1000;
	m->groups[0] = 27;
	m->groups[1] = 1000;
	m->creds.groups = m->groups;
	m->creds.n_groups = 2;
	m->caps.bnd = 0x1ffffffffffULL;
	m->ta.caps = &m->caps;
	m->th.tid = 77;
	m->th.attrs = &m->ta;
	m->ths[0] = &m->th;
	m->core.creds = &m->creds;
	m->core.threads = m->ths;
	m->core.n_threads = 1;
}

static gid_t user_groups[] = { 1000, 27 };

static struct creds_caller user_caller(void)
{
	struct creds_caller c = {
		.uid = { 1000, 1000, 1000 }, .gid = { 1000, 1000, 1000 },
		.groups = user_groups, .nr_groups = 2,
		.prm = 1ULL << 40 /* CAP_CHECKPOINT_RESTORE */,
		.bnd = 0x1ffffffffffULL,
	};
	return c;
}

static int problems(const struct creds_caller *me, struct img *m)
{
	nr_said = 0;
	return creds_problems(me, &m->core, 4242, collect);
}

static void test_own_process(void **state)
{
	struct creds_caller me = user_caller();
	struct img m;

	(void)state;
	user_image(&m);
	assert_int_equal(problems(&me, &m), 0);
	/* Fewer capabilities, a smaller bounding set: fine. */
	m.caps.bnd = 0xff;
	assert_int_equal(problems(&me, &m), 0);
	/* A saved uid among the caller's: setresuid allows it. */
	me.uid[2] = 1001;
	m.creds.suid = 1001;
	assert_int_equal(problems(&me, &m), 0);
}

static void test_other_ids(void **state)
{
	struct creds_caller me = user_caller();
	struct img m;

	(void)state;
	user_image(&m);
	m.creds.euid = 0;
	m.creds.fsgid = 5;
	assert_int_equal(problems(&me, &m), 2);
	assert_true(said_has("its euid is 0"));
	assert_true(said_has("CAP_SETUID"));
	assert_true(said_has("its fsgid is 5"));
	/* With CAP_SETUID and CAP_SETGID any id may be given. */
	me.setuid = me.setgid = true;
	assert_int_equal(problems(&me, &m), 0);
}

static void test_groups(void **state)
{
	struct creds_caller me = user_caller();
	struct img m;

	(void)state;
	user_image(&m);
	m.groups[0] = 0;
	assert_int_equal(problems(&me, &m), 1);
	assert_true(said_has("supplementary groups"));
	m.creds.n_groups = 1;
	m.groups[0] = 1000;
	assert_int_equal(problems(&me, &m), 1);
	me.setgid = true;
	assert_int_equal(problems(&me, &m), 0);
}

static void test_caps(void **state)
{
	struct creds_caller me = user_caller();
	struct img m;

	(void)state;
	user_image(&m);
	m.caps.prm = m.caps.eff = 1ULL << 40;
	m.caps.amb = 1ULL << 40;
	assert_int_equal(problems(&me, &m), 0);
	m.caps.prm |= 1ULL << 21;	/* CAP_SYS_ADMIN */
	assert_int_equal(problems(&me, &m), 1);
	assert_true(said_has("thread 77: its permitted capabilities"));
	assert_true(said_has("capability 21"));
	m.caps.prm = 0;
	m.caps.inh = 1ULL << 12;
	assert_int_equal(problems(&me, &m), 1);
	assert_true(said_has("inheritable"));
	/* With CAP_SETPCAP, inheritable may take what the bounding set holds. */
	me.setpcap = true;
	assert_int_equal(problems(&me, &m), 0);
	me.bnd = 0xff;
	m.caps.inh = 0;
	assert_int_equal(problems(&me, &m), 1);
	assert_true(said_has("bounding"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_process),
		cmocka_unit_test(test_other_ids),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests_name("creds", tests, NULL, NULL);
}
