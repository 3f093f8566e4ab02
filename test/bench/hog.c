/*
 * hog: hold N MiB of dirty anonymous memory for scripts/bench.
 *
 *   hog [--procs K] MIB READYFILE
 *
 * Maps MIB MiB of private anonymous memory and writes every page with data
 * that differs from page to page (nothing dedups or compresses to zero
 * pages), then creates READYFILE and sleeps forever.  With --procs K it
 * first forks K-1 children, each with its own MIB MiB; READYFILE appears
 * once all K processes have filled their memory.
 *
 * SIGUSR1 (to a single-process hog): rewrite the first $HOG_DIRTY_MIB MiB
 * (default 8) with new data, then create READYFILE again -- the writes a
 * pre-dump's successor must save.
 *
 * HOG_FILL=text: memory that compresses instead, for --compress: the first
 * half numbered lines of text, the second half written with zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "hog: %s: %s\n", what, strerror(errno));
	exit(1);
}

static volatile sig_atomic_t dirty_asked;

static void on_usr1(int sig)
{
	(void)sig;
	dirty_asked = 1;
}

static void fill_text(char *mem, size_t len, uint64_t seed)
{
	size_t off = 0, half = len / 2;
	unsigned long line = seed << 32;

	while (off < half) {
		char buf[96];
		int n = snprintf(buf, sizeof(buf),
				 "%016lx the quick brown fox jumps over the lazy dog\n", line++);
		size_t k = (size_t)n < half - off ? (size_t)n : half - off;

		memcpy(mem + off, buf, k);
		off += k;
	}
	memset(mem + half, 0, len - half);	/* written: present pages */
}

static uint64_t *fill_at(uint64_t *mem, size_t mib, uint64_t seed)
{
	size_t len = mib << 20, words = len / sizeof(uint64_t), i;
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	const char *how = getenv("HOG_FILL");

	if (!mem) {
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			die("mmap");
	}
	if (how && !strcmp(how, "text")) {
		fill_text((char *)mem, len, seed);
		return mem;
	}
	for (i = 0; i < words; i++) {	/* xorshift64: every word differs */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	return mem;
}

static uint64_t *fill(size_t mib, uint64_t seed)
{
	return fill_at(NULL, mib, seed);
}

static void ready(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die(path);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *dm = getenv("HOG_DIRTY_MIB");
	int procs = 1, i, p[2];
	size_t mib, dirty = dm ? strtoul(dm, NULL, 0) : 8;
	uint64_t *mem;
	char c;

	if (argc > 2 && !strcmp(argv[1], "--procs")) {
		procs = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 3 || procs < 1) {
		fprintf(stderr, "usage: hog [--procs K] MIB READYFILE\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	if (pipe(p))
		die("pipe");
	for (i = 1; i < procs; i++) {
		switch (fork()) {
		case -1:
			die("fork");
		case 0:
			close(p[0]);
			fill(mib, i);
			close(p[1]);	/* tells the parent this one is done */
			for (;;)
				pause();
		}
	}
	close(p[1]);
	signal(SIGUSR1, on_usr1);
	mem = fill(mib, 0);
	while (read(p[0], &c, 1) > 0)	/* EOF: every child has filled */
		;
	close(p[0]);
	ready(argv[2]);
	for (uint64_t round = 1;; round++) {
		while (!dirty_asked)
			pause();
		dirty_asked = 0;
		fill_at(mem, dirty < mib ? dirty : mib, 1000 + round);
		ready(argv[2]);
	}
}
