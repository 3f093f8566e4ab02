/* crest check: the kernel and CPU features crest relies on. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <net/if.h>
#include <unistd.h>

#include "arch.h"
#include "check.h"
#include "log.h"
#include "net-lock.h"
#include "opts.h"
#include "timers.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE	40
#endif
/* The namespace kinds a tree may have of its own (namespaces.c). */
#define NS_RESTORED	"uts ipc pid mnt net time user cgroup"
#define NS_REFUSED	""
#define PAGEMAP_SCAN_IOCTL	_IOWR('f', 16, char[96])

static int probe_seize(void)
{
	uint64_t rseq[3] = {};
	int status, ok = 0;
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	if (pid < 0)
		return 0;
	if (!ptrace(PTRACE_SEIZE, pid, NULL, NULL) &&
	    !ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) &&
	    waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status))
		ok = 1;
	if (ok && ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(rseq), rseq) >= 0)
		ok = 2;
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return ok;
}

static int probe_set_tid(void)
{
	pid_t me = getpid();
	struct clone_args ca = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)&me,
		.set_tid_size = 1,
	};

	/* Our own PID is taken: EEXIST means set_tid is understood. */
	return syscall(SYS_clone3, &ca, sizeof(ca)) < 0 && errno == EEXIST;
}

static int probe_mm_map(void)
{
	unsigned int size = 0;

	return !prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) && size == 104;
}

static int probe_uffd(void)
{
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int probe_pagemap_scan(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ok;
	char arg[96] = {};

	if (fd < 0)
		return 0;
	/* A bad argument: EINVAL if the ioctl exists, ENOTTY if not. */
	ok = ioctl(fd, PAGEMAP_SCAN_IOCTL, arg) < 0 && errno != ENOTTY;
	close(fd);
	return ok;
}

static int probe_timerfd_ticks(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), ok;
	uint64_t ticks = 1;

	if (fd < 0)
		return 0;
	ok = !ioctl(fd, _IOW('T', 0, uint64_t) /* TFD_IOC_SET_TICKS */, &ticks);
	close(fd);
	return ok;
}

static int probe_map_files(void)
{
	return access("/proc/self/map_files", R_OK) == 0;
}

/*
 * --tcp-established: TCP_REPAIR (CAP_NET_ADMIN). The network lock its
 * connections take (net-lock.c) is probed apart: net_lock_probe.
 */
static int probe_tcp_repair(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, ok;

	if (fd < 0)
		return 0;
	ok = !setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));
	close(fd);
	return ok;
}

/* In a child: a new namespace of the kind, and what crest needs in it. */
static int probe_ns(int flag, int (*more)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(unshare(flag) || (more && !more()) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

/* The init of a new PID namespace under PID 1 chosen by set_tid. */
static int pid_ns_init(void)
{
	pid_t one = 1, pid;
	struct clone_args ca = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)&one,
		.set_tid_size = 1,
	};
	int status;

	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		_exit(getpid() == 1 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	       WIFEXITED(status) && !WEXITSTATUS(status);
}

/* A private copy of our mounts, and a tmpfs on it. */
static int tmpfs_mount(void)
{
	return !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
	       !mount("tmpfs", "/tmp", "tmpfs", 0, "size=4k");
}

/* IPC objects back under their ids: the kernel's *_next_id sysctls. */
static int ipc_next_ids(void)
{
	return !access("/proc/sys/kernel/shm_next_id", W_OK) &&
	       !access("/proc/sys/kernel/sem_next_id", W_OK) &&
	       !access("/proc/sys/kernel/msg_next_id", W_OK);
}

/* A message read without taking it (MSG_COPY, CONFIG_CHECKPOINT_RESTORE). */
static int msg_copy(void)
{
	struct { long type; char text[4]; } m = { 1, "abc" };
	int q = msgget(IPC_PRIVATE, 0600);

	return q >= 0 && !msgsnd(q, &m, 4, IPC_NOWAIT) &&
	       msgrcv(q, &m, 4, 0, IPC_NOWAIT | 040000 /* MSG_COPY */) == 4;
}

/* Loopback up in a new network namespace, through rtnetlink's ioctl twin. */
static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return !ioctl(fd, SIOCSIFFLAGS, &ifr);
}

/* The offsets of a new time namespace, before anything enters it. */
static int time_offsets(void)
{
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);

	return fd >= 0 && write(fd, "monotonic 1 0\n", 14) == 14;
}

int cr_check(const struct options *opts)
{
	int seize = probe_seize();
	const char *netlock_why = net_lock_probe();
	struct {
		const char *name;
		int ok;
		int required;
	} f[] = {
		{ "ptrace seize and interrupt", seize >= 1, 1 },
		{ "ptrace rseq configuration", seize >= 2, 1 },
		{ "clone3 with set_tid", probe_set_tid(), 1 },
		{ "prctl PR_SET_MM_MAP", probe_mm_map(), 1 },
		{ "/proc/PID/map_files", probe_map_files(), 1 },
		{ "crc32c instruction (SSE4.2)", arch_cpu_has_crc32c(), 1 },
		{ "userfaultfd", probe_uffd(), 0 },
		{ "POSIX timer ids (6.14)", timers_kernel_has_restore_ids(), 0 },
		{ "timerfd TFD_IOC_SET_TICKS", probe_timerfd_ticks(), 0 },
		{ "pagemap PAGEMAP_SCAN ioctl", probe_pagemap_scan(), 0 },
		{ "TCP_REPAIR (--tcp-established)", probe_tcp_repair(), 0 },
		{ "network lock: BPF on tcx", !netlock_why, 0 },
		{ "UTS namespaces", probe_ns(CLONE_NEWUTS, NULL), 0 },
		{ "IPC namespaces, System V ids", probe_ns(CLONE_NEWIPC, ipc_next_ids), 0 },
		{ "System V messages read (MSG_COPY)", probe_ns(CLONE_NEWIPC, msg_copy), 0 },
		{ "PID namespaces, set_tid per level", probe_ns(CLONE_NEWPID, pid_ns_init), 0 },
		{ "mount namespaces, tmpfs", probe_ns(CLONE_NEWNS, tmpfs_mount), 0 },
		{ "network namespaces, loopback", probe_ns(CLONE_NEWNET, lo_up), 0 },
		{ "time namespaces, clock offsets", probe_ns(CLONE_NEWTIME, time_offsets), 0 },
		{ "user namespaces", probe_ns(CLONE_NEWUSER, NULL), 0 },
	};
	size_t n = sizeof(f) / sizeof(f[0]);
	int missing = 0;

	for (size_t i = 0; i < n; i++)
		if (!f[i].ok && f[i].required)
			missing++;
	if (opts->json) {
		/* For scripts: one object, the same facts; names are plain ASCII. */
		printf("{\n  \"features\": [\n");
		for (size_t i = 0; i < n; i++)
			printf("    { \"name\": \"%s\", \"ok\": %s, \"required\": %s }%s\n",
			       f[i].name, f[i].ok ? "true" : "false",
			       f[i].required ? "true" : "false", i + 1 < n ? "," : "");
		printf("  ],\n  \"namespaces_restored\": \"%s\",\n"
		       "  \"namespaces_refused\": \"%s\",\n", NS_RESTORED, NS_REFUSED);
		printf("  \"network_lock\": \"%s\",\n", netlock_why ? "none" : "bpf");
		printf("  \"xstate_size\": %zu,\n  \"missing_required\": %d,\n"
		       "  \"ok\": %s\n}\n", arch_xstate_size(), missing,
		       missing ? "false" : "true");
		return missing ? EXIT_FAIL : EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		printf("%-34s %s%s\n", f[i].name, f[i].ok ? "yes" : "NO",
		       !f[i].ok && !f[i].required ? " (optional)" : "");
	if (netlock_why)
		printf("network lock: none (%s): a dump or restore of TCP connections needs --network-lock skip\n",
		       netlock_why);
	else
		printf("network lock: bpf (a BPF program on tcx, ingress and egress of every interface, drops a dumped connection's packets)\n");
	printf("xstate size: %zu bytes\n", arch_xstate_size());
	printf("namespaces: %s restored; %s refused\n", NS_RESTORED,
	       *NS_REFUSED ? NS_REFUSED : "none");
	if (missing) {
		printf("%d required feature%s missing: crest can't work on this system\n",
		       missing, missing > 1 ? "s" : "");
		return EXIT_FAIL;
	}
	printf("looks good\n");
	return EXIT_OK;
}

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

/*
 * /proc/PID/map_files (every mapping of a task, dump and parasite) and
 * clone3's set_tid (the PIDs back) are root's, or CAP_CHECKPOINT_RESTORE's
 * (CAP_SYS_ADMIN counts too); ptrace of a task of another uid needs
 * CAP_SYS_PTRACE. Without them the failure would come late and obscure.
 */
int check_privileges(const char *what)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d)) {
		pr_perror("can't read crest's own capabilities");
		return -1;
	}
	if (has_cap(d, CAP_SYS_ADMIN) || has_cap(d, CAP_CHECKPOINT_RESTORE))
		return 0;
	pr_err("crest can't %s without privileges: it needs root, or "
	       "CAP_CHECKPOINT_RESTORE (and CAP_SYS_PTRACE for other users' "
	       "processes); run it with sudo, or with that capability ambient "
	       "(setpriv --inh-caps=+checkpoint_restore "
	       "--ambient-caps=+checkpoint_restore, systemd's AmbientCapabilities=; "
	       "see crest(8), Privileges and other users)", what);
	return -1;
}
