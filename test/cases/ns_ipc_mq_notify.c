/*
 * mq_notify registrations on empty POSIX message queues of an IPC
 * namespace of its own (test/run starts it under unshare --ipc, and
 * under unshare --pid --fork --ipc): the parent's SIGEV_SIGNAL with
 * SIGUSR1 and a sigev_value of all 64 bits on one queue and SIGEV_NONE
 * on another, and its child's, made through the fd it inherited, with a
 * real-time signal and a small value on a third.
 *
 * After the restore, from inside: no notification came while the tree
 * was dumped (crest learns a value by firing it and takes the signal
 * away); each registration is there (another mq_notify() is refused with
 * EBUSY) and is the process's own, and a message sent into each queue
 * brings the signal with its value and SI_MESGQ to the process that
 * registered, or nothing for SIGEV_NONE; the registration is gone after
 * it fired, as the kernel does.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS		60000
#define VALUE_A		0x123456789abcdef0ULL
#define VALUE_C		77

static volatile sig_atomic_t got_sig, got_code, nr_got;
static volatile uint64_t got_value;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_value = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
	nr_got++;
}

static void handle(int sig)
{
	struct sigaction sa = { .sa_sigaction = on_sig, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		case_fail("sigaction(%d): %s", sig, strerror(errno));
}

static mqd_t make(const char *name)
{
	struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 16 };
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &a);

	if (q == (mqd_t)-1)
		case_fail("mq_open(%s): %s", name, strerror(errno));
	return q;
}

static int notify(mqd_t q, int how, int sig, uint64_t value)
{
	struct sigevent ev = { .sigev_notify = how, .sigev_signo = sig };

	ev.sigev_value.sival_ptr = (void *)(uintptr_t)value;
	return mq_notify(q, &ev);
}

/* A registration is there: another is refused (EBUSY), whoever asks. */
static const char *registered(mqd_t q)
{
	if (!notify(q, SIGEV_NONE, 0, 0)) {
		mq_notify(q, NULL);
		return "none (a new one was taken)";
	}
	return errno == EBUSY ? NULL : strerror(errno);
}

/* The signal the notification brings, within WAIT_MS; 0 if none came. */
static int wait_sig(int want_nr)
{
	for (int i = 0; i < WAIT_MS / 10 && nr_got < want_nr; i++)
		usleep(10000);
	return nr_got >= want_nr ? got_sig : 0;
}

static void take_one(mqd_t q, const char *who)
{
	char buf[16];

	if (mq_receive(q, buf, sizeof(buf), NULL) != 1 || buf[0] != 'x')
		case_fail("%s: the message sent is not there: %s", who, strerror(errno));
}

static int child_main(mqd_t c, int in, int out)
{
	int rt = SIGRTMIN + 2;
	const char *why;
	char ch;

	handle(rt);
	if (notify(c, SIGEV_SIGNAL, rt, VALUE_C) || write(out, "r", 1) != 1)
		return 2;
	if (read(in, &ch, 1) != 1)
		return 3;
	/* After the restore. */
	if (nr_got) {
		fprintf(stderr, "child: signal %d came while dumped\n", got_sig);
		return 4;
	}
	why = registered(c);
	if (why) {
		fprintf(stderr, "child: its registration is not there: %s\n", why);
		return 5;
	}
	if (mq_send(c, "x", 1, 0) || wait_sig(1) != rt || got_code != SI_MESGQ ||
	    got_value != VALUE_C) {
		fprintf(stderr, "child: signal %d code %d value %llu, want %d %d %d\n",
			got_sig, got_code, (unsigned long long)got_value, rt, SI_MESGQ, VALUE_C);
		return 6;
	}
	take_one(c, "child");
	if (notify(c, SIGEV_NONE, 0, 0)) {
		fprintf(stderr, "child: the registration stayed after it fired\n");
		return 7;
	}
	return 0;
}

int main(void)
{
	int to_child[2], to_parent[2], status = 0, reaped = 0;
	mqd_t a, b, c;
	const char *why;
	pid_t child;
	char ch;

	case_init();
	if (!case_own_ns("ipc"))
		case_fail("not in an IPC namespace of its own (run it under unshare --ipc through test/run)");
	a = make("/crest-mq-sig");
	b = make("/crest-mq-none");
	c = make("/crest-mq-child");
	handle(SIGUSR1);
	if (notify(a, SIGEV_SIGNAL, SIGUSR1, VALUE_A) || notify(b, SIGEV_NONE, 0, 0))
		case_fail("mq_notify: %s", strerror(errno));
	if (pipe(to_child) || pipe(to_parent))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (child == 0)
		_exit(child_main(c, to_child[0], to_parent[1]));
	{
		struct pollfd p = { .fd = to_parent[0], .events = POLLIN };

		if (poll(&p, 1, WAIT_MS) != 1 || read(to_parent[0], &ch, 1) != 1)
			case_fail("the child did not register in %d s", WAIT_MS / 1000);
	}

	case_ready();
	case_wait_go();

	if (nr_got)
		case_fail("signal %d (value %#llx) came while the tree was dumped", got_sig,
			  (unsigned long long)got_value);
	if ((why = registered(a)) || (why = registered(b)) || (why = registered(c)))
		case_fail("a registration is not there after the restore: %s", why);
	/* SIGEV_NONE: it fires with no signal, and is gone. */
	if (mq_send(b, "x", 1, 0))
		case_fail("mq_send: %s", strerror(errno));
	take_one(b, "parent");
	if (notify(b, SIGEV_NONE, 0, 0))
		case_fail("the SIGEV_NONE registration stayed after it fired: %s", strerror(errno));
	if (mq_send(a, "x", 1, 0))
		case_fail("mq_send: %s", strerror(errno));
	if (wait_sig(1) != SIGUSR1 || got_code != SI_MESGQ || got_value != VALUE_A)
		case_fail("the notification brought signal %d code %d value %#llx, want %d %d %#llx",
			  got_sig, got_code, (unsigned long long)got_value, SIGUSR1, SI_MESGQ,
			  VALUE_A);
	take_one(a, "parent");
	if (notify(a, SIGEV_NONE, 0, 0))
		case_fail("the registration stayed after it fired: %s", strerror(errno));
	if (nr_got != 1)
		case_fail("%d signals came, want 1", nr_got);

	if (write(to_child[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	for (int i = 0; !reaped && i < WAIT_MS / 10; i++) {
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w < 0)
			case_fail("waitpid: %s", strerror(errno));
		reaped = w == child;
		if (!reaped)
			usleep(10000);
	}
	if (!reaped)
		case_fail("the child still runs after %d s", WAIT_MS / 1000);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child: exit status %#x", status);
	mq_unlink("/crest-mq-sig");
	mq_unlink("/crest-mq-none");
	mq_unlink("/crest-mq-child");
	case_pass();
}
