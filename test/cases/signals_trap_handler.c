/*
 * A SIGTRAP handler (vim has one) survives C/R, and survives in the
 * original after a dump: crest's own int3 traps, taken with every signal
 * blocked, make the kernel reset it to SIG_DFL, and crest puts it back.
 */
#include "caselib.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t traps;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
	traps++;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO | SA_RESTART }, old;

	case_init();
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	if (sigaction(SIGTRAP, &sa, NULL))
		case_fail("sigaction: %s", strerror(errno));
	case_ready();
	case_wait_go();

	if (sigaction(SIGTRAP, NULL, &old))
		case_fail("sigaction: %s", strerror(errno));
	if (old.sa_sigaction != on_trap)
		case_fail("the SIGTRAP handler is %p, want %p", (void *)old.sa_sigaction, (void *)on_trap);
	if (!(old.sa_flags & SA_SIGINFO) || !sigismember(&old.sa_mask, SIGUSR1))
		case_fail("the SIGTRAP action lost its flags %#x or mask", old.sa_flags);
	raise(SIGTRAP);
	if (traps != 1)
		case_fail("raise(SIGTRAP) ran the handler %d times, want 1", (int)traps);
	case_pass();
}
