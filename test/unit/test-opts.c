/* Unit tests for crest's command line (src/opts.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "opts.h"

/* opts_parse(argv) with argv given as a NULL-terminated list of words. */
#define PARSE(o, ...) parse(o, (const char *[]){ __VA_ARGS__, NULL })

static int parse(struct options *o, const char **words)
{
	static char *argv[32];
	int argc = 0;

	while (words[argc]) {
		assert_true(argc < 31);
		argv[argc] = (char *)words[argc];
		argc++;
	}
	argv[argc] = NULL;
	return opts_parse(argc, argv, o);
}

static void test_dump_full(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "123", "-D", "/x",
			       "--leave-running", "-v4", "-o", "l"), 0);
	assert_int_equal(o.cmd, CMD_DUMP);
	assert_int_equal(o.pid, 123);
	assert_string_equal(o.dir, "/x");
	assert_true(o.leave_running);
	assert_false(o.detach);
	assert_int_equal(o.verbosity, 4);
	assert_string_equal(o.log_file, "l");
	assert_null(o.show_path);
	assert_false(o.help);
	assert_false(o.version);
}

static void test_dump_defaults(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1"), 0);
	assert_int_equal(o.cmd, CMD_DUMP);
	assert_int_equal(o.pid, 1);
	assert_string_equal(o.dir, ".");
	assert_false(o.leave_running);
	assert_int_equal(o.verbosity, LOG_WARN);
	assert_null(o.log_file);
}

static void test_dump_long_forms(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "dump", "--tree=77", "--images-dir", "/y",
			       "-R", "--verbosity=3", "--log-file=f.log"), 0);
	assert_int_equal(o.pid, 77);
	assert_string_equal(o.dir, "/y");
	assert_true(o.leave_running);
	assert_int_equal(o.verbosity, 3);
	assert_string_equal(o.log_file, "f.log");

	/* Options may come in any order, before the command's own ones too. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-D", "dd", "--tree", "9"), 0);
	assert_int_equal(o.pid, 9);
	assert_string_equal(o.dir, "dd");
}

static void test_verbosity(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "restore", "-v"), 0);
	assert_int_equal(o.verbosity, LOG_INFO);
	assert_int_equal(PARSE(&o, "crest", "restore", "-vv"), 0);
	assert_int_equal(o.verbosity, LOG_DEBUG);
	assert_int_equal(PARSE(&o, "crest", "restore", "-v3"), 0);
	assert_int_equal(o.verbosity, LOG_DEBUG);
	assert_int_equal(PARSE(&o, "crest", "restore", "--verbosity"), 0);
	assert_int_equal(o.verbosity, LOG_INFO);
	assert_int_equal(PARSE(&o, "crest", "restore", "-v0"), 0);
	assert_int_equal(o.verbosity, 0);
	assert_int_equal(PARSE(&o, "crest", "restore", "-vx"), -1);
}

static void test_restore(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "restore", "-D", "d", "-d"), 0);
	assert_int_equal(o.cmd, CMD_RESTORE);
	assert_string_equal(o.dir, "d");
	assert_true(o.detach);
	assert_false(o.leave_running);
	assert_int_equal(o.pid, 0);

	assert_int_equal(PARSE(&o, "crest", "restore"), 0);
	assert_int_equal(o.cmd, CMD_RESTORE);
	assert_string_equal(o.dir, ".");
	assert_false(o.detach);

	assert_int_equal(PARSE(&o, "crest", "restore", "--restore-detached",
			       "--images-dir=/z"), 0);
	assert_true(o.detach);
	assert_string_equal(o.dir, "/z");
}

/* CRIU's --inherit-fd fd[N]:KEY, restore only; the key may hold ']:'. */
static void test_inherit_fd(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "restore", "--inherit-fd", "fd[7]:pipe:[123]",
			       "--inherit-fd", "fd[0]:/a]:b"), 0);
	assert_int_equal(o.nr_inherit_fd, 2);
	assert_int_equal(o.inherit_fd[0].fd, 7);
	assert_string_equal(o.inherit_fd[0].key, "pipe:[123]");
	assert_int_equal(o.inherit_fd[1].fd, 0);
	assert_string_equal(o.inherit_fd[1].key, "/a]:b");
	assert_int_not_equal(PARSE(&o, "crest", "restore", "--inherit-fd", "fd[]:k"), 0);
	assert_int_not_equal(PARSE(&o, "crest", "restore", "--inherit-fd", "fd[x]:k"), 0);
	assert_int_not_equal(PARSE(&o, "crest", "restore", "--inherit-fd", "fd[-1]:k"), 0);
	assert_int_not_equal(PARSE(&o, "crest", "restore", "--inherit-fd", "fd[3]:"), 0);
	assert_int_not_equal(PARSE(&o, "crest", "restore", "--inherit-fd", "7:k"), 0);
	assert_int_not_equal(PARSE(&o, "crest", "dump", "-t", "1", "--inherit-fd", "fd[3]:k"), 0);
}

/* CRIU's --file-locks (-l): accepted by dump and restore, changes nothing. */
static void test_file_locks(void **state)
{
	struct options o, plain;

	assert_int_equal(PARSE(&plain, "crest", "dump", "-t", "5"), 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--file-locks"), 0);
	assert_int_equal(memcmp(&o, &plain, sizeof(o)), 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-l", "-t", "5"), 0);
	assert_int_equal(memcmp(&o, &plain, sizeof(o)), 0);
	assert_int_equal(PARSE(&plain, "crest", "restore", "-d"), 0);
	assert_int_equal(PARSE(&o, "crest", "restore", "-d", "--file-locks"), 0);
	assert_int_equal(memcmp(&o, &plain, sizeof(o)), 0);
	assert_int_equal(PARSE(&o, "crest", "show", "--file-locks", "x"), -1);
}

/* --sign-key is dump's, --verify-key restore's and verify's. */
static void test_keys(void **state)
{
	struct options o;

	(void)state;
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--sign-key", "k"), 0);
	assert_string_equal(o.sign_key, "k");
	assert_null(o.verify_key);
	assert_int_equal(PARSE(&o, "crest", "restore", "--verify-key", "k"), 0);
	assert_string_equal(o.verify_key, "k");
	assert_null(o.sign_key);
	assert_int_equal(PARSE(&o, "crest", "verify", "--verify-key", "k", "d"), 0);
	assert_string_equal(o.verify_key, "k");
	assert_int_equal(PARSE(&o, "crest", "restore", "--sign-key", "k"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--verify-key", "k"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--sign-key"), -1);
}

static void test_show_check(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "show", "path"), 0);
	assert_int_equal(o.cmd, CMD_SHOW);
	assert_string_equal(o.show_path, "path");

	assert_int_equal(PARSE(&o, "crest", "show", "-v", "img/core-1.img"), 0);
	assert_int_equal(o.cmd, CMD_SHOW);
	assert_string_equal(o.show_path, "img/core-1.img");

	assert_int_equal(PARSE(&o, "crest", "check"), 0);
	assert_int_equal(o.cmd, CMD_CHECK);
	assert_null(o.show_path);
}

static void test_help_version(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "--help"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE(&o, "crest", "-h"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE(&o, "crest", "-V"), 0);
	assert_true(o.version);
	assert_int_equal(PARSE(&o, "crest", "--version"), 0);
	assert_true(o.version);
	/* Help for a command needs none of its required options. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-h"), 0);
	assert_true(o.help);
	assert_int_equal(o.cmd, CMD_DUMP);
}

static void test_usage_text(void **state)
{
	static const char *words[] = {
		"--tree", "--images-dir", "--leave-running", "--restore-detached",
		"--verbosity", "--log-file", "--help", "--version",
		"dump", "restore", "show", "check",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	opts_usage(f);
	fclose(f);
	assert_true(len > 0);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		assert_non_null(strstr(text, words[i]));
	free(text);
}

static char *command_help(enum crest_cmd cmd)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	opts_command_usage(f, cmd);
	fclose(f);
	return text;
}

/*
 * crest COMMAND --help comes from the parser's own tables: every option a
 * command takes has its line, and none it refuses appears.
 */
static void test_command_help(void **state)
{
	char *dump = command_help(CMD_DUMP), *verify = command_help(CMD_VERIFY);
	char *restore = command_help(CMD_RESTORE), *pre = command_help(CMD_PRE_DUMP);
	const char *missing = opts_help_missing();
	struct options q;

	assert_null(missing);
	assert_int_equal(PARSE(&q, "crest", "dump", "-t", "1", "-q"), 0);
	assert_true(q.quiet);
	assert_int_equal(PARSE(&q, "crest", "restore", "--quiet"), 0);
	assert_true(q.quiet);
	assert_non_null(strstr(dump, "-q, --quiet"));
	assert_non_null(strstr(dump, "usage: crest dump"));
	assert_non_null(strstr(dump, "--prev-images-dir PREV"));
	assert_non_null(strstr(dump, "-R, --leave-running, --run"));
	assert_non_null(strstr(dump, "--tcp-established"));
	assert_null(strstr(dump, "--restore-sid"));
	assert_non_null(strstr(restore, "--restore-sid"));
	assert_non_null(strstr(restore, "--status-fd FD"));
	assert_null(strstr(restore, "--freeze-cgroup"));
	assert_non_null(strstr(verify, "--verify-key FILE"));
	assert_null(strstr(verify, "--tcp-established"));
	assert_null(strstr(pre, "--leave-running"));
	/* What the help offers, the parser takes. */
	{
		struct options o;

		assert_int_equal(PARSE(&o, "crest", "verify", "--verify-key", "k", "d"), 0);
		assert_int_equal(PARSE(&o, "crest", "pre-dump", "-t", "1", "-D", "d",
				       "--prev-images-dir", "p"), 0);
		assert_int_not_equal(PARSE(&o, "crest", "pre-dump", "-t", "1", "-R"), 0);
	}
	free(dump);
	free(verify);
	free(restore);
	free(pre);
}

/* CRIU's page server: crest page-server, dump/pre-dump --page-server. */
static void test_page_server_opts(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "page-server", "-D", "d", "--port", "0"), 0);
	assert_int_equal(o.cmd, CMD_PAGE_SERVER);
	assert_int_equal(o.ps_port, 0);
	assert_null(o.ps_address);
	assert_int_equal(PARSE(&o, "crest", "page-server", "--address", "127.0.0.1",
			       "--port", "2727"), 0);
	assert_string_equal(o.ps_address, "127.0.0.1");
	assert_int_equal(o.ps_port, 2727);
	/* The port is needed, and must be one. */
	assert_int_equal(PARSE(&o, "crest", "page-server", "-D", "d"), -1);
	assert_int_equal(PARSE(&o, "crest", "page-server", "--port", "65536"), -1);
	assert_int_equal(PARSE(&o, "crest", "page-server", "--port", "x"), -1);
	assert_int_equal(PARSE(&o, "crest", "page-server", "--port", "1", "-t", "1"), -1);

	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--page-server",
			       "--address", "h", "--port", "2727"), 0);
	assert_true(o.page_server);
	assert_int_equal(PARSE(&o, "crest", "pre-dump", "-t", "1", "-D", "d", "--page-server",
			       "--address", "h", "--port", "2727"), 0);
	assert_true(o.page_server && o.pre_dump);
	/* Both the address and a port other than 0, and no --file. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--page-server",
			       "--port", "2727"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--page-server",
			       "--address", "h", "--port", "0"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--page-server",
			       "--address", "h", "--port", "1", "--file", "f"), -1);
	/* crest dedup -D DIR; --auto-dedup needs a chain, and no page server. */
	assert_int_equal(PARSE(&o, "crest", "dedup", "-D", "d"), 0);
	assert_int_equal(o.cmd, CMD_DEDUP);
	assert_int_equal(PARSE(&o, "crest", "dedup", "-t", "1"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-D", "d", "--auto-dedup",
			       "--prev-images-dir", "p"), 0);
	assert_true(o.auto_dedup);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-D", "d", "--auto-dedup"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-D", "d", "--auto-dedup",
			       "--prev-images-dir", "p", "--page-server", "--address", "h",
			       "--port", "1"), -1);
	/* --address and --port name a page server: alone they are a mistake. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--port", "2727"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "--page-server"), -1);
}

/* Every long option is in crest(8), as groff spells it ("\-\-images\-dir"). */
static void test_man_page_options(void **state)
{
	char *man = NULL, *text = NULL;
	size_t len = 0;
	FILE *f;

	f = fopen("Documentation/crest.8", "r");
	assert_non_null(f);
	assert_int_equal(getdelim(&man, &len, 0, f) > 0, 1);
	fclose(f);
	text = NULL;
	len = 0;
	f = open_memstream(&text, &len);
	opts_usage(f);
	fclose(f);
	for (char *p = text; (p = strstr(p, "--")); p += 2) {
		char name[64], groff[160];
		size_t n = 0, g = 0;

		while (n < sizeof(name) - 1 && (p[2 + n] == '-' || (p[2 + n] >= 'a' && p[2 + n] <= 'z')))
			name[n] = p[2 + n], n++;
		name[n] = 0;
		if (!n)
			continue;
		g += snprintf(groff + g, sizeof(groff) - g, "\\-\\-");
		for (size_t i = 0; i < n; i++)
			g += snprintf(groff + g, sizeof(groff) - g, name[i] == '-' ? "\\-" : "%c",
				      name[i]);
		if (!strstr(man, groff))
			fail_msg("--%s is in crest --help but not in Documentation/crest.8", name);
	}
	free(text);
	free(man);
}

static void test_errors(void **state)
{
	struct options o;

	/* No command: prints the usage text, kept out of the test's output. */
	{
		int saved = dup(2), null = open("/dev/null", O_WRONLY);

		assert_true(saved >= 0 && null >= 0);
		fflush(stderr);
		dup2(null, 2);
		close(null);
		assert_int_equal(PARSE(&o, "crest"), -1);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
	}
	/* Unknown command. */
	assert_int_equal(PARSE(&o, "crest", "dumpp", "-t", "1"), -1);
	assert_int_equal(PARSE(&o, "crest", "frobnicate"), -1);
	/* dump without -t. */
	assert_int_equal(PARSE(&o, "crest", "dump"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-D", "/x"), -1);
	/* Not a PID. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "abc"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "12x"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", ""), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "0"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "-5"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "99999999999"), -1);
	/* -t without its argument. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-D"), -1);
	/* Unknown options. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-x"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--bogus"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "--no-such-option=1"), -1);
	/* Options that don't apply to the command. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-d"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--restore-detached"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "-R"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "--leave-running"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "-t", "1"), -1);
	assert_int_equal(PARSE(&o, "crest", "show", "-D", "x", "p"), -1);
	assert_int_equal(PARSE(&o, "crest", "check", "-t", "1"), -1);
	/* Stray or missing arguments. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "extra"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "extra"), -1);
	assert_int_equal(PARSE(&o, "crest", "check", "extra"), -1);
	assert_int_equal(PARSE(&o, "crest", "show"), -1);
	assert_int_equal(PARSE(&o, "crest", "show", "a", "b"), -1);

	/* --compress: the stream, or a directory's pages images; not a page server's. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--compress"), 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-D", "d", "--compress"), 0);
	assert_int_equal(PARSE(&o, "crest", "restore", "--file", "f", "--compress"), -1);
	assert_int_equal(PARSE(&o, "crest", "pre-dump", "-t", "1", "-D", "d",
			       "--compress"), 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "-D", "d", "--compress",
			       "--page-server", "--address", "h", "--port", "1"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "1", "--file", "-",
			       "--compress"), 0);
	assert_true(o.compress);

	/* A good command line still parses after all those errors. */
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5"), 0);
	assert_int_equal(o.pid, 5);
}

/* CRIU's --ext-unix-sk[=INO,...]: dump takes inodes, restore accepts it. */
static void test_ext_unix_sk(void **state)
{
	struct options o;

	(void)state;
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5"), 0);
	assert_false(o.ext_unix_sk);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--ext-unix-sk"), 0);
	assert_true(o.ext_unix_sk);
	assert_null(o.ext_unix_sk_inos);
	assert_int_equal(PARSE(&o, "crest", "dump", "--ext-unix-sk=12,345", "-t", "5"), 0);
	assert_true(o.ext_unix_sk);
	assert_string_equal(o.ext_unix_sk_inos, "12,345");
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--ext-unix-sk=12x"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--ext-unix-sk="), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "--ext-unix-sk"), 0);
	assert_int_equal(PARSE(&o, "crest", "show", "--ext-unix-sk", "x"), -1);
}

/* CRIU's --manage-cgroups: soft by default and without a mode; MODE or =MODE. */
static void test_manage_cgroups(void **state)
{
	struct options o;

	(void)state;
	assert_int_equal(PARSE(&o, "crest", "restore", "-D", "d"), 0);
	assert_int_equal(o.manage_cgroups, CG_MODE_SOFT);
	assert_int_equal(PARSE(&o, "crest", "restore", "--manage-cgroups=strict", "-D", "d"), 0);
	assert_int_equal(o.manage_cgroups, CG_MODE_STRICT);
	assert_int_equal(PARSE(&o, "crest", "restore", "--manage-cgroups", "none", "-D", "d"), 0);
	assert_int_equal(o.manage_cgroups, CG_MODE_NONE);
	assert_string_equal(o.dir, "d");
	assert_int_equal(PARSE(&o, "crest", "restore", "--manage-cgroups", "-D", "d"), 0);
	assert_int_equal(o.manage_cgroups, CG_MODE_SOFT);
	assert_string_equal(o.dir, "d");
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--manage-cgroups=ignore"), 0);
	assert_int_equal(o.manage_cgroups, CG_MODE_IGNORE);
	assert_int_equal(PARSE(&o, "crest", "restore", "--manage-cgroups=hard"), -1);
	assert_int_equal(PARSE(&o, "crest", "pre-dump", "-t", "5", "--manage-cgroups"), -1);
}

/* CRIU's --tcp-established: dump saves connections, restore accepts it. */
static void test_tcp_established(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5"), 0);
	assert_false(o.tcp_established);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--tcp-established"), 0);
	assert_true(o.tcp_established);
	assert_int_equal(PARSE(&o, "crest", "restore", "--tcp-established"), 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--tcp-established=1"), -1);
	assert_int_equal(PARSE(&o, "crest", "show", "--tcp-established", "x"), -1);
	/* --network-lock: bpf (the default) or skip; CRIU's iptables and nftables refused. */
	assert_false(o.network_lock_skip);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--network-lock", "skip"), 0);
	assert_true(o.network_lock_skip);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--network-lock", "bpf"), 0);
	assert_false(o.network_lock_skip);
	assert_int_equal(PARSE(&o, "crest", "restore", "--network-lock=skip"), 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--network-lock", "iptables"), -1);
	assert_int_equal(PARSE(&o, "crest", "restore", "--network-lock", "nftables"), -1);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--network-lock", "tc"), -1);
	assert_int_equal(PARSE(&o, "crest", "verify", "--network-lock", "skip"), -1);
	/* --tcp-close: the restore's (connections come back closed). */
	assert_int_equal(PARSE(&o, "crest", "restore", "--tcp-close"), 0);
	assert_true(o.tcp_close);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--tcp-close"), -1);
}

static void test_progress(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5"), 0);
	assert_int_equal(o.progress, 0);
	assert_int_equal(PARSE(&o, "crest", "dump", "-t", "5", "--progress"), 0);
	assert_int_equal(o.progress, 1);
	assert_int_equal(PARSE(&o, "crest", "pre-dump", "-t", "5", "-D", "d",
			       "--no-progress"), 0);
	assert_int_equal(o.progress, -1);
	/* The last one given wins. */
	assert_int_equal(PARSE(&o, "crest", "restore", "--no-progress", "--progress"), 0);
	assert_int_equal(o.progress, 1);
	assert_int_equal(PARSE(&o, "crest", "show", "--progress", "x"), -1);
	assert_int_equal(PARSE(&o, "crest", "verify", "--no-progress"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_full),
		cmocka_unit_test(test_dump_defaults),
		cmocka_unit_test(test_dump_long_forms),
		cmocka_unit_test(test_verbosity),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_file_locks),
		cmocka_unit_test(test_inherit_fd),
		cmocka_unit_test(test_ext_unix_sk),
		cmocka_unit_test(test_manage_cgroups),
		cmocka_unit_test(test_tcp_established),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_show_check),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_usage_text),
		cmocka_unit_test(test_command_help),
		cmocka_unit_test(test_man_page_options),
		cmocka_unit_test(test_page_server_opts),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
