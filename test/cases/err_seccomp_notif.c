/*
 * A seccomp filter that hands getppid(2) to a supervisor
 * (SECCOMP_RET_USER_NOTIF): crest can't restore the supervisor's side, so
 * the dump must refuse, by name, and leave the process running. The
 * listener is closed: getppid() fails with ENOSYS, before and after.
 */
#include "caselib.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };
	long fd;

	case_init();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		case_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
	if (fd < 0)
		case_fail("seccomp: %s", strerror(errno));
	close(fd);
	case_ready();
	case_wait_go();
	errno = 0;
	if (syscall(SYS_getppid) != -1 || errno != ENOSYS)
		case_fail("getppid() gave errno %d, want ENOSYS (no supervisor)", errno);
	case_pass();
}
