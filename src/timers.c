/*
 * POSIX timers (timer_create). /proc/PID/timers tells, from outside, each
 * timer's id, signal and sigev value, notification (and its target) and
 * clock; the parasite asks timer_gettime() and timer_getoverrun() for the
 * rest. The restorer creates them again under their own ids
 * (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.14) once the threads they signal
 * exist, and arms them last.
 *
 * Kernel facts (kernel/time/posix-timers.c, posix-cpu-timers.c,
 * fs/proc/base.c show_timer()):
 *   - "notify: signal|none|thread/pid|tid.N": SIGEV_THREAD_ID shows "tid";
 *     the target N is a tid in our pid namespace.
 *   - "signal: SIGNO/SIVAL" with the value as %px (16 hex digits); a
 *     timer made with a NULL sigevent shows SIGALRM and its own id.
 *   - "ClockID:" is it_clock: a CPU clock is negative, ~pid << 3 | which
 *     (| 4 per thread); CLOCK_PROCESS_CPUTIME_ID shows as -6 (pid 0),
 *     CLOCK_THREAD_CPUTIME_ID as -2 (tid 0: the thread that created it,
 *     which nothing in /proc tells).
 *   - timer_getoverrun() is it_overrun_last, set when the timer's signal
 *     is delivered; the expirations counted while it is pending show
 *     nowhere (PTRACE_PEEKSIGINFO gives si_overrun 0). Neither can be
 *     set at restore, and the pending signal comes back as a queued copy
 *     (task.c): a documented loss, not a refusal (crest(8), LIMITATIONS).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "log.h"
#include "parasite.h"
#include "proc.h"
#include "pstree.h"
#include "timers.h"
#include "util.h"

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID	4
#endif

#define CPUCLOCK_PERTHREAD	4
#define CPUCLOCK_WHICH(c)	((c) & 3)
#define CPUCLOCK_PID(c)		((pid_t)~((c) >> 3))
#define CLOCKFD			3

static const char *clock_name(int c)
{
	static const char *names[] = {
		[0] = "CLOCK_REALTIME", [1] = "CLOCK_MONOTONIC",
		[4] = "CLOCK_MONOTONIC_RAW", [5] = "CLOCK_REALTIME_COARSE",
		[6] = "CLOCK_MONOTONIC_COARSE", [7] = "CLOCK_BOOTTIME",
		[8] = "CLOCK_REALTIME_ALARM", [9] = "CLOCK_BOOTTIME_ALARM",
		[11] = "CLOCK_TAI",
	};

	if (c >= 0 && c < (int)ARRAY_SIZE(names) && names[c])
		return names[c];
	return "an unknown clock";
}

static int thread_index(const pid_t *tids, int nr, pid_t tid)
{
	for (int i = 0; i < nr; i++)
		if (tids[i] == tid)
			return i;
	return -1;
}

/* Decide how a clock comes back; 0, or -1 with the reason in why. */
static int check_clock(PosixTimerEntry *e, pid_t pid, const pid_t *tids,
		       int nr_tids, char *why, size_t len)
{
	int c = e->clockid;
	pid_t owner;

	if (c >= 0) {
		switch (c) {
		case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_BOOTTIME:
		case CLOCK_TAI: case CLOCK_REALTIME_ALARM: case CLOCK_BOOTTIME_ALARM:
			return 0;
		}
		snprintf(why, len, "clock %d (%s) is not one a timer can be made on again",
			 c, clock_name(c));
		return -1;
	}
	if ((c & 7) == CLOCKFD) {
		snprintf(why, len, "clock %d is a dynamic POSIX clock (an fd, like a PTP clock)", c);
		return -1;
	}
	if (CPUCLOCK_WHICH(c) == 3) {
		snprintf(why, len, "clock %d is not a valid CPU clock", c);
		return -1;
	}
	owner = CPUCLOCK_PID(c);
	e->has_cpu_clock = 1;
	if (!(c & CPUCLOCK_PERTHREAD)) {
		if (owner && owner != pid) {
			snprintf(why, len, "it counts the CPU time of another process (%d)", owner);
			return -1;
		}
		/* pid 0 stays 0; our own pid is put back as the new one */
		e->cpu_clock = owner ? 1 : 0;
		return 0;
	}
	if (!owner) {
		/* CLOCK_THREAD_CPUTIME_ID: the creator's, whoever that was */
		if (nr_tids == 1) {
			e->cpu_clock = 0;
			return 0;
		}
		snprintf(why, len, "it counts the CPU time of the thread that created it (CLOCK_THREAD_CPUTIME_ID), which crest can't tell in a process of %d threads",
			 nr_tids);
		return -1;
	}
	e->cpu_clock = 2;
	e->has_clock_thread = 1;
	e->clock_thread = thread_index(tids, nr_tids, owner);
	if (e->clock_thread < 0) {
		snprintf(why, len, "it counts the CPU time of thread %d, not one of this process", owner);
		return -1;
	}
	return 0;
}

static int parse_notify(const char *p, PosixTimerEntry *e, const pid_t *tids,
			int nr_tids, char *why, size_t len)
{
	char kind[16], who[8];
	int n;

	if (sscanf(p, " %15[a-z]/%7[a-z].%d", kind, who, &n) != 3) {
		snprintf(why, len, "can't read its notify line");
		return -1;
	}
	if (!strcmp(kind, "signal"))
		e->notify = SIGEV_SIGNAL;
	else if (!strcmp(kind, "none"))
		e->notify = SIGEV_NONE;
	else if (!strcmp(kind, "thread"))
		e->notify = SIGEV_THREAD;
	else {
		snprintf(why, len, "unknown notification '%s'", kind);
		return -1;
	}
	if (!strcmp(who, "pid"))
		return 0;
	if (strcmp(who, "tid") || e->notify != SIGEV_SIGNAL) {
		snprintf(why, len, "unknown notification '%s/%s'", kind, who);
		return -1;
	}
	e->notify |= SIGEV_THREAD_ID;
	e->has_notify_thread = 1;
	e->notify_thread = thread_index(tids, nr_tids, n);
	if (n == 0) {
		snprintf(why, len, "it signals a thread that has exited (SIGEV_THREAD_ID)");
		return -1;
	}
	if (e->notify_thread < 0) {
		snprintf(why, len, "it signals thread %d, which is not a thread of this process", n);
		return -1;
	}
	return 0;
}

static const char *value_of(const char *line, const char *key)
{
	size_t l = strlen(key);

	return strncmp(line, key, l) ? NULL : line + l;
}

int timers_parse(const char *buf, pid_t pid, const char *comm,
		 const pid_t *tids, int nr_tids, struct posix_timers *pt)
{
	PosixTimerEntry *e = NULL;
	const char *line = buf;
	int bad = 0;

	pt->t = NULL;
	pt->nr = 0;
	/* Each timer: ID, signal, notify, ClockID, in that order. */
	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		char why[160] = "";
		unsigned long long v;
		const char *p;
		int sig;

		if ((p = value_of(line, "ID:"))) {
			e = xzalloc(sizeof(*e));
			posix_timer_entry__init(e);
			e->id = atoi(p);
			pt->t = xrealloc(pt->t, (pt->nr + 1) * sizeof(e));
			pt->t[pt->nr++] = e;
			continue;
		}
		if (!e) {
			pr_err("can't parse /proc/%d/timers: a line before the first ID", pid);
			return -1;
		}
		if ((p = value_of(line, "signal:"))) {
			if (sscanf(p, " %d/%llx", &sig, &v) != 2) {
				pr_err("can't parse the signal of POSIX timer %d of process %d (%s)",
				       e->id, pid, comm);
				return -1;
			}
			e->signo = sig;
			e->sival = v;
		} else if ((p = value_of(line, "notify:"))) {
			if (parse_notify(p, e, tids, nr_tids, why, sizeof(why)))
				goto refuse;
		} else if ((p = value_of(line, "ClockID:"))) {
			e->clockid = atoi(p);
			if (check_clock(e, pid, tids, nr_tids, why, sizeof(why)))
				goto refuse;
		}
		continue;
refuse:
		pr_err("process %d (%s): POSIX timer %d can't be restored: %s",
		       pid, comm, e->id, why);
		bad = 1;
	}
	return bad ? -1 : 0;
}

void timers_free(struct posix_timers *pt)
{
	for (int i = 0; i < pt->nr; i++)
		posix_timer_entry__free_unpacked(pt->t[i], NULL);
	free(pt->t);
	pt->t = NULL;
	pt->nr = 0;
}

int timers_collect(struct pstree_item *it, struct posix_timers *pt)
{
	char *buf = read_proc(it->live, "timers", NULL);
	int ret;

	if (!buf) {
		pr_perror("can't read /proc/%d/timers", it->live);
		return -1;
	}
	ret = timers_parse(buf, it->pid, it->stat.comm, it->threads,
			   it->nr_threads, pt);
	free(buf);
	if (ret)
		pr_err("process %d (%s): remove those timers or leave the process out of the dump",
		       it->pid, it->stat.comm);
	return ret;
}

int timers_dump(struct parasite_ctl *ctl, struct posix_timers *pt)
{
	struct pie_posix_timer *pp = (void *)(ctl->local + ctl->data_off);

	if (!pt->nr)
		return 0;
	if (pt->nr * sizeof(*pp) > ctl->data_size) {
		pr_err("process %d has %d POSIX timers, more than crest can dump (%zu)",
		       ctl->pid, pt->nr, ctl->data_size / sizeof(*pp));
		return -1;
	}
	for (int i = 0; i < pt->nr; i++)
		pp[i] = (struct pie_posix_timer){ .id = pt->t[i]->id };
	ctl->args->nr_timers = pt->nr;
	ctl->args->timers = ctl->remote + ctl->data_off;
	if (parasite_cmd(ctl, PARASITE_CMD_POSIX_TIMERS))
		return -1;
	for (int i = 0; i < pt->nr; i++) {
		PosixTimerEntry *e = pt->t[i];

		e->interval_sec = pp[i].interval_sec;
		e->interval_nsec = pp[i].interval_nsec;
		e->value_sec = pp[i].value_sec;
		e->value_nsec = pp[i].value_nsec;
		e->overrun = pp[i].overrun;
	}
	ctl->args->nr_timers = 0;
	return 0;
}

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS	77
#define PR_TIMER_CREATE_RESTORE_IDS_GET	2
#endif

int timers_kernel_has_restore_ids(void)
{
	return prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET,
		     0, 0, 0) >= 0;
}

int timers_check_kernel(const CoreEntry *c, pid_t pid)
{
	if (!c->n_posix_timers || timers_kernel_has_restore_ids())
		return 0;
	pr_err("process %d has %zu POSIX timers and this kernel can't make them under their ids (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.14): restore on a newer kernel",
	       pid, c->n_posix_timers);
	return -1;
}

int timers_restore_count(const CoreEntry *c)
{
	return c->n_posix_timers;
}

/*
 * /proc lists the newest timer first: the restorer makes them in the
 * order given, so they are given oldest first and list as before.
 */
void timers_fill_restore(const CoreEntry *c, int zl, struct rst_posix_timer *r)
{
	size_t n = c->n_posix_timers;

	for (size_t i = 0; i < n; i++) {
		const PosixTimerEntry *e = c->posix_timers[n - 1 - i];
		/* core thread k is the restorer's threads[k - 1], or [k] under a zombie leader */
		int shift = zl ? 0 : 1;

		r[i] = (struct rst_posix_timer){
			.id = e->id,
			.clockid = e->clockid,
			.cpu_clock = e->cpu_clock,
			.clock_thread = e->has_clock_thread ? e->clock_thread - shift : -1,
			.notify = e->notify,
			.signo = e->signo,
			.sival = e->sival,
			.notify_thread = e->has_notify_thread ? e->notify_thread - shift : -1,
			.overrun = e->overrun,
			.interval_sec = e->interval_sec,
			.interval_nsec = e->interval_nsec,
			.value_sec = e->value_sec,
			.value_nsec = e->value_nsec,
		};
	}
}
