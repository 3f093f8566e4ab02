/*
 * A parent with three children and a grandchild, talking over pipes: the
 * parent sends each child numbers and checks the answers; the first child
 * relays some to its own child. The talk goes on across the checkpoint.
 */
#include "caselib.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCHILD 3

/* Answer x with x * 7 + id until x is 0; relay to a helper if given one. */
static void worker(int in, int out, int id, int hin, int hout)
{
	uint64_t x, y;

	while (read(in, &x, 8) == 8) {
		if (!x) {
			if (hout >= 0) {
				int st;

				write(hout, &x, 8);
				wait(&st);
				if (!WIFEXITED(st) || WEXITSTATUS(st))
					_exit(4);
			}
			_exit(0);
		}
		y = x * 7 + id;
		if (hout >= 0) {
			/* The grandchild adds 1000; take it back off. */
			if (write(hout, &y, 8) != 8 || read(hin, &y, 8) != 8)
				_exit(2);
			y -= 1000;
		}
		if (write(out, &y, 8) != 8)
			_exit(3);
	}
	_exit(1);
}

static void grandchild(int in, int out)
{
	uint64_t x;

	while (read(in, &x, 8) == 8 && x) {
		x += 1000;
		if (write(out, &x, 8) != 8)
			_exit(3);
	}
	_exit(0);
}

static int to[NCHILD][2], from[NCHILD][2];
static pid_t kids[NCHILD];

static void round_trip(uint64_t n)
{
	for (int i = 0; i < NCHILD; i++) {
		uint64_t y;

		if (write(to[i][1], &n, 8) != 8 || read(from[i][0], &y, 8) != 8)
			case_fail("child %d: pipe broke: %s", i, strerror(errno));
		if (y != n * 7 + i)
			case_fail("child %d answered %llu to %llu", i,
				  (unsigned long long)y, (unsigned long long)n);
	}
}

int main(void)
{
	uint64_t n = 1, zero = 0;
	int status;

	case_init();
	for (int i = 0; i < NCHILD; i++) {
		if (pipe(to[i]) || pipe(from[i]))
			case_fail("pipe: %s", strerror(errno));
		kids[i] = fork();
		if (kids[i] == 0) {
			int hin = -1, hout = -1;

			if (i == 0) {
				int a[2], b[2];

				if (pipe(a) || pipe(b))
					_exit(5);
				if (fork() == 0)
					grandchild(a[0], b[1]);
				hout = a[1];
				hin = b[0];
			}
			worker(to[i][0], from[i][1], i, hin, hout);
		}
	}
	for (int k = 0; k < 100; k++)
		round_trip(n++);
	case_ready();
	while (!case_go)
		round_trip(n++);
	for (int k = 0; k < 1000; k++)
		round_trip(n++);
	for (int i = 0; i < NCHILD; i++) {
		write(to[i][1], &zero, 8);
		if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			case_fail("child %d: status %#x", i, status);
	}
	case_pass();
}
