/*
 * The VmFlags of every mapping (/proc/PID/smaps): crest restores a
 * mapping from its kind, protection and MAP_SHARED/PRIVATE only, so any
 * flag those do not explain -- mlock, hugetlb, madvise() advice, uffd
 * registration, a special mapping -- would be lost. Each one crest does
 * not positively know is a refusal, by address, path and meaning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "pie-abi.h"
#include "mem.h"
#include "proc.h"
#include "refuse.h"
#include "util.h"

/*
 * What crest gives back. rd/wr/ex/sh and their may-* (mr mw me ms) come
 * from prot and MAP_SHARED; ac (accounted) from a private writable
 * mapping; sd (soft-dirty) is the kernel's own bookkeeping. gd: the
 * [stack] is mapped MAP_GROWSDOWN again; elsewhere it would be lost.
 * The vDSO area (moved, not mapped, at restore) is pf io de dd by nature.
 * by_mmap and by_advice below: what mmap() flags and the restorer give.
 */
static const char *const always_ok[] = { "rd", "wr", "ex", "sh", "mr", "mw",
					 "me", "ms", "ac", "sd" };
static const char *const vdso_ok[] = { "pf", "io", "de", "dd" };

static const struct { const char *flag, *meaning; } meanings[] = {
	{ "gd", "grows down (MAP_GROWSDOWN)" },
	{ "pf", "pure PFN range (a device mapping)" },
	{ "io", "memory-mapped I/O" },
	{ "lo", "locked in memory (mlock)" },
	{ "lf", "locked on fault (mlock2 MLOCK_ONFAULT)" },
	{ "sr", "madvise MADV_SEQUENTIAL" },
	{ "rr", "madvise MADV_RANDOM" },
	{ "dc", "not copied on fork (MADV_DONTFORK)" },
	{ "de", "can't be expanded (a special mapping)" },
	{ "nr", "no swap reserved (MAP_NORESERVE)" },
	{ "ht", "hugetlb pages" },
	{ "sf", "synchronous page faults (MAP_SYNC)" },
	{ "ar", "architecture-specific" },
	{ "wf", "wiped on fork (MADV_WIPEONFORK)" },
	{ "dd", "left out of core dumps (MADV_DONTDUMP)" },
	{ "mm", "mixed map" },
	{ "hg", "madvise MADV_HUGEPAGE" },
	{ "nh", "madvise MADV_NOHUGEPAGE" },
	{ "mg", "mergeable by KSM (MADV_MERGEABLE)" },
	{ "um", "userfaultfd missing-page tracking" },
	{ "uw", "userfaultfd write-protect tracking" },
	{ "ui", "userfaultfd minor-fault tracking" },
	{ "ss", "shadow stack" },
	{ "sl", "sealed (mseal)" },
	{ "bt", "branch target identification" },
	{ "mt", "memory tagging" },
	{ "gu", "guard regions (MADV_GUARD_INSTALL)" },
};

static int flags_check(const char *path, const char *vmflags, char *out,
		       size_t len, unsigned long *mmap_flags, uint32_t *advice);

/*
 * Flags the restorer gives back after mapping, with madvise() or mlock2()
 * (pie/restorer.c, advise_vmas()).
 */
static const struct { const char *flag; uint32_t adv; } by_advice[] = {
	{ "dc", RST_ADV_DONTFORK },
	{ "wf", RST_ADV_WIPEONFORK },
	{ "dd", RST_ADV_DONTDUMP },
	{ "hg", RST_ADV_HUGEPAGE },
	{ "sr", RST_ADV_SEQUENTIAL },
	{ "rr", RST_ADV_RANDOM },
	{ "lo", RST_ADV_LOCKED },
	{ "lf", RST_ADV_LOCKONFAULT },
	{ "mg", RST_ADV_MERGEABLE },
	{ "sl", RST_ADV_SEALED },
	/* Where: the pagemap's guard bits (mem.c) give the pages. */
	{ "gu", RST_ADV_GUARD },
};

/*
 * Flags that mmap() at restore gives back, with the MAP_* that does it.
 * nh: MADV_NOHUGEPAGE, or MAP_STACK, which since Linux 6.7 means exactly
 * VM_NOHUGEPAGE (glibc maps every thread stack so). nr: MAP_NORESERVE
 * (glibc maps its per-thread malloc arenas so).
 */
static const struct { const char *flag; unsigned long map; } by_mmap[] = {
	{ "nh", MAP_STACK },
	{ "nr", MAP_NORESERVE },
};

static int in(const char *const *list, size_t n, const char *f)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], f))
			return 1;
	return 0;
}

static const char *meaning(const char *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(meanings); i++)
		if (!strcmp(meanings[i].flag, f))
			return meanings[i].meaning;
	return "unknown to crest";
}

int mem_flags_unsupported(const char *path, const char *vmflags,
			  char *out, size_t len)
{
	unsigned long mmap_flags = 0;
	uint32_t advice = 0;

	return flags_check(path, vmflags, out, len, &mmap_flags, &advice);
}

static int flags_check(const char *path, const char *vmflags, char *out,
		       size_t len, unsigned long *mmap_flags, uint32_t *advice)
{
	int vdso = !strcmp(path, "[vdso]") || !strcmp(path, "[vvar]") ||
		   !strcmp(path, "[vvar_vclock]");
	char f[8];
	int n = 0, used = 0;

	out[0] = 0;
	while (sscanf(vmflags, " %7s%n", f, &used) == 1) {
		vmflags += used;
		if (in(always_ok, ARRAY_SIZE(always_ok), f) ||
		    (vdso && in(vdso_ok, ARRAY_SIZE(vdso_ok), f)) ||
		    (!strcmp(f, "gd") && !strcmp(path, "[stack]")) ||
		    /* io_setup() makes an AIO ring so again (mem-aio.c). */
		    (!strcmp(f, "de") && !strcmp(path, "/[aio] (deleted)")))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(by_mmap); i++)
			if (!strcmp(f, by_mmap[i].flag)) {
				*mmap_flags |= by_mmap[i].map;
				f[0] = 0;
			}
		for (size_t i = 0; f[0] && i < ARRAY_SIZE(by_advice); i++)
			if (!strcmp(f, by_advice[i].flag)) {
				*advice |= by_advice[i].adv;
				f[0] = 0;
			}
		if (!f[0])
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s%s (%s)",
			 n ? ", " : "", f, meaning(f));
		n++;
	}
	return n;
}

static int has_flag(const char *vmflags, const char *flag)
{
	char f[8];
	int used = 0;

	while (sscanf(vmflags, " %7s%n", f, &used) == 1) {
		vmflags += used;
		if (!strcmp(f, flag))
			return 1;
	}
	return 0;
}

/*
 * Calls fn with each mapping of pid's smaps and its VmFlags line (which
 * fn may change in place), until fn returns nonzero.
 */
static int smaps_each(pid_t pid, int (*fn)(const struct proc_vma *pv, char *vmflags,
					   void *arg), void *arg)
{
	char *smaps = read_proc(pid, "smaps", NULL), *line, *save = NULL;
	struct proc_vma pv = { .start = 0 };
	int have = 0;

	if (!smaps) {
		pr_perror("can't read /proc/%d/smaps", pid);
		return -1;
	}
	for (line = strtok_r(smaps, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t key = strcspn(line, " ");

		if (key && line[key - 1] != ':') {
			/* A mapping's first line, as in maps. */
			have = !proc_parse_maps_line(line, &pv);
			continue;
		}
		if (have && !strncmp(line, "VmFlags:", 8) && fn(&pv, line + 8, arg))
			break;
	}
	free(smaps);
	return 0;
}

struct future_lock {
	pid_t pid;
	uint64_t addr;
	MmEntry *mm;
};

static int future_lock_of(const struct proc_vma *pv, char *vmflags, void *arg)
{
	struct future_lock *fl = arg;

	if (fl->addr < pv->start || pv->end <= fl->addr)
		return 0;
	if (has_flag(vmflags, "lo")) {
		fl->mm->has_mcl_future = 1;
		fl->mm->mcl_future = MCL_FUTURE | (has_flag(vmflags, "lf") ? MCL_ONFAULT : 0);
		pr_debug("process %d: mlockall(MCL_FUTURE%s)", fl->pid,
			 fl->mm->mcl_future & MCL_ONFAULT ? " | MCL_ONFAULT" : "");
	}
	return 1;
}

/*
 * Nothing locked at all (status' VmLck, mm->locked_vm, counts every
 * VM_LOCKED mapping, lock-on-fault ones too, from the mmap() on): the
 * parasite's mapping is not either, and smaps -- which walks the page
 * tables of every mapping, some 20 ms of CPU per GiB present, all of
 * it with the tree frozen -- need not be read again.
 */
static int nothing_locked(pid_t pid)
{
	char *st = read_proc(pid, "status", NULL), *p;
	int none = 0;

	if (!st)
		return 0;
	p = strstr(st, "\nVmLck:");
	if (p)
		none = strtoull(p + 7, NULL, 10) == 0;
	free(st);
	return none;
}

int mem_future_lock(pid_t pid, uint64_t addr, MmEntry *mm)
{
	struct future_lock fl = { pid, addr, mm };

	if (nothing_locked(pid))
		return 0;
	return smaps_each(pid, future_lock_of, &fl);
}

int mem_ksm(pid_t pid, MmEntry *mm)
{
	char *st = read_proc(pid, "ksm_stat", NULL), *p;

	if (!st)
		return 0;	/* no KSM in this kernel: nothing to lose */
	p = strstr(st, "ksm_merge_any:");
	if (p && !strncmp(p + 14 + strspn(p + 14, " \t"), "yes", 3)) {
		mm->has_ksm_merge_any = 1;
		mm->ksm_merge_any = 1;
	}
	free(st);
	return 0;
}

static VmaEntry *vma_at(const struct mem_layout *ml, uint64_t start)
{
	for (int i = 0; i < ml->nr_vmas; i++)
		if (ml->vmas[i]->start == start)
			return ml->vmas[i];
	return NULL;
}

/* Blank out one flag of a VmFlags line, in place. */
static void drop_flag(char *vmflags, const char *flag)
{
	size_t len = strlen(flag);
	char *p = vmflags;

	while ((p = strstr(p, flag))) {
		if ((p == vmflags || p[-1] == ' ') && (p[len] == ' ' || !p[len]))
			memset(p, ' ', len);
		p += len;
	}
}

struct check_flags {
	pid_t pid;
	const struct mem_layout *ml;
};

static int check_flags_of(const struct proc_vma *pv, char *vmflags, void *arg)
{
	const struct check_flags *cf = arg;
	pid_t pid = cf->pid;
	char bad[1024];
	unsigned long mmap_flags = 0;
	uint32_t advice = 0;
	VmaEntry *v;

	if (!strcmp(pv->path, "[vsyscall]"))
		return 0;	/* the kernel's own, the same everywhere */
	v = vma_at(cf->ml, pv->start);
	if (!v)
		return 0;	/* refused already, by kind */
	/* crest's own write tracking (a pre-dump's), handed over to us. */
	if (cf->ml->tracked)
		drop_flag(vmflags, "uw");
	if (flags_check(pv->path, vmflags, bad, sizeof(bad), &mmap_flags, &advice))
		refuse(pid, "mapping %lx-%lx%s%s%s has %s, not supported yet%s",
		       (unsigned long)pv->start, (unsigned long)pv->end,
		       pv->path[0] ? " ('" : "", pv->path, pv->path[0] ? "')" : "",
		       bad, strstr(bad, "uw (") ?
		       " (tracked by a crest pre-dump? dump with --prev-images-dir)" : "");
	v->flags |= mmap_flags;
	/* Guard pages are found in the pages crest reads: private ones. */
	if ((advice & RST_ADV_GUARD) && v->kind != VMA_KIND__VMA_ANON_PRIVATE &&
	    v->kind != VMA_KIND__VMA_FILE_PRIVATE)
		refuse(pid, "mapping %lx-%lx%s%s%s is shared and has guard regions (MADV_GUARD_INSTALL), not supported yet",
		       (unsigned long)pv->start, (unsigned long)pv->end,
		       pv->path[0] ? " ('" : "", pv->path, pv->path[0] ? "')" : "");
	if (advice) {
		v->has_advice = 1;
		v->advice = advice;
	}
	v->has_accounted = v->has_maywrite = 1;
	v->accounted = has_flag(vmflags, "ac");
	v->maywrite = has_flag(vmflags, "mw");
	return 0;
}

int mem_check_flags(pid_t pid, const struct mem_layout *ml)
{
	struct check_flags cf = { pid, ml };

	return smaps_each(pid, check_flags_of, &cf);
}
