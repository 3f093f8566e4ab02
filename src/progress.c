/*
 * The progress line of a dump or restore. It is the logger's kin: a
 * module-level state, set by progress_start() and written only by the
 * process that dumps or restores (the dump worker inherits stderr).
 * It is drawn with '\r' and padded with spaces, so it needs no terminal
 * capabilities, and redrawn at most every PROGRESS_EVERY_MS.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "progress.h"

#define PROGRESS_DELAY_MS	1000	/* on a terminal: only if it takes longer */
#define PROGRESS_EVERY_MS	100
#define MIB			(1024.0 * 1024.0)

static struct {
	bool on;
	const char *what;
	uint64_t total, done;
	int nr_procs, procs_done;
	long start_ms, show_ms, last_ms;
	int shown;		/* characters of the line on screen now */
} pg;

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* CREST_PROGRESS_DELAY_MS: the test suite's way to see it at once. */
static long delay_ms(bool forced)
{
	const char *s = getenv("CREST_PROGRESS_DELAY_MS");
	char *end;
	long v;

	if (s && *s) {
		v = strtol(s, &end, 10);
		if (!*end && v >= 0)
			return v;
	}
	return forced ? 0 : PROGRESS_DELAY_MS;
}

static void draw(long now)
{
	char line[256];
	double secs = (now - pg.start_ms) / 1000.0;
	uint64_t total = pg.done > pg.total ? pg.done : pg.total;
	struct winsize ws;
	int n, width = sizeof(line) - 1;

	n = snprintf(line, sizeof(line), "crest: %s: %d/%d process%s, %.1f of %.1f MiB",
		     pg.what, pg.procs_done, pg.nr_procs, pg.nr_procs == 1 ? "" : "es",
		     pg.done / MIB, total / MIB);
	if (pg.done && secs > 0.05 && n < width) {
		double rate = pg.done / secs;
		long left = (long)((total - pg.done) / rate + 0.5);

		n += snprintf(line + n, sizeof(line) - n, ", %.1f MiB/s, %ld:%02ld left",
			      rate / MIB, left / 60, left % 60);
	}
	if (n > width)
		n = width;
	/* A line longer than the terminal would wrap and '\r' not go back. */
	if (!ioctl(2, TIOCGWINSZ, &ws) && ws.ws_col > 1 && n > ws.ws_col - 1)
		n = ws.ws_col - 1;
	{
		char buf[2 + 2 * sizeof(line)];
		int len = 0;

		buf[len++] = '\r';
		memcpy(buf + len, line, n);
		len += n;
		for (int i = n; i < pg.shown; i++)
			buf[len++] = ' ';
		if (write(log_err_fd(), buf, len) < 0)
			return;
	}
	pg.shown = n;
	pg.last_ms = now;
}

static void update(bool force)
{
	long now;

	if (!pg.on)
		return;
	now = mono_ms();
	if (now < pg.show_ms)
		return;
	if (!force && pg.shown && now - pg.last_ms < PROGRESS_EVERY_MS)
		return;
	draw(now);
}

void progress_start(const struct options *opts, const char *what,
		    uint64_t total_bytes, int nr_procs)
{
	bool forced = opts->progress > 0;

	memset(&pg, 0, sizeof(pg));
	pg.on = !opts->quiet && opts->progress >= 0 && (forced || isatty(2));
	pg.what = what;
	pg.total = total_bytes;
	pg.nr_procs = nr_procs;
	pg.start_ms = mono_ms();
	pg.show_ms = pg.start_ms + delay_ms(forced);
	update(true);
}

void progress_add(uint64_t bytes)
{
	pg.done += bytes;
	update(false);
}

void progress_proc_done(void)
{
	pg.procs_done++;
	update(false);
}

void progress_tick(void)
{
	update(false);
}

void progress_clear(void)
{
	char buf[2 + 256];
	int len = 0;

	if (!pg.shown)
		return;
	buf[len++] = '\r';
	for (int i = 0; i < pg.shown; i++)
		buf[len++] = ' ';
	buf[len++] = '\r';
	pg.shown = 0;
	if (write(log_err_fd(), buf, len) < 0)
		return;
}

void progress_end(void)
{
	progress_clear();
	pg.on = false;
}
