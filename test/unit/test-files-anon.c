/*
 * Unit tests for anon_add() (src/files-anon.c): the fdinfo of eventfds,
 * signalfds, timerfds and epolls parsed into AnonFileEntry, from samples
 * and from real fds of this process; shared descriptions found once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "files.h"
#include "files-anon.h"
#include "log.h"

#define EVENTFD_LINK	"anon_inode:[eventfd]"
#define SIGNALFD_LINK	"anon_inode:[signalfd]"
#define TIMERFD_LINK	"anon_inode:[timerfd]"
#define EPOLL_LINK	"anon_inode:[eventpoll]"

/* What the kernel puts before the kind's own lines. */
#define HEAD(flags)	"pos:\t0\nflags:\t" flags "\nmnt_id:\t15\nino:\t1038\n"

static int setup(void **state)
{
	struct dump_files *df = calloc(1, sizeof(*df));

	if (!df)
		return -1;
	*state = df;
	return 0;
}

static int teardown(void **state)
{
	struct dump_files *df = *state;

	for (int i = 0; i < df->nr_anons; i++)
		anon_file_entry__free_unpacked(df->anons[i], NULL);
	free(df->anons);
	free(df->anons_own);
	free(df);
	return 0;
}

/* anon_add() that must succeed with a new entry; returns it. */
static AnonFileEntry *add_new(struct dump_files *df, int fd, const char *link,
			      const char *info)
{
	int before = df->nr_anons;
	uint32_t id = 0;

	assert_int_equal(anon_add(df, getpid(), fd, link, info, &id), 1);
	assert_int_equal(df->nr_anons, before + 1);
	assert_int_equal(id, df->anons[before]->id);
	assert_int_equal(df->anons_own[before].pid, getpid());
	assert_int_equal(df->anons_own[before].fd, fd);
	return df->anons[before];
}

static char *fdinfo_of(int fd)
{
	char path[64], *buf = calloc(1, 8192);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, 8191, f);
	assert_true(n > 0);
	fclose(f);
	return buf;
}

/* ---- samples ---- */

static void test_eventfd_sample(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0, EFD_CLOEXEC);
	AnonFileEntry *a;

	assert_true(fd >= 0);
	a = add_new(df, fd, EVENTFD_LINK,
		    "eventfd-count:                5\neventfd-id: 1\neventfd-semaphore: 0\n");
	assert_int_equal(a->kind, ANON_KIND__ANON_EVENTFD);
	assert_int_equal(a->id, 1);
	assert_int_equal(a->flags, 0);
	assert_true(a->has_count);
	assert_int_equal(a->count, 5);
	assert_true(a->has_semaphore);
	assert_false(a->semaphore);
	assert_false(a->has_sigmask);
	assert_false(a->has_clockid);
	assert_int_equal(a->n_targets, 0);
	close(fd);
}

static void test_eventfd_hex_semaphore_flags(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0, EFD_CLOEXEC);
	AnonFileEntry *a;

	assert_true(fd >= 0);
	/* The count is hex; O_CLOEXEC is the fd's, not the description's. */
	a = add_new(df, fd, EVENTFD_LINK,
		    HEAD("02004002") "eventfd-count:             1f\n"
		    "eventfd-id: 7\neventfd-semaphore: 1\n");
	assert_int_equal(a->count, 0x1f);
	assert_true(a->semaphore);
	assert_int_equal(a->flags, O_RDWR | O_NONBLOCK);
	assert_int_equal(a->flags & O_CLOEXEC, 0);

	/* A kernel without the semaphore line: not a semaphore. */
	close(fd);
	teardown(state);
	assert_int_equal(setup(state), 0);
	df = *state;
	fd = eventfd(0, EFD_CLOEXEC);
	assert_true(fd >= 0);
	a = add_new(df, fd, EVENTFD_LINK, HEAD("02") "eventfd-count: fffffffffffffffe\n");
	assert_int_equal(a->count, 0xfffffffffffffffeULL);
	assert_true(a->has_semaphore);
	assert_false(a->semaphore);
	assert_int_equal(a->flags, O_RDWR);
	close(fd);
}

static void test_signalfd_sample(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0, EFD_CLOEXEC);	/* any fd: only kcmp'd */
	AnonFileEntry *a;

	assert_true(fd >= 0);
	a = add_new(df, fd, SIGNALFD_LINK, "sigmask:\t0000000000000200");
	assert_int_equal(a->kind, ANON_KIND__ANON_SIGNALFD);
	assert_true(a->has_sigmask);
	assert_int_equal(a->sigmask, 0x200);	/* SIGUSR1 */
	assert_false(a->has_count);
	close(fd);
}

static void test_timerfd_sample(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0, EFD_CLOEXEC);
	AnonFileEntry *a;

	assert_true(fd >= 0);
	a = add_new(df, fd, TIMERFD_LINK,
		    "clockid: 1\nticks: 0\nsettime flags: 00\n"
		    "it_value: (99, 997144846)\nit_interval: (1, 5)\n");
	assert_int_equal(a->kind, ANON_KIND__ANON_TIMERFD);
	assert_true(a->has_clockid);
	assert_int_equal(a->clockid, CLOCK_MONOTONIC);
	assert_true(a->has_ticks);
	assert_int_equal(a->ticks, 0);
	assert_true(a->has_settime_flags);
	assert_int_equal(a->settime_flags, 0);
	assert_true(a->has_value_sec && a->has_value_nsec);
	assert_int_equal(a->value_sec, 99);
	assert_int_equal(a->value_nsec, 997144846);
	assert_true(a->has_interval_sec && a->has_interval_nsec);
	assert_int_equal(a->interval_sec, 1);
	assert_int_equal(a->interval_nsec, 5);
	close(fd);
}

static void test_timerfd_sample_full(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0, EFD_CLOEXEC);
	AnonFileEntry *a;

	assert_true(fd >= 0);
	/* The description's flags are not settime's flags. */
	a = add_new(df, fd, TIMERFD_LINK,
		    HEAD("02004000") "clockid: 0\nticks: 12\nsettime flags: 03\n"
		    "it_value: (0, 0)\nit_interval: (0, 0)\n");
	assert_int_equal(a->clockid, CLOCK_REALTIME);
	assert_int_equal(a->ticks, 12);
	assert_int_equal(a->settime_flags, 3);
	assert_int_equal(a->flags, O_NONBLOCK);
	assert_int_equal(a->value_sec, 0);
	assert_int_equal(a->value_nsec, 0);
	assert_int_equal(a->interval_sec, 0);
	close(fd);
}

static void test_epoll_sample(void **state)
{
	struct dump_files *df = *state;
	int fd = epoll_create1(EPOLL_CLOEXEC);
	AnonFileEntry *a;

	assert_true(fd >= 0);
	a = add_new(df, fd, EPOLL_LINK,
		    "tfd:        3 events:       19 data:                3  pos:0 ino:40e sdev:10\n");
	assert_int_equal(a->kind, ANON_KIND__ANON_EPOLL);
	assert_int_equal(a->n_targets, 1);
	assert_int_equal(a->targets[0]->fd, 3);
	assert_int_equal(a->targets[0]->events, 0x19);
	assert_int_equal(a->targets[0]->data, 3);
	close(fd);
}

static void test_epoll_sample_many(void **state)
{
	struct dump_files *df = *state;
	int fd = epoll_create1(EPOLL_CLOEXEC);
	AnonFileEntry *a;

	assert_true(fd >= 0);
	a = add_new(df, fd, EPOLL_LINK, HEAD("02")
		    "tfd:        3 events:       19 data:                3  pos:0 ino:40e sdev:10\n"
		    "tfd:       12 events: 80000001 data: ffffffffffffffff  pos:0 ino:1 sdev:e\n"
		    "tfd:     1000 events:        4 data:       7f00deadbeef  pos:5 ino:2 sdev:f\n");
	assert_int_equal(a->flags, O_RDWR);
	assert_int_equal(a->n_targets, 3);
	assert_int_equal(a->targets[0]->fd, 3);
	assert_int_equal(a->targets[1]->fd, 12);
	assert_int_equal(a->targets[1]->events, EPOLLET | EPOLLIN);
	assert_int_equal(a->targets[1]->data, 0xffffffffffffffffULL);
	assert_int_equal(a->targets[2]->fd, 1000);
	assert_int_equal(a->targets[2]->events, EPOLLOUT);
	assert_int_equal(a->targets[2]->data, 0x7f00deadbeefULL);

	/* An epoll watching nothing (another one: not the same fd number). */
	{
		int fd2 = epoll_create1(EPOLL_CLOEXEC);

		assert_true(fd2 >= 0);
		a = add_new(df, fd2, EPOLL_LINK, HEAD("02"));
		assert_int_equal(a->id, 2);
		assert_int_equal(a->n_targets, 0);
		close(fd2);
	}
	close(fd);
}

static void test_not_anon(void **state)
{
	struct dump_files *df = *state;
	static const char *links[] = {
		"anon_inode:[perf_event]", "anon_inode:inotify", "anon_inode:[io_uring]",
		"pipe:[1234]", "/dev/null", "anon_inode:[eventfd", "anon_inode:[eventfd]x",
		"",
	};
	uint32_t id = 77;

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		assert_int_equal(anon_add(df, getpid(), 0, links[i],
					  "eventfd-count: 5\n", &id), 0);
		assert_int_equal(df->nr_anons, 0);
		assert_int_equal(id, 77);
	}
}

static void test_malformed(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0, EFD_CLOEXEC);
	uint32_t id = 77;
	static const struct { const char *link, *info; } bad[] = {
		{ EVENTFD_LINK, HEAD("02") "eventfd-id: 1\n" },
		{ SIGNALFD_LINK, HEAD("02") },
		{ TIMERFD_LINK, HEAD("02") "ticks: 0\nit_value: (1, 2)\nit_interval: (1, 2)\n" },
		{ TIMERFD_LINK, "clockid: 1\nit_interval: (1, 2)\n" },
		{ TIMERFD_LINK, "clockid: 1\nit_value: (1, 2)\n" },
		{ TIMERFD_LINK, "clockid: 1\nit_value: 1, 2\nit_interval: (1, 2)\n" },
		{ TIMERFD_LINK, "clockid: 1\nit_value: (1, 2)\nit_interval: (x)\n" },
		{ EPOLL_LINK, "tfd: x events: 1 data: 1\n" },
		{ EPOLL_LINK, "tfd: 3 events: 19 data: 3\ntfd: 4 events:\n" },
	};

	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (anon_add(df, getpid(), fd, bad[i].link, bad[i].info, &id) != -1)
			fail_msg("accepted %s with '%s'", bad[i].link, bad[i].info);
		assert_int_equal(df->nr_anons, 0);
	}
	close(fd);
}

/* ---- real fds: shared descriptions ---- */

static void test_shared_description(void **state)
{
	struct dump_files *df = *state;
	int a = eventfd(1, EFD_CLOEXEC), b = eventfd(2, EFD_CLOEXEC), a2 = dup(a);
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), t2 = dup(t);
	uint32_t id_a, id_b, id;
	char *info;

	assert_true(a >= 0 && b >= 0 && a2 >= 0 && t >= 0 && t2 >= 0);
	info = fdinfo_of(a);
	id_a = add_new(df, a, EVENTFD_LINK, info)->id;
	free(info);
	info = fdinfo_of(b);
	id_b = add_new(df, b, EVENTFD_LINK, info)->id;
	free(info);
	assert_int_not_equal(id_a, id_b);

	/* A dup is the same description: the same id, no new entry. */
	info = fdinfo_of(a2);
	assert_int_equal(anon_add(df, getpid(), a2, EVENTFD_LINK, info, &id), 1);
	free(info);
	assert_int_equal(id, id_a);
	assert_int_equal(df->nr_anons, 2);

	/* Ids go on across kinds; a dup'd timerfd found again. */
	info = fdinfo_of(t);
	id = add_new(df, t, TIMERFD_LINK, info)->id;
	free(info);
	assert_int_equal(id, 3);
	info = fdinfo_of(t2);
	assert_int_equal(anon_add(df, getpid(), t2, TIMERFD_LINK, info, &id), 1);
	free(info);
	assert_int_equal(id, 3);
	assert_int_equal(df->nr_anons, 3);

	/* The same fd under another kind's link is not that object. */
	info = fdinfo_of(a2);
	assert_int_equal(anon_add(df, getpid(), a2, EPOLL_LINK, "", &id), 1);
	free(info);
	assert_int_equal(id, 4);
	assert_int_equal(df->nr_anons, 4);

	close(a);
	close(b);
	close(a2);
	close(t);
	close(t2);
}

static void test_real_eventfd(void **state)
{
	struct dump_files *df = *state;
	int fd = eventfd(0x1234, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	char *info;
	AnonFileEntry *a;

	assert_true(fd >= 0);
	info = fdinfo_of(fd);
	a = add_new(df, fd, EVENTFD_LINK, info);
	assert_int_equal(a->count, 0x1234);
	assert_int_equal(a->flags, O_RDWR | O_NONBLOCK);
	if (strstr(info, "eventfd-semaphore:"))
		assert_true(a->semaphore);
	free(info);
	close(fd);
}

static void test_real_signalfd(void **state)
{
	struct dump_files *df = *state;
	sigset_t set;
	int fd;
	char *info;
	AnonFileEntry *a;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 1);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	assert_true(fd >= 0);
	info = fdinfo_of(fd);
	a = add_new(df, fd, SIGNALFD_LINK, info);
	free(info);
	assert_int_equal(a->kind, ANON_KIND__ANON_SIGNALFD);
	assert_int_equal(a->sigmask, (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGUSR2 - 1)) |
				     (1ULL << (SIGRTMIN + 1 - 1)));
	assert_int_equal(a->flags, O_RDWR);
	close(fd);
}

static void test_real_timerfd(void **state)
{
	struct dump_files *df = *state;
	struct itimerspec its = { .it_value = { 1000, 0 }, .it_interval = { 3, 500 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	char *info;
	AnonFileEntry *a;

	assert_true(fd >= 0);
	assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
	info = fdinfo_of(fd);
	a = add_new(df, fd, TIMERFD_LINK, info);
	free(info);
	assert_int_equal(a->clockid, CLOCK_MONOTONIC);
	assert_int_equal(a->flags, O_RDWR | O_NONBLOCK);
	assert_int_equal(a->ticks, 0);
	assert_int_equal(a->settime_flags, 0);
	/* Time left: a little under 1000 s. */
	assert_true(a->value_sec >= 990 && a->value_sec <= 999);
	assert_true(a->value_nsec < 1000000000ULL);
	assert_int_equal(a->interval_sec, 3);
	assert_int_equal(a->interval_nsec, 500);
	close(fd);
}

static void test_real_epoll(void **state)
{
	struct dump_files *df = *state;
	int ep = epoll_create1(EPOLL_CLOEXEC), e1 = eventfd(0, EFD_CLOEXEC);
	int e2 = eventfd(0, EFD_CLOEXEC);
	struct epoll_event ev1 = { .events = EPOLLIN | EPOLLET, .data.u64 = 0xfeedfacecafeULL };
	struct epoll_event ev2 = { .events = EPOLLOUT, .data.fd = e2 };
	char *info;
	AnonFileEntry *a;
	int seen = 0;

	assert_true(ep >= 0 && e1 >= 0 && e2 >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, e1, &ev1), 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, e2, &ev2), 0);
	info = fdinfo_of(ep);
	a = add_new(df, ep, EPOLL_LINK, info);
	free(info);
	assert_int_equal(a->kind, ANON_KIND__ANON_EPOLL);
	assert_int_equal(a->flags, O_RDWR);
	assert_int_equal(a->n_targets, 2);
	for (size_t i = 0; i < a->n_targets; i++) {
		const EpollTarget *t = a->targets[i];

		if ((int)t->fd == e1) {
			/* The kernel adds EPOLLERR | EPOLLHUP. */
			assert_int_equal(t->events & ~(EPOLLERR | EPOLLHUP), EPOLLIN | EPOLLET);
			assert_int_equal(t->data, 0xfeedfacecafeULL);
			seen |= 1;
		} else if ((int)t->fd == e2) {
			assert_int_equal(t->events & ~(EPOLLERR | EPOLLHUP), EPOLLOUT);
			assert_int_equal(t->data, (uint64_t)e2);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	close(ep);
	close(e1);
	close(e2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_eventfd_sample),
		T(test_eventfd_hex_semaphore_flags),
		T(test_signalfd_sample),
		T(test_timerfd_sample),
		T(test_timerfd_sample_full),
		T(test_epoll_sample),
		T(test_epoll_sample_many),
		T(test_not_anon),
		T(test_malformed),
		T(test_shared_description),
		T(test_real_eventfd),
		T(test_real_signalfd),
		T(test_real_timerfd),
		T(test_real_epoll),
	};

	log_init(NULL, -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
