/* AMX: a process that asked for XTILE_DATA (ARCH_REQ_XCOMP_PERM) keeps the
 * permission and its tile registers across C/R. tmm0..tmm2 are loaded with
 * known data, one asm block spins on the go flag without touching them, then
 * stores them back, in the main thread and in a second thread (each thread's
 * tile state is its own). Passes trivially, with a note, without AMX. */
#include "caselib.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_GET_XCOMP_PERM	0x1022
#define ARCH_REQ_XCOMP_PERM	0x1023
#define XFEATURE_XTILE_DATA	18

#define ROWS	16
#define COLSB	64

static struct {
	uint8_t palette, start_row, rsvd[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} __attribute__((packed, aligned(64))) cfg;

static uint8_t tin[2][3][ROWS * COLSB] __attribute__((aligned(64)));
static uint8_t tout[2][3][ROWS * COLSB] __attribute__((aligned(64)));
static volatile int loaded[2];

static uint64_t perm(void)
{
	uint64_t p = 0;

	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &p))
		case_fail("ARCH_GET_XCOMP_PERM: %m");
	return p;
}

static void spin_tiles(int w)
{
	asm volatile("ldtilecfg %[cfg]\n\t"
		     "tileloadd (%[a],%[s],1), %%tmm0\n\t"
		     "tileloadd (%[b],%[s],1), %%tmm1\n\t"
		     "tileloadd (%[c],%[s],1), %%tmm2\n\t"
		     "movl $1, %[ld]\n\t"
		     "1: pause\n\t"
		     "cmpl $0, %[flag]\n\t"
		     "je 1b\n\t"
		     "tilestored %%tmm0, (%[oa],%[s],1)\n\t"
		     "tilestored %%tmm1, (%[ob],%[s],1)\n\t"
		     "tilestored %%tmm2, (%[oc],%[s],1)\n\t"
		     "tilerelease\n\t"
		     : [ld] "=m"(loaded[w])
		     : [cfg] "m"(cfg), [a] "r"(tin[w][0]), [b] "r"(tin[w][1]), [c] "r"(tin[w][2]),
		       [oa] "r"(tout[w][0]), [ob] "r"(tout[w][1]), [oc] "r"(tout[w][2]),
		       [s] "r"((long)COLSB), [flag] "m"(case_go)
		     : "memory", "cc");
}

static void *thread_main(void *arg)
{
	(void)arg;
	spin_tiles(1);
	return NULL;
}

int main(void)
{
	pthread_t th;
	int i, t;

	case_init();
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("amx-tile")) {
		printf("note: no AMX on this CPU, nothing to check\n");
		case_ready();
		case_wait_go();
		case_pass();
	}
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILE_DATA))
		case_fail("ARCH_REQ_XCOMP_PERM(XTILE_DATA): %m");
	cfg.palette = 1;
	for (t = 0; t < 3; t++) {
		cfg.colsb[t] = COLSB;
		cfg.rows[t] = ROWS;
		for (i = 0; i < ROWS * COLSB; i++) {
			tin[0][t][i] = (uint8_t)(i * 7 + t * 91 + 3);
			tin[1][t][i] = (uint8_t)(i * 5 + t * 37 + 11);
		}
	}
	if (pthread_create(&th, NULL, thread_main, NULL))
		case_fail("pthread_create failed");
	while (!loaded[1])	/* its tiles hold their data */
		usleep(1000);
	case_ready();
	spin_tiles(0);
	if (pthread_join(th, NULL))
		case_fail("pthread_join failed");
	if (!(perm() & (1ULL << XFEATURE_XTILE_DATA)))
		case_fail("XTILE_DATA permission lost: %#llx", (unsigned long long)perm());
	for (i = 0; i < 2; i++)
		for (t = 0; t < 3; t++)
			if (memcmp(tin[i][t], tout[i][t], sizeof(tin[i][t])))
				case_fail("tile register tmm%d of the %s thread differs", t,
					  i ? "second" : "main");
	case_pass();
}
