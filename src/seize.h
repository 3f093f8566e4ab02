#ifndef CREST_SEIZE_H
#define CREST_SEIZE_H

#include <stdint.h>
#include <sys/types.h>

/* Seize and stop one task; 0 or -1 (reported). */
int seize_task(pid_t pid);
/* Wait for a ptrace stop of tid; returns the stop signal, -1 if it died. */
int wait_stop(pid_t tid, int *status);
/* Let it go: detach, or kill it and wait until it is dead. */
int release_task(pid_t pid);
int kill_task(pid_t pid);

#endif
