/*
 * floor: the fastest plain way to move N MiB of touched anonymous memory into
 * a file and back, for scripts/bench to compare crest against.
 *
 *   floor MIB FILE
 *
 * Dump side: MIB MiB are mapped and written (outside the timing), then the
 * clock runs over open(O_CREAT|O_TRUNC) of FILE, vmsplice(2) of the memory
 * into a pipe of 1 MiB (F_SETPIPE_SZ) and splice(2) from the pipe into the
 * file, 1 MiB at a time, then fsync(2) and close(2).  write_s is the time up
 * to the last splice, fsync_s the fsync and close (about 0 on tmpfs), so
 * write_s + fsync_s is the floor of a dump that syncs its images, as crest's
 * does.
 *
 * Restore side: the clock runs over open(2) of FILE, mmap(2) of MIB MiB of
 * fresh anonymous memory (not touched beforehand: the page faults count, as
 * they do for a restored process), read(2) of the whole file into it and
 * close(2).  The file comes from the page cache, as a restore right after a
 * dump does.  The source memory is unmapped before that, as a dump frees
 * the dumped process's memory.  FILE is removed at the end.
 *
 * Prints one JSON object on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	(1UL << 20)
#define SEED	88172645463325252ULL

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

int main(int argc, char **argv)
{
	size_t mib, len, off, i;
	double t0, t1, t2, t3, t4;
	uint64_t *mem, x = SEED, bad = 0;
	char *buf;
	int pfd[2], fd;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: floor MIB FILE\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	len = mib << 20;

	mem = map(len);
	for (i = 0; i < len / sizeof(*mem); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	if (pipe(pfd))
		die("pipe");
	if (fcntl(pfd[1], F_SETPIPE_SZ, (int)CHUNK) < 0)
		die("F_SETPIPE_SZ");

	/* ---- dump floor ---- */
	t0 = now();
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(argv[2]);
	for (off = 0; off < len; ) {
		struct iovec iov = { (char *)mem + off, len - off < CHUNK ? len - off : CHUNK };
		size_t left;

		n = vmsplice(pfd[1], &iov, 1, 0);
		if (n <= 0)
			die("vmsplice");
		for (left = n; left; left -= n) {
			n = splice(pfd[0], NULL, fd, NULL, left, SPLICE_F_MOVE);
			if (n <= 0)
				die("splice");
		}
		off += iov.iov_len;
	}
	t1 = now();
	if (fsync(fd))
		die("fsync");
	if (close(fd))
		die("close");
	t2 = now();

	/*
	 * Free the source first, as a dump frees the dumped process's memory
	 * before the restore: on a VM with free page reporting (a balloon),
	 * memory that stays free for long goes back to the host and costs a
	 * host fault on the next touch, so the read must be able to reuse
	 * the pages just freed, as the restored process does.
	 */
	munmap(mem, len);

	/* ---- restore floor ---- */
	t3 = now();
	fd = open(argv[2], O_RDONLY);
	if (fd < 0)
		die(argv[2]);
	buf = map(len);
	for (off = 0; off < len; off += n) {
		n = read(fd, buf + off, len - off);
		if (n <= 0)
			die("read");
	}
	close(fd);
	t4 = now();

	x = SEED;			/* make sure the data came back */
	for (i = 0; i < len / sizeof(x); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bad += ((uint64_t *)buf)[i] != x;
	}
	if (bad) {
		fprintf(stderr, "floor: data read back differs\n");
		return 1;
	}
	unlink(argv[2]);
	printf("{\"mib\": %zu, \"write_s\": %.6f, \"fsync_s\": %.6f, "
	       "\"dump_s\": %.6f, \"read_s\": %.6f}\n",
	       mib, t1 - t0, t2 - t1, t2 - t0, t4 - t3);
	return 0;
}
