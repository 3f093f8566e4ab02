/* Not a checkpoint/restore case: a parent and a child holding five things
 * crest can't save, in two processes: the parent a UDP socket on fd 5 with
 * receive timestamps on and a datagram queued (which a failed dump leaves
 * there) and
 * a page registered with a userfaultfd (which it keeps), the child a coredump_filter of
 * 0x3f and a guard region (MADV_GUARD_INSTALL) in shared memory. The errors mode expects one refusal listing all
 * four, the processes left running; after go each checks its state is
 * still there. Cases named err_* are run by the errors mode only. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOCK_FD	5
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

static unsigned int coredump_filter(void)
{
	char buf[32] = "";
	int fd = open("/proc/self/coredump_filter", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		case_fail("read coredump_filter: %s", strerror(errno));
	close(fd);
	return strtoul(buf, NULL, 16);
}

static void child(int ready_w)
{
	void *p;
	int fd;

	fd = open("/proc/self/coredump_filter", O_WRONLY);
	if (fd < 0 || write(fd, "0x3f", 4) != 4)
		case_fail("write coredump_filter: %s", strerror(errno));
	close(fd);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || madvise(p, 4096, MADV_GUARD_INSTALL))
		case_fail("MADV_GUARD_INSTALL: %s", strerror(errno));
	if (write(ready_w, "r", 1) != 1)
		case_fail("write: %s", strerror(errno));
	close(ready_w);
	case_wait_go();
	if (coredump_filter() != 0x3f)
		case_fail("child: coredump_filter is %#x, want 0x3f", coredump_filter());
	_exit(0);
}

int main(void)
{
	int rp[2], status, type = 0, s;
	socklen_t len = sizeof(type);
	char c;
	pid_t pid;
	void *p;

	case_init();
	if (pipe(rp))
		case_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(rp[0]);
		child(rp[1]);
	}
	close(rp[1]);
	if (read(rp[0], &c, 1) != 1)
		case_fail("the child did not get ready");
	close(rp[0]);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || dup2(s, SOCK_FD) < 0)
		case_fail("socket: %s", strerror(errno));
	if (s != SOCK_FD)
		close(s);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		int one = 1;

		if (setsockopt(SOCK_FD, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) ||
		    bind(SOCK_FD, (struct sockaddr *)&sa, sl) ||
		    getsockname(SOCK_FD, (struct sockaddr *)&sa, &sl) ||
		    sendto(SOCK_FD, "queued", 6, 0, (struct sockaddr *)&sa, sl) != 6)
			case_fail("udp: %s", strerror(errno));
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	{
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = {
			.range = { (unsigned long)p, 4096 },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
		    ioctl(uffd, UFFDIO_REGISTER, &reg))
			case_fail("userfaultfd: %s", strerror(errno));
	}

	case_ready();
	case_wait_go();

	if (getsockopt(SOCK_FD, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_DGRAM)
		case_fail("the socket on fd %d is gone", SOCK_FD);
	{
		char buf[16];

		if (recv(SOCK_FD, buf, sizeof(buf), MSG_DONTWAIT) != 6 ||
		    memcmp(buf, "queued", 6))
			case_fail("the datagram queued on fd %d is gone", SOCK_FD);
	}
	if (kill(pid, SIGUSR2) || waitpid(pid, &status, 0) != pid)
		case_fail("can't wait for the child: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child failed (status %#x)", status);
	case_pass();
}
