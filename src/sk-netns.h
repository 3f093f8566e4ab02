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
/* The inode of socket sk's network namespace; 0: can't be told. */
uint64_t sk_netns_ino(int sk);
/*
 * Is socket sk in the network namespace of process pid? True as well on
 * a kernel without SIOCGSKNS, which can't tell.
 */
bool sk_netns_is_pid(int sk, pid_t pid);

#endif
