#ifndef CREST_UTIL_H
#define CREST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#undef PAGE_SIZE
#define PAGE_SIZE	4096UL
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define BUG_ON(c)	do { if (c) bug(__FILE__, __LINE__, #c); } while (0)

void bug(const char *file, int line, const char *what) __attribute__((noreturn));
void *xzalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xsprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whole small file (a /proc file) into a NUL-terminated buffer. */
char *read_file(const char *path, size_t *len);
char *read_proc(pid_t pid, const char *what, size_t *len);
int read_all(int fd, void *buf, size_t len);
int write_all(int fd, const void *buf, size_t len);
char *readlink_alloc(const char *path);
long now_ms(void);		/* CLOCK_MONOTONIC, in ms */
/* A copy of fd `fd` of process pid (pidfd_getfd), or -1 (reported). */
int pidfd_take(pid_t pid, int fd);
/*
 * A process that outlives the caller: a grandchild (nobody's child here,
 * so no kill of the caller's descendants finds it) in a session of its
 * own from the start (so no kill of the caller's process group or
 * session does, even one that comes the moment this returns) holding only
 * the fds in keep[] (and 0-2). 0 in it, 1 in the caller once it exists,
 * -1 if it could not be made (said why).
 */
int fork_keeper(const char *what, const int *keep, int nr);
/* An int socket option of fd; -1 if it can't be read. */
int sock_int(int fd, int level, int name);
/* The address family of socket fd of process pid (SO_DOMAIN of a copy); -1. */
int sock_domain(pid_t pid, int fd);

/* Fault injection: CREST_FAULT=name[,name...] makes fault("name") true. */
bool fault(const char *name);
/*
 * CREST_FAULT=NAME[=N]: crest dies of SIGKILL the Nth time (default the
 * first) it passes here, as an OOM kill would make it; for tests of what
 * its tracees do when their tracer is gone. With die-all in CREST_FAULT
 * too, its parent (the crest the user started, for a dump worker) and
 * its process group die with it: a kill -9 of everything crest is.
 */
void fault_die(const char *name);
/* name=N given: true and *arg = N (0 without a number). */
bool fault_arg(const char *name, uint64_t *arg);

#endif
