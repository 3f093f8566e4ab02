/* A stopped child comes back stopped, and runs again on SIGCONT. */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char proc_state(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = 0;
	fclose(f);
	return state;
}

int main(void)
{
	volatile long *counter;
	long before;
	pid_t c;
	int status;

	case_init();
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c = fork();
	if (c == 0) {
		for (;;) {
			(*counter)++;
			usleep(1000);
		}
	}
	while (*counter < 5)
		usleep(1000);
	kill(c, SIGSTOP);
	if (waitpid(c, &status, WUNTRACED) != c || !WIFSTOPPED(status))
		case_fail("child did not stop");
	case_ready();
	case_wait_go();

	if (proc_state(c) != 'T')
		case_fail("child is in state %c, want stopped (T)", proc_state(c));
	before = *counter;
	usleep(50000);
	if (*counter != before)
		case_fail("the stopped child runs");
	kill(c, SIGCONT);
	usleep(100000);
	if (*counter == before)
		case_fail("the child does not run after SIGCONT");
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	case_pass();
}
