/* Dumped in the middle of a 3 s nanosleep; the sleep must still last >= 3 s. */
#include "caselib.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int main(void)
{
	struct timespec start, end, req = { 3, 0 }, rem;
	double elapsed;

	case_init();
	clock_gettime(CLOCK_MONOTONIC, &start);
	case_ready();
	while (nanosleep(&req, &rem) < 0) {
		if (errno != EINTR)
			case_fail("nanosleep: %s", strerror(errno));
		req = rem;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	elapsed = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
	if (elapsed < 3.0)
		case_fail("slept only %.3f s", elapsed);
	case_wait_go();
	case_pass();
}
