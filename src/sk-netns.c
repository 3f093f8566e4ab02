/*
 * Sockets made in the network namespace of another socket (sk-netns.h).
 *
 * SIOCGSKNS gives an fd of a socket's network namespace (CAP_NET_ADMIN
 * over it: crest is root of the namespace that owns every user namespace
 * of the tree). The thread setns()es into it, makes the socket and goes
 * back: a socket stays in the namespace it was made in, and setns() of
 * a network namespace is the calling thread's alone, whatever other
 * threads crest runs. Going back failing would leave crest making
 * everything in the tree's namespace: that thread's caller gets -1.
 * A failed socket() is the caller's to report (errno is socket()'s: a
 * ping socket's EACCES is a refusal, not an error).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sk-netns.h"
#include "util.h"

#ifndef SIOCGSKNS
#define SIOCGSKNS	0x894C
#endif

#define OWN_NETNS	"/proc/thread-self/ns/net"

uint64_t sk_netns_ino(int sk)
{
	struct stat st;
	int ns = ioctl(sk, SIOCGSKNS);
	uint64_t ino = 0;

	if (ns < 0)
		return 0;
	if (!fstat(ns, &st))
		ino = st.st_ino;
	close(ns);
	return ino;
}

bool sk_netns_is_pid(int sk, pid_t pid)
{
	char path[64];
	struct stat st;
	uint64_t ino = sk_netns_ino(sk);

	if (!ino)
		return true;	/* a kernel without SIOCGSKNS: can't tell */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return !stat(path, &st) && st.st_ino == ino;
}

/*
 * The calling thread into network namespace ns (inode ino) for a while:
 * *own is where it was (-1: it was there already); -1 reported.
 */
static int enter_ino(int ns, uint64_t ino, int *own)
{
	struct stat st;

	*own = -1;
	if (ns < 0 || (!stat(OWN_NETNS, &st) && st.st_ino == ino))
		return 0;
	*own = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
	if (*own < 0 || setns(ns, CLONE_NEWNET)) {
		pr_perror("can't enter network namespace net:[%llu] to make a socket there",
			  (unsigned long long)ino);
		if (*own >= 0)
			close(*own);
		*own = -1;
		return -1;
	}
	return 0;
}

int sk_netns_leave(int own)
{
	int err = errno;

	if (own < 0)
		return 0;
	if (setns(own, CLONE_NEWNET)) {
		pr_perror("can't go back to the network namespace crest was in");
		close(own);
		return -1;
	}
	close(own);
	errno = err;
	return 0;
}

static uint64_t fd_ino(int fd)
{
	struct stat st;

	return fd >= 0 && !fstat(fd, &st) ? st.st_ino : 0;
}

int sk_netns_enter(int ns, int *own)
{
	return enter_ino(ns, fd_ino(ns), own);
}

int sk_socket_in(int ns, int domain, int type, int protocol)
{
	int own, fd;

	if (sk_netns_enter(ns, &own))
		return -1;
	fd = socket(domain, type, protocol);
	if (sk_netns_leave(own)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int sk_socketpair_in(int ns, int domain, int type, int protocol, int sv[2])
{
	int own, r;

	if (sk_netns_enter(ns, &own))
		return -1;
	r = socketpair(domain, type, protocol, sv);
	if (sk_netns_leave(own)) {
		if (!r) {
			close(sv[0]);
			close(sv[1]);
		}
		return -1;
	}
	return r;
}

int sk_socket_at(int sk, int domain, int type, int protocol)
{
	int ns = sk < 0 ? -1 : ioctl(sk, SIOCGSKNS), fd;

	/* A kernel that can't tell: made in crest's. */
	fd = sk_socket_in(ns, domain, type, protocol);
	if (ns >= 0) {
		int err = errno;

		close(ns);
		errno = err;
	}
	return fd;
}

/* Each network namespace at most once: seen[] the inodes so far. */
static int each_at(const char *path, uint64_t **seen, int *nr,
		   int (*fn)(int ns, uint64_t ino, void *arg), void *arg)
{
	struct stat st;
	int ns, r;

	if (stat(path, &st) || !st.st_ino)
		return 0;	/* gone, or not a namespace */
	for (int i = 0; i < *nr; i++)
		if ((*seen)[i] == st.st_ino)
			return 0;
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return 0;
	if (fd_ino(ns) != st.st_ino) {	/* not the one stat() saw: it went */
		close(ns);
		return 0;
	}
	*seen = xrealloc(*seen, (*nr + 1) * sizeof(**seen));
	(*seen)[(*nr)++] = st.st_ino;
	r = fn(ns, st.st_ino, arg);
	close(ns);
	return r;
}

int sk_netns_each(int (*fn)(int ns, uint64_t ino, void *arg), void *arg)
{
	static const char *const named[] = { "/run/netns", "/var/run/netns" };
	uint64_t *seen = NULL;
	int nr = 0, r = 0;
	struct dirent *p;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir) {
		pr_perror("can't list /proc");
		return -1;
	}
	while (!r && (p = readdir(dir))) {
		char path[300];

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", p->d_name);
		r = each_at(path, &seen, &nr, fn, arg);
	}
	closedir(dir);
	/* ip netns add: a namespace kept by a bind mount, perhaps with no process. */
	for (size_t k = 0; !r && k < sizeof(named) / sizeof(named[0]); k++) {
		dir = opendir(named[k]);
		while (!r && dir && (p = readdir(dir))) {
			char path[600];

			if (p->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", named[k], p->d_name);
			r = each_at(path, &seen, &nr, fn, arg);
		}
		if (dir)
			closedir(dir);
	}
	free(seen);
	return r;
}
