#ifndef CREST_NET_LOCK_H
#define CREST_NET_LOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The network lock (net-lock.c): between the moment a dump reads its TCP
 * connections and the restore that repairs them, no segment of theirs
 * passes an interface of their network namespace, either way, so the
 * kernel neither acknowledges what a peer sends after the read nor
 * answers it with a reset once the dumped socket is gone.
 */

/* Packets with this mark pass: crest's own segments to a connection it repairs. */
#define NET_LOCK_MARK	0xC114

/* One connection, as its socket sends: addresses and ports in network order. */
struct net_lock_conn {
	int family;		/* AF_INET (v4-mapped ones too) or AF_INET6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

struct net_lock;

/*
 * NULL if this kernel can lock (a BPF program on tcx, Linux 6.6 and
 * later), or why not, for crest check and the refusal.
 */
const char *net_lock_probe(void);
/*
 * Lock conns on every interface of the network namespaces nsfds (fds of
 * /proc/PID/ns/net or SIOCGSKNS): held by fds of crest's, so that it ends
 * with crest. keeper: the abstract socket name of the keeper that may hold
 * it on (net_lock_keep), or NULL. NULL (said) if it can't be taken.
 */
struct net_lock *net_lock_take(const int *nsfds, int nr_ns, const struct net_lock_conn *conns,
			       int nr, const char *keeper);
/* The connections flow again (the dump failed, or the tree runs on). */
void net_lock_release(struct net_lock *l);
/*
 * The tree is killed: its keeper (crest-netlock) holds the lock on until
 * a restore lets it go (net_lock_unlock). -1 (said): released instead.
 */
int net_lock_keep(struct net_lock *l);
/*
 * restore: the keeper named lets the lock go. 0 done; 1 no such keeper
 * (said: gone, or let go by an earlier restore); -1 it did not answer.
 */
int net_lock_unlock(const char *keeper);
/* The keeper's pid, or 0 if none answers (for messages). */
pid_t net_lock_keeper_pid(const char *keeper);

#endif
