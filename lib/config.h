/*
 * config — the INI configuration (inih) as a list of entries with their line
 * numbers, and typed getters that report problems as "file:line: message".
 *
 * A daemon loads the file, reads the sections it owns with the getters below
 * (each getter marks the entry used), then calls config_check_unknown() so that a
 * misspelt key is an error rather than silently ignored. Every problem goes into a
 * struct config_errors, so one run reports them all. Reload: load into a fresh
 * struct config, and only if it produced no errors swap it for the running one.
 *
 * Sections are "[name]" or "[kind NAME]" ("[cluster c1]", "[node n1]").
 */
#ifndef MCOPS_CONFIG_H
#define MCOPS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERR_MAX 256  /* longest error message */
#define CONFIG_ERRORS_MAX 100 /* errors kept; more are counted, not stored */
#define CONFIG_SECRET_MAX 512 /* longest secret read from a file */

struct config_entry {
	char *section;
	char *key;
	char *value;
	int line;
	bool used;
};

struct config {
	char *path;
	struct config_entry *entries;
	size_t n, cap;
	/* Section headers in file order, including sections without keys. */
	char **sections;
	int *section_lines;
	size_t nsections, sections_cap;
};

struct config_errors {
	char *msgs[CONFIG_ERRORS_MAX];
	size_t n;        /* stored */
	size_t dropped;  /* beyond CONFIG_ERRORS_MAX */
};

/* Parses path into cfg (caller-owned, zeroed or released). Syntax errors go to errs.
 * Returns 0, or -1 if the file could not be read at all (errs says why). */
int config_load(struct config *cfg, const char *path, struct config_errors *errs);
/* The same from a string (for tests); name stands in for the path in messages. */
int config_load_string(struct config *cfg, const char *name, const char *text,
    struct config_errors *errs);
void config_release(struct config *cfg);

/* Adds "path:line: <fmt>" to errs (line <= 0: "path: <fmt>"). */
void config_error(struct config_errors *errs, const struct config *cfg, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void config_errors_release(struct config_errors *errs);

/* The entry for section/key, or NULL; marks it used. The last one wins if repeated. */
struct config_entry *config_find(struct config *cfg, const char *section, const char *key);

/*
 * If "section" is "kind NAME", returns NAME (borrowed from section); else NULL.
 */
const char *config_section_name(const char *section, const char *kind);

/*
 * Typed getters: if the key is absent, *out = def and 0 is returned. If present but
 * invalid, an error is added to errs, *out = def, and -1 is returned.
 */
int config_get_str(struct config *cfg, const char *section, const char *key,
    const char *def, const char **out, struct config_errors *errs);
/*
 * Copies the value of section/key into buf (len bytes with the NUL). Absent: buf is
 * untouched, 0. Longer than len-1 bytes: "path:line: key: longer than N bytes" is added
 * to errs, buf is untouched, -1.
 */
int config_copy_str(struct config *cfg, const char *section, const char *key, char *buf,
    size_t len, struct config_errors *errs);
int config_get_u64(struct config *cfg, const char *section, const char *key,
    uint64_t min, uint64_t max, uint64_t def, uint64_t *out, struct config_errors *errs);
int config_get_size(struct config *cfg, const char *section, const char *key,
    uint64_t def, uint64_t *out, struct config_errors *errs);
int config_get_duration_ms(struct config *cfg, const char *section, const char *key,
    int64_t def, int64_t *out, struct config_errors *errs);
int config_get_bool(struct config *cfg, const char *section, const char *key,
    bool def, bool *out, struct config_errors *errs);
/* A floating-point value in [min, max]. */
int config_get_double(struct config *cfg, const char *section, const char *key,
    double min, double max, double def, double *out, struct config_errors *errs);

/*
 * For every entry not yet used whose section satisfies owns(section), adds
 * "path:line: unknown key 'k' in [section]". owns == NULL means every section.
 */
void config_check_unknown(struct config *cfg, bool (*owns)(const char *section),
    struct config_errors *errs);

/*
 * Reads a secret from a file: the first line, without its newline. Fails on an
 * empty or unreadable file or a line longer than CONFIG_SECRET_MAX-1. The secret is
 * never put in err.
 */
int config_read_secret(const char *path, char *buf, size_t len, char *err, size_t errlen);

#endif
