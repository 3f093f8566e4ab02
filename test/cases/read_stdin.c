/* Blocked in read(0) on a pipe; after restore the runner writes a line to
 * the restored process's stdin. */
#include "caselib.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	static const char want[] = "hello crest\n";
	char buf[256];
	size_t len = 0;
	ssize_t n;

	case_init();
	case_ready();
	while (len < sizeof(buf) - 1) {
		n = read(0, buf + len, sizeof(buf) - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			case_fail("read: %s", strerror(errno));
		}
		if (n == 0)
			break;
		len += n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	if (strcmp(buf, want))
		case_fail("read \"%s\" (%zu bytes), want \"hello crest\\n\"", buf, len);
	case_wait_go();
	case_pass();
}
