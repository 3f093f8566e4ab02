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

static inline unsigned int arch_crc32c_u8(unsigned int crc, unsigned char v)
{
	__asm__("crc32b %1, %0" : "+r"(crc) : "rm"(v));
	return crc;
}

#endif
