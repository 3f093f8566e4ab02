/*
 * Per-thread attributes survive C/R: thread names (pthread_setname_np
 * "worker-1".."worker-3", checked with pthread_getname_np and
 * /proc/self/task/TID/comm), and one thread ("nice-cpu0") with nice +5 and
 * CPU affinity limited to one CPU (CPU 0 if allowed). The other threads must
 * keep the original nice value and affinity.
 */
#include "mt_util.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>

#define NW	3
#define NT	(NW + 1)
#define SPECIAL	NW

static pthread_t th[NT];
static volatile pid_t tids[NT];
static volatile int up[NT], release;
static char names[NT][16];
static int base_nice, cpu;
static cpu_set_t base_set;

static void read_comm(pid_t tid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
	f = fopen(path, "re");
	if (!f)
		case_fail("open %s: %s", path, strerror(errno));
	if (!fgets(buf, len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

static int get_nice(pid_t tid)
{
	int v;

	errno = 0;
	v = getpriority(PRIO_PROCESS, tid);
	if (v == -1 && errno)
		case_fail("getpriority(%d): %s", (int)tid, strerror(errno));
	return v;
}

static void *worker(void *arg)
{
	long i = (long)arg;

	tids[i] = mt_gettid();
	if (i == SPECIAL) {
		cpu_set_t set;

		if (setpriority(PRIO_PROCESS, tids[i], base_nice + 5) < 0)
			case_fail("setpriority: %s", strerror(errno));
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(tids[i], sizeof(set), &set) < 0)
			case_fail("sched_setaffinity: %s", strerror(errno));
	}
	up[i] = 1;
	mt_wait_go();
	/* Check from inside the thread too. */
	if (get_nice(0) != (i == SPECIAL ? base_nice + 5 : base_nice))
		case_fail("thread %ld (%s): nice %d from inside", i, names[i], get_nice(0));
	if (i == SPECIAL && sched_getcpu() != cpu)
		case_fail("thread %ld runs on CPU %d, affinity is CPU %d only", i,
			  sched_getcpu(), cpu);
	/* Stay alive until main has looked at us from outside. */
	while (!release)
		usleep(1000);
	return NULL;
}

int main(void)
{
	char buf[64];
	char main_comm[16];
	int err;

	case_init();
	errno = 0;
	base_nice = getpriority(PRIO_PROCESS, 0);
	if (base_nice > 14)
		case_fail("runner's nice %d leaves no room for +5", base_nice);
	if (sched_getaffinity(0, sizeof(base_set), &base_set) < 0)
		case_fail("sched_getaffinity: %s", strerror(errno));
	for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &base_set); cpu++)
		;
	if (cpu == CPU_SETSIZE)
		case_fail("empty affinity");
	read_comm(getpid(), main_comm, sizeof(main_comm));

	mt_block_go(1);
	for (long i = 0; i < NT; i++) {
		if (i == SPECIAL)
			snprintf(names[i], sizeof(names[i]), "nice-cpu%d", cpu);
		else
			snprintf(names[i], sizeof(names[i]), "worker-%ld", i + 1);
		if ((err = pthread_create(&th[i], NULL, worker, (void *)i)))
			case_fail("pthread_create: %s", strerror(err));
		if ((err = pthread_setname_np(th[i], names[i])))
			case_fail("pthread_setname_np: %s", strerror(err));
	}
	mt_block_go(0);
	for (int i = 0; i < NT; i++)
		while (!up[i])
			usleep(1000);
	case_ready();
	case_wait_go();

	read_comm(getpid(), buf, sizeof(buf));
	if (strcmp(buf, main_comm))
		case_fail("main thread comm \"%s\", want \"%s\"", buf, main_comm);
	for (int i = 0; i < NT; i++) {
		cpu_set_t set;
		int nice, want_nice = i == SPECIAL ? base_nice + 5 : base_nice;

		if ((err = pthread_getname_np(th[i], buf, sizeof(buf))))
			case_fail("pthread_getname_np %d: %s", i, strerror(err));
		if (strcmp(buf, names[i]))
			case_fail("thread %d (tid %d): pthread_getname_np \"%s\", want \"%s\"",
				  i, (int)tids[i], buf, names[i]);
		read_comm(tids[i], buf, sizeof(buf));
		if (strcmp(buf, names[i]))
			case_fail("thread %d: /proc/self/task/%d/comm \"%s\", want \"%s\"", i,
				  (int)tids[i], buf, names[i]);
		nice = get_nice(tids[i]);
		if (nice != want_nice)
			case_fail("thread %d (%s, tid %d): nice %d, want %d", i, names[i],
				  (int)tids[i], nice, want_nice);
		if (sched_getaffinity(tids[i], sizeof(set), &set) < 0)
			case_fail("sched_getaffinity(%d): %s", (int)tids[i], strerror(errno));
		if (i == SPECIAL) {
			if (CPU_COUNT(&set) != 1 || !CPU_ISSET(cpu, &set))
				case_fail("thread %s: affinity has %d CPUs%s, want CPU %d only",
					  names[i], CPU_COUNT(&set),
					  CPU_ISSET(cpu, &set) ? " incl. it" : "", cpu);
		} else if (!CPU_EQUAL(&set, &base_set)) {
			case_fail("thread %d (%s): affinity %d CPUs, want the original %d",
				  i, names[i], CPU_COUNT(&set), CPU_COUNT(&base_set));
		}
	}
	if (get_nice(0) != base_nice)
		case_fail("main thread nice %d, want %d", get_nice(0), base_nice);
	release = 1;
	for (int i = 0; i < NT; i++)
		if ((err = pthread_join(th[i], NULL)))
			case_fail("pthread_join: %s", strerror(err));
	case_pass();
}
