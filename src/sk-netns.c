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
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sk-netns.h"

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

int sk_socket_at(int sk, int domain, int type, int protocol)
{
	struct stat own_st, ns_st;
	int ns, own, fd, err;

	ns = sk < 0 ? -1 : ioctl(sk, SIOCGSKNS);
	if (ns < 0 || fstat(ns, &ns_st) || stat(OWN_NETNS, &own_st) ||
	    ns_st.st_ino == own_st.st_ino) {
		/* crest's own (or a kernel that can't tell): made here. */
		if (ns >= 0)
			close(ns);
		return socket(domain, type, protocol);
	}
	own = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
	if (own < 0 || setns(ns, CLONE_NEWNET)) {
		pr_perror("can't enter network namespace net:[%llu] to make a socket there",
			  (unsigned long long)ns_st.st_ino);
		if (own >= 0)
			close(own);
		close(ns);
		return -1;
	}
	close(ns);
	fd = socket(domain, type, protocol);
	err = errno;
	if (setns(own, CLONE_NEWNET)) {
		pr_perror("can't go back to crest's own network namespace");
		if (fd >= 0)
			close(fd);
		close(own);
		return -1;
	}
	close(own);
	errno = err;
	return fd;
}
