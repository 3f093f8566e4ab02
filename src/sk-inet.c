/*
 * TCP, UDP, UDP-Lite, ICMP echo (ping) and raw IP sockets, IPv4 and IPv6
 * (v4-mapped included): not connected (bound or not: a ping socket's
 * port is its echo identifier), TCP listening, UDP, ping and raw
 * connected to a peer, with the datagrams in a UDP queue (a raw or ping
 * socket's packets queued are refused: raw_queue_problem). One
 * inet_sk_entry per socket, however many fds in however many processes
 * hold it. Every other socket at fds above 2 that is not a unix, netlink
 * or packet one (SCTP, MPTCP...) is this kind's
 * too, to be refused by name with its protocol and address; at fds 0-2 a
 * socket leading outside stays files-ext.c's (crest's own stdio).
 *
 * Dump: from a copy of the fd (pidfd_getfd): SO_DOMAIN, SO_TYPE,
 * SO_PROTOCOL, getsockname, getpeername; TCP_INFO for a TCP socket's
 * state and, listening, its accept queue and backlog (tcpi_unacked and
 * tcpi_sacked are sk_ack_backlog and sk_max_ack_backlog there); a UDP or
 * UDP-Lite socket's receive queue, datagram by datagram (sk-udp-queue.c).
 * The options of the table
 * below are saved when they differ from those of a socket just made of
 * the same family, type and protocol: a default stays a default (a
 * buffer size set by hand locks the kernel's autotuning, so one never set
 * is never set).
 *
 * A classic BPF socket filter (SO_GET_FILTER) comes back, locked if it
 * was (SO_LOCK_FILTER); an eBPF one (SO_ATTACH_BPF) can't be read back
 * (SO_GET_FILTER: EACCES) and is refused.
 *
 * With --tcp-established, established and half-closed connections are
 * repaired (make_conn, make_fins). Refused by name, with the addresses: a
 * connection without --tcp-established, one being opened; a listener with
 * connections waiting to be accepted (crest can't make their peers
 * connect again, and CRIU can't either); a UDP queue sk-udp-queue.c
 * can't save; a TLS (TCP_ULP) socket. Multicast memberships of datagram
 * and raw sockets are sk-mcast.c's.
 *
 * Restore, in crest, each socket once as a service fd: socket, its owner
 * (fchown: the socket's inode and sk_uid, which SO_REUSEPORT compares and
 * /proc/net shows), the saved options (SO_REUSEADDR, SO_REUSEPORT,
 * IPV6_V6ONLY... before the bind, as the program set them), bind, listen
 * with the backlog, or connect a UDP socket to its peer. A port a
 * connection of the dumped process holds in TIME_WAIT is free to bind
 * again exactly when it would be for the program itself (SO_REUSEADDR on
 * both); crest adds no SO_REUSEADDR of its own, which would change what
 * else may bind beside the socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "net-lock.h"
#include "opts.h"
#include "pstree.h"
#include "refuse.h"
#include "sk-inet.h"
#include "sk-mcast.h"
#include "sk-netns.h"
#include "sk-opts.h"
#include "swrk.h"
#include "util.h"


/* The kernel's TCP states (include/net/tcp_states.h). */
enum {
	ST_ESTABLISHED = 1, ST_SYN_SENT, ST_SYN_RECV, ST_FIN_WAIT1,
	ST_FIN_WAIT2, ST_TIME_WAIT, ST_CLOSE, ST_CLOSE_WAIT, ST_LAST_ACK,
	ST_LISTEN, ST_CLOSING,
};

static socklen_t conn_addr(const InetSkEntry *e, bool peer, struct sockaddr_storage *ss);

/* A connection crest repairs: established or half closed. */
static bool tcp_conn_state(unsigned int st)
{
	return st == ST_ESTABLISHED || st == ST_FIN_WAIT1 || st == ST_FIN_WAIT2 ||
	       st == ST_CLOSING || st == ST_LAST_ACK || st == ST_CLOSE_WAIT;
}

/* Our FIN written, acknowledged; the peer's FIN come: what each state says. */
static bool fin_sent(unsigned int st)
{
	return st == ST_FIN_WAIT1 || st == ST_FIN_WAIT2 || st == ST_CLOSING ||
	       st == ST_LAST_ACK;
}

static bool fin_rcvd(unsigned int st)
{
	return st == ST_CLOSE_WAIT || st == ST_CLOSING || st == ST_LAST_ACK;
}

static const char *tcp_state_name(unsigned int st)
{
	static const char *const names[] = {
		[ST_ESTABLISHED] = "ESTABLISHED", [ST_SYN_SENT] = "SYN_SENT",
		[ST_SYN_RECV] = "SYN_RECV", [ST_FIN_WAIT1] = "FIN_WAIT1",
		[ST_FIN_WAIT2] = "FIN_WAIT2", [ST_TIME_WAIT] = "TIME_WAIT",
		[ST_CLOSE] = "CLOSE", [ST_CLOSE_WAIT] = "CLOSE_WAIT",
		[ST_LAST_ACK] = "LAST_ACK", [ST_LISTEN] = "LISTEN",
		[ST_CLOSING] = "CLOSING",
	};

	return st < ARRAY_SIZE(names) && names[st] ? names[st] : "unknown";
}

struct insk {
	InetSkEntry *e;
	pid_t tpid;		/* a task holding it, for messages */
	pid_t pid;		/* a live thread of it... */
	int fd;			/* ...at this fd */
	int rfd;		/* a connection: a copy of it (in repair mode), or -1 */
	bool repairing;		/* TCP_REPAIR set on rfd */
};

struct insk_dump {
	struct insk *sk;
	int nr;
	struct net_lock *lock;	/* net-lock.c's, from repair_all to dump_done */
};

static struct insk_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &inetsk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct insk_dump));
	return *p;
}

/* Any socket at fds above 2 but a unix, netlink or packet one (sk-unix.c's, sk-netlink.c's, sk-packet.c's). */
static bool in_recognise(const struct fd_dump *f)
{
	int dom;

	if (!S_ISSOCK(f->st->st_mode) || f->fd <= 2)
		return false;
	dom = sock_domain(f->pid, f->fd);
	return dom >= 0 && dom != AF_UNIX && dom != AF_NETLINK && dom != AF_PACKET;
}

/* "127.0.0.1:80", "[::1]:80", "[fe80::1%2]:80" of an address. */
static void addr_words(const char *addr, unsigned int port, unsigned int scope,
		       bool v6, char *buf, size_t size)
{
	if (!v6)
		snprintf(buf, size, "%s:%u", addr, port);
	else if (scope)
		snprintf(buf, size, "[%s%%%u]:%u", addr, scope, port);
	else
		snprintf(buf, size, "[%s]:%u", addr, port);
}

/* The address and port of a sockaddr, as the image keeps them. */
int inet_sa_split(const struct sockaddr_storage *ss, char **addr, uint32_t *port,
		  uint32_t *scope)
{
	char buf[INET6_ADDRSTRLEN];

	*scope = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
		*port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
		*port = ntohs(s->sin6_port);
		*scope = s->sin6_scope_id;
	} else {
		return -1;
	}
	*addr = xsprintf("%s", buf);
	return 0;
}

socklen_t inet_sa_make(unsigned int family, const char *addr, uint32_t port,
		       uint32_t scope, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &s->sin_addr) != 1)
			return 0;
		return sizeof(*s);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		s->sin6_scope_id = scope;
		if (inet_pton(AF_INET6, addr, &s->sin6_addr) != 1)
			return 0;
		return sizeof(*s);
	}
	return 0;
}

static bool sa_unspecified(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return !((const struct sockaddr_in *)ss)->sin_addr.s_addr &&
		       !((const struct sockaddr_in *)ss)->sin_port;
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr) &&
	       !((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* An ICMP echo (ping) socket: SOCK_DGRAM of IPPROTO_ICMP or IPPROTO_ICMPV6. */
static bool is_ping(unsigned int type, unsigned int proto)
{
	return type == SOCK_DGRAM && (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6);
}

static const char *proto_name(const InetSkEntry *e)
{
	return e->type == SOCK_RAW ? "raw IP" :
	       is_ping(e->type, e->protocol) ? "ping ICMP" : e->protocol == IPPROTO_TCP ? "TCP" :
	       e->protocol == IPPROTO_UDPLITE ? "UDP-Lite" : "UDP";
}

/* "TCP socket on 0.0.0.0:80" ... for messages. */
static void sk_words(const InetSkEntry *e, char *buf, size_t size)
{
	bool v6 = e->family == AF_INET6;
	char src[80] = "", dst[80] = "";

	if (e->src_addr)
		addr_words(e->src_addr, e->src_port, e->scope_id, v6, src, sizeof(src));
	if (e->dst_addr)
		addr_words(e->dst_addr, e->dst_port, e->dst_scope_id, v6, dst, sizeof(dst));
	if (e->state == ST_LISTEN)
		snprintf(buf, size, "a listening %s%s socket on %s", proto_name(e),
			 v6 ? "v6" : "", src);
	else if (e->dst_addr && e->protocol == IPPROTO_TCP)
		snprintf(buf, size, "a TCP%s connection %s <-> %s (%s)", v6 ? "v6" : "",
			 src, dst, tcp_state_name(e->state));
	else if (e->dst_addr)
		snprintf(buf, size, "a %s%s socket on %s connected to %s", proto_name(e),
			 v6 ? "v6" : "", src, dst);
	else if (e->src_addr)
		snprintf(buf, size, "a %s%s socket bound to %s", proto_name(e),
			 v6 ? "v6" : "", src);
	else
		snprintf(buf, size, "a %s%s socket, not bound", proto_name(e),
			 v6 ? "v6" : "");
}

/*
 * What sk-opts.c's table has that a socket of this kind does not save:
 * multicast is datagrams' (a stream socket refuses them; an accepted one
 * has the TTL and hop limit of the SYN); a connection's MSS and window
 * clamp are the kernel's, repaired.
 */
static bool skip_opt(int level, int name, const void *arg)
{
	const InetSkEntry *e = arg;
	bool conn = e->protocol == IPPROTO_TCP && tcp_conn_state(e->state);

	if (e->type == SOCK_STREAM &&
	    ((level == IPPROTO_IP && (name == IP_MULTICAST_TTL || name == IP_MULTICAST_LOOP ||
				      name == IP_MULTICAST_ALL || name == IP_MULTICAST_IF)) ||
	     (level == IPPROTO_IPV6 && (name == IPV6_MULTICAST_HOPS ||
					name == IPV6_MULTICAST_LOOP ||
					name == IPV6_MULTICAST_IF || name == IPV6_MULTICAST_ALL))))
		return true;
	return conn && level == IPPROTO_TCP && (name == TCP_MAXSEG || name == TCP_WINDOW_CLAMP);
}

/*
 * What the program shut itself (shutdown(2)), as poll tells it: reading
 * (POLLRDHUP) where no FIN of the peer explains it, and for a datagram
 * socket both ways (POLLHUP). A TCP connection's SHUT_WR is its state.
 */
static void dump_shutdown(InetSkEntry *e, int cfd)
{
	struct pollfd p = { cfd, POLLRDHUP, 0 };

	if (e->state == ST_LISTEN || poll(&p, 1, 0) != 1)
		return;
	if ((p.revents & POLLRDHUP) && !(e->protocol == IPPROTO_TCP && fin_rcvd(e->state)))
		e->shutdown |= 1;
	if (e->type == SOCK_DGRAM && (p.revents & POLLHUP))
		e->shutdown |= 2;
	e->has_shutdown = !!e->shutdown;
}

/* An address of /proc/net/{raw,udp...}{,6}: hex words in the kernel's order. */
static int proc_addr(const char *hex, unsigned int family, char **addr, uint32_t *port,
		     uint32_t *scope)
{
	struct sockaddr_storage ss;
	uint32_t w[4];

	memset(&ss, 0, sizeof(ss));
	for (int i = 0; i < (family == AF_INET6 ? 4 : 1); i++)
		if (sscanf(hex + 8 * i, "%8x", &w[i]) != 1)
			return -1;
	ss.ss_family = family;
	if (family == AF_INET6)
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, w, 16);
	else
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, w, 4);
	return inet_sa_split(&ss, addr, port, scope);
}

/*
 * A raw socket connected to a peer with port 0 (a raw socket's usual
 * connect), or a ping socket connected (a peer has no port: the kernel's
 * inet_dport stays 0), has no name getpeername gives (ENOTCONN):
 * /proc/net/raw{,6} or icmp{,6} has its remote address and state, hex
 * words in the kernel's order.
 */
static int raw_peer(pid_t pid, InetSkEntry *e)
{
	bool v6 = e->family == AF_INET6, ping = is_ping(e->type, e->protocol);
	char *text = read_proc(pid, ping ? (v6 ? "net/icmp6" : "net/icmp") :
				    (v6 ? "net/raw6" : "net/raw"), NULL), *line;

	if (!text)
		return -1;
	for (line = strchr(text, '\n'); line && *++line; line = strchr(line, '\n')) {
		char rem[40];
		unsigned int st;
		unsigned long long ino;
		uint32_t port, scope;

		if (sscanf(line, "%*s %*s %39[0-9A-Fa-f]:%*x %x %*s %*s %*s %*s %*s %llu",
			   rem, &st, &ino) != 3 || ino != e->ino)
			continue;
		if (st == ST_ESTABLISHED &&
		    !proc_addr(rem, e->family, &e->dst_addr, &port, &scope))
			e->has_dst_port = 1;
		break;
	}
	free(text);
	return 0;
}

/*
 * A raw IP socket: its packets queued can't be saved. Only the head of
 * its queue can be peeked: raw sockets have no SO_PEEK_OFF (setsockopt
 * fails, a peek always gives the first packet), so the rest can't be
 * read without taking it, and putting packets back through lo would hand
 * a copy to every raw socket of that protocol on the machine (and to the
 * kernel's own handler: an ICMP error reaches the socket it names).
 * A ping socket's queue likewise: no SO_PEEK_OFF either, and its echo
 * replies would have to be forged.
 */
static char *raw_queue_problem(int cfd, const char *what, bool ping)
{
	uint32_t mi[16];
	socklen_t len = sizeof(mi);

	memset(mi, 0, sizeof(mi));
	if (getsockopt(cfd, SOL_SOCKET, SO_MEMINFO, mi, &len))
		return xsprintf("%s whose queue crest could not read (%s)", what, strerror(errno));
	if (mi[0] && ping)
		return xsprintf("%s with echo replies queued (%u bytes with overhead), which crest can't read without taking them (no SO_PEEK_OFF for a ping socket); let the program read them before the dump",
				what, mi[0]);
	if (mi[0])	/* SK_MEMINFO_RMEM_ALLOC */
		return xsprintf("%s with packets queued (%u bytes with overhead), which crest can't read without taking them (the kernel peeks only the first packet of a raw socket's queue: no SO_PEEK_OFF); let the program read them before the dump",
				what, mi[0]);
	return NULL;
}

/* Another family than inet: what it is, for the refusal. */
static char *other_words(int cfd, int dom, int type, int proto)
{
	(void)cfd;
	if (dom == AF_INET || dom == AF_INET6) {
		const char *v = dom == AF_INET6 ? "v6" : "";

		if (type == SOCK_RAW)
			return xsprintf("a raw IP%s socket of protocol %d", v, proto);
		if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
			return xsprintf("an ICMP%s (ping) socket", v);
		if (proto == IPPROTO_SCTP)
			return xsprintf("an SCTP%s socket", v);
		if (proto == IPPROTO_MPTCP)
			return xsprintf("an MPTCP%s socket", v);
		return xsprintf("an IP%s socket of type %d, protocol %d", v, type, proto);
	}
	return xsprintf("a socket of family %d (type %d, protocol %d)", dom, type, proto);
}

/* What else makes a TCP or UDP socket impossible to save, or NULL. */
static char *own_problem(InetSkEntry *e, int cfd, bool tcp_established)
{
	char what[200], prog[32] = "", *why;
	socklen_t len;
	bool locked;

	sk_words(e, what, sizeof(what));
	why = sk_filter_dump(cfd, what, &e->filter, &locked);
	if (why)
		return why;
	e->has_filter = !!e->filter.data;
	e->has_filter_locked = e->filter_locked = locked;
	if (e->protocol == IPPROTO_TCP) {
		len = sizeof(prog);
		if (!getsockopt(cfd, IPPROTO_TCP, TCP_ULP, prog, &len) && len && prog[0])
			return xsprintf("%s with the upper layer protocol '%.*s' (TCP_ULP)",
					what, (int)len, prog);
	}
	if (e->protocol == IPPROTO_TCP && tcp_conn_state(e->state)) {
		if (!tcp_established)
			return xsprintf("%s (CRIU's --tcp-established saves it)", what);
		if (sock_int(cfd, SOL_SOCKET, SO_PEEK_OFF) >= 0)
			return xsprintf("%s with SO_PEEK_OFF", what);
		return NULL;
	}
	if (e->protocol == IPPROTO_TCP && e->state != ST_CLOSE &&
	    e->state != ST_LISTEN)
		return xsprintf("%s (with --tcp-established crest saves established and half-closed connections only)",
				what);
	return NULL;
}

/*
 * A socket of cfd's kind to compare its options with, made in cfd's
 * network namespace (sk_socket_at()): its defaults (net.ipv4.tcp_rmem...)
 * are the namespace's, and so is net.ipv4.ping_group_range, which says
 * who may make a ping socket.
 */
static int fresh_socket(int cfd, int dom, int type, int proto)
{
	return sk_socket_at(cfd, dom, type | SOCK_CLOEXEC, proto);
}

static int in_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *fe)
{
	struct insk_dump *u = dump_state(df);
	struct sockaddr_storage ss;
	socklen_t len;
	int cfd, fresh = -1, dom, type, proto;
	char *why = NULL, what[200];
	InetSkEntry *e;

	for (int i = 0; i < u->nr; i++)
		if (u->sk[i].e->ino == f->st->st_ino) {
			fe->file_id = u->sk[i].e->id;
			return 0;
		}
	cfd = pidfd_take(f->pid, f->fd);
	if (cfd < 0)
		return -1;
	dom = sock_int(cfd, SOL_SOCKET, SO_DOMAIN);
	type = sock_int(cfd, SOL_SOCKET, SO_TYPE);
	proto = sock_int(cfd, SOL_SOCKET, SO_PROTOCOL);
	if ((dom != AF_INET && dom != AF_INET6) ||
	    !((type == SOCK_STREAM && proto == IPPROTO_TCP) ||
	      (type == SOCK_DGRAM && (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)) ||
	      is_ping(type, proto) ||
	      (type == SOCK_RAW && proto > 0 && proto < 256))) {
		why = other_words(cfd, dom, type, proto);
		refuse(f->it->pid, "fd %d is %s ('%s'), not supported yet", f->fd, why,
		       f->link);
		free(why);
		close(cfd);
		return 0;
	}
	/* crest makes a socket in the network namespace of its process. */
	if (!sk_netns_is_pid(cfd, f->pid)) {
		refuse(f->it->pid, "fd %d ('%s') is a socket of another network namespace than the process's (made before a setns() or unshare(), or passed to it), not supported yet",
		       f->fd, f->link);
		close(cfd);
		return 0;
	}
	e = xzalloc(sizeof(*e));
	inet_sk_entry__init(e);
	e->id = u->nr + 1;
	e->ino = f->st->st_ino;
	e->family = dom;
	e->type = type;
	e->protocol = proto;
	e->has_uid = e->has_gid = 1;
	e->uid = f->st->st_uid;
	e->gid = f->st->st_gid;
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(cfd, (struct sockaddr *)&ss, &len)) {
		pr_perror("can't read the address of fd %d of process %d", f->fd, f->it->pid);
		goto err;
	}
	if (!sa_unspecified(&ss) &&
	    !inet_sa_split(&ss, &e->src_addr, &e->src_port, &e->scope_id)) {
		e->has_src_port = 1;
		e->has_scope_id = !!e->scope_id;
	}
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (!getpeername(cfd, (struct sockaddr *)&ss, &len) &&
	    !inet_sa_split(&ss, &e->dst_addr, &e->dst_port, &e->dst_scope_id)) {
		e->has_dst_port = 1;
		e->has_dst_scope_id = !!e->dst_scope_id;
	}
	if (proto == IPPROTO_TCP) {
		struct tcp_info ti;

		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(cfd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
			pr_perror("can't read TCP_INFO of fd %d of process %d", f->fd,
				  f->it->pid);
			goto err;
		}
		e->state = ti.tcpi_state;
		if (tcp_conn_state(e->state)) {
			int inq = 0, outq = 0;

			/* The queues are read at the end; their size is known now. */
			if (!ioctl(cfd, SIOCINQ, &inq) && !ioctl(cfd, SIOCOUTQ, &outq) &&
			    (size_t)inq + outq > IMG_MAX_RECORD / 2)
				refuse(f->it->pid, "fd %d is a TCP connection with more than %u MiB queued (%d received, %d to send), not supported yet",
				       f->fd, IMG_MAX_RECORD >> 21, inq, outq);
		}
		if (e->state == ST_LISTEN) {
			/* Listening, tcpi_unacked and tcpi_sacked are the queue and backlog. */
			e->has_backlog = 1;
			e->backlog = ti.tcpi_sacked;
			if (ti.tcpi_unacked && df->opts && df->opts->skip_in_flight)
				pr_warn("fd %d of process %d: a listening TCP%s socket on %s:%u: %u connection%s waiting to be accepted dropped (--skip-in-flight): the restored one's queue is empty",
					f->fd, f->it->pid, dom == AF_INET6 ? "v6" : "",
					e->src_addr, e->src_port, ti.tcpi_unacked,
					ti.tcpi_unacked > 1 ? "s" : "");
			else if (ti.tcpi_unacked)
				refuse(f->it->pid, "fd %d is a listening TCP%s socket on %s:%u with %u connection%s waiting to be accepted (--skip-in-flight drops them)",
				       f->fd, dom == AF_INET6 ? "v6" : "", e->src_addr,
				       e->src_port, ti.tcpi_unacked,
				       ti.tcpi_unacked > 1 ? "s" : "");
		}
		sk_words(e, what, sizeof(what));
		why = sk_pending_problem(cfd, what);
		if (why) {
			refuse(f->it->pid, "fd %d is %s, not supported yet", f->fd, why);
			free(why);
			why = NULL;
		}
	} else {
		if ((type == SOCK_RAW || is_ping(type, proto)) && !e->dst_addr &&
		    raw_peer(f->pid, e))
			goto err;
		e->state = e->dst_addr ? ST_ESTABLISHED : ST_CLOSE;
		sk_words(e, what, sizeof(what));
		/* First: a peek of a UDP queue would take a pending error. */
		why = sk_pending_problem(cfd, what);
		if (!why)
			why = type == SOCK_RAW || is_ping(type, proto) ?
			      raw_queue_problem(cfd, what, type != SOCK_RAW) :
			      udp_queue_dump(e, cfd, what);
		if (!why)
			why = mcast_dump(e, f->pid, cfd, what);
		if (why) {
			refuse(f->it->pid, "fd %d is %s, not supported yet", f->fd, why);
			free(why);
			why = NULL;
		}
	}
	dump_shutdown(e, cfd);
	why = own_problem(e, cfd, df->opts && df->opts->tcp_established);
	if (why) {
		refuse(f->it->pid, "fd %d is %s, not supported yet", f->fd, why);
		free(why);
	}
	fresh = fresh_socket(cfd, dom, type, proto);
	if (fresh < 0 && is_ping(type, proto) && errno == EACCES) {
		sk_words(e, what, sizeof(what));
		refuse(f->it->pid, "fd %d is %s, and its network namespace's net.ipv4.ping_group_range does not let crest (group %d) make ping sockets there, which it does to compare options and at restore; widen the range",
		       f->fd, what, (int)getegid());
		inet_sk_entry__free_unpacked(e, NULL);
		close(cfd);
		return 0;
	}
	if (fresh < 0) {
		pr_perror("can't make a socket to compare fd %d of process %d with",
			  f->fd, f->it->pid);
		goto err;
	}
	sk_opts_dump(cfd, fresh, skip_opt, e, &e->opts, &e->n_opts);
	close(fresh);
	close(cfd);
	u->sk = xrealloc(u->sk, (u->nr + 1) * sizeof(*u->sk));
	u->sk[u->nr].e = e;
	u->sk[u->nr].tpid = f->it->pid;
	u->sk[u->nr].pid = f->pid;
	u->sk[u->nr].fd = f->fd;
	u->sk[u->nr].rfd = -1;
	u->nr++;
	fe->file_id = e->id;
	return 0;
err:
	inet_sk_entry__free_unpacked(e, NULL);
	close(cfd);
	return -1;
}

static int repair_queue(int fd, int q)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q))) {
		pr_perror("can't select TCP queue %d to repair", q);
		return -1;
	}
	return 0;
}

/*
 * One queue of a connection in repair mode: the seq after it, its bytes
 * (MSG_PEEK of the selected queue: the send queue whole from its first
 * unacknowledged byte), *len of them as the ioctl counts.
 */
static int read_queue(int fd, int q, unsigned long ioc, int fin, uint32_t *seq,
		      ProtobufCBinaryData *data, const char *what)
{
	int len = 0, opt;
	socklen_t ol = sizeof(opt);
	ssize_t n = 0;

	if (repair_queue(fd, q))
		return -1;
	if (getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &opt, &ol) || ioctl(fd, ioc, &len)) {
		pr_perror("can't read the %s queue of %s", q == TCP_SEND_QUEUE ? "send" : "receive",
			  what);
		return -1;
	}
	*seq = opt;
	len -= fin;		/* a FIN in the send queue counts one, and is no byte */
	if (len < 0) {
		pr_err("the %s queue of %s has no room for its FIN", q == TCP_SEND_QUEUE ?
		       "send" : "receive", what);
		return -1;
	}
	data->data = xzalloc(len + 1);
	data->len = len;
	if (len)
		n = recv(fd, data->data, len, MSG_PEEK | MSG_DONTWAIT);
	if (n != len) {
		pr_perror("can't peek the %d bytes of the %s queue of %s (got %zd)", len,
			  q == TCP_SEND_QUEUE ? "send" : "receive", what, n);
		return -1;
	}
	return 0;
}

/* s, in repair mode now: its sequence numbers, queues, options, window. */
static int read_conn(struct insk *s)
{
	TcpConnEntry *t = xzalloc(sizeof(*t));
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char what[200];
	int v, unsent = 0;

	sk_words(s->e, what, sizeof(what));
	tcp_conn_entry__init(t);
	s->e->tcp = t;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(s->rfd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		pr_perror("can't read TCP_INFO of %s", what);
		return -1;
	}
	/* A peer outside may have closed its side since: that is saved too. */
	if (!tcp_conn_state(ti.tcpi_state)) {
		pr_err("%s became %s during the dump", what, tcp_state_name(ti.tcpi_state));
		return -1;
	}
	s->e->state = ti.tcpi_state;
	t->fin_sent = fin_sent(s->e->state);
	t->fin_acked = s->e->state == ST_FIN_WAIT2;
	t->fin_rcvd = fin_rcvd(s->e->state);
	if (ioctl(s->rfd, SIOCOUTQNSD, &unsent) || unsent < 0) {
		pr_perror("can't tell what %s has not sent yet", what);
		return -1;
	}
	/* SIOCOUTQNSD counts a FIN not sent yet as one too. */
	t->fin_unsent = t->fin_sent && unsent > 0;
	unsent -= t->fin_unsent;
	t->has_fin_sent = t->has_fin_acked = t->has_fin_rcvd = t->has_fin_unsent = 1;
	if (read_queue(s->rfd, TCP_RECV_QUEUE, SIOCINQ, 0, &t->inq_seq, &t->inq, what) ||
	    read_queue(s->rfd, TCP_SEND_QUEUE, SIOCOUTQ, t->fin_sent && !t->fin_acked,
		       &t->outq_seq, &t->outq, what))
		return -1;
	if ((size_t)unsent > t->outq.len) {
		pr_err("%s has %d bytes not sent of %zu to send", what, unsent, t->outq.len);
		return -1;
	}
	t->unsent = unsent;
	t->options = ti.tcpi_options;
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		t->has_snd_wscale = t->has_rcv_wscale = 1;
		t->snd_wscale = ti.tcpi_snd_wscale;
		t->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	v = sock_int(s->rfd, IPPROTO_TCP, TCP_MAXSEG);
	if (v <= 0) {
		pr_perror("can't read the MSS of %s", what);
		return -1;
	}
	t->mss = v;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) {
		t->has_timestamp = 1;
		t->timestamp = sock_int(s->rfd, IPPROTO_TCP, TCP_TIMESTAMP);
	}
	len = sizeof(w);
	if (getsockopt(s->rfd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len)) {
		pr_perror("can't read the window of %s", what);
		return -1;
	}
	t->snd_wl1 = w.snd_wl1;
	t->snd_wnd = w.snd_wnd;
	t->max_window = w.max_window;
	t->rcv_wnd = w.rcv_wnd;
	t->rcv_wup = w.rcv_wup;
	/* in_dump refused bigger queues: they grew since (the dump fails). */
	if (t->inq.len + t->outq.len > IMG_MAX_RECORD / 2) {
		pr_err("%s has more than %u MiB queued", what, IMG_MAX_RECORD >> 21);
		return -1;
	}
	return 0;
}

/*
 * With --tcp-established, every established connection goes into repair
 * mode (TCP_REPAIR on a copy: the same socket), read whole. It stays so
 * until dump_done: a tree that is killed closes it in repair mode, which
 * sends nothing to the peer (no FIN, no RST), so that the restored one
 * goes on with it; otherwise repair mode ends, without a window probe.
 * Done as the records are written, the last thing before the tree is let
 * go (its pages are saved, nothing was refused). Before the first is put
 * in repair mode, the network lock (net-lock.c, unless --network-lock
 * skip) drops their segments both ways: what a peer outside sends after
 * the read is neither acknowledged (and lost) nor, once the tree is
 * killed, answered with a reset; it sends it again after the restore.
 */
/* Is SO_REUSEPORT among e's saved options (set, as a new socket has it not)? */
static bool has_reuseport(const InetSkEntry *e)
{
	for (size_t i = 0; i < e->n_opts; i++)
		if (e->opts[i]->level == SOL_SOCKET && e->opts[i]->name == SO_REUSEPORT)
			return true;
	return false;
}

/*
 * How many sockets of /proc/PID/net/udp{,6} (udplite) are bound to e's
 * address and port: every member of its SO_REUSEPORT group, whoever
 * holds it; -1 unknown.
 */
static int bound_like(pid_t pid, const InetSkEntry *e)
{
	bool v6 = e->family == AF_INET6;
	const char *file = e->protocol == IPPROTO_UDPLITE ? (v6 ? "net/udplite6" : "net/udplite") :
			   (v6 ? "net/udp6" : "net/udp");
	char *text = read_proc(pid, file, NULL), *line;
	int n = 0;

	if (!text)
		return -1;
	for (line = strchr(text, '\n'); line && *++line; line = strchr(line, '\n')) {
		char loc[40], *addr = NULL;
		unsigned int port;
		uint32_t p, scope;

		if (sscanf(line, "%*s %39[0-9A-Fa-f]:%x", loc, &port) != 2 || port != e->src_port)
			continue;
		if (!proc_addr(loc, e->family, &addr, &p, &scope))
			n += !strcmp(addr, e->src_addr);
		free(addr);
	}
	free(text);
	return n;
}

/*
 * A UDP socket's SO_REUSEPORT group is every socket bound to its address
 * and port: one outside the tree would be left out of the group made
 * again (and hold the port). Its BPF program
 * (SO_ATTACH_REUSEPORT_CBPF/EBPF) can't be seen: crest(8), LIMITATIONS.
 */
static int in_collected(struct dump_files *df, struct pstree *t)
{
	struct insk_dump *u = dump_state(df);

	(void)t;
	for (int i = 0; i < u->nr; i++) {
		const InetSkEntry *e = u->sk[i].e;
		char what[200];
		int ours = 0, all;

		if (e->type != SOCK_DGRAM || !e->src_addr || !e->src_port || !has_reuseport(e))
			continue;
		for (int j = 0; j < u->nr; j++) {
			const InetSkEntry *o = u->sk[j].e;

			ours += o->type == SOCK_DGRAM && o->family == e->family &&
				o->protocol == e->protocol && o->src_addr &&
				o->src_port == e->src_port && !strcmp(o->src_addr, e->src_addr);
		}
		all = bound_like(u->sk[i].pid, e);
		if (all <= ours)
			continue;
		sk_words(e, what, sizeof(what));
		refuse(u->sk[i].tpid, "fd %d is %s, of an SO_REUSEPORT group with %d socket%s outside the tree, not supported yet",
		       u->sk[i].fd, what, all - ours, all - ours > 1 ? "s" : "");
	}
	return 0;
}

/* The 4-tuple of a connection as its socket sends (v4-mapped: IPv4). */
static int lock_conn(const InetSkEntry *e, struct net_lock_conn *c)
{
	struct sockaddr_storage a, b;

	if (!conn_addr(e, false, &a) || !conn_addr(e, true, &b))
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = a.ss_family;
	if (a.ss_family == AF_INET) {
		memcpy(c->src, &((struct sockaddr_in *)&a)->sin_addr, 4);
		memcpy(c->dst, &((struct sockaddr_in *)&b)->sin_addr, 4);
		c->sport = ((struct sockaddr_in *)&a)->sin_port;
		c->dport = ((struct sockaddr_in *)&b)->sin_port;
	} else {
		memcpy(c->src, &((struct sockaddr_in6 *)&a)->sin6_addr, 16);
		memcpy(c->dst, &((struct sockaddr_in6 *)&b)->sin6_addr, 16);
		c->sport = ((struct sockaddr_in6 *)&a)->sin6_port;
		c->dport = ((struct sockaddr_in6 *)&b)->sin6_port;
	}
	return 0;
}

static bool same_conn(const struct net_lock_conn *a, const struct net_lock_conn *b, bool back)
{
	return a->family == b->family && a->sport == (back ? b->dport : b->sport) &&
	       a->dport == (back ? b->sport : b->dport) &&
	       !memcmp(a->src, back ? b->dst : b->src, 16) &&
	       !memcmp(a->dst, back ? b->src : b->dst, 16);
}

/*
 * The lock on the connections (each s->rfd a copy of it): in every
 * network namespace they are in. A tree that is killed hands it to a
 * keeper, till the restore, when a peer of one is outside the tree (two
 * ends both dumped and dead send nothing).
 */
static int lock_all(struct dump_files *df, struct insk_dump *u, struct img_dir *d)
{
	const struct options *o = df->opts;
	struct net_lock_conn *c = xzalloc((u->nr + 1) * sizeof(*c));
	int *ns = xzalloc((u->nr + 1) * sizeof(int));
	ino_t *ns_ino = xzalloc((u->nr + 1) * sizeof(ino_t));
	int nr = 0, nr_ns = 0, ret = -1;
	bool outside = false;
	char *keeper = NULL;

	for (int i = 0; i < u->nr; i++) {
		struct insk *s = &u->sk[i];
		struct stat st;
		int fd;

		if (s->rfd < 0)
			continue;
		if (lock_conn(s->e, &c[nr])) {
			pr_err("fd %d of process %d has an address crest can't lock", s->fd, s->tpid);
			goto out;
		}
		nr++;
		fd = ioctl(s->rfd, SIOCGSKNS);
		if (fd < 0 || fstat(fd, &st)) {
			pr_perror("can't tell the network namespace of fd %d of process %d (SIOCGSKNS) to lock it",
				  s->fd, s->tpid);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		for (int k = 0; k < nr_ns && fd >= 0; k++)
			if (ns_ino[k] == st.st_ino) {
				close(fd);
				fd = -1;
			}
		if (fd >= 0) {
			ns_ino[nr_ns] = st.st_ino;
			ns[nr_ns++] = fd;
		}
	}
	for (int i = 0; i < nr && !outside; i++) {
		bool peer = false;

		for (int k = 0; k < nr && !peer; k++)
			peer = same_conn(&c[i], &c[k], true);
		outside = !peer;
	}
	if (o->after_dump == AFTER_KILL && outside) {
		char id[2 * IMG_ID_SIZE + 1];

		img_id_str(d->id, id);
		keeper = xsprintf("crest-netlock-%s", id);
	}
	u->lock = net_lock_take(ns, nr_ns, c, nr, keeper);
	if (u->lock) {
		ret = 0;
		df->netlock = keeper;	/* for the inventory */
		keeper = NULL;
	}
out:
	for (int k = 0; k < nr_ns; k++)
		close(ns[k]);
	free(keeper);
	free(ns);
	free(ns_ino);
	free(c);
	return ret;
}

static int repair_all(struct dump_files *df, struct img_dir *d)
{
	struct insk_dump *u = dump_state(df);
	int on = TCP_REPAIR_ON, nr = 0;

	if (refusals_nr())
		return 0;	/* the dump stops: leave the connections alone */
	for (int i = 0; i < u->nr; i++) {
		struct insk *s = &u->sk[i];

		if (s->e->protocol != IPPROTO_TCP || !tcp_conn_state(s->e->state))
			continue;
		s->rfd = pidfd_take(s->pid, s->fd);
		if (s->rfd < 0)
			return -1;
		nr++;
	}
	/* Locked first: nothing they hear after the read is acknowledged. */
	if (nr && df->opts && !df->opts->network_lock_skip && lock_all(df, u, d))
		return -1;
	if (nr && fault("net-locked")) {
		pr_err("fault injected: net-locked");
		return -1;
	}
	for (int i = 0; i < u->nr; i++) {
		struct insk *s = &u->sk[i];

		if (s->rfd < 0)
			continue;
		if (setsockopt(s->rfd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on))) {
			pr_perror("can't put fd %d of process %d in repair mode (TCP_REPAIR)",
				  s->fd, s->tpid);
			close(s->rfd);
			s->rfd = -1;
			return -1;
		}
		s->repairing = true;
		if (read_conn(s))
			return -1;
	}
	return 0;
}

/* Repair mode's end reset SO_REUSEADDR (sk_reuse): as it was. */
static int reuse_back(int fd, const InetSkEntry *e, const char *what)
{
	for (size_t i = 0; i < e->n_opts; i++) {
		const SkOptEntry *o = e->opts[i];

		if (o->level == SOL_SOCKET && o->name == SO_REUSEADDR &&
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, o->val.data, o->val.len)) {
			pr_perror("can't give %s its SO_REUSEADDR back", what);
			return -1;
		}
	}
	return 0;
}

static void in_dump_done(struct dump_files *df, bool kill)
{
	struct insk_dump *u = dump_state(df);
	int off = TCP_REPAIR_OFF_NO_WP, none = TCP_NO_QUEUE;

	for (int i = 0; i < u->nr; i++) {
		struct insk *s = &u->sk[i];

		if (s->rfd < 0)
			continue;
		if (!s->repairing)
			goto next;
		/* The tree runs on with it: as it was, SO_REUSEADDR too. */
		if (!kill && (setsockopt(s->rfd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none)) ||
			      setsockopt(s->rfd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off))))
			pr_perror("can't take fd %d of process %d out of repair mode", s->fd,
				  s->tpid);
		else if (!kill)
			reuse_back(s->rfd, s->e, "a connection left running");
next:
		close(s->rfd);
		s->rfd = -1;
		s->repairing = false;
	}
	/*
	 * Out of repair mode, the lock goes; a killed tree's sockets are
	 * closed in repair mode by now, its keeper holds the lock on.
	 */
	if (kill ? net_lock_keep(u->lock) : (net_lock_release(u->lock), 0))
		pr_warn("the network lock is let go: a peer outside the tree that sends before the restore is answered with a reset");
	u->lock = NULL;
}

static int in_write(struct dump_files *df, struct img_dir *d)
{
	struct insk_dump *u = dump_state(df);
	void **msgs;
	int ret;

	/* The tree is frozen and read: the moment CRIU locks, and calls this hook. */
	if (df->opts && !df->opts->pre_dump && swrk_hook("network-lock"))
		return -1;
	if (repair_all(df, d))
		return -1;
	msgs = xzalloc((u->nr + 1) * sizeof(*msgs));
	for (int i = 0; i < u->nr; i++)
		msgs[i] = u->sk[i].e;
	ret = files_write_msgs(d, IMG_INETSK, 0, msgs, u->nr);
	free(msgs);
	return ret;
}

/* ---- restore ---- */

struct insk_restore {
	InetSkEntry **sks;
	int nr;
	int *fd;		/* service fd of each */
};

static struct insk_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &inetsk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct insk_restore));
	return *p;
}

static const struct insk_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &inetsk_fd_ops);
}

static int in_index(const struct insk_restore *u, uint32_t id)
{
	for (int i = 0; u && i < u->nr; i++)
		if (u->sks[i]->id == id)
			return i;
	return -1;
}

static int bad_image(const InetSkEntry *e, const char *what)
{
	pr_err("image inetsk.img is corrupt: socket %u %s", e->id, what);
	return -1;
}

static int check_entry(const InetSkEntry *e)
{
	struct sockaddr_storage ss;

	if (e->family != AF_INET && e->family != AF_INET6)
		return bad_image(e, "has an unknown family");
	if (!(e->type == SOCK_STREAM && e->protocol == IPPROTO_TCP) &&
	    !(e->type == SOCK_DGRAM && (e->protocol == IPPROTO_UDP ||
					e->protocol == IPPROTO_UDPLITE)) &&
	    !is_ping(e->type, e->protocol) &&
	    !(e->type == SOCK_RAW && e->protocol > 0 && e->protocol < 256))
		return bad_image(e, "is neither TCP nor UDP");
	if (udp_queue_check(e))
		return bad_image(e, "has a datagram queued that can't be");
	if ((e->src_addr && (!e->has_src_port || e->src_port > 65535 ||
			     !inet_sa_make(e->family, e->src_addr, 0, 0, &ss))) ||
	    (e->dst_addr && (!e->has_dst_port || e->dst_port > 65535 ||
			     !inet_sa_make(e->family, e->dst_addr, 0, 0, &ss))))
		return bad_image(e, "has an address no socket can have");
	if (e->state == ST_LISTEN && (e->protocol != IPPROTO_TCP || !e->has_backlog ||
				      !e->src_addr))
		return bad_image(e, "listens and can't");
	if (e->state != ST_LISTEN && e->has_backlog)
		return bad_image(e, "has a backlog and does not listen");
	if (e->state == ST_ESTABLISHED && (!e->dst_addr || !e->src_addr ||
					   (e->protocol == IPPROTO_TCP) != !!e->tcp))
		return bad_image(e, "is connected and can't be");
	if (e->tcp && (!tcp_conn_state(e->state) || e->protocol != IPPROTO_TCP ||
		       !e->dst_addr || !e->src_addr || e->tcp->unsent > e->tcp->outq.len ||
		       e->tcp->fin_sent != fin_sent(e->state) ||
		       e->tcp->fin_rcvd != fin_rcvd(e->state) ||
		       e->tcp->fin_acked != (e->state == ST_FIN_WAIT2) ||
		       (e->tcp->fin_unsent && (!e->tcp->fin_sent || e->tcp->fin_acked)) ||
		       (e->tcp->unsent && e->tcp->fin_sent && !e->tcp->fin_unsent)))
		return bad_image(e, "has a TCP connection that can't be");
	if (e->state != ST_LISTEN && e->state != ST_CLOSE && e->state != ST_ESTABLISHED &&
	    !(e->tcp && tcp_conn_state(e->state)))
		return bad_image(e, "is in a state crest does not restore");
	if (e->shutdown > 3)
		return bad_image(e, "is shut in a way there is not");
	if (e->state == ST_CLOSE && e->dst_addr)
		return bad_image(e, "has a peer and is not connected");
	if (sk_opts_check(e->opts, e->n_opts))
		return bad_image(e, "has an option that can't be");
	if (mcast_check(e) || (e->n_mcast && e->type == SOCK_STREAM))
		return bad_image(e, "has a multicast membership that can't be");
	if (e->has_filter && sk_filter_bad(&e->filter))
		return bad_image(e, "has a socket filter that can't be");
	return 0;
}

static int in_read(struct restore_files *rf, struct img_dir *d)
{
	struct insk_restore *u = restore_state(rf);

	if (files_read_msgs(d, IMG_INETSK, 0, (void ***)&u->sks, &u->nr))
		return -1;
	for (int i = 0; i < u->nr; i++)
		if (check_entry(u->sks[i]))
			return -1;
	return 0;
}

static int set_opts(int fd, const InetSkEntry *e)
{
	char what[200];

	sk_words(e, what, sizeof(what));
	return sk_opts_set(fd, e->opts, e->n_opts, what);
}

static int set_filter(int fd, const InetSkEntry *e, const char *what)
{
	return e->has_filter ? sk_filter_set(fd, &e->filter, e->filter_locked, what) : 0;
}

/* What the program shut itself (dump_shutdown), shut again. */
static int set_shutdown(int fd, const InetSkEntry *e, const char *what)
{
	int how = e->shutdown == 3 ? SHUT_RDWR : e->shutdown == 2 ? SHUT_WR : SHUT_RD;

	/* Not connected, the kernel shuts it and says ENOTCONN. */
	if (e->shutdown && shutdown(fd, how) && errno != ENOTCONN) {
		pr_perror("can't shut %s again", what);
		return -1;
	}
	return 0;
}

static int make_socket(const InetSkEntry *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char what[200];
	int fd;

	sk_words(e, what, sizeof(what));
	fd = socket(e->family, e->type | SOCK_CLOEXEC, e->protocol);
	if (fd < 0) {
		pr_perror("can't create %s", what);
		return -1;
	}
	/* Made by crest, it is crest's: its owner first (SO_REUSEPORT's peers). */
	if (e->has_uid && fchown(fd, e->uid, e->has_gid ? e->gid : (gid_t)-1)) {
		pr_perror("can't give %s its owner %u back", what, e->uid);
		goto err;
	}
	/* A queue to fill gets its filter after: each datagram passed it once. */
	if (set_opts(fd, e) || (!e->n_dgrams && set_filter(fd, e, what)))
		goto err;
	/* Not bound yet: nothing comes between a join and its filter. */
	if (mcast_restore(fd, e, what))
		goto err;
	if (e->src_addr) {
		len = inet_sa_make(e->family, e->src_addr, e->src_port, e->scope_id, &ss);
		if (bind(fd, (struct sockaddr *)&ss, len)) {
			pr_perror("can't bind %s (socket:[%llu]) to its address%s", what,
				  (unsigned long long)e->ino, errno != EADDRINUSE ? "" :
				  " (a live socket holds it, or a connection in TIME_WAIT of a socket without SO_REUSEADDR, for a minute at most)");
			goto err;
		}
	}
	if (e->state == ST_LISTEN && listen(fd, e->backlog)) {
		pr_perror("can't listen on %s", what);
		goto err;
	}
	if (e->type == SOCK_DGRAM && (udp_queue_restore(fd, e, what) ||
				      (e->n_dgrams && set_filter(fd, e, what))))
		goto err;
	if (e->dst_addr) {
		len = inet_sa_make(e->family, e->dst_addr, e->dst_port, e->dst_scope_id, &ss);
		if (connect(fd, (struct sockaddr *)&ss, len)) {
			pr_perror("can't connect %s again", what);
			goto err;
		}
	}
	if (set_shutdown(fd, e, what))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

static int tcp_set(int fd, int name, const void *val, socklen_t len,
		   const char *opt, const char *what)
{
	if (setsockopt(fd, IPPROTO_TCP, name, val, len)) {
		pr_perror("can't set %s of %s", opt, what);
		return -1;
	}
	return 0;
}

static int tcp_set_int(int fd, int name, int val, const char *opt, const char *what)
{
	return tcp_set(fd, name, &val, sizeof(val), opt, what);
}

/*
 * Write len bytes of buf into fd's selected queue, all of them. A queue
 * larger than a new socket's send buffer (the original's had grown, as
 * the kernel tunes it) gets a buffer that holds it: the bytes queued in
 * repair mode, or not yet sent to a peer that is not running yet, leave
 * it only once the connection runs.
 */
static int fill(int fd, const uint8_t *buf, size_t len, const char *q, const char *what)
{
	int grown = 0, orig = sock_int(fd, SOL_SOCKET, SO_SNDBUF);

	while (len) {
		ssize_t n = send(fd, buf, len > 65536 ? 65536 : len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN && grown < 8) {
			int cur = sock_int(fd, SOL_SOCKET, SO_SNDBUF);
			int want = cur + (int)(len < (1 << 28) ? len : 1 << 28);

			/* SO_SNDBUFFORCE stores twice what it is given. */
			if (cur > 0 && !setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want,
						   sizeof(want))) {
				grown++;
				continue;
			}
		}
		if (n <= 0) {
			pr_perror("can't refill the %s queue of %s (%zu bytes left)", q, what, len);
			return -1;
		}
		buf += n;
		len -= n;
	}
	/*
	 * Back to the program's buffer size: the queue stays whole, the
	 * program's next send waits for room as the original's would have
	 * (the bytes took more room here, their buffers laid out anew).
	 */
	if (grown && (orig <= 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE,
					      &(int){ orig / 2 }, sizeof(int)) ||
		      sock_int(fd, SOL_SOCKET, SO_SNDBUF) != orig)) {
		pr_perror("can't give %s its send buffer of %d bytes back", what, orig);
		return -1;
	}
	return 0;
}

/* Our FIN, in repair mode, as sent and not acknowledged yet. */
static int fin_as_sent(int fd, const char *what)
{
	if (tcp_set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", what))
		return -1;
	if (shutdown(fd, SHUT_WR)) {
		pr_perror("can't write the FIN of %s again", what);
		return -1;
	}
	return tcp_set_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE", what);
}

/* The address of the peer (from) or the socket, v4-mapped ones as IPv4. */
static socklen_t conn_addr(const InetSkEntry *e, bool peer, struct sockaddr_storage *ss)
{
	const char *a = peer ? e->dst_addr : e->src_addr;
	uint32_t port = peer ? e->dst_port : e->src_port;

	if (e->family == AF_INET6 && !strncmp(a, "::ffff:", 7) && strchr(a, '.'))
		return inet_sa_make(AF_INET, a + 7, port, 0, ss);
	return inet_sa_make(e->family, a, port, 0, ss);
}

/*
 * A segment of the peer's, made by hand and sent to the connection being
 * repaired: its FIN, or its acknowledgement of ours, as it came once. No
 * timestamp option (PAWS checks none then); the window the peer gave.
 */
static int peer_segment(const InetSkEntry *e, uint32_t seq, uint32_t ack, bool fin,
			const char *what)
{
	const TcpConnEntry *t = e->tcp;
	struct sockaddr_storage src, dst;
	uint32_t wnd = t->snd_wnd >> (t->has_snd_wscale ? t->snd_wscale : 0);
	struct tcphdr th;

	if (!conn_addr(e, true, &src) || !conn_addr(e, false, &dst))
		return bad_image(e, "has an address no socket can have");
	memset(&th, 0, sizeof(th));
	th.source = htons(e->dst_port);
	th.dest = htons(e->src_port);
	th.seq = htonl(seq);
	th.ack_seq = htonl(ack);
	th.doff = sizeof(th) / 4;
	th.ack = 1;
	th.fin = fin;
	th.window = htons(wnd > 65535 ? 65535 : wnd);
	if (inet_raw_send(&src, &dst, IPPROTO_TCP, (uint8_t *)&th, sizeof(th),
			  offsetof(struct tcphdr, check), 0, 64)) {
		pr_err("can't send %s the %s of its peer again", what, fin ? "FIN" : "ACK");
		return -1;
	}
	return 0;
}

/* The kernel takes a segment sent to lo in softirq: wait for its effect. */
static int wait_state(int fd, unsigned int want, const char *what)
{
	struct timespec nap = { 0, 200 * 1000 };
	struct tcp_info ti;

	for (int i = 0; i < 50000; i++) {
		socklen_t len = sizeof(ti);

		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
			pr_perror("can't read TCP_INFO of %s", what);
			return -1;
		}
		if (ti.tcpi_state == want)
			return 0;
		nanosleep(&nap, NULL);
	}
	pr_err("%s did not become %s again (it is %s)", what, tcp_state_name(want),
	       tcp_state_name(ti.tcpi_state));
	return -1;
}

/*
 * A half-closed connection, from ESTABLISHED in repair mode, as libsoccr
 * (CRIU) does it: our FIN written as sent (shutdown in repair mode with
 * the send queue selected: FIN_WAIT1), the peer's FIN sent to it by hand
 * (CLOSE_WAIT, or CLOSING after ours), our FIN after the peer's for
 * LAST_ACK, and for FIN_WAIT2 the peer's acknowledgement of ours. A FIN
 * that was not sent yet waits for finish_conn, after the bytes before it.
 */
static int make_fins(int fd, const InetSkEntry *e, const char *what)
{
	const TcpConnEntry *t = e->tcp;
	uint32_t snd_una = t->outq_seq - (t->fin_sent && !t->fin_acked) - t->outq.len;
	uint32_t rcv_nxt = t->inq_seq - t->fin_rcvd;
	bool first = t->fin_sent && !t->fin_unsent && e->state != ST_LAST_ACK;

	if (first && fin_as_sent(fd, what))
		return -1;
	if (t->fin_rcvd &&
	    (peer_segment(e, rcv_nxt, snd_una, true, what) ||
	     wait_state(fd, first ? ST_CLOSING : ST_CLOSE_WAIT, what)))
		return -1;
	if (e->state == ST_LAST_ACK && !t->fin_unsent && fin_as_sent(fd, what))
		return -1;
	if (t->fin_acked &&
	    (peer_segment(e, t->inq_seq, t->outq_seq, false, what) ||
	     wait_state(fd, ST_FIN_WAIT2, what)))
		return -1;
	return 0;
}

/*
 * An established connection, as CRIU repairs one: in repair mode, each
 * queue's first sequence number, bind, connect (no handshake: it is
 * established at once), the options negotiated with the peer, the clock
 * of its timestamps, the queues (what was sent and not acknowledged goes
 * in as sent: the kernel retransmits it if need be), the window. Still
 * in repair mode: finish_conn ends it.
 */
static int make_conn(const InetSkEntry *e)
{
	const TcpConnEntry *t = e->tcp;
	size_t sent = t->outq.len - t->unsent;
	struct tcp_repair_opt ro[4];
	/*
	 * A FIN that came is not in the queue made now (the peer's FIN is
	 * sent to it below): rcv_nxt is one less, and so is the window's
	 * left edge, its right one where it was.
	 */
	struct tcp_repair_window w = { t->snd_wl1, t->snd_wnd, t->max_window,
				       t->rcv_wnd + t->fin_rcvd, t->rcv_wup - t->fin_rcvd };
	struct sockaddr_storage ss;
	socklen_t len;
	char what[200];
	int fd, n = 0;

	sk_words(e, what, sizeof(what));
	fd = socket(e->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		pr_perror("can't create %s", what);
		return -1;
	}
	if (e->has_uid && fchown(fd, e->uid, e->has_gid ? e->gid : (gid_t)-1)) {
		pr_perror("can't give %s its owner %u back", what, e->uid);
		goto err;
	}
	/*
	 * Options first: SO_REUSEADDR would undo repair's forced reuse. The
	 * filter last: it would drop the segments crest sends it by hand.
	 */
	if (set_opts(fd, e) ||
	    tcp_set_int(fd, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR", what) ||
	    tcp_set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", what) ||
	    tcp_set_int(fd, TCP_QUEUE_SEQ, t->outq_seq - t->fin_sent - t->outq.len,
			"the send sequence", what) ||
	    tcp_set_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", what) ||
	    tcp_set_int(fd, TCP_QUEUE_SEQ, t->inq_seq - t->fin_rcvd - t->inq.len,
			"the receive sequence", what))
		goto err;
	len = inet_sa_make(e->family, e->src_addr, e->src_port, e->scope_id, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		pr_perror("can't bind %s to its address", what);
		goto err;
	}
	len = inet_sa_make(e->family, e->dst_addr, e->dst_port, e->dst_scope_id, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		pr_perror("can't connect %s again in repair mode", what);
		goto err;
	}
	ro[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, t->mss };
	if (t->options & TCPI_OPT_WSCALE)
		ro[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
						   t->snd_wscale | t->rcv_wscale << 16 };
	if (t->options & TCPI_OPT_SACK)
		ro[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (t->options & TCPI_OPT_TIMESTAMPS)
		ro[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (tcp_set(fd, TCP_REPAIR_OPTIONS, ro, n * sizeof(ro[0]), "TCP_REPAIR_OPTIONS", what) ||
	    (t->has_timestamp &&
	     tcp_set_int(fd, TCP_TIMESTAMP, t->timestamp, "TCP_TIMESTAMP", what)) ||
	    fill(fd, t->inq.data, t->inq.len, "receive", what) ||
	    tcp_set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", what) ||
	    fill(fd, t->outq.data, sent, "send", what) ||
	    tcp_set(fd, TCP_REPAIR_WINDOW, &w, sizeof(w), "TCP_REPAIR_WINDOW", what) ||
	    tcp_set_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE", what) ||
	    make_fins(fd, e, what) || set_filter(fd, e, what))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

/*
 * Once every connection is made (both ends of one in the tree hear each
 * other): out of repair mode, the bytes never sent, SO_REUSEADDR.
 */
static int finish_conn(int fd, const InetSkEntry *e)
{
	const TcpConnEntry *t = e->tcp;
	size_t sent = t->outq.len - t->unsent;
	char what[200];

	sk_words(e, what, sizeof(what));
	if (tcp_set_int(fd, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR off", what) ||
	    fill(fd, t->outq.data + sent, t->unsent, "unsent", what))
		return -1;
	if (t->fin_unsent && shutdown(fd, SHUT_WR)) {
		pr_perror("can't write the FIN of %s again", what);
		return -1;
	}
	if (set_shutdown(fd, e, what))
		return -1;
	return reuse_back(fd, e, what);
}

/*
 * --tcp-close (CRIU's): a connection comes back closed, a TCP socket with
 * its options that is not connected (reads and writes fail, ENOTCONN);
 * its peer is not told anything.
 */
static int make_closed(const InetSkEntry *e)
{
	char what[200];
	int fd;

	sk_words(e, what, sizeof(what));
	fd = socket(e->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		pr_perror("can't create %s", what);
		return -1;
	}
	if ((e->has_uid && fchown(fd, e->uid, e->has_gid ? e->gid : (gid_t)-1)) ||
	    set_opts(fd, e) || set_filter(fd, e, what)) {
		pr_err("can't make %s again, closed", what);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The connections to repair, locked while they are made: a killed tree
 * with both ends inside has no keeper, and an end made first answers
 * crest's segments (a delayed ACK, a window probe) towards an end not
 * made yet; the kernel would reset it (a LAST_ACK end closed at once).
 * NULL and 0 when there is nothing to lock or --network-lock skip.
 */
static int lock_made(struct restore_files *rf, struct insk_restore *u, struct net_lock **l)
{
	struct net_lock_conn *c = xzalloc((u->nr + 1) * sizeof(*c));
	int nr = 0, ns;

	*l = NULL;
	for (int i = 0; i < u->nr; i++)
		if (u->sks[i]->tcp && lock_conn(u->sks[i], &c[nr]) == 0)
			nr++;
	if (!nr || (rf->opts && rf->opts->network_lock_skip)) {
		free(c);
		return 0;
	}
	ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		pr_perror("can't open the network namespace to lock the connections made again");
	else
		*l = net_lock_take(&ns, 1, c, nr, NULL);
	if (ns >= 0)
		close(ns);
	free(c);
	if (!*l)
		pr_err("can't lock the connections while they are made again; --network-lock skip restores without");
	return *l ? 0 : -1;
}

static int in_open_locked(struct restore_files *rf);

/* Connections last: bound to a listener's port, they would stop its bind. */
static int in_open(struct restore_files *rf, struct img_dir *d, MmEntry **mms,
		   int nr_mms)
{
	struct insk_restore *u = restore_state(rf);
	bool tcp_close = rf->opts && rf->opts->tcp_close;
	struct net_lock *l = NULL;
	int ret;

	if (!tcp_close && lock_made(rf, u, &l))
		return -1;
	ret = in_open_locked(rf);
	/* Every end is made: what one sends now reaches the other. */
	net_lock_release(l);
	return ret;
}

static int in_open_locked(struct restore_files *rf)
{
	struct insk_restore *u = restore_state(rf);
	bool tcp_close = rf->opts && rf->opts->tcp_close;
	uint64_t slow;

	u->fd = xzalloc((u->nr + 1) * sizeof(int));
	for (int i = 0; i < u->nr; i++)
		u->fd[i] = -1;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < u->nr; i++) {
			const InetSkEntry *e = u->sks[i];

			if (!!e->tcp != pass)
				continue;
			u->fd[i] = files_to_service(e->tcp && !tcp_close ? make_conn(e) :
						    e->tcp ? make_closed(e) : make_socket(e),
						    rf->base);
			/* The tests: a busy machine, an end made long after another. */
			if (e->tcp && fault_arg("restore-slow-conns", &slow))
				usleep(slow * 1000);
			if (u->fd[i] < 0) {
				inet_raw_done();
				return -1;
			}
		}
	}
	inet_raw_done();
	/*
	 * Out of repair mode: the kernel sends a window probe, which tells
	 * the peer where things stand, and the bytes never sent go.
	 */
	for (int i = 0; i < u->nr; i++)
		if (u->sks[i]->tcp && !tcp_close && finish_conn(u->fd[i], u->sks[i]))
			return -1;
	return 0;
}

static int in_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct insk_restore *u = restore_state_ro(rf);
	int i = in_index(u, e->file_id);

	return i < 0 || !u->fd ? -1 : u->fd[i];
}

static void in_show(const struct restore_files *rf, const FdEntry *e, char *buf,
		    size_t len)
{
	const struct insk_restore *u = restore_state_ro(rf);
	int i = in_index(u, e->file_id);
	char what[200];

	if (i < 0) {
		snprintf(buf, len, "inet socket %u, not in the images", e->file_id);
		return;
	}
	sk_words(u->sks[i], what, sizeof(what));
	snprintf(buf, len, "%s, socket:[%llu]", what, (unsigned long long)u->sks[i]->ino);
}

const struct fd_kind_ops inetsk_fd_ops = {
	.name		= "inet socket",
	.kind		= FD_KIND__FD_INET_SK,
	.recognise	= in_recognise,
	.dump		= in_dump,
	.collected	= in_collected,
	.write		= in_write,
	.dump_done	= in_dump_done,
	.read		= in_read,
	.open		= in_open,
	.service_fd	= in_service_fd,
	.show		= in_show,
};
