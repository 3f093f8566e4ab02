/*
 * The contract between crest and its two blobs.
 *
 * Both blobs are flat, position-independent code with one entry
 * (arch pie_entry) that takes the address of an argument block in rdi.
 * Every pointer inside a block is an address in the *target's* address
 * space. Layouts are fixed: sizes are asserted below and the version is
 * bumped on any change.
 *
 *   parasite area (shared: memfd-like MAP_SHARED, mapped in crest and target)
 *   +-----------------+----------------------+---------+-------------+
 *   | parasite blob   | struct parasite_args | iovs... | stack (grows|
 *   |                 |                      | crcs... |  downward)  |
 *   +-----------------+----------------------+---------+-------------+
 *
 *   restorer area (private, in the restored task, at a hole of its layout)
 *   +-----------------+----------------------+--------------+---------+
 *   | restorer blob   | struct restore_args  | vmas, runs,  | stack   |
 *   |                 |                      | auxv, fds    |         |
 *   +-----------------+----------------------+--------------+---------+
 */
#ifndef CREST_PIE_ABI_H
#define CREST_PIE_ABI_H

#include <stdint.h>

#define PIE_ABI_VERSION		20
#define PIE_STACK_SIZE		(64 * 1024)
#define CREST_NSIG		64

/* ---- parasite ---- */

enum parasite_cmd {
	PARASITE_CMD_INFO = 1,	/* fill parasite_info */
	PARASITE_CMD_OPEN_PIPE,	/* make the page pipe: pipe_fd, pipe_rfd */
	PARASITE_CMD_DUMP_PAGES,/* crc + vmsplice each iov into the pipe */
	PARASITE_CMD_FINI,	/* close what the parasite opened */
	PARASITE_CMD_POSIX_TIMERS,/* timer_gettime/_getoverrun of args->timers */
	PARASITE_CMD_FIND_ZEROS,/* crcs[i] = 1 if iov i is all zeros, else 0 */
};

struct pie_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct pie_rlimit {
	uint64_t cur;
	uint64_t max;
};

#define PIE_NR_RLIMITS		16

struct parasite_info {
	struct pie_sigaction sigactions[CREST_NSIG];	/* index sig - 1 */
	struct pie_rlimit rlimits[PIE_NR_RLIMITS];
	uint64_t itimers[3][4];	/* REAL, VIRTUAL, PROF: it_interval, it_value as sec,usec */
	uint64_t altstack_sp;
	uint64_t altstack_size;
	uint32_t altstack_flags;
	uint32_t umask;
	uint64_t brk;
	uint64_t clear_tid_addr;
	uint32_t child_subreaper;
	uint32_t pad;
	uint64_t xcomp_perm;	/* ARCH_GET_XCOMP_PERM: AMX and such asked for */
	/* src/task-attrs.c: what only prctl() tells, each thread its own */
	uint32_t securebits;
	uint32_t pdeathsig;
	uint64_t timer_slack;
	uint32_t thp_disable;	/* the process's */
	uint32_t membarrier;	/* MEMBARRIER_CMD_GET_REGISTRATIONS */
};

/* One POSIX timer: crest fills the id, the parasite the rest. */
struct pie_posix_timer {
	int32_t id;
	int32_t overrun;	/* timer_getoverrun */
	int64_t interval_sec, interval_nsec;	/* timer_gettime */
	int64_t value_sec, value_nsec;
};

struct pie_iov {
	uint64_t base;
	uint64_t len;
};

/*
 * The registers a thread goes back to by itself when crest is gone (see
 * pie/parasite.c, pie_resume): the program's own, a syscall it was
 * interrupted in already set up to restart. Offsets are used by asm.
 */
struct pie_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;	/* 0 .. 48 */
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;	/* 56 .. 112 */
	uint64_t rip, rsp, eflags;			/* 120, 128, 136 */
	uint64_t tmp_sp;	/* 144: rsp - 136, where rip is put (below the red zone) */
};

struct parasite_args {
	uint32_t version;
	uint32_t cmd;
	int64_t ret;		/* 0 or -errno, set by the parasite */
	uint64_t fail_at;	/* where it failed, for messages */
	int32_t pipe_fd;	/* target-side fd of crest's page pipe */
	uint32_t nr_iovs;
	uint64_t iovs;		/* struct pie_iov[nr_iovs] */
	uint64_t crcs;		/* uint32_t[nr_iovs], written by the parasite */
	/*
	 * The read end of the page pipe, made by the parasite: crest takes
	 * it with pidfd_getfd(), which needs no access of the target's to
	 * crest (a target of another uid can't open /proc/CREST/fd/N).
	 */
	int32_t pipe_rfd;
	uint32_t pad0;
	/* The thread's rseq registration: off while pages leave (see parasite). */
	uint64_t rseq_addr;
	uint32_t rseq_len;
	uint32_t rseq_sig;
	uint32_t rseq_off;	/* unregistered by us: FINI puts it back */
	uint32_t pad;
	struct parasite_info info;
	uint32_t nr_timers;
	uint32_t pad_timers;
	uint64_t timers;	/* struct pie_posix_timer[nr_timers] */
	/*
	 * Crest gone (SIGKILL, OOM): a command ends by setting done and
	 * waiting on a pidfd of the tracer (ctl_fd); crest stops it there
	 * with PTRACE_INTERRUPT. If the pidfd says crest exited, the thread
	 * closes what the parasite opened and resumes the program with
	 * cure and cure_sigmask.
	 */
	uint32_t done;		/* futex word: the command is over */
	int32_t tracer;		/* crest's pid */
	int32_t ctl_fd;		/* pidfd of the tracer, in the target */
	uint32_t keep_sigpipe;	/* it had a SIGPIPE of its own pending */
	/*
	 * Another thread's block (borrowed): no fd, main is the process's
	 * block; its wait ends when the main thread has cured itself
	 * (orphaned).
	 */
	uint32_t borrowed;
	uint32_t orphaned;
	uint32_t keep_sigtrap;	/* it had a SIGTRAP of its own pending */
	uint32_t pad_cure;
	uint64_t main;
	uint64_t cure_sigmask;
	struct pie_regs cure;
	/*
	 * The way out that leaves nothing behind (arch/x86/sigframe.c):
	 * jump to cure_vsys (a "syscall; ret" of the vDSO) with rsp at
	 * cure_frame (an rt_sigreturn frame crest put below the thread's red
	 * zone, its first word a "mov $15, %rax; syscall" of the program's):
	 * the main thread's syscall is the munmap of self_start/self_size,
	 * another thread's an rt_sigprocmask that makes the kernel write its
	 * mask into the main block's thread_out (it runs no code of ours
	 * after that). cure_frame 0: pie_resume, the blob stays mapped.
	 */
	uint64_t cure_frame;
	uint64_t cure_vsys;
	uint64_t self_start;
	uint64_t self_size;
	/* Main block: 0 while another thread may run in the blob (crest sets it). */
	uint64_t thread_out;
	uint32_t keep_blob;	/* main block: never unmap (a thread had no frame) */
	/*
	 * An fd crest made in the process through a remote syscall (the
	 * userfaultfd of a pre-dump) until crest has closed it: the cure
	 * closes it. rsys_fd: the remote syscall under way returns one (the
	 * cure closes what it returned, should the thread be let go there).
	 */
	int32_t extra_fd;
	uint32_t rsys_fd;
	uint32_t pad_fd;
};

/* ---- restorer ---- */

#define RST_VMA_FORCE	1
/*
 * RST_VMA_LAZY (restore --lazy-pages): anonymous private memory whose
 * pages the lazy-pages server (src/lazy.c) puts in on fault and in the
 * background; the restorer registers it with a userfaultfd and fills
 * none of it (no run of it is in runs[]).
 */
#define RST_VMA_LAZY	2
/*
 * RST_VMA_SYSV: a System V segment's mapping: fd is the segment's id in
 * the process's IPC namespace (made again by crest, bytes and all), pgoff
 * the offset in it, sysv_pages its size. shmat() it whole, move the part
 * this mapping is into place and unmap the rest.
 */
#define RST_VMA_SYSV	4
#define RST_VMA_SYSV_RDONLY	8	/* shmat(SHM_RDONLY): no "mw" at the dump */
#define RST_VMA_SYSV_DONE	16	/* the restorer's: mapped with its attach */

struct rst_vma {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;
	uint32_t prot;
	uint32_t flags;		/* MAP_* without MAP_FIXED */
	int32_t fd;		/* file to map, -1 for anonymous */
	/*
	 * RST_VMA_FORCE: a private read-only mapping the kernel did not
	 * charge to the commit limit (no "ac" in VmFlags). Mapped with its
	 * own prot and filled through mem_fd (/proc/self/mem, which writes
	 * past the prot as ptrace does): mapping it writable to fill it
	 * would make it accounted for good.
	 */
	uint32_t how;
	/*
	 * Mapped and filled by crest's side before the task forked its
	 * children (copy-on-write sharing): where it is; the restorer
	 * keeps it and moves it into place. 0: map it here.
	 */
	uint64_t premapped;
	/*
	 * VmFlags that mmap() does not give, set once the mapping is filled
	 * and protected (RST_ADV_*): madvise() advice, then mlock.
	 */
	uint32_t advice;
	uint32_t sysv_pages;	/* RST_VMA_SYSV: the segment's size in pages */
};

/*
 * A Linux AIO context (src/mem-aio.c): io_setup(nr_req) again, its tail
 * moved to the saved one, head set, the saved events copied from ring
 * and the ring moved to start, where the program's aio_context_t is.
 */
struct rst_aio {
	uint64_t start;
	uint64_t len;
	uint64_t ring;		/* the saved bytes, len of them */
	uint32_t nr_req;	/* for io_setup() */
	uint32_t prot;
};

#define RST_ADV_DONTFORK	(1u << 0)	/* dc: MADV_DONTFORK */
#define RST_ADV_WIPEONFORK	(1u << 1)	/* wf: MADV_WIPEONFORK */
#define RST_ADV_DONTDUMP	(1u << 2)	/* dd: MADV_DONTDUMP */
#define RST_ADV_HUGEPAGE	(1u << 3)	/* hg: MADV_HUGEPAGE */
#define RST_ADV_NOHUGEPAGE	(1u << 4)	/* nh: MADV_NOHUGEPAGE */
#define RST_ADV_SEQUENTIAL	(1u << 5)	/* sr: MADV_SEQUENTIAL */
#define RST_ADV_RANDOM		(1u << 6)	/* rr: MADV_RANDOM */
#define RST_ADV_LOCKED		(1u << 7)	/* lo: mlock2() */
#define RST_ADV_LOCKONFAULT	(1u << 8)	/* lf: mlock2(MLOCK_ONFAULT) */
#define RST_ADV_MERGEABLE	(1u << 9)	/* mg: MADV_MERGEABLE (KSM) */
#define RST_ADV_SEALED		(1u << 10)	/* sl: mseal(), last */
#define RST_ADV_GUARD		(1u << 11)	/* gu: guard regions (restore_args.guards) */
#define RST_ADV_ALL		((1u << 12) - 1)

struct rst_run {
	uint64_t vaddr;
	uint32_t nr_pages;
	uint32_t crc;
	uint64_t off;		/* of its bytes, from pages_off */
	uint32_t file;		/* in chain_fds[file] (0: pages_fd) */
	uint32_t flags;		/* RST_RUN_* */
};

#define RST_RUN_NOCRC	1	/* a piece of a run of an earlier dump: no crc of its own */
#define RST_MAX_CHAIN	16	/* pages images of a chain of dumps (CHAIN_MAX) */

struct rst_range {
	uint64_t start;
	uint64_t end;
};

enum rst_special { RST_VVAR, RST_VVAR_VCLOCK, RST_VDSO, RST_NR_SPECIAL };

/* Mirror of the kernel's struct prctl_mm_map (linux/prctl.h). */
struct rst_mm_map {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;		/* target address of the saved auxv */
	uint32_t auxv_size;	/* bytes */
	uint32_t exe_fd;
};

struct rst_siginfo {
	uint8_t raw[128];
	uint32_t shared;
	uint32_t pad;
};

/* A thread other than the main one, created by the restorer. */
struct rst_thread {
	int32_t tid;		/* to ask clone3 for (set_tid), 0: any */
	int32_t new_tid;	/* what it got, written by the restorer */
	int64_t ret;		/* 0 or -errno, by the thread */
	uint32_t stage;
	uint32_t nr_siginfo;
	uint64_t siginfo;	/* struct rst_siginfo[]: its own pending */
	uint64_t altstack_sp;
	uint64_t altstack_size;
	uint32_t altstack_flags;
	uint32_t has_rseq;
	uint64_t rseq_addr;
	uint32_t rseq_len;
	uint32_t rseq_sig;
	uint64_t clear_tid_addr;
	uint64_t robust_list;
	uint64_t robust_len;
	uint64_t stack;		/* its stack: [stack, stack + PIE_THREAD_STACK) */
	uint64_t args;		/* back to struct restore_args */
	char comm[16];		/* its name (a thread names only itself) */
	/* src/task-attrs.c: set by the thread itself, with its credentials */
	uint32_t has_caps;
	uint32_t secbits;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t no_new_privs;
	uint32_t pdeathsig;
	uint64_t timer_slack;	/* 0: leave it */
	uint32_t seccomp_strict;
	uint32_t nr_filters;	/* its own, on top of the shared ones */
	uint64_t filters;	/* struct rst_filter[], oldest first */
	uint32_t tile_data;	/* AMX tile data in use: grow its xstate first */
	uint32_t pad_tiles;
	/*
	 * An fd table of its own (made without CLONE_FILES): it starts as a
	 * copy of the process's, then dup3()s each of its fds from the copy
	 * the process holds for it (struct rst_fd[]) and closes the rest.
	 */
	uint32_t own_files;
	uint32_t nr_fds;
	uint64_t fds;
	/*
	 * In a PID namespace of the tree: its TID at every level, innermost
	 * first (clone3's set_tid); nr_set_tid 0: tid alone, as above.
	 */
	int32_t set_tid[9];
	uint32_t nr_set_tid;
};

/*
 * A thread's own fd: dst made from src, a copy in the process's table.
 * sock >= 0: a pidfd of a thread, src its placeholder: the pidfd is
 * taken from that socket (of the thread's process's restorer, which
 * sends it once it made the thread: rst_pidfd) and put over dst.
 */
struct rst_fd {
	int32_t src;
	int32_t dst;		/* sorted, ascending */
	uint32_t cloexec;
	int32_t sock;
};

/*
 * An fd whose signals go to a thread other than the main one
 * (F_OWNER_TID): its owner is set once the threads exist. fd is one of
 * the process's table, a thread's own fd by its copy (rst_fd.src).
 */
struct rst_fown {
	int32_t fd;
	int32_t thread;		/* index in threads[] */
};

/*
 * A pidfd of a thread other than the main one (PIDFD_THREAD), over the
 * placeholder crest put at fd (a pidfd of the process with the same
 * flags). Made (take 0: of threads[thread], once the threads exist;
 * same >= 0: another fd of the same description, pidfds[same], made
 * before it: a dup of that one; fd -1: held only elsewhere), then sends
 * copies of it written to sock (SCM_RIGHTS, a byte each), for the other
 * holders. Taken (take 1, after every one made): a copy read from sock,
 * which another process's restorer sends. The made ones come first.
 */
struct rst_pidfd {
	int32_t fd;
	int32_t thread;		/* index in threads[] */
	uint32_t flags;		/* PIDFD_NONBLOCK | PIDFD_THREAD */
	uint32_t cloexec;
	int32_t same;
	int32_t sock;
	uint32_t sends;
	uint32_t take;
};

/* A seccomp filter to install: SECCOMP_SET_MODE_FILTER with flags. */
struct rst_filter {
	uint64_t prog;		/* struct sock_filter[len] */
	uint32_t len;
	uint32_t flags;
};

#define PIE_THREAD_STACK	(16 * 1024)

/*
 * A POSIX timer to create under its own id (PR_TIMER_CREATE_RESTORE_IDS),
 * armed once everything else is in place. Thread indexes: -1 the main
 * thread (or the process, for a CPU clock), k >= 0 threads[k].
 */
struct rst_posix_timer {
	int32_t id;
	int32_t clockid;	/* a CPU clock gets its pid/tid put in */
	uint32_t cpu_clock;	/* 0 none, 1 of the process, 2 of a thread */
	int32_t clock_thread;
	uint32_t notify;	/* sigev_notify */
	uint32_t signo;
	uint64_t sival;
	int32_t notify_thread;	/* SIGEV_THREAD_ID */
	int32_t overrun;	/* what timer_getoverrun said */
	int64_t interval_sec, interval_nsec;
	int64_t value_sec, value_nsec;
};

/*
 * A POSIX lock the restored process takes itself (F_SETLK on its fd, from
 * start, len bytes, 0: to EOF), after the restorer closed crest's fds.
 */
struct rst_lock {
	int32_t fd;
	int32_t type;		/* F_RDLCK, F_WRLCK */
	int64_t start;
	int64_t len;
};

/* What went wrong, reported back to crest in the argument block. */
enum rst_stage {
	RST_STAGE_START = 0,
	RST_STAGE_UNMAP,
	RST_STAGE_VDSO,
	RST_STAGE_MAP,
	RST_STAGE_PAGES,
	RST_STAGE_CRC,
	RST_STAGE_PROTECT,
	RST_STAGE_MM,
	RST_STAGE_SIGNALS,
	RST_STAGE_TIMERS,
	RST_STAGE_RLIMITS,
	RST_STAGE_THREADS,
	RST_STAGE_CREDS,
	RST_STAGE_LOCKS,
	RST_STAGE_DONE,
	RST_STAGE_ATTRS,	/* seccomp, THP, timer slack (task-attrs.c) */
	RST_STAGE_ADVICE,	/* madvise() advice, mlock of the VMAs */
	RST_STAGE_FILES,	/* a thread's own fd table, owners of fds */
	RST_STAGE_LAZY,		/* userfaultfd for --lazy-pages, handed to the server */
	RST_STAGE_AIO,		/* Linux AIO contexts made again */
};

/*
 * What a restorer tells the lazy-pages server (src/lazy.c) over
 * restore_args.lazy_fd, a SOCK_SEQPACKET socket: who it is, with its
 * userfaultfd (SCM_RIGHTS) if it registered any mapping (nr_lazy).
 */
struct rst_lazy_hello {
	int32_t orig_pid;
	int32_t new_pid;
	uint32_t nr_lazy;	/* mappings registered: 0, no fd comes */
	uint32_t pad;
};

struct restore_args {
	uint32_t version;
	uint32_t stage;		/* last stage reached */
	int64_t ret;		/* 0 or -errno of the failed step */
	uint64_t fail_addr;	/* address or index the failure concerns */

	struct rst_range self;	/* this area: kept while unmapping */
	struct rst_range cur_special[RST_NR_SPECIAL];	/* in this process */
	struct rst_range tgt_special[RST_NR_SPECIAL];	/* where they were */
	uint64_t move_via;	/* free scratch address for overlapping moves */

	uint32_t nr_vmas;
	uint32_t nr_runs;
	uint64_t vmas;		/* struct rst_vma[] */
	uint64_t runs;		/* struct rst_run[] */
	int32_t pages_fd;
	int32_t chain_fds[RST_MAX_CHAIN];	/* [0] = pages_fd; earlier dumps' pages */
	uint32_t verify_crc;
	int32_t mem_fd;		/* /proc/self/mem, -1 if no RST_VMA_FORCE */
	uint32_t pad_mem;
	uint64_t pages_off;	/* file offset of the first page (run.off 0) */

	struct rst_mm_map mm;
	uint32_t has_mm;
	uint32_t nr_close;
	uint64_t close_fds;	/* int32_t[]: crest's fds, closed at the end */

	struct pie_sigaction sigactions[CREST_NSIG];
	uint64_t sigaction_set;	/* bit sig-1: restore this one */
	/*
	 * What is the main thread's own, as for the others (its tid, stack
	 * and comm are not used: it has them already); its siginfo also
	 * holds the process-wide pending signals.
	 */
	struct rst_thread main;
	uint64_t itimers[3][4];

	struct pie_rlimit rlimits[PIE_NR_RLIMITS];
	uint32_t has_rlimits;
	uint32_t new_pid;	/* restored under another PID than it had */
	uint32_t child_subreaper;
	uint32_t nr_threads;	/* besides the main one */
	uint32_t pad1;
	uint64_t threads;	/* struct rst_thread[] */
	uint64_t xcomp_perm;	/* features to ask for again (ARCH_REQ_XCOMP_PERM) */
	uint32_t zombie_leader;	/* the main thread only builds, then exits */
	uint32_t pad2;
	uint64_t zombie_blocked;	/* zombie_leader: the mask it exits with */

	uint32_t has_creds;
	uint32_t uid, euid, suid, gid, egid, sgid;
	uint32_t nr_groups;
	uint32_t groups[64];

	uint32_t nr_posix_timers;
	uint32_t pad_timers;
	uint64_t posix_timers;	/* struct rst_posix_timer[] */

	uint32_t nr_locks;
	uint32_t pad3;
	uint64_t locks;		/* struct rst_lock[]: taken last */
	uint32_t nr_fowns;
	uint32_t pad_fowns;
	uint64_t fowns;		/* struct rst_fown[]: after the threads */
	/* src/task-attrs.c */
	uint32_t fsuid, fsgid;
	uint32_t thp_disable;	/* PR_SET_THP_DISABLE arg2 | flags */
	uint32_t nr_shared_filters; /* every thread's: the main thread's before the others exist */
	uint32_t membarrier;	/* MEMBARRIER_CMD_REGISTER_* to do again */
	uint32_t mcl_future;	/* mlockall(): MCL_FUTURE | MCL_ONFAULT, or 0 */
	uint32_t ksm_merge_any;	/* PR_SET_MEMORY_MERGE: KSM for every mapping */
	uint32_t nr_guards;
	uint64_t guards;	/* struct rst_range[]: MADV_GUARD_INSTALL there */
	uint64_t shared_filters;	/* struct rst_filter[] */
	/*
	 * --lazy-pages: the socket to the lazy-pages server (-1: none), and
	 * the userfaultfd features to ask for (UFFD_FEATURE_EVENT_*).
	 */
	int32_t lazy_fd;
	uint32_t pad_lazy;
	uint64_t lazy_features;
	int32_t orig_pid;	/* for the server: which process of the images */
	uint32_t pad_orig;
	uint32_t nr_aios;
	int32_t aio_null_fd;	/* /dev/null, written to move an AIO ring's tail */
	uint64_t aios;		/* struct rst_aio[] */
	uint8_t scratch[128];	/* crest's: a siginfo it queues by remote syscall */
	/*
	 * A process of a user namespace of the tree: its fd, joined
	 * (setns) before crest's fds are closed and the ids (already in
	 * the namespace's terms) are set; -1: none.
	 */
	int32_t userns_fd;
	uint32_t pad_userns;
	uint32_t nr_pidfds;
	uint32_t pad_pidfds;
	uint64_t pidfds;	/* struct rst_pidfd[]: after the threads */
};

_Static_assert(sizeof(struct pie_sigaction) == 32, "pie_sigaction layout");
_Static_assert(sizeof(struct rst_vma) == 56, "rst_vma layout");
_Static_assert(sizeof(struct rst_run) == 32, "rst_run layout");
_Static_assert(sizeof(struct rst_aio) == 32, "rst_aio layout");
_Static_assert(sizeof(struct rst_lock) == 24, "rst_lock layout");
_Static_assert(sizeof(struct rst_fd) == 16, "rst_fd layout");
_Static_assert(sizeof(struct rst_fown) == 8, "rst_fown layout");
_Static_assert(sizeof(struct rst_pidfd) == 32, "rst_pidfd layout");
_Static_assert(sizeof(struct rst_mm_map) == 104, "prctl_mm_map layout");
_Static_assert(sizeof(struct rst_siginfo) == 136, "rst_siginfo layout");
_Static_assert(sizeof(struct pie_posix_timer) == 40, "pie_posix_timer layout");
_Static_assert(sizeof(struct rst_posix_timer) == 72, "rst_posix_timer layout");
_Static_assert(sizeof(struct rst_thread) % 8 == 0, "rst_thread align");
_Static_assert(sizeof(struct rst_filter) == 16, "rst_filter layout");
_Static_assert(sizeof(struct rst_lazy_hello) == 16, "rst_lazy_hello layout");
_Static_assert(sizeof(struct pie_regs) == 152, "pie_regs layout (asm offsets)");
_Static_assert(sizeof(struct parasite_args) % 8 == 0, "parasite_args align");
_Static_assert(sizeof(struct restore_args) % 8 == 0, "restore_args align");

#endif
