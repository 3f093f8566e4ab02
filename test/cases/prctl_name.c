/* The task name set with PR_SET_NAME survives C/R. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define NAME	"crest-named"

int main(void)
{
	char name[32] = { 0 }, comm[64] = { 0 };
	ssize_t n;
	int fd;

	case_init();
	if (prctl(PR_SET_NAME, NAME, 0, 0, 0) < 0)
		case_fail("PR_SET_NAME: %s", strerror(errno));
	case_ready();
	case_wait_go();

	if (prctl(PR_GET_NAME, name, 0, 0, 0) < 0)
		case_fail("PR_GET_NAME: %s", strerror(errno));
	if (strcmp(name, NAME))
		case_fail("PR_GET_NAME \"%s\", want \"%s\"", name, NAME);
	fd = open("/proc/self/comm", O_RDONLY);
	if (fd < 0)
		case_fail("open /proc/self/comm: %s", strerror(errno));
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n < 0)
		case_fail("read comm: %s", strerror(errno));
	if (strcmp(comm, NAME "\n"))
		case_fail("/proc/self/comm \"%s\", want \"%s\"", comm, NAME);
	case_pass();
}
