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
#include <stddef.h>
#include <stdint.h>

#define MCTL_EXIT_OK 0
#define MCTL_EXIT_FAIL 1
#define MCTL_EXIT_USAGE 2
#define MCTL_EXIT_CONFIG 3

struct mctl {
	const char *config_path; /* -f, default $MCOPS_CONFIG or MCOPS_CONFIG_PATH */
	const char *db_path;     /* --db, default from config or MCOPS_DB_PATH */
	bool json;               /* --json */
	bool yes;                /* --yes: skip confirmations */
	char actor[96];          /* "mctl:<unix user>": use mctl_actor(), which fills it */
};

struct mctl_command {
	const char *name;
	int (*run)(struct mctl *ctx, int argc, char **argv);
	const char *usage;   /* one line: arguments */
	const char *summary; /* one line: what it does */
};

/* "mctl:<unix user>", for the events a command records (looked up once, lazily). */
const char *mctl_actor(struct mctl *ctx);

/* Prints "mctl: <fmt>\n" to stderr. */
void mctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints doc with jansson's flags (the form each command has always printed:
 * JSON_INDENT(2), or JSON_COMPACT for one line) and a newline on stdout, and releases
 * doc (takes ownership; NULL is taken as jansson's out-of-memory result). Returns
 * MCTL_EXIT_OK, or MCTL_EXIT_FAIL after printing the error (out of memory, or stdout
 * could not be written). cli/output.c.
 */
struct json_t;
int mctl_print_json(struct json_t *doc, size_t flags);
/* A time as mctl_format_time() writes it, as a JSON string; JSON null for ms <= 0 (not
 * set). New reference (NULL if out of memory). cli/output.c. */
struct json_t *mctl_time_json(int64_t ms);

/* Command groups (cli/cmd_*.c). */
int cmd_tenant(struct mctl *ctx, int argc, char **argv);
int cmd_conns(struct mctl *ctx, int argc, char **argv);
int cmd_status(struct mctl *ctx, int argc, char **argv);   /* cmd_status.c */
int cmd_incidents(struct mctl *ctx, int argc, char **argv); /* cmd_incident.c */
int cmd_show(struct mctl *ctx, int argc, char **argv);
int cmd_open(struct mctl *ctx, int argc, char **argv);
int cmd_ack(struct mctl *ctx, int argc, char **argv);
int cmd_resolve(struct mctl *ctx, int argc, char **argv);
int cmd_reopen(struct mctl *ctx, int argc, char **argv);
int cmd_note(struct mctl *ctx, int argc, char **argv);
int cmd_update(struct mctl *ctx, int argc, char **argv);
int cmd_log(struct mctl *ctx, int argc, char **argv);       /* cmd_log.c */
int cmd_flush(struct mctl *ctx, int argc, char **argv);     /* cmd_node.c */
int cmd_drain(struct mctl *ctx, int argc, char **argv);
int cmd_rebalance(struct mctl *ctx, int argc, char **argv);
int cmd_oncall(struct mctl *ctx, int argc, char **argv);    /* cmd_oncall.c */
int cmd_page(struct mctl *ctx, int argc, char **argv);
int cmd_statuspage(struct mctl *ctx, int argc, char **argv); /* cmd_statuspage.c */
int cmd_maintenance(struct mctl *ctx, int argc, char **argv); /* cmd_maintenance.c */

/*
 * The incident log as mctl opens it (cli/logdb.c): --db, else [log] path in the
 * configuration if that file exists, else var/mcops.db (its directory is created).
 * Prints the error and returns NULL if it cannot be opened (exit MCTL_EXIT_CONFIG).
 */
struct ilog;
struct ilog *mctl_open_log(struct mctl *ctx);

/* UTC times as mctl prints and reads them. */
#define MCTL_TIME_MAX 32
/* "2024-01-02T03:04:05.678Z"; "-" for 0. */
void mctl_format_time(int64_t ms, char *buf, size_t len);
/*
 * A point in time: a duration before now ("90d", "12h", "1h30m") or a UTC date or
 * time ("2024-01-02", "2024-01-02T03:04:05Z", "2024-01-02 03:04"). 0, or -1.
 */
int mctl_parse_time(const char *s, int64_t now_ms, int64_t *out_ms);

#endif
