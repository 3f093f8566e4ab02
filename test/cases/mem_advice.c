/* madvise() advice, mlock and unreadable data come back, checked from
 * inside after the restore (and by the /proc audit, which compares every
 * mapping's VmFlags):
 *  - MADV_DONTFORK: dc, and a child forked now does not have the region;
 *  - MADV_WIPEONFORK: wf, its data kept here, zeros in a child;
 *  - MADV_DONTDUMP (dd), MADV_HUGEPAGE (hg), MADV_SEQUENTIAL (sr),
 *    MADV_RANDOM (rr), MADV_MERGEABLE (mg): the flags, and the data;
 *  - a sealed region (mseal, sl): mprotect() of it still fails;
 *  - a guard page (MADV_GUARD_INSTALL, gu) in a written region: still a
 *    guard (pagemap says so, a read faults), its neighbours' data kept;
 *  - prctl(PR_SET_MEMORY_MERGE): still on, a new mapping is mergeable;
 *  - mlock (lo, and VmLck counts it) and mlock2(MLOCK_ONFAULT) (lo lf);
 *  - a region written and then made PROT_NONE: still PROT_NONE (a read
 *    faults), and its data is there once it is made readable again;
 *  - mlockall(MCL_FUTURE | MCL_ONFAULT): a mapping made after the restore
 *    is locked on fault (lo lf). */
#include "caselib.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE	4096
#define NPAGES	4
#define LEN	(NPAGES * PAGE)

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT	1
#endif

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif
#ifndef SYS_mseal
#define SYS_mseal	462
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

enum { DONTFORK, WIPE, DONTDUMP, HUGE, SEQ, RAND, LOCKED, ONFAULT, MERGE, SEALED,
       GUARD, NONE, NR };
#define GUARD_PAGE	1	/* of region GUARD */

static const char *const want[NR] = { "dc", "wf", "dd", "hg", "sr", "rr", "lo",
				      "lf", "mg", "sl", "gu", NULL };
static char *regions[NR];

static int has_vmflag(void *addr, const char *f)
{
	char line[512], pat[8];
	unsigned long lo, hi, a = (unsigned long)addr;
	int in = 0, ret = -1;
	FILE *fp = fopen("/proc/self/smaps", "r");

	if (!fp)
		case_fail("open smaps: %s", strerror(errno));
	snprintf(pat, sizeof(pat), " %s ", f);
	while (fgets(line, sizeof(line), fp)) {
		size_t key = strcspn(line, " ");

		if (key && line[key - 1] != ':' &&
		    sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = ' ';
			ret = strstr(line + 7, pat) != NULL;
			break;
		}
	}
	fclose(fp);
	if (ret < 0)
		case_fail("no VmFlags for %p in smaps", addr);
	return ret;
}

static long vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	if (!fp)
		case_fail("open status: %s", strerror(errno));
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static char byte(int r, int i)
{
	return 'A' + r + i % 7;
}

static void check(const char *when)
{
	for (int r = 0; r < NR; r++) {
		if (want[r] && !has_vmflag(regions[r], want[r]))
			case_fail("%s: region %d lacks %s in VmFlags", when, r, want[r]);
		if (r != NONE)
			for (int i = 0; i < LEN; i++)
				if ((r != GUARD || i / PAGE != GUARD_PAGE) &&
				    regions[r][i] != byte(r, i))
					case_fail("%s: region %d byte %d is %#x", when, r, i,
						  (unsigned char)regions[r][i]);
	}
	if (!has_vmflag(regions[ONFAULT], "lo"))
		case_fail("%s: the MLOCK_ONFAULT region lacks lo", when);
	if (vmlck_kb() < 2 * LEN / 1024)
		case_fail("%s: VmLck is %ld kB, want at least %d", when, vmlck_kb(),
			  2 * LEN / 1024);
}

/* A mapping made now comes locked on fault (mlockall of the future). */
static void check_future(const char *when)
{
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	if (!has_vmflag(p, "lo") || !has_vmflag(p, "lf"))
		case_fail("%s: a new mapping is not locked on fault (mlockall)", when);
	if (!has_vmflag(p, "mg") || prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != 1)
		case_fail("%s: PR_SET_MEMORY_MERGE is off", when);
	if (!mprotect(regions[SEALED], LEN, PROT_READ) || errno != EPERM)
		case_fail("%s: mprotect() of the sealed region: %s", when,
			  strerror(errno));
	munmap(p, PAGE);
}

static sigjmp_buf jb;

static void on_segv(int sig)
{
	siglongjmp(jb, 1);
}

/* Does reading addr fault? */
static int faults(const char *addr)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	volatile int faulted = 0;

	sigaction(SIGSEGV, &sa, &old);
	if (!sigsetjmp(jb, 1))
		(void)*(volatile const char *)addr;
	else
		faulted = 1;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

/* The guard page is one still: pagemap's bit 58, and a read faults. */
static void check_guard(const char *when)
{
	uint64_t e = 0;
	FILE *fp = fopen("/proc/self/pagemap", "r");
	const char *g = regions[GUARD] + GUARD_PAGE * PAGE;

	if (!fp || fseek(fp, (long)((uintptr_t)g / PAGE * 8), SEEK_SET) ||
	    fread(&e, 8, 1, fp) != 1)
		case_fail("%s: read pagemap: %s", when, strerror(errno));
	fclose(fp);
	if (!(e >> 58 & 1))
		case_fail("%s: the guard page is not one (pagemap %#llx)", when,
			  (unsigned long long)e);
	if (!faults(g))
		case_fail("%s: the guard page can be read", when);
}

/* In a child: the DONTFORK region is not there, the WIPEONFORK one zero. */
static void check_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		/* An unmapped range: madvise() says ENOMEM. */
		if (!madvise(regions[DONTFORK], LEN, MADV_NORMAL) || errno != ENOMEM)
			_exit(1);
		for (int i = 0; i < LEN; i++)
			if (regions[WIPE][i])
				_exit(2);
		if (regions[DONTDUMP][5] != byte(DONTDUMP, 5))
			_exit(3);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		case_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("in a child forked after the restore: %s",
			  WIFEXITED(status) && WEXITSTATUS(status) == 1 ?
			  "the MADV_DONTFORK region is there" :
			  WIFEXITED(status) && WEXITSTATUS(status) == 2 ?
			  "the MADV_WIPEONFORK region is not zero" : "it failed");
}

int main(void)
{
	static const int advice[NR] = { MADV_DONTFORK, MADV_WIPEONFORK, MADV_DONTDUMP,
					MADV_HUGEPAGE, MADV_SEQUENTIAL, MADV_RANDOM,
					-1, -1, MADV_MERGEABLE, -1, -1, -1 };
	case_init();
	for (int r = 0; r < NR; r++) {
		/* A page of gap around each: neighbours stay apart. */
		char *p = mmap(NULL, LEN + 2 * PAGE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			case_fail("mmap: %s", strerror(errno));
		regions[r] = mmap(p + PAGE, LEN, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (regions[r] == MAP_FAILED)
			case_fail("mmap: %s", strerror(errno));
		for (int i = 0; i < LEN; i++)
			regions[r][i] = byte(r, i);
		if (advice[r] >= 0 && madvise(regions[r], LEN, advice[r]))
			case_fail("madvise(%d) of region %d: %s", advice[r], r, strerror(errno));
	}
	if (mlock(regions[LOCKED], LEN) ||
	    syscall(SYS_mlock2, regions[ONFAULT], LEN, MLOCK_ONFAULT))
		case_fail("mlock: %s", strerror(errno));
	if (mprotect(regions[NONE], LEN, PROT_NONE))
		case_fail("mprotect(PROT_NONE): %s", strerror(errno));
	if (madvise(regions[GUARD] + GUARD_PAGE * PAGE, PAGE, MADV_GUARD_INSTALL))
		case_fail("MADV_GUARD_INSTALL: %s", strerror(errno));
	if (syscall(SYS_mseal, regions[SEALED], LEN, 0))
		case_fail("mseal: %s", strerror(errno));
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		case_fail("PR_SET_MEMORY_MERGE: %s", strerror(errno));
	if (mlockall(MCL_FUTURE | MCL_ONFAULT))
		case_fail("mlockall: %s", strerror(errno));
	check("before");
	check_fork();
	check_future("before");
	check_guard("before");

	case_ready();
	case_wait_go();

	check("after");
	check_fork();
	check_future("after");
	check_guard("after");
	if (!faults(regions[NONE]))
		case_fail("the PROT_NONE region can be read");
	if (mprotect(regions[NONE], LEN, PROT_READ))
		case_fail("mprotect(PROT_READ): %s", strerror(errno));
	for (int i = 0; i < LEN; i++)
		if (regions[NONE][i] != byte(NONE, i))
			case_fail("the PROT_NONE region's byte %d is %#x", i,
				  (unsigned char)regions[NONE][i]);
	case_pass();
}
