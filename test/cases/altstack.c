/* sigaltstack on a malloc'd stack and an SA_ONSTACK handler survive C/R. */
#include "caselib.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALT_SIZE	(64 * 1024)

static char *alt;
static volatile sig_atomic_t ran, on_alt, ss_onstack;

static void winch_handler(int sig)
{
	volatile char local;
	uintptr_t a = (uintptr_t)&local;
	stack_t ss;

	(void)sig;
	ran++;
	on_alt = a >= (uintptr_t)alt && a < (uintptr_t)alt + ALT_SIZE;
	if (sigaltstack(NULL, &ss) == 0)
		ss_onstack = !!(ss.ss_flags & SS_ONSTACK);
}

int main(void)
{
	struct sigaction sa;
	stack_t ss;

	case_init();
	alt = malloc(ALT_SIZE);
	if (!alt)
		case_fail("malloc");
	memset(alt, 0x5a, ALT_SIZE);
	ss.ss_sp = alt;
	ss.ss_size = ALT_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0)
		case_fail("sigaltstack: %s", strerror(errno));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = winch_handler;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGWINCH, &sa, NULL) < 0)
		case_fail("sigaction: %s", strerror(errno));

	case_ready();
	case_wait_go();

	memset(&ss, 0, sizeof(ss));
	if (sigaltstack(NULL, &ss) < 0)
		case_fail("sigaltstack query: %s", strerror(errno));
	if (ss.ss_sp != alt || ss.ss_size != ALT_SIZE)
		case_fail("altstack %p/%zu, want %p/%d", ss.ss_sp, ss.ss_size,
			  (void *)alt, ALT_SIZE);
	if (ss.ss_flags != 0)
		case_fail("altstack flags %#x, want 0", ss.ss_flags);
	if (sigaction(SIGWINCH, NULL, &sa) < 0)
		case_fail("sigaction query: %s", strerror(errno));
	if (sa.sa_handler != winch_handler || !(sa.sa_flags & SA_ONSTACK))
		case_fail("SIGWINCH disposition changed (flags %#x)", sa.sa_flags);

	raise(SIGWINCH);
	if (ran != 1)
		case_fail("handler ran %d times", (int)ran);
	if (!on_alt)
		case_fail("handler did not run on the alternate stack");
	if (!ss_onstack)
		case_fail("SS_ONSTACK not reported inside the handler");
	case_pass();
}
