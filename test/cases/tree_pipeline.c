/*
 * producer | filter | consumer, three processes joined by two pipes with
 * data in flight at the checkpoint. After the restore the consumer must
 * see every number exactly once and in order: nothing lost, nothing twice.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static void producer(int out)
{
	struct sigaction sa = { .sa_handler = on_term };
	uint64_t v = 1;

	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		if (write(out, &v, sizeof(v)) == sizeof(v))
			v++;
	}
	_exit(0);
}

static void filter(int in, int out)
{
	uint64_t v;

	while (read(in, &v, sizeof(v)) == sizeof(v)) {
		v = v * 3;
		if (write(out, &v, sizeof(v)) != sizeof(v))
			_exit(3);
	}
	_exit(0);
}

/* Exit 0 if every number came, in order, and enough of them. */
static void consumer(int in)
{
	uint64_t v, want = 1;

	while (read(in, &v, sizeof(v)) == sizeof(v)) {
		if (v != want * 3) {
			fprintf(stderr, "FAIL: consumer got %llu, want %llu\n",
				(unsigned long long)v, (unsigned long long)want * 3);
			_exit(1);
		}
		want++;
	}
	_exit(want > 1000 ? 0 : 2);
}

int main(void)
{
	int a[2], b[2], status;
	pid_t p, f, c;

	case_init();
	if (pipe(a) || pipe(b))
		case_fail("pipe: %s", strerror(errno));
	p = fork();
	if (p == 0) {
		close(a[0]); close(b[0]); close(b[1]);
		producer(a[1]);
	}
	f = fork();
	if (f == 0) {
		close(a[1]); close(b[0]);
		filter(a[0], b[1]);
	}
	c = fork();
	if (c == 0) {
		close(a[0]); close(a[1]); close(b[1]);
		consumer(b[0]);
	}
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
	usleep(200000);	/* let the pipes fill */
	case_ready();
	case_wait_go();

	kill(p, SIGTERM);
	if (waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("producer: status %#x", status);
	if (waitpid(f, &status, 0) != f || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("filter: status %#x", status);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("consumer: status %#x", status);
	case_pass();
}
