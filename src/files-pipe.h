#ifndef CREST_FILES_PIPE_H
#define CREST_FILES_PIPE_H

#include <stdint.h>
#include <sys/types.h>

struct dump_files;
struct img_dir;
struct proc_fdinfo;
struct restore_files;

/* The id of the pipe with this inode, added on first sight. */
uint32_t pipe_add(struct dump_files *df, pid_t pid, int fd, uint64_t ino,
		  const struct proc_fdinfo *fi);
/* A FIFO: a pipe with a path, reopened by it. */
uint32_t fifo_add(struct dump_files *df, pid_t pid, int fd, uint64_t ino,
		  const char *path, const struct proc_fdinfo *fi);
/* Every FIFO the images name is still a FIFO at its path (reported). */
int pipes_check(const struct restore_files *rf);
/* The bytes sitting in every pipe, copied with tee(2): not consumed. */
int pipes_dump_data(struct dump_files *df, struct img_dir *d);
/* Create every pipe with its capacity and its bytes; service fds. */
int pipes_open_all(struct restore_files *rf, struct img_dir *d, int base);


#endif
