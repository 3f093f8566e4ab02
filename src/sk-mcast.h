/*
 * sk-mcast.c: the multicast memberships of an inet datagram or raw
 * socket (IPv4 and IPv6 groups, with their source filters).
 */
#ifndef CREST_SK_MCAST_H
#define CREST_SK_MCAST_H

#include <sys/types.h>

#include "sk-inet.pb-c.h"

/*
 * Every membership of cfd (a copy of the socket e, of process pid's
 * network namespace) into e->mcast: NULL, or what stops it being saved
 * (what: the socket, in words).
 */
char *mcast_dump(InetSkEntry *e, pid_t pid, int cfd, const char *what);
/* Memberships an image may hold: 0, or -1 (not reported). */
int mcast_check(const InetSkEntry *e);
/* Joined again on fd, not bound yet; the interfaces checked first. */
int mcast_restore(int fd, const InetSkEntry *e, const char *what);

#endif
