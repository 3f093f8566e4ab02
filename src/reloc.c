/* Path relocation at restore (BLCR's cr_restart --relocate). */
#include <string.h>

#include "reloc.h"
#include "util.h"

char *reloc_path(const struct reloc *rules, int nr, const char *path)
{
	for (int i = 0; i < nr; i++) {
		const char *from = rules[i].from, *to = rules[i].to;
		size_t len = strlen(from);

		if (!strcmp(from, "/"))
			len = 0;	/* "/" leads every absolute path */
		if (strncmp(path, from, len) || (path[len] != 0 && path[len] != '/'))
			continue;
		if (!path[len] || (!len && !strcmp(path, "/")))
			return xstrdup(to);
		/* "/old=/": "/old/x" is "/x", not "//x". */
		return xsprintf("%s%s", strcmp(to, "/") ? to : "", path + len);
	}
	return NULL;
}
