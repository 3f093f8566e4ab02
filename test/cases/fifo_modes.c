/*
 * A named FIFO in every open mode, in one process: an O_RDWR fd (reads
 * and writes both work after the restore), an O_RDONLY and an O_WRONLY
 * fd of the same FIFO (two descriptions: writing one, reading the
 * other), a second O_RDONLY description that is non-blocking while the
 * first is not, and O_ASYNC with an owner and F_SETSIG on the read end: a
 * write after the restore delivers that signal with si_fd set. Bytes sat
 * in the FIFO at the checkpoint; its mtime does not change at restore.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIG	(SIGRTMIN + 3)

int main(void)
{
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 500 } };
	struct f_owner_ex own;
	struct timespec wait = { 10, 0 };
	char path[256], buf[64];
	struct stat was, st;
	int rw, rd, wr, rd2, fl;
	siginfo_t si;
	sigset_t set;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-fifo-modes-%d", case_tmpdir(), getpid());
	unlink(path);
	if (mkfifo(path, 0600))
		case_fail("mkfifo: %s", strerror(errno));
	rw = open(path, O_RDWR);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	wr = open(path, O_WRONLY);
	rd2 = open(path, O_RDONLY | O_NONBLOCK);
	if (rw < 0 || rd < 0 || wr < 0 || rd2 < 0)
		case_fail("open the FIFO: %s", strerror(errno));
	fcntl(rd, F_SETFL, 0);		/* blocking; rd2 stays non-blocking */
	own = (struct f_owner_ex){ F_OWNER_PID, getpid() };
	if (fcntl(rd, F_SETOWN_EX, &own) || fcntl(rd, F_SETSIG, SIG) ||
	    fcntl(rd, F_SETFL, O_ASYNC))
		case_fail("O_ASYNC on the FIFO: %s", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIG);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (write(wr, "queued;", 7) != 7)
		case_fail("write: %s", strerror(errno));
	/* The write above signalled: take it now, before the checkpoint. */
	if (sigtimedwait(&set, &si, &wait) != SIG)
		case_fail("no signal before the checkpoint: %s", strerror(errno));
	if (utimensat(AT_FDCWD, path, old, 0) || stat(path, &was))
		case_fail("utimensat: %s", strerror(errno));

	case_ready();
	case_wait_go();

	if (stat(path, &st))
		case_fail("stat: %s", strerror(errno));
	if (st.st_mtim.tv_sec != was.st_mtim.tv_sec || st.st_mtim.tv_nsec != was.st_mtim.tv_nsec)
		case_fail("the FIFO's mtime changed: %lld.%09ld, was %lld.%09ld",
			  (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			  (long long)was.st_mtim.tv_sec, was.st_mtim.tv_nsec);
	if ((fcntl(rw, F_GETFL) & O_ACCMODE) != O_RDWR)
		case_fail("the O_RDWR fd is %#o now", fcntl(rw, F_GETFL) & O_ACCMODE);
	fl = fcntl(rd, F_GETFL);
	if ((fl & (O_ACCMODE | O_NONBLOCK | O_ASYNC)) != (O_RDONLY | O_ASYNC))
		case_fail("the read fd has the flags %#o, want O_RDONLY|O_ASYNC", fl);
	fl = fcntl(rd2, F_GETFL);
	if ((fl & (O_ACCMODE | O_NONBLOCK | O_ASYNC)) != (O_RDONLY | O_NONBLOCK))
		case_fail("the second read fd has the flags %#o, want O_RDONLY|O_NONBLOCK", fl);
	if ((fcntl(wr, F_GETFL) & O_ACCMODE) != O_WRONLY)
		case_fail("the write fd is not write-only");
	if (fcntl(rd, F_GETOWN_EX, &own) || own.type != F_OWNER_PID || own.pid != getpid())
		case_fail("the read fd's owner is %d (type %d), want %d", own.pid, own.type,
			  getpid());
	if (fcntl(rd, F_GETSIG) != SIG)
		case_fail("the read fd's signal is %d, want %d", fcntl(rd, F_GETSIG), SIG);

	/* The bytes of the checkpoint, through the read-only description. */
	if (read(rd, buf, 7) != 7 || memcmp(buf, "queued;", 7))
		case_fail("the FIFO lost its bytes");
	/* Read and write on the O_RDWR fd. */
	if (write(rw, "rw", 2) != 2)
		case_fail("write on the O_RDWR fd: %s", strerror(errno));
	if (read(rw, buf, 2) != 2 || memcmp(buf, "rw", 2))
		case_fail("read on the O_RDWR fd: %s", strerror(errno));
	/* A write through the write-only fd signals the read fd's owner. */
	if (write(wr, "x", 1) != 1)
		case_fail("write on the write-only fd: %s", strerror(errno));
	memset(&si, 0, sizeof(si));
	if (sigtimedwait(&set, &si, &wait) != SIG)
		case_fail("no signal %d after a write: %s", SIG, strerror(errno));
	if (si.si_fd != rd)
		case_fail("the signal names fd %d, want %d", si.si_fd, rd);
	if (read(rd2, buf, 1) != 1 || buf[0] != 'x')
		case_fail("read on the second read fd: %s", strerror(errno));
	if (read(rd2, buf, 1) != -1 || errno != EAGAIN)
		case_fail("the non-blocking read fd blocked or read");
	/* As the checkpoint saw it, for a second restore of the same images. */
	utimensat(AT_FDCWD, path, old, 0);
	if (!getenv("CREST_TMP"))
		unlink(path);
	case_pass();
}
