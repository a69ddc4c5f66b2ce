/*
 * mctl — the operator's command line. main.c holds the table of commands; each
 * group of commands lives in its own cli/cmd_<group>.c and is declared here.
 *
 * A command function gets the shared context and its own argv (argv[0] is the
 * command's name) and returns the process exit status:
 *   0 success, 1 the operation failed (a node down, an invalid transition),
 *   2 usage error (bad flags or arguments), 3 configuration or database unusable.
 * Errors are printed to stderr as "mctl: <what failed>: <why>". With --json the
 * result goes to stdout as one JSON document.
 */
#ifndef MCOPS_MCTL_H
#define MCOPS_MCTL_H

#include <stdbool.h>

#define MCTL_EXIT_OK 0
#define MCTL_EXIT_FAIL 1
#define MCTL_EXIT_USAGE 2
#define MCTL_EXIT_CONFIG 3

struct mctl {
	const char *config_path; /* -f, default etc/mcops.conf or $MCOPS_CONFIG */
	const char *db_path;     /* --db, default from config or var/mcops.db */
	bool json;               /* --json */
	bool yes;                /* --yes: skip confirmations */
	char actor[96];          /* "mctl:<unix user>" */
};

struct mctl_command {
	const char *name;
	int (*run)(struct mctl *ctx, int argc, char **argv);
	const char *usage;   /* one line: arguments */
	const char *summary; /* one line: what it does */
};

/* Prints "mctl: <fmt>\n" to stderr. */
void mctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Command groups (cli/cmd_*.c). */
int cmd_tenant(struct mctl *ctx, int argc, char **argv);
int cmd_conns(struct mctl *ctx, int argc, char **argv);

#endif
