/*
 * A process waiting in pause() and in read() of a pipe nobody writes to,
 * by turns, with a SIGUSR1 handler without SA_RESTART: each SIGUSR1 must
 * run the handler and end the wait with EINTR. After each it counts a
 * round in ./sig-rounds (written aside and renamed). Its memory, argv[1]
 * MiB (4 by default) of pseudo-random data, is checked at go.
 * tree-checks signal-after-dump sends SIGUSR1 the moment a pre-dump or a
 * --leave-running dump returns, round after round: a signal that comes
 * while crest is still letting the process go must act as if crest had
 * never been there. Every mode runs it as it is: restored in pause(), the
 * go (SIGUSR2, its handler also without SA_RESTART) ends the wait.
 */
#include "caselib.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static void on_go(int sig)
{
	(void)sig;
	case_go = 1;
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void say_rounds(int n)
{
	FILE *f = fopen("sig-rounds.tmp", "w");

	if (!f || fprintf(f, "%d\n", n) < 0 || fclose(f) || rename("sig-rounds.tmp", "sig-rounds"))
		case_fail("writing sig-rounds: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 4, n;
	struct sigaction sa;
	uint64_t *mem, s = 88172645463325252ULL;
	int p[2], rounds = 0;
	char c;

	case_init();
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL))
		case_fail("sigaction: %s", strerror(errno));
	sa.sa_handler = on_go;
	if (sigaction(SIGUSR2, &sa, NULL))
		case_fail("sigaction: %s", strerror(errno));
	n = (mb << 20) / sizeof(*mem);
	mem = mmap(NULL, n * sizeof(*mem), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (mem == MAP_FAILED)
		case_fail("mmap %zu MiB: %s", mb, strerror(errno));
	for (size_t i = 0; i < n; i++)
		mem[i] = next(&s);
	if (pipe(p))
		case_fail("pipe: %s", strerror(errno));
	case_ready();
	while (!case_go) {
		/* The runner dumps only once /proc/PID/syscall shows the wait. */
		int before = got;
		ssize_t r = rounds % 2 ? read(p[0], &c, 1) : pause();

		if (r != -1 || errno != EINTR)
			case_fail("round %d: %s returned %zd (%s), want EINTR", rounds,
				  rounds % 2 ? "read" : "pause", r, strerror(errno));
		if (case_go)
			break;
		if (got == before)
			case_fail("round %d: %s ended by no SIGUSR1", rounds,
				  rounds % 2 ? "read" : "pause");
		say_rounds(++rounds);
	}
	s = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++)
		if (mem[i] != next(&s))
			case_fail("word %zu of its memory changed", i);
	case_pass();
}
