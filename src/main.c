/* crest: dispatch on the subcommand. */
#include <stdio.h>
#include <string.h>

#include "blcr.h"
#include "check.h"
#include "dump.h"
#include "log.h"
#include "opts.h"
#include "dedup.h"
#include "page-server.h"
#include "restore.h"
#include "show.h"
#include "swrk.h"
#include "verify.h"

#define CREST_VERSION "0.1"

int main(int argc, char **argv)
{
	struct options opts;
	const char *base = strrchr(argv[0], '/');

	/* Installed as cr_checkpoint, cr_restart or cr_run: BLCR's tools. */
	base = base ? base + 1 : argv[0];
	if (blcr_is_tool(base))
		return blcr_main(argc, argv, CREST_VERSION);

	if (opts_parse(argc, argv, &opts))
		return EXIT_USAGE;
	if (opts.help) {
		if (opts.cmd != CMD_NONE)
			opts_command_usage(stdout, opts.cmd);
		else
			opts_usage(stdout);
		return EXIT_OK;
	}
	if (opts.version) {
		printf("crest version %s\n", CREST_VERSION);
		return EXIT_OK;
	}
	if (log_init(opts.log_file, opts.quiet ? -1 : opts.verbosity))
		return EXIT_USAGE;

	switch (opts.cmd) {
	case CMD_DUMP:		return cr_dump(&opts);
	case CMD_RESTORE:	return cr_restore(&opts);
	case CMD_SHOW:		return cr_show(&opts);
	case CMD_CHECK:		return cr_check(&opts);
	case CMD_VERIFY:	return cr_verify(&opts);
	case CMD_SWRK:		return cr_swrk(&opts);
	case CMD_PAGE_SERVER:	return cr_page_server(&opts);
	case CMD_DEDUP:		return cr_dedup(&opts);
	default:		return EXIT_USAGE;
	}
}
