/*
 * fds leading outside the checkpoint: a terminal or socket at 0-2, and
 * pipe ends or unix sockets whose other end no task of the tree holds
 * (files-pipe.c and sk-unix.c turn those into this kind). BLCR's rule: at restore they get crest's own
 * stdin, stdout or stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "proc.h"
#include "tty.h"
#include "util.h"

/*
 * A unix socket is sk-unix.c's, a pty tty.c's: they make those leading
 * outside ours.
 */
static bool ext_recognise(const struct fd_dump *f)
{
	if (f->fi->flags & O_PATH)
		return false;	/* only a path: files-reg.c */
	if (f->fd <= 2 && S_ISSOCK(f->st->st_mode))
		return !sk_unix_fd(f->pid, f->fd);
	return f->fd <= 2 && S_ISCHR(f->st->st_mode) && files_link_tty(f->link) &&
	       !tty_is_pty(f->st);
}

static int ext_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	e->file_id = 0;
	e->has_ext_fd = 1;
	e->ext_fd = f->fd;
	return 0;
}

/*
 * Copies of crest's 0-2 as service fds, so that no task putting its own
 * fd 0 in place can lose what its fd 1 needs. One that crest lacks stays
 * -1 and fails the fd that needs it, by name.
 */
static int ext_open(struct restore_files *rf, struct img_dir *d,
		    MmEntry **mms, int nr_mms)
{
	for (int i = 0; i < 3; i++)
		rf->ext_fd[i] = fcntl(i, F_DUPFD_CLOEXEC, rf->base);
	return 0;
}

static int ext_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	unsigned int which = e->has_ext_fd ? e->ext_fd : e->fd;

	return which <= 2 ? rf->ext_fd[which] : -1;
}

static void ext_show(const struct restore_files *rf, const FdEntry *e,
		     char *buf, size_t len)
{
	snprintf(buf, len, "outside the checkpoint: crest's fd %u",
		 e->has_ext_fd ? e->ext_fd : e->fd);
}

const struct fd_kind_ops ext_fd_ops = {
	.name		= "outside",
	.kind		= FD_KIND__FD_EXTERNAL,
	.recognise	= ext_recognise,
	.dump		= ext_dump,
	.open		= ext_open,
	.service_fd	= ext_service_fd,
	.show		= ext_show,
};
