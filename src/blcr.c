/*
 * cr_checkpoint, cr_restart and cr_run: BLCR's command line on top of
 * crest. crest dispatches here when it is run under one of those names.
 * Every option of BLCR 0.8 is accepted with its meaning (see
 * Documentation/cr_checkpoint.1 and friends); the work is crest's own
 * cr_dump() and cr_restore().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "blcr.h"
#include "dump.h"
#include "log.h"
#include "opts.h"
#include "pstree.h"
#include "restore.h"

#include "blcr-int.h"

const char *blcr_version = "?";
bool blcr_quiet;

void blcr_say(const char *fmt, ...)
{
	va_list ap;

	if (blcr_quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* A whole non-negative decimal number, or -1. */
long blcr_read_num(const char *s, long max)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < 0 || v > max)
		return -1;
	return v;
}

/* A signed decimal number; false if S is not one. */
bool blcr_read_int(const char *s, long *v)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*v = strtol(s, &end, 10);
	return !*end && !errno;
}

int blcr_exit_errno(int crest_exit)
{
	int e = 0;

	switch (crest_exit) {
	case EXIT_OK:		return 0;
	case EXIT_USAGE:	return EINVAL;
	case EXIT_BUSY:		return EBUSY;
	case EXIT_UNSUPPORTED:	return ENOSYS;
	case EXIT_IMAGE:	return EIO;	/* corrupt or incompatible */
	case EXIT_FILES:	e = ENOENT; break;
	default:		e = EIO; break;
	}
	/* A failed call says better what went wrong (EEXIST, EACCES...). */
	if (log_last_errno() > 0)
		e = log_last_errno();
	return e;
}

/* crest's message level from -v, --kmsg-* and -q. */
int blcr_msg_level(int nverbose, int kmsg, bool q)
{
	if (q)
		return -1;
	if (nverbose)
		return LOG_INFO + nverbose - 1;
	return kmsg;
}


/* ---------------------------------------------------------------- cr_run */

static const char run_usage_text[] =
"Usage: cr_run [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Run COMMAND with ARGS. Every process is checkpointable by crest as it is;\n"
"cr_run is kept for BLCR's scripts, and for --omit.\n"
"\n"
"Options:\n"
"  --omit        run COMMAND so that it and its descendants are omitted\n"
"                from checkpoints (sets CREST_OMIT=1 in its environment).\n"
"  --run         run COMMAND normally (the default; cancels --omit).\n"
"  --            end of options.\n"
"  -?, --help    print this message and exit.\n"
"  --version     print version information and exit.\n";

static int cr_run_main(int argc, char **argv)
{
	bool omit = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "--omit")) {
			omit = true;
		} else if (!strcmp(a, "--run")) {
			omit = false;
		} else if (!strcmp(a, "-?") || !strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(run_usage_text, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("cr_run version %s\n", blcr_version);
			return 0;
		} else {
			fprintf(stderr, "cr_run: unrecognized option '%s'\n", a);
			fputs(run_usage_text, stderr);
			return 255;
		}
	}
	if (i >= argc) {
		fputs(run_usage_text, stderr);
		return 255;
	}
	if (omit && setenv("CREST_OMIT", "1", 1)) {
		fprintf(stderr, "cr_run: setenv: %s\n", strerror(errno));
		return 255;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "cr_run: %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
	const char *name;
	int (*main)(int, char **);
} tools[] = {
	{ "cr_checkpoint", cr_checkpoint_main },
	{ "cr_restart", cr_restart_main },
	{ "cr_run", cr_run_main },
};

bool blcr_is_tool(const char *name)
{
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (!strcmp(name, tools[i].name))
			return true;
	return false;
}

int blcr_main(int argc, char **argv, const char *version)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	blcr_version = version;
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		if (!strcmp(base, tools[i].name)) {
			return tools[i].main(argc, argv) & 0xff;
		}
	}
	return 255;
}
