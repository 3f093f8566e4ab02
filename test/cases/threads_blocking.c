/*
 * Threads parked in blocking calls across the checkpoint: a raw futex wait,
 * pthread_cond_wait, pthread_join on a thread that exits only after go, a
 * 2 s nanosleep, a read on an empty pipe, plus one spinning in user code.
 * After go each is woken (futex wake, cond signal, pipe write, the joined
 * thread returns) and must complete with the right values; the sleep must
 * have taken at least its full 2 s in total.
 */
#include "mt_util.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>

enum { T_FUTEX, T_COND, T_JOINER, T_JOINEE, T_SLEEP, T_PIPE, T_SPIN, NT };
static const char *const tname[NT] = {
	"futex waiter", "cond waiter", "joiner", "joinee", "sleeper",
	"pipe reader", "spinner",
};

static pthread_t th[NT];
static volatile pid_t tids[NT];

/* futex */
static volatile uint32_t fword;
static volatile int futex_loops, futex_err;
/* cond */
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_value, cond_waiting;
/* join */
static volatile int joinee_release;
static volatile long joined_ret = -1;
static volatile int join_err = -1;
/* sleep */
static volatile double sleep_start, sleep_end;
static volatile int sleep_err = -1, sleep_started, sleep_eintr, sleep_release;
/* pipe */
static int pfd[2];
static volatile long pipe_got = -1;
static volatile int pipe_err;
static uint64_t pipe_data;
/* spin */
static volatile uint64_t spins;
static volatile int spin_stop;

#define FUTEX_VAL	0x2a2a2a2au
#define COND_VAL	0x1357
#define JOINEE_RET	0x4242L
#define PIPE_VAL	0x0123456789abcdefULL

static void *futex_thread(void *a)
{
	(void)a;
	tids[T_FUTEX] = mt_gettid();
	/* Spurious wake-ups (EINTR, EAGAIN) are allowed by futex semantics. */
	while (fword == 0) {
		futex_loops++;
		if (syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) < 0 &&
		    errno != EINTR && errno != EAGAIN) {
			futex_err = errno;
			break;
		}
	}
	return (void *)(uintptr_t)fword;
}

static void *cond_thread(void *a)
{
	int v;

	(void)a;
	tids[T_COND] = mt_gettid();
	pthread_mutex_lock(&mtx);
	cond_waiting = 1;
	while (!cond_value)
		pthread_cond_wait(&cond, &mtx);
	v = cond_value;
	pthread_mutex_unlock(&mtx);
	return (void *)(long)v;
}

static void *joinee_thread(void *a)
{
	(void)a;
	tids[T_JOINEE] = mt_gettid();
	while (!joinee_release)
		usleep(1000);
	return (void *)JOINEE_RET;
}

static void *joiner_thread(void *a)
{
	void *ret = NULL;

	(void)a;
	tids[T_JOINER] = mt_gettid();
	join_err = pthread_join(th[T_JOINEE], &ret);
	joined_ret = (long)ret;
	return NULL;
}

static void *sleep_thread(void *a)
{
	struct timespec ts = { 2, 0 }, rem;

	(void)a;
	tids[T_SLEEP] = mt_gettid();
	sleep_start = mt_now();
	sleep_started = 1;
	/* Like nanosleep.c: resume with the time left after an EINTR. */
	sleep_err = 0;
	while (nanosleep(&ts, &rem) < 0) {
		if (errno != EINTR) {
			sleep_err = errno;
			break;
		}
		sleep_eintr++;
		ts = rem;
	}
	sleep_end = mt_now();
	/*
	 * The 2 s may run out before go (a slow restore, or between the two
	 * restores of redump): the thread stays until go all the same, so
	 * the tree the dump and the audit see does not depend on the clock.
	 */
	while (!sleep_release)
		usleep(1000);
	return NULL;
}

static void *pipe_thread(void *a)
{
	ssize_t n;

	(void)a;
	tids[T_PIPE] = mt_gettid();
	n = read(pfd[0], &pipe_data, sizeof(pipe_data));
	if (n < 0)
		pipe_err = errno;
	pipe_got = n;
	return NULL;
}

static void *spin_thread(void *a)
{
	(void)a;
	tids[T_SPIN] = mt_gettid();
	while (!spin_stop)
		spins++;
	return NULL;
}

static void *(*const fn[NT])(void *) = {
	futex_thread, cond_thread, joiner_thread, joinee_thread, sleep_thread,
	pipe_thread, spin_thread,
};

static void join(int i, void **ret)
{
	int err = pthread_join(th[i], ret);

	if (err)
		case_fail("pthread_join(%s): %s", tname[i], strerror(err));
}

int main(void)
{
	uint64_t s0, s1, v = PIPE_VAL;
	void *ret;
	double slept;

	case_init();
	if (pipe(pfd))
		case_fail("pipe: %s", strerror(errno));
	mt_block_go(1);
	/* The joinee first: the joiner joins th[T_JOINEE]. */
	const int order[NT] = { T_JOINEE, T_FUTEX, T_COND, T_JOINER, T_SLEEP,
				T_PIPE, T_SPIN };
	for (int k = 0; k < NT; k++) {
		int i = order[k], err = pthread_create(&th[i], NULL, fn[i], NULL);

		if (err)
			case_fail("pthread_create(%s): %s", tname[i], strerror(err));
	}
	mt_block_go(0);

	for (int i = 0; i < NT; i++)
		while (!tids[i])
			usleep(1000);
	for (int i = 0; i < NT; i++)
		if (i != T_SPIN)
			mt_wait_sleeping(tids[i], tname[i]);
	while (spins < 1000000)
		usleep(1000);
	case_ready();
	case_wait_go();

	/* Nothing may have woken up by itself (except the sleeper). */
	if (futex_err)
		case_fail("futex wait: %s", strerror(futex_err));
	if (pipe_got != -1 || pipe_err)
		case_fail("pipe read returned %ld (%s) before any data was written",
			  pipe_got, pipe_err ? strerror(pipe_err) : "no error");
	if (joined_ret != -1 || join_err != -1)
		case_fail("pthread_join returned (%d, %#lx) before the joinee exited",
			  join_err, joined_ret);
	pthread_mutex_lock(&mtx);
	if (!cond_waiting)
		case_fail("cond waiter never got to wait");
	pthread_mutex_unlock(&mtx);

	s0 = spins;
	for (int i = 0; i < 30000 && spins == s0; i++)	/* up to 30 s */
		usleep(1000);
	s1 = spins;
	if (s1 == s0)
		case_fail("spinner (tid %d) no longer runs (%llu)", tids[T_SPIN],
			  (unsigned long long)s0);

	/* Wake everyone. */
	fword = FUTEX_VAL;
	if (syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) < 0)
		case_fail("futex wake: %s", strerror(errno));
	pthread_mutex_lock(&mtx);
	cond_value = COND_VAL;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
	joinee_release = 1;
	if (write(pfd[1], &v, sizeof(v)) != sizeof(v))
		case_fail("pipe write: %s", strerror(errno));
	spin_stop = 1;
	sleep_release = 1;

	join(T_FUTEX, &ret);
	if ((uintptr_t)ret != FUTEX_VAL)
		case_fail("futex waiter saw %#lx, want %#x", (unsigned long)(uintptr_t)ret,
			  FUTEX_VAL);
	join(T_COND, &ret);
	if ((long)ret != COND_VAL)
		case_fail("cond waiter saw %#lx, want %#x", (long)ret, COND_VAL);
	join(T_JOINER, &ret);
	if (join_err)
		case_fail("joiner: pthread_join: %s", strerror(join_err));
	if (joined_ret != JOINEE_RET)
		case_fail("joiner got %#lx from the joinee, want %#lx", joined_ret,
			  JOINEE_RET);
	join(T_PIPE, &ret);
	if (pipe_got != sizeof(pipe_data))
		case_fail("pipe reader: read returned %ld (%s), want %zu", pipe_got,
			  pipe_err ? strerror(pipe_err) : "no error", sizeof(pipe_data));
	if (pipe_data != PIPE_VAL)
		case_fail("pipe reader got %#llx, want %#llx",
			  (unsigned long long)pipe_data, (unsigned long long)PIPE_VAL);
	join(T_SPIN, &ret);
	join(T_SLEEP, &ret);
	if (sleep_err)
		case_fail("nanosleep: %s", strerror(sleep_err));
	slept = sleep_end - sleep_start;
	if (slept < 2.0)
		case_fail("2 s nanosleep returned after %.3f s", slept);
	if (slept > 30.0)
		case_fail("2 s nanosleep took %.3f s", slept);
	printf("slept %.3f s (%d EINTR), futex loops %d, spins %llu\n", slept,
	       sleep_eintr, futex_loops, (unsigned long long)spins);
	case_pass();
}
