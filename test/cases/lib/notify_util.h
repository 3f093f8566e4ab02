/*
 * For the inotify cases on deleted files and nodes (notify_deleted,
 * notify_deleted_nodes): what an inotify fd's fdinfo says of a watch.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* fdinfo's watch of wd: its inode and mask; 0 if there is none. */
static inline int watch_of(int in, int wd, unsigned long long *ino, unsigned int *mask)
{
	char path[64], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", in);
	f = fopen(path, "r");
	if (!f)
		case_fail("can't open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long i;
		unsigned int w, m;

		if (sscanf(line, "inotify wd:%x ino:%llx sdev:%*x mask:%x", &w, &i, &m) == 3 &&
		    (int)w == wd) {
			*ino = i;
			*mask = m;
			found = 1;
		}
	}
	fclose(f);
	return found;
}
