/* Not a checkpoint/restore case: sockets crest can't save yet, next to one
 * it could:
 *   fd 10, 11  a TCP connection over loopback, both ends (ESTABLISHED)
 *   fd 12      a TCP listener with a connection waiting to be accepted
 *              (its client at fd 13, established too)
 *   fd 14      a NETLINK_ROUTE socket with the kernel's answer queued
 *   fd 15      a packet socket bound to lo with a receive ring mapped
 *              (PACKET_RX_RING)
 *   fd 16      a raw ICMP socket with packets queued
 *   fd 17      a bound UDP socket, which crest could save
 *   fd 18      a UDP socket with an eBPF socket filter (SO_ATTACH_BPF),
 *              which can't be read back
 *   fd 19      a UDP socket with SO_TIMESTAMP and a datagram queued (when
 *              it came can't be given back)
 *   fd 20      a packet socket in a fanout group of mode PACKET_FANOUT_CBPF
 *              (its program can't be read back)
 *   fd 21      a UDP socket connected to a closed port, with the error of
 *              its datagram's ICMP answer pending (SO_ERROR)
 *   fd 22      a UDP socket with IP_RECVERR and that error in its error
 *              queue
 *   fd 23      a UDP socket with SO_TIMESTAMPING's OPT_ID (its counter)
 *   fd 24      a UDP socket with SO_ZEROCOPY (its counter)
 *   fd 25      a UDP socket of an SO_REUSEPORT group whose other member a
 *              process outside the tree holds (a grandchild left to the
 *              runner, which exits when this process does)
 * The errors mode expects every one of fds 10-16 and 18-25 refused by name with its
 * addresses or protocol, fd 17 not, and the process left running; after
 * go the connection carries bytes both ways, the waiting one is accepted
 * and the netlink answer is there. Cases named err_* are run by the errors mode only. */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/net_tstamp.h>
#include <unistd.h>

#define ETH_P_RING	0x88b9	/* local experimental: nothing sends it */

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static void at(int fd, int want)
{
	must(fd >= 0 && dup2(fd, want) == want, "dup2");
	if (fd != want)
		close(fd);
}

static int listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0);

	must(l >= 0 && !bind(l, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l, 4),
	     "listener");
	return l;
}

static int client_of(int l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int c = socket(AF_INET, SOCK_STREAM, 0);

	must(c >= 0 && !getsockname(l, (struct sockaddr *)&ss, &len) &&
	     !connect(c, (struct sockaddr *)&ss, len), "connect");
	return c;
}

static void expect(int fd, const char *want)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[32];
	ssize_t n;

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d: nothing to read in 30 s", fd);
	n = recv(fd, buf, sizeof(buf), 0);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		case_fail("fd %d: read %zd bytes, want '%s'", fd, n, want);
}

int main(void)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l, a;

	case_init();
	l = listener();
	at(client_of(l), 10);
	at(accept(l, NULL, NULL), 11);
	close(l);
	at(listener(), 12);
	at(client_of(12), 13);
	at(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), 14);
	must(!bind(14, (struct sockaddr *)&nl, sizeof(nl)), "bind netlink");
	{
		struct {
			struct nlmsghdr h;
			struct rtgenmsg g;
		} req = { { sizeof(req), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
			  { AF_UNSPEC } };
		struct pollfd p = { 14, POLLIN, 0 };

		must(send(14, &req, sizeof(req), 0) == sizeof(req) && poll(&p, 1, 30000) == 1,
		     "netlink request");
	}
	at(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_RING)), 15);
	{
		struct sockaddr_ll sll = { .sll_family = AF_PACKET,
					   .sll_protocol = htons(ETH_P_RING), .sll_ifindex = 1 };
		struct tpacket_req r = { .tp_block_size = 4096, .tp_block_nr = 1,
					 .tp_frame_size = 2048, .tp_frame_nr = 2 };

		must(!bind(15, (struct sockaddr *)&sll, sizeof(sll)) &&
		     !setsockopt(15, SOL_PACKET, PACKET_RX_RING, &r, sizeof(r)) &&
		     mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 15, 0) != MAP_FAILED,
		     "a packet socket with a ring");
	}
	at(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), 16);
	{
		/* An echo request to lo: its copy (and the reply's) queued on fd 16. */
		unsigned char req[8] = { 8, 0, 0xf7, 0xfe, 0, 1, 0, 0 };
		struct pollfd p = { 16, POLLIN, 0 };

		must(sendto(16, req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) ==
		     sizeof(req) && poll(&p, 1, 30000) == 1, "an echo request on fd 16");
	}
	at(socket(AF_INET, SOCK_DGRAM, 0), 17);
	must(!bind(17, (struct sockaddr *)&sa, sizeof(sa)), "bind udp");
	{
		/* r0 = 0; exit: drops everything. */
		struct bpf_insn insns[2] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		union bpf_attr attr;
		int prog;

		memset(&attr, 0, sizeof(attr));
		attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		attr.insns = (unsigned long)insns;
		attr.insn_cnt = 2;
		attr.license = (unsigned long)"GPL";
		prog = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
		must(prog >= 0, "load an eBPF socket filter");
		at(socket(AF_INET, SOCK_DGRAM, 0), 18);
		must(!setsockopt(18, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)),
		     "attach the eBPF filter");
		close(prog);
	}

	at(socket(AF_INET, SOCK_DGRAM, 0), 19);
	{
		int one = 1;
		socklen_t len = sizeof(sa);
		struct pollfd p = { 19, POLLIN, 0 };

		sa.sin_port = 0;
		must(!setsockopt(19, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) &&
		     !bind(19, (struct sockaddr *)&sa, sizeof(sa)) &&
		     !getsockname(19, (struct sockaddr *)&sa, &len) &&
		     sendto(17, "t", 1, 0, (struct sockaddr *)&sa, len) == 1 &&
		     poll(&p, 1, 30000) == 1, "a datagram for fd 19");
	}

	at(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_RING + 1)), 20);
	{
		int fanout = (getpid() & 0xffff) | PACKET_FANOUT_CBPF << 16;

		must(!setsockopt(20, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)),
		     "a fanout group of mode PACKET_FANOUT_CBPF");
	}

	/* A port nobody listens on: bound, then closed. */
	{
		struct sockaddr_in closed = sa;
		socklen_t len = sizeof(closed);
		int t = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
		struct pollfd p[2] = { { 21, POLLERR, 0 }, { 22, POLLERR, 0 } };

		closed.sin_port = 0;
		must(t >= 0 && !bind(t, (struct sockaddr *)&closed, sizeof(closed)) &&
		     !getsockname(t, (struct sockaddr *)&closed, &len), "a port to close");
		close(t);
		at(socket(AF_INET, SOCK_DGRAM, 0), 21);
		must(!connect(21, (struct sockaddr *)&closed, len) && send(21, "e", 1, 0) == 1,
		     "send to a closed port");
		at(socket(AF_INET, SOCK_DGRAM, 0), 22);
		must(!setsockopt(22, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) &&
		     sendto(22, "e", 1, 0, (struct sockaddr *)&closed, len) == 1,
		     "send to a closed port with IP_RECVERR");
		must(poll(&p[0], 1, 30000) == 1 && poll(&p[1], 1, 30000) == 1,
		     "the ICMP errors of fds 21 and 22");
	}
	at(socket(AF_INET, SOCK_DGRAM, 0), 23);
	{
		int ts = SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_TX_SOFTWARE |
			 SOF_TIMESTAMPING_SOFTWARE, one = 1;

		must(!setsockopt(23, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)),
		     "SO_TIMESTAMPING with OPT_ID");
		at(socket(AF_INET, SOCK_DGRAM, 0), 24);
		must(!setsockopt(24, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)), "SO_ZEROCOPY");
	}
	{
		struct sockaddr_in g = sa;
		socklen_t len = sizeof(g);
		int one = 1, ready[2], hold[2];
		char c;

		g.sin_port = 0;
		at(socket(AF_INET, SOCK_DGRAM, 0), 25);
		must(!setsockopt(25, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) &&
		     !bind(25, (struct sockaddr *)&g, sizeof(g)) &&
		     !getsockname(25, (struct sockaddr *)&g, &len) && !pipe(ready) && !pipe(hold),
		     "an SO_REUSEPORT socket");
		if (!fork()) {
			if (fork())
				_exit(0);
			/* Left to the runner: outside the tree. */
			int o = socket(AF_INET, SOCK_DGRAM, 0);

			close(hold[1]);
			if (o < 0 || setsockopt(o, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
			    bind(o, (struct sockaddr *)&g, len) || write(ready[1], "r", 1) != 1)
				_exit(1);
			for (int i = 3; i < 64; i++)
				if (i != hold[0] && i != o)
					close(i);
			if (read(hold[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(hold[0]);
		close(ready[1]);
		must(read(ready[0], &c, 1) == 1, "the socket outside the tree");
		close(ready[0]);
		wait(NULL);
	}

	case_ready();
	case_wait_go();

	must(send(10, "to-server", 9, 0) == 9 && send(11, "to-client", 9, 0) == 9, "send");
	expect(11, "to-server");
	expect(10, "to-client");
	a = accept(12, NULL, NULL);
	must(a >= 0, "accept the waiting connection");
	must(send(13, "waited", 6, 0) == 6, "send");
	expect(a, "waited");
	{
		char buf[8192];

		must(recv(14, buf, sizeof(buf), MSG_DONTWAIT) > 0, "the netlink answer");
		must(recv(19, buf, sizeof(buf), MSG_DONTWAIT) == 1, "the datagram of fd 19");
	}
	case_pass();
}
