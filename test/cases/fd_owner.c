/*
 * Owners and signals of fds (F_SETOWN_EX, F_SETSIG) come back, and so
 * does the SIGIO they deliver: a pipe owned by the main thread
 * (F_OWNER_TID) with plain SIGIO and a handler, a pipe owned by the
 * process group of a child (a group leader of the tree) with a real-time
 * signal, a regular file owned by the process (no signal can come from
 * it, the owner is still kept) and an eventfd owned by the process.
 * After the restore a write to each pipe delivers its signal to its
 * owner; the child checks that si_fd names the parent's fd.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RTSIG	(SIGRTMIN + 2)

static volatile sig_atomic_t sigio_fd = -1, sigio_count;

static void on_sigio(int sig, siginfo_t *si, void *uc)
{
	sigio_count++;
	sigio_fd = si->si_code == POLL_IN ? si->si_fd : -2;
}

static void set_owner(int fd, int type, pid_t pid, int sig, int async)
{
	struct f_owner_ex own = { type, pid };

	if (fcntl(fd, F_SETOWN_EX, &own) || fcntl(fd, F_SETSIG, sig) ||
	    (async && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC)))
		case_fail("owner of fd %d: %s", fd, strerror(errno));
}

static void check_owner(int fd, int type, pid_t pid, int sig)
{
	struct f_owner_ex own;

	if (fcntl(fd, F_GETOWN_EX, &own))
		case_fail("F_GETOWN_EX fd %d: %s", fd, strerror(errno));
	if (own.type != type || own.pid != pid)
		case_fail("fd %d: owner %d of type %d, want %d of type %d", fd,
			  own.pid, own.type, pid, type);
	if (fcntl(fd, F_GETSIG) != sig)
		case_fail("fd %d: signal %d, want %d", fd, fcntl(fd, F_GETSIG), sig);
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigio, .sa_flags = SA_SIGINFO };
	char path[256], c;
	int a[2], b[2], file, efd;
	pid_t me = getpid(), child;
	int status = 0;
	siginfo_t si;
	sigset_t set;

	case_init();
	sigaction(SIGIO, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, RTSIG);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (pipe(b))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child == 0) {
		/* A group of its own, which the parent's pipe signals. */
		setpgid(0, 0);
		int got;

		/* A checkpoint may interrupt the wait: EINTR, wait again. */
		do {
			memset(&si, 0, sizeof(si));
			got = sigwaitinfo(&set, &si);
		} while (got < 0 && errno == EINTR);
		if (got != RTSIG)
			_exit(2);
		_exit(si.si_fd == b[0] ? 0 : 3);
	}
	setpgid(child, child);
	snprintf(path, sizeof(path), "%s/crest-fd-owner-%d", case_tmpdir(), me);
	file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	efd = eventfd(0, 0);
	if (pipe(a) || file < 0 || efd < 0)
		case_fail("setup: %s", strerror(errno));
	set_owner(a[0], F_OWNER_TID, syscall(SYS_gettid), 0, 1);
	set_owner(b[0], F_OWNER_PGRP, child, RTSIG, 1);
	set_owner(file, F_OWNER_PID, me, SIGUSR1, 0);
	set_owner(efd, F_OWNER_PID, me, 0, 0);
	/*
	 * Ready once the child waits: inside sigwaitinfo() its blocked mask
	 * reads empty, outside it holds RTSIG, and the runner's /proc audit
	 * must see it in one state before the dump and after the restore.
	 */
	snprintf(path, sizeof(path), "/proc/%d/status", child);
	for (int i = 0;; i++) {
		char line[256];
		int waiting = 0;
		FILE *f = fopen(path, "r");

		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "SigBlk:", 7))
				waiting = strtoull(line + 7, NULL, 16) == 0;
		if (f)
			fclose(f);
		if (waiting)
			break;
		if (i == 30000)
			case_fail("the child never got to sigwaitinfo (30 s)");
		usleep(1000);
	}
	snprintf(path, sizeof(path), "%s/crest-fd-owner-%d", case_tmpdir(), me);

	case_ready();
	case_wait_go();

	check_owner(a[0], F_OWNER_TID, me, 0);
	check_owner(b[0], F_OWNER_PGRP, child, RTSIG);
	check_owner(file, F_OWNER_PID, me, SIGUSR1);
	check_owner(efd, F_OWNER_PID, me, 0);
	if (!(fcntl(a[0], F_GETFL) & O_ASYNC) || !(fcntl(b[0], F_GETFL) & O_ASYNC))
		case_fail("O_ASYNC is gone");

	sigio_count = 0;
	if (write(a[1], "x", 1) != 1)
		case_fail("write: %s", strerror(errno));
	for (int i = 0; i < 10000 && !sigio_count; i++)
		usleep(1000);
	if (!sigio_count)
		case_fail("no SIGIO after a write to the pipe");
	/* Plain SIGIO carries no si_fd: what matters is that it came. */
	if (read(a[0], &c, 1) != 1)
		case_fail("read: %s", strerror(errno));

	if (write(b[1], "y", 1) != 1)
		case_fail("write: %s", strerror(errno));
	for (int i = 0; i < 10000 && !waitpid(child, &status, WNOHANG); i++)
		usleep(1000);
	if (kill(child, 0) == 0) {
		kill(child, SIGKILL);
		case_fail("the child's group got no signal %d from the pipe", RTSIG);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child's signal was wrong (status %#x)", status);
	if (!getenv("CREST_TMP"))
		unlink(path);
	case_pass();
}
