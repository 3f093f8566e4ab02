/*
 * The new task's side of a restore, run in crest's clone3'd child with
 * the checkpointed PID: open the fds, set what plain syscalls can set,
 * build the restorer's argument block at a hole of the target's layout,
 * and jump into the restorer, leaving crest behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "pie-abi.h"
#include "proc.h"
#include "restore-task.h"
#include "task.h"
#include "util.h"

#include "restorer-blob.h"

#define HOLE_FLOOR	0x10000000UL
#define TASK_TOP	0x7ffffffff000UL

/* glibc registers rseq for us; it must go before our memory does. */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;
#define RSEQ_SIG_X86	0x53053053

struct range { uint64_t start, end; };

struct busy {
	struct range *r;
	int nr;
};

static void busy_add(struct busy *b, uint64_t start, uint64_t end)
{
	b->r = xrealloc(b->r, (b->nr + 1) * sizeof(*b->r));
	b->r[b->nr].start = start;
	b->r[b->nr].end = end;
	b->nr++;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The lowest hole of at least size above HOLE_FLOOR; 0 if none. */
static uint64_t find_hole(struct busy *b, uint64_t size)
{
	uint64_t at = HOLE_FLOOR;

	qsort(b->r, b->nr, sizeof(*b->r), cmp_range);
	for (int i = 0; i < b->nr; i++) {
		if (b->r[i].end <= at)
			continue;
		if (b->r[i].start >= at + size)
			break;
		at = (b->r[i].end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	}
	return at + size <= TASK_TOP ? at : 0;
}

static int special_index(VmaKind kind)
{
	switch (kind) {
	case VMA_KIND__VMA_VVAR:	return RST_VVAR;
	case VMA_KIND__VMA_VVAR_VCLOCK:	return RST_VVAR_VCLOCK;
	case VMA_KIND__VMA_VDSO:	return RST_VDSO;
	default:			return -1;
	}
}

/* Our own layout: what not to land on, and where our vDSO is. */
static int read_own_layout(struct busy *b, struct restore_args *ra)
{
	char *maps = read_file("/proc/self/maps", NULL), *line, *save = NULL;

	if (!maps) {
		pr_perror("can't read /proc/self/maps");
		return -1;
	}
	for (line = strtok_r(maps, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct proc_vma v;
		VmaKind kind;
		int idx;

		if (proc_parse_maps_line(line, &v))
			continue;
		busy_add(b, v.start, v.end);
		if (!strcmp(v.path, "[vdso]"))
			kind = VMA_KIND__VMA_VDSO;
		else if (!strcmp(v.path, "[vvar]"))
			kind = VMA_KIND__VMA_VVAR;
		else if (!strcmp(v.path, "[vvar_vclock]"))
			kind = VMA_KIND__VMA_VVAR_VCLOCK;
		else
			continue;
		idx = special_index(kind);
		ra->cur_special[idx].start = v.start;
		ra->cur_special[idx].end = v.end;
	}
	free(maps);
	return 0;
}

/* crest's own fds, out of the program's way, closed by the restorer. */
struct service_fds {
	int *fds;
	int nr;
	int base;
};

static int service_fd(struct service_fds *s, int fd)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, s->base);

	if (nfd < 0) {
		pr_perror("can't move fd %d above %d", fd, s->base);
		return -1;
	}
	close(fd);
	s->fds = xrealloc(s->fds, (s->nr + 1) * sizeof(int));
	s->fds[s->nr++] = nfd;
	return nfd;
}

static int is_service(const struct service_fds *s, int fd)
{
	for (int i = 0; i < s->nr; i++)
		if (s->fds[i] == fd)
			return 1;
	return 0;
}

static int is_target_fd(const struct restore_files *rf, int fd)
{
	for (int i = 0; i < rf->nr_fds; i++)
		if ((int)rf->fds[i]->fd == fd)
			return 1;
	return 0;
}

/* Close every fd of ours the program did not have. */
static void close_foreign_fds(const struct restore_files *rf,
			      const struct service_fds *s, int keep_log)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int *fds = NULL, nr = 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		fds = xrealloc(fds, (nr + 1) * sizeof(int));
		fds[nr++] = fd;
	}
	closedir(d);
	for (int i = 0; i < nr; i++) {
		int fd = fds[i];

		if (is_service(s, fd) || fd == keep_log)
			continue;
		/* 0-2 that the program had as files get replaced anyway. */
		if (is_target_fd(rf, fd))
			continue;
		close(fd);
	}
	free(fds);
}

static int open_mapped_files(struct restore_task *t, struct service_fds *s,
			     int *file_fds)
{
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		const RegFileEntry *f;
		int fd;

		if (!v->has_file_id || file_fds[v->file_id] >= 0)
			continue;
		f = files_by_id(&t->files, v->file_id);
		fd = files_open_mapped(f, v->kind == VMA_KIND__VMA_FILE_SHARED);
		if (fd < 0 && v->kind == VMA_KIND__VMA_FILE_SHARED && !(v->prot & PROT_WRITE))
			fd = files_open_mapped(f, 0);
		if (fd < 0)
			return -1;
		fd = service_fd(s, fd);
		if (fd < 0)
			return -1;
		file_fds[v->file_id] = fd;
	}
	if (t->mm->has_exe_file_id && file_fds[t->mm->exe_file_id] < 0) {
		int fd = files_open_mapped(files_by_id(&t->files, t->mm->exe_file_id), 0);

		if (fd < 0 || (fd = service_fd(s, fd)) < 0)
			return -1;
		file_fds[t->mm->exe_file_id] = fd;
	}
	return 0;
}

/* Lay out blob | args | arrays | stack in one private mapping. */
static struct restore_args *build_args(struct restore_task *t,
				       struct service_fds *s, int *file_fds,
				       int pages_fd, uint64_t *entry,
				       uint64_t *stack_top)
{
	const CoreEntry *c = t->core;
	const ThreadCoreEntry *tc = c->threads[0];
	size_t blob = (restorer_blob_size + 63) & ~63UL;
	size_t n_sig = tc->n_pending;
	size_t size, off;
	struct busy busy = {};
	struct restore_args *ra;
	struct rst_vma *vmas;
	struct rst_run *runs;
	struct rst_siginfo *si;
	uint64_t base, *auxv, max_special = 0;
	int32_t *close_fds;
	unsigned char *p;
	size_t i, nv = 0;

	size = blob + sizeof(*ra) + t->mm->n_vmas * sizeof(struct rst_vma) +
	       t->nr_runs * sizeof(struct rst_run) +
	       n_sig * sizeof(struct rst_siginfo) + t->mm->n_auxv * 8 +
	       s->nr * 4 + 64 * 5;
	size = (size + PIE_STACK_SIZE + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	for (i = 0; i < t->mm->n_vmas; i++)
		busy_add(&busy, t->mm->vmas[i]->start, t->mm->vmas[i]->end);
	ra = xzalloc(sizeof(*ra));	/* scratch for cur_special */
	if (read_own_layout(&busy, ra))
		return NULL;
	base = find_hole(&busy, size);
	if (!base) {
		pr_err("no room for the restorer in the process's address space");
		return NULL;
	}
	busy_add(&busy, base, base + size);
	for (i = 0; i < RST_NR_SPECIAL; i++)
		if (ra->cur_special[i].end - ra->cur_special[i].start > max_special)
			max_special = ra->cur_special[i].end - ra->cur_special[i].start;

	p = mmap((void *)base, size, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || (uint64_t)p != base) {
		pr_perror("can't map the restorer at %#lx", (unsigned long)base);
		return NULL;
	}
	memcpy(p, restorer_blob, restorer_blob_size);
	memcpy(p + blob, ra, sizeof(*ra));
	free(ra);
	ra = (struct restore_args *)(p + blob);
	off = blob + sizeof(*ra);
#define TAKE(ptr, bytes) do { ptr = (void *)(p + off); off += ((bytes) + 7) & ~7UL; } while (0)
	TAKE(vmas, t->mm->n_vmas * sizeof(*vmas));
	TAKE(runs, t->nr_runs * sizeof(*runs));
	TAKE(si, n_sig * sizeof(*si));
	TAKE(auxv, t->mm->n_auxv * 8);
	TAKE(close_fds, s->nr * 4);
#undef TAKE
	BUG_ON(off > size - PIE_STACK_SIZE);

	ra->version = PIE_ABI_VERSION;
	ra->self.start = base;
	ra->self.end = base + size;
	ra->move_via = find_hole(&busy, max_special + PAGE_SIZE);

	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		int idx = special_index(v->kind);

		if (idx >= 0) {
			ra->tgt_special[idx].start = v->start;
			ra->tgt_special[idx].end = v->end;
			continue;
		}
		vmas[nv].start = v->start;
		vmas[nv].end = v->end;
		vmas[nv].pgoff = v->pgoff;
		vmas[nv].prot = v->prot;
		vmas[nv].flags = v->flags;
		vmas[nv].fd = v->has_file_id ? file_fds[v->file_id] : -1;
		nv++;
	}
	ra->nr_vmas = nv;
	ra->vmas = (uint64_t)vmas;
	for (i = 0; i < t->nr_runs; i++) {
		runs[i].vaddr = t->runs[i]->vaddr;
		runs[i].nr_pages = t->runs[i]->nr_pages;
		runs[i].crc = t->runs[i]->crc;
	}
	ra->nr_runs = t->nr_runs;
	ra->runs = (uint64_t)runs;
	ra->pages_fd = pages_fd;
	ra->pages_off = IMG_PAGES_OFF;
	ra->verify_crc = 1;

	ra->has_mm = 1;
	ra->mm.start_code = t->mm->start_code;
	ra->mm.end_code = t->mm->end_code;
	ra->mm.start_data = t->mm->start_data;
	ra->mm.end_data = t->mm->end_data;
	ra->mm.start_brk = t->mm->start_brk;
	ra->mm.brk = t->mm->brk;
	ra->mm.start_stack = t->mm->start_stack;
	ra->mm.arg_start = t->mm->arg_start;
	ra->mm.arg_end = t->mm->arg_end;
	ra->mm.env_start = t->mm->env_start;
	ra->mm.env_end = t->mm->env_end;
	memcpy(auxv, t->mm->auxv, t->mm->n_auxv * 8);
	ra->mm.auxv = (uint64_t)auxv;
	ra->mm.auxv_size = t->mm->n_auxv * 8;
	ra->mm.exe_fd = t->mm->has_exe_file_id ? file_fds[t->mm->exe_file_id] : -1;

	for (i = 0; i < n_sig; i++) {
		size_t len = tc->pending[i]->raw.len;

		memcpy(si[i].raw, tc->pending[i]->raw.data, len < 128 ? len : 128);
		si[i].shared = tc->pending[i]->shared;
	}
	ra->nr_siginfo = n_sig;
	ra->siginfo = (uint64_t)si;
	for (i = 0; i < (size_t)s->nr; i++)
		close_fds[i] = s->fds[i];
	ra->nr_close = s->nr;
	ra->close_fds = (uint64_t)close_fds;
	task_fill_restore_args(c, ra);

	*entry = base;
	*stack_top = base + size;
	free(busy.r);
	return ra;
}

static int set_task_basics(const CoreEntry *c)
{
	if (strcmp(c->root, "/") && chroot(c->root)) {
		pr_perror("can't chroot to '%s'", c->root);
		return -1;
	}
	if (chdir(c->cwd)) {
		pr_perror("can't change directory to '%s'", c->cwd);
		return -1;
	}
	umask(c->umask);
	if (personality(c->personality) < 0) {
		pr_perror("can't set personality %#x", c->personality);
		return -1;
	}
	prctl(PR_SET_NAME, c->comm, 0, 0, 0);
	return 0;
}

void restore_task_child(struct restore_task *t)
{
	struct service_fds s = { .base = 3 };
	int *file_fds, pages_fd, report_fd, max_fd = 2;
	uint64_t entry, stack_top, addr;
	struct restore_args *ra;
	sigset_t all;
	char go;

	/* If crest dies before the restorer is done, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (read(t->sync_fd, &go, 1) != 1)
		_exit(EXIT_FAILURE);
	for (int i = 0; i < t->files.nr_fds; i++)
		if ((int)t->files.fds[i]->fd > max_fd)
			max_fd = t->files.fds[i]->fd;
	s.base = max_fd + 1;

	report_fd = service_fd(&s, t->report_fd);
	if (report_fd < 0)
		_exit(EXIT_FAILURE);
	pages_fd = open(t->pages_path, O_RDONLY | O_CLOEXEC);
	if (pages_fd < 0) {
		pr_perror("can't open '%s'", t->pages_path);
		_exit(EXIT_FAILURE);
	}
	if ((pages_fd = service_fd(&s, pages_fd)) < 0)
		_exit(EXIT_FAILURE);
	file_fds = xzalloc((t->files.nr_files + 2) * sizeof(int) * 2);
	for (int i = 0; i < (t->files.nr_files + 2) * 2; i++)
		file_fds[i] = -1;
	if (open_mapped_files(t, &s, file_fds))
		_exit(EXIT_FAILURE);

	close(t->sync_fd);
	close_foreign_fds(&t->files, &s, -1);
	if (files_restore_fds(&t->files))
		_exit(EXIT_FAILURE);
	if (set_task_basics(t->core))
		_exit(EXIT_FAILURE);
	ra = build_args(t, &s, file_fds, pages_fd, &entry, &stack_top);
	if (!ra)
		_exit(EXIT_FAILURE);
	/* The report fd is the restorer's to close; crest learns where to look. */
	addr = (uint64_t)ra;
	if (write(report_fd, &addr, sizeof(addr)) != sizeof(addr))
		_exit(EXIT_FAILURE);

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* From here on no libc: glibc's rseq area is about to vanish. */
	if (__rseq_size) {
		char *area = (char *)__builtin_thread_pointer() + __rseq_offset;

		if (syscall(SYS_rseq, area, 32, 1 /* UNREGISTER */, RSEQ_SIG_X86) &&
		    syscall(SYS_rseq, area, __rseq_size, 1, RSEQ_SIG_X86)) {
			pr_perror("can't unregister crest's rseq area");
			_exit(EXIT_FAILURE);
		}
	}
	arch_jump_to_pie(entry, stack_top, addr);
}
