/* What the BLCR front ends (blcr*.c) share among themselves. */
#ifndef CREST_BLCR_INT_H
#define CREST_BLCR_INT_H

#include <stdbool.h>

#include "blcr.h"
#include "log.h"

#define KMSG_NONE	(-1)
#define KMSG_ERROR	LOG_ERROR
#define KMSG_WARNING	LOG_WARN

/* Long options of both tools without a short form. */
enum {
	OPT_VERSION = 256, OPT_ATOMIC, OPT_BACKUP, OPT_CLOBBER, OPT_NOCLOBBER,
	OPT_RUN, OPT_STOP, OPT_TERM, OPT_ABORT, OPT_KILL, OPT_CONT,
	OPT_EARLY_STOP, OPT_EARLY_ABRT, OPT_SYNC, OPT_NOSYNC, OPT_SAVE_EXE,
	OPT_SAVE_PRIVATE, OPT_SAVE_SHARED, OPT_SAVE_ALL, OPT_SAVE_NONE,
	OPT_PTRACED_ERROR, OPT_PTRACED_SKIP, OPT_PTRACED_ALLOW,
	OPT_PTRACER_ERROR, OPT_PTRACER_SKIP, OPT_KMSG_NONE, OPT_KMSG_ERROR,
	OPT_KMSG_WARNING, OPT_OMIT_MAYBE, OPT_OMIT_ALWAYS, OPT_OMIT_NEVER,
	OPT_HOOK_SUCCESS, OPT_HOOK_FAIL_TEMP, OPT_HOOK_FAIL_ENV,
	OPT_HOOK_FAIL_ARGS, OPT_HOOK_FAIL_PERM, OPT_HOOK_FAILURE,
	OPT_RELOCATE, OPT_RESTORE_PID, OPT_NO_RESTORE_PID, OPT_RESTORE_PGID,
	OPT_NO_RESTORE_PGID, OPT_RESTORE_SID, OPT_NO_RESTORE_SID,
	OPT_OMIT, OPT_CR_RUN, OPT_SIGN_KEY, OPT_VERIFY_KEY, OPT_COMPRESS,
};

extern const char *blcr_version;
extern bool blcr_quiet;

/* A message of the tool's own (not crest's), unless -q. */
void blcr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long blcr_read_num(const char *s, long max);
bool blcr_read_int(const char *s, long *v);
/* crest's message level from -v, --kmsg-* and -q. */
int blcr_msg_level(int nverbose, int kmsg, bool q);

int cr_checkpoint_main(int argc, char **argv);
int cr_restart_main(int argc, char **argv);

#endif
