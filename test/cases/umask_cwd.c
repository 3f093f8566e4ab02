/* umask and the current directory survive C/R. The directory is removed at
 * the end unless $CREST_TMP is set (then the runner removes it). */
#include "caselib.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char dir[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX];
	mode_t old;

	case_init();
	snprintf(dir, sizeof(dir), "%s/crest-cwd-XXXXXX", case_tmpdir());
	if (!mkdtemp(dir))
		case_fail("mkdtemp %s: %s", dir, strerror(errno));
	if (!realpath(dir, real))
		case_fail("realpath: %s", strerror(errno));
	umask(027);
	if (chdir(real) < 0)
		case_fail("chdir: %s", strerror(errno));

	case_ready();
	case_wait_go();

	old = umask(022);
	if (old != 027)
		case_fail("umask %#o, want 027", (unsigned)old);
	if (!getcwd(cwd, sizeof(cwd)))
		case_fail("getcwd: %s", strerror(errno));
	if (strcmp(cwd, real))
		case_fail("cwd \"%s\", want \"%s\"", cwd, real);
	if (!getenv("CREST_TMP")) {
		if (chdir("/") == 0)
			rmdir(real);
	}
	case_pass();
}
