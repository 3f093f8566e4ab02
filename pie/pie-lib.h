/* The few helpers the blobs need, header-only so no libc is pulled in. */
#ifndef CREST_PIE_LIB_H
#define CREST_PIE_LIB_H

#include <stdint.h>
#include <stddef.h>
#include "pie-syscalls.h"
#include "arch-crc.h"

#define PIE_PAGE_SIZE	4096UL

static inline uint32_t pie_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len >= 8) {
		crc = arch_crc32c_u64(crc, *(const uint64_t *)p);
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = arch_crc32c_u8(crc, *p++);
	return ~crc;
}

static inline void pie_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
}

#endif
