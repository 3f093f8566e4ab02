/*
 * Socket options and filters shared by the socket kinds (sk-inet.c,
 * sk-packet.c): one table of the options crest saves, read on the
 * socket and on a new one of its kind and saved where they differ (a
 * default stays a default: a buffer size set by hand locks the kernel's
 * autotuning, so one never set is never set), and a classic BPF filter
 * read back with SO_GET_FILTER.
 */
#ifndef CREST_SK_OPTS_H
#define CREST_SK_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "sk-opts.pb-c.h"

#ifndef SOL_UDP
#define SOL_UDP		17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#ifndef UDP_GRO
#define UDP_GRO		104
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND	78
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT	75
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif
#ifndef TCP_ULP
#define TCP_ULP		31
#endif
#ifndef UDP_ENCAP
#define UDP_ENCAP	100
#endif
#ifndef SOL_UDPLITE
#define SOL_UDPLITE	136
#endif
#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV	10
#define UDPLITE_RECV_CSCOV	11
#endif
#ifndef IP_RECVORIGDSTADDR
#define IP_RECVORIGDSTADDR	20
#endif
#ifndef IPV6_RECVORIGDSTADDR
#define IPV6_RECVORIGDSTADDR	74
#endif
#ifndef SO_TIMESTAMPING
#define SO_TIMESTAMPING	37
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO	55
#endif
#ifndef SOL_RAW
#define SOL_RAW		255
#endif
#ifndef ICMP_FILTER
#define ICMP_FILTER	1
#endif
#ifndef ICMPV6_FILTER
#define ICMPV6_FILTER	1
#endif

#ifndef SO_TIMESTAMP_NEW
#define SO_TIMESTAMP_NEW	63
#define SO_TIMESTAMPNS_NEW	64
#define SO_TIMESTAMPING_NEW	65
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL	69
#define SO_BUSY_POLL_BUDGET	70
#endif
#ifndef SO_RCVMARK
#define SO_RCVMARK		75
#endif
#ifndef SO_TXTIME
#define SO_TXTIME		61
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY		60
#endif
#ifndef IP_RECVERR_RFC4884
#define IP_RECVERR_RFC4884	26
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE	51
#endif
#ifndef IPV6_RECVERR_RFC4884
#define IPV6_RECVERR_RFC4884	31
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL	29
#endif
#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT	73
#endif
#ifndef IPV6_RECVFRAGSIZE
#define IPV6_RECVFRAGSIZE	77
#endif
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO		11
#endif
#ifndef IPV6_UNICAST_IF
#define IPV6_UNICAST_IF		76
#endif
#ifndef SOL_PACKET
#define SOL_PACKET	263
#endif
#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ	24
#endif

/*
 * The options of the table that cfd has and that differ on fresh (a new
 * socket of its kind), appended to *opts; skip(level, name, arg) true:
 * not this socket's to save.
 */
typedef bool (*sk_opt_skip_fn)(int level, int name, const void *arg);
void sk_opts_dump(int cfd, int fresh, sk_opt_skip_fn skip, const void *arg,
		  SkOptEntry ***opts, size_t *n);
/* "SO_REUSEADDR" ... of a saved option. */
const char *sk_opt_name(const SkOptEntry *o);
/* Saved options an image may hold: 0, or -1 (not reported). */
int sk_opts_check(SkOptEntry *const *opts, size_t n);
/* Set them again in their order; what: the socket in words. */
int sk_opts_set(int fd, SkOptEntry *const *opts, size_t n, const char *what);

/*
 * What can't be saved of any socket: an error waiting (POLLERR) or the
 * counters of SOF_TIMESTAMPING_OPT_ID and SO_ZEROCOPY; NULL, or why.
 */
char *sk_pending_problem(int cfd, const char *what);

/*
 * A classic BPF filter of cfd, into *filter (data NULL: none) and its
 * lock: NULL, or what stops it being saved (what: the socket in words).
 */
char *sk_filter_dump(int cfd, const char *what, ProtobufCBinaryData *filter,
		     bool *locked);
bool sk_filter_bad(const ProtobufCBinaryData *filter);
/* The filter, then its lock (which would stop the attach). */
int sk_filter_set(int fd, const ProtobufCBinaryData *filter, bool locked,
		  const char *what);

#endif
