/*
 * mctl tenant — manage the tenants file (lib/tenants.h): add, list, remove, passwd,
 * limit, caps, connlimit. A generated password is printed once and only its salted hash is
 * stored. Changes are made under a lock on the file's directory (so two operators,
 * or an operator and mcalert, cannot lose each other's edit) and written atomically
 * (lib/tenants_edit.h); a running mcd picks them up on SIGHUP. connlimit is
 * lib/remedy.h's connlimit, so that --incident records the event mcalert records when
 * it is run from chat; with --cluster it also reloads the cluster's nodes as mcalert
 * does, without it it changes the file only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "admin.h"
#include "config.h"
#include "ilog.h"
#include "mctl.h"
#include "parse.h"
#include "paths.h"
#include "remedy.h"
#include "tenants.h"
#include "tenants_edit.h"

#define DEFAULT_LIMIT (64ULL << 20)
#define LIMIT_MIN (1ULL << 10) /* below this a tenant could not store a single item */
/*
 * Shortest password accepted from --password-file. The hash is fast on purpose
 * (lib/tenants.h), so only a long secret keeps a leaked file from being cracked.
 */
#define PASSWORD_FILE_MIN 16
#define CONFIRM_LEN 16    /* an answer to "are you sure" */
#define SIZE_TEXT_LEN 32  /* "1099511627776" or "64M" */
#define CAPS_TEXT_LEN 64  /* "read,write,flush,admin" */

enum opt_bit {
	OPT_LIMIT = 1 << 0,
	OPT_CAPS = 1 << 1,
	OPT_ADMIN = 1 << 2,
	OPT_PASSWORD_FILE = 1 << 3,
	OPT_MAX_CONNS = 1 << 4,
	OPT_CONN_RATE = 1 << 5,
	OPT_INCIDENT = 1 << 6,
	OPT_CLUSTER = 1 << 7,
};

struct tenant_args {
	const char *pos[2];
	size_t npos;
	const char *file, *limit, *caps, *password_file, *max_conns, *conn_rate, *incident,
	    *cluster;
	unsigned opts; /* enum opt_bit: which options were given */
	bool admin, help;
};

struct tenant_sub {
	const char *name;
	int (*run)(struct mctl *ctx, const struct tenant_args *a, const char *path);
	size_t npos;      /* positional arguments it takes */
	unsigned opts;    /* options it accepts besides --file */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl tenant COMMAND [ARGS] [--file PATH] [--json] [--yes]\n"
	    "\n"
	    "Manages the tenants file that mcd authenticates against (docs/tenants.md).\n"
	    "\n"
	    "Commands:\n"
	    "  add NAME [--limit SIZE] [--caps CAPS] [--admin] [--password-file F]\n"
	    "           [--max-connections N] [--new-per-second R]\n"
	    "                        add a tenant and print its generated password once\n"
	    "                        (defaults: --limit 64M, --caps read,write,flush,\n"
	    "                        no connection limits);\n"
	    "                        --admin: an account for mcd's admin port only;\n"
	    "                        --password-file: take the password from F's first line\n"
	    "  list                  the tenants: name, memory limit, capabilities,\n"
	    "                        connection limits\n"
	    "  remove NAME           delete a tenant (asks first unless --yes)\n"
	    "  passwd NAME [--password-file F]\n"
	    "                        give a tenant a new password, printed once\n"
	    "  limit NAME SIZE       set a tenant's memory limit (e.g. 64M, 1G)\n"
	    "  caps NAME CAPS        set its capabilities: a comma-separated subset of\n"
	    "                        read,write,flush, or admin alone, or proxy alone\n"
	    "  connlimit NAME [--max-connections N] [--new-per-second R] [--cluster C]\n"
	    "           [--incident N]\n"
	    "                        set its connection limits on each mcd node: at most\n"
	    "                        N connections, R new connections per second (0 = no\n"
	    "                        limit; an option not given keeps its value);\n"
	    "                        --cluster: then reload the nodes that take cluster\n"
	    "                        C's clients through their admin ports;\n"
	    "                        --incident: record a 'connlimit' event on incident N\n"
	    "\n"
	    "Options:\n"
	    "  --file PATH   the tenants file (default: 'tenants' in [mcd] of the\n"
	    "                configuration if it exists, else " MCOPS_TENANTS_PATH ")\n"
	    "  --json        print the result as one JSON document\n"
	    "  --yes         do not ask for confirmation\n"
	    "\n"
	    "A running mcd re-reads the file on SIGHUP (kill -HUP <pid of mcd>).\n"
	    "Exit status: 0 ok, 1 failed, 2 usage error, 3 tenants file or configuration "
	    "unusable.\n");
}

/* --- arguments ----------------------------------------------------------------- */

/*
 * Whether argv[*i] is option opt ("--opt VALUE" or "--opt=VALUE"): 1 with *val set
 * (and *i moved past a separate value), 0 if it is another word, -1 if the value
 * is missing.
 */
static int
match_option(int argc, char **argv, int *i, const char *opt, const char **val)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* Parses argv[first..) into a; returns MCTL_EXIT_OK or the exit status. */
static int
parse_args(int argc, char **argv, int first, struct tenant_args *a)
{
	const struct {
		const char *name;
		unsigned bit;
		const char **slot;
	} valued[] = {
		{ "--file", 0, &a->file },
		{ "--limit", OPT_LIMIT, &a->limit },
		{ "--caps", OPT_CAPS, &a->caps },
		{ "--password-file", OPT_PASSWORD_FILE, &a->password_file },
		{ "--max-connections", OPT_MAX_CONNS, &a->max_conns },
		{ "--new-per-second", OPT_CONN_RATE, &a->conn_rate },
		{ "--incident", OPT_INCIDENT, &a->incident },
		{ "--cluster", OPT_CLUSTER, &a->cluster },
	};
	bool options_done = false;
	int i, m = 0;
	size_t k;

	for (i = first; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && arg[0] == '-' && arg[1] != '\0') {
			if (strcmp(arg, "--") == 0) {
				options_done = true;
				continue;
			}
			if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
				a->help = true;
				continue;
			}
			if (strcmp(arg, "--admin") == 0) {
				a->admin = true;
				a->opts |= OPT_ADMIN;
				continue;
			}
			for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
				m = match_option(argc, argv, &i, valued[k].name, valued[k].slot);
				if (m != 0)
					break;
			}
			if (m == 0) {
				mctl_error("unknown option '%s' (see mctl tenant --help)", arg);
				return MCTL_EXIT_USAGE;
			}
			if (m < 0) {
				mctl_error("option '%s' needs a value", valued[k].name);
				return MCTL_EXIT_USAGE;
			}
			a->opts |= valued[k].bit;
			continue;
		}
		if (a->npos == sizeof(a->pos) / sizeof(a->pos[0])) {
			mctl_error("unexpected argument '%s' (see mctl tenant --help)", arg);
			return MCTL_EXIT_USAGE;
		}
		a->pos[a->npos++] = arg;
	}
	return MCTL_EXIT_OK;
}

/* The name of the first option in bits (for "does not apply" errors). */
static const char *
option_name(unsigned bits)
{
	if (bits & OPT_LIMIT)
		return "--limit";
	if (bits & OPT_CAPS)
		return "--caps";
	if (bits & OPT_ADMIN)
		return "--admin";
	if (bits & OPT_MAX_CONNS)
		return "--max-connections";
	if (bits & OPT_CONN_RATE)
		return "--new-per-second";
	if (bits & OPT_INCIDENT)
		return "--incident";
	if (bits & OPT_CLUSTER)
		return "--cluster";
	return "--password-file";
}

/* Checks a tenant name argument; prints the error. */
static bool
name_ok(const char *name)
{
	if (tenant_name_valid(name, strlen(name)))
		return true;
	mctl_error("invalid tenant name '%s' (1-%d characters of A-Z a-z 0-9 _ . -)", name,
	    TENANT_NAME_MAX);
	return false;
}

/* Parses a size argument ("64M") within the limits; prints the error. */
static bool
size_ok(const char *s, uint64_t *out)
{
	uint64_t v;

	if (parse_size(s, &v) < 0) {
		mctl_error("invalid size '%s' (e.g. 64M, 1G)", s);
		return false;
	}
	if (v < LIMIT_MIN || v > TENANT_LIMIT_MAX) {
		mctl_error("size '%s' out of range (1K to 1T)", s);
		return false;
	}
	*out = v;
	return true;
}

/*
 * Parses a caps argument; admin does not mix with the others (an admin account
 * logs in on the admin port and nowhere else). Prints the error.
 */
static bool
caps_ok(const char *s, unsigned *out)
{
	unsigned caps;

	if (tenant_caps_parse(s, &caps) < 0) {
		mctl_error("invalid capabilities '%s' (a comma-separated subset of "
			   "read,write,flush, or admin, or proxy)",
		    s);
		return false;
	}
	if ((caps & TENANT_CAP_ADMIN) && caps != TENANT_CAP_ADMIN) {
		mctl_error("capability 'admin' cannot be combined with others ('%s')", s);
		return false;
	}
	if ((caps & TENANT_CAP_PROXY) && caps != TENANT_CAP_PROXY) {
		mctl_error("capability 'proxy' cannot be combined with others ('%s'): the proxy's "
			   "account acts for tenants and has no data of its own", s);
		return false;
	}
	*out = caps;
	return true;
}

/* Parses a connection limit (0 = none); prints the error. */
static bool
conn_limit_ok(const char *opt, const char *s, uint64_t *out)
{
	if (parse_u64(s, 0, TENANT_CONN_LIMIT_MAX, out) < 0) {
		mctl_error("invalid %s '%s' (0 to %u; 0 = no limit)", opt, s, TENANT_CONN_LIMIT_MAX);
		return false;
	}
	return true;
}

/* The connection limits given on the command line over the entry's own (NULL: none);
 * prints the error. */
static bool
conn_limits_ok(const struct tenant_args *a, const struct tenant_entry *t, uint64_t *max_conns,
    uint64_t *conn_rate)
{
	*max_conns = t != NULL ? t->max_conns : 0;
	*conn_rate = t != NULL ? t->conn_rate : 0;
	return (a->max_conns == NULL ||
	    conn_limit_ok("--max-connections", a->max_conns, max_conns)) &&
	    (a->conn_rate == NULL || conn_limit_ok("--new-per-second", a->conn_rate, conn_rate));
}

/* A connection limit as shown to people: "-" for none. */
static void
format_conn_limit(uint32_t v, char *buf, size_t buflen)
{
	if (v == 0)
		snprintf(buf, buflen, "-");
	else
		snprintf(buf, buflen, "%u", (unsigned)v);
}

/* "64M" when exact in a binary unit, else the byte count. */
static void
format_size(uint64_t v, char *buf, size_t buflen)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = { { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t unit = 1ULL << units[i].shift;
		if (v >= unit && v % unit == 0) {
			snprintf(buf, buflen, "%llu%c", (unsigned long long)(v / unit),
			    units[i].suffix);
			return;
		}
	}
	snprintf(buf, buflen, "%llu", (unsigned long long)v);
}

static bool
is_admin(const struct tenant_entry *t)
{
	return (t->caps & TENANT_CAP_ADMIN) != 0;
}

/* The limit as shown to people: an admin account has none that matters. */
static void
format_limit(const struct tenant_entry *t, char *buf, size_t buflen)
{
	if (is_admin(t))
		snprintf(buf, buflen, "-");
	else
		format_size(t->limit, buf, buflen);
}

static json_t *
caps_json(unsigned caps)
{
	char text[CAPS_TEXT_LEN];
	json_t *arr = json_array();
	const char *p = text;

	tenant_caps_format(caps, text, sizeof(text));
	while (arr != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");
		json_array_append_new(arr, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return arr;
}

/* Prints doc (taking ownership) as one line of JSON on stdout. */
/* --- the file: where it is, locking, reading, writing -------------------------- */

/*
 * The tenants file: --file, else `tenants` in [mcd] of the configuration if that
 * file exists, else DEFAULT_TENANTS_PATH. Returns an exit status.
 */
static int
resolve_path(const struct mctl *ctx, const char *file, char *out, size_t outlen)
{
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	const char *v = NULL;
	size_t i;
	int rc = MCTL_EXIT_OK;

	if (file != NULL) {
		v = file;
	} else if (ctx->config_path != NULL && access(ctx->config_path, F_OK) == 0) {
		if (config_load(&cfg, ctx->config_path, &errs) == 0)
			config_get_str(&cfg, "mcd", "tenants", NULL, &v, &errs);
		if (errs.n > 0) {
			for (i = 0; i < errs.n; i++)
				mctl_error("%s", errs.msgs[i]);
			if (errs.dropped > 0)
				mctl_error("(%zu more errors)", errs.dropped);
			rc = MCTL_EXIT_CONFIG;
			goto out_release;
		}
	}
	if (v == NULL)
		v = MCOPS_TENANTS_PATH;
	if (v[0] == '\0' || strlen(v) >= outlen) {
		mctl_error("invalid tenants file path '%s'", v);
		rc = MCTL_EXIT_USAGE;
		goto out_release;
	}
	memcpy(out, v, strlen(v) + 1);
out_release:
	config_release(&cfg);
	config_errors_release(&errs);
	return rc;
}

/* Locks and reads the file (lib/tenants_edit.h); a missing file is an empty one if
 * create. Prints the error; returns an exit status. */
static int
edit_begin(const char *path, bool create, struct tenants_edit *ed)
{
	char err[TENANTS_ERR_LEN];
	enum tenants_edit_status st = tenants_edit_begin(ed, path, create, err, sizeof(err));

	if (st == TENANTS_EDIT_OK)
		return MCTL_EXIT_OK;
	mctl_error("%s", err);
	return st == TENANTS_EDIT_FILE ? MCTL_EXIT_CONFIG : MCTL_EXIT_FAIL;
}

/*
 * The tenant (not an admin account) named name in the edit, or NULL after saying why
 * (admin_why: why an admin account does not have what is being set) and ending the
 * edit.
 */
static struct tenant_entry *
edit_find_tenant(struct tenants_edit *ed, const char *name, const char *path,
    const char *admin_why)
{
	char err[TENANTS_ERR_LEN];
	struct tenant_entry *t = tenants_edit_tenant(ed, name, path, admin_why, err, sizeof(err));

	if (t != NULL)
		return t;
	mctl_error("%s", err);
	tenants_edit_end(ed);
	return NULL;
}

/* Saves and ends the edit. */
static int
edit_commit(const char *path, struct tenants_edit *ed)
{
	char err[TENANTS_ERR_LEN];

	if (tenants_edit_commit(ed, path, err, sizeof(err)) != TENANTS_EDIT_OK) {
		mctl_error("cannot save the tenants file: %s", err);
		return MCTL_EXIT_FAIL;
	}
	return MCTL_EXIT_OK;
}

/* Reads a password from a file and checks it is strong and unambiguous on the wire. */
static int
read_password_file(const char *file, char *buf, size_t buflen)
{
	char err[TENANTS_ERR_LEN];
	size_t i, n;

	if (config_read_secret(file, buf, buflen, err, sizeof(err)) < 0) {
		mctl_error("%s", err);
		return MCTL_EXIT_FAIL;
	}
	n = strlen(buf);
	for (i = 0; i < n; i++) {
		if (buf[i] <= ' ' || buf[i] > '~')
			break;
	}
	if (n < PASSWORD_FILE_MIN || n > TENANT_PASSWORD_MAX || i < n) {
		explicit_bzero(buf, buflen);
		mctl_error("password in '%s' must be %d to %d printable ASCII characters without "
			   "spaces (or let mctl generate one)",
		    file, PASSWORD_FILE_MIN, TENANT_PASSWORD_MAX);
		return MCTL_EXIT_USAGE;
	}
	return MCTL_EXIT_OK;
}

/* The password for add/passwd: from --password-file, or generated. */
static int
get_password(const struct tenant_args *a, char *buf, size_t buflen, bool *generated)
{
	*generated = a->password_file == NULL;
	if (!*generated)
		return read_password_file(a->password_file, buf, buflen);
	if (tenant_generate_password(buf, buflen) < 0) {
		mctl_error("cannot generate a password: no randomness from getrandom()");
		return MCTL_EXIT_FAIL;
	}
	return MCTL_EXIT_OK;
}

static void
print_reload_hint(void)
{
	printf("A running mcd picks this up on SIGHUP: kill -HUP <pid of mcd>\n");
}

/* The once-only block: the password and how a client authenticates with it. */
static void
print_password_block(const struct tenant_entry *t, const char *password)
{
	printf("\nPassword, shown this once only (mcd stores only a salted hash;\n"
	       "'mctl tenant passwd %s' makes a new one if it is lost):\n\n"
	       "    %s\n\n",
	    t->name, password);
	printf("To authenticate, send this as the first command on a connection%s:\n\n"
	       "    set %s 0 0 %zu\n"
	       "    %s\n\n",
	    is_admin(t) ? " to mcd's admin port" : "", t->name, strlen(password), password);
}

/* --- subcommands --------------------------------------------------------------- */

static int
run_add(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	char password[CONFIG_SECRET_MAX], err[TENANTS_ERR_LEN], limit_text[SIZE_TEXT_LEN],
	    caps_text[CAPS_TEXT_LEN];
	const char *name = a->pos[0];
	uint64_t limit = DEFAULT_LIMIT;
	unsigned caps = TENANT_CAPS_DEFAULT;
	uint64_t max_conns, conn_rate;
	struct tenant_entry shown;
	struct tenants_edit ed;
	bool generated, created;
	int rc;

	if (!name_ok(name))
		return MCTL_EXIT_USAGE;
	if (a->admin && (a->opts & (OPT_LIMIT | OPT_CAPS | OPT_MAX_CONNS | OPT_CONN_RATE))) {
		mctl_error("--admin takes neither --limit, --caps nor connection limits (an "
			   "admin account has caps 'admin' only)");
		return MCTL_EXIT_USAGE;
	}
	if (!conn_limits_ok(a, NULL, &max_conns, &conn_rate))
		return MCTL_EXIT_USAGE;
	if (a->limit != NULL && !size_ok(a->limit, &limit))
		return MCTL_EXIT_USAGE;
	if (a->caps != NULL && !caps_ok(a->caps, &caps))
		return MCTL_EXIT_USAGE;
	if (a->admin || caps == TENANT_CAP_ADMIN) {
		caps = TENANT_CAP_ADMIN;
		limit = 0; /* it stores nothing: it may only use the admin port */
	}
	rc = get_password(a, password, sizeof(password), &generated);
	if (rc != MCTL_EXIT_OK)
		return rc;
	rc = edit_begin(path, true, &ed);
	if (rc != MCTL_EXIT_OK)
		goto out_wipe;
	if (tenants_add(&ed.tf, name, password, limit, caps, err, sizeof(err)) < 0 ||
	    tenants_set_connlimit(&ed.tf, name, max_conns, conn_rate, err, sizeof(err)) < 0) {
		mctl_error("%s", err);
		tenants_edit_end(&ed);
		rc = MCTL_EXIT_FAIL;
		goto out_wipe;
	}
	shown = *tenants_find(&ed.tf, name, strlen(name));
	created = ed.created;
	rc = edit_commit(path, &ed);
	if (rc != MCTL_EXIT_OK)
		goto out_wipe;
	if (ctx->json) {
		json_t *doc = json_pack("{s:s, s:I, s:o, s:I, s:I}", "name", name, "limit",
		    (json_int_t)limit, "caps", caps_json(caps), "max_connections",
		    (json_int_t)max_conns, "new_per_second", (json_int_t)conn_rate);
		if (doc != NULL && generated)
			json_object_set_new(doc, "password", json_string(password));
		rc = mctl_print_json(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
		goto out_wipe;
	}
	format_limit(&shown, limit_text, sizeof(limit_text));
	tenant_caps_format(caps, caps_text, sizeof(caps_text));
	printf("%s '%s' added to %s%s: limit %s, caps %s.\n",
	    is_admin(&shown) ? "Admin account" : "Tenant", name, created ? "new file " : "", path,
	    limit_text, caps_text[0] != '\0' ? caps_text : "(none)");
	if (max_conns != 0 || conn_rate != 0)
		printf("Connection limits: at most %llu connections, %llu new per second (0 = no "
		       "limit).\n", (unsigned long long)max_conns, (unsigned long long)conn_rate);
	if (generated)
		print_password_block(&shown, password);
	else
		printf("Its password is the one in '%s' (not shown).\n", a->password_file);
	print_reload_hint();
out_wipe:
	explicit_bzero(password, sizeof(password));
	return rc;
}

static int
run_list(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN], limit_text[SIZE_TEXT_LEN], caps_text[CAPS_TEXT_LEN];
	char conns_text[SIZE_TEXT_LEN], rate_text[SIZE_TEXT_LEN];
	size_t i, width = 4;
	json_t *arr;

	if (tenants_load(&tf, path, err, sizeof(err)) < 0) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			mctl_error("%s (the first 'mctl tenant add' creates it)", err);
		else
			mctl_error("%s", err);
		return MCTL_EXIT_CONFIG;
	}
	if (ctx->json) {
		arr = json_array();
		for (i = 0; arr != NULL && i < tf.n; i++) {
			const struct tenant_entry *t = &tf.entries[i];
			json_array_append_new(arr,
			    json_pack("{s:s, s:I, s:o, s:I, s:I}", "name", t->name, "limit",
				(json_int_t)t->limit, "caps", caps_json(t->caps), "max_connections",
				(json_int_t)t->max_conns, "new_per_second", (json_int_t)t->conn_rate));
		}
		tenants_release(&tf);
		return mctl_print_json(arr != NULL ? json_pack("{s:s, s:o}", "file", path,
		    "tenants", arr) : NULL, JSON_COMPACT | JSON_ENSURE_ASCII);
	}
	if (tf.n == 0) {
		printf("No tenants in %s.\n", path);
		tenants_release(&tf);
		return MCTL_EXIT_OK;
	}
	for (i = 0; i < tf.n; i++) {
		size_t n = strlen(tf.entries[i].name);
		if (n > width)
			width = n;
	}
	printf("%-*s  %8s  %8s  %8s  %s\n", (int)width, "NAME", "LIMIT", "MAXCONN", "NEW/S",
	    "CAPS");
	for (i = 0; i < tf.n; i++) {
		const struct tenant_entry *t = &tf.entries[i];
		format_limit(t, limit_text, sizeof(limit_text));
		format_conn_limit(t->max_conns, conns_text, sizeof(conns_text));
		format_conn_limit(t->conn_rate, rate_text, sizeof(rate_text));
		tenant_caps_format(t->caps, caps_text, sizeof(caps_text));
		printf("%-*s  %8s  %8s  %8s  %s\n", (int)width, t->name, limit_text, conns_text,
		    rate_text, caps_text[0] != '\0' ? caps_text : "(none)");
	}
	tenants_release(&tf);
	return MCTL_EXIT_OK;
}

/* Asks on the terminal; without one, only --yes confirms. what: "remove tenant 'x'". */
static int
confirm(const struct mctl *ctx, const char *what, const char *consequence)
{
	char answer[CONFIRM_LEN];

	if (ctx->yes)
		return MCTL_EXIT_OK;
	if (!isatty(STDIN_FILENO)) {
		mctl_error("%s: not confirmed (stdin is not a terminal; add --yes)", what);
		return MCTL_EXIT_USAGE;
	}
	fprintf(stderr, "%s? %s [y/N] ", what, consequence);
	fflush(stderr);
	if (fgets(answer, sizeof(answer), stdin) == NULL ||
	    (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0)) {
		mctl_error("not confirmed; nothing changed");
		return MCTL_EXIT_FAIL;
	}
	return MCTL_EXIT_OK;
}

static int
run_remove(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	char err[TENANTS_ERR_LEN], what[TENANT_NAME_MAX + 32];
	const char *name = a->pos[0];
	struct tenants_edit ed;
	int rc;

	if (!name_ok(name))
		return MCTL_EXIT_USAGE;
	/*
	 * Ask before taking the lock, so that a prompt left open does not block other
	 * operators; the locked edit below checks again.
	 */
	if (!ctx->yes) {
		rc = edit_begin(path, false, &ed);
		if (rc != MCTL_EXIT_OK)
			return rc;
		rc = tenants_find(&ed.tf, name, strlen(name)) != NULL ? MCTL_EXIT_OK : MCTL_EXIT_FAIL;
		tenants_edit_end(&ed);
		if (rc != MCTL_EXIT_OK) {
			mctl_error("no tenant '%s' in %s", name, path);
			return rc;
		}
		snprintf(what, sizeof(what), "remove tenant '%s'", name);
		rc = confirm(ctx, what, "Its connections close when mcd reloads.");
		if (rc != MCTL_EXIT_OK)
			return rc;
	}
	rc = edit_begin(path, false, &ed);
	if (rc != MCTL_EXIT_OK)
		return rc;
	if (tenants_remove(&ed.tf, name, err, sizeof(err)) < 0) {
		mctl_error("%s in %s", err, path);
		tenants_edit_end(&ed);
		return MCTL_EXIT_FAIL;
	}
	rc = edit_commit(path, &ed);
	if (rc != MCTL_EXIT_OK)
		return rc;
	if (ctx->json)
		return mctl_print_json(json_pack("{s:s, s:b}", "name", name, "removed", 1),
		    JSON_COMPACT | JSON_ENSURE_ASCII);
	printf("Tenant '%s' removed from %s.\n", name, path);
	print_reload_hint();
	return MCTL_EXIT_OK;
}

static int
run_passwd(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	char password[CONFIG_SECRET_MAX], err[TENANTS_ERR_LEN];
	const char *name = a->pos[0];
	struct tenant_entry shown;
	struct tenants_edit ed;
	bool generated;
	int rc;

	if (!name_ok(name))
		return MCTL_EXIT_USAGE;
	rc = get_password(a, password, sizeof(password), &generated);
	if (rc != MCTL_EXIT_OK)
		return rc;
	rc = edit_begin(path, false, &ed);
	if (rc != MCTL_EXIT_OK)
		goto out_wipe;
	if (tenants_set_password(&ed.tf, name, password, err, sizeof(err)) < 0) {
		mctl_error("%s in %s", err, path);
		tenants_edit_end(&ed);
		rc = MCTL_EXIT_FAIL;
		goto out_wipe;
	}
	shown = *tenants_find(&ed.tf, name, strlen(name));
	rc = edit_commit(path, &ed);
	if (rc != MCTL_EXIT_OK)
		goto out_wipe;
	if (ctx->json) {
		json_t *doc = json_pack("{s:s}", "name", name);
		if (doc != NULL && generated)
			json_object_set_new(doc, "password", json_string(password));
		rc = mctl_print_json(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
		goto out_wipe;
	}
	printf("New password set for '%s' in %s; the old one stops working when mcd reloads.\n",
	    name, path);
	if (generated)
		print_password_block(&shown, password);
	else
		printf("It is the one in '%s' (not shown).\n", a->password_file);
	print_reload_hint();
out_wipe:
	explicit_bzero(password, sizeof(password));
	return rc;
}

static int
run_limit(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	char limit_text[SIZE_TEXT_LEN];
	const char *name = a->pos[0];
	struct tenant_entry *t;
	struct tenants_edit ed;
	uint64_t limit;
	int rc;

	if (!name_ok(name) || !size_ok(a->pos[1], &limit))
		return MCTL_EXIT_USAGE;
	rc = edit_begin(path, false, &ed);
	if (rc != MCTL_EXIT_OK)
		return rc;
	t = edit_find_tenant(&ed, name, path, "it stores nothing, so it has no memory limit");
	if (t == NULL)
		return MCTL_EXIT_FAIL;
	t->limit = limit;
	rc = edit_commit(path, &ed);
	if (rc != MCTL_EXIT_OK)
		return rc;
	if (ctx->json)
		return mctl_print_json(json_pack("{s:s, s:I}", "name", name, "limit",
		    (json_int_t)limit), JSON_COMPACT | JSON_ENSURE_ASCII);
	format_size(limit, limit_text, sizeof(limit_text));
	printf("Tenant '%s' now has a memory limit of %s.\n", name, limit_text);
	print_reload_hint();
	return MCTL_EXIT_OK;
}

static int
run_caps(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	char caps_text[CAPS_TEXT_LEN], limit_text[SIZE_TEXT_LEN];
	const char *name = a->pos[0];
	struct tenant_entry *t;
	struct tenants_edit ed;
	unsigned caps;
	uint64_t limit;
	bool limit_set = false;
	int rc;

	if (!name_ok(name) || !caps_ok(a->pos[1], &caps))
		return MCTL_EXIT_USAGE;
	rc = edit_begin(path, false, &ed);
	if (rc != MCTL_EXIT_OK)
		return rc;
	t = tenants_find(&ed.tf, name, strlen(name));
	if (t == NULL) {
		mctl_error("no tenant '%s' in %s", name, path);
		tenants_edit_end(&ed);
		return MCTL_EXIT_FAIL;
	}
	/* A former admin account has limit 0 and could store nothing as a tenant. */
	if (caps != TENANT_CAP_ADMIN && t->limit == 0) {
		t->limit = DEFAULT_LIMIT;
		limit_set = true;
	}
	t->caps = caps;
	limit = t->limit;
	rc = edit_commit(path, &ed);
	if (rc != MCTL_EXIT_OK)
		return rc;
	if (ctx->json)
		return mctl_print_json(json_pack("{s:s, s:o, s:I}", "name", name, "caps",
		    caps_json(caps), "limit", (json_int_t)limit),
		    JSON_COMPACT | JSON_ENSURE_ASCII);
	tenant_caps_format(caps, caps_text, sizeof(caps_text));
	printf("Tenant '%s' now has caps %s.\n", name, caps_text[0] != '\0' ? caps_text : "(none)");
	if (limit_set) {
		format_size(limit, limit_text, sizeof(limit_text));
		printf("Its memory limit was 0 and is now %s (change it with 'mctl tenant limit').\n",
		    limit_text);
	}
	print_reload_hint();
	return MCTL_EXIT_OK;
}

/* --incident N of connlimit: 0 with *id (0 when not given), or an exit status. */
static int
incident_arg(const struct tenant_args *a, int64_t *id)
{
	uint64_t v;

	*id = 0;
	if (a->incident == NULL)
		return MCTL_EXIT_OK;
	if (parse_u64(a->incident[0] == '#' ? a->incident + 1 : a->incident, 1, INT64_MAX,
	    &v) != 0) {
		mctl_error("tenant connlimit: --incident: '%s' is not an incident number",
		    a->incident);
		return MCTL_EXIT_USAGE;
	}
	*id = (int64_t)v;
	return MCTL_EXIT_OK;
}

/*
 * lib/remedy.h's connlimit, the one mcalert runs from chat: the file's edit, then with
 * --cluster an admin `reload` on each node that takes the cluster's clients (where a
 * tenant's logins are admitted); with --incident, the same event. Without --cluster
 * the file only: the nodes pick it up when the operator reloads them.
 */
static int
run_connlimit(struct mctl *ctx, const struct tenant_args *a, const char *path)
{
	char err[ILOG_ERR_LEN], conns_text[SIZE_TEXT_LEN], rate_text[SIZE_TEXT_LEN];
	const char *name = a->pos[0];
	struct clusters none = { 0 };
	struct mctl_topology topo;
	bool have_topo = false;
	struct remedy_request req = { .verb = REMEDY_CONNLIMIT, .tenant = name,
		.tenants_path = path, .cluster = a->cluster };
	struct remedy r;
	struct ilog_incident inc;
	struct ilog *log = NULL;
	enum tenants_edit_status st;
	int64_t event_id = 0;
	json_t *body = NULL;
	int rc;

	if (!name_ok(name))
		return MCTL_EXIT_USAGE;
	if ((a->opts & (OPT_MAX_CONNS | OPT_CONN_RATE)) == 0) {
		mctl_error("'tenant connlimit' needs --max-connections N and/or --new-per-second R");
		return MCTL_EXIT_USAGE;
	}
	if (!conn_limits_ok(a, NULL, &req.limits.max_conns, &req.limits.conn_rate))
		return MCTL_EXIT_USAGE;
	/* An option not given keeps the file's value. */
	req.limits.set_max_conns = a->max_conns != NULL;
	req.limits.set_conn_rate = a->conn_rate != NULL;
	if ((rc = incident_arg(a, &req.incident)) != MCTL_EXIT_OK)
		return rc;
	if (req.incident != 0) {
		enum ilog_status ist;
		if ((log = mctl_open_log(ctx)) == NULL)
			return MCTL_EXIT_CONFIG;
		ist = ilog_incident_get(log, req.incident, &inc, err, sizeof(err));
		if (ist != ILOG_OK) {
			mctl_error("tenant connlimit: %s; nothing was changed", err);
			ilog_close(log);
			return ist == ILOG_ERR_NOT_FOUND ? MCTL_EXIT_FAIL : MCTL_EXIT_CONFIG;
		}
	}
	rc = MCTL_EXIT_FAIL;
	if (a->cluster != NULL) {
		/* The topology before the file: a cluster that is not there changes nothing. */
		if (mctl_topology_load(ctx, &topo) != 0) {
			rc = MCTL_EXIT_CONFIG;
			memset(&r, 0, sizeof(r));
			goto out;
		}
		have_topo = true;
	}
	switch (remedy_prepare(&r, have_topo ? &topo.cl : &none, &req)) {
	case REMEDY_OK:
		break;
	case REMEDY_NO_CLUSTER:
		mctl_error("tenant connlimit: no cluster '%s' in %s; nothing was changed",
		    a->cluster, ctx->config_path);
		rc = MCTL_EXIT_USAGE;
		goto out;
	default:
		mctl_error("tenant connlimit: out of memory");
		goto out;
	}
	if (have_topo && r.n == 0) {
		mctl_error("tenant connlimit: cluster %s has no node with an admin port to "
			   "reload; nothing was changed", a->cluster);
		goto out;
	}
	st = remedy_connlimit_apply(&r, err, sizeof(err));
	if (st != TENANTS_EDIT_OK) {
		if (st == TENANTS_EDIT_SAVE)
			mctl_error("cannot save the tenants file: %s", err);
		else
			mctl_error("%s", err);
		rc = st == TENANTS_EDIT_FILE ? MCTL_EXIT_CONFIG : MCTL_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		FILE *progress = ctx->json ? stderr : stdout;
		fprintf(progress, "[%zu/%zu] %s ... ", i + 1, r.n, r.targets[i]->name);
		fflush(progress);
		remedy_run_node(&r, i);
		if (r.res[i].ok)
			fprintf(progress, "reloaded (%lld ms)\n", (long long)r.res[i].ms);
		else
			fprintf(progress, "FAILED: %s\n", r.res[i].error);
	}
	if (req.incident != 0) {
		body = remedy_event_body(&r);
		if (remedy_record(&r, log, mctl_actor(ctx), body, &event_id, err, sizeof(err)) != 0) {
			mctl_error("tenant connlimit: the file is changed, but it could not be "
				   "recorded in the incident log: %s", err);
			rc = MCTL_EXIT_CONFIG;
			goto out;
		}
	}
	rc = r.failed > 0 ? MCTL_EXIT_FAIL : MCTL_EXIT_OK;
	if (ctx->json) {
		json_t *doc = json_pack("{s:s, s:I, s:I}", "name", name, "max_connections",
		    (json_int_t)r.limits.max_conns, "new_per_second", (json_int_t)r.limits.conn_rate);
		if (doc != NULL && req.incident != 0) {
			json_object_set_new(doc, "incident", json_integer(req.incident));
			json_object_set_new(doc, "event_id", json_integer(event_id));
		}
		if (doc != NULL && have_topo) {
			json_object_set_new(doc, "cluster", json_string(a->cluster));
			json_object_set_new(doc, "reloaded", json_integer((json_int_t)(r.n - r.failed)));
			json_object_set_new(doc, "failed", json_integer((json_int_t)r.failed));
		}
		/* A node that failed keeps exit 1; the document says which part was done. */
		int prc = mctl_print_json(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (rc == MCTL_EXIT_OK)
			rc = prc;
		goto out;
	}
	format_conn_limit(r.limits.max_conns, conns_text, sizeof(conns_text));
	format_conn_limit(r.limits.conn_rate, rate_text, sizeof(rate_text));
	printf("Tenant '%s' now has at most %s connections and %s new connections per second "
	       "on each node ('-' = no limit).\n", name, conns_text, rate_text);
	if (req.incident != 0)
		printf("Recorded as event %lld on incident %lld.\n", (long long)event_id,
		    (long long)req.incident);
	if (!have_topo)
		print_reload_hint();
	else if (r.failed > 0)
		printf("Reloaded %zu of %zu nodes of cluster %s; SOME FAILED: reload those "
		       "(kill -HUP) or run this again.\n", r.n - r.failed, r.n, a->cluster);
	else
		printf("Reloaded %zu of %zu nodes of cluster %s: the limits apply now.\n",
		    r.n, r.n, a->cluster);
out:
	json_decref(body);
	remedy_release(&r);
	ilog_close(log);
	if (have_topo)
		mctl_topology_release(&topo);
	return rc;
}

static const struct tenant_sub subs[] = {
	{ "add", run_add, 1, OPT_LIMIT | OPT_CAPS | OPT_ADMIN | OPT_PASSWORD_FILE | OPT_MAX_CONNS |
	    OPT_CONN_RATE },
	{ "list", run_list, 0, 0 },
	{ "remove", run_remove, 1, 0 },
	{ "passwd", run_passwd, 1, OPT_PASSWORD_FILE },
	{ "limit", run_limit, 2, 0 },
	{ "caps", run_caps, 2, 0 },
	{ "connlimit", run_connlimit, 1,
	    OPT_MAX_CONNS | OPT_CONN_RATE | OPT_INCIDENT | OPT_CLUSTER },
};

int
cmd_tenant(struct mctl *ctx, int argc, char **argv)
{
	struct tenant_args a = { 0 };
	const struct tenant_sub *sub = NULL;
	char path[PATH_MAX];
	size_t i;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return MCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return MCTL_EXIT_OK;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) == 0)
			sub = &subs[i];
	}
	if (sub == NULL) {
		mctl_error("unknown tenant command '%s' (see mctl tenant --help)", argv[1]);
		return MCTL_EXIT_USAGE;
	}
	rc = parse_args(argc, argv, 2, &a);
	if (rc != MCTL_EXIT_OK)
		return rc;
	if (a.help) {
		usage(stdout);
		return MCTL_EXIT_OK;
	}
	if (a.opts & ~sub->opts) {
		mctl_error("option '%s' does not apply to 'tenant %s' (see mctl tenant --help)",
		    option_name(a.opts & ~sub->opts), sub->name);
		return MCTL_EXIT_USAGE;
	}
	if (a.npos != sub->npos) {
		mctl_error("'tenant %s' takes %zu argument%s, not %zu (see mctl tenant --help)",
		    sub->name, sub->npos, sub->npos == 1 ? "" : "s", a.npos);
		return MCTL_EXIT_USAGE;
	}
	rc = resolve_path(ctx, a.file, path, sizeof(path));
	if (rc != MCTL_EXIT_OK)
		return rc;
	return sub->run(ctx, &a, path);
}
