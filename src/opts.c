/* crest's command line: one option table per subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"

static const char usage_text[] =
"usage: crest COMMAND [OPTIONS]\n"
"\n"
"Checkpoint a running process into image files and restore it later.\n"
"\n"
"commands:\n"
"  dump -t PID [-D DIR] [--leave-running] [-v[N]] [-o LOG]\n"
"        checkpoint process PID into DIR (default: the current directory),\n"
"        then kill it, or leave it running with -R/--leave-running\n"
"  restore [-D DIR] [-d] [-v[N]] [-o LOG]\n"
"        restore the process saved in DIR with its PID; wait for it and exit\n"
"        with its status, or detach at once with -d/--restore-detached\n"
"  show PATH\n"
"        print an image file, or every image of a directory, as JSON\n"
"  check\n"
"        report the kernel features crest relies on; non-zero if one is missing\n"
"\n"
"options:\n"
"  -t, --tree PID            the process to checkpoint\n"
"  -D, --images-dir DIR      where the images are (default .)\n"
"  -R, --leave-running       dump: let the process go on after the checkpoint\n"
"  -d, --restore-detached    restore: don't wait for the restored process\n"
"  -v[N], --verbosity[=N]    more messages: -v (info), -v3 or -vv (debug)\n"
"  -o, --log-file FILE       write messages to FILE (errors still go to stderr)\n"
"  -h, --help                this text\n"
"  -V, --version             crest's version\n"
"\n"
"exit status: 0 success, 1 failure, 2 usage, 3 bad or missing images,\n"
"4 PID in use, 5 unsupported resource, 6 missing or changed file.\n"
"restore without -d exits with the restored process's status\n"
"(128+N if it was killed by signal N).\n";

void opts_usage(FILE *f)
{
	fputs(usage_text, f);
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v <= 0 || v > (1 << 22)) {
		pr_err("'%s' is not a process ID", s);
		return -1;
	}
	*pid = v;
	return 0;
}

static const struct option long_opts[] = {
	{ "tree",		required_argument, NULL, 't' },
	{ "images-dir",		required_argument, NULL, 'D' },
	{ "leave-running",	no_argument,	   NULL, 'R' },
	{ "restore-detached",	no_argument,	   NULL, 'd' },
	{ "verbosity",		optional_argument, NULL, 'v' },
	{ "log-file",		required_argument, NULL, 'o' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ }
};

/* Which options each command takes. */
static const char *cmd_opts(enum crest_cmd cmd)
{
	switch (cmd) {
	case CMD_DUMP:		return "tDRvoh";
	case CMD_RESTORE:	return "Ddvoh";
	default:		return "voh";
	}
}

int opts_parse(int argc, char **argv, struct options *o)
{
	static const struct { const char *name; enum crest_cmd cmd; } cmds[] = {
		{ "dump", CMD_DUMP }, { "restore", CMD_RESTORE },
		{ "show", CMD_SHOW }, { "check", CMD_CHECK },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->dir = ".";
	o->verbosity = LOG_WARN;
	if (argc < 2) {
		opts_usage(stderr);
		return -1;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		o->help = true;
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		o->version = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			o->cmd = cmds[i].cmd;
	if (o->cmd == CMD_NONE) {
		pr_err("unknown command '%s' (try 'crest --help')", argv[1]);
		return -1;
	}

	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:D:Rdv::o:hV", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			if (c == ':')
				pr_err("option '%s' needs an argument", argv[optind - 1]);
			else
				pr_err("unknown option '%s' for 'crest %s'", argv[optind - 1], argv[1]);
			return -1;
		}
		if (c != 'V' && !strchr(cmd_opts(o->cmd), c)) {
			const struct option *lo = long_opts;

			while (lo->name && lo->val != c)
				lo++;
			pr_err("option '--%s' (-%c) does not apply to 'crest %s'",
			       lo->name, c, argv[1]);
			return -1;
		}
		switch (c) {
		case 't':
			if (parse_pid(optarg, &o->pid))
				return -1;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'R':
			o->leave_running = true;
			break;
		case 'd':
			o->detach = true;
			break;
		case 'v':
			if (!optarg) {
				o->verbosity++;
			} else if (optarg[0] == 'v') {
				o->verbosity += 1 + strspn(optarg, "v");
			} else {
				char *end;

				o->verbosity = strtol(optarg, &end, 10);
				if (*end || o->verbosity < 0) {
					pr_err("bad verbosity '%s'", optarg);
					return -1;
				}
			}
			break;
		case 'o':
			o->log_file = optarg;
			break;
		case 'h':
			o->help = true;
			return 0;
		case 'V':
			o->version = true;
			return 0;
		}
	}
	if (o->cmd == CMD_SHOW) {
		if (optind != argc - 1) {
			pr_err("'crest show' takes one image file or directory");
			return -1;
		}
		o->show_path = argv[optind];
		return 0;
	}
	if (optind != argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (o->cmd == CMD_DUMP && !o->pid) {
		pr_err("'crest dump' needs the process to checkpoint: -t PID");
		return -1;
	}
	return 0;
}
