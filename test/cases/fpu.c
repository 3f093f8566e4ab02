/* Vector/FPU register state survives C/R: known values are loaded into
 * xmm/ymm/zmm (and opmask, x87, MXCSR) registers, then one inline asm block
 * spins on the go flag without touching them and stores them back.
 * The go flag is set from a signal handler; the kernel saves and restores
 * the extended state around it. $CASE_FPU=sse|avx2 forces a lower level. */
#include "caselib.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREG	32
#define REGB	64

static uint8_t vin[NREG * REGB] __attribute__((aligned(64)));
static uint8_t vout[NREG * REGB] __attribute__((aligned(64)));
static uint16_t kin[8], kout[8];
static double xin[4] = { 3.14159265358979, -2.5e-300, 1e300, 0.1 };
static double xout[4];
static uint32_t mxcsr_in = 0xDF80; /* FTZ, round up, exceptions masked */
static uint32_t mxcsr_out, mxcsr_saved;

#define SPIN \
	"1: pause\n\t" \
	"cmpl $0, %[flag]\n\t" \
	"je 1b\n\t"

#define X87_LOAD \
	"stmxcsr %[mxs]\n\t" \
	"ldmxcsr %[mxi]\n\t" \
	"fldl 0(%[xi])\n\tfldl 8(%[xi])\n\tfldl 16(%[xi])\n\tfldl 24(%[xi])\n\t"

#define X87_STORE \
	"fstpl 24(%[xo])\n\tfstpl 16(%[xo])\n\tfstpl 8(%[xo])\n\tfstpl 0(%[xo])\n\t" \
	"stmxcsr %[mxo]\n\t" \
	"ldmxcsr %[mxs]\n\t"

#define OPERANDS \
	: [mxo] "=m"(mxcsr_out), [mxs] "=m"(mxcsr_saved) \
	: [vi] "r"(vin), [vo] "r"(vout), [xi] "r"(xin), [xo] "r"(xout), \
	  [ki] "r"(kin), [ko] "r"(kout), [flag] "m"(case_go), [mxi] "m"(mxcsr_in)

#define XMM_CLOBBERS \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static void spin_sse(void)
{
	asm volatile(X87_LOAD
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
		"movdqu \\r*64(%[vi]), %%xmm\\r\n\t"
		".endr\n\t"
		SPIN
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
		"movdqu %%xmm\\r, \\r*64(%[vo])\n\t"
		".endr\n\t"
		X87_STORE
		OPERANDS
		: "memory", "cc", XMM_CLOBBERS, "st", "st(1)", "st(2)", "st(3)");
}

__attribute__((target("avx2")))
static void spin_avx2(void)
{
	asm volatile(X87_LOAD
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
		"vmovdqu \\r*64(%[vi]), %%ymm\\r\n\t"
		".endr\n\t"
		SPIN
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
		"vmovdqu %%ymm\\r, \\r*64(%[vo])\n\t"
		".endr\n\t"
		"vzeroupper\n\t"
		X87_STORE
		OPERANDS
		: "memory", "cc", XMM_CLOBBERS, "st", "st(1)", "st(2)", "st(3)");
}

__attribute__((target("avx512f")))
static void spin_avx512(void)
{
	asm volatile(X87_LOAD
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
		"vmovdqu64 \\r*64(%[vi]), %%zmm\\r\n\t"
		".endr\n\t"
		".irp r,1,2,3,4,5,6,7\n\t"
		"kmovw \\r*2(%[ki]), %%k\\r\n\t"
		".endr\n\t"
		SPIN
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
		"vmovdqu64 %%zmm\\r, \\r*64(%[vo])\n\t"
		".endr\n\t"
		".irp r,1,2,3,4,5,6,7\n\t"
		"kmovw %%k\\r, \\r*2(%[ko])\n\t"
		".endr\n\t"
		"vzeroupper\n\t"
		X87_STORE
		OPERANDS
		: "memory", "cc", XMM_CLOBBERS,
		  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
		  "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
		  "k1", "k2", "k3", "k4", "k5", "k6", "k7",
		  "st", "st(1)", "st(2)", "st(3)");
}

static double compute(void)
{
	volatile double x = 0.0;
	long double l = 1.0L;
	int i;

	for (i = 1; i <= 1000; i++) {
		x += (double)i / (i + 0.5) + 1.0 / (i * (double)i);
		l *= 1.0L + 1.0L / (i * 3.0L);
	}
	return x + (double)l;
}

int main(void)
{
	const char *force = getenv("CASE_FPU");
	int nreg, width, level, i;
	double before, after;

	case_init();
	__builtin_cpu_init();
	level = 0;
	if (__builtin_cpu_supports("avx2"))
		level = 1;
	if (__builtin_cpu_supports("avx512f"))
		level = 2;
	if (force && !strcmp(force, "sse"))
		level = 0;
	if (force && !strcmp(force, "avx2") && level > 1)
		level = 1;
	nreg = level == 2 ? 32 : 16;
	width = level == 2 ? 64 : level == 1 ? 32 : 16;

	for (i = 0; i < NREG * REGB; i++)
		vin[i] = (uint8_t)(i * 13 + 7 + (i >> 6) * 29);
	for (i = 0; i < 8; i++)
		kin[i] = (uint16_t)(0x1234 * (i + 1) ^ 0xa5c3);
	memset(vout, 0, sizeof(vout));

	before = compute();
	printf("fpu level %s\n", level == 2 ? "avx512f" : level == 1 ? "avx2" : "sse");
	case_ready();
	if (level == 2)
		spin_avx512();
	else if (level == 1)
		spin_avx2();
	else
		spin_sse();

	for (i = 0; i < nreg; i++)
		if (memcmp(vin + i * REGB, vout + i * REGB, width)) {
			int lo = memcmp(vin + i * REGB, vout + i * REGB, 16) != 0;
			int nbad = 0, j;

			for (j = 0; j < nreg; j++)
				nbad += memcmp(vin + j * REGB, vout + j * REGB, width) != 0;
			case_fail("%s register %d differs (%s; %d of %d registers bad)",
				  level == 2 ? "zmm" : level == 1 ? "ymm" : "xmm", i,
				  lo ? "low 128 bits" : "upper bits only", nbad, nreg);
		}
	if (level == 2)
		for (i = 1; i < 8; i++)
			if (kin[i] != kout[i])
				case_fail("k%d = %#x, want %#x", i, kout[i], kin[i]);
	for (i = 0; i < 4; i++)
		if (memcmp(&xin[i], &xout[i], sizeof(double)))
			case_fail("x87 st value %d = %a, want %a", i, xout[i], xin[i]);
	if (mxcsr_out != mxcsr_in)
		case_fail("mxcsr %#x, want %#x", mxcsr_out, mxcsr_in);
	after = compute();
	if (memcmp(&before, &after, sizeof(double)))
		case_fail("x87/SSE computation %a != %a", after, before);
	case_pass();
}
