#ifndef CREST_OPTS_H
#define CREST_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

enum crest_cmd { CMD_NONE, CMD_DUMP, CMD_RESTORE, CMD_SHOW, CMD_CHECK, CMD_VERIFY,
		CMD_PRE_DUMP, CMD_SWRK, CMD_PAGE_SERVER, CMD_DEDUP };

/* What becomes of the tree after its checkpoint (BLCR's signal options). */
enum after_dump {
	AFTER_KILL,		/* crest dump's default, as CRIU */
	AFTER_RUN,		/* --leave-running, BLCR's --run */
	AFTER_STOP,
	AFTER_TERM,
	AFTER_ABORT,
	AFTER_CONT,
	AFTER_SIGNAL,		/* -S NUM */
};

/* Where a context file goes if one exists already (BLCR's policies). */
enum replace_policy {
	REPLACE_ATOMIC,		/* write .NAME.tmp, rename over it on success */
	REPLACE_BACKUP,		/* atomic, and keep the old one as NAME.~N~ */
	REPLACE_CLOBBER,	/* truncate and write in place */
	REPLACE_NOCLOBBER,	/* fail if it exists */
};

enum trace_policy { TRACE_ERROR, TRACE_SKIP, TRACE_ALLOW };

#define SAVE_EXE	1u	/* embed the executable */
#define SAVE_PRIVATE	2u	/* embed MAP_PRIVATE file mappings */
#define SAVE_SHARED	4u	/* embed MAP_SHARED file mappings */

#define MAX_RELOCS	16

struct reloc {
	const char *from;	/* absolute, canonical, no trailing '/' */
	const char *to;
};

/* Filled once by the front end; read-only afterwards. */
#define MAX_EXT_MNT	64

/* --external mnt[KEY]:VAL (CRIU's): at a dump KEY is a mount point, VAL its
 * name; at a restore KEY is that name, VAL the path to bind there. */
struct ext_mnt {
	const char *key, *val;
};

#define MAX_INHERIT_FD	64

/* restore --inherit-fd fd[N]:KEY (CRIU's): the caller's fd N is the file
 * whose key ("pipe:[INO]", a path: the fd's link at the dump) is KEY. */
struct inherit_fd {
	int fd;
	const char *key;
};

#define MAX_CG_ROOT	16

/* --cgroup-root [CTRL:]PATH (CRIU's): the hierarchy of CTRL ("": every one). */
struct cg_root {
	const char *ctrl, *path;
};

/* --manage-cgroups MODE (CRIU's modes; soft, the default, is 0). */
enum cg_mode {
	CG_MODE_SOFT = 0,	/* make what is missing, with its properties */
	CG_MODE_IGNORE,		/* leave cgroups alone: crest's are the tree's */
	CG_MODE_NONE,		/* join them; they must exist; no properties */
	CG_MODE_PROPS,		/* they must exist; properties set */
	CG_MODE_FULL,		/* make what is missing; properties set on all */
	CG_MODE_STRICT,		/* make them all; none may exist */
};

struct options {
	enum crest_cmd cmd;
	pid_t pid;
	int scope;		/* enum pstree_scope: what pid names */
	int after_dump;		/* enum after_dump */
	int after_signal;
	const char *dir;
	const char *log_file;
	const char *show_path;
	const char *pidfile;	/* restore: write the root's PID here */
	int verbosity;
	bool leave_running;	/* after_dump == AFTER_RUN */
	bool detach;
	bool restore_pid;	/* default true: --no-restore-pid */
	bool restore_sid;	/* default false: join crest's session */
	bool restore_pgid;	/* default false: join crest's group */
	bool shell_job;		/* -j: the job's terminal is crest's (tty.c) */
	bool caller_waits;	/* cr_restart: detached, but it waits for the root */
	bool help;
	bool version;

	/* Single-file images (crest --file, BLCR context files). */
	const char *file;	/* write/read this context file; "-": stdout/stdin */
	int fd;			/* or this fd (-F); -1: none */
	int replace;		/* enum replace_policy, for file */
	const char *backup_name;/* --backup=NAME */
	bool nosync;		/* --nosync: no fsync of images and directory */
	bool compress;		/* dump --compress: the images in the stream with zstd */

	/* dump */
	unsigned int save;	/* SAVE_* */
	int ptraced;		/* enum trace_policy for traced targets */
	int ptracer;		/* ...for targets that trace others */
	int timeout;		/* -t SEC: give up (targets untouched) after it; 0: no limit */
	const char *freeze_cgroup;	/* a freezer cgroup to freeze while seizing */
	bool trust_images;	/* --trust-images: restore as root images anyone owns */
	const char *sign_key;	/* dump --sign-key: write sign.img with this key */
	const char *verify_key;	/* restore --verify-key: refuse a set not signed with it */
	bool check_only;	/* --check-only: inspect, report, write nothing */
	bool pre_dump;		/* crest pre-dump: pages only, tracked, left running */
	const char *prev_dir;	/* --prev-images-dir: the previous dump of a chain */
	bool track_mem;		/* --track-mem (CRIU's; pre-dump always tracks) */
	bool auto_dedup;	/* --auto-dedup: crest dedup once the chain's dump is in */
	bool json;		/* check --json */
	int swrk_fd;		/* swrk FD: CRIU's RPC socket */
	int status_fd;		/* restore --status-fd: "\0" once the tree runs; -1 */
	bool quiet;		/* -q: no messages at all */
	int progress;		/* 1 --progress, -1 --no-progress, 0: on a terminal */
	bool ext_unix_sk;	/* --ext-unix-sk: unix sockets connected outside */
	bool tcp_established;	/* --tcp-established: TCP connections, repaired */
	bool tcp_close;		/* --tcp-close: TCP connections come back closed */
	bool skip_in_flight;	/* --skip-in-flight: a listener's unaccepted ones dropped */
	bool network_lock_skip;	/* --network-lock skip: no lock (bpf: net-lock.c) */
	const char *ext_unix_sk_inos;	/* ...=INO,...: only these (NULL: all) */
	bool page_server;	/* dump --page-server: pages to the server at ps_address */
	const char *ps_address;	/* --address: the server's (dump), to listen on (page-server) */
	int ps_port;		/* --port; -1: not given */

	struct ext_mnt ext_mnt[MAX_EXT_MNT];
	int nr_ext_mnt;

	/* restore */
	struct reloc relocs[MAX_RELOCS];
	int nr_relocs;
	int after_restore;	/* enum after_dump's signals, applied to the restored tree */
	int after_restore_signal;
	bool lazy_pages;	/* --lazy-pages: anonymous memory on demand (lazy.c) */
	const char *root;	/* restore --root: the container's root filesystem */
	bool evasive_devices;	/* --evasive-devices: a node of the same device will do */
	struct inherit_fd inherit_fd[MAX_INHERIT_FD];
	int nr_inherit_fd;
	struct cg_root cg_root[MAX_CG_ROOT];
	int nr_cg_root;
	int manage_cgroups;	/* enum cg_mode, dump (ignore: no properties) and restore */
};

/* Exit codes: distinct per class of failure, documented in crest(8). */
enum crest_exit {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_IMAGE = 3,		/* images missing, corrupt or incompatible */
	EXIT_BUSY = 4,		/* a PID to restore is in use */
	EXIT_UNSUPPORTED = 5,	/* the target holds something crest can't save */
	EXIT_FILES = 6,		/* a file the images need is missing or changed */
};

/* Every field at its default. */
void opts_defaults(struct options *o);
/* 0 on success, -1 after printing what is wrong. */
int opts_parse(int argc, char **argv, struct options *o);
void opts_usage(FILE *f);
/* crest COMMAND --help: the command's options, from the parser's table. */
void opts_command_usage(FILE *f, enum crest_cmd cmd);
/* "COMMAND OPTION" of the first option a command takes without a help line; NULL. */
const char *opts_help_missing(void);

#endif
