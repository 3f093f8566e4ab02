/* cr_checkpoint: BLCR's checkpoint command on top of cr_dump(). */
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

/* ---------------------------------------------------------- cr_checkpoint */

static const char ckpt_usage_text[] =
"Usage: cr_checkpoint [options] ID\n"
"\n"
"Options:\n"
"General options:\n"
"  -v, --verbose                 print progress messages to stderr.\n"
"  -q, --quiet                   suppress error/warning messages to stderr.\n"
"  -?, -h, --help                print this message and exit.\n"
"      --version                 print version information and exit.\n"
"\n"
"Options for scope of the checkpoint:\n"
"  -T, --tree                    ID identifies a process id.  It and all of\n"
"                                its descendants are to be checkpointed.\n"
"                                This is the default.\n"
"  -p, --pid, --process          ID identifies a single process id.\n"
"  -g, --pgid, --group           ID identifies a process group id.\n"
"  -s, --sid, --session          ID identifies a session id.\n"
"\n"
"Options for destination location of the checkpoint:\n"
"  -c, --cwd                     checkpoint saved as a single 'context.ID'\n"
"                                file in cr_checkpoint's working directory\n"
"                                (default).\n"
"  -d, --dir DIR                 checkpoint saved as separate image files in\n"
"                                directory DIR (created if needed).\n"
"  -f, --file FILE               checkpoint saved as FILE.\n"
"  -F, --fd FD                   checkpoint written to an open file descriptor.\n"
"  Options in this group are mutually exclusive.\n"
"\n"
"Options for creation/replacement policy for checkpoint files:\n"
"      --atomic                  checkpoint created/replaced atomically\n"
"                                (default).\n"
"      --backup[=NAME]           checkpoint created atomically, and any\n"
"                                existing checkpoint backed up to NAME or\n"
"                                FILE.~1~, FILE.~2~, etc.\n"
"      --clobber                 checkpoint written incrementally to target,\n"
"                                overwriting any pre-existing checkpoint.\n"
"      --noclobber               checkpoint will fail if the target file\n"
"                                exists.\n"
"  These options are ignored if the destination is a file descriptor.\n"
"\n"
"Options for signal sent to process(es) after checkpoint:\n"
"      --run                     no signal sent: continue execution (default).\n"
"  -S, --signal NUM              signal NUM sent to all processes.\n"
"      --stop                    SIGSTOP sent to all processes.\n"
"      --term                    SIGTERM sent to all processes.\n"
"      --abort                   SIGABRT sent to all processes.\n"
"      --kill                    SIGKILL sent to all processes.\n"
"      --cont                    SIGCONT sent to all processes.\n"
"  Options in this group are mutually exclusive.\n"
"  If more than one is given then only the last will be honored.\n"
"\n"
"Options for file system synchronization (default is --sync):\n"
"      --sync                    fsync checkpoint file(s) to disk (default).\n"
"      --nosync                  do not fsync checkpoint file(s) to disk.\n"
"\n"
"Options for authenticated checkpoints (crest's own):\n"
"      --sign-key FILE           sign the checkpoint with an HMAC-SHA256 keyed\n"
"                                with FILE's bytes (see crest(8), SECURITY).\n"
"\n"
"Options for compressed checkpoints (crest's own):\n"
"      --compress                compress the images in the context (zstd);\n"
"                                cr_restart finds out by itself.\n"
"\n"
"Options to save optional portions of memory:\n"
"      --save-exe                save the executable file.\n"
"      --save-private            save private mapped files (executables and\n"
"                                libraries are mapped this way).\n"
"      --save-shared             save shared mapped files (System V IPC is\n"
"                                mapped this way).\n"
"      --save-all                save all of the above.\n"
"      --save-none               save none of the above (the default).\n"
"\n"
"Options for ptraced processes (default is --ptraced-error):\n"
"      --ptraced-error           return an error if a checkpoint is requested\n"
"                                of a process being ptraced.\n"
"      --ptraced-skip            ptraced processes (and with --tree their\n"
"                                descendants) are silently excluded.\n"
"      --ptraced-allow           checkpoint ptraced processes normally.\n"
"\n"
"Options for processes ptracing others (default is --ptracer-error):\n"
"      --ptracer-error           return an error if a checkpoint is requested\n"
"                                of a process which is ptracing others.\n"
"      --ptracer-skip            processes ptracing others (and with --tree\n"
"                                their descendants) are silently excluded.\n"
"\n"
"Options for messages (default is --kmsg-error):\n"
"      --kmsg-none               don't report any errors of the request.\n"
"      --kmsg-error              on failure, report on stderr what went wrong.\n"
"      --kmsg-warning            report warnings too, even on success.\n"
"  Options in this group are mutually exclusive.\n"
"  Note that --quiet suppresses all stderr output, including these messages.\n"
"\n"
"Misc Options:\n"
"  -t, --time SEC                allow only SEC seconds for the checkpoint\n"
"                                (default: wait indefinitely).\n";


static const struct option ckpt_opts[] = {
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ "tree",		no_argument,	   NULL, 'T' },
	{ "pid",		no_argument,	   NULL, 'p' },
	{ "process",		no_argument,	   NULL, 'p' },
	{ "pgid",		no_argument,	   NULL, 'g' },
	{ "group",		no_argument,	   NULL, 'g' },
	{ "sid",		no_argument,	   NULL, 's' },
	{ "session",		no_argument,	   NULL, 's' },
	{ "cwd",		no_argument,	   NULL, 'c' },
	{ "dir",		required_argument, NULL, 'd' },
	{ "file",		required_argument, NULL, 'f' },
	{ "fd",			required_argument, NULL, 'F' },
	{ "atomic",		no_argument,	   NULL, OPT_ATOMIC },
	{ "backup",		optional_argument, NULL, OPT_BACKUP },
	{ "clobber",		no_argument,	   NULL, OPT_CLOBBER },
	{ "noclobber",		no_argument,	   NULL, OPT_NOCLOBBER },
	{ "run",		no_argument,	   NULL, OPT_RUN },
	{ "signal",		required_argument, NULL, 'S' },
	{ "stop",		no_argument,	   NULL, OPT_STOP },
	{ "term",		no_argument,	   NULL, OPT_TERM },
	{ "abort",		no_argument,	   NULL, OPT_ABORT },
	{ "kill",		no_argument,	   NULL, OPT_KILL },
	{ "cont",		no_argument,	   NULL, OPT_CONT },
	{ "early-stop",		no_argument,	   NULL, OPT_EARLY_STOP },
	{ "early-abrt",		no_argument,	   NULL, OPT_EARLY_ABRT },
	{ "sync",		no_argument,	   NULL, OPT_SYNC },
	{ "nosync",		no_argument,	   NULL, OPT_NOSYNC },
	{ "sign-key",		required_argument, NULL, OPT_SIGN_KEY },
	{ "compress",		no_argument,	   NULL, OPT_COMPRESS },
	{ "save-exe",		no_argument,	   NULL, OPT_SAVE_EXE },
	{ "save-private",	no_argument,	   NULL, OPT_SAVE_PRIVATE },
	{ "save-shared",	no_argument,	   NULL, OPT_SAVE_SHARED },
	{ "save-all",		no_argument,	   NULL, OPT_SAVE_ALL },
	{ "save-none",		no_argument,	   NULL, OPT_SAVE_NONE },
	{ "ptraced-error",	no_argument,	   NULL, OPT_PTRACED_ERROR },
	{ "ptraced-skip",	no_argument,	   NULL, OPT_PTRACED_SKIP },
	{ "ptraced-allow",	no_argument,	   NULL, OPT_PTRACED_ALLOW },
	{ "ptracer-error",	no_argument,	   NULL, OPT_PTRACER_ERROR },
	{ "ptracer-skip",	no_argument,	   NULL, OPT_PTRACER_SKIP },
	{ "kmsg-none",		no_argument,	   NULL, OPT_KMSG_NONE },
	{ "kmsg-error",		no_argument,	   NULL, OPT_KMSG_ERROR },
	{ "kmsg-warning",	no_argument,	   NULL, OPT_KMSG_WARNING },
	{ "time",		required_argument, NULL, 't' },
	{ }
};

static int ckpt_usage(FILE *f, int code)
{
	if (f == stdout || !blcr_quiet)
		fputs(ckpt_usage_text, f);
	return code;
}

/* The destination options: at most one, or "conflicting destinations". */
enum dest { DEST_DEFAULT, DEST_CWD, DEST_DIR, DEST_FILE, DEST_FD };

static bool set_dest(enum dest *cur, const char **cur_arg, enum dest d,
		     const char *arg)
{
	if (*cur != DEST_DEFAULT &&
	    (*cur != d || (arg && *cur_arg && strcmp(arg, *cur_arg)))) {
		blcr_say("cr_checkpoint: conflicting destinations\n");
		return false;
	}
	*cur = d;
	*cur_arg = arg;
	return true;
}

/* Does anything of the scope exist? (false: "no processes checkpointed") */
static bool scope_exists(int scope, pid_t id)
{
	switch (scope) {
	case SCOPE_TREE:
	case SCOPE_PID:
		return !(kill(id, 0) && errno == ESRCH);
	case SCOPE_PGID:
		return !(kill(-id, 0) && errno == ESRCH);
	default:
		return true;
	}
}

int cr_checkpoint_main(int argc, char **argv)
{
	static char ctx_name[64];
	struct options o;
	enum dest dest = DEST_DEFAULT;
	const char *dest_arg = NULL;
	int nverbose = 0, kmsg = KMSG_ERROR, c, ret, err;
	bool existed;
	struct stat st;
	long v;

	opts_defaults(&o);
	o.cmd = CMD_DUMP;
	o.scope = SCOPE_TREE;
	o.after_dump = AFTER_RUN;	/* BLCR's default, not crest dump's */
	o.replace = REPLACE_ATOMIC;
	o.save = 0;
	o.ptraced = TRACE_ERROR;
	o.ptracer = TRACE_ERROR;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vqhTpgscd:f:F:S:t:", ckpt_opts, NULL)) != -1) {
		switch (c) {
		case 'v':	nverbose++; break;
		case 'q':	blcr_quiet = true; break;
		case 'h':	return ckpt_usage(stdout, 0);
		case OPT_VERSION:
			printf("cr_checkpoint version %s\n", blcr_version);
			return 0;
		case 'T':	o.scope = SCOPE_TREE; break;
		case 'p':	o.scope = SCOPE_PID; break;
		case 'g':	o.scope = SCOPE_PGID; break;
		case 's':	o.scope = SCOPE_SID; break;
		case 'c':
			if (!set_dest(&dest, &dest_arg, DEST_CWD, NULL))
				return 255;
			break;
		case 'd':
			if (!set_dest(&dest, &dest_arg, DEST_DIR, optarg))
				return 255;
			break;
		case 'f':
			if (!set_dest(&dest, &dest_arg, DEST_FILE, optarg))
				return 255;
			break;
		case 'F':
			if (!set_dest(&dest, &dest_arg, DEST_FD, optarg))
				return 255;
			v = blcr_read_num(optarg, 1 << 30);
			if (v < 0) {
				blcr_say("cr_checkpoint: FD argument must be a non-negative integer ('%s' was given)\n",
				    optarg);
				return 255;
			}
			o.fd = v;
			break;
		case OPT_ATOMIC:	o.replace = REPLACE_ATOMIC; break;
		case OPT_BACKUP:
			o.replace = REPLACE_BACKUP;
			o.backup_name = optarg;	/* NULL: FILE.~N~ */
			if (optarg && !*optarg) {
				blcr_say("cr_checkpoint: --backup= needs a NAME\n");
				return 255;
			}
			break;
		case OPT_CLOBBER:	o.replace = REPLACE_CLOBBER; break;
		case OPT_NOCLOBBER:	o.replace = REPLACE_NOCLOBBER; break;
		case OPT_RUN:		o.after_dump = AFTER_RUN; break;
		case OPT_STOP:
		case OPT_EARLY_STOP:	o.after_dump = AFTER_STOP; break;
		case OPT_TERM:		o.after_dump = AFTER_TERM; break;
		case OPT_ABORT:
		case OPT_EARLY_ABRT:	o.after_dump = AFTER_ABORT; break;
		case OPT_KILL:		o.after_dump = AFTER_KILL; break;
		case OPT_CONT:		o.after_dump = AFTER_CONT; break;
		case 'S':
			v = blcr_read_num(optarg, _NSIG - 1);
			if (v <= 0) {
				blcr_say("cr_checkpoint: Valid signal numbers are from 1 to %d, inclusive.\n",
				    _NSIG - 1);
				return 255;
			}
			o.after_dump = AFTER_SIGNAL;
			o.after_signal = v;
			break;
		case OPT_SYNC:		o.nosync = false; break;
		case OPT_NOSYNC:	o.nosync = true; break;
		case OPT_SIGN_KEY:	o.sign_key = optarg; break;
		case OPT_COMPRESS:	o.compress = true; break;
		case OPT_SAVE_EXE:	o.save |= SAVE_EXE; break;
		case OPT_SAVE_PRIVATE:	o.save |= SAVE_PRIVATE; break;
		case OPT_SAVE_SHARED:	o.save |= SAVE_SHARED; break;
		case OPT_SAVE_ALL:	o.save |= SAVE_EXE | SAVE_PRIVATE | SAVE_SHARED; break;
		case OPT_SAVE_NONE:	o.save = 0; break;
		case OPT_PTRACED_ERROR:	o.ptraced = TRACE_ERROR; break;
		case OPT_PTRACED_SKIP:	o.ptraced = TRACE_SKIP; break;
		case OPT_PTRACED_ALLOW:	o.ptraced = TRACE_ALLOW; break;
		case OPT_PTRACER_ERROR:	o.ptracer = TRACE_ERROR; break;
		case OPT_PTRACER_SKIP:	o.ptracer = TRACE_SKIP; break;
		case OPT_KMSG_NONE:	kmsg = KMSG_NONE; break;
		case OPT_KMSG_ERROR:	kmsg = KMSG_ERROR; break;
		case OPT_KMSG_WARNING:	kmsg = KMSG_WARNING; break;
		case 't':
			if (!blcr_read_int(optarg, &v)) {
				blcr_say("cr_checkpoint: invalid --time '%s'\n", optarg);
				return 255;
			}
			if (v < 0) {
				blcr_say("cr_checkpoint: negative --time %ld is not allowed\n", v);
				return 255;
			}
			o.timeout = v > (1 << 30) ? (1 << 30) : v;
			break;
		case '?':
			if (optopt == '?')	/* -? is help */
				return ckpt_usage(stdout, 0);
			if (optopt && strchr("dfFSt", optopt))
				blcr_say("cr_checkpoint: option '-%c' needs an argument\n", optopt);
			else
				blcr_say("cr_checkpoint: unrecognized option '%s'\n", argv[optind - 1]);
			return ckpt_usage(stderr, 255);
		default:
			return ckpt_usage(stderr, 255);
		}
	}
	if (optind != argc - 1)
		return ckpt_usage(stderr, 255);
	v = blcr_read_num(argv[optind], 1 << 22);
	if (v <= 0) {
		blcr_say("cr_checkpoint: '%s' is not a valid ID\n", argv[optind]);
		return ckpt_usage(stderr, 255);
	}
	o.pid = v;

	switch (dest) {
	case DEST_DEFAULT:
	case DEST_CWD:
		snprintf(ctx_name, sizeof(ctx_name), "context.%d", o.pid);
		o.file = ctx_name;
		break;
	case DEST_FILE:
		o.file = dest_arg;
		break;
	case DEST_DIR:
		o.dir = dest_arg;
		break;
	case DEST_FD:
		break;
	}
	o.quiet = blcr_quiet;
	o.verbosity = blcr_msg_level(nverbose, kmsg, blcr_quiet);
	o.leave_running = o.after_dump == AFTER_RUN;

	log_set_prefix("cr_checkpoint");
	if (log_init(NULL, o.verbosity))
		return EINVAL;
	/* The dump runs in a worker: its errno doesn't reach us. Remember
	 * what --noclobber will refuse. */
	existed = o.file && o.fd < 0 && o.replace == REPLACE_NOCLOBBER &&
		  !lstat(o.file, &st);
	ret = cr_dump(&o);
	if (ret == EXIT_OK)
		return 0;
	err = blcr_exit_errno(ret);
	if (existed && err == EIO)
		err = EEXIST;
	if (!scope_exists(o.scope, o.pid)) {
		blcr_say("Checkpoint failed: no processes checkpointed\n");
		return ESRCH;
	}
	/* crest's own messages (--kmsg-*) said what went wrong. */
	if (ret == EXIT_UNSUPPORTED)
		blcr_say("Checkpoint failed: unable to checkpoint\n");
	else
		blcr_say("Checkpoint failed: %s\n", strerror(err));
	return err ? err : EIO;
}

