#include "config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* inih tells its handler nothing about lines, so the reader counts them. */
struct load_state {
	struct config *cfg;
	struct config_errors *errs;
	FILE *fp;
	const char *text; /* for config_load_string */
	int line;
	bool oom;
};

static int add_section(struct config *cfg, const char *section, int line);

/*
 * inih calls the handler for keys only (Debian builds it without
 * INI_CALL_HANDLER_ON_NEW_SECTION), so section headers are recorded here, with
 * their own line, as the reader hands each line over: a section without keys exists
 * too. The name is what inih takes: the text between '[' and the first ']'.
 */
static void
note_section(struct load_state *st, const char *line)
{
	const char *p = line, *end;
	char name[256];

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[' || (end = strchr(p + 1, ']')) == NULL)
		return;
	if ((size_t)(end - p - 1) >= sizeof(name))
		return;
	memcpy(name, p + 1, (size_t)(end - p - 1));
	name[end - p - 1] = '\0';
	if (add_section(st->cfg, name, st->line) < 0)
		st->oom = true;
}

static char *
reader_file(char *buf, int size, void *stream)
{
	struct load_state *st = stream;
	char *r = fgets(buf, size, st->fp);

	if (r != NULL) {
		st->line++;
		note_section(st, buf);
	}
	return r;
}

static char *
reader_string(char *buf, int size, void *stream)
{
	struct load_state *st = stream;
	const char *p = st->text;
	int n = 0;

	if (*p == '\0')
		return NULL;
	while (p[n] != '\0' && p[n] != '\n' && n < size - 2)
		n++;
	if (p[n] == '\n')
		n++;
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	st->text = p + n;
	st->line++;
	note_section(st, buf);
	return buf;
}

/*
 * A copy of a section header with the blanks between its kind and its name made one
 * space: "[cluster   c1]" is [cluster c1] for every lookup (config_find compares
 * whole names), as config_section_name() already read it.
 */
static char *
section_dup(const char *section)
{
	const char *sp = strchr(section, ' ');
	size_t kind, rest;
	char *out;

	if (sp == NULL)
		return strdup(section);
	kind = (size_t)(sp - section);
	while (*sp == ' ')
		sp++;
	rest = strlen(sp);
	if ((out = malloc(kind + 1 + rest + 1)) == NULL)
		return NULL;
	memcpy(out, section, kind);
	out[kind] = ' ';
	memcpy(out + kind + 1, sp, rest + 1);
	return out;
}

static int
add_section(struct config *cfg, const char *section, int line)
{
	if (cfg->nsections == cfg->sections_cap) {
		size_t cap = cfg->sections_cap ? cfg->sections_cap * 2 : 16;
		char **s = realloc(cfg->sections, cap * sizeof(*s));
		if (s == NULL)
			return -1;
		cfg->sections = s;
		int *l = realloc(cfg->section_lines, cap * sizeof(*l));
		if (l == NULL)
			return -1;
		cfg->section_lines = l;
		cfg->sections_cap = cap;
	}
	if ((cfg->sections[cfg->nsections] = section_dup(section)) == NULL)
		return -1;
	cfg->section_lines[cfg->nsections++] = line;
	return 0;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *st = user;
	struct config *cfg = st->cfg;
	struct config_entry *e;

	if (name == NULL) /* a section header: already noted by the reader */
		return 1;
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 32;
		e = realloc(cfg->entries, cap * sizeof(*e));
		if (e == NULL)
			goto oom;
		cfg->entries = e;
		cfg->cap = cap;
	}
	e = &cfg->entries[cfg->n];
	e->section = section_dup(section);
	e->key = strdup(name);
	e->value = strdup(value);
	e->line = st->line;
	e->used = false;
	if (e->section == NULL || e->key == NULL || e->value == NULL) {
		free(e->section);
		free(e->key);
		free(e->value);
		goto oom;
	}
	cfg->n++;
	return 1;
oom:
	st->oom = true;
	return 0;
}

static int
load(struct config *cfg, const char *name, struct load_state *st, ini_reader reader,
    struct config_errors *errs)
{
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((cfg->path = strdup(name)) == NULL) {
		config_error(errs, NULL, 0, "%s: out of memory", name);
		return -1;
	}
	st->cfg = cfg;
	st->errs = errs;
	/* inih stops at the first syntax error and returns its line; report it and
	 * carry on from the next line so that one run reports every bad line. */
	for (;;) {
		int base = st->line;
		rc = ini_parse_stream(reader, st, handler, st);
		if (st->oom) {
			config_error(errs, cfg, 0, "out of memory");
			return -1;
		}
		if (rc <= 0)
			break;
		config_error(errs, cfg, base + rc, "syntax error (expected [section] or key = value)");
		/* ini_parse_stream reads to the end even after an error: nothing left. */
		break;
	}
	return 0;
}

int
config_load(struct config *cfg, const char *path, struct config_errors *errs)
{
	struct load_state st = { 0 };
	int rc;

	st.fp = fopen(path, "r");
	if (st.fp == NULL) {
		memset(cfg, 0, sizeof(*cfg));
		config_error(errs, NULL, 0, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = load(cfg, path, &st, reader_file, errs);
	fclose(st.fp);
	return rc;
}

int
config_load_string(struct config *cfg, const char *name, const char *text,
    struct config_errors *errs)
{
	struct load_state st = { 0 };

	st.text = text;
	return load(cfg, name, &st, reader_string, errs);
}

void
config_release(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		free(cfg->entries[i].section);
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	for (i = 0; i < cfg->nsections; i++)
		free(cfg->sections[i]);
	free(cfg->entries);
	free(cfg->sections);
	free(cfg->section_lines);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_error(struct config_errors *errs, const struct config *cfg, int line,
    const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX], full[CONFIG_ERR_MAX + 300];
	va_list ap;

	if (errs->n == CONFIG_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cfg != NULL && line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", cfg->path, line, msg);
	else if (cfg != NULL)
		snprintf(full, sizeof(full), "%s: %s", cfg->path, msg);
	else
		snprintf(full, sizeof(full), "%s", msg);
	if ((errs->msgs[errs->n] = strdup(full)) == NULL) {
		errs->dropped++;
		return;
	}
	errs->n++;
}

void
config_errors_release(struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	memset(errs, 0, sizeof(*errs));
}

struct config_entry *
config_find(struct config *cfg, const char *section, const char *key)
{
	struct config_entry *found = NULL;
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		struct config_entry *e = &cfg->entries[i];
		if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0) {
			e->used = true;
			found = e;
		}
	}
	return found;
}

const char *
config_section_name(const char *section, const char *kind)
{
	size_t n = strlen(kind);

	if (strncmp(section, kind, n) != 0 || section[n] != ' ')
		return NULL;
	section += n;
	while (*section == ' ')
		section++;
	return *section != '\0' ? section : NULL;
}

int
config_get_str(struct config *cfg, const char *section, const char *key,
    const char *def, const char **out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	(void)errs;
	*out = e != NULL ? e->value : def;
	return 0;
}

int
config_copy_str(struct config *cfg, const char *section, const char *key, char *buf,
    size_t len, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	if (e == NULL)
		return 0;
	if (strlen(e->value) >= len) {
		config_error(errs, cfg, e->line, "%s: longer than %zu bytes", key, len - 1);
		return -1;
	}
	snprintf(buf, len, "%s", e->value);
	return 0;
}

int
config_get_u64(struct config *cfg, const char *section, const char *key, uint64_t min,
    uint64_t max, uint64_t def, uint64_t *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	*out = def;
	if (e == NULL)
		return 0;
	if (parse_u64(e->value, min, max, out) < 0) {
		config_error(errs, cfg, e->line,
		    "%s: '%s' is not a whole number from %llu to %llu", key, e->value,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

int
config_get_size(struct config *cfg, const char *section, const char *key, uint64_t def,
    uint64_t *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	*out = def;
	if (e == NULL)
		return 0;
	if (parse_size(e->value, out) < 0) {
		config_error(errs, cfg, e->line,
		    "%s: '%s' is not a size (bytes, or a number with k, M or G)", key, e->value);
		return -1;
	}
	return 0;
}

int
config_get_duration_ms(struct config *cfg, const char *section, const char *key,
    int64_t def, int64_t *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	*out = def;
	if (e == NULL)
		return 0;
	if (parse_duration_ms(e->value, out) < 0) {
		config_error(errs, cfg, e->line,
		    "%s: '%s' is not a duration (e.g. 250ms, 5s, 10m, 2h, 90d)", key, e->value);
		return -1;
	}
	return 0;
}

int
config_get_bool(struct config *cfg, const char *section, const char *key, bool def,
    bool *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	*out = def;
	if (e == NULL)
		return 0;
	if (parse_bool(e->value, out) < 0) {
		config_error(errs, cfg, e->line, "%s: '%s' is not yes or no", key, e->value);
		return -1;
	}
	return 0;
}

int
config_get_double(struct config *cfg, const char *section, const char *key, double min,
    double max, double def, double *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);
	char *end;
	double v;

	*out = def;
	if (e == NULL)
		return 0;
	errno = 0;
	v = strtod(e->value, &end);
	if (e->value[0] == '\0' || *end != '\0' || errno != 0 || isnan(v) || v < min ||
	    v > max) {
		config_error(errs, cfg, e->line, "%s: '%s' is not a number from %g to %g", key,
		    e->value, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

void
config_check_unknown(struct config *cfg, bool (*owns)(const char *section),
    struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		struct config_entry *e = &cfg->entries[i];
		if (e->used || (owns != NULL && !owns(e->section)))
			continue;
		config_error(errs, cfg, e->line, "unknown key '%s' in [%s]", e->key, e->section);
	}
}

int
config_read_secret(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL) {
		snprintf(err, errlen, "cannot read secret file '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)len, fp) == NULL) {
		fclose(fp);
		snprintf(err, errlen, "secret file '%s' is empty", path);
		return -1;
	}
	fclose(fp);
	n = strcspn(buf, "\r\n");
	if (n == len - 1 && buf[n] == '\0') {
		snprintf(err, errlen, "secret file '%s': first line too long", path);
		return -1;
	}
	buf[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "secret file '%s' is empty", path);
		return -1;
	}
	return 0;
}
