/* A busy loop keeps a counter in memory and a copy on the stack in step;
 * after restore both must still agree and keep counting. */
#include "caselib.h"

#include <stdint.h>

static volatile uint64_t counter;

int main(void)
{
	volatile uint64_t local = 0;
	uint64_t at_ready, at_go, i;

	case_init();
	while (counter < 1000000) {
		counter++;
		local++;
	}
	at_ready = counter;
	case_ready();
	for (;;) {
		counter++;
		local++;
		if (case_go)
			break;
	}
	at_go = counter;
	if (local != counter)
		case_fail("counter %llu != stack copy %llu",
			  (unsigned long long)counter, (unsigned long long)local);
	if (at_go <= at_ready)
		case_fail("counter did not advance: %llu <= %llu",
			  (unsigned long long)at_go, (unsigned long long)at_ready);
	/* Keep counting after the go signal. */
	for (i = 0; i < 10000000; i++) {
		counter++;
		local++;
	}
	if (counter != at_go + 10000000 || local != counter)
		case_fail("after go: counter %llu stack %llu expected %llu",
			  (unsigned long long)counter, (unsigned long long)local,
			  (unsigned long long)(at_go + 10000000));
	case_pass();
}
