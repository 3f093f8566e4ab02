#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

volatile sig_atomic_t case_go;

static void go_handler(int sig)
{
	(void)sig;
	case_go = 1;
}

void case_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = go_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) < 0)
		case_fail("sigaction(SIGUSR2): %s", strerror(errno));
	setvbuf(stdout, NULL, _IONBF, 0);
}

void case_ready(void)
{
	const char *path = getenv("CREST_READY");
	char tmp[4096];
	int fd;

	if (!path || !*path)
		return;
	/*
	 * Written aside and renamed: the runner sees the ready file only
	 * once it is closed, so the state it snapshots holds no fd of ours.
	 */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		case_fail("open %s: %s", tmp, strerror(errno));
	if (write(fd, "ready\n", 6) != 6)
		case_fail("write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rename(tmp, path))
		case_fail("rename %s: %s", tmp, strerror(errno));
}

void case_wait_go(void)
{
	while (!case_go)
		usleep(10000);
}

void case_pass(void)
{
	printf("PASS\n");
	fflush(stdout);
	exit(0);
}

void case_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

const char *case_tmpdir(void)
{
	const char *d = getenv("CREST_TMP");

	return (d && *d) ? d : "/tmp";
}

int case_own_ns(const char *kind)
{
	const char *host = getenv("CREST_HOST_NS");
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	n = readlink(path, link, sizeof(link) - 1);
	if (!host || n <= 0)
		return 0;
	link[n] = 0;
	return !strstr(host, link);
}

void case_netns_lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (!case_own_ns("net"))
		return;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		case_fail("can't read the flags of lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		case_fail("can't bring lo up in the case's network namespace: %s",
			  strerror(errno));
	close(fd);
}
