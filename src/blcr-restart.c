/* cr_restart: BLCR's restart command on top of cr_restore(). */
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
#include "tty.h"

#include "blcr-int.h"

/* ------------------------------------------------------------ cr_restart */

static const char rst_usage_text[] =
"Usage: cr_restart [options] [checkpoint_file]\n"
"\n"
"Options:\n"
"General options:\n"
"  -?, -h, --help      print this help message.\n"
"  -v, --version       print version information.\n"
"  -q, --quiet         suppress error/warning messages to stderr.\n"
"\n"
"Options for source location of the checkpoint:\n"
"  -d, --dir DIR       checkpoint read from directory DIR, the image files\n"
"                      written by cr_checkpoint --dir.\n"
"  -f, --file FILE     checkpoint read from FILE.\n"
"  -F, --fd FD         checkpoint read from an open file descriptor.\n"
"  Options in this group are mutually exclusive.\n"
"  If no option is given from this group, the default is to take\n"
"  the final argument as FILE.\n"
"\n"
"Options for signal sent to process(es) after restart:\n"
"      --run           no signal sent: continue execution (default).\n"
"  -S, --signal NUM    signal NUM sent to all processes/threads.\n"
"      --stop          SIGSTOP sent to all processes (alias --freeze).\n"
"      --term          SIGTERM sent to all processes.\n"
"      --abort         SIGABRT sent to all processes.\n"
"      --kill          SIGKILL sent to all processes.\n"
"      --cont          SIGCONT sent to all processes.\n"
"  Options in this group are mutually exclusive.\n"
"  If more than one is given then only the last will be honored.\n"
"\n"
"Options for checkpoints of restarted process(es):\n"
"      --omit-maybe    use a heuristic to omit cr_restart from checkpoints (default)\n"
"      --omit-always   always omit cr_restart from checkpoints\n"
"      --omit-never    never omit cr_restart from checkpoints\n"
"  (accepted for compatibility: crest's cr_restart is never part of the\n"
"  restored job; checkpoint the restored processes by their own ID)\n"
"\n"
"Options for alternate error handling:\n"
"      --run-on-success='cmd'    run the given command on success\n"
"      --run-on-fail-args='cmd'  run the given command invalid arguments\n"
"      --run-on-fail-temp='cmd'  run the given command on 'temporary' failure\n"
"      --run-on-fail-env='cmd'   run the given command on 'environmental' failure\n"
"      --run-on-fail-perm='cmd'  run the given command on 'permanent' failure\n"
"      --run-on-failure='cmd'    run the given command on any failure\n"
"\n"
"Options for authenticated checkpoints (crest's own):\n"
"      --verify-key FILE   restart only a checkpoint signed with this key\n"
"                          (cr_checkpoint --sign-key); see crest(8), SECURITY.\n"
"\n"
"Options for relocation:\n"
"      --relocate OLDPATH=NEWPATH    map paths of files and directories to\n"
"                                    new locations by prefix replacement.\n"
"\n"
"Options for restoring pid, process group and session ids\n"
"      --restore-pid       restore pids to saved values (default).\n"
"      --no-restore-pid    restart with new pids.\n"
"      --restore-pgid      restore pgid to saved values.\n"
"      --no-restore-pgid   restart with new pgids (default).\n"
"      --restore-sid       restore sid to saved values.\n"
"      --no-restore-sid    restart with new sids (default).\n"
"  Options in each restore/no-restore pair are mutually exclusive.\n"
"  If both are given then only the last will be honored.\n"
"\n"
"Options for messages (default is --kmsg-error):\n"
"      --kmsg-none     don't report what went wrong, only that it failed.\n"
"      --kmsg-error    on restart failure, report on stderr what went wrong.\n"
"      --kmsg-warning  report warnings too, even on success.\n"
"  Options in this group are mutually exclusive.\n"
"  If more than one is given then only the last will be honored.\n"
"  Note that --quiet suppresses all stderr output, including these messages.\n";

static const struct option rst_opts[] = {
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "file",		required_argument, NULL, 'f' },
	{ "dir",		required_argument, NULL, 'd' },
	{ "fd",			required_argument, NULL, 'F' },
	{ "signal",		required_argument, NULL, 'S' },
	{ "run",		no_argument,	   NULL, OPT_RUN },
	{ "stop",		no_argument,	   NULL, OPT_STOP },
	{ "freeze",		no_argument,	   NULL, OPT_STOP },
	{ "term",		no_argument,	   NULL, OPT_TERM },
	{ "kill",		no_argument,	   NULL, OPT_KILL },
	{ "abort",		no_argument,	   NULL, OPT_ABORT },
	{ "cont",		no_argument,	   NULL, OPT_CONT },
	{ "early-stop",		no_argument,	   NULL, OPT_EARLY_STOP },
	{ "early-abrt",		no_argument,	   NULL, OPT_EARLY_ABRT },
	{ "omit-maybe",		no_argument,	   NULL, OPT_OMIT_MAYBE },
	{ "omit-always",	no_argument,	   NULL, OPT_OMIT_ALWAYS },
	{ "omit-never",		no_argument,	   NULL, OPT_OMIT_NEVER },
	{ "run-on-success",	required_argument, NULL, OPT_HOOK_SUCCESS },
	{ "run-on-fail-temp",	required_argument, NULL, OPT_HOOK_FAIL_TEMP },
	{ "run-on-fail-env",	required_argument, NULL, OPT_HOOK_FAIL_ENV },
	{ "run-on-fail-args",	required_argument, NULL, OPT_HOOK_FAIL_ARGS },
	{ "run-on-fail-perm",	required_argument, NULL, OPT_HOOK_FAIL_PERM },
	{ "run-on-failure",	required_argument, NULL, OPT_HOOK_FAILURE },
	{ "relocate",		required_argument, NULL, OPT_RELOCATE },
	{ "kmsg-none",		no_argument,	   NULL, OPT_KMSG_NONE },
	{ "kmsg-error",		no_argument,	   NULL, OPT_KMSG_ERROR },
	{ "kmsg-warning",	no_argument,	   NULL, OPT_KMSG_WARNING },
	{ "restore-pid",	no_argument,	   NULL, OPT_RESTORE_PID },
	{ "no-restore-pid",	no_argument,	   NULL, OPT_NO_RESTORE_PID },
	{ "restore-pgid",	no_argument,	   NULL, OPT_RESTORE_PGID },
	{ "no-restore-pgid",	no_argument,	   NULL, OPT_NO_RESTORE_PGID },
	{ "restore-sid",	no_argument,	   NULL, OPT_RESTORE_SID },
	{ "no-restore-sid",	no_argument,	   NULL, OPT_NO_RESTORE_SID },
	{ "verify-key",		required_argument, NULL, OPT_VERIFY_KEY },
	{ }
};

enum hook { HOOK_SUCCESS, HOOK_FAIL_TEMP, HOOK_FAIL_ENV, HOOK_FAIL_ARGS,
	    HOOK_FAIL_PERM, NR_HOOKS };
static const char *hooks[NR_HOOKS];
/* The signal mask to give the hooks: cr_restart's own at start. */
static sigset_t orig_mask;

/* system(3), but the command gets cr_restart's original signal mask. */
static int run_hook(enum hook h)
{
	const char *cmd = hooks[h];
	int status;
	pid_t pid;

	if (!cmd || !*cmd)
		return 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1 & 0xff;
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &orig_mask, NULL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 255;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* BLCR's die(): the hook decides the exit code if it fails. */
static int die(int code, enum hook h, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int die(int code, enum hook h, const char *fmt, ...)
{
	int hv = run_hook(h);
	va_list ap;

	if (hv)
		return hv;
	if (!blcr_quiet) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int rst_usage(FILE *f, bool fail)
{
	if (fail) {
		int hv = run_hook(HOOK_FAIL_ARGS);

		if (hv)
			return hv;
	}
	if (f == stdout || !blcr_quiet)
		fputs(rst_usage_text, f);
	return fail ? 255 : 0;
}

static void strip_trailing_slashes(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
}

int blcr_parse_reloc(const char *arg, char **from, char **to,
		     char *err, unsigned long errlen)
{
	char *old = strdup(arg), *new = NULL, *p;

	if (!old) {
		snprintf(err, errlen, "Out of memory");
		return -1;
	}
	for (p = old; *p; p++) {
		if (*p == '\\') {
			if (p[1] == '\\' || p[1] == '=')
				memmove(p, p + 1, strlen(p + 1) + 1);
			/* a '\' before anything else stands for itself */
		} else if (*p == '=') {
			if (new) {
				snprintf(err, errlen,
					 "Relocation argument '%s' contains multiple unescaped '=' characters.",
					 arg);
				free(old);
				return -1;
			}
			*p = 0;
			new = p + 1;
		}
	}
	if (!new) {
		snprintf(err, errlen,
			 "Relocation argument '%s' contains no unescaped '=' characters.", arg);
		free(old);
		return -1;
	}
	if (old[0] != '/' || new[0] != '/') {
		snprintf(err, errlen,
			 "Relocation paths must begin with '/', but have '%s'", arg);
		free(old);
		return -1;
	}
	strip_trailing_slashes(old);
	strip_trailing_slashes(new);
	if (!strcmp(old, new)) {
		free(old);
		return 0;
	}
	*from = old;
	*to = strdup(new);
	if (!*to) {
		free(old);
		snprintf(err, errlen, "Out of memory");
		return -1;
	}
	return 1;
}

static pid_t child;

static void signal_child(int sig, siginfo_t *si, void *uc);

/* Take sig as if we had no handler, then handle it again. */
static void signal_self(int sig)
{
	struct sigaction sa = { .sa_handler = SIG_DFL, .sa_flags = SA_RESTART | SA_NODEFER };
	sigset_t s;

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	raise(sig);
	sa.sa_handler = NULL;
	sa.sa_sigaction = signal_child;
	sa.sa_flags = SA_RESTART | SA_NODEFER | SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

/* Every signal but SIGCHLD goes on to the restored root. */
static void signal_child(int sig, siginfo_t *si, void *uc)
{
	int e = errno;

	if (si->si_code > 0 &&
	    (sig == SIGILL || sig == SIGFPE || sig == SIGBUS || sig == SIGSEGV)) {
		signal_self(sig);	/* our own fault: not the child's */
	} else if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
		if (child > 0)
			kill(child, sig);
		signal_self(sig);	/* stop with it, like a shell's job */
	} else if (child > 0) {
		kill(child, sig);
	}
	errno = e;
}

static void forward_signals(void)
{
	struct sigaction sa = { .sa_sigaction = signal_child,
				.sa_flags = SA_RESTART | SA_NODEFER | SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGCHLD || sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigaction(sig, &sa, NULL);	/* best effort (glibc's own fail) */
	}
}

/* Exit like the child did: same code, or the same signal, without core. */
static int mimic_exit(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		struct rlimit r = { 0, 0 };
		struct sigaction sa = { .sa_handler = SIG_DFL };
		int sig = WTERMSIG(status);
		sigset_t s;

		setrlimit(RLIMIT_CORE, &r);
		sigemptyset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise(sig);
		/* Still here: a signal whose default is to ignore or stop. */
		return 128 + sig;
	}
	blcr_say("cr_restart: Unexpected status from child\n");
	return 255;
}

/* BLCR's classes of failure. */
static enum hook failure_hook(int err)
{
	switch (err) {
	case ENOMEM:
	case EBUSY:
		return HOOK_FAIL_TEMP;
	case EACCES:
	case EPERM:
	case ENOENT:
	case EEXIST:
	case EISDIR:
	case ENOTDIR:
		return HOOK_FAIL_ENV;
	default:
		return HOOK_FAIL_PERM;
	}
}

/* The restored root's PID, from the pid file crest restore writes. */
static pid_t read_pidfile(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = -1;

	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

int cr_restart_main(int argc, char **argv)
{
	enum { SRC_DEFAULT, SRC_FILE, SRC_DIR, SRC_FD } src = SRC_DEFAULT;
	char pidfile[] = "/tmp/.cr_restart-pid-XXXXXX";
	int nverbose = 0, kmsg = KMSG_ERROR, c, ret, err, status, fd;
	struct options o;
	struct tty_modes *modes;
	sigset_t all;
	char msg[512];
	long v;

	opts_defaults(&o);
	o.cmd = CMD_RESTORE;
	o.after_restore = AFTER_RUN;
	o.restore_pid = true;
	o.restore_pgid = false;
	o.restore_sid = false;
	sigprocmask(SIG_SETMASK, NULL, &orig_mask);

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qvhS:F:d:f:", rst_opts, NULL)) != -1) {
		switch (c) {
		case 'f':
		case 'd':
		case 'F':
			if (src != SRC_DEFAULT)
				return die(EINVAL, HOOK_FAIL_ARGS,
					   "multiple source arguments specified\n");
			if (c == 'f') {
				src = SRC_FILE;
				o.file = optarg;
			} else if (c == 'd') {
				src = SRC_DIR;
				o.dir = optarg;
			} else {
				src = SRC_FD;
				if (!blcr_read_int(optarg, &v))
					return rst_usage(stderr, true);
				if (v < 0 || v > (1 << 30))
					return die(EINVAL, HOOK_FAIL_ARGS,
						   "FD argument must be a non-negative integer (%ld was given)\n",
						   v);
				o.fd = v;
			}
			break;
		case 'S':
			if (!blcr_read_int(optarg, &v))
				return rst_usage(stderr, true);
			if (v <= 0 || v >= _NSIG)
				return die(EINVAL, HOOK_FAIL_ARGS,
					   "Valid signal numbers are from 1 to %d, inclusive.\n",
					   _NSIG - 1);
			o.after_restore = AFTER_SIGNAL;
			o.after_restore_signal = v;
			break;
		case OPT_RUN:		o.after_restore = AFTER_RUN; break;
		case OPT_STOP:
		case OPT_EARLY_STOP:	o.after_restore = AFTER_STOP; break;
		case OPT_TERM:		o.after_restore = AFTER_TERM; break;
		case OPT_KILL:		o.after_restore = AFTER_KILL; break;
		case OPT_ABORT:
		case OPT_EARLY_ABRT:	o.after_restore = AFTER_ABORT; break;
		case OPT_CONT:		o.after_restore = AFTER_CONT; break;
		case OPT_OMIT_MAYBE:
		case OPT_OMIT_ALWAYS:
		case OPT_OMIT_NEVER:
			/* cr_restart is never part of the restored job. */
			break;
		case OPT_HOOK_SUCCESS:	 hooks[HOOK_SUCCESS] = optarg; break;
		case OPT_HOOK_FAIL_TEMP: hooks[HOOK_FAIL_TEMP] = optarg; break;
		case OPT_HOOK_FAIL_ENV:	 hooks[HOOK_FAIL_ENV] = optarg; break;
		case OPT_HOOK_FAIL_ARGS: hooks[HOOK_FAIL_ARGS] = optarg; break;
		case OPT_HOOK_FAIL_PERM: hooks[HOOK_FAIL_PERM] = optarg; break;
		case OPT_HOOK_FAILURE:
			hooks[HOOK_FAIL_TEMP] = hooks[HOOK_FAIL_ENV] =
				hooks[HOOK_FAIL_ARGS] = hooks[HOOK_FAIL_PERM] = optarg;
			break;
		case OPT_RELOCATE: {
			char *from, *to;
			int r = blcr_parse_reloc(optarg, &from, &to, msg, sizeof(msg));

			if (r < 0)
				return die(EINVAL, HOOK_FAIL_ARGS, "%s\n", msg);
			if (r == 0)
				break;
			if (o.nr_relocs >= MAX_RELOCS)
				return die(EINVAL, HOOK_FAIL_ARGS,
					   "Too many relocations (max is %d).\n", MAX_RELOCS);
			o.relocs[o.nr_relocs].from = from;
			o.relocs[o.nr_relocs].to = to;
			o.nr_relocs++;
			break;
		}
		case OPT_KMSG_NONE:	kmsg = KMSG_NONE; break;
		case OPT_KMSG_ERROR:	kmsg = KMSG_ERROR; break;
		case OPT_KMSG_WARNING:	kmsg = KMSG_WARNING; break;
		case OPT_RESTORE_PID:	o.restore_pid = true; break;
		case OPT_NO_RESTORE_PID: o.restore_pid = false; break;
		case OPT_RESTORE_PGID:	o.restore_pgid = true; break;
		case OPT_NO_RESTORE_PGID: o.restore_pgid = false; break;
		case OPT_RESTORE_SID:	o.restore_sid = true; break;
		case OPT_NO_RESTORE_SID: o.restore_sid = false; break;
		case OPT_VERIFY_KEY:	o.verify_key = optarg; break;
		case 'q':	blcr_quiet = true; break;
		case 'v':
			printf("cr_restart version %s\n", blcr_version);
			return 0;
		case '?':
			if (optopt != '?')
				return rst_usage(stderr, true);
			return rst_usage(stdout, false);	/* -? */
		case 'h':
			return rst_usage(stdout, false);
		default:
			return rst_usage(stderr, true);
		}
	}
	if (src == SRC_DEFAULT) {
		if (argc - optind != 1)
			return rst_usage(stderr, true);
		o.file = argv[optind];
		src = SRC_FILE;
	} else if (argc != optind) {
		return rst_usage(stderr, true);
	}
	(void)nverbose;

	/* A source that can't be read is a bad argument, not a bad image. */
	switch (src) {
	case SRC_FILE:
		fd = open(o.file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = errno;
			return die(err, HOOK_FAIL_ARGS, "Failed to open(%s, O_RDONLY): %s\n",
				   o.file, strerror(err));
		}
		close(fd);
		break;
	case SRC_DIR: {
		struct stat st;

		if (stat(o.dir, &st) || !S_ISDIR(st.st_mode)) {
			err = errno ? errno : ENOTDIR;
			if (!stat(o.dir, &st))
				err = ENOTDIR;
			return die(err, HOOK_FAIL_ARGS, "Failed to open directory %s: %s\n",
				   o.dir, strerror(err));
		}
		break;
	}
	case SRC_FD:
		if (fcntl(o.fd, F_GETFL) < 0 || (fcntl(o.fd, F_GETFL) & O_ACCMODE) == O_WRONLY) {
			err = errno ? errno : EBADF;
			return die(EBADF, HOOK_FAIL_ARGS, "Failed to read fd %d: %s\n",
				   o.fd, strerror(EBADF));
		}
		break;
	default:
		break;
	}

	o.quiet = blcr_quiet;
	o.verbosity = blcr_msg_level(nverbose, kmsg, blcr_quiet);
	log_set_prefix("cr_restart");
	if (log_init(NULL, o.verbosity))
		return EINVAL;

	/*
	 * crest restore stays the parent of the root but passes on only
	 * SIGINT, SIGTERM and SIGHUP: run it detached, which leaves the root
	 * our child, learn the root's PID from its pid file, and do BLCR's
	 * waiting and forwarding here. Signals wait until then.
	 */
	fd = mkstemp(pidfile);
	if (fd < 0)
		return die(errno, failure_hook(errno), "Restart failed: can't create %s: %s\n",
			   pidfile, strerror(errno));
	close(fd);
	o.pidfile = pidfile;
	o.detach = true;
	o.caller_waits = true;
	modes = tty_modes_keep();
	sigfillset(&all);
	sigdelset(&all, SIGCHLD);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	sigprocmask(SIG_BLOCK, &all, NULL);

	ret = cr_restore(&o);
	child = read_pidfile(pidfile);
	unlink(pidfile);
	if (ret != EXIT_OK) {
		err = blcr_exit_errno(ret);
		return die(err, failure_hook(err), "Restart failed: %s\n", strerror(err));
	}

	ret = run_hook(HOOK_SUCCESS);
	if (ret)
		return ret;
	if (child <= 0)
		return 0;

	forward_signals();
	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	while (waitpid(child, &status, __WALL) < 0) {
		if (errno == EINTR)
			continue;
		tty_modes_put_back(modes);
		if (errno == ECHILD)	/* not ours (any more) */
			return 0;
		return die(errno, HOOK_FAIL_PERM, "waitpid(%d): %s\n", child,
			   strerror(errno));
	}
	/* The terminal as cr_restart found it, like crest restore. */
	tty_modes_put_back(modes);
	return mimic_exit(status);
}

