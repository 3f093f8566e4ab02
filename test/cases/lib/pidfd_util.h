/*
 * For the pidfd cases (pidfd, pidfd_thread): what a pidfd's fdinfo says,
 * and whether it polls readable (its task exited).
 */
#include "caselib.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Pid: and (flags non-NULL) the flags: of fd in /proc/PROC/fdinfo. */
static inline int fdinfo_of(const char *proc, int fd, int *flags)
{
	char path[96], buf[4096], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%d", proc, fd);
	f = fopen(path, "r");
	if (!f)
		case_fail("open %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (flags) {
		p = strstr(buf, "flags:");
		*flags = p ? (int)strtol(p + 6, NULL, 8) : -1;
	}
	p = strstr(buf, "\nPid:");
	if (!p)
		case_fail("%s has no Pid: line", path);
	return atoi(p + 5);
}

/* The "Pid:" fdinfo shows for fd. */
static inline int fdinfo_pid(int fd)
{
	return fdinfo_of("self", fd, NULL);
}

/* Does fd poll readable within ms? */
static inline int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	if (n < 0)
		case_fail("poll: %s", strerror(errno));
	return n == 1 && (p.revents & POLLIN);
}
