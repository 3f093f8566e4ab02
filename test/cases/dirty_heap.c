/* Memory that keeps changing while it is checkpointed: 32 MiB of heap whose
 * pages are rewritten one at a time (each page holds its index and its
 * generation, the generations are kept apart), some dropped with
 * MADV_DONTNEED (they must read back as zeros), and a small mapping that is
 * unmapped and mapped anew at the same address. The tests pre-dump it
 * (crest pre-dump, --prev-images-dir) while it runs: a page written after a
 * pre-dump and taken from it, or one taken from the wrong link of the
 * chain, fails the check. */
#include "caselib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGES	8192UL
#define PAGE	4096UL
#define WORDS	(PAGE / sizeof(uint64_t))
#define REMAP	16UL		/* pages of the mapping made anew */

static uint32_t gen[PAGES];	/* 0: dropped, reads as zeros */
static uint32_t remap_gen;

static inline uint64_t pattern(uint64_t page, uint32_t g, uint64_t word)
{
	return (page * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)g << 40) ^ word;
}

static void fill(uint64_t *p, uint64_t page, uint32_t g)
{
	for (uint64_t w = 0; w < WORDS; w++)
		p[w] = pattern(page, g, w);
}

static int check(const uint64_t *p, uint64_t page, uint32_t g)
{
	for (uint64_t w = 0; w < WORDS; w++)
		if (p[w] != (g ? pattern(page, g, w) : 0))
			return (int)w + 1;
	return 0;
}

int main(void)
{
	uint64_t *mem, *rm;
	uint64_t k = 1;
	int bad;

	case_init();
	mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rm = mmap(NULL, REMAP * PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || rm == MAP_FAILED)
		case_fail("mmap failed");
	for (uint64_t p = 0; p < PAGES; p++) {
		gen[p] = 1;
		fill(mem + p * WORDS, p, 1);
	}
	remap_gen = 1;
	for (uint64_t p = 0; p < REMAP; p++)
		fill(rm + p * WORDS, 1000000 + p, remap_gen);
	case_ready();
	while (!case_go) {
		struct timespec ts = { 0, 300000 };
		uint64_t p;

		k = k * 6364136223846793005ULL + 1442695040888963407ULL;
		p = (k >> 33) % PAGES;
		if ((k >> 20) % 64 == 0) {
			/* Dropped: zeros from now on. */
			gen[p] = 0;
			madvise(mem + p * WORDS, PAGE, MADV_DONTNEED);
		} else if ((k >> 20) % 512 == 1) {
			/* The same address, a new mapping and new contents. */
			if (munmap(rm, REMAP * PAGE) ||
			    mmap(rm, REMAP * PAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != rm)
				case_fail("remapping failed");
			remap_gen++;
			for (uint64_t q = 0; q < REMAP; q++)
				fill(rm + q * WORDS, 1000000 + q, remap_gen);
		} else {
			gen[p]++;
			fill(mem + p * WORDS, p, gen[p]);
		}
		nanosleep(&ts, NULL);
	}
	for (uint64_t p = 0; p < PAGES; p++)
		if ((bad = check(mem + p * WORDS, p, gen[p])))
			case_fail("page %llu: word %d is not generation %u's",
				  (unsigned long long)p, bad - 1, gen[p]);
	for (uint64_t p = 0; p < REMAP; p++)
		if ((bad = check(rm + p * WORDS, 1000000 + p, remap_gen)))
			case_fail("remapped page %llu: word %d is not generation %u's",
				  (unsigned long long)p, bad - 1, remap_gen);
	case_pass();
}
