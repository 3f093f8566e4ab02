/*
 * A zombie child comes back a zombie, with its exit status, and with
 * what /proc shows of it: its name, its blocked, ignored and caught
 * signals, its limits.
 */
#include "caselib.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>

/* Name, Sig{Blk,Ign,Cgt} of /proc/PID/status and /proc/PID/limits. */
static char *looks(pid_t pid)
{
	static const char *keys[] = { "Name:", "SigBlk:", "SigIgn:", "SigCgt:" };
	char path[64], line[256];
	size_t len = 0, size = 8192;
	char *out = calloc(1, size);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		case_fail("zombie %d is gone", pid);
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < 4; i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) &&
			    len + strlen(line) < size)
				len += snprintf(out + len, size - len, "%s", line);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	if (!(f = fopen(path, "r")))
		case_fail("zombie %d is gone", pid);
	while (fgets(line, sizeof(line), f))
		if (len + strlen(line) < size)
			len += snprintf(out + len, size - len, "%s", line);
	fclose(f);
	return out;
}

static void exited(pid_t pid)
{
	siginfo_t si;

	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
		case_fail("waitid(%d): %s", pid, strerror(errno));
}

int main(void)
{
	pid_t z, k;
	int status;
	char path[64], state = 0, *zlooks, *klooks;
	FILE *f;

	case_init();
	z = fork();
	if (z == 0) {
		struct rlimit nofile = { 100, 200 }, core = { 0, 4096 };
		sigset_t set;

		prctl(PR_SET_NAME, "a-zombie", 0, 0, 0);
		signal(SIGHUP, SIG_IGN);
		signal(SIGUSR2, SIG_DFL);
		signal(SIGUSR1, (void (*)(int))exit);
		sigemptyset(&set);
		sigaddset(&set, SIGWINCH);
		sigaddset(&set, SIGRTMIN + 2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		setrlimit(RLIMIT_NOFILE, &nofile);
		setrlimit(RLIMIT_CORE, &core);
		_exit(42);
	}
	k = fork();
	if (k == 0) {
		signal(SIGINT, SIG_IGN);
		prctl(PR_SET_NAME, "killed", 0, 0, 0);
		pause();
		_exit(0);
	}
	/* Killed once it has set itself up: its name says so. */
	for (int i = 0; ; i++) {
		char *l = looks(k);

		if (strstr(l, "killed"))
			break;
		free(l);
		if (i == 30000)
			case_fail("child %d did not start (30 s)", k);
		usleep(1000);
	}
	kill(k, SIGKILL);
	exited(z);
	exited(k);
	zlooks = looks(z);
	klooks = looks(k);
	case_ready();
	case_wait_go();
	if (strcmp(looks(z), zlooks))
		case_fail("zombie %d came back as\n%s\nnot\n%s", z, looks(z), zlooks);
	if (strcmp(looks(k), klooks))
		case_fail("zombie %d came back as\n%s\nnot\n%s", k, looks(k), klooks);

	snprintf(path, sizeof(path), "/proc/%d/stat", z);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%*d %*s %c", &state) != 1)
		case_fail("zombie %d is gone", z);
	fclose(f);
	if (state != 'Z')
		case_fail("%d is in state %c, want a zombie", z, state);
	if (waitpid(z, &status, 0) != z)
		case_fail("waitpid(%d): %s", z, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
		case_fail("zombie's status %#x, want exit 42", status);
	if (waitpid(k, &status, 0) != k)
		case_fail("waitpid(%d): %s", k, strerror(errno));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		case_fail("killed zombie's status %#x, want SIGKILL", status);
	case_pass();
}
