/*
 * Per-thread vector register state survives C/R: two threads load different
 * known values into zmm0-31 + k1-7 (avx512f) or ymm0-15 (avx2), x87 and
 * MXCSR, then spin in one asm block on the go flag without touching them and
 * store them back; each thread checks its own values after go.
 * $CASE_FPU=avx2 forces ymm on an avx512 machine.
 */
#include "mt_util.h"

#include <stdint.h>
#include <stdlib.h>

#define NT	2
#define NREG	32
#define REGB	64

struct vstate {
	uint8_t vin[NREG * REGB] __attribute__((aligned(64)));
	uint8_t vout[NREG * REGB] __attribute__((aligned(64)));
	uint16_t kin[8], kout[8];
	double xin[4], xout[4];
	uint32_t mxcsr_in, mxcsr_out, mxcsr_saved;
	volatile int loaded;
	pid_t tid;
};

static struct vstate st[NT];
static int level;	/* 1 avx2, 2 avx512f */

#define X87_LOAD \
	"stmxcsr %[mxs]\n\t" \
	"ldmxcsr %[mxi]\n\t" \
	"fldl 0(%[xi])\n\tfldl 8(%[xi])\n\tfldl 16(%[xi])\n\tfldl 24(%[xi])\n\t"

#define X87_STORE \
	"fstpl 24(%[xo])\n\tfstpl 16(%[xo])\n\tfstpl 8(%[xo])\n\tfstpl 0(%[xo])\n\t" \
	"stmxcsr %[mxo]\n\t" \
	"ldmxcsr %[mxs]\n\t"

/* Tell main we are loaded, then spin until go. */
#define SPIN \
	"movl $1, %[loaded]\n\t" \
	"1: pause\n\t" \
	"cmpl $0, %[flag]\n\t" \
	"je 1b\n\t"

#define OPERANDS(s) \
	: [mxo] "=m"((s)->mxcsr_out), [mxs] "=m"((s)->mxcsr_saved), \
	  [loaded] "=m"((s)->loaded) \
	: [vi] "r"((s)->vin), [vo] "r"((s)->vout), [xi] "r"((s)->xin), \
	  [xo] "r"((s)->xout), [ki] "r"((s)->kin), [ko] "r"((s)->kout), \
	  [flag] "m"(case_go), [mxi] "m"((s)->mxcsr_in)

#define XMM_CLOBBERS \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

__attribute__((target("avx2"), noinline))
static void spin_avx2(struct vstate *s)
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
		OPERANDS(s)
		: "memory", "cc", XMM_CLOBBERS, "st", "st(1)", "st(2)", "st(3)");
}

__attribute__((target("avx512f"), noinline))
static void spin_avx512(struct vstate *s)
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
		OPERANDS(s)
		: "memory", "cc", XMM_CLOBBERS,
		  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
		  "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
		  "k1", "k2", "k3", "k4", "k5", "k6", "k7",
		  "st", "st(1)", "st(2)", "st(3)");
}

static void *worker(void *arg)
{
	struct vstate *s = arg;

	s->tid = mt_gettid();
	if (level == 2)
		spin_avx512(s);
	else
		spin_avx2(s);
	return NULL;
}

static void check(int t)
{
	struct vstate *s = &st[t];
	int nreg = level == 2 ? 32 : 16, width = level == 2 ? 64 : 32;
	const char *rn = level == 2 ? "zmm" : "ymm";

	for (int i = 0; i < nreg; i++)
		if (memcmp(s->vin + i * REGB, s->vout + i * REGB, width)) {
			int lo = memcmp(s->vin + i * REGB, s->vout + i * REGB, 16) != 0;
			int other = t ^ 1, nbad = 0;

			for (int j = 0; j < nreg; j++)
				nbad += memcmp(s->vin + j * REGB, s->vout + j * REGB, width) != 0;
			case_fail("thread %d (tid %d): %s%d differs (%s; %d of %d bad%s)", t,
				  (int)s->tid, rn, i, lo ? "low 128 bits" : "upper bits only",
				  nbad, nreg,
				  !memcmp(st[other].vin + i * REGB, s->vout + i * REGB, width)
				  ? "; holds the OTHER thread's value" : "");
		}
	if (level == 2)
		for (int i = 1; i < 8; i++)
			if (s->kin[i] != s->kout[i])
				case_fail("thread %d: k%d = %#x, want %#x", t, i, s->kout[i],
					  s->kin[i]);
	for (int i = 0; i < 4; i++)
		if (memcmp(&s->xin[i], &s->xout[i], sizeof(double)))
			case_fail("thread %d: x87 value %d = %a, want %a", t, i, s->xout[i],
				  s->xin[i]);
	if (s->mxcsr_out != s->mxcsr_in)
		case_fail("thread %d: mxcsr %#x, want %#x", t, s->mxcsr_out, s->mxcsr_in);
}

int main(void)
{
	const char *force = getenv("CASE_FPU");
	pthread_t th[NT];
	int err;

	case_init();
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		level = 1;
	if (__builtin_cpu_supports("avx512f"))
		level = 2;
	if (force && !strcmp(force, "avx2") && level > 1)
		level = 1;
	if (!level) {
		printf("no avx2: nothing to test\n");
		case_ready();
		case_wait_go();
		case_pass();
	}
	for (int t = 0; t < NT; t++) {
		struct vstate *s = &st[t];

		for (int i = 0; i < NREG * REGB; i++)
			s->vin[i] = (uint8_t)(i * (13 + 4 * t) + 7 + t * 101 + (i >> 6) * 29);
		for (int i = 0; i < 8; i++)
			s->kin[i] = (uint16_t)(0x1234 * (i + 1) ^ (t ? 0x5a3c : 0xa5c3));
		s->xin[0] = t ? 2.718281828459045 : 3.14159265358979;
		s->xin[1] = t ? 1e-310 : -2.5e-300;
		s->xin[2] = t ? -1e200 : 1e300;
		s->xin[3] = t ? 0.3 : 0.1;
		/* Different rounding modes / FTZ per thread. */
		s->mxcsr_in = t ? 0x3F80 : 0xDF80;
	}
	printf("level %s\n", level == 2 ? "avx512f" : "avx2");

	mt_block_go(1);
	for (int t = 0; t < NT; t++)
		if ((err = pthread_create(&th[t], NULL, worker, &st[t])))
			case_fail("pthread_create: %s", strerror(err));
	mt_block_go(0);
	for (int t = 0; t < NT; t++)
		while (!st[t].loaded)
			usleep(1000);
	case_ready();
	case_wait_go();
	for (int t = 0; t < NT; t++)
		if ((err = pthread_join(th[t], NULL)))
			case_fail("pthread_join: %s", strerror(err));
	for (int t = 0; t < NT; t++)
		check(t);
	case_pass();
}
