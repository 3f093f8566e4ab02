/*
 * A thread parked in epoll_wait on an eventfd and a pipe: after the
 * restore it still waits, and wakes for each when they are written.
 */
#include "caselib.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int ep, efd, pfd[2];
static volatile int woke_efd, woke_pipe, parked;

static void *waiter(void *arg)
{
	struct epoll_event ev[4];

	for (;;) {
		int n;

		parked = 1;
		n = epoll_wait(ep, ev, 4, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == 1) {
				uint64_t v;

				if (read(efd, &v, 8) == 8 && v == 5)
					woke_efd = 1;
			} else if (ev[i].data.u64 == 2) {
				char c;

				if (read(pfd[0], &c, 1) == 1 && c == 'p')
					woke_pipe = 1;
			}
		}
		if (woke_efd && woke_pipe)
			return NULL;
	}
}

int main(void)
{
	struct epoll_event e1 = { .events = EPOLLIN, .data.u64 = 1 };
	struct epoll_event e2 = { .events = EPOLLIN, .data.u64 = 2 };
	pthread_t t;
	uint64_t five = 5;

	case_init();
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, 0);
	if (ep < 0 || efd < 0 || pipe(pfd))
		case_fail("setup: %s", strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &e1) || epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &e2))
		case_fail("epoll_ctl: %s", strerror(errno));
	if (pthread_create(&t, NULL, waiter, NULL))
		case_fail("pthread_create");
	while (!parked)
		usleep(1000);
	usleep(50000);
	case_ready();
	case_wait_go();

	usleep(50000);
	if (woke_efd || woke_pipe)
		case_fail("the waiter woke up by itself");
	if (write(efd, &five, 8) != 8)
		case_fail("write eventfd: %s", strerror(errno));
	for (int i = 0; i < 30000 && !woke_efd; i++)	/* up to 30 s: a busy machine */
		usleep(1000);
	if (!woke_efd)
		case_fail("the waiter did not wake for the eventfd");
	if (write(pfd[1], "p", 1) != 1)
		case_fail("write pipe: %s", strerror(errno));
	pthread_join(t, NULL);
	if (!woke_pipe)
		case_fail("the waiter did not wake for the pipe");
	case_pass();
}
