/*
 * Per-thread alternate signal stacks survive C/R: 4 threads each install
 * their own sigaltstack (separate buffers of different sizes) and share an
 * SA_ONSTACK handler for SIGURG. After go, sigaltstack() in each thread must
 * report its own sp/size, and SIGURG sent to each thread with pthread_kill
 * must run on that thread's own alternate stack. The main thread has none.
 */
#include "mt_util.h"

#include <stdint.h>
#include <stdlib.h>

#define NT	4
#define ALT_SIZE(i)	((int)(64 * 1024 + (i) * 12288))

static char *alt[NT];
static pthread_t th[NT];
static volatile pid_t tids[NT];
static volatile int up[NT];
static __thread int my_idx = -1;

static volatile sig_atomic_t ran[NT], on_alt[NT], ss_onstack[NT], bad_idx;
static volatile uintptr_t where[NT];

static void urg_handler(int sig)
{
	volatile char local;
	uintptr_t a = (uintptr_t)&local;
	int i = my_idx;
	stack_t ss;

	(void)sig;
	if (i < 0 || i >= NT) {
		bad_idx++;
		return;
	}
	ran[i]++;
	where[i] = a;
	on_alt[i] = a >= (uintptr_t)alt[i] && a < (uintptr_t)alt[i] + ALT_SIZE(i);
	if (sigaltstack(NULL, &ss) == 0)
		ss_onstack[i] = !!(ss.ss_flags & SS_ONSTACK) && ss.ss_sp == alt[i];
}

static void *worker(void *arg)
{
	long i = (long)arg;
	stack_t ss;

	my_idx = i;
	tids[i] = mt_gettid();
	ss.ss_sp = alt[i];
	ss.ss_size = ALT_SIZE(i);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0)
		case_fail("thread %ld: sigaltstack: %s", i, strerror(errno));
	up[i] = 1;
	mt_wait_go();

	memset(&ss, 0, sizeof(ss));
	if (sigaltstack(NULL, &ss) < 0)
		case_fail("thread %ld: sigaltstack query: %s", i, strerror(errno));
	if (ss.ss_sp != alt[i] || ss.ss_size != (size_t)ALT_SIZE(i) || ss.ss_flags)
		case_fail("thread %ld (tid %d): altstack %p/%zu flags %#x, want %p/%d flags 0",
			  i, (int)tids[i], ss.ss_sp, ss.ss_size, ss.ss_flags,
			  (void *)alt[i], ALT_SIZE(i));
	if (my_idx != i)
		case_fail("thread %ld: TLS index is %d", i, my_idx);
	/* Wait for main's pthread_kill. */
	for (int k = 0; !ran[i] && k < 5000; k++)
		usleep(1000);
	if (ran[i] != 1)
		case_fail("thread %ld (tid %d): SIGURG handler ran %d times, want 1", i,
			  (int)tids[i], (int)ran[i]);
	if (!on_alt[i])
		case_fail("thread %ld: handler ran at %#lx, not on its altstack %p..+%d", i,
			  (unsigned long)where[i], (void *)alt[i], ALT_SIZE(i));
	if (!ss_onstack[i])
		case_fail("thread %ld: SS_ONSTACK/own sp not reported inside the handler", i);
	return (void *)(i + 100);
}

int main(void)
{
	struct sigaction sa;
	stack_t ss;
	int err;

	case_init();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = urg_handler;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGURG, &sa, NULL) < 0)
		case_fail("sigaction: %s", strerror(errno));

	mt_block_go(1);
	for (long i = 0; i < NT; i++) {
		alt[i] = malloc(ALT_SIZE(i));
		if (!alt[i])
			case_fail("malloc");
		memset(alt[i], 0x40 + i, ALT_SIZE(i));
		if ((err = pthread_create(&th[i], NULL, worker, (void *)i)))
			case_fail("pthread_create: %s", strerror(err));
	}
	mt_block_go(0);
	for (int i = 0; i < NT; i++)
		while (!up[i])
			usleep(1000);
	case_ready();
	case_wait_go();

	if (sigaltstack(NULL, &ss) < 0)
		case_fail("main: sigaltstack query: %s", strerror(errno));
	if (!(ss.ss_flags & SS_DISABLE))
		case_fail("main thread has an altstack %p/%zu flags %#x, want none",
			  ss.ss_sp, ss.ss_size, ss.ss_flags);
	for (int i = 0; i < NT; i++)
		if ((err = pthread_kill(th[i], SIGURG)))
			case_fail("pthread_kill %d: %s", i, strerror(err));
	for (long i = 0; i < NT; i++) {
		void *ret;

		if ((err = pthread_join(th[i], &ret)))
			case_fail("pthread_join: %s", strerror(err));
		if ((long)ret != i + 100)
			case_fail("thread %ld returned %ld", i, (long)ret);
	}
	if (bad_idx)
		case_fail("SIGURG handler ran in a thread without an index");
	case_pass();
}
