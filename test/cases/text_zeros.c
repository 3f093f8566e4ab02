/*
 * Memory that compresses: 32 MiB of numbered text lines and 32 MiB of
 * pages written with zeros (present, so the dump saves them).  After the
 * restore every byte must be as it was.
 */
#include "caselib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HALF	(32UL << 20)

static void fill_text(char *p, size_t size)
{
	size_t off = 0;
	unsigned long line = 0;

	while (off < size) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf),
				 "%08lu the quick brown fox jumps over the lazy dog\n", line++);
		size_t k = (size_t)n < size - off ? (size_t)n : size - off;

		memcpy(p + off, buf, k);
		off += k;
	}
}

int main(void)
{
	char *mem, *want;
	size_t i;

	case_init();
	mem = malloc(2 * HALF);
	want = malloc(HALF);
	if (!mem || !want)
		case_fail("malloc of %lu bytes failed", 3 * HALF);
	fill_text(mem, HALF);
	memset(mem + HALF, 0, HALF);	/* written: present pages of zeros */
	case_ready();
	case_wait_go();
	fill_text(want, HALF);
	if (memcmp(mem, want, HALF)) {
		for (i = 0; mem[i] == want[i]; i++)
			;
		case_fail("text differs at byte %zu: %#x, want %#x", i,
			  (unsigned char)mem[i], (unsigned char)want[i]);
	}
	for (i = HALF; i < 2 * HALF; i++)
		if (mem[i])
			case_fail("byte %zu of the zeros is %#x", i - HALF, (unsigned char)mem[i]);
	free(want);
	free(mem);
	case_pass();
}
