/*
 * Every kind of fd, one line each (see files-kind.h). Objects are opened
 * at restore in this order; recognisers never overlap, so it does not
 * matter at dump.
 */
FD_KIND(reg)		/* files-reg.c: regular files and directories */
FD_KIND(chr)		/* files-reg.c: character devices, reopened by path */
FD_KIND(pipe)		/* files-pipe.c: pipes and FIFOs */
/* Before anon: a socketpair its maker made comes in post_open, before an
 * epoll's post_open watches it. */
FD_KIND(unixsk)		/* sk-unix.c, sk-unix-restore.c: unix sockets */
FD_KIND(anon)		/* files-anon.c: eventfd, signalfd, timerfd, epoll */
FD_KIND(tty)		/* tty.c: ptys with their master in the tree */
FD_KIND(inetsk)		/* sk-inet.c: TCP and UDP sockets (and refuses the rest) */
FD_KIND(netlinksk)	/* sk-netlink.c: netlink sockets */
FD_KIND(packetsk)	/* sk-packet.c: packet sockets */
FD_KIND(memfd)		/* shmem.c: memfds (and shared memory behind mappings) */
FD_KIND(inotify)	/* files-notify.c: inotify instances and their watches */
FD_KIND(fanotify)	/* files-notify.c: fanotify groups and their marks */
FD_KIND(mqueue)		/* files-mqueue.c: POSIX message queues (mq_open) */
FD_KIND(pidfd)		/* files-pidfd.c: pidfds, made once every task exists */
FD_KIND(ext)		/* files-ext.c: a tty or socket at 0-2 leading outside */
