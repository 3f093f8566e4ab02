/* Path relocation at restore (BLCR's cr_restart --relocate). */
#include <string.h>

#include "reloc.h"
#include "util.h"

char *reloc_path(const struct reloc *rules, int nr, const char *path)
{
	for (int i = 0; i < nr; i++) {
		size_t len = strlen(rules[i].from);

		if (!strncmp(path, rules[i].from, len) &&
		    (path[len] == 0 || path[len] == '/'))
			return xsprintf("%s%s", rules[i].to, path + len);
	}
	return NULL;
}
