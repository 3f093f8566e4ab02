/*
 * For restore --lazy-pages (the "lazy" mode and the lazy-pages tree
 * checks): 160 MiB of anonymous memory whose checksums are taken before
 * the dump, and on go, while the lazy-pages server may still be putting
 * pages in, everything that a server could get wrong:
 *
 *   heap   128 MiB of pseudo-random words
 *   sparse 32 MiB of which every 5th page was written, the rest never
 *          touched: zeros that were never saved
 *
 * On go: two children are forked at once (each sums both regions, the
 * first after its parent rewrote pages it had not touched yet, as its
 * copy-on-write must hide); the parent drops 1 MiB of the heap
 * (MADV_DONTNEED: zeros from then on), moves the sparse region
 * (mremap to another address), and sums everything again.
 */
#include "caselib.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE		4096UL
#define HEAP		(128UL << 20)
#define SPARSE		(32UL << 20)
#define DROP_OFF	(100UL << 20)	/* in the heap: dropped after the restore */
#define DROP_LEN	(1UL << 20)
#define NCHILD		2

static uint64_t sum(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL + (i & 0xff);
	return h;
}

static uint64_t *heap;
static unsigned char *sparse;
static uint64_t heap_sum, head_sum, tail_sum, sparse_sum, zeros_sum;

static void check_child(int n)
{
	if (sum(heap, HEAP) != heap_sum) {
		fprintf(stderr, "child %d: the heap's checksum changed\n", n);
		_exit(2);
	}
	if (sum(sparse, SPARSE) != sparse_sum) {
		fprintf(stderr, "child %d: the sparse region's checksum changed\n", n);
		_exit(3);
	}
	_exit(0);
}

int main(void)
{
	uint64_t x = 88172645463325252ULL;
	unsigned char *moved, *dst;
	pid_t kids[NCHILD];

	case_init();
	heap = mmap(NULL, HEAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sparse = mmap(NULL, SPARSE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (heap == MAP_FAILED || sparse == MAP_FAILED)
		case_fail("can't allocate");
	for (size_t i = 0; i < HEAP / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		heap[i] = x;
	}
	for (size_t p = 0; p < SPARSE / PAGE; p += 5)
		memset(sparse + p * PAGE, (int)(p % 251) + 1, PAGE);
	heap_sum = sum(heap, HEAP);
	head_sum = sum(heap, DROP_OFF);
	tail_sum = sum((char *)heap + DROP_OFF + DROP_LEN, HEAP - DROP_OFF - DROP_LEN);
	sparse_sum = sum(sparse, SPARSE);
	{
		void *z = calloc(1, DROP_LEN);

		zeros_sum = sum(z, DROP_LEN);
		free(z);
	}
	case_ready();
	case_wait_go();

	/* At once: what the parent does next must not show in the children. */
	for (int n = 0; n < NCHILD; n++) {
		kids[n] = fork();
		if (kids[n] < 0)
			case_fail("fork: %m");
		if (kids[n] == 0) {
			if (n == 0)
				usleep(100000);	/* after the parent's writes below */
			check_child(n);
		}
	}
	/* Rewrite pages the parent never touched since the restore. */
	for (size_t i = 0; i < HEAP / 8; i += (64 << 10) / 8)
		heap[i] = ~heap[i];
	for (size_t i = 0; i < HEAP / 8; i += (64 << 10) / 8)
		heap[i] = ~heap[i];
	/* Move the sparse region (pages still to come move with it). */
	dst = mmap(NULL, SPARSE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		case_fail("mmap: %m");
	moved = mremap(sparse, SPARSE, SPARSE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (moved != dst)
		case_fail("mremap: %m");
	if (sum(moved, SPARSE) != sparse_sum)
		case_fail("the sparse region's checksum changed (after mremap)");
	/* A MiB in the middle of the heap goes: zeros. */
	if (madvise((char *)heap + DROP_OFF, DROP_LEN, MADV_DONTNEED))
		case_fail("madvise: %m");
	if (sum((char *)heap + DROP_OFF, DROP_LEN) != zeros_sum)
		case_fail("the heap after MADV_DONTNEED is not zeros");
	if (sum(heap, DROP_OFF) != head_sum ||
	    sum((char *)heap + DROP_OFF + DROP_LEN, HEAP - DROP_OFF - DROP_LEN) != tail_sum)
		case_fail("the heap's checksum changed");
	for (int n = 0; n < NCHILD; n++) {
		int st;

		if (waitpid(kids[n], &st, 0) != kids[n])
			case_fail("waitpid: %m");
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			case_fail("child %d: status %#x", n, st);
	}
	case_pass();
}
