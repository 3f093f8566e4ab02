/*
 * A thread with an fd table of its own comes back with it, and fds whose
 * signals go to a thread other than the main one (F_OWNER_TID) still
 * send them there.
 *
 * Thread "own" calls unshare(CLONE_FILES): its table starts as a copy of
 * the process's. It then puts another pipe at fd 20 (the process's fd 20
 * is a pipe of its own), opens an eventfd at fd 26 that only it has, and
 * owns its fd 20 with O_ASYNC and SIGIO. Thread "peer" shares the
 * process's table and owns the process's fd 22 (another pipe) with
 * O_ASYNC and a real-time signal.
 *
 * After the restore, from inside: fd 20 of the main thread and of "own"
 * are different pipes, each carrying its own bytes; fd 26 is in the
 * thread's table only; closing fd 24 in "own" leaves the process's fd 24
 * open; a write into "own"'s pipe delivers SIGIO to "own", one into the
 * process's fd 22 pipe delivers the real-time signal to "peer". kcmp
 * KCMP_FILES says the tables are as they were.
 */
#include "caselib.h"
#include "mt_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RTSIG	(SIGRTMIN + 3)

static volatile int phase;		/* 1: set up, 2: go, 3/4: checked */
static volatile pid_t own_tid, peer_tid;
static volatile pid_t got_sigio, got_rtsig;	/* who took each signal */
static volatile ino_t own_fd20_ino;
static char own_err[256];

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (sig == SIGIO)
		got_sigio = mt_gettid();
	else
		got_rtsig = mt_gettid();
}

static long kcmp_files(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
}

static void owner(int fd, pid_t tid, int sig)
{
	struct f_owner_ex own = { F_OWNER_TID, tid };

	if (fcntl(fd, F_SETOWN_EX, &own) || fcntl(fd, F_SETSIG, sig) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | O_NONBLOCK))
		case_fail("owner of fd %d: %s", fd, strerror(errno));
}

static int check_owner(int fd, pid_t tid)
{
	struct f_owner_ex own;

	return !fcntl(fd, F_GETOWN_EX, &own) && own.type == F_OWNER_TID &&
	       own.pid == tid;
}

static ino_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* Wait for cond (an expression) a generous while; 0 if it never held. */
#define WAIT_FOR(cond) ({ \
	for (int _i = 0; !(cond) && _i < 10000; _i++) \
		usleep(1000); \
	(cond); })

#define OWN_FAIL(...) do { \
	snprintf(own_err, sizeof(own_err), __VA_ARGS__); \
	phase = 4; \
	for (;;) pause(); \
} while (0)

static void *own_fn(void *arg)
{
	int p[2];
	char c;

	(void)arg;
	if (unshare(CLONE_FILES))
		OWN_FAIL("unshare(CLONE_FILES): %s", strerror(errno));
	/* Another pipe at 20 and its write end at 23; an eventfd at 26. */
	if (pipe(p) || dup2(p[0], 20) < 0 || dup2(p[1], 23) < 0 ||
	    dup2(eventfd(7, 0), 26) < 0)
		OWN_FAIL("own fds: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	owner(20, mt_gettid(), SIGIO);
	own_tid = mt_gettid();
	while (phase < 2)
		usleep(1000);

	own_tid = mt_gettid();		/* under --no-restore-pid: the new one */
	if (fcntl(26, F_GETFD) < 0)
		OWN_FAIL("the thread's own eventfd 26 is gone: %s", strerror(errno));
	if (!check_owner(20, own_tid))
		OWN_FAIL("the thread's fd 20 is not owned by the thread %d", own_tid);
	own_fd20_ino = ino_of(20);
	if (write(23, "t", 1) != 1)
		OWN_FAIL("write into the thread's pipe: %s", strerror(errno));
	if (!WAIT_FOR(got_sigio))
		OWN_FAIL("no SIGIO from the thread's own pipe");
	if (got_sigio != own_tid)
		OWN_FAIL("SIGIO went to %d, not to the owner thread %d", got_sigio, own_tid);
	if (read(20, &c, 1) != 1 || c != 't')
		OWN_FAIL("the thread's fd 20 does not read its pipe");
	if (close(24))
		OWN_FAIL("close of the thread's fd 24: %s", strerror(errno));
	phase = 3;
	for (;;)
		pause();
	return NULL;
}

static void *peer_fn(void *arg)
{
	(void)arg;
	peer_tid = mt_gettid();
	while (phase < 2)
		usleep(1000);
	peer_tid = mt_gettid();
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_sig, .sa_flags = SA_SIGINFO | SA_RESTART };
	pthread_t own, peer;
	int a[2], b[2];
	char c;

	case_init();
	sigaction(SIGIO, &sa, NULL);
	sigaction(RTSIG, &sa, NULL);
	/* The process's pipe at 20/21, another at 22/25, a file at 24. */
	if (pipe(a) || dup2(a[0], 20) < 0 || dup2(a[1], 21) < 0 || pipe(b) ||
	    dup2(b[0], 22) < 0 || dup2(b[1], 25) < 0 ||
	    dup2(open("/dev/null", O_RDONLY), 24) < 0)
		case_fail("fds: %s", strerror(errno));
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	mt_block_go(1);
	if (pthread_create(&peer, NULL, peer_fn, NULL) ||
	    pthread_create(&own, NULL, own_fn, NULL))
		case_fail("pthread_create");
	mt_block_go(0);
	if (!WAIT_FOR(own_tid && peer_tid) && phase != 4)
		case_fail("the threads did not start");
	if (phase == 4)
		case_fail("%s", own_err);
	owner(22, peer_tid, RTSIG);
	if (kcmp_files(getpid(), own_tid) == 0 || kcmp_files(getpid(), peer_tid) != 0)
		case_fail("setup: the fd tables are not as meant");
	phase = 1;

	case_ready();
	case_wait_go();
	phase = 2;

	if (!WAIT_FOR(phase >= 3))
		case_fail("the thread with its own table did not check it");
	if (phase == 4)
		case_fail("%s", own_err);
	if (kcmp_files(getpid(), own_tid) == 0)
		case_fail("the thread's fd table is the process's again");
	if (kcmp_files(getpid(), peer_tid) != 0)
		case_fail("the other thread no longer shares the process's table");
	if (fcntl(26, F_GETFD) >= 0)
		case_fail("the thread's eventfd 26 is in the process's table too");
	if (fcntl(24, F_GETFD) < 0)
		case_fail("closing fd 24 in the thread closed the process's");
	if (ino_of(20) == own_fd20_ino)
		case_fail("fd 20 is the same pipe for the process and the thread");
	if (write(21, "m", 1) != 1 || read(20, &c, 1) != 1 || c != 'm')
		case_fail("the process's fd 20 does not read its pipe");
	if (got_rtsig)
		case_fail("a real-time signal came before its pipe was written");
	if (!check_owner(22, peer_tid))
		case_fail("fd 22 is not owned by thread %d", peer_tid);
	if (write(25, "p", 1) != 1)
		case_fail("write into fd 25: %s", strerror(errno));
	if (!WAIT_FOR(got_rtsig))
		case_fail("no signal from the pipe owned by thread %d", peer_tid);
	if (got_rtsig != peer_tid)
		case_fail("the pipe's signal went to %d, not to its owner thread %d",
			  got_rtsig, peer_tid);
	case_pass();
}
