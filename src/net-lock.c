/*
 * The network lock, without iptables or nftables: a small BPF program,
 * assembled here by hand and loaded with bpf(2) (no libbpf, no compiler),
 * of type SCHED_CLS, attached with BPF_LINK_CREATE on tcx (Linux 6.6 and
 * later) to the ingress and the egress of every interface of the network
 * namespace of the dumped connections, lo included. It drops every IPv4
 * and IPv6 TCP segment whose addresses and ports are those of a dumped
 * connection, either way (a hash map of their 4-tuples, both directions);
 * a packet marked NET_LOCK_MARK passes (the segments crest sends a
 * connection it repairs, sk-inet.c's peer_segment). Nothing else is
 * touched: the map holds only the dumped connections.
 *
 * The lock is held by the link fds: closed, the programs are gone at
 * once. The dump holds them itself, so that however it ends (a failure,
 * crest killed) the lock ends with it. A dump that kills the tree hands
 * them to a keeper (a process named crest-netlock, listening on the
 * abstract unix socket the inventory names, net_lock_keep), forked as the
 * lock is taken: until the dump says 'k' it lives only as long as the
 * dump (its end of a socketpair), after it until a restore connects and
 * says 'u' (net_lock_unlock), or it is killed.
 *
 * What the program does, per packet (skb data is read with
 * bpf_skb_load_bytes_relative from the network header, so any link layer
 * is the same):
 *
 *	mark == NET_LOCK_MARK			-> next
 *	IPv4, protocol TCP, first fragment	key = {4, saddr, daddr, ports}
 *	IPv6, next header TCP			key = {6, saddr, daddr, ports}
 *	otherwise				-> next
 *	key in the map				-> drop, else next
 *
 * An IPv6 segment behind extension headers is not matched (the kernel's
 * TCP sends none).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "net-lock.h"
#include "util.h"

/* Newer than the headers here (Linux 6.6). */
#define CR_BPF_TCX_INGRESS	46
#define CR_BPF_TCX_EGRESS	47
#define TCX_NEXT		-1
#define TCX_DROP		2

/* The map's key: what a segment's headers say, in network order. */
struct lock_key {
	uint32_t family;	/* 4 or 6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

_Static_assert(sizeof(struct lock_key) == 40, "lock_key is the program's 40 bytes");
/* struct __sk_buff, as the program reads it. */
_Static_assert(offsetof(struct __sk_buff, mark) == 8, "__sk_buff.mark");
_Static_assert(offsetof(struct __sk_buff, protocol) == 16, "__sk_buff.protocol");

struct net_lock {
	int *links;
	int nr_links;
	int ctl;		/* the keeper's socketpair end, or -1 */
	pid_t keeper;		/* its pid, if any */
};

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* ---- the program ---- */

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R4 BPF_REG_4
#define R5 BPF_REG_5
#define R6 BPF_REG_6
#define FP BPF_REG_10

enum { L_PASS, L_V4, L_V6, L_PORTS, L_NR };

struct prog {
	struct bpf_insn in[96];
	int n;
	int label[L_NR];
	int fix[16], fix_to[16], nr_fix;
};

static void emit(struct prog *p, struct bpf_insn i)
{
	BUG_ON(p->n == ARRAY_SIZE(p->in));
	p->in[p->n++] = i;
}

/* A jump to a label, resolved by prog_end. */
static void jump(struct prog *p, struct bpf_insn i, int to)
{
	BUG_ON(p->nr_fix == ARRAY_SIZE(p->fix));
	p->fix[p->nr_fix] = p->n;
	p->fix_to[p->nr_fix++] = to;
	emit(p, i);
}

static void here(struct prog *p, int l)
{
	p->label[l] = p->n;
}

static void prog_end(struct prog *p)
{
	for (int i = 0; i < p->nr_fix; i++)
		p->in[p->fix[i]].off = p->label[p->fix_to[i]] - p->fix[i] - 1;
}

/* r0 = bpf_skb_load_bytes_relative(ctx, r2 (set), fp + to, len, network header). */
static void load_net(struct prog *p, int to, int len)
{
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0));
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_X, R3, FP, 0, 0));
	emit(p, I(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, to));
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, len));
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R5, 0, 0, BPF_HDR_START_NET));
	emit(p, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes_relative));
	jump(p, I(BPF_JMP | BPF_JNE | BPF_K, R0, 0, 0, 0), L_PASS);
}

/* Copy n 32-bit words of the stack from fp + from to fp + to. */
static void copy_words(struct prog *p, int from, int to, int n)
{
	for (int i = 0; i < n; i++) {
		emit(p, I(BPF_LDX | BPF_MEM | BPF_W, R1, FP, from + 4 * i, 0));
		emit(p, I(BPF_STX | BPF_MEM | BPF_W, FP, R1, to + 4 * i, 0));
	}
}

/*
 * The stack: the key at fp-40 (its ports at fp-4), the IP header read at
 * fp-80 (40 bytes).
 */
#define KEY	-40
#define HDR	-80

static void build(struct prog *p, int map_fd)
{
	memset(p, 0, sizeof(*p));
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0));
	emit(p, I(BPF_LDX | BPF_MEM | BPF_W, R0, R6, offsetof(struct __sk_buff, mark), 0));
	jump(p, I(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, NET_LOCK_MARK), L_PASS);
	for (int off = KEY; off < 0; off += 8)
		emit(p, I(BPF_ST | BPF_MEM | BPF_DW, FP, 0, off, 0));
	/* skb->protocol is big-endian: 0x0800 reads 0x0008 here. */
	emit(p, I(BPF_LDX | BPF_MEM | BPF_W, R0, R6, offsetof(struct __sk_buff, protocol), 0));
	jump(p, I(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, htons(0x0800)), L_V4);
	jump(p, I(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, htons(0x86dd)), L_V6);
	jump(p, I(BPF_JMP | BPF_JA, 0, 0, 0, 0), L_PASS);

	here(p, L_V4);
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, 0));
	load_net(p, HDR, 20);
	emit(p, I(BPF_LDX | BPF_MEM | BPF_B, R1, FP, HDR + 9, 0));
	jump(p, I(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 0, IPPROTO_TCP), L_PASS);
	/* The fragment offset (13 bits of bytes 6-7, big-endian) must be 0. */
	emit(p, I(BPF_LDX | BPF_MEM | BPF_H, R1, FP, HDR + 6, 0));
	jump(p, I(BPF_JMP | BPF_JSET | BPF_K, R1, 0, 0, htons(0x1fff)), L_PASS);
	emit(p, I(BPF_ST | BPF_MEM | BPF_W, FP, 0, KEY, 4));
	copy_words(p, HDR + 12, KEY + 4, 1);
	copy_words(p, HDR + 16, KEY + 20, 1);
	/* The TCP header is IHL words in. */
	emit(p, I(BPF_LDX | BPF_MEM | BPF_B, R2, FP, HDR, 0));
	emit(p, I(BPF_ALU64 | BPF_AND | BPF_K, R2, 0, 0, 0x0f));
	emit(p, I(BPF_ALU64 | BPF_LSH | BPF_K, R2, 0, 0, 2));
	jump(p, I(BPF_JMP | BPF_JA, 0, 0, 0, 0), L_PORTS);

	here(p, L_V6);
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, 0));
	load_net(p, HDR, 40);
	emit(p, I(BPF_LDX | BPF_MEM | BPF_B, R1, FP, HDR + 6, 0));
	jump(p, I(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 0, IPPROTO_TCP), L_PASS);
	emit(p, I(BPF_ST | BPF_MEM | BPF_W, FP, 0, KEY, 6));
	copy_words(p, HDR + 8, KEY + 4, 4);
	copy_words(p, HDR + 24, KEY + 20, 4);
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, 40));

	here(p, L_PORTS);
	load_net(p, KEY + 36, 4);
	emit(p, I(BPF_LD | BPF_DW | BPF_IMM, R1, BPF_PSEUDO_MAP_FD, 0, map_fd));
	emit(p, I(0, 0, 0, 0, 0));
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_X, R2, FP, 0, 0));
	emit(p, I(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, KEY));
	emit(p, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
	jump(p, I(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 0), L_PASS);
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, TCX_DROP));
	emit(p, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

	here(p, L_PASS);
	emit(p, I(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, TCX_NEXT));
	emit(p, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	prog_end(p);
}

static int map_make(int nr)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH;
	a.key_size = sizeof(struct lock_key);
	a.value_size = 1;
	a.max_entries = nr > 0 ? 2 * nr : 1;
	strcpy(a.map_name, "crest_netlock");
	fd = sys_bpf(BPF_MAP_CREATE, &a);
	if (fd < 0)
		pr_perror("can't make the network lock's BPF map (BPF_MAP_CREATE)");
	return fd;
}

static int map_add(int fd, const struct lock_key *k)
{
	union bpf_attr a;
	uint8_t one = 1;

	memset(&a, 0, sizeof(a));
	a.map_fd = fd;
	a.key = (uintptr_t)k;
	a.value = (uintptr_t)&one;
	a.flags = BPF_ANY;
	if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a)) {
		pr_perror("can't add a connection to the network lock's BPF map");
		return -1;
	}
	return 0;
}

static int prog_load(int map_fd)
{
	static char vlog[8192];
	struct prog p;
	union bpf_attr a;
	int fd;

	build(&p, map_fd);
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	a.insns = (uintptr_t)p.in;
	a.insn_cnt = p.n;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)vlog;
	a.log_size = sizeof(vlog);
	a.log_level = 1;
	strcpy(a.prog_name, "crest_netlock");
	vlog[0] = 0;
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0 && errno == ENOSPC) {
		/* The log did not fit: load again without it for the real error. */
		a.log_buf = 0;
		a.log_size = a.log_level = 0;
		fd = sys_bpf(BPF_PROG_LOAD, &a);
	}
	if (fd < 0) {
		size_t l = strlen(vlog);

		pr_perror("can't load the network lock's BPF program (BPF_PROG_LOAD)%s%s",
			  l ? "; the verifier said: " : "", l > 600 ? vlog + l - 600 : vlog);
	}
	return fd;
}

static int link_make(int prog, int ifindex, int type)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = prog;
	a.link_create.target_ifindex = ifindex;
	a.link_create.attach_type = type;
	return sys_bpf(BPF_LINK_CREATE, &a);
}

static const char *tcx_words(int err)
{
	return err == EINVAL ? "this kernel has no tcx (BPF_TCX_INGRESS/EGRESS, Linux 6.6 and later)" :
	       err == EPERM ? "crest lacks CAP_BPF and CAP_NET_ADMIN" : strerror(err);
}

const char *net_lock_probe(void)
{
	static char why[200];
	int map, prog, l;

	map = map_make(1);
	if (map < 0) {
		snprintf(why, sizeof(why), "BPF_MAP_CREATE fails: %s", strerror(errno));
		return why;
	}
	prog = prog_load(map);
	close(map);
	if (prog < 0) {
		snprintf(why, sizeof(why), "the program does not load: %s", strerror(errno));
		return why;
	}
	/* On lo, with an empty map: nothing matches while it is there. */
	l = link_make(prog, if_nametoindex("lo"), CR_BPF_TCX_INGRESS);
	close(prog);
	if (l < 0) {
		snprintf(why, sizeof(why), "%s", tcx_words(errno));
		return why;
	}
	close(l);
	return NULL;
}

static void key_of(struct lock_key *k, const struct net_lock_conn *c, bool back)
{
	int n = c->family == AF_INET ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->family = c->family == AF_INET ? 4 : 6;
	memcpy(k->src, back ? c->dst : c->src, n);
	memcpy(k->dst, back ? c->src : c->dst, n);
	k->sport = back ? c->dport : c->sport;
	k->dport = back ? c->sport : c->dport;
}

/* Every interface of the current network namespace, both ways. */
static int attach_all(struct net_lock *l, int prog)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int ret = 0;

	if (!ifs) {
		pr_perror("can't list the interfaces to lock");
		return -1;
	}
	for (i = ifs; i->if_index && !ret; i++) {
		for (int dir = 0; dir < 2; dir++) {
			int fd = link_make(prog, i->if_index, dir ? CR_BPF_TCX_EGRESS :
					   CR_BPF_TCX_INGRESS);

			if (fd < 0) {
				pr_err("can't lock the %s of interface '%s' (BPF_LINK_CREATE on tcx): %s; --network-lock skip dumps without a lock",
				       dir ? "egress" : "ingress", i->if_name, tcx_words(errno));
				ret = -1;
				break;
			}
			l->links = xrealloc(l->links, (l->nr_links + 1) * sizeof(int));
			l->links[l->nr_links++] = fd;
		}
	}
	if_freenameindex(ifs);
	return ret;
}

static void close_links(struct net_lock *l)
{
	for (int i = 0; i < l->nr_links; i++)
		close(l->links[i]);
	free(l->links);
	l->links = NULL;
	l->nr_links = 0;
}

static void sock_name(struct sockaddr_un *sa, socklen_t *len, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s", name);
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

/*
 * The keeper: first as long as the dump (its 'k' on ctl, or ctl's end:
 * the dump is gone, the lock with it), then till a restore's 'u'.
 */
static void keeper_main(struct net_lock *l, int lsk, int ctl)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char c = 0;
	pid_t pid;

	setsid();
	if (chdir("/"))
		_exit(1);
	prctl(PR_SET_NAME, "crest-netlock");
	sigset_t none;

	/* The dump's handlers are not the keeper's: a SIGTERM ends it, and the lock. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	log_init(NULL, -1);
	pid = getpid();
	if (write(ctl, &pid, sizeof(pid)) != sizeof(pid))
		c = 0;
	else
		while (read(ctl, &c, 1) < 0 && errno == EINTR)
			;
	if (c != 'k') {
		/* The links first: the dump waits for ctl's end. */
		close_links(l);
		_exit(0);
	}
	close(ctl);
	for (;;) {
		struct ucred cr;
		socklen_t len = sizeof(cr);
		int sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);

		if (sk < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			_exit(1);
		}
		/* Who it is, then only root or its own user may let the lock go. */
		if (write(sk, &pid, sizeof(pid)) == sizeof(pid) &&
		    !getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cr, &len) &&
		    (cr.uid == 0 || cr.uid == getuid())) {
			struct pollfd p = { sk, POLLIN, 0 };

			if (poll(&p, 1, 10000) == 1 && read(sk, &c, 1) == 1 && c == 'u') {
				close_links(l);
				if (write(sk, "d", 1) != 1)
					_exit(1);
				_exit(0);
			}
		}
		close(sk);
	}
}

static int start_keeper(struct net_lock *l, const char *name)
{
	struct sockaddr_un sa;
	socklen_t len;
	int lsk, sp[2], *keep, ret;

	sock_name(&sa, &len, name);
	lsk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&sa, len) || listen(lsk, 4)) {
		pr_perror("can't make the network lock keeper's socket '@%s'", name);
		if (lsk >= 0)
			close(lsk);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
		pr_perror("can't make a socketpair");
		close(lsk);
		return -1;
	}
	keep = xzalloc((l->nr_links + 2) * sizeof(int));
	keep[0] = lsk;
	keep[1] = sp[1];
	memcpy(keep + 2, l->links, l->nr_links * sizeof(int));
	ret = fork_keeper("network lock keeper", keep, l->nr_links + 2);
	free(keep);
	if (ret == 0)
		keeper_main(l, lsk, sp[1]);
	close(lsk);
	close(sp[1]);
	if (ret < 0) {
		close(sp[0]);
		return -1;
	}
	l->ctl = sp[0];
	if (read_all(l->ctl, &l->keeper, sizeof(l->keeper))) {
		pr_err("the network lock keeper did not start");
		close(l->ctl);
		l->ctl = -1;
		return -1;
	}
	/* The keeper holds the links now; the dump's copies go. */
	close_links(l);
	return 0;
}

struct net_lock *net_lock_take(const int *nsfds, int nr_ns, const struct net_lock_conn *conns,
			       int nr, const char *keeper)
{
	struct net_lock *l = xzalloc(sizeof(*l));
	int map, prog = -1, own = -1;

	l->ctl = -1;
	map = map_make(nr);
	if (map < 0)
		goto err;
	for (int i = 0; i < nr; i++) {
		struct lock_key k;

		for (int back = 0; back < 2; back++) {
			key_of(&k, &conns[i], back);
			if (map_add(map, &k))
				goto err;
		}
	}
	prog = prog_load(map);
	if (prog < 0)
		goto err;
	own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0) {
		pr_perror("can't open crest's network namespace");
		goto err;
	}
	for (int i = 0; i < nr_ns; i++) {
		int ret;

		if (setns(nsfds[i], CLONE_NEWNET)) {
			pr_perror("can't join the network namespace of the connections to lock them");
			goto err;
		}
		ret = attach_all(l, prog);
		if (setns(own, CLONE_NEWNET)) {
			pr_perror("can't go back to crest's network namespace");
			goto err;
		}
		if (ret)
			goto err;
	}
	close(own);
	close(prog);
	close(map);
	pr_debug("network lock: %d connection%s, %d interface hooks", nr, nr > 1 ? "s" : "",
		 l->nr_links);
	if (keeper && start_keeper(l, keeper))
		goto err_links;
	if (keeper)
		pr_debug("network lock held by its keeper %d, '@%s'", l->keeper, keeper);
	return l;
err:
	if (own >= 0)
		close(own);
	if (prog >= 0)
		close(prog);
	if (map >= 0)
		close(map);
err_links:
	close_links(l);
	free(l);
	return NULL;
}

void net_lock_release(struct net_lock *l)
{
	if (!l)
		return;
	close_links(l);
	/* The keeper hears its socketpair's end and goes, with the links. */
	if (l->ctl >= 0) {
		char c;

		shutdown(l->ctl, SHUT_WR);
		/* Its end: the links are closed by then. */
		struct pollfd p = { l->ctl, POLLIN, 0 };

		if (poll(&p, 1, 10000) != 1 || read(l->ctl, &c, 1) != 0)
			pr_warn("the network lock keeper %d did not end", l->keeper);
		close(l->ctl);
	}
	free(l);
}

int net_lock_keep(struct net_lock *l)
{
	int ret = 0;

	if (!l)
		return 0;
	if (l->ctl < 0) {
		net_lock_release(l);
		return 0;
	}
	if (write(l->ctl, "k", 1) != 1) {
		pr_perror("can't hand the network lock to its keeper %d", l->keeper);
		ret = -1;
	} else {
		pr_info("the network lock stays, held by its keeper crest-netlock (pid %d) till a restore of the images lets it go; if they are never restored, kill it",
			l->keeper);
	}
	close(l->ctl);
	free(l);
	return ret;
}

static int keeper_connect(const char *keeper)
{
	struct sockaddr_un sa;
	socklen_t len;
	int sk;

	sock_name(&sa, &len, keeper);
	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return -1;
	if (connect(sk, (struct sockaddr *)&sa, len)) {
		int e = errno;

		close(sk);
		errno = e;
		return -1;
	}
	return sk;
}

/* The keeper says its pid first (SO_PEERCRED names the dump that listened). */
static pid_t keeper_says_pid(int sk)
{
	struct pollfd p = { sk, POLLIN, 0 };
	pid_t pid = 0;

	if (poll(&p, 1, 10000) != 1 || read(sk, &pid, sizeof(pid)) != sizeof(pid))
		return 0;
	return pid;
}

pid_t net_lock_keeper_pid(const char *keeper)
{
	int sk = keeper_connect(keeper);
	pid_t pid;

	if (sk < 0)
		return 0;
	pid = keeper_says_pid(sk);
	close(sk);
	return pid;
}

int net_lock_unlock(const char *keeper)
{
	struct pollfd p;
	char c = 0;
	int sk = keeper_connect(keeper);
	pid_t pid;

	if (sk < 0) {
		pr_warn("the network lock of the dump is not there: no keeper answers at '@%s' (%s): it was let go by an earlier restore of these images, or its keeper (crest-netlock) was killed; then the connections were not locked since, and a peer that sent meanwhile was answered with a reset",
			keeper, strerror(errno));
		return 1;
	}
	pid = keeper_says_pid(sk);
	p.fd = sk;
	p.events = POLLIN;
	if (!pid || write(sk, "u", 1) != 1 || poll(&p, 1, 10000) != 1 || read(sk, &c, 1) != 1 ||
	    c != 'd') {
		pr_err("the network lock keeper '@%s' (crest-netlock, pid %d) did not let the lock go: kill it to let the connections flow",
		       keeper, pid);
		close(sk);
		return -1;
	}
	close(sk);
	pr_info("network lock let go (keeper %d, '@%s')", pid, keeper);
	return 0;
}
