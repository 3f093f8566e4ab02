/* Refusals: every problem of a dump, gathered, then reported at once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "refuse.h"
#include "util.h"

static char **lines;
static int nr_lines;
static char *context;

static const char what_to_do[] =
	"nothing was changed; close or end what is listed (or leave those processes out of the scope) and dump again; 'crest dump --check-only' lists it without dumping";

static void comm_of(pid_t pid, char *buf, size_t len)
{
	char *c = read_proc(pid, "comm", NULL);

	snprintf(buf, len, "%s", c ? c : "?");
	buf[strcspn(buf, "\n")] = 0;
	free(c);
}

void refuse(pid_t pid, const char *fmt, ...)
{
	char comm[32], what[1024], *line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	comm_of(pid, comm, sizeof(comm));
	line = context ? xsprintf("process %d (%s): %s: %s", pid, comm, context, what) :
			 xsprintf("process %d (%s): %s", pid, comm, what);
	/* One thing seen twice (by two threads, two fds of one file): once. */
	for (int i = 0; i < nr_lines; i++) {
		if (!strcmp(lines[i], line)) {
			free(line);
			return;
		}
	}
	pr_debug("refused: %s", line);
	lines = xrealloc(lines, (nr_lines + 1) * sizeof(*lines));
	lines[nr_lines++] = line;
}

void refuse_context(const char *what)
{
	free(context);
	context = what ? xstrdup(what) : NULL;
}

int refusals_nr(void)
{
	return nr_lines;
}

const char *refusal(int i)
{
	return i >= 0 && i < nr_lines ? lines[i] : NULL;
}

void refusals_print(FILE *f)
{
	for (int i = 0; i < nr_lines; i++)
		fprintf(f, "  %s\n", lines[i]);
	fprintf(f, "%s\n", what_to_do);
}

void refusals_report(void)
{
	char last[128];

	snprintf(last, sizeof(last), "%d thing%s crest can't save (listed above)",
		 nr_lines, nr_lines > 1 ? "s" : "");
	log_msg(LOG_ERROR, "error: crest can't save %d thing%s of this tree:\n",
		nr_lines, nr_lines > 1 ? "s" : "");
	for (int i = 0; i < nr_lines; i++)
		log_msg(LOG_ERROR, "error:   %s\n", lines[i]);
	log_msg(LOG_ERROR, "error: %s\n", what_to_do);
	log_set_last_error(last);
}

void refusals_clear(void)
{
	for (int i = 0; i < nr_lines; i++)
		free(lines[i]);
	free(lines);
	lines = NULL;
	nr_lines = 0;
}
