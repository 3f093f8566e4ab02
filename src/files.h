#ifndef CREST_FILES_H
#define CREST_FILES_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"

struct img_dir;

/* The files of one dump: fds and mapped files, written to files.img. */
struct dump_files {
	RegFileEntry **files;
	int nr_files;
	uint64_t *dev, *ino;	/* identity of each, to share ids */
	FdEntry **fds;
	int nr_fds;
};

/* The id of a mapped (or exe) file; the same file gets the same id. */
int files_add_mapped(struct dump_files *df, const char *path,
		     const struct stat *st, uint32_t *id);
/* Collect every fd of pid; -1 (reported) if one is not supported. */
int files_dump_fds(struct dump_files *df, pid_t pid);
int files_write(struct dump_files *df, struct img_dir *d, pid_t pid);

/* Restore side: files.img and fdinfo-PID.img, checked before anything. */
struct restore_files {
	RegFileEntry **files;
	int nr_files;
	FdEntry **fds;
	int nr_fds;
};

int files_read(struct restore_files *rf, struct img_dir *d, pid_t pid);
const RegFileEntry *files_by_id(const struct restore_files *rf, uint32_t id);
/* Every file the images name exists and has not changed size. */
int files_check(const struct restore_files *rf);
/* In the new task: open every fd at its number (service fds are above). */
int files_restore_fds(const struct restore_files *rf);
/* Open a mapped file for mmap; -1 reported. */
int files_open_mapped(const RegFileEntry *f, int shared_write);

#endif
