/*
 * Copy-on-write sharing: a parent fills 64 MiB of anonymous private
 * memory and forks three children (the first forks a grandchild). Each
 * writes a few pages of its own after the fork, one drops a few
 * (MADV_DONTNEED: zeros), one splits the mapping with mprotect; the
 * parent writes some too. After the restore every process must see
 * exactly its own contents, and the tree must still share the untouched
 * pages: the sum of Pss stays near what the original used (a copy per
 * process would add 64 MiB each), and no process holds a private copy.
 */
#include "caselib.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define REGION		(64UL << 20)
#define PAGE		4096UL
#define NPAGES		(REGION / PAGE)
#define NCHILD		3
#define NPROC		(NCHILD + 2)	/* parent, children, grandchild */
#define SLACK_KB	(24 * 1024)	/* what may grow in the tree's Pss */
#define PRIVATE_KB	(16 * 1024)	/* a copy of the region is 64 MiB */

enum { PARENT, CHILD0, CHILD1, CHILD2, GRANDCHILD };

struct ctl {
	volatile int ready, go, done, quit;
	volatile int failed;
	char why[NPROC][160];
};

static unsigned char *region;
static struct ctl *ctl;

/* Page i as written by tag (0: before the fork). */
static uint64_t word(int tag, size_t i, size_t j)
{
	return (i * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)tag << 56) ^ j ^ 0x5a5a;
}

static void fill(int tag, size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++) {
		uint64_t *p = (uint64_t *)(region + i * PAGE);

		for (size_t j = 0; j < PAGE / 8; j++)
			p[j] = word(tag, i, j);
	}
}

static int in(size_t i, size_t first, size_t n)
{
	return i >= first && i < first + n;
}

/* Who wrote page i last, as role sees it; -1: zeros (dropped). */
static int writer(int role, size_t i)
{
	switch (role) {
	case PARENT:
		return in(i, 0, 8) ? 0x10 : 0;
	case CHILD1:
		if (in(i, 1000, 4))
			return -1;
		/* fall through */
	case CHILD0:
	case CHILD2:
		return in(i, 100 + role * 16, 8) ? 0x20 + role : 0;
	case GRANDCHILD:
		if (in(i, 2000, 4))
			return 0x30;
		return in(i, 100 + CHILD0 * 16, 8) ? 0x20 + CHILD0 : 0;
	}
	return 0;
}

static const char *check(int role)
{
	static char why[160];

	for (size_t i = 0; i < NPAGES; i++) {
		const uint64_t *p = (const uint64_t *)(region + i * PAGE);
		int tag = writer(role, i);

		for (size_t j = 0; j < PAGE / 8; j++) {
			uint64_t want = tag < 0 ? 0 : word(tag, i, j);

			if (p[j] != want) {
				snprintf(why, sizeof(why),
					 "page %zu word %zu is %#llx, want %#llx (written by %#x)",
					 i, j, (unsigned long long)p[j],
					 (unsigned long long)want, tag);
				return why;
			}
		}
	}
	return NULL;
}

/* A forked process: wait for go, check, report, wait to be let go. */
static void run_forked(int role)
{
	const char *why;

	__sync_fetch_and_add(&ctl->ready, 1);
	while (!ctl->go)
		usleep(1000);
	why = check(role);
	if (why) {
		snprintf(ctl->why[role], sizeof(ctl->why[role]), "%s", why);
		ctl->failed = 1;
	}
	__sync_fetch_and_add(&ctl->done, 1);
	while (!ctl->quit)
		usleep(1000);
	while (wait(NULL) > 0)
		;
	_exit(why ? 1 : 0);
}

static long rollup(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "re");
	if (!f)
		case_fail("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = atol(line + len + 1);
	fclose(f);
	if (kb < 0)
		case_fail("%s has no %s", path, field);
	return kb;
}

struct usage {
	long pss, nr;
	long max_private;
	pid_t max_private_pid;
};

/* Pss of pid and its descendants, found through /proc (pids may change). */
static void tree_usage(pid_t pid, struct usage *u)
{
	char path[64];
	long priv;
	FILE *f;
	int child;

	u->pss += rollup(pid, "Pss");
	u->nr++;
	priv = rollup(pid, "Private_Dirty") + rollup(pid, "Private_Clean");
	if (priv > u->max_private) {
		u->max_private = priv;
		u->max_private_pid = pid;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		case_fail("open %s: %s", path, strerror(errno));
	while (fscanf(f, "%d", &child) == 1)
		tree_usage(child, u);
	fclose(f);
}

int main(void)
{
	struct usage before = {}, after = {};
	const char *why;
	int status, bad = 0;
	pid_t pid;

	case_init();
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED || region == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	fill(0, 0, NPAGES);

	for (int c = CHILD0; c <= CHILD2; c++) {
		pid = fork();
		if (pid < 0)
			case_fail("fork: %s", strerror(errno));
		if (pid)
			continue;
		fill(0x20 + c, 100 + c * 16, 8);
		if (c == CHILD1 && madvise(region + 1000 * PAGE, 4 * PAGE, MADV_DONTNEED))
			_exit(3);
		if (c == CHILD2 && mprotect(region + REGION - (1 << 20), 1 << 20, PROT_READ))
			_exit(3);
		if (c == CHILD0) {
			pid = fork();
			if (pid < 0)
				_exit(3);
			if (pid == 0) {
				fill(0x30, 2000, 4);
				run_forked(GRANDCHILD);
			}
		}
		run_forked(c);
	}
	fill(0x10, 0, 8);
	for (int i = 0; i < 10000 && ctl->ready < NPROC - 1; i++)
		usleep(1000);
	if (ctl->ready != NPROC - 1)
		case_fail("only %d of %d forked processes got ready", ctl->ready, NPROC - 1);
	tree_usage(getpid(), &before);
	if (before.nr != NPROC)
		case_fail("the tree has %ld processes, want %d", before.nr, NPROC);
	/* The case itself: the original does share (else nothing is tested). */
	if (before.max_private > PRIVATE_KB || before.pss > (long)(REGION >> 10) * 3 / 2)
		case_fail("the original does not share its pages: Pss %ld kB, process %d has %ld kB private",
			  before.pss, before.max_private_pid, before.max_private);
	printf("before: tree Pss %ld kB, at most %ld kB private\n", before.pss,
	       before.max_private);

	case_ready();
	case_wait_go();

	why = check(PARENT);
	if (why)
		case_fail("parent: %s", why);
	tree_usage(getpid(), &after);
	printf("after: tree Pss %ld kB, at most %ld kB private (process %d)\n",
	       after.pss, after.max_private, after.max_private_pid);
	ctl->go = 1;
	for (int i = 0; i < 60000 && ctl->done < NPROC - 1; i++)
		usleep(1000);
	if (ctl->done != NPROC - 1)
		case_fail("only %d of %d forked processes checked their memory",
			  ctl->done, NPROC - 1);
	ctl->quit = 1;
	while ((pid = wait(&status)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad = pid;
	for (int r = 0; r < NPROC; r++)
		if (ctl->why[r][0])
			case_fail("process %d of the tree (0: parent): %s", r, ctl->why[r]);
	if (bad)
		case_fail("child %d failed", bad);
	if (after.nr != NPROC)
		case_fail("the restored tree has %ld processes, want %d", after.nr, NPROC);
	if (after.pss > before.pss + SLACK_KB)
		case_fail("the restored tree uses %ld kB (Pss), the original %ld kB: pages are no longer shared",
			  after.pss, before.pss);
	if (after.max_private > PRIVATE_KB)
		case_fail("process %d holds %ld kB of private memory: its pages are a copy",
			  after.max_private_pid, after.max_private);
	case_pass();
}
