#ifndef CREST_SHMEM_H
#define CREST_SHMEM_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct dump_files;
struct img_dir;
struct proc_fdinfo;
struct restore_files;

/* A memfd held at fd of pid: its id (the same memfd gets the same one). */
int shmem_dump_memfd_fd(struct dump_files *df, pid_t pid, int fd,
			const char *link, const struct stat *st,
			const struct proc_fdinfo *fi, uint32_t *id);
/* Contents of every shared object: only the pages that hold data. */
int shmem_dump_contents(struct dump_files *df, struct img_dir *d);
/* Recreate each object, filled, as service fds (memfds by name). */
int shmem_open_all(struct restore_files *rf, struct img_dir *d, int base);

#endif
