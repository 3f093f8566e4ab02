/*
 * For the cases of a stopped or continued child of two threads, each
 * bumping its own counter in shared memory (tree_stopped, tree_continued).
 */
#include "caselib.h"

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* Its state letter in /proc/PID/stat, 0 if it is gone. */
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

/* Both counters go past a and b, within 30 s. */
static void wait_counters(volatile long *counter, long a, long b)
{
	for (int i = 0; i < 30000 && (counter[0] <= a || counter[1] <= b); i++)
		usleep(1000);
	if (counter[0] <= a || counter[1] <= b)
		case_fail("the child's threads do not both run (counters %ld %ld)",
			  counter[0], counter[1]);
}
