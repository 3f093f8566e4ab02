/* Pseudo-terminals of the tree (tty.c): what restore-task.c asks of them. */
#ifndef CREST_TTY_H
#define CREST_TTY_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

struct restore_files;
struct files_pid_map;

/* A pty's master (/dev/ptmx) or slave (/dev/pts/N), by its device. */
bool tty_is_pty(const struct stat *st);
/*
 * In a task that just called setsid(), before it forks: the pty that was
 * its session's controlling terminal becomes it again (orig_pid: its pid
 * at the dump).
 */
int tty_restore_ctty(const struct restore_files *rf, pid_t orig_pid);
/* In that session leader once every task exists: the foreground group. */
int tty_restore_fg(const struct restore_files *rf, pid_t orig_pid,
		   const struct files_pid_map *map);

/*
 * In crest before the tree runs: the job's own foreground group (a nested
 * shell's command) in the foreground of crest's terminal.
 */
int tty_restore_job_fg(const struct restore_files *rf, const struct files_pid_map *map);
/* The images hold a job of a terminal (dump --shell-job). */
bool tty_shell_job(const struct restore_files *rf);
/*
 * A waiting crest whose shell job runs in a process group of its own
 * (--restore-pgid) is the job's shell: it is told when the root stops
 * (tty_job_stopped(), a stop signal's number); it gives its terminal
 * back to its own group, stops itself by the same signal, so that its
 * own shell sees the job stop, and once continued (fg or bg) continues
 * the job, in the foreground of the terminal if crest is.
 */
bool tty_job_control(const struct restore_files *rf, pid_t root);
void tty_job_stopped(const struct restore_files *rf, pid_t root, int sig);
/*
 * crest may have been brought to the foreground: so is the job then. A
 * shell's fg of a job running in the background sends no SIGCONT: while
 * crest went on in the background (tty_job_behind()), it looks often.
 */
void tty_job_continued(pid_t root);
bool tty_job_behind(void);
/*
 * In crest, when the job ended (or the restore failed): crest's terminal
 * gets the modes it had when the restore began, if crest is in its
 * foreground (with or without --shell-job).
 */
void tty_restore_done(const struct restore_files *rf);

/*
 * The modes (termios, window size) of the terminal crest runs on (NULL:
 * none), and putting them back if crest is in its foreground then.
 */
struct tty_modes;
struct tty_modes *tty_modes_keep(void);
void tty_modes_put_back(const struct tty_modes *m);

#endif
