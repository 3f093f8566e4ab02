/*
 * Zero pages are never saved: 64 MiB of anonymous memory read through
 * (every page maps the kernel's zero page, in a huge-page range too)
 * and 1 page in 16 written; 1 page in 16 written and cleared again
 * (present, full of zeros); 1 in 16 with zeros but for its last byte
 * (a page that starts with zeros is not thereby zero). The dump must
 * not save the pages only read nor those full of zeros (the zero_pages
 * tree check looks at the pages image's size); after the restore every
 * page reads as it did (zeros, or its pattern) and every page can be
 * written.
 */
#include "caselib.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define SIZE	(64UL << 20)
#define PAGE	4096UL

static uint64_t word(size_t page)
{
	return page * 0x9E3779B97F4A7C15ULL + 1;
}

/* What word w of page p holds at the dump. */
static uint64_t want_at(size_t p, size_t w)
{
	if (p % 16 == 0)
		return word(p) ^ w;
	if (p % 16 == 4 && w == PAGE / 8 - 1)
		return 0xA5ULL << 56;
	return 0;
}

int main(void)
{
	volatile unsigned char *m;
	unsigned long sum = 0;

	case_init();
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		case_fail("mmap: %m");
	for (size_t p = 0; p < SIZE / PAGE; p++)
		sum += m[p * PAGE];
	for (size_t p = 0; p < SIZE / PAGE; p += 16)
		for (size_t w = 0; w < PAGE / 8; w++)
			((volatile uint64_t *)(m + p * PAGE))[w] = word(p) ^ w;
	for (size_t p = 8; p < SIZE / PAGE; p += 16) {
		for (size_t w = 0; w < PAGE / 8; w++)
			((volatile uint64_t *)(m + p * PAGE))[w] = word(p) ^ w;
		memset((void *)(m + p * PAGE), 0, PAGE);
	}
	for (size_t p = 4; p < SIZE / PAGE; p += 16)
		m[p * PAGE + PAGE - 1] = 0xA5;
	if (sum)
		case_fail("fresh memory is not zeros");
	case_ready();
	case_wait_go();
	for (size_t p = 0; p < SIZE / PAGE; p++)
		for (size_t w = 0; w < PAGE / 8; w++) {
			uint64_t got = ((volatile uint64_t *)(m + p * PAGE))[w];
			uint64_t want = want_at(p, w);

			if (got != want)
				case_fail("page %zu word %zu: %#llx, want %#llx", p, w,
					  (unsigned long long)got, (unsigned long long)want);
		}
	for (size_t p = 0; p < SIZE / PAGE; p++)
		m[p * PAGE + 7] = (unsigned char)p;
	for (size_t p = 0; p < SIZE / PAGE; p++)
		if (m[p * PAGE + 7] != (unsigned char)p)
			case_fail("page %zu does not keep what was written", p);
	case_pass();
}
