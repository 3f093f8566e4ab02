/*
 * Copy-on-write sharing in a threaded pre-forking server: the parent
 * builds 32 MiB of data in its malloc heap ([heap], through brk), starts
 * two threads, then forks two workers (each starting a thread of its own
 * and changing a few records) and a third child that exits at once and
 * stays a zombie. After the restore every process sees exactly its own
 * records, every thread runs, the zombie is still there to be reaped, and
 * the tree's Pss stays near the original's: the heap is shared again.
 */
#include "caselib.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NREC		(32 * 1024)	/* records of 1 KiB: 32 MiB */
#define RECSZ		1024
#define NWORK		2
#define SLACK_KB	(16 * 1024)
#define PRIVATE_KB	(12 * 1024)

struct ctl {
	volatile int ready, go, done, quit;
	char why[NWORK][160];
};

static uint64_t *rec[NREC];
static struct ctl *ctl;
static volatile uint64_t spins[2];
static volatile int stop;

static uint64_t word(int tag, size_t r, size_t j)
{
	return (r * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)tag << 48) ^ (j << 20) ^ 0xc0ffee;
}

static void put(int tag, size_t r)
{
	for (size_t j = 0; j < RECSZ / 8; j++)
		rec[r][j] = word(tag, r, j);
}

/* Who wrote record r last as role sees it: -1 parent, 0.. workers. */
static int writer(int role, size_t r)
{
	if (role < 0)
		return r % 4096 == 7 ? 0x11 : 0;
	return r % 4096 == (size_t)(100 + role) ? 0x20 + role : 0;
}

static const char *check(int role)
{
	static char why[160];

	for (size_t r = 0; r < NREC; r++)
		for (size_t j = 0; j < RECSZ / 8; j++) {
			uint64_t want = word(writer(role, r), r, j);

			if (rec[r][j] != want) {
				snprintf(why, sizeof(why), "record %zu word %zu is %#llx, want %#llx",
					 r, j, (unsigned long long)rec[r][j],
					 (unsigned long long)want);
				return why;
			}
		}
	return NULL;
}

static void *spin(void *arg)
{
	long i = (long)arg;

	while (!stop) {
		spins[i]++;
		if (spins[i] % 4096 == 0)
			usleep(100);
	}
	return NULL;
}

static const char *threads_run(void)
{
	uint64_t a = spins[0], b = spins[1];

	for (int i = 0; i < 5000 && (spins[0] == a || spins[1] == b); i++)
		usleep(1000);
	return spins[0] == a || spins[1] == b ? "a thread no longer runs" : NULL;
}

static void worker(int role)
{
	pthread_t th;
	const char *why;

	/* One thread of its own: fork left only the caller. */
	stop = 0;
	spins[0] = spins[1] = 1;
	if (pthread_create(&th, NULL, spin, (void *)0))
		_exit(3);
	for (size_t r = 100 + role; r < NREC; r += 4096)
		put(0x20 + role, r);
	__sync_fetch_and_add(&ctl->ready, 1);
	while (!ctl->go)
		usleep(1000);
	why = check(role);
	if (!why) {
		uint64_t a = spins[0];

		for (int i = 0; i < 5000 && spins[0] == a; i++)
			usleep(1000);
		if (spins[0] == a)
			why = "the worker's thread no longer runs";
	}
	if (why)
		snprintf(ctl->why[role], sizeof(ctl->why[role]), "%s", why);
	__sync_fetch_and_add(&ctl->done, 1);
	while (!ctl->quit)
		usleep(1000);
	stop = 1;
	pthread_join(th, NULL);
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
		return 0;	/* a zombie has none */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = atol(line + len + 1);
	fclose(f);
	return kb < 0 ? 0 : kb;
}

static void tree_pss(pid_t pid, long *pss, long *max_priv)
{
	char path[64];
	long priv;
	FILE *f;
	int child;

	*pss += rollup(pid, "Pss");
	priv = rollup(pid, "Private_Dirty") + rollup(pid, "Private_Clean");
	if (priv > *max_priv)
		*max_priv = priv;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%d", &child) == 1)
		tree_pss(child, pss, max_priv);
	fclose(f);
}

int main(void)
{
	long before = 0, after = 0, priv_before = 0, priv_after = 0;
	pthread_t th[2];
	const char *why;
	int status, bad = 0, zombie_seen = 0;
	pid_t pid, zombie;

	case_init();
	/* The records come from the brk heap, not from mmap. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	for (size_t r = 0; r < NREC; r++) {
		rec[r] = malloc(RECSZ);
		if (!rec[r])
			case_fail("malloc: %s", strerror(errno));
		put(0, r);
	}
	for (long i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, spin, (void *)i))
			case_fail("pthread_create: %s", strerror(errno));

	for (int w = 0; w < NWORK; w++) {
		pid = fork();
		if (pid < 0)
			case_fail("fork: %s", strerror(errno));
		if (pid == 0)
			worker(w);
	}
	zombie = fork();
	if (zombie < 0)
		case_fail("fork: %s", strerror(errno));
	if (zombie == 0)
		_exit(42);
	for (size_t r = 7; r < NREC; r += 4096)
		put(0x11, r);
	for (int i = 0; i < 10000 && ctl->ready < NWORK; i++)
		usleep(1000);
	if (ctl->ready != NWORK)
		case_fail("only %d of %d workers got ready", ctl->ready, NWORK);
	/* The zombie must be one before the dump. */
	for (int i = 0; i < 5000; i++) {
		siginfo_t si = {};

		if (!waitid(P_PID, zombie, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid)
			break;
		usleep(1000);
	}
	tree_pss(getpid(), &before, &priv_before);
	if (priv_before > PRIVATE_KB || before > (NREC * RECSZ >> 10) * 2)
		case_fail("the original does not share its heap: Pss %ld kB, %ld kB private",
			  before, priv_before);
	printf("before: tree Pss %ld kB, at most %ld kB private\n", before, priv_before);

	case_ready();
	case_wait_go();

	why = check(-1);
	if (!why)
		why = threads_run();
	if (why)
		case_fail("parent: %s", why);
	tree_pss(getpid(), &after, &priv_after);
	printf("after: tree Pss %ld kB, at most %ld kB private\n", after, priv_after);
	ctl->go = 1;
	for (int i = 0; i < 60000 && ctl->done < NWORK; i++)
		usleep(1000);
	if (ctl->done != NWORK)
		case_fail("only %d of %d workers checked their records", ctl->done, NWORK);
	ctl->quit = 1;
	while ((pid = wait(&status)) > 0) {
		if (pid == zombie) {
			zombie_seen = 1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
				case_fail("the zombie's status is %#x, want exit 42", status);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad = pid;
		}
	}
	for (int w = 0; w < NWORK; w++)
		if (ctl->why[w][0])
			case_fail("worker %d: %s", w, ctl->why[w]);
	if (bad)
		case_fail("worker %d failed", bad);
	if (!zombie_seen)
		case_fail("the zombie child %d is gone", zombie);
	if (after > before + SLACK_KB)
		case_fail("the restored tree uses %ld kB (Pss), the original %ld kB: the heap is no longer shared",
			  after, before);
	if (priv_after > PRIVATE_KB)
		case_fail("a process holds %ld kB of private memory: its heap is a copy", priv_after);
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	case_pass();
}
