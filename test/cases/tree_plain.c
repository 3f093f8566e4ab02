/*
 * A root, two children and a grandchild that know none of each other's
 * PIDs: every member keeps counting and checks its own memory when the
 * "go" byte reaches it; the root reaps its children with wait(). So the
 * case also passes restored with new PIDs (--no-restore-pid), and its
 * children keep running if the root alone is dumped and killed (--pid):
 * every member holds both ends of the go pipe, so none sees EOF.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NWORDS (256 * 1024)	/* 2 MiB of pattern per member */

static uint64_t *pattern;
static volatile unsigned long counter;
static int up[2];	/* each member says it is there, then closes it */

static void fill(uint64_t seed)
{
	pattern = malloc(NWORDS * sizeof(*pattern));
	if (!pattern)
		_exit(30);
	for (size_t i = 0; i < NWORDS; i++)
		pattern[i] = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;
}

static int pattern_ok(uint64_t seed)
{
	for (size_t i = 0; i < NWORDS; i++)
		if (pattern[i] != ((i + 1) * 0x9e3779b97f4a7c15ULL ^ seed))
			return 0;
	return 1;
}

/* Count until a go byte comes on fd (non-blocking, shared by all). */
static void count_until_go(int fd, int root)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	for (;;) {
		counter++;
		if (root && !case_go) {
			usleep(2000);
			continue;
		}
		if (root)
			return;
		if (poll(&pfd, 1, 2) == 1 && read(fd, &c, 1) == 1)
			return;
	}
}

/* A child: seed, maybe a child of its own, then wait for go. */
static pid_t member(int fd, uint64_t seed, int with_child)
{
	pid_t pid = fork();
	int st, bad = 0;

	if (pid)
		return pid;
	free(pattern);
	fill(seed);
	if (with_child && member(fd, seed + 100, 0) < 0)
		_exit(31);
	if (write(up[1], "u", 1) != 1)
		_exit(34);
	close(up[0]);
	close(up[1]);
	count_until_go(fd, 0);
	if (!pattern_ok(seed)) {
		fprintf(stderr, "FAIL: member %d: memory changed\n", getpid());
		_exit(32);
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	if (bad) {
		fprintf(stderr, "FAIL: member %d: a child failed\n", getpid());
		_exit(33);
	}
	_exit(0);
}

int main(void)
{
	int p[2], st, n = 0;
	char buf[3];
	size_t got = 0;
	pid_t pid;

	case_init();
	if (pipe2(p, O_NONBLOCK) || pipe(up))
		case_fail("pipe: %s", strerror(errno));
	fill(1);
	if (member(p[0], 2, 1) < 0 || member(p[0], 3, 0) < 0)
		case_fail("fork: %s", strerror(errno));
	/* Ready once the two children and the grandchild exist. */
	close(up[1]);
	while (got < sizeof(buf)) {
		ssize_t r = read(up[0], buf + got, sizeof(buf) - got);

		if (r <= 0)
			case_fail("a member did not start (%zd: %s)", r,
				  r ? strerror(errno) : "EOF");
		got += r;
	}
	close(up[0]);
	case_ready();
	count_until_go(p[0], 1);
	/* One go byte for each of the three other members. */
	if (write(p[1], "ggg", 3) != 3)
		case_fail("write: %s", strerror(errno));
	if (!pattern_ok(1))
		case_fail("root: memory changed");
	while ((pid = wait(&st)) > 0) {
		n++;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			case_fail("child %d: status %#x", pid, st);
	}
	if (n != 2)
		case_fail("reaped %d children, want 2", n);
	if (counter < 2)
		case_fail("root counter %lu did not advance", counter);
	case_pass();
}
