/*
 * 100 processes in a ring of pipes, each passing a token on after adding
 * its number; the root checks every lap's sum. Across the checkpoint too.
 */
#include "caselib.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 100

int main(void)
{
	int pipes[N][2];
	uint64_t tok, laps = 0;
	const uint64_t lap_sum = (uint64_t)(N - 1) * N / 2;
	int status;

	case_init();
	for (int i = 0; i < N; i++)
		if (pipe(pipes[i]))
			case_fail("pipe: %s", strerror(errno));
	/* Process i reads pipe i, writes pipe (i + 1) % N; the root is 0. */
	for (int i = 1; i < N; i++) {
		if (fork() == 0) {
			for (int k = 0; k < N; k++) {
				if (k != i)
					close(pipes[k][0]);
				if (k != (i + 1) % N)
					close(pipes[k][1]);
			}
			while (read(pipes[i][0], &tok, 8) == 8) {
				if (tok == UINT64_MAX) {
					write(pipes[(i + 1) % N][1], &tok, 8);
					_exit(0);
				}
				tok += i;
				if (write(pipes[(i + 1) % N][1], &tok, 8) != 8)
					_exit(1);
			}
			_exit(2);
		}
	}
#define LAP() do {							\
		tok = 0;						\
		if (write(pipes[1][1], &tok, 8) != 8 ||			\
		    read(pipes[0][0], &tok, 8) != 8)			\
			case_fail("ring broke: %s", strerror(errno));	\
		if (tok != lap_sum)					\
			case_fail("lap %llu summed %llu, want %llu",	\
				  (unsigned long long)laps,		\
				  (unsigned long long)tok,		\
				  (unsigned long long)lap_sum);		\
		laps++;							\
	} while (0)
	for (int k = 0; k < 10; k++)
		LAP();
	case_ready();
	while (!case_go)
		LAP();
	for (int k = 0; k < 100; k++)
		LAP();
	tok = UINT64_MAX;
	write(pipes[1][1], &tok, 8);
	for (int i = 1; i < N; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			case_fail("a ring member failed: status %#x", status);
	case_pass();
}
