/*
 * seccomp survives C/R: no_new_privs, a filter shared by both threads
 * (installed with TSYNC) that makes acct(2) fail with ENOMEDIUM, a second
 * filter of one thread only (with SECCOMP_FILTER_FLAG_LOG) that makes
 * getpgid(2) fail with EXDEV, and a child in strict mode that may only
 * read, write and exit.
 */
#include "caselib.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int deny(int nr, int err, unsigned int flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}

static int nr_filters(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/thread-self/status", "r");
	int n = -1;

	if (!f)
		case_fail("open /proc/thread-self/status: %s", strerror(errno));
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "Seccomp_filters:", 16))
			n = atoi(buf + 16);
	fclose(f);
	return n;
}

static void check(const char *who, int filters, int pgid_err)
{
	int n = nr_filters();

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		case_fail("%s: no_new_privs is off", who);
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != SECCOMP_MODE_FILTER)
		case_fail("%s: seccomp mode %d, want filter", who, prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	if (n != filters)
		case_fail("%s: %d seccomp filters, want %d", who, n, filters);
	errno = 0;
	if (syscall(SYS_acct, NULL) != -1 || errno != ENOMEDIUM)
		case_fail("%s: acct() gave errno %d, want ENOMEDIUM from the filter", who, errno);
	errno = 0;
	if (pgid_err) {
		if (syscall(SYS_getpgid, 0) != -1 || errno != pgid_err)
			case_fail("%s: getpgid() gave errno %d, want EXDEV from the filter", who, errno);
	} else if (syscall(SYS_getpgid, 0) < 0) {
		case_fail("%s: getpgid() failed: %s", who, strerror(errno));
	}
}

static volatile int t_state;

static void *thread_main(void *arg)
{
	while (t_state != 1)
		usleep(1000);
	if (deny(SYS_getpgid, EXDEV, SECCOMP_FILTER_FLAG_LOG))
		case_fail("thread filter: %s", strerror(errno));
	t_state = 2;
	while (!case_go)
		usleep(10000);
	check("second thread", 2, EXDEV);
	t_state = 3;
	return NULL;
}

int main(void)
{
	int in[2], out[2], status;
	pthread_t th;
	pid_t c;
	char b;

	case_init();
	if (pipe(in) || pipe(out))
		case_fail("pipe: %s", strerror(errno));
	c = fork();
	if (c == 0) {
		close(in[1]);
		close(out[0]);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
			_exit(3);
		if (read(in[0], &b, 1) != 1)
			syscall(SYS_exit, 4);
		b++;
		if (write(out[1], &b, 1) != 1)
			syscall(SYS_exit, 5);
		/* Not allowed in strict mode: SIGKILL. */
		syscall(SYS_getpid);
		syscall(SYS_exit, 6);
	}
	close(in[0]);
	close(out[1]);
	if (pthread_create(&th, NULL, thread_main, NULL))
		case_fail("pthread_create");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		case_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (deny(SYS_acct, ENOMEDIUM, SECCOMP_FILTER_FLAG_TSYNC))
		case_fail("shared filter: %s", strerror(errno));
	t_state = 1;
	while (t_state != 2)
		usleep(1000);
	case_ready();
	case_wait_go();

	check("main thread", 1, 0);
	while (t_state != 3)
		usleep(1000);
	pthread_join(th, NULL);
	b = 'a';
	if (write(in[1], &b, 1) != 1 || read(out[0], &b, 1) != 1 || b != 'b')
		case_fail("the strict-mode child does not answer");
	if (waitpid(c, &status, 0) != c)
		case_fail("waitpid: %s", strerror(errno));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		case_fail("the strict-mode child ended with status %#x, want SIGKILL for getpid()", status);
	case_pass();
}
