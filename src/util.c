#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void bug(const char *file, int line, const char *what)
{
	log_msg(LOG_ERROR, "BUG at %s:%d: %s\n", file, line, what);
	abort();
}

void *xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p) {
		pr_err("out of memory (%zu bytes)", size);
		exit(12);
	}
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		pr_err("out of memory (%zu bytes)", size);
		exit(12);
	}
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d) {
		pr_err("out of memory");
		exit(12);
	}
	return d;
}

char *xsprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		pr_err("out of memory");
		exit(12);
	}
	va_end(ap);
	return s;
}

char *read_file(const char *path, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = xzalloc(cap + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	close(fd);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

char *read_proc(pid_t pid, const char *what, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	return read_file(path, len);
}

int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENODATA;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

char *readlink_alloc(const char *path)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlink(path, buf, PATH_MAX);

	if (n < 0)
		return NULL;
	buf[n] = 0;
	return xstrdup(buf);
}

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* CREST_FAULT=name[=number][,name...] */
static const char *fault_find(const char *name)
{
	const char *env = getenv("CREST_FAULT");
	size_t len = strlen(name);

	while (env && *env) {
		if (!strncmp(env, name, len) &&
		    (env[len] == 0 || env[len] == ',' || env[len] == '='))
			return env + len;
		env = strchr(env, ',');
		if (env)
			env++;
	}
	return NULL;
}

bool fault(const char *name)
{
	return fault_find(name) != NULL;
}

bool fault_arg(const char *name, uint64_t *arg)
{
	const char *p = fault_find(name);

	if (!p)
		return false;
	*arg = *p == '=' ? strtoull(p + 1, NULL, 0) : 0;
	return true;
}

void fault_die(const char *name)
{
	static struct { const char *name; uint64_t hits; } seen[32];
	uint64_t at;
	int i;

	if (!fault_arg(name, &at))
		return;
	for (i = 0; i < 31 && seen[i].name && strcmp(seen[i].name, name); i++)
		;
	seen[i].name = name;
	if (++seen[i].hits < (at ? at : 1))
		return;
	pr_info("fault %s: crest dies here (SIGKILL)", name);
	/* die-all: the crest that started this one and this process group too. */
	if (fault("die-all") && getppid() > 1)
		kill(getppid(), SIGKILL);
	if (fault("die-all"))
		kill(0, SIGKILL);
	kill(getpid(), SIGKILL);
}

int pidfd_take(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), ret;

	/* A thread other than the leader (the leader has exited): 6.9's PIDFD_THREAD. */
	if (pidfd < 0 && (errno == ENOENT || errno == EINVAL))
		pidfd = syscall(SYS_pidfd_open, pid, O_EXCL /* PIDFD_THREAD */);

	if (pidfd < 0) {
		pr_perror("can't open a pidfd of process %d", pid);
		return -1;
	}
	ret = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (ret < 0)
		pr_perror("can't take fd %d of process %d", fd, pid);
	close(pidfd);
	return ret;
}

int fork_keeper(const char *what, const int *keep, int nr)
{
	pid_t pid, k;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pr_perror("can't start the %s", what);
		return -1;
	}
	if (pid == 0) {
		/*
		 * Its session first: made by the time the caller goes on. A
		 * keeper that called setsid() itself could still be in the
		 * caller's group when that is killed (CI saw a cgroup's
		 * watcher die so, the cgroup left frozen).
		 */
		if (setsid() < 0)
			_exit(1);
		k = fork();
		if (k == 0) {
			int max = 2;

			for (int i = 0; i < nr; i++)
				if (keep[i] > max)
					max = keep[i];
			for (int fd = 3; fd <= max; fd++) {
				bool kept = false;

				for (int i = 0; !kept && i < nr; i++)
					kept = fd == keep[i];
				if (!kept)
					close(fd);
			}
			syscall(SYS_close_range, max + 1, ~0U, 0);
			return 0;
		}
		_exit(k < 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("can't start the %s", what);
		return -1;
	}
	return 1;
}

int sock_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		return -1;
	return v;
}

int sock_domain(pid_t pid, int fd)
{
	int cfd = pidfd_take(pid, fd), dom;

	if (cfd < 0)
		return -1;
	dom = sock_int(cfd, SOL_SOCKET, SO_DOMAIN);
	close(cfd);
	return dom;
}
