/* Signal dispositions, blocked mask and a pending signal survive C/R. */
#include "caselib.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t usr1_count, usr1_signo, alrm_count;

static void usr1_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr1_count++;
	usr1_signo = si->si_signo;
}

static void alrm_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	alrm_count++;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int extra_flags,
		    const int *mask_sigs)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | extra_flags;
	sigemptyset(&sa.sa_mask);
	for (; *mask_sigs; mask_sigs++)
		sigaddset(&sa.sa_mask, *mask_sigs);
	if (sigaction(sig, &sa, NULL) < 0)
		case_fail("sigaction(%d): %s", sig, strerror(errno));
}

static void query(int sig, struct sigaction *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (sigaction(sig, NULL, sa) < 0)
		case_fail("sigaction query(%d): %s", sig, strerror(errno));
}

static void compare(int sig, const struct sigaction *a, const struct sigaction *b)
{
	int s;

	if (a->sa_sigaction != b->sa_sigaction)
		case_fail("sig %d handler %p != %p", sig, (void *)b->sa_sigaction,
			  (void *)a->sa_sigaction);
	if (a->sa_flags != b->sa_flags)
		case_fail("sig %d flags %#x != %#x", sig, b->sa_flags, a->sa_flags);
	for (s = 1; s <= SIGRTMAX; s++)
		if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s))
			case_fail("sig %d sa_mask differs at signal %d", sig, s);
}

int main(void)
{
	const int usr1_mask[] = { SIGHUP, SIGTERM, SIGRTMIN + 3, 0 };
	const int alrm_mask[] = { SIGINT, SIGQUIT, SIGUSR1, 0 };
	struct sigaction usr1_before, alrm_before, now;
	sigset_t block, cur, pend;

	case_init();
	install(SIGUSR1, usr1_handler, SA_RESTART, usr1_mask);
	install(SIGALRM, alrm_handler, SA_NODEFER, alrm_mask);
	query(SIGUSR1, &usr1_before);
	query(SIGALRM, &alrm_before);

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &block, NULL) < 0)
		case_fail("sigprocmask: %s", strerror(errno));
	raise(SIGUSR1);
	if (usr1_count)
		case_fail("blocked SIGUSR1 delivered");

	case_ready();
	case_wait_go();

	query(SIGUSR1, &now);
	compare(SIGUSR1, &usr1_before, &now);
	query(SIGALRM, &now);
	compare(SIGALRM, &alrm_before, &now);

	if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0)
		case_fail("sigprocmask query: %s", strerror(errno));
	if (!sigismember(&cur, SIGUSR1))
		case_fail("SIGUSR1 no longer blocked");
	if (sigismember(&cur, SIGUSR2) || sigismember(&cur, SIGALRM))
		case_fail("unexpected signals blocked");
	if (sigpending(&pend) < 0)
		case_fail("sigpending: %s", strerror(errno));
	if (!sigismember(&pend, SIGUSR1))
		case_fail("SIGUSR1 no longer pending");
	if (usr1_count)
		case_fail("SIGUSR1 handler ran while blocked (%d)", (int)usr1_count);
	if (alrm_count)
		case_fail("SIGALRM handler ran unexpectedly");

	if (sigprocmask(SIG_UNBLOCK, &block, NULL) < 0)
		case_fail("sigprocmask unblock: %s", strerror(errno));
	if (usr1_count != 1)
		case_fail("SIGUSR1 handler ran %d times, want 1", (int)usr1_count);
	if (usr1_signo != SIGUSR1)
		case_fail("si_signo %d, want %d", (int)usr1_signo, SIGUSR1);
	if (sigpending(&pend) < 0 || sigismember(&pend, SIGUSR1))
		case_fail("SIGUSR1 still pending after delivery");

	/* The SIGALRM handler still works too. */
	raise(SIGALRM);
	if (alrm_count != 1)
		case_fail("SIGALRM handler ran %d times, want 1", (int)alrm_count);
	case_pass();
}
