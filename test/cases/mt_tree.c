/*
 * A tree of multi-threaded processes: the root runs 3 counting threads and
 * forks 2 children, each running 4 counting threads. After go the root tells
 * each child (pipe) to verify; a child checks that all its threads still
 * count, stops and joins them and reports the totals back over a pipe, then
 * exits 0. The root checks the reports, the children's exit status and its
 * own threads.
 */
#include "mt_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#define ROOT_NT		3
#define CHILD_NT	4
#define NCHILD		2
#define MAXT		4

static volatile uint64_t own[MAXT];
static volatile int quit;
static pthread_t th[MAXT];

struct report {
	int magic, id, nthreads, ok;
	uint64_t counts[MAXT];
	char msg[128];
};

#define MAGIC	0x6d747472

static void *counter(void *arg)
{
	long id = (long)arg;

	while (!quit) {
		own[id]++;
		if (own[id] % 1024 == 0)
			sched_yield();
	}
	return (void *)(id * 1000 + 7);
}

static void start_threads(int n)
{
	int err;

	mt_block_go(1);
	for (long i = 0; i < n; i++)
		if ((err = pthread_create(&th[i], NULL, counter, (void *)i)))
			case_fail("pthread_create: %s", strerror(err));
	mt_block_go(0);
	for (int i = 0; i < n; i++)
		while (own[i] < 1000)
			usleep(1000);
}

/* Check N counters still advance, stop and join the threads. Returns an
 * error message or NULL. */
static const char *verify_threads(int n, char *buf, size_t len)
{
	uint64_t before[MAXT];

	for (int i = 0; i < n; i++)
		before[i] = own[i];
	/* Each must move; on a busy machine give them up to 30 s. */
	for (int i = 0, k = 0; i < n && k < 30000; k++) {
		if (own[i] != before[i])
			i++;
		else
			usleep(1000);
	}
	for (int i = 0; i < n; i++)
		if (own[i] == before[i]) {
			snprintf(buf, len, "thread %d stopped counting at %llu", i,
				 (unsigned long long)before[i]);
			return buf;
		}
	quit = 1;
	for (long i = 0; i < n; i++) {
		void *ret;
		int err = pthread_join(th[i], &ret);

		if (err) {
			snprintf(buf, len, "pthread_join %ld: %s", i, strerror(err));
			return buf;
		}
		if ((long)ret != i * 1000 + 7) {
			snprintf(buf, len, "thread %ld returned %ld", i, (long)ret);
			return buf;
		}
	}
	return NULL;
}

static void child_main(int id, int go_fd, int rep_fd)
{
	struct report r;
	const char *err;
	char c = 'r';

	memset(&r, 0, sizeof(r));
	start_threads(CHILD_NT);
	if (write(rep_fd, &c, 1) != 1)
		_exit(10);
	/* Wait for the root's go. */
	if (read(go_fd, &c, 1) != 1 || c != 'g')
		_exit(11);
	r.magic = MAGIC;
	r.id = id;
	r.nthreads = CHILD_NT;
	err = verify_threads(CHILD_NT, r.msg, sizeof(r.msg));
	r.ok = !err;
	for (int i = 0; i < CHILD_NT; i++)
		r.counts[i] = own[i];
	if (write(rep_fd, &r, sizeof(r)) != sizeof(r))
		_exit(12);
	_exit(r.ok ? 0 : 13);
}

int main(void)
{
	int go[NCHILD][2], rep[NCHILD][2];
	pid_t kids[NCHILD];
	char buf[128];
	const char *err;

	case_init();
	start_threads(ROOT_NT);
	for (int i = 0; i < NCHILD; i++) {
		if (pipe(go[i]) || pipe(rep[i]))
			case_fail("pipe: %s", strerror(errno));
		kids[i] = fork();
		if (kids[i] < 0)
			case_fail("fork: %s", strerror(errno));
		if (kids[i] == 0) {
			/* Only the forking thread exists here; restart the counters. */
			quit = 0;
			for (int k = 0; k < MAXT; k++)
				own[k] = 0;
			close(go[i][1]);
			close(rep[i][0]);
			child_main(i, go[i][0], rep[i][1]);
		}
		close(go[i][0]);
		close(rep[i][1]);
	}
	for (int i = 0; i < NCHILD; i++) {
		char c;

		if (read(rep[i][0], &c, 1) != 1 || c != 'r')
			case_fail("child %d (pid %d) did not get ready", i, (int)kids[i]);
	}
	case_ready();
	case_wait_go();

	for (int i = 0; i < NCHILD; i++)
		if (write(go[i][1], "g", 1) != 1)
			case_fail("child %d: go pipe: %s", i, strerror(errno));
	err = verify_threads(ROOT_NT, buf, sizeof(buf));
	if (err)
		case_fail("root: %s", err);
	for (int i = 0; i < NCHILD; i++) {
		struct report r;
		ssize_t n = read(rep[i][0], &r, sizeof(r));
		int status;

		if (n != sizeof(r))
			case_fail("child %d (pid %d): report read returned %zd", i,
				  (int)kids[i], n);
		if (r.magic != MAGIC || r.id != i || r.nthreads != CHILD_NT)
			case_fail("child %d: garbled report", i);
		if (!r.ok)
			case_fail("child %d (pid %d): %s", i, (int)kids[i], r.msg);
		for (int k = 0; k < CHILD_NT; k++)
			if (r.counts[k] < 1000)
				case_fail("child %d thread %d counted only %llu", i, k,
					  (unsigned long long)r.counts[k]);
		if (waitpid(kids[i], &status, 0) != kids[i])
			case_fail("waitpid child %d: %s", i, strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			case_fail("child %d (pid %d): status %#x", i, (int)kids[i], status);
	}
	case_pass();
}
