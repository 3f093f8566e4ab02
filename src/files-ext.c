/*
 * fds leading outside the checkpoint: a terminal or socket at 0-2, and
 * pipe ends or unix sockets whose other end no task of the tree holds
 * (files-pipe.c and sk-unix.c turn those into this kind). BLCR's rule: at restore they get crest's own
 * stdin, stdout or stderr; CRIU's --inherit-fd fd[N]:KEY gives the one
 * whose link at the dump was KEY (its desc, "pipe:[INO]") crest's fd N
 * instead.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "log.h"
#include "opts.h"
#include "proc.h"
#include "tty.h"
#include "util.h"

extern const struct fd_kind_ops ext_fd_ops;

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
	const struct options *o = rf->opts;
	int *inh = xzalloc((o->nr_inherit_fd + 1) * sizeof(*inh));

	for (int i = 0; i < 3; i++)
		rf->ext_fd[i] = fcntl(i, F_DUPFD_CLOEXEC, rf->base);
	*files_restore_priv(rf, &ext_fd_ops) = inh;
	/* The caller's fds, copied too: one may be a number a task's fd takes. */
	for (int i = 0; i < o->nr_inherit_fd; i++) {
		inh[i] = fcntl(o->inherit_fd[i].fd, F_DUPFD_CLOEXEC, rf->base);
		if (inh[i] < 0) {
			pr_perror("--inherit-fd fd[%d]:%s: can't use fd %d",
				  o->inherit_fd[i].fd, o->inherit_fd[i].key,
				  o->inherit_fd[i].fd);
			return -1;
		}
	}
	return 0;
}

/* The caller's fd that replaces e (--inherit-fd), or -1. */
static int inherited(const struct restore_files *rf, const FdEntry *e)
{
	const int *inh = *files_restore_priv_ro(rf, &ext_fd_ops);
	const struct options *o = rf->opts;

	for (int i = 0; inh && e->desc && i < o->nr_inherit_fd; i++)
		if (!strcmp(o->inherit_fd[i].key, e->desc))
			return inh[i];
	return -1;
}

static int ext_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	unsigned int which = e->has_ext_fd ? e->ext_fd : e->fd;
	int fd = inherited(rf, e);

	if (fd >= 0)
		return fd;
	return which <= 2 ? rf->ext_fd[which] : -1;
}

static void ext_show(const struct restore_files *rf, const FdEntry *e,
		     char *buf, size_t len)
{
	for (int i = 0; rf->opts && e->desc && i < rf->opts->nr_inherit_fd; i++)
		if (!strcmp(rf->opts->inherit_fd[i].key, e->desc)) {
			snprintf(buf, len, "outside the checkpoint: crest's fd %d (--inherit-fd)",
				 rf->opts->inherit_fd[i].fd);
			return;
		}
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
