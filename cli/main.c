/*
 * mctl — see mctl.h. Global options come before the command:
 *   mctl [-f CONFIG] [--db PATH] [--json] [--yes] COMMAND [ARGS...]
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mctl.h"
#include "paths.h"

static const struct mctl_command commands[] = {
	{ "tenant", cmd_tenant, "add|list|remove|passwd ...", "manage the tenants file" },
	{ "conns", cmd_conns, "--port P | --pid N | --cluster C",
	    "connections: the kernel's, or per proxy and backend" },
	{ "status", cmd_status, "[--cluster C] [--watch I]", "the cluster overview from the monitor" },
	{ "incidents", cmd_incidents, "[--all | --state S] [--cluster C]", "list incidents" },
	{ "show", cmd_show, "N", "an incident's timeline, pages, public updates" },
	{ "open", cmd_open, "--title T --severity S [...]", "open an incident by hand" },
	{ "ack", cmd_ack, "N [--message M]", "acknowledge an incident" },
	{ "resolve", cmd_resolve, "N [--message M]", "resolve an incident" },
	{ "reopen", cmd_reopen, "N [--message M]", "reopen a resolved incident" },
	{ "note", cmd_note, "N TEXT...", "add an internal note" },
	{ "update", cmd_update, "N --status S --message TEXT", "post a public status update" },
	{ "log", cmd_log, "export [--since T] | prune ...", "export or prune the log" },
	{ "flush", cmd_flush, "BACKEND | --cluster C [--tenant T]",
	    "flush a backend or a cluster's backends" },
	{ "drain", cmd_drain, "PROXY | --cluster C on|off", "refuse new clients / accept again" },
	{ "rebalance", cmd_rebalance, "PROXY | --cluster C [--shed N]",
	    "close client connections above the proxies' mean" },
	{ "oncall", cmd_oncall, "[override JID --until T | cancel ID]",
	    "who is on call now and next; overrides" },
	{ "page", cmd_page, "--test JID [--wait D]", "send a test page through mcalert" },
	{ "statuspage", cmd_statuspage, "render DIR | sinks", "render the status site; sink queues" },
	{ "maintenance", cmd_maintenance, "schedule|list|start|complete|cancel ...",
	    "scheduled maintenances of a cluster" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void
mctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "usage: mctl [-f CONFIG] [--db PATH] [--json] [--yes] COMMAND [ARGS...]\n"
	    "\n"
	    "Options:\n"
	    "  -f CONFIG   configuration file (default $MCOPS_CONFIG or " MCOPS_CONFIG_PATH ")\n"
	    "  --db PATH   incident log (default from the configuration, or " MCOPS_DB_PATH ")\n"
	    "  --json      print results as JSON\n"
	    "  --yes       do not ask for confirmation\n"
	    "  -h, --help  this help; 'mctl COMMAND --help' for a command's own\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-10s %-34s %s\n", commands[i].name, commands[i].usage,
		    commands[i].summary);
	fprintf(fp, "\nExit status: 0 ok, 1 operation failed, 2 usage error, "
		    "3 configuration or database unusable.\n");
}

/* Looked up when a command first records something: the user database (NSS) costs
 * more than a read-only command like `mctl conns` does itself. */
const char *
mctl_actor(struct mctl *ctx)
{
	const char *name = NULL;
	struct passwd *pw;

	if (ctx->actor[0] != '\0')
		return ctx->actor;
	if ((pw = getpwuid(getuid())) != NULL)
		name = pw->pw_name;
	if (name == NULL)
		name = getenv("USER");
	snprintf(ctx->actor, sizeof(ctx->actor), "mctl:%s", name != NULL ? name : "unknown");
	return ctx->actor;
}

int
main(int argc, char **argv)
{
	struct mctl ctx = { 0 };
	int i;
	size_t c;

	/* --json and --yes may stand anywhere (before "--"): people type them last. */
	{
		int j, k = 1;
		bool after_dashes = false;
		for (j = 1; j < argc; j++) {
			if (!after_dashes && strcmp(argv[j], "--json") == 0)
				ctx.json = true;
			else if (!after_dashes && strcmp(argv[j], "--yes") == 0)
				ctx.yes = true;
			else {
				if (strcmp(argv[j], "--") == 0)
					after_dashes = true;
				argv[k++] = argv[j];
			}
		}
		argv[k] = NULL;
		argc = k;
	}
	ctx.config_path = getenv("MCOPS_CONFIG");
	if (ctx.config_path == NULL)
		ctx.config_path = MCOPS_CONFIG_PATH;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return MCTL_EXIT_OK;
		} else if (strcmp(argv[i], "-y") == 0) {
			ctx.yes = true;
		} else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			ctx.config_path = argv[++i];
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			ctx.db_path = argv[++i];
		} else {
			mctl_error("unknown option '%s' (see mctl --help)", argv[i]);
			return MCTL_EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return MCTL_EXIT_USAGE;
	}
	for (c = 0; c < NCOMMANDS; c++) {
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].run(&ctx, argc - i, argv + i);
	}
	mctl_error("unknown command '%s' (see mctl --help)", argv[i]);
	return MCTL_EXIT_USAGE;
}
