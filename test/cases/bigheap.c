/* 256 MiB of heap, every page filled with a pattern derived from its index. */
#include "caselib.h"

#include <stdint.h>
#include <stdlib.h>

#define SIZE	(256UL << 20)
#define PAGE	4096UL
#define WORDS	(PAGE / sizeof(uint64_t))

static inline uint64_t pattern(uint64_t page, uint64_t word)
{
	return (page * 0x9E3779B97F4A7C15ULL) ^ word;
}

int main(void)
{
	uint64_t *mem, p, w;

	case_init();
	mem = malloc(SIZE);
	if (!mem)
		case_fail("malloc %lu failed", SIZE);
	for (p = 0; p < SIZE / PAGE; p++)
		for (w = 0; w < WORDS; w++)
			mem[p * WORDS + w] = pattern(p, w);
	case_ready();
	case_wait_go();
	for (p = 0; p < SIZE / PAGE; p++)
		for (w = 0; w < WORDS; w++)
			if (mem[p * WORDS + w] != pattern(p, w))
				case_fail("page %llu (addr %p) word %llu: got %#llx want %#llx",
					  (unsigned long long)p, (void *)&mem[p * WORDS],
					  (unsigned long long)w,
					  (unsigned long long)mem[p * WORDS + w],
					  (unsigned long long)pattern(p, w));
	free(mem);
	case_pass();
}
