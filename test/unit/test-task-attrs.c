/* Unit tests for the parsers of src/task-attrs.c, on recorded samples. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "task-attrs.h"

/* The part of /proc/PID/status of a process that gave up root (6.18). */
static const char status_sample[] =
	"Name:\tattrs_caps\n"
	"Uid:\t1000\t1000\t1000\t1000\n"
	"CapInh:\t0000000000000420\n"
	"CapPrm:\t0000000000000523\n"
	"CapEff:\t0000000000000522\n"
	"CapBnd:\t000001fffebfdfff\n"
	"CapAmb:\t0000000000000400\n"
	"NoNewPrivs:\t1\n"
	"Seccomp:\t2\n"
	"Seccomp_filters:\t2\n";

static void test_status(void **state)
{
	struct attrs_status st;

	assert_int_equal(attrs_parse_status(status_sample, &st), 0);
	assert_int_equal(st.cap_inh, 0x420);
	assert_int_equal(st.cap_prm, 0x523);
	assert_int_equal(st.cap_eff, 0x522);
	assert_int_equal(st.cap_bnd, 0x1fffebfdfffULL);
	assert_int_equal(st.cap_amb, 0x400);
	assert_int_equal(st.no_new_privs, 1);
	assert_int_equal(st.seccomp, 2);
}

static void test_status_missing(void **state)
{
	struct attrs_status st;

	/* No CapBnd: not a status file crest can trust. */
	assert_int_equal(attrs_parse_status("CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\n", &st), -1);
}

static void test_cgroup_lines(void **state)
{
	CgroupEntry e;

	assert_int_equal(attrs_parse_cgroup_line("4:memory:/process_api/9ee9\n", &e), 0);
	assert_int_equal(e.id, 4);
	assert_string_equal(e.controllers, "memory");
	assert_string_equal(e.path, "/process_api/9ee9");
	free(e.controllers);
	free(e.path);
	assert_int_equal(attrs_parse_cgroup_line("0::/crest-test-attrs", &e), 0);
	assert_int_equal(e.id, 0);
	assert_string_equal(e.controllers, "");
	assert_string_equal(e.path, "/crest-test-attrs");
	free(e.controllers);
	free(e.path);
	assert_int_equal(attrs_parse_cgroup_line("9:name=systemd:/", &e), 0);
	assert_string_equal(e.controllers, "name=systemd");
	free(e.controllers);
	free(e.path);
	assert_int_equal(attrs_parse_cgroup_line("garbage", &e), -1);
}

static const char mountinfo[] =
	"22 1 0:20 / / rw - overlay overlay rw\n"
	"30 22 0:25 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
	"31 30 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	"32 30 0:27 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
	"33 30 0:28 /sub /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
	"34 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
	"35 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
	"36 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";

static char *dir_of(unsigned id, const char *ctl, const char *path)
{
	CgroupEntry e = CGROUP_ENTRY__INIT;

	e.id = id;
	e.controllers = (char *)ctl;
	e.path = (char *)path;
	return attrs_cgroup_dir(mountinfo, &e);
}

static void test_cgroup_dirs(void **state)
{
	char *d;

	d = dir_of(0, "", "/crest-test-attrs");
	assert_string_equal(d, "/sys/fs/cgroup/unified/crest-test-attrs");
	free(d);
	d = dir_of(2, "cpu", "/a");
	assert_string_equal(d, "/sys/fs/cgroup/cpu/a");
	free(d);
	/* Both controllers must be in the mount's options. */
	d = dir_of(1, "cpu,cpuacct", "/");
	assert_string_equal(d, "/sys/fs/cgroup/cpu,cpuacct/");
	free(d);
	d = dir_of(9, "name=systemd", "/user.slice");
	assert_string_equal(d, "/sys/fs/cgroup/systemd/user.slice");
	free(d);
	/* A mount of a sub-tree: only what is below its root. */
	d = dir_of(8, "pids", "/sub/job");
	assert_string_equal(d, "/sys/fs/cgroup/pids/job");
	free(d);
	assert_null(dir_of(8, "pids", "/other"));
	assert_null(dir_of(8, "pids", "/subx"));
	assert_null(dir_of(5, "devices", "/"));
}

/* One process in cpu:/old/a, freezer:/old, name=systemd:/old. */
static CoreEntry *cg_core(void)
{
	static const char *const lines[] = { "2:cpu:/old/a", "5:freezer:/old",
					     "1:name=systemd:/old" };
	CoreEntry *c = calloc(1, sizeof(*c));
	TaskAttrsEntry *ta = calloc(1, sizeof(*ta));

	core_entry__init(c);
	task_attrs_entry__init(ta);
	c->attrs = ta;
	ta->n_cgroups = 3;
	ta->cgroups = calloc(3, sizeof(*ta->cgroups));
	for (int i = 0; i < 3; i++) {
		ta->cgroups[i] = calloc(1, sizeof(CgroupEntry));
		cgroup_entry__init(ta->cgroups[i]);
		assert_int_equal(attrs_parse_cgroup_line(lines[i], ta->cgroups[i]), 0);
	}
	return c;
}

static void test_cgroup_root(void **state)
{
	/* As runc sends them: per controller, and one without (CRIU's rule). */
	const struct cg_root r[] = { { "", "/new" }, { "cpu", "/cpu-new" } };
	pid_t pid = 7;
	CoreEntry *c = cg_core();

	assert_int_equal(attrs_cgroup_root(&c, &pid, 1, r, 2), 0);
	/* Named: its own root only, moved once. */
	assert_string_equal(c->attrs->cgroups[0]->path, "/cpu-new");
	/* Named by no entry: the one without a controller. */
	assert_string_equal(c->attrs->cgroups[1]->path, "/new");
	assert_string_equal(c->attrs->cgroups[2]->path, "/new");
	core_entry__free_unpacked(c, NULL);

	c = cg_core();
	assert_int_equal(attrs_cgroup_root(&c, &pid, 1, r + 1, 1), 0);
	assert_string_equal(c->attrs->cgroups[0]->path, "/cpu-new");
	assert_string_equal(c->attrs->cgroups[1]->path, "/old");
	core_entry__free_unpacked(c, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_missing),
		cmocka_unit_test(test_cgroup_lines),
		cmocka_unit_test(test_cgroup_dirs),
		cmocka_unit_test(test_cgroup_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
