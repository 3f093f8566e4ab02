/* The program break and the data above the initial break survive C/R. */
#include "caselib.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define GROW	(1 << 20)

int main(void)
{
	uint32_t *area;
	void *end, *now, *more;
	size_t i;

	case_init();
	area = sbrk(GROW);
	if (area == (void *)-1)
		case_fail("sbrk: %s", strerror(errno));
	for (i = 0; i < GROW / sizeof(*area); i++)
		area[i] = (uint32_t)(i * 2654435761u) ^ 0xc0ffee;
	end = sbrk(0);
	if ((char *)end < (char *)area + GROW)
		case_fail("sbrk(0) %p below area end", end);

	case_ready();
	case_wait_go();

	now = sbrk(0);
	if (now != end)
		case_fail("break moved: %p, was %p", now, end);
	for (i = 0; i < GROW / sizeof(*area); i++)
		if (area[i] != ((uint32_t)(i * 2654435761u) ^ 0xc0ffee))
			case_fail("word %zu at %p: %#x", i, (void *)&area[i], area[i]);
	more = sbrk(4096);
	if (more == (void *)-1)
		case_fail("sbrk(4096) after restore: %s", strerror(errno));
	if (more != end)
		case_fail("sbrk(4096) returned %p, want %p", more, end);
	memset(more, 0xab, 4096);
	if (sbrk(0) != (char *)end + 4096)
		case_fail("break after grow %p, want %p", sbrk(0), (void *)((char *)end + 4096));
	case_pass();
}
