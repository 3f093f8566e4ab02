/*
 * Capabilities of a process that gave up root: effective, permitted,
 * inheritable, bounding and ambient sets, securebits and ids, each thread
 * its own (a second thread keeps fewer effective capabilities), survive
 * C/R exactly.
 */
#include "caselib.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BIT(c)	(1ULL << (c))

struct snap {
	uint64_t eff, prm, inh, bnd, amb;
	int secbits;
	uid_t uid[3];
	gid_t gid[3];
};

static void take(struct snap *s, const char *who)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(s, 0, sizeof(*s));
	if (syscall(SYS_capget, &h, d))
		case_fail("%s: capget: %s", who, strerror(errno));
	s->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	s->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	s->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	for (int c = 0; c < 64; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0)
			break;
		if (r)
			s->bnd |= BIT(c);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			s->amb |= BIT(c);
	}
	s->secbits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	getresuid(&s->uid[0], &s->uid[1], &s->uid[2]);
	getresgid(&s->gid[0], &s->gid[1], &s->gid[2]);
}

static void same(const struct snap *a, const struct snap *b, const char *who)
{
	if (a->eff != b->eff || a->prm != b->prm || a->inh != b->inh)
		case_fail("%s: caps eff %#llx prm %#llx inh %#llx, want %#llx %#llx %#llx", who,
			  (unsigned long long)b->eff, (unsigned long long)b->prm,
			  (unsigned long long)b->inh, (unsigned long long)a->eff,
			  (unsigned long long)a->prm, (unsigned long long)a->inh);
	if (a->bnd != b->bnd)
		case_fail("%s: bounding set %#llx, want %#llx", who,
			  (unsigned long long)b->bnd, (unsigned long long)a->bnd);
	if (a->amb != b->amb)
		case_fail("%s: ambient set %#llx, want %#llx", who,
			  (unsigned long long)b->amb, (unsigned long long)a->amb);
	if (a->secbits != b->secbits)
		case_fail("%s: securebits %#x, want %#x", who, b->secbits, a->secbits);
	if (memcmp(a->uid, b->uid, sizeof(a->uid)) || memcmp(a->gid, b->gid, sizeof(a->gid)))
		case_fail("%s: uids %u %u %u gids %u %u %u, want %u %u %u / %u %u %u", who,
			  b->uid[0], b->uid[1], b->uid[2], b->gid[0], b->gid[1], b->gid[2],
			  a->uid[0], a->uid[1], a->uid[2], a->gid[0], a->gid[1], a->gid[2]);
}

static int set_caps(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ eff >> 32, prm >> 32, inh >> 32 },
	};

	return syscall(SYS_capset, &h, d);
}

static struct snap thread_before, thread_after;
static volatile int thread_state;	/* 1 set up, 2 checked */

static void *thread_main(void *arg)
{
	struct snap s;

	take(&s, "thread");
	/* This thread alone keeps only CAP_KILL effective. */
	if (set_caps(BIT(CAP_KILL), s.prm, s.inh))
		case_fail("thread capset: %s", strerror(errno));
	take(&thread_before, "thread");
	thread_state = 1;
	while (!case_go)
		usleep(10000);
	take(&thread_after, "thread");
	thread_state = 2;
	return NULL;
}

int main(void)
{
	struct snap before, after;
	gid_t g = 1000;
	uint64_t keep;
	pthread_t th;
	struct snap s;

	case_init();
	if (prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0) ||
	    prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0))
		case_fail("PR_CAPBSET_DROP: %s", strerror(errno));
	take(&s, "main");
	if (set_caps(s.eff, s.prm, BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL)))
		case_fail("capset inheritable: %s", strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		case_fail("PR_SET_KEEPCAPS: %s", strerror(errno));
	if (setgroups(1, &g) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
		case_fail("giving up root: %s", strerror(errno));
	keep = BIT(CAP_DAC_OVERRIDE) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL) |
	       BIT(CAP_SETPCAP) | BIT(CAP_CHOWN);
	if (set_caps(keep & ~BIT(CAP_CHOWN), keep, BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL)))
		case_fail("capset: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0))
		case_fail("PR_CAP_AMBIENT_RAISE: %s", strerror(errno));
	if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_CAP_AMBIENT_RAISE, 0, 0, 0))
		case_fail("PR_SET_SECUREBITS: %s", strerror(errno));
	take(&before, "main");
	if (pthread_create(&th, NULL, thread_main, NULL))
		case_fail("pthread_create");
	while (thread_state != 1)
		usleep(1000);
	case_ready();
	case_wait_go();

	take(&after, "main");
	same(&before, &after, "main thread");
	while (thread_state != 2)
		usleep(1000);
	same(&thread_before, &thread_after, "second thread");
	if (thread_after.eff != BIT(CAP_KILL))
		case_fail("second thread: effective %#llx, want CAP_KILL only",
			  (unsigned long long)thread_after.eff);
	pthread_join(th, NULL);
	case_pass();
}
