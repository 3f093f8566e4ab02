/* Parsers for /proc files. Each takes the file's text, so tests feed samples. */
#ifndef CREST_PROC_H
#define CREST_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	pid_t pid, ppid, pgid, sid;
	char state;
	char comm[64];
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int num_threads;
	unsigned int flags;		/* PF_*: PF_EXITING is 0x4 */
	/*
	 * Of a process (/proc/PID/stat) that is group-stopped: the stop
	 * signal its parent has yet to be told of by wait(WUNTRACED), 0
	 * once the parent has waited for it (the kernel shows the group's
	 * group_exit_code there, which a wait clears).
	 */
	int exit_code;
};

struct proc_status {
	char state;
	pid_t tracer;
	uint32_t uid[4], gid[4];	/* real, effective, saved, fs */
	uint32_t groups[64];
	int nr_groups;
	int umask;			/* -1 when the kernel doesn't show it */
};

struct proc_vma {
	uint64_t start, end, pgoff;
	int prot;			/* PROT_* */
	int shared;
	unsigned int dev_major, dev_minor;
	uint64_t ino;
	char path[4096];		/* "" for anonymous */
};

struct proc_fdinfo {
	uint64_t pos;
	uint32_t flags;			/* O_*, octal in /proc */
	int mnt_id;
};

int proc_parse_stat(const char *buf, struct proc_stat *st);
int proc_parse_status(const char *buf, struct proc_status *st);
/* The value after "NAME:" of a "NAME: value" line of buf, or NULL. */
const char *proc_field(const char *buf, const char *name);
/* One line of /proc/PID/maps; returns 0 or -1 if the line is malformed. */
int proc_parse_maps_line(const char *line, struct proc_vma *vma);
int proc_parse_fdinfo(const char *buf, struct proc_fdinfo *fi);

#endif
