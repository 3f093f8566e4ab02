/* Shared helpers for checkpoint/restore test cases.
 *
 * Protocol: case_init() installs a SIGUSR2 handler; case_ready() creates the
 * file named by $CREST_READY once the state is set up; the runner then dumps
 * and restores the process and sends SIGUSR2 ("verify now"), which
 * case_wait_go() waits for. Cases report with case_pass()/case_fail(). */
#ifndef CREST_CASELIB_H
#define CREST_CASELIB_H

#include <signal.h>

extern volatile sig_atomic_t case_go;

void case_init(void);
void case_ready(void);
void case_wait_go(void);
void case_pass(void) __attribute__((noreturn));
void case_fail(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
/* Directory for temporary files: $CREST_TMP or /tmp. */
const char *case_tmpdir(void);
/*
 * Is the case in a namespace of kind (under /proc/self/ns/) other than
 * the runner's? test/run's NsCase says those in $CREST_HOST_NS.
 */
int case_own_ns(const char *kind);
/*
 * In a network namespace of its own (test/run's unshare --net variants of
 * a case), bring loopback up: the case's addresses are there as in the
 * machine's. Elsewhere nothing.
 */
void case_netns_lo_up(void);

#endif
