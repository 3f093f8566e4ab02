/* crest's command line: one option table per subcommand. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "pstree.h"

static const char usage_text[] =
"usage: crest COMMAND [OPTIONS]\n"
"\n"
"Checkpoint a running process tree into image files and restore it later.\n"
"\n"
"commands:\n"
"  dump -t PID [-D DIR] [AFTER] [-v[N]] [-o LOG]\n"
"        checkpoint process PID and its descendants into DIR (default: the\n"
"        current directory), then kill them (or see AFTER below)\n"
"  restore [-D DIR] [-d] [-v[N]] [-o LOG]\n"
"        restore the processes saved in DIR with their PIDs; wait for the\n"
"        root and exit with its status, or detach at once with -d\n"
"  show PATH\n"
"        print an image file, a context file, or every image of a directory,\n"
"        as JSON\n"
"  pre-dump -t PID -D DIR [--prev-images-dir PREV]\n"
"        copy the memory of PID and its descendants into DIR, let them run\n"
"        on and track what they write, so that a later dump with\n"
"        --prev-images-dir saves only what changed (the tree is frozen for\n"
"        the copy)\n"
"  verify [DIR | FILE] [-D DIR] [--file FILE] [--verify-key KEY]\n"
"        check a checkpoint without restoring it: the identity of the set,\n"
"        every header, record and checksum of pages (with --verify-key, its\n"
"        signature); every problem is listed (exit 0: no damage, 3: damaged\n"
"        or incomplete)\n"
"  swrk FD\n"
"        serve CRIU's RPC (criu_req/criu_resp of rpc.proto) on the socket FD,\n"
"        as runc and other runtimes drive 'criu swrk FD': DUMP, PRE_DUMP,\n"
"        RESTORE, CHECK, VERSION, FEATURE_CHECK\n"
"  page-server -D DIR --port PORT [--address ADDR]\n"
"        receive the pages of one dump (dump --page-server) over TCP into\n"
"        DIR, then exit (0 once the dump committed them; a dump that fails\n"
"        leaves nothing there)\n"
"  dedup [-D DIR]\n"
"        the earlier dumps of the chain ending in DIR give back the room of\n"
"        the pages DIR's dump holds anew (holes punched); from then on only\n"
"        DIR's dump restores them (CRIU's dedup)\n"
"  check [--json]\n"
"        report the kernel features crest relies on; non-zero if one is missing\n"
"\n"
"Each command's options: crest COMMAND --help; all of them below.\n"
"\n"
"exit status: 0 success, 1 failure, 2 usage, 3 bad or missing images\n"
"(restore, show, verify), 4 busy (restore: a PID in use or a file lock held;\n"
"dump: a traced task),\n"
"5 (dump) something crest can't save, or crest itself or PID 1,\n"
"6 (restore) a missing or changed file.\n"
"restore without -d exits with the restored root's status\n"
"(128+N if it was killed by signal N).\n";


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

enum {
	OPT_PID = 256, OPT_PGID, OPT_SID, OPT_KILL, OPT_STOP, OPT_TERM,
	OPT_ABORT, OPT_CONT, OPT_RESTORE_PID, OPT_NO_RESTORE_PID,
	OPT_RESTORE_SID, OPT_NO_RESTORE_SID, OPT_RESTORE_PGID,
	OPT_NO_RESTORE_PGID, OPT_SHELL_JOB, OPT_PIDFILE, OPT_FILE, OPT_NOSYNC,
	OPT_FREEZE_CGROUP, OPT_CHECK_ONLY, OPT_TRUST_IMAGES, OPT_STATUS_FD,
	OPT_JSON, OPT_EXT_UNIX_SK, OPT_SIGN_KEY, OPT_VERIFY_KEY,
	OPT_PREV_DIR, OPT_TRACK_MEM, OPT_TCP_ESTABLISHED, OPT_TCP_CLOSE,
	OPT_PROGRESS, OPT_NO_PROGRESS, OPT_COMPRESS, OPT_LAZY_PAGES,
	OPT_PTRACED_ERROR, OPT_PTRACED_SKIP, OPT_PTRACED_ALLOW,
	OPT_PTRACER_ERROR, OPT_PTRACER_SKIP, OPT_NETWORK_LOCK, OPT_EXTERNAL,
	OPT_EVASIVE_DEVICES, OPT_PAGE_SERVER, OPT_ADDRESS, OPT_PORT, OPT_AUTO_DEDUP,
	OPT_CGROUP_ROOT, OPT_ROOT, OPT_INHERIT_FD, OPT_MANAGE_CGROUPS,
	OPT_SKIP_IN_FLIGHT,
};

static const struct option long_opts[] = {
	{ "tree",		required_argument, NULL, 't' },
	{ "pid",		required_argument, NULL, OPT_PID },
	{ "pgid",		required_argument, NULL, OPT_PGID },
	{ "sid",		required_argument, NULL, OPT_SID },
	{ "images-dir",		required_argument, NULL, 'D' },
	{ "leave-running",	no_argument,	   NULL, 'R' },
	{ "run",		no_argument,	   NULL, 'R' },
	{ "kill",		no_argument,	   NULL, OPT_KILL },
	{ "stop",		no_argument,	   NULL, OPT_STOP },
	{ "term",		no_argument,	   NULL, OPT_TERM },
	{ "abort",		no_argument,	   NULL, OPT_ABORT },
	{ "cont",		no_argument,	   NULL, OPT_CONT },
	{ "signal",		required_argument, NULL, 'S' },
	{ "restore-detached",	no_argument,	   NULL, 'd' },
	{ "restore-pid",	no_argument,	   NULL, OPT_RESTORE_PID },
	{ "no-restore-pid",	no_argument,	   NULL, OPT_NO_RESTORE_PID },
	{ "restore-sid",	no_argument,	   NULL, OPT_RESTORE_SID },
	{ "no-restore-sid",	no_argument,	   NULL, OPT_NO_RESTORE_SID },
	{ "restore-pgid",	no_argument,	   NULL, OPT_RESTORE_PGID },
	{ "no-restore-pgid",	no_argument,	   NULL, OPT_NO_RESTORE_PGID },
	{ "shell-job",		no_argument,	   NULL, 'j' },
	{ "pidfile",		required_argument, NULL, OPT_PIDFILE },
	{ "file",		required_argument, NULL, OPT_FILE },
	{ "nosync",		no_argument,	   NULL, OPT_NOSYNC },
	{ "compress",		no_argument,	   NULL, OPT_COMPRESS },
	{ "freeze-cgroup",	required_argument, NULL, OPT_FREEZE_CGROUP },
	{ "file-locks",		no_argument,	   NULL, 'l' },
	{ "check-only",		no_argument,	   NULL, OPT_CHECK_ONLY },
	{ "trust-images",	no_argument,	   NULL, OPT_TRUST_IMAGES },
	{ "ext-unix-sk",	optional_argument, NULL, OPT_EXT_UNIX_SK },
	{ "tcp-established",	no_argument,	   NULL, OPT_TCP_ESTABLISHED },
	{ "tcp-close",		no_argument,	   NULL, OPT_TCP_CLOSE },
	{ "skip-in-flight",	no_argument,	   NULL, OPT_SKIP_IN_FLIGHT },
	{ "network-lock",	required_argument, NULL, OPT_NETWORK_LOCK },
	{ "external",		required_argument, NULL, OPT_EXTERNAL },
	{ "evasive-devices",	no_argument,	   NULL, OPT_EVASIVE_DEVICES },
	{ "cgroup-root",	required_argument, NULL, OPT_CGROUP_ROOT },
	{ "inherit-fd",		required_argument, NULL, OPT_INHERIT_FD },
	{ "manage-cgroups",	optional_argument, NULL, OPT_MANAGE_CGROUPS },
	{ "root",		required_argument, NULL, OPT_ROOT },
	{ "sign-key",		required_argument, NULL, OPT_SIGN_KEY },
	{ "verify-key",		required_argument, NULL, OPT_VERIFY_KEY },
	{ "verbosity",		optional_argument, NULL, 'v' },
	{ "status-fd",		required_argument, NULL, OPT_STATUS_FD },
	{ "prev-images-dir",	required_argument, NULL, OPT_PREV_DIR },
	{ "track-mem",		no_argument,	   NULL, OPT_TRACK_MEM },
	{ "lazy-pages",		no_argument,	   NULL, OPT_LAZY_PAGES },
	{ "json",		no_argument,	   NULL, OPT_JSON },
	{ "page-server",	no_argument,	   NULL, OPT_PAGE_SERVER },
	{ "auto-dedup",		no_argument,	   NULL, OPT_AUTO_DEDUP },
	{ "address",		required_argument, NULL, OPT_ADDRESS },
	{ "port",		required_argument, NULL, OPT_PORT },
	{ "progress",		no_argument,	   NULL, OPT_PROGRESS },
	{ "no-progress",	no_argument,	   NULL, OPT_NO_PROGRESS },
	{ "ptraced-error",	no_argument,	   NULL, OPT_PTRACED_ERROR },
	{ "ptraced-skip",	no_argument,	   NULL, OPT_PTRACED_SKIP },
	{ "ptraced-allow",	no_argument,	   NULL, OPT_PTRACED_ALLOW },
	{ "ptracer-error",	no_argument,	   NULL, OPT_PTRACER_ERROR },
	{ "ptracer-skip",	no_argument,	   NULL, OPT_PTRACER_SKIP },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "log-file",		required_argument, NULL, 'o' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ }
};

/*
 * Which options each command takes: the parser accepts these and nothing
 * else, and crest COMMAND --help is made of them, each with its line of
 * opt_help[] (a unit test checks that every one has its line).
 */
static const int dump_opts[] = { 't', OPT_PID, OPT_PGID, OPT_SID, OPT_FREEZE_CGROUP,
	'D', OPT_FILE, OPT_COMPRESS, OPT_NOSYNC, OPT_SIGN_KEY, 'l', OPT_EXT_UNIX_SK,
	OPT_PREV_DIR, OPT_TRACK_MEM, OPT_AUTO_DEDUP, OPT_TRUST_IMAGES, OPT_PAGE_SERVER,
	OPT_ADDRESS, OPT_PORT, OPT_TCP_ESTABLISHED, OPT_SKIP_IN_FLIGHT, OPT_NETWORK_LOCK, 'j', OPT_EXTERNAL, OPT_CHECK_ONLY, OPT_MANAGE_CGROUPS,
	OPT_PTRACED_ERROR, OPT_PTRACED_SKIP, OPT_PTRACED_ALLOW,
	OPT_PTRACER_ERROR, OPT_PTRACER_SKIP,
	OPT_KILL, 'R', OPT_STOP, OPT_TERM, OPT_ABORT, OPT_CONT, 'S',
	OPT_PROGRESS, OPT_NO_PROGRESS, 0 };
static const int pre_dump_opts[] = { 't', OPT_PID, OPT_PGID, OPT_SID, OPT_FREEZE_CGROUP,
	'D', OPT_COMPRESS, OPT_NOSYNC, OPT_SIGN_KEY, OPT_PREV_DIR, OPT_TRACK_MEM,
	OPT_AUTO_DEDUP, OPT_TRUST_IMAGES, OPT_PAGE_SERVER, OPT_ADDRESS, OPT_PORT, OPT_PROGRESS,
	OPT_NO_PROGRESS, 0 };
static const int page_server_opts[] = { 'D', OPT_ADDRESS, OPT_PORT, OPT_LAZY_PAGES,
	OPT_STATUS_FD, OPT_NOSYNC, 0 };
static const int restore_opts[] = { 'D', OPT_FILE, 'd', OPT_TRUST_IMAGES, OPT_VERIFY_KEY,
	OPT_RESTORE_PID, OPT_NO_RESTORE_PID, OPT_RESTORE_SID, OPT_NO_RESTORE_SID,
	OPT_RESTORE_PGID, OPT_NO_RESTORE_PGID, 'j', OPT_PIDFILE, OPT_STATUS_FD, 'l',
	OPT_CHECK_ONLY, OPT_EXT_UNIX_SK, OPT_TCP_ESTABLISHED, OPT_TCP_CLOSE,
	OPT_NETWORK_LOCK, OPT_EXTERNAL, OPT_EVASIVE_DEVICES, OPT_CGROUP_ROOT, OPT_MANAGE_CGROUPS,
	OPT_ROOT, OPT_INHERIT_FD, OPT_LAZY_PAGES, OPT_PAGE_SERVER, OPT_ADDRESS, OPT_PORT, OPT_PROGRESS, OPT_NO_PROGRESS, 0 };
static const int dedup_opts[] = { 'D', OPT_TRUST_IMAGES, 0 };
static const int verify_opts[] = { 'D', OPT_FILE, OPT_VERIFY_KEY, 0 };
static const int check_opts[] = { OPT_JSON, 0 };
static const int no_opts[] = { 0 };
static const int common_opts[] = { 'v', 'q', 'o', 'h', 'V', 0 };

static const int *cmd_opts(enum crest_cmd cmd)
{
	switch (cmd) {
	case CMD_DUMP:		return dump_opts;
	case CMD_PRE_DUMP:	return pre_dump_opts;
	case CMD_RESTORE:	return restore_opts;
	case CMD_VERIFY:	return verify_opts;
	case CMD_CHECK:		return check_opts;
	case CMD_PAGE_SERVER:	return page_server_opts;
	case CMD_DEDUP:		return dedup_opts;
	default:		return no_opts;
	}
}

static int opt_applies(enum crest_cmd cmd, int c)
{
	for (const int *l = common_opts; *l; l++)
		if (*l == c)
			return 1;
	for (const int *l = cmd_opts(cmd); *l; l++)
		if (*l == c)
			return 1;
	return 0;
}

#define C(x)	(1u << CMD_##x)
#define C_ALL	(~0u)

static const struct opt_help {
	unsigned cmds;		/* C(DUMP) | ...: the commands it says this for */
	int val;
	const char *arg;	/* its argument, or NULL */
	const char *text;	/* lines after the first indented by 28 */
} opt_help[] = {
	{ C(DUMP) | C(PRE_DUMP), 't', "PID", "the process and all its descendants (default scope)" },
	{ C(DUMP) | C(PRE_DUMP), OPT_PID, "PID", "that one process only" },
	{ C(DUMP) | C(PRE_DUMP), OPT_PGID, "PGID", "every process of a process group" },
	{ C(DUMP) | C(PRE_DUMP), OPT_SID, "SID", "every process of a session" },
	{ C(DUMP) | C(PRE_DUMP), OPT_FREEZE_CGROUP, "PATH",
	  "freeze this cgroup (v1 freezer or v2, holding the\n"
	  "tree) while the processes are seized; without it\n"
	  "a tree that never settles is frozen by its own\n"
	  "cgroup if that holds nothing else" },
	{ C(DUMP) | C(PRE_DUMP), 'D', "DIR", "where the images go (default .)" },
	{ C(RESTORE) | C(VERIFY), 'D', "DIR", "where the images are (default .); with --file,\n"
	  "where the stream's --prev-images-dir is" },
	{ C(PAGE_SERVER), 'D', "DIR", "where the pages images go (default .)" },
	{ C(DEDUP), 'D', "DIR", "the last dump of the chain (default .)" },
	{ C(DUMP) | C(PRE_DUMP), OPT_AUTO_DEDUP, NULL,
	  "with --prev-images-dir: once the dump is in, its\n"
	  "chain's earlier dumps give back the room of the\n"
	  "pages it holds anew (crest dedup)" },
	{ C(DUMP) | C(PRE_DUMP), OPT_PAGE_SERVER, NULL,
	  "send the pages images (pages-PID.img) to a crest\n"
	  "page-server at --address and --port, as CRIU's;\n"
	  "the other images go to DIR" },
	{ C(DUMP) | C(PRE_DUMP), OPT_ADDRESS, "ADDR", "the page server's address (--page-server)" },
	{ C(DUMP) | C(PRE_DUMP), OPT_PORT, "PORT", "the page server's port (--page-server)" },
	{ C(PAGE_SERVER), OPT_ADDRESS, "ADDR",
	  "listen on this address only (default: every\n"
	  "IPv4 address)" },
	{ C(PAGE_SERVER), OPT_PORT, "PORT",
	  "listen on this TCP port (0: one the kernel picks,\n"
	  "printed on stdout)" },
	{ C(PAGE_SERVER), OPT_STATUS_FD, "FD",
	  "write a zero byte to FD and close it once it\n"
	  "listens (CRIU's readiness signal)" },
	{ C(PAGE_SERVER), OPT_NOSYNC, NULL, "don't fsync the pages images" },
	{ C(PAGE_SERVER), OPT_LAZY_PAGES, NULL,
	  "serve the pages images in DIR to one restore\n"
	  "--lazy-pages --page-server instead (their SHA-256\n"
	  "checked beside), then exit" },
	{ C(RESTORE), OPT_PAGE_SERVER, NULL,
	  "with --lazy-pages: the pages images the dump sent\n"
	  "to a page server are read from a crest page-server\n"
	  "--lazy-pages at --address and --port (what the\n"
	  "restorers read at once first, the rest on demand)" },
	{ C(RESTORE), OPT_ADDRESS, "ADDR", "the page server's address (--page-server)" },
	{ C(RESTORE), OPT_PORT, "PORT", "the page server's port (--page-server)" },
	{ C(DUMP), OPT_FILE, "FILE",
	  "all images in one context file instead ('-':\n"
	  "stdout), written beside and renamed when complete" },
	{ C(RESTORE), OPT_FILE, "FILE", "restore from a context file ('-': stdin)" },
	{ C(VERIFY), OPT_FILE, "FILE", "check a context file ('-': stdin)" },
	{ C(DUMP) | C(PRE_DUMP), OPT_COMPRESS, NULL,
	  "compress the images in the --file stream, or the\n"
	  "pages images of DIR run by run (zstd, two\n"
	  "threads); restore finds it out by itself" },
	{ C(DUMP) | C(PRE_DUMP), OPT_NOSYNC, NULL, "don't fsync the images" },
	{ C(DUMP) | C(PRE_DUMP), OPT_SIGN_KEY, "FILE",
	  "sign the images: an HMAC-SHA256 keyed with FILE's\n"
	  "bytes (32 or more random ones, mode 0600)" },
	{ C(RESTORE), OPT_VERIFY_KEY, "FILE",
	  "restore only images signed with this key\n"
	  "(dump --sign-key): refuse unsigned or changed ones" },
	{ C(VERIFY), OPT_VERIFY_KEY, "FILE", "check the signature too (dump --sign-key)" },
	{ C(DUMP), 'l', NULL,
	  "accepted for CRIU's callers: file locks and\n"
	  "leases are always saved" },
	{ C(RESTORE), 'l', NULL,
	  "accepted for CRIU's callers: file locks and\n"
	  "leases are always restored" },
	{ C(DUMP), OPT_EXT_UNIX_SK, "INO,...",
	  "allow unix sockets connected to a bound socket\n"
	  "outside the tree (all, or those whose inode or\n"
	  "whose peer's is listed): connected again to the\n"
	  "same name at restore" },
	{ C(RESTORE), OPT_EXT_UNIX_SK, NULL,
	  "accepted for CRIU's callers: the images say\n"
	  "which sockets to connect outside" },
	{ C(DUMP) | C(PRE_DUMP), OPT_PREV_DIR, "PREV",
	  "the pre-dump this one follows (relative to DIR,\n"
	  "or absolute): only pages written since are saved,\n"
	  "the others are read from PREV at restore" },
	{ C(DUMP) | C(PRE_DUMP), OPT_TRACK_MEM, NULL,
	  "accepted for CRIU's callers: a pre-dump always\n"
	  "tracks, a dump with --prev-images-dir uses it" },
	{ C(DUMP), OPT_TCP_ESTABLISHED, NULL,
	  "save established TCP connections (TCP_REPAIR:\n"
	  "sequence numbers, queues, options, window); with\n"
	  "--kill they are closed in repair mode, silently" },
	{ C(RESTORE), OPT_TCP_ESTABLISHED, NULL,
	  "accepted for CRIU's callers: the images hold\n"
	  "the connections" },
	{ C(DUMP), OPT_SKIP_IN_FLIGHT, NULL,
	  "a listening TCP socket's connections not yet\n"
	  "accepted are dropped, not refused: the restored\n"
	  "listener's queue is empty, their clients get a\n"
	  "reset and connect again (CRIU's)" },
	{ C(DUMP), OPT_NETWORK_LOCK, "bpf|skip",
	  "bpf (the default): a dumped TCP connection's\n"
	  "packets are dropped from its read till the\n"
	  "restore (a BPF program on tcx); skip: no lock\n"
	  "(CRIU's iptables and nftables are refused)" },
	{ C(RESTORE), OPT_NETWORK_LOCK, "bpf|skip",
	  "bpf (the default): the connections are locked\n"
	  "while they are made again; skip: not; either\n"
	  "way the dump's lock goes once the tree is made" },
	{ C(DUMP), OPT_EXTERNAL, "mnt[MP]:NAME",
	  "the bind mount at MP of the tree's mount\n"
	  "namespace is the caller's: saved as NAME, not\n"
	  "looked into (CRIU's; repeatable)" },
	{ C(RESTORE), OPT_EXTERNAL, "mnt[NAME]:PATH",
	  "bind PATH where the mount saved as NAME was\n"
	  "(CRIU's; repeatable)" },
	{ C(RESTORE), OPT_INHERIT_FD, "fd[N]:KEY",
	  "crest's fd N is the restored tree's file that\n"
	  "led outside whose key was KEY ('pipe:[INO]',\n"
	  "the fd's link at the dump); a KEY matching no\n"
	  "such file is ignored (CRIU's; repeatable)" },
	{ C(RESTORE), OPT_CGROUP_ROOT, "[CTRL:]PATH",
	  "put the tree where the first root's cgroup of\n"
	  "CTRL's hierarchy (all, without CTRL) was, at PATH;\n"
	  "the others below it likewise (CRIU's)" },
	{ C(DUMP), OPT_MANAGE_CGROUPS, "[MODE]",
	  "ignore: save no cgroup properties; any other\n"
	  "mode saves them (CRIU's)" },
	{ C(RESTORE), OPT_MANAGE_CGROUPS, "[MODE]",
	  "the tree's cgroups (CRIU's): soft (the default)\n"
	  "makes the missing ones with their properties,\n"
	  "full sets them on all, strict makes them all,\n"
	  "none and props need them there (props sets\n"
	  "them), ignore leaves the tree in crest's" },
	{ C(RESTORE), OPT_ROOT, "DIR",
	  "the root filesystem of a container: a mount\n"
	  "namespace whose root was a directory bound there\n"
	  "and pivot_root'ed into gets DIR bound as its root\n"
	  "(CRIU's; needed for such images, refused else)" },
	{ C(RESTORE), OPT_EVASIVE_DEVICES, NULL,
	  "an fd the tree held of a device node on a mount\n"
	  "made in its mount namespace (a container's\n"
	  "/dev/null) is opened as crest's node of that path\n"
	  "and device (CRIU's; refused without it)" },
	{ C(RESTORE), OPT_TCP_CLOSE, NULL,
	  "the TCP connections of the images come back\n"
	  "closed (not connected: ENOTCONN), as CRIU's" },
	{ C(DUMP), 'j', NULL,
	  "a job of the terminal crest runs on: its fds on\n"
	  "that terminal above 2 and /dev/tty are saved as\n"
	  "the job's terminal, with its modes" },
	{ C(RESTORE), 'j', NULL,
	  "the default: attach the job to crest's session,\n"
	  "group and terminal (its terminal's fds above 2\n"
	  "and /dev/tty become crest's, with its modes)" },
	{ C(DUMP), OPT_CHECK_ONLY, NULL,
	  "seize the processes, list everything crest can't\n"
	  "save in them, let them go on; write no image\n"
	  "(exit 0: they can be checkpointed, 5: they can't)" },
	{ C(RESTORE), OPT_CHECK_ONLY, NULL,
	  "check everything the restore needs here (PIDs,\n"
	  "files, CPU, kernel, cgroups), list every problem,\n"
	  "create nothing (exit 0: it can be restored)" },
	{ C(DUMP), OPT_PTRACED_ERROR, NULL,
	  "a process of the scope traced by another process\n"
	  "(a debugger) fails the dump (the default)" },
	{ C(DUMP), OPT_PTRACED_SKIP, NULL,
	  "... is left out, with its descendants (BLCR's)" },
	{ C(DUMP), OPT_PTRACED_ALLOW, NULL,
	  "... is tried (it fails: a process has one tracer)" },
	{ C(DUMP), OPT_PTRACER_ERROR, NULL,
	  "a process of the scope tracing one outside it\n"
	  "fails the dump (the default)" },
	{ C(DUMP), OPT_PTRACER_SKIP, NULL, "... is left out, with its descendants" },
	{ C(DUMP), OPT_KILL, NULL,
	  "once the checkpoint is safely on disk, kill the\n"
	  "processes (the default; of --kill, -R, --stop,\n"
	  "--term, --abort, --cont and -S the last one wins)" },
	{ C(DUMP), 'R', NULL, "... let them go on" },
	{ C(DUMP), OPT_STOP, NULL, "... send them SIGSTOP" },
	{ C(DUMP), OPT_TERM, NULL, "... send them SIGTERM" },
	{ C(DUMP), OPT_ABORT, NULL, "... send them SIGABRT" },
	{ C(DUMP), OPT_CONT, NULL, "... send them SIGCONT" },
	{ C(DUMP), 'S', "NUM", "... send them signal NUM" },
	{ C(RESTORE), 'd', NULL, "don't wait for the restored root" },
	{ C(RESTORE), OPT_LAZY_PAGES, NULL,
	  "start the processes before their anonymous memory\n"
	  "is in: a server (crest-lazy) puts each page in on\n"
	  "its first touch (userfaultfd) and copies the rest\n"
	  "in the background, then exits" },
	{ C(RESTORE) | C(DEDUP) | C(DUMP) | C(PRE_DUMP), OPT_TRUST_IMAGES, NULL,
	  "as root, restore, or deduplicate (dedup,\n"
	  "--auto-dedup), images another user owns or\n"
	  "could have written (refused by default)" },
	{ C(RESTORE), OPT_RESTORE_PID, NULL, "the same PIDs (the default)" },
	{ C(RESTORE), OPT_NO_RESTORE_PID, NULL, "give the processes new PIDs" },
	{ C(RESTORE), OPT_RESTORE_SID, NULL,
	  "keep the original session (default: the restored\n"
	  "processes join crest's session)" },
	{ C(RESTORE), OPT_NO_RESTORE_SID, NULL, "join crest's session (the default)" },
	{ C(RESTORE), OPT_RESTORE_PGID, NULL,
	  "keep the original process group (default: join\n"
	  "crest's group)" },
	{ C(RESTORE), OPT_NO_RESTORE_PGID, NULL, "join crest's group (the default)" },
	{ C(RESTORE), OPT_PIDFILE, "FILE", "write the restored root's PID to FILE" },
	{ C(RESTORE), OPT_STATUS_FD, "FD",
	  "write a zero byte to FD and close it once the\n"
	  "restored processes run (CRIU's readiness signal)" },
	{ C(CHECK), OPT_JSON, NULL, "one JSON object instead" },
	{ C(DUMP) | C(PRE_DUMP) | C(RESTORE), OPT_PROGRESS, NULL,
	  "show the progress line (processes, MiB done of\n"
	  "the total, rate, time left) on stderr even when\n"
	  "it is not a terminal; by default it shows on a\n"
	  "terminal once the operation takes over a second" },
	{ C(DUMP) | C(PRE_DUMP) | C(RESTORE), OPT_NO_PROGRESS, NULL, "never show it" },
	{ C_ALL, 'v', "N", "more messages: -v (info), -v3 or -vv (debug)" },
	{ C_ALL, 'q', NULL, "no messages at all on stderr, no progress line" },
	{ C_ALL, 'o', "FILE", "write messages to FILE (errors still go to stderr)" },
	{ C_ALL, 'h', NULL, "this text" },
	{ C_ALL, 'V', NULL, "crest's version" },
};

static const struct opt_help *help_of(enum crest_cmd cmd, int val)
{
	for (size_t i = 0; i < sizeof(opt_help) / sizeof(opt_help[0]); i++)
		if (opt_help[i].val == val && (opt_help[i].cmds & (1u << cmd)))
			return &opt_help[i];
	return NULL;
}

/* "  -t, --tree PID            the process and ..." */
static void help_line(FILE *f, enum crest_cmd cmd, int val)
{
	const struct opt_help *h = help_of(cmd, val);
	char head[96] = "  ";
	size_t n = 2;
	const char *t;

	bool any = val < 256;

	if (val < 256)
		n += snprintf(head + n, sizeof(head) - n, "-%c%s", val,
			      val == 'v' ? "[N]" : "");
	else
		n += snprintf(head + n, sizeof(head) - n, "    ");
	for (const struct option *lo = long_opts; lo->name; lo++) {
		if (lo->val != val)
			continue;
		n += snprintf(head + n, sizeof(head) - n, "%s--%s", any ? ", " : "", lo->name);
		any = true;
		if (lo->has_arg == optional_argument && h && h->arg)
			n += snprintf(head + n, sizeof(head) - n, "[=%s]", h->arg);
	}
	if (h && h->arg && val != 'v' && !strstr(head, "[="))
		n += snprintf(head + n, sizeof(head) - n, " %s", h->arg);
	t = h ? h->text : "(undocumented)";
	if (n >= 28)
		fprintf(f, "%s\n%28s", head, "");
	else
		fprintf(f, "%-28s", head);
	for (; *t; t++) {
		fputc(*t, f);
		if (*t == '\n')
			fprintf(f, "%28s", "");
	}
	fputc('\n', f);
}

static const char *const cmd_names[] = {
	[CMD_DUMP] = "dump", [CMD_PRE_DUMP] = "pre-dump", [CMD_RESTORE] = "restore",
	[CMD_SHOW] = "show", [CMD_CHECK] = "check", [CMD_VERIFY] = "verify",
	[CMD_SWRK] = "swrk", [CMD_PAGE_SERVER] = "page-server", [CMD_DEDUP] = "dedup",
};

void opts_command_usage(FILE *f, enum crest_cmd cmd)
{
	fprintf(f, "usage: crest %s [OPTIONS]%s\n\n", cmd_names[cmd],
		cmd == CMD_SHOW ? " PATH" : cmd == CMD_VERIFY ? " [DIR | FILE]" :
		cmd == CMD_SWRK ? " FD" : "");
	if (cmd_opts(cmd)[0]) {
		fprintf(f, "options:\n");
		for (const int *l = cmd_opts(cmd); *l; l++)
			help_line(f, cmd, *l);
		fputc('\n', f);
	}
	fprintf(f, "common options:\n");
	for (const int *l = common_opts; *l; l++)
		help_line(f, cmd, *l);
	fprintf(f, "\nthe whole story: man crest (Documentation/crest.8)\n");
}

void opts_usage(FILE *f)
{
	static const enum crest_cmd with_opts[] = { CMD_DUMP, CMD_PRE_DUMP, CMD_RESTORE,
						     CMD_VERIFY, CMD_PAGE_SERVER, CMD_DEDUP, CMD_CHECK };
	const char *exit_text = strstr(usage_text, "exit status:");

	fwrite(usage_text, 1, exit_text - usage_text, f);
	for (size_t i = 0; i < sizeof(with_opts) / sizeof(with_opts[0]); i++) {
		fprintf(f, "%s options:\n", cmd_names[with_opts[i]]);
		for (const int *l = cmd_opts(with_opts[i]); *l; l++)
			help_line(f, with_opts[i], *l);
		fputc('\n', f);
	}
	fprintf(f, "common options:\n");
	for (const int *l = common_opts; *l; l++)
		help_line(f, CMD_DUMP, *l);
	fputc('\n', f);
	fputs(exit_text, f);
}

const char *opts_help_missing(void)
{
	static char what[64];

	for (enum crest_cmd c = CMD_DUMP; c <= CMD_DEDUP; c++)
		for (const int *l = cmd_opts(c); *l; l++) {
			const struct option *lo = long_opts;

			while (lo->name && lo->val != *l)
				lo++;
			if (!help_of(c, *l) || (!lo->name && !(*l < 256))) {
				snprintf(what, sizeof(what), "%s %s", cmd_names[c],
					 lo->name ? lo->name : "?");
				return what;
			}
		}
	return NULL;
}

static void set_scope(struct options *o, int scope, const char *arg, int *err)
{
	o->scope = scope;
	if (parse_pid(arg, &o->pid))
		*err = 1;
}

void opts_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = ".";
	o->restore_pid = true;
	o->fd = -1;
	o->status_fd = -1;
	o->ps_port = -1;
	o->after_restore = AFTER_RUN;
	o->verbosity = LOG_WARN;
}

int opts_parse(int argc, char **argv, struct options *o)
{
	static const struct { const char *name; enum crest_cmd cmd; } cmds[] = {
		{ "dump", CMD_DUMP }, { "restore", CMD_RESTORE },
		{ "show", CMD_SHOW }, { "check", CMD_CHECK },
		{ "verify", CMD_VERIFY }, { "pre-dump", CMD_PRE_DUMP },
		{ "swrk", CMD_SWRK }, { "page-server", CMD_PAGE_SERVER },
		{ "dedup", CMD_DEDUP },
	};
	int c;

	opts_defaults(o);
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
	while ((c = getopt_long(argc, argv, ":t:D:RS:dljv::qo:hV", long_opts, NULL)) != -1) {
		int err = 0;

		if (c == '?' || c == ':') {
			if (c == ':')
				pr_err("option '%s' needs an argument", argv[optind - 1]);
			else
				pr_err("unknown option '%s' for 'crest %s'", argv[optind - 1], argv[1]);
			return -1;
		}
		if (!opt_applies(o->cmd, c)) {
			const struct option *lo = long_opts;

			while (lo->name && lo->val != c)
				lo++;
			if (c < 256)
				pr_err("option '--%s' (-%c) does not apply to 'crest %s'",
				       lo->name, c, argv[1]);
			else
				pr_err("option '--%s' does not apply to 'crest %s'",
				       lo->name, argv[1]);
			return -1;
		}
		switch (c) {
		case 't':	set_scope(o, SCOPE_TREE, optarg, &err); break;
		case OPT_PID:	set_scope(o, SCOPE_PID, optarg, &err); break;
		case OPT_PGID:	set_scope(o, SCOPE_PGID, optarg, &err); break;
		case OPT_SID:	set_scope(o, SCOPE_SID, optarg, &err); break;
		case 'D':	o->dir = optarg; break;
		case 'R':	o->after_dump = AFTER_RUN; break;
		case OPT_KILL:	o->after_dump = AFTER_KILL; break;
		case OPT_STOP:	o->after_dump = AFTER_STOP; break;
		case OPT_TERM:	o->after_dump = AFTER_TERM; break;
		case OPT_ABORT:	o->after_dump = AFTER_ABORT; break;
		case OPT_CONT:	o->after_dump = AFTER_CONT; break;
		case 'S': {
			char *end;
			long sig = strtol(optarg, &end, 10);

			if (*end || sig <= 0 || sig >= 65) {
				pr_err("'%s' is not a signal number", optarg);
				return -1;
			}
			o->after_dump = AFTER_SIGNAL;
			o->after_signal = sig;
			break;
		}
		case 'd':	o->detach = true; break;
		case OPT_RESTORE_PID:	 o->restore_pid = true; break;
		case OPT_NO_RESTORE_PID: o->restore_pid = false; break;
		case OPT_RESTORE_SID:	 o->restore_sid = true; break;
		case OPT_NO_RESTORE_SID: o->restore_sid = false; break;
		case OPT_RESTORE_PGID:	 o->restore_pgid = true; break;
		case OPT_NO_RESTORE_PGID: o->restore_pgid = false; break;
		case OPT_PIDFILE:	o->pidfile = optarg; break;
		case OPT_FILE:		o->file = optarg; break;
		case OPT_NOSYNC:	o->nosync = true; break;
		case OPT_COMPRESS:	o->compress = true; break;
		case OPT_FREEZE_CGROUP:	o->freeze_cgroup = optarg; break;
		case 'l':	break;	/* CRIU's; locks are always saved */
		case OPT_CHECK_ONLY:	o->check_only = true; break;
		case OPT_PTRACED_ERROR:	o->ptraced = TRACE_ERROR; break;
		case OPT_PTRACED_SKIP:	o->ptraced = TRACE_SKIP; break;
		case OPT_PTRACED_ALLOW:	o->ptraced = TRACE_ALLOW; break;
		case OPT_PTRACER_ERROR:	o->ptracer = TRACE_ERROR; break;
		case OPT_PTRACER_SKIP:	o->ptracer = TRACE_SKIP; break;
		case OPT_TRUST_IMAGES:	o->trust_images = true; break;
		case OPT_JSON:		o->json = true; break;
		case OPT_PROGRESS:	o->progress = 1; break;
		case OPT_NO_PROGRESS:	o->progress = -1; break;
		case OPT_PREV_DIR:	o->prev_dir = optarg; break;
		case OPT_TRACK_MEM:	o->track_mem = true; break;
		case OPT_LAZY_PAGES:	o->lazy_pages = true; break;
		case OPT_PAGE_SERVER:	o->page_server = true; break;
		case OPT_AUTO_DEDUP:	o->auto_dedup = true; break;
		case OPT_ADDRESS:	o->ps_address = optarg; break;
		case OPT_PORT: {
			char *end;
			long port = strtol(optarg, &end, 10);

			if (!*optarg || *end || port < 0 || port > 65535) {
				pr_err("--port %s: not a TCP port number", optarg);
				return -1;
			}
			o->ps_port = (int)port;
			break;
		}
		case OPT_STATUS_FD: {
			char *end;
			long fd = strtol(optarg, &end, 10);

			if (!*optarg || *end || fd < 0 || fd > 1 << 20 ||
			    fcntl((int)fd, F_GETFD) < 0) {
				pr_err("--status-fd %s: not an open file descriptor", optarg);
				return -1;
			}
			o->status_fd = (int)fd;
			break;
		}
		case OPT_EXT_UNIX_SK:
			if (o->cmd == CMD_DUMP && optarg) {
				if (!*optarg || optarg[strspn(optarg, "0123456789,")]) {
					pr_err("--ext-unix-sk takes socket inodes: '%s'", optarg);
					return -1;
				}
				o->ext_unix_sk_inos = optarg;
			}
			o->ext_unix_sk = true;
			break;
		case OPT_TCP_ESTABLISHED: o->tcp_established = true; break;
		case OPT_TCP_CLOSE:	o->tcp_close = true; break;
		case OPT_SKIP_IN_FLIGHT: o->skip_in_flight = true; break;
		case OPT_EVASIVE_DEVICES: o->evasive_devices = true; break;
		case OPT_ROOT: o->root = optarg; break;
		case OPT_MANAGE_CGROUPS: {
			static const char *const modes[] = {
				[CG_MODE_SOFT] = "soft", [CG_MODE_IGNORE] = "ignore",
				[CG_MODE_NONE] = "none", [CG_MODE_PROPS] = "props",
				[CG_MODE_FULL] = "full", [CG_MODE_STRICT] = "strict",
			};
			int m = -1;

			/* CRIU's "--manage-cgroups MODE" too: a mode word next. */
			for (int k = 0; !optarg && optind < argc &&
			     k < (int)(sizeof(modes) / sizeof(*modes)); k++)
				if (!strcmp(argv[optind], modes[k]))
					optarg = argv[optind++];
			for (int k = 0; optarg && k < (int)(sizeof(modes) / sizeof(*modes)); k++)
				if (!strcmp(optarg, modes[k]))
					m = k;
			if (!optarg)
				m = CG_MODE_SOFT;
			if (m < 0) {
				pr_err("--manage-cgroups takes none, props, soft, full, strict or ignore, not '%s'",
				       optarg);
				return -1;
			}
			o->manage_cgroups = m;
			break;
		}
		case OPT_CGROUP_ROOT: {
			char *colon = optarg[0] == '/' ? NULL : strchr(optarg, ':');

			if (o->nr_cg_root == MAX_CG_ROOT ||
			    (colon ? colon[1] != '/' : optarg[0] != '/')) {
				pr_err("--cgroup-root takes [CTRL:]/PATH (at most %d), not '%s'",
				       MAX_CG_ROOT, optarg);
				return -1;
			}
			if (colon)
				*colon = 0;
			o->cg_root[o->nr_cg_root].ctrl = colon ? optarg : "";
			o->cg_root[o->nr_cg_root++].path = colon ? colon + 1 : optarg;
			break;
		}
		case OPT_INHERIT_FD: {
			char *close = strstr(optarg, "]:"), *end;
			long n;

			n = strncmp(optarg, "fd[", 3) || !close ? -1 :
			    strtol(optarg + 3, &end, 10);
			if (n < 0 || n > INT_MAX || end != close || close == optarg + 3 ||
			    !close[2]) {
				pr_err("--inherit-fd takes fd[N]:KEY, not '%s'", optarg);
				return -1;
			}
			if (o->nr_inherit_fd == MAX_INHERIT_FD) {
				pr_err("more than %d --inherit-fd", MAX_INHERIT_FD);
				return -1;
			}
			o->inherit_fd[o->nr_inherit_fd].fd = (int)n;
			o->inherit_fd[o->nr_inherit_fd++].key = close + 2;
			break;
		}
		case OPT_EXTERNAL: {
			/* mnt[KEY]:VAL; CRIU's other kinds are not crest's. */
			char *close = strstr(optarg, "]:");

			if (strncmp(optarg, "mnt[", 4) || !close || close == optarg + 4 ||
			    !close[2]) {
				pr_err("--external takes mnt[KEY]:VAL, not '%s' (crest has no other external resources)",
				       optarg);
				return -1;
			}
			if (o->nr_ext_mnt == MAX_EXT_MNT) {
				pr_err("more than %d --external mounts", MAX_EXT_MNT);
				return -1;
			}
			*close = 0;
			o->ext_mnt[o->nr_ext_mnt].key = optarg + 4;
			o->ext_mnt[o->nr_ext_mnt++].val = close + 2;
			break;
		}
		case OPT_NETWORK_LOCK:
			/*
			 * CRIU's methods: iptables (its default), nftables,
			 * skip. crest's lock is a BPF program on tcx
			 * (net-lock.c): the machines it runs on may have
			 * neither iptables nor nftables.
			 */
			if (!strcmp(optarg, "iptables") || !strcmp(optarg, "nftables")) {
				pr_err("--network-lock %s: crest locks connections with a BPF program on tcx, not with %s: give --network-lock bpf (the default) or skip",
				       optarg, optarg);
				return -1;
			}
			if (strcmp(optarg, "bpf") && strcmp(optarg, "skip")) {
				pr_err("--network-lock takes bpf (the default) or skip, not '%s'",
				       optarg);
				return -1;
			}
			o->network_lock_skip = !strcmp(optarg, "skip");
			break;
		case OPT_SIGN_KEY:	o->sign_key = optarg; break;
		case OPT_VERIFY_KEY:	o->verify_key = optarg; break;
		case 'j':
		case OPT_SHELL_JOB:
			o->shell_job = true;
			o->restore_sid = false;
			o->restore_pgid = false;
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
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case 'V':
			o->version = true;
			return 0;
		}
		if (err)
			return -1;
	}
	o->leave_running = o->after_dump == AFTER_RUN;
	if (o->cmd == CMD_SHOW) {
		if (optind != argc - 1) {
			pr_err("'crest show' takes one image file or directory");
			return -1;
		}
		o->show_path = argv[optind];
		return 0;
	}
	if (o->cmd == CMD_SWRK) {
		char *end;
		long fd = optind == argc - 1 ? strtol(argv[optind], &end, 10) : -1;

		if (fd < 0 || *end || fcntl((int)fd, F_GETFD) < 0) {
			pr_err("'crest swrk' takes the open socket of CRIU's RPC: crest swrk FD");
			return -1;
		}
		o->swrk_fd = (int)fd;
		return 0;
	}
	if (o->cmd == CMD_VERIFY && optind < argc) {
		if (optind != argc - 1 || o->file || strcmp(o->dir, ".")) {
			pr_err("'crest verify' takes one directory or file (or -D DIR, or --file FILE)");
			return -1;
		}
		o->show_path = argv[optind];
		return 0;
	}
	if (optind != argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if ((o->cmd == CMD_DUMP || o->cmd == CMD_PRE_DUMP) && !o->pid) {
		pr_err("'crest %s' needs the processes to checkpoint: -t PID (or --pid, --pgid, --sid)",
		       argv[1]);
		return -1;
	}
	if (o->cmd == CMD_PRE_DUMP) {
		/* A pre-dump leaves the tree running, tracked: the dump follows. */
		o->cmd = CMD_DUMP;
		o->pre_dump = true;
		o->after_dump = AFTER_RUN;
		o->leave_running = true;
	}
	if (o->auto_dedup && !o->prev_dir) {
		pr_err("--auto-dedup folds the dump's chain: give --prev-images-dir PREV");
		return -1;
	}
	if (o->cmd == CMD_DUMP && o->trust_images && !o->auto_dedup) {
		pr_err("--trust-images at a dump is for --auto-dedup (folding a chain another user owns): give --auto-dedup, or drop it");
		return -1;
	}
	if (o->auto_dedup && o->page_server) {
		pr_err("--auto-dedup and --page-server: the chain's pages are on the page server; deduplicate there");
		return -1;
	}
	if (o->cmd == CMD_PAGE_SERVER && o->ps_port < 0) {
		pr_err("'crest page-server' needs the port to listen on: --port PORT");
		return -1;
	}
	if ((o->cmd == CMD_DUMP || o->cmd == CMD_RESTORE) && !o->page_server &&
	    (o->ps_address || o->ps_port >= 0)) {
		pr_err("--address and --port name a page server: give --page-server too");
		return -1;
	}
	if (o->page_server) {
		if (!o->ps_address || o->ps_port <= 0) {
			pr_err("--page-server needs the server's --address ADDR and --port PORT");
			return -1;
		}
		if (o->file || o->fd >= 0) {
			pr_err("--page-server sends the pages of an images directory: it can't be used with --file");
			return -1;
		}
		if (o->cmd == CMD_RESTORE && !o->lazy_pages) {
			pr_err("restore --page-server reads pages as the tree faults on them: give --lazy-pages too");
			return -1;
		}
	}
	if (o->compress && o->page_server) {
		pr_err("--compress and --page-server: the pages go to the page server as they are; give one of them");
		return -1;
	}
	/*
	 * A stream's chain is read where the restore's -D says (the copies of
	 * the pre-dumps there), but a fold would punch the links here, not
	 * the ones that restore reads.
	 */
	if (o->auto_dedup && (o->file || o->fd >= 0)) {
		pr_err("--auto-dedup folds the chain here, and a restore of the --file stream reads the copies under its own -D: drop it");
		return -1;
	}
	return 0;
}
