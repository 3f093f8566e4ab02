/*
 * POSIX timers come back under the ids the program holds, with their
 * clocks, notification, signal, value, interval and time left:
 *   mono   CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN, sival_ptr, every 10 ms
 *   real   CLOCK_REALTIME, SIGRTMIN+1, sival_int 42, one shot in an hour
 *   boot   CLOCK_BOOTTIME, SIGRTMIN+2, disarmed
 *   none   CLOCK_MONOTONIC, SIGEV_NONE, 1000 s then every 7 s
 *   cpu    CLOCK_PROCESS_CPUTIME_ID, SIGRTMIN+3, 1000 s of CPU
 *   thr    CLOCK_MONOTONIC, SIGEV_THREAD_ID to a helper thread, SIGRTMIN+4,
 *          every 10 ms
 *   tcpu   the helper thread's CPU clock (pthread_getcpuclockid), SIGEV_NONE
 *   null   timer_create(.., NULL, ..): SIGALRM with its own id, disarmed
 *   tai    CLOCK_TAI, SIGRTMIN+5, sival_int 8, 2000 s then every 3 s
 * After the restore: timer_gettime() works on every id with plausible
 * values, the periodic ones keep signalling with the right si_value and
 * si_timerid (the thread one in its thread), and /proc/self/timers lists
 * the same set as before.
 */
#include "caselib.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { MONO, REAL, BOOT, NONE, CPU, THR, TCPU, NUL, TAI, NR };
static const char *names[NR] = { "mono", "real", "boot", "none", "cpu", "thr", "tcpu", "null", "tai" };
static timer_t tm[NR];

static int marker;
static volatile sig_atomic_t mono_ticks, thr_ticks, bad_value, bad_thread;
static volatile int thr_tid;
static pthread_t helper_thread;

static void on_mono(int sig, siginfo_t *si, void *uc)
{
	if (si->si_value.sival_ptr != &marker || si->si_timerid != (int)(long)tm[MONO] ||
	    si->si_code != SI_TIMER)
		bad_value = 1;
	mono_ticks++;
}

static void on_thr(int sig, siginfo_t *si, void *uc)
{
	if (si->si_value.sival_int != 77 || si->si_timerid != (int)(long)tm[THR])
		bad_value = 2;
	/* pthread_self, not the tid: --no-restore-pid gives new tids */
	if (!pthread_equal(pthread_self(), helper_thread))
		bad_thread = 1;
	thr_ticks++;
}

static void *helper(void *arg)
{
	helper_thread = pthread_self();
	thr_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static void make(int i, clockid_t clock, int notify, int sig, union sigval v,
		 pid_t tid, long vs, long vns, long is, long ins)
{
	struct sigevent ev = { .sigev_notify = notify, .sigev_signo = sig, .sigev_value = v };
	struct itimerspec its = { { is, ins }, { vs, vns } };

	if (notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = tid;
	if (timer_create(clock, &ev, &tm[i]))
		case_fail("timer_create %s: %s", names[i], strerror(errno));
	if ((vs || vns) && timer_settime(tm[i], 0, &its, NULL))
		case_fail("timer_settime %s: %s", names[i], strerror(errno));
}

/* /proc/self/timers without what depends on the pid (notify target, CPU clock). */
static char *timers_text(void)
{
	FILE *f = fopen("/proc/self/timers", "r");
	static char out[8192];
	char line[256];
	size_t n = 0;

	if (!f)
		case_fail("open /proc/self/timers: %s", strerror(errno));
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "notify:", 7))
			line[strcspn(line, ".")] = '\n', line[strcspn(line, "\n") + 1] = 0;
		if (!strncmp(line, "ClockID: -", 10))
			strcpy(line, "ClockID: cpu\n");
		n += snprintf(out + n, sizeof(out) - n, "%s", line);
	}
	fclose(f);
	return strdup(out);
}

static double secs(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

static void check(int i, double vmin, double vmax, long is, long ins)
{
	struct itimerspec cur;

	if (timer_gettime(tm[i], &cur))
		case_fail("timer_gettime %s (id %ld): %s", names[i], (long)tm[i], strerror(errno));
	if (cur.it_interval.tv_sec != is || cur.it_interval.tv_nsec != ins)
		case_fail("%s: interval %ld.%09ld, want %ld.%09ld", names[i],
			  (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec, is, ins);
	if (secs(&cur.it_value) < vmin || secs(&cur.it_value) > vmax)
		case_fail("%s: %.6f s left, want %.3f..%.3f", names[i],
			  secs(&cur.it_value), vmin, vmax);
	if (timer_getoverrun(tm[i]) < 0)
		case_fail("timer_getoverrun %s: %s", names[i], strerror(errno));
}

static void wait_ticks(volatile sig_atomic_t *t, const char *what)
{
	sig_atomic_t before = *t;

	/* 5 ticks of 10 ms: give it 10 s on a busy machine. */
	for (int i = 0; i < 1000 && *t < before + 5; i++)
		usleep(10000);
	if (*t < before + 5)
		case_fail("%s stopped signalling: %d in 10 s", what, (int)(*t - before));
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_mono, .sa_flags = SA_SIGINFO | SA_RESTART };
	clockid_t tclock;
	pthread_t th;
	char *before, *after;

	case_init();
	sigaction(SIGRTMIN, &sa, NULL);
	sa.sa_sigaction = on_thr;
	sigaction(SIGRTMIN + 4, &sa, NULL);
	if (pthread_create(&th, NULL, helper, NULL))
		case_fail("pthread_create");
	while (!thr_tid)
		usleep(1000);
	if (pthread_getcpuclockid(th, &tclock))
		case_fail("pthread_getcpuclockid");

	make(MONO, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN, (union sigval){ .sival_ptr = &marker },
	     0, 0, 10000000, 0, 10000000);
	make(REAL, CLOCK_REALTIME, SIGEV_SIGNAL, SIGRTMIN + 1, (union sigval){ .sival_int = 42 },
	     0, 3600, 0, 0, 0);
	make(BOOT, CLOCK_BOOTTIME, SIGEV_SIGNAL, SIGRTMIN + 2, (union sigval){ .sival_int = 3 },
	     0, 0, 0, 0, 0);
	make(NONE, CLOCK_MONOTONIC, SIGEV_NONE, 0, (union sigval){ .sival_int = 4 },
	     0, 1000, 0, 7, 0);
	make(CPU, CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGRTMIN + 3,
	     (union sigval){ .sival_int = 5 }, 0, 1000, 0, 0, 0);
	make(THR, CLOCK_MONOTONIC, SIGEV_THREAD_ID, SIGRTMIN + 4, (union sigval){ .sival_int = 77 },
	     thr_tid, 0, 10000000, 0, 10000000);
	make(TCPU, tclock, SIGEV_NONE, 0, (union sigval){ .sival_int = 6 }, 0, 500, 0, 0, 0);
	if (timer_create(CLOCK_MONOTONIC, NULL, &tm[NUL]))
		case_fail("timer_create null: %s", strerror(errno));
	make(TAI, CLOCK_TAI, SIGEV_SIGNAL, SIGRTMIN + 5, (union sigval){ .sival_int = 8 },
	     0, 2000, 0, 3, 0);

	wait_ticks(&mono_ticks, "the monotonic timer");
	wait_ticks(&thr_ticks, "the thread's timer");
	before = timers_text();
	case_ready();
	case_wait_go();

	check(MONO, 0, 0.010, 0, 10000000);
	check(REAL, 1, 3600, 0, 0);
	check(BOOT, 0, 0, 0, 0);
	check(NONE, 1, 1000, 7, 0);
	check(CPU, 990, 1000, 0, 0);
	check(THR, 0, 0.010, 0, 10000000);
	check(TCPU, 490, 500, 0, 0);
	check(NUL, 0, 0, 0, 0);
	check(TAI, 1000, 2000, 3, 0);
	after = timers_text();
	if (strcmp(before, after))
		case_fail("/proc/self/timers differs:\n--- before\n%s--- after\n%s", before, after);
	wait_ticks(&mono_ticks, "the monotonic timer");
	wait_ticks(&thr_ticks, "the thread's timer");
	if (bad_value)
		case_fail("a timer signal came with the wrong si_value or si_timerid (%d)",
			  (int)bad_value);
	if (bad_thread)
		case_fail("the SIGEV_THREAD_ID timer's signal reached another thread");
	case_pass();
}
