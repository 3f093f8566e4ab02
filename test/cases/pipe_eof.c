/*
 * writer | reader, the reader being the root: after the restore the writer
 * writes its lines and exits, and the reader must then see end-of-file.
 * It does only if nobody else holds the pipe's write end — not the crest
 * that restored it and waits for it (crest restore without -d,
 * cr_restart). If it does not come, the case names who holds the pipe.
 */
#include "caselib.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINES		1000
#define EOF_TIMEOUT	20

static char holders[1024];
static ino_t pipe_ino, gate_ino;

/* Everyone but us that holds the pipe ino, as "pid (comm) fd N, ...". */
static void find_holders(ino_t ino)
{
	DIR *proc = opendir("/proc");
	char want[64], path[300], link[64], comm[64];
	struct dirent *p, *f;
	size_t off = 0;

	holders[0] = 0;
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)ino);
	while (proc && (p = readdir(proc))) {
		DIR *fds;
		int pid = atoi(p->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		while (fds && (f = readdir(fds))) {
			ssize_t n;
			FILE *c;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (strcmp(link, want))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/comm", pid);
			comm[0] = 0;
			c = fopen(path, "r");
			if (c) {
				if (!fgets(comm, sizeof(comm), c))
					comm[0] = 0;
				comm[strcspn(comm, "\n")] = 0;
				fclose(c);
			}
			off += snprintf(holders + off, sizeof(holders) - off,
					"%s%d (%s) fd %s", off ? ", " : "", pid, comm,
					f->d_name);
			if (off >= sizeof(holders))
				off = sizeof(holders) - 1;
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
}

static volatile sig_atomic_t writer_done;

static void on_alarm(int sig)
{
	if (writer_done) {
		find_holders(pipe_ino);
		case_fail("no end-of-file on the pipe %d s after the go, its writer has exited; it is held by: %s",
			  EOF_TIMEOUT, holders[0] ? holders : "nobody else?");
	}
	find_holders(gate_ino);
	case_fail("the writer saw no end-of-file on its gate pipe %d s after the go; the gate is held by: %s",
		  EOF_TIMEOUT, holders[0] ? holders : "nobody else?");
}

static void writer(int out, int gate)
{
	char c, line[32];

	/* Wait for the reader's word (end-of-file on the gate). */
	while (read(gate, &c, 1) > 0)
		;
	for (int i = 0; i < LINES; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);

		if (write(out, line, n) != n)
			_exit(3);
	}
	_exit(0);
}

int main(void)
{
	int p[2], gate[2], status, lines = 0;
	struct stat st;
	char buf[4096];
	ssize_t n;
	pid_t w;

	case_init();
	if (pipe(p) || pipe(gate))
		case_fail("pipe: %s", strerror(errno));
	w = fork();
	if (w < 0)
		case_fail("fork: %s", strerror(errno));
	if (w == 0) {
		close(p[0]);
		close(gate[1]);
		writer(p[1], gate[0]);
	}
	close(p[1]);
	close(gate[0]);
	case_ready();
	case_wait_go();

	/* The pipes as they are now (a restore made new ones). */
	if (fstat(p[0], &st))
		case_fail("fstat: %s", strerror(errno));
	pipe_ino = st.st_ino;
	if (fstat(gate[1], &st))
		case_fail("fstat: %s", strerror(errno));
	gate_ino = st.st_ino;
	signal(SIGALRM, on_alarm);
	alarm(EOF_TIMEOUT);
	close(gate[1]);		/* writer: go */
	while (waitpid(w, &status, 0) != w)
		if (errno != EINTR)
			case_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("writer: status %#x", status);
	writer_done = 1;
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			case_fail("read: %s", strerror(errno));
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	}
	alarm(0);
	if (lines != LINES)
		case_fail("read %d lines, want %d", lines, LINES);
	case_pass();
}
