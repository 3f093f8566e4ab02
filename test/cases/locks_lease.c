/*
 * Leases (F_SETLEASE): a read lease on a file open read-only, a write
 * lease on a file open read-write, each the only open of its file. After
 * the restore F_GETLEASE gives them back; an outside checker's
 * non-blocking open that conflicts fails with EWOULDBLOCK and starts a
 * break, which signals us (SIGIO: the restored process is the lease's
 * owner); we release them and the checker's open succeeds.
 */
#include "locks_util.h"

#include <time.h>

static char r_path[4096], w_path[4096];
static volatile sig_atomic_t sigio;

static void on_sigio(int sig)
{
	(void)sig;
	sigio++;
}

static int checker_break(void *arg)
{
	int fd;

	(void)arg;
	fd = open(r_path, O_WRONLY | O_NONBLOCK);
	if (fd >= 0 || errno != EWOULDBLOCK)
		return lk_bad("opened the read-leased file for writing: %s",
			      fd >= 0 ? "it worked" : strerror(errno));
	fd = open(w_path, O_RDONLY | O_NONBLOCK);
	if (fd >= 0 || errno != EWOULDBLOCK)
		return lk_bad("opened the write-leased file: %s",
			      fd >= 0 ? "it worked" : strerror(errno));
	return 0;
}

static int checker_free(void *arg)
{
	int a = open(r_path, O_WRONLY | O_NONBLOCK), b = open(w_path, O_RDONLY | O_NONBLOCK);

	(void)arg;
	if (a < 0 || b < 0)
		return lk_bad("can't open the files once the leases are gone: %s",
			      strerror(errno));
	return 0;
}

int main(void)
{
	char before_r[256], before_w[256], after[256];
	struct sigaction sa;
	int rfd, wfd, pid = 0;

	case_init();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigio;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGIO, &sa, NULL);
	lk_mkfile(r_path, "lease-r", 10);
	lk_mkfile(w_path, "lease-w", 10);
	rfd = lk_open(r_path, O_RDONLY);
	wfd = lk_open(w_path, O_RDWR);
	if (fcntl(rfd, F_SETLEASE, F_RDLCK) || fcntl(wfd, F_SETLEASE, F_WRLCK))
		case_fail("F_SETLEASE: %s", strerror(errno));
	if (lk_fdinfo(rfd, before_r, sizeof(before_r), NULL) != 1 ||
	    lk_fdinfo(wfd, before_w, sizeof(before_w), NULL) != 1)
		case_fail("leases not as set up");

	case_ready();
	case_wait_go();

	if (fcntl(rfd, F_GETLEASE) != F_RDLCK || fcntl(wfd, F_GETLEASE) != F_WRLCK)
		case_fail("F_GETLEASE after restore: %d %d, want %d %d",
			  fcntl(rfd, F_GETLEASE), fcntl(wfd, F_GETLEASE), F_RDLCK, F_WRLCK);
	if (lk_fdinfo(rfd, after, sizeof(after), &pid) != 1 || strcmp(after, before_r))
		case_fail("read lease after restore: %swant %s", after, before_r);
	if (pid != getpid())
		case_fail("the lease shows pid %d, we are %d", pid, getpid());
	if (lk_fdinfo(wfd, after, sizeof(after), NULL) != 1 || strcmp(after, before_w))
		case_fail("write lease after restore: %swant %s", after, before_w);
	if (sigio)
		case_fail("SIGIO before anybody opened the files");

	lk_check("break", checker_break, NULL);
	for (int i = 0; !sigio && i < 10000; i++)
		usleep(1000);
	if (sigio < 1)
		case_fail("no SIGIO for the lease breaks: the lease's owner is not us");
	if (fcntl(rfd, F_SETLEASE, F_UNLCK) || fcntl(wfd, F_SETLEASE, F_UNLCK))
		case_fail("F_SETLEASE F_UNLCK: %s", strerror(errno));
	lk_check("released", checker_free, NULL);
	lk_unlink(r_path);
	lk_unlink(w_path);
	case_pass();
}
