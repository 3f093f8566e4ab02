#ifndef CREST_SEIZE_H
#define CREST_SEIZE_H

#include <stdint.h>
#include <sys/types.h>

#include <stdbool.h>

/*
 * Seize and stop one task: 0, 1 if it is gone, -1 (reported). *stopsig
 * is the signal that group-stopped it (SIGSTOP, SIGTSTP...), 0 if none:
 * it stays so when released.
 */
int seize_task(pid_t pid, int *stopsig);
/* The same in two steps, for tasks that can't stop yet (frozen). */
int seize_begin(pid_t pid);
int seize_wait(pid_t pid, int *stopsig);
/* Did seizing suspend seccomp in the tracee (PTRACE_O_SUSPEND_SECCOMP)? */
bool seize_suspends_seccomp(void);
/* Wait for a ptrace stop of tid; returns the stop signal, -1 if it died. */
int wait_stop(pid_t tid, int *status);
/* The same, resuming with ptrace request req past repeated group stops. */
int wait_stop_resume(pid_t tid, int *status, int req);
/* Let it go: detach, or kill it and wait until it is dead. */
int release_task(pid_t pid);
/*
 * Let it go for good, back in a syscall crest found it in (the worker's
 * exit detaches such a thread): the tracer must exit soon after.
 */
int let_go_task(pid_t tid, bool stopped);
int kill_task(pid_t pid, const pid_t *tids, int nr);

#endif
