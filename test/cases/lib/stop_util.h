/*
 * For the cases of stopped or continued children: their state in /proc;
 * two threads, each bumping its own counter in shared memory
 * (tree_stopped, tree_continued).
 */
#include "caselib.h"

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* The state letter of thread tid of pid in /proc, 0 if it is gone. */
static inline char task_state(pid_t pid, pid_t tid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = 0;
	fclose(f);
	return state;
}

/* Its main thread's state letter, 0 if it is gone. */
static inline char proc_state(pid_t pid)
{
	return task_state(pid, pid);
}

/* Both counters go past a and b, within 30 s. */
static inline void wait_counters(volatile long *counter, long a, long b)
{
	for (int i = 0; i < 30000 && (counter[0] <= a || counter[1] <= b); i++)
		usleep(1000);
	if (counter[0] <= a || counter[1] <= b)
		case_fail("the child's threads do not both run (counters %ld %ld)",
			  counter[0], counter[1]);
}
