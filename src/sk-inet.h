#ifndef CREST_SK_INET_H
#define CREST_SK_INET_H

#include <stdint.h>
#include <sys/socket.h>

#include "sk-inet.pb-c.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE	136
#endif

/* sk-inet.c: an address as the image keeps it, and back. */
int inet_sa_split(const struct sockaddr_storage *ss, char **addr, uint32_t *port,
		  uint32_t *scope);
socklen_t inet_sa_make(unsigned int family, const char *addr, uint32_t port,
		       uint32_t scope, struct sockaddr_storage *ss);

/*
 * sk-udp-queue.c: the receive queue of a UDP or UDP-Lite socket. At the
 * dump, from cfd (a copy of it), into e->dgrams: NULL, or what stops it
 * being saved (what: the socket, in words). At restore, into fd (bound,
 * not connected yet: datagrams queued before a connect came from anyone),
 * each datagram sent again from its sender.
 */
char *udp_queue_dump(InetSkEntry *e, int cfd, const char *what);
int udp_queue_check(const InetSkEntry *e);
int udp_queue_restore(int fd, const InetSkEntry *e, const char *what);

/*
 * sk-inet-raw.c: a packet made by hand, sent through a raw socket whose IP
 * header is crest's (IPPROTO_RAW): from src to dst (both AF_INET or both
 * AF_INET6), protocol proto, its transport header and data l4 (len bytes)
 * with the checksum at csum_off filled in. inet_raw_done() closes the raw
 * sockets once a restore has sent all it sends.
 */
int inet_raw_send(const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		  uint8_t proto, uint8_t *l4, size_t len, size_t csum_off, int tos, int ttl);
void inet_raw_done(void);

#endif
