/*
 * Kernel objects crest does not restore, each of which must make the dump
 * refuse by name (and leave the process running): a pidfd of a process
 * outside the tree (its parent, the test runner), an io_uring, a
 * userfaultfd, a perf event, a BPF map and a BPF program, a deleted socket
 * file held with O_PATH that a socket of its own is still bound to, a POSIX
 * message queue of the machine's IPC namespace (removed when it ends; a Linux AIO context is saved;
 * one a child maps since a fork is err_aio_fork's). What this kernel or its configuration
 * does not offer is left out; the runner reads which fds are which from
 * /proc.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup	425
#endif

struct io_uring_params_min {
	unsigned int sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle;
	unsigned int features, wq_fd, resv[3];
	unsigned long long sq_off[5], cq_off[5];
};

int main(void)
{
	struct perf_event_attr pe;
	struct io_uring_params_min up;
	union bpf_attr ba;
	char mq[64];

	case_init();
	if (syscall(SYS_pidfd_open, getppid(), 0) < 0)
		case_fail("pidfd_open(parent): %s", strerror(errno));
	snprintf(mq, sizeof(mq), "/crest-err-zoo-%d", getpid());
	if (mq_open(mq, O_CREAT | O_RDWR, 0600, NULL) == (mqd_t)-1)
		case_fail("mq_open(%s): %s", mq, strerror(errno));
	memset(&up, 0, sizeof(up));
	syscall(SYS_io_uring_setup, 4, &up);
	/* Root may: vm.unprivileged_userfaultfd only limits the others. */
	syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	memset(&pe, 0, sizeof(pe));
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof(pe);
	pe.config = PERF_COUNT_SW_TASK_CLOCK;
	pe.disabled = 1;
	syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
	memset(&ba, 0, sizeof(ba));
	ba.map_type = BPF_MAP_TYPE_ARRAY;
	ba.key_size = 4;
	ba.value_size = 4;
	ba.max_entries = 1;
	syscall(SYS_bpf, BPF_MAP_CREATE, &ba, sizeof(ba));
	/* A socket filter that returns 0: r0 = 0; exit. */
	struct bpf_insn prog[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	memset(&ba, 0, sizeof(ba));
	ba.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	ba.insn_cnt = 2;
	ba.insns = (unsigned long)prog;
	ba.license = (unsigned long)"GPL";
	syscall(SYS_bpf, BPF_PROG_LOAD, &ba, sizeof(ba));
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int sk = socket(AF_UNIX, SOCK_DGRAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/zoo-sock", case_tmpdir());
		unlink(sa.sun_path);
		if (sk < 0 || bind(sk, (struct sockaddr *)&sa, sizeof(sa)) ||
		    open(sa.sun_path, O_PATH) < 0 || unlink(sa.sun_path))
			case_fail("a bound socket file held with O_PATH: %s", strerror(errno));
	}
	case_ready();
	case_wait_go();
	mq_unlink(mq);
	case_pass();
}
