#ifndef CREST_REFUSE_H
#define CREST_REFUSE_H

#include <stdio.h>
#include <sys/types.h>

/*
 * Refusals: what a dump met and can't save. Every inspection step (fds,
 * mappings, /proc fields, locks...) reports each thing it does not
 * positively recognise with refuse() and goes on with the next one, so
 * that one dump -- or `crest dump --check-only` -- lists every problem of
 * every process at once. dump.c stops before anything is written or
 * changed when the list is not empty; the tree runs on as it was.
 *
 * The list is the dump worker's, like the logger: one dump per process.
 * A step returns -1 only for a real failure (a /proc file it can't read);
 * a thing crest can't save is a refusal, and the step returns 0.
 *
 * One line each, "process PID (COMM): WHAT", WHAT saying where (fd N,
 * mapping START-END, thread TID), the kind and the path:
 *	refuse(pid, "fd %d is %s ('%s'), not supported yet", fd, kind, link);
 */
void refuse(pid_t pid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Until refuse_context(NULL), every line says where the thing was found
 * before what it is: "process PID (COMM): CONTEXT: WHAT" (an fd in
 * flight: which socket's queue, which message).
 */
void refuse_context(const char *what);
int refusals_nr(void);
/* The i-th line, "process PID (COMM): WHAT" (unit tests, reports). */
const char *refusal(int i);
/* Each line to f, then the line saying what to do. */
void refusals_print(FILE *f);
/* Each line as an error, then what to do; the last error names the count. */
void refusals_report(void);
void refusals_clear(void);

#endif
