/*
 * Sockets made in the network namespace of another socket. sock_diag
 * answers about the sockets of the namespace its own netlink socket was
 * made in, and a socket made to compare another with (sk_opts_dump())
 * takes the defaults of the namespace it is made in: crest makes them
 * next to the socket it looks at, whatever namespace crest is in.
 */
#ifndef CREST_SK_NETNS_H
#define CREST_SK_NETNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * socket(domain, type, protocol) made in the network namespace of socket
 * sk (SIOCGSKNS), or in crest's own if sk < 0; -1 on error: a failed
 * socket() with its errno, not logged; a namespace crest can't enter or
 * leave, logged.
 */
int sk_socket_at(int sk, int domain, int type, int protocol);
/*
 * socket() and socketpair() made in network namespace ns (an fd of it;
 * -1: the calling thread's), the thread back where it was; -1 as
 * sk_socket_at().
 */
int sk_socket_in(int ns, int domain, int type, int protocol);
int sk_socketpair_in(int ns, int domain, int type, int protocol, int sv[2]);
/*
 * The calling thread into network namespace ns (-1: stays) until
 * sk_netns_leave(*own), which keeps errno: for what must be done between
 * (taking other ids: a thread that is not root can't setns()). -1
 * reported, the thread where it was.
 */
int sk_netns_enter(int ns, int *own);
int sk_netns_leave(int own);
/*
 * fn(ns, its inode, arg) for every network namespace crest can reach:
 * those of the machine's processes (their main threads) and those kept
 * under /run/netns, each once, until fn returns non-zero: that (0: all
 * done); -1 reported if /proc can't be listed.
 */
int sk_netns_each(int (*fn)(int ns, uint64_t ino, void *arg), void *arg);
/* The inode of socket sk's network namespace; 0: can't be told. */
uint64_t sk_netns_ino(int sk);
/*
 * Is socket sk in the network namespace of process pid? True as well on
 * a kernel without SIOCGSKNS, which can't tell.
 */
bool sk_netns_is_pid(int sk, pid_t pid);

#endif
