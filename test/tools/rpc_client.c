/*
 * rpc_client: drive 'crest swrk FD' as a container runtime drives
 * 'criu swrk FD' -- criu_req messages over a SOCK_SEQPACKET socketpair,
 * hooks answered when notify_scripts is set -- for test/run.
 *
 *   rpc_client CREST version|check|features
 *   rpc_client CREST dump PID DIR [leave-running] [notify] [fail=HOOK] [ps=ADDR:PORT]
 *   rpc_client CREST restore DIR [notify] [lazy] [auto-dedup] [ps=ADDR:PORT]
 *   rpc_client CREST unknown-option DIR PID
 *
 * fail=HOOK: that hook's answer says it failed.
 * Prints the answers ("notify SCRIPT [(with pid)] [traced|running]": the state of the pid a restore hook named, "ok", "pid N", "version M.m NAME",
 * "error ERRNO: MESSAGE"); exits 0 if the request succeeded.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.pb-c.h"

static int send_req(int sk, CriuReq *req)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t buf[65536];

	criu_req__pack(req, buf);
	return send(sk, buf, len, 0) == (ssize_t)len ? 0 : -1;
}

/*
 * " traced" or " running": whether the process a restore's hook named is
 * still under its restorer (TracerPid) at this hook; "" before any did.
 */
static const char *tracer_state(int pid)
{
	char path[64], line[256];
	const char *st = " gone";
	FILE *f;

	if (pid <= 0)
		return "";
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "TracerPid:", 10))
			st = atoi(line + 10) ? " traced" : " running";
	if (f)
		fclose(f);
	return st;
}

int main(int argc, char **argv)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	CriuPageServerInfo ps = CRIU_PAGE_SERVER_INFO__INIT;
	uint8_t buf[65536], extra[8];
	int sv[2], ok = 0, notifies = 0;
	pid_t crest;
	const char *fail = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: rpc_client CREST REQUEST ...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		char *colon;

		notifies |= !strcmp(argv[i], "notify");
		if (!strncmp(argv[i], "fail=", 5))
			fail = argv[i] + 5;
		if (!strcmp(argv[i], "lazy"))		/* criu_opts.lazy_pages */
			o.has_lazy_pages = o.lazy_pages = 1;
		if (!strcmp(argv[i], "auto-dedup"))	/* criu_opts.auto_dedup */
			o.has_auto_dedup = o.auto_dedup = 1;
		if (!strcmp(argv[i], "tcp-established"))	/* criu_opts.tcp_established */
			o.has_tcp_established = o.tcp_established = 1;
		if (!strcmp(argv[i], "skip-in-flight"))	/* criu_opts.tcp_skip_in_flight */
			o.has_tcp_skip_in_flight = o.tcp_skip_in_flight = 1;
		if (!strcmp(argv[i], "tcp-close"))	/* criu_opts.tcp_close */
			o.has_tcp_close = o.tcp_close = 1;
		/* netlock=N: criu_opts.network_lock (1 IPTABLES, 2 NFTABLES, 3 SKIP) */
		if (!strncmp(argv[i], "netlock=", 8)) {
			o.has_network_lock = 1;
			o.network_lock = atoi(argv[i] + 8);
		}
		/* cg-mode=N: manage_cgroups (as runc: true) and its mode N */
		if (!strncmp(argv[i], "cg-mode=", 8)) {
			o.has_manage_cgroups = o.manage_cgroups = 1;
			o.has_manage_cgroups_mode = 1;
			o.manage_cgroups_mode = atoi(argv[i] + 8);
		}
		/* ps=ADDR:PORT: criu_opts.ps, a page server by address */
		if (!strncmp(argv[i], "ps=", 3) && (colon = strrchr(argv[i], ':'))) {
			*colon = 0;
			ps.address = argv[i] + 3;
			ps.has_port = 1;
			ps.port = atoi(colon + 1);
			o.ps = &ps;
		}
	}
	req.opts = &o;
	o.images_dir_fd = -1;
	if (!strcmp(argv[2], "version")) {
		req.type = CRIU_REQ_TYPE__VERSION;
	} else if (!strcmp(argv[2], "check")) {
		req.type = CRIU_REQ_TYPE__CHECK;
	} else if (!strcmp(argv[2], "features")) {
		req.type = CRIU_REQ_TYPE__FEATURE_CHECK;
	} else if (!strcmp(argv[2], "dump") && argc >= 5) {
		req.type = CRIU_REQ_TYPE__DUMP;
		o.has_pid = 1;
		o.pid = atoi(argv[3]);
		o.images_dir_fd = open(argv[4], O_RDONLY | O_DIRECTORY);
		o.has_leave_running = o.leave_running = argc > 5 && !strcmp(argv[5], "leave-running");
		o.log_file = "dump.log";
		o.has_log_level = 1;
		o.log_level = 4;
	} else if (!strcmp(argv[2], "restore") && argc >= 4) {
		req.type = CRIU_REQ_TYPE__RESTORE;
		o.images_dir_fd = open(argv[3], O_RDONLY | O_DIRECTORY);
		o.log_file = "restore.log";
		o.has_log_level = 1;
		o.log_level = 4;
	} else if (!strcmp(argv[2], "unknown-option") && argc >= 5) {
		/* A CRIU option crest doesn't offer: field 22, exec_cmd. */
		ProtobufCMessageUnknownField u = { .tag = 22,
			.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, .len = 3, .data = extra };

		req.type = CRIU_REQ_TYPE__DUMP;
		o.has_pid = 1;
		o.pid = atoi(argv[4]);
		o.images_dir_fd = open(argv[3], O_RDONLY | O_DIRECTORY);
		memcpy(extra, "\x02/x", 3);
		o.base.n_unknown_fields = 1;
		o.base.unknown_fields = &u;
	} else {
		fprintf(stderr, "rpc_client: bad request\n");
		return 2;
	}
	/* Out of the way of fd 3, the socket crest gets. */
	if (o.images_dir_fd >= 0)
		o.images_dir_fd = fcntl(o.images_dir_fd, F_DUPFD, 10);
	o.has_notify_scripts = o.notify_scripts = notifies;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return 1;
	crest = fork();
	if (crest == 0) {
		close(sv[0]);
		dup2(sv[1], 3);
		execl(argv[1], "crest", "swrk", "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	if (send_req(sv[0], &req))
		return 1;
	int hook_pid = 0;	/* the restored root, once a hook named it */

	for (;;) {
		ssize_t n = recv(sv[0], buf, sizeof(buf), 0);
		CriuResp *r = n > 0 ? criu_resp__unpack(NULL, n, buf) : NULL;

		if (!r) {
			printf("error: no answer\n");
			break;
		}
		if (r->type == CRIU_REQ_TYPE__NOTIFY) {
			CriuReq ack = CRIU_REQ__INIT;

			if (r->notify && r->notify->has_pid)
				hook_pid = r->notify->pid;
			printf("notify %s%s%s\n", r->notify && r->notify->script ? r->notify->script : "?",
			       r->notify && r->notify->has_pid ? " (with pid)" : "",
			       tracer_state(hook_pid));
			ack.type = CRIU_REQ_TYPE__NOTIFY;
			ack.has_notify_success = 1;
			ack.notify_success = !(fail && r->notify && r->notify->script &&
					       !strcmp(r->notify->script, fail));
			criu_resp__free_unpacked(r, NULL);
			if (send_req(sv[0], &ack))
				break;
			continue;
		}
		ok = r->success;
		if (!r->success)
			printf("error %d: %s\n", r->cr_errno, r->cr_errmsg ? r->cr_errmsg : "");
		else if (r->version)
			printf("version %d.%d %s\n", r->version->major_number,
			       r->version->minor_number, r->version->name ? r->version->name : "");
		else if (r->restore)
			printf("pid %d\n", r->restore->pid);
		else if (r->features)
			printf("features mem_track=%d lazy_pages=%d\n", r->features->mem_track,
			       r->features->lazy_pages);
		else
			printf("ok\n");
		criu_resp__free_unpacked(r, NULL);
		break;
	}
	close(sv[0]);
	waitpid(crest, NULL, 0);
	return ok ? 0 : 1;
}
