/* crc32c with the SSE4.2 instruction; used by crest and by the pie blobs. */
#ifndef CREST_ARCH_CRC_H
#define CREST_ARCH_CRC_H

/* crc32c of one 8-byte word, SSE4.2 instruction. */
static inline unsigned int arch_crc32c_u64(unsigned int crc,
					   unsigned long long v)
{
	unsigned long long c = crc;

	__asm__("crc32q %1, %0" : "+r"(c) : "rm"(v));
	return (unsigned int)c;
}

static inline unsigned int arch_crc32c_u32(unsigned int crc, unsigned int v)
{
	__asm__("crc32l %1, %0" : "+r"(crc) : "rm"(v));
	return crc;
}

static inline unsigned int arch_crc32c_u8(unsigned int crc, unsigned char v)
{
	__asm__("crc32b %1, %0" : "+r"(crc) : "rm"(v));
	return crc;
}

/* One 4 KiB page's crc32c before the final inversion (~ of it is the crc). */
static inline unsigned int arch_crc32c_page_raw(const void *page)
{
	const unsigned long long *p = page;
	unsigned long long a = ~0u;

	for (int k = 0; k < 512; k++)
		__asm__("crc32q %1, %0" : "+r"(a) : "rm"(p[k]));
	return (unsigned int)a;
}

/*
 * The checksum of a run of 4 KiB pages, as page images store it: the
 * crc32c of the array of each page's crc32c. One crc32 instruction has a
 * latency of three cycles but takes one per cycle: three pages at a time,
 * three independent chains, run three times as fast as one.
 */
static inline unsigned int arch_crc32c_pages(const void *buf, unsigned long len)
{
	const unsigned long long *p = buf;
	unsigned long pages = len / 4096, i = 0;
	unsigned int sum = ~0u;

	while (i < pages) {
		unsigned long long a = ~0u, b = ~0u, c = ~0u;
		const unsigned long long *pa = p + i * 512;
		unsigned int n = pages - i >= 3 ? 3 : (unsigned int)(pages - i);
		const unsigned long long *pb = n > 1 ? pa + 512 : pa;
		const unsigned long long *pc = n > 2 ? pa + 1024 : pa;

		for (int k = 0; k < 512; k++) {
			__asm__("crc32q %1, %0" : "+r"(a) : "rm"(pa[k]));
			__asm__("crc32q %1, %0" : "+r"(b) : "rm"(pb[k]));
			__asm__("crc32q %1, %0" : "+r"(c) : "rm"(pc[k]));
		}
		/* Fold each page's crc32c (inverted, as crc32c ends) into the sum. */
		sum = arch_crc32c_u32(sum, (unsigned int)~a);
		if (n > 1)
			sum = arch_crc32c_u32(sum, (unsigned int)~b);
		if (n > 2)
			sum = arch_crc32c_u32(sum, (unsigned int)~c);
		i += n;
	}
	return ~sum;
}

#endif
