/* A zombie child comes back a zombie, with its exit status. */
#include "caselib.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>

int main(void)
{
	pid_t z, k;
	int status;
	char path[64], state = 0;
	FILE *f;

	case_init();
	z = fork();
	if (z == 0)
		_exit(42);
	k = fork();
	if (k == 0) {
		pause();
		_exit(0);
	}
	kill(k, SIGKILL);
	usleep(100000);
	case_ready();
	case_wait_go();

	snprintf(path, sizeof(path), "/proc/%d/stat", z);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%*d %*s %c", &state) != 1)
		case_fail("zombie %d is gone", z);
	fclose(f);
	if (state != 'Z')
		case_fail("%d is in state %c, want a zombie", z, state);
	if (waitpid(z, &status, 0) != z)
		case_fail("waitpid(%d): %s", z, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
		case_fail("zombie's status %#x, want exit 42", status);
	if (waitpid(k, &status, 0) != k)
		case_fail("waitpid(%d): %s", k, strerror(errno));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		case_fail("killed zombie's status %#x, want SIGKILL", status);
	case_pass();
}
