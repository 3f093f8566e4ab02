/*
 * SO_PEERCRED of restored unix sockets. With nobody's effective ids
 * (65534, real and saved ids still root's) the case makes a socketpair,
 * listens on an abstract name, and connects to a listener it made as
 * root: the kernel hands nobody's uid and gid to the pair's ends, to the
 * listener's clients, and to the end accepted from the root listener.
 * Then root again, a root client connects to nobody's listener and is
 * accepted (the client sees nobody, the accepted end root).
 * After the restore every end shows the uid and gid it showed before.
 * (The pid: sk_unix_peerpid for socketpairs, sk_unix_peerpid_listen for
 * listeners and connections; not checked here.)
 */
#include "caselib.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NOBODY	65534

static socklen_t set_abstract(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s-%d", name, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1);
}

static void as(uid_t uid, gid_t gid)
{
	if (uid) {
		if (setresgid(-1, gid, -1) || setresuid(-1, uid, -1))
			case_fail("setresuid: %s", strerror(errno));
	} else if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1)) {
		case_fail("setresuid back: %s", strerror(errno));
	}
}

static void creds(const char *what, int fd, uid_t uid, gid_t gid)
{
	struct ucred c;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len))
		case_fail("%s: SO_PEERCRED: %s", what, strerror(errno));
	if (c.uid != uid || c.gid != gid)
		case_fail("%s: the peer is uid %d gid %d, want %d %d", what, (int)c.uid,
			  (int)c.gid, (int)uid, (int)gid);
}

static int accept_one(int l)
{
	int a = accept(l, NULL, NULL);

	if (a < 0)
		case_fail("accept: %s", strerror(errno));
	return a;
}

int main(void)
{
	struct sockaddr_un nsa, rsa;
	socklen_t nlen, rlen;
	int sv[2], nl, rl, nc, ra, rc, na;

	case_init();
	nlen = set_abstract(&nsa, "crest-creds-nobody");
	rlen = set_abstract(&rsa, "crest-creds-root");
	rl = socket(AF_UNIX, SOCK_STREAM, 0);
	if (rl < 0 || bind(rl, (struct sockaddr *)&rsa, rlen) || listen(rl, 4))
		case_fail("root listener: %s", strerror(errno));

	as(NOBODY, NOBODY);
	nl = socket(AF_UNIX, SOCK_STREAM, 0);
	nc = socket(AF_UNIX, SOCK_STREAM, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || nl < 0 || nc < 0 ||
	    bind(nl, (struct sockaddr *)&nsa, nlen) || listen(nl, 4) ||
	    connect(nc, (struct sockaddr *)&rsa, rlen))
		case_fail("as nobody: %s", strerror(errno));
	as(0, 0);
	ra = accept_one(rl);
	rc = socket(AF_UNIX, SOCK_STREAM, 0);
	if (rc < 0 || connect(rc, (struct sockaddr *)&nsa, nlen))
		case_fail("root client: %s", strerror(errno));
	na = accept_one(nl);

	creds("pair end", sv[0], NOBODY, NOBODY);
	creds("nobody's listener", nl, NOBODY, NOBODY);
	creds("root client of nobody's listener", rc, NOBODY, NOBODY);
	creds("accepted from root's client", na, 0, 0);
	creds("nobody's client of root's listener", nc, 0, 0);
	creds("accepted from nobody's client", ra, NOBODY, NOBODY);

	case_ready();
	case_wait_go();

	creds("pair end", sv[0], NOBODY, NOBODY);
	creds("other pair end", sv[1], NOBODY, NOBODY);
	creds("nobody's listener", nl, NOBODY, NOBODY);
	creds("root's listener", rl, 0, 0);
	creds("root client of nobody's listener", rc, NOBODY, NOBODY);
	creds("accepted from root's client", na, 0, 0);
	creds("nobody's client of root's listener", nc, 0, 0);
	creds("accepted from nobody's client", ra, NOBODY, NOBODY);
	if (write(rc, "x", 1) != 1 || read(na, (char[1]){ 0 }, 1) != 1)
		case_fail("the connection does not carry bytes");
	case_pass();
}
