/*
 * rotation — see rotation.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errbuf.h"
#include "parse.h"
#include "rotation.h"
#include "utctime.h"

#define SECTION "oncall"

bool
rotation_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= ROTATION_NAME_MAX)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	}
	return true;
}

bool
rotations_owns(const char *section)
{
	return strcmp(section, SECTION) == 0 || config_section_name(section, SECTION) != NULL;
}

const struct rotation *
rotations_find(const struct rotations *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

void
rotations_release(struct rotations *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/*
 * Splits a list of JIDs separated by commas and/or blanks into r->members. Reports
 * each bad member. Returns 0 or -1.
 */
static int
load_members(struct rotation *r, struct config *cfg, const struct config_entry *e,
    struct config_errors *errs)
{
	const char *p = e->value;
	char jid[JID_MAX + 2];
	size_t len, i;
	int rc = 0;

	r->nmembers = 0;
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t");
		if (len > JID_MAX) {
			config_error(errs, cfg, e->line, "members: a member is longer than %d bytes",
			    JID_MAX);
			return -1;
		}
		memcpy(jid, p, len);
		jid[len] = '\0';
		p += len;
		if (!jid_bare_valid(jid)) {
			config_error(errs, cfg, e->line, "members: '%s' is not a JID (user@domain)",
			    jid);
			rc = -1;
			continue;
		}
		for (i = 0; i < r->nmembers; i++) {
			if (jid_equal(r->members[i], jid)) {
				config_error(errs, cfg, e->line, "members: '%s' is listed twice", jid);
				rc = -1;
			}
		}
		if (r->nmembers == ROTATION_MEMBERS_MAX) {
			config_error(errs, cfg, e->line, "members: more than %d members",
			    ROTATION_MEMBERS_MAX);
			return -1;
		}
		memcpy(r->members[r->nmembers++], jid, len + 1);
	}
	if (r->nmembers == 0 && rc == 0) {
		config_error(errs, cfg, e->line, "members: the list is empty");
		rc = -1;
	}
	return rc;
}

static int
load_one(struct rotation *r, const char *section, const char *name, int line,
    struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->line = line;
	if ((e = config_find(cfg, section, "members")) == NULL) {
		config_error(errs, cfg, line, "[%s] needs members", section);
		rc = -1;
	} else if (load_members(r, cfg, e, errs) != 0) {
		rc = -1;
	}
	if ((e = config_find(cfg, section, "shift")) == NULL) {
		config_error(errs, cfg, line, "[%s] needs shift (the length of one turn, e.g. 7d)",
		    section);
		rc = -1;
	} else if (parse_duration_ms(e->value, &r->shift_ms) != 0 ||
	    r->shift_ms < ROTATION_SHIFT_MIN_MS || r->shift_ms > ROTATION_SHIFT_MAX_MS) {
		config_error(errs, cfg, e->line, "shift: '%s' is not a duration from 1m to 366d",
		    e->value);
		rc = -1;
	}
	if ((e = config_find(cfg, section, "handoff")) == NULL) {
		config_error(errs, cfg, line,
		    "[%s] needs handoff (a hand-off instant, e.g. 2024-01-01 09:00)", section);
		rc = -1;
	} else if (utc_parse(e->value, &r->handoff_ms) != 0) {
		config_error(errs, cfg, e->line,
		    "handoff: '%s' is not a UTC date and time (YYYY-MM-DD HH:MM)", e->value);
		rc = -1;
	}
	return rc;
}

int
rotations_load(struct rotations *r, struct config *cfg, struct config_errors *errs)
{
	const char *name;
	size_t i, j;
	int rc = 0;

	rotations_release(r);
	for (i = 0; i < cfg->nsections; i++) {
		const char *section = cfg->sections[i];

		if (strcmp(section, SECTION) == 0)
			name = ROTATION_DEFAULT;
		else if ((name = config_section_name(section, SECTION)) == NULL)
			continue;
		if (!rotation_name_valid(name)) {
			config_error(errs, cfg, cfg->section_lines[i],
			    "[%s]: a rotation name is 1-%d of A-Z a-z 0-9 _ . -", section,
			    ROTATION_NAME_MAX);
			rc = -1;
			continue;
		}
		for (j = 0; j < r->n; j++) {
			if (strcmp(r->v[j].name, name) == 0) {
				config_error(errs, cfg, cfg->section_lines[i],
				    "[%s] is defined twice (first on line %d)", section, r->v[j].line);
				rc = -1;
				break;
			}
		}
		if (j < r->n)
			continue;
		if (r->n == ROTATIONS_MAX) {
			config_error(errs, cfg, cfg->section_lines[i], "more than %d rotations",
			    ROTATIONS_MAX);
			rc = -1;
			break;
		}
		if (r->v == NULL && (r->v = calloc(ROTATIONS_MAX, sizeof(*r->v))) == NULL) {
			config_error(errs, cfg, 0, "out of memory reading the rotations");
			return -1;
		}
		if (load_one(&r->v[r->n], section, name, cfg->section_lines[i], cfg, errs) != 0)
			rc = -1;
		r->n++;
	}
	if (rc != 0)
		rotations_release(r);
	return rc;
}

/* floor(a / b) for b > 0. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

void
rotation_scheduled(const struct rotation *r, int64_t t, struct oncall *out)
{
	int64_t turn = floor_div(t - r->handoff_ms, r->shift_ms);
	int64_t n = (int64_t)r->nmembers;

	memset(out, 0, sizeof(*out));
	out->member = (size_t)(((turn % n) + n) % n);
	snprintf(out->jid, sizeof(out->jid), "%s", r->members[out->member]);
	out->start = r->handoff_ms + turn * r->shift_ms;
	out->end = out->start + r->shift_ms;
}

void
rotation_oncall(const struct rotation *r, const struct rotation_overrides *ov, int64_t t,
    struct oncall *out)
{
	const struct rotation_override *win = NULL;
	size_t i;

	rotation_scheduled(r, t, out);
	for (i = 0; ov != NULL && i < ov->n; i++) {
		const struct rotation_override *o = &ov->v[i];

		if (strcmp(o->rotation, r->name) == 0 && o->from <= t && t < o->until &&
		    (win == NULL || o->id > win->id))
			win = o;
	}
	if (win != NULL) {
		snprintf(out->jid, sizeof(out->jid), "%s", win->jid);
		out->override_id = win->id;
		out->start = win->from;
		out->end = win->until;
	}
	/* A newer override that starts later takes over from whatever holds now. */
	for (i = 0; ov != NULL && i < ov->n; i++) {
		const struct rotation_override *o = &ov->v[i];

		if (strcmp(o->rotation, r->name) == 0 && o->from > t && o->from < out->end &&
		    o->until > o->from && (win == NULL || o->id > win->id))
			out->end = o->from;
	}
}

void
rotation_overrides_release(struct rotation_overrides *ov)
{
	free(ov->v);
	memset(ov, 0, sizeof(*ov));
}

static void
remove_at(struct rotation_overrides *ov, size_t i)
{
	memmove(&ov->v[i], &ov->v[i + 1], (ov->n - i - 1) * sizeof(ov->v[0]));
	ov->n--;
}

/* Inserts o keeping the list newest first. */
static int
insert_sorted(struct rotation_overrides *ov, const struct rotation_override *o, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; i < ov->n; i++)
		if (ov->v[i].id == o->id)
			return 0;
	if (ov->n == ROTATION_OVERRIDES_MAX) {
		errbuf_set(err, errlen,
		    "more than %d overrides in force", ROTATION_OVERRIDES_MAX);
		return -1;
	}
	if (ov->n == ov->cap) {
		size_t cap = ov->cap == 0 ? 16 : ov->cap * 2;
		struct rotation_override *v = realloc(ov->v, cap * sizeof(*v));

		if (v == NULL) {
			errbuf_set(err, errlen, "out of memory");
			return -1;
		}
		ov->v = v;
		ov->cap = cap;
	}
	for (i = 0; i < ov->n && ov->v[i].id > o->id; i++)
		;
	memmove(&ov->v[i + 1], &ov->v[i], (ov->n - i) * sizeof(ov->v[0]));
	ov->v[i] = *o;
	ov->n++;
	return 0;
}

static int
parse_override(const struct ilog_event *ev, struct rotation_override *o, char *err,
    size_t errlen)
{
	json_t *body = json_loads(ev->body_json != NULL ? ev->body_json : "", 0, NULL);
	json_t *rot, *jid, *from, *until;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (body == NULL) {
		errbuf_set(err, errlen,
		    "override %lld: its body is not JSON", (long long)ev->id);
		return -1;
	}
	rot = json_object_get(body, "rotation");
	jid = json_object_get(body, "jid");
	from = json_object_get(body, "from");
	until = json_object_get(body, "until");
	if (!json_is_string(rot) || !rotation_name_valid(json_string_value(rot)) ||
	    !json_is_string(jid) || !jid_bare_valid(json_string_value(jid)) ||
	    !json_is_integer(from) || !json_is_integer(until) ||
	    json_integer_value(until) <= json_integer_value(from)) {
		errbuf_set(err, errlen, "override %lld: needs rotation, jid, from < until",
		    (long long)ev->id);
		goto out;
	}
	o->id = ev->id;
	snprintf(o->rotation, sizeof(o->rotation), "%s", json_string_value(rot));
	snprintf(o->jid, sizeof(o->jid), "%s", json_string_value(jid));
	o->from = json_integer_value(from);
	o->until = json_integer_value(until);
	o->created_at = ev->at;
	snprintf(o->actor, sizeof(o->actor), "%s", ev->actor);
	rc = 0;
out:
	json_decref(body);
	return rc;
}

/* The override id a cancellation names, or 0 if malformed. */
static int64_t
cancelled_id(const struct ilog_event *ev)
{
	json_t *body = json_loads(ev->body_json != NULL ? ev->body_json : "", 0, NULL);
	json_t *id = json_object_get(body, "override");
	int64_t v = json_is_integer(id) ? json_integer_value(id) : 0;

	json_decref(body);
	return v > 0 ? v : 0;
}

int
rotation_overrides_apply(struct rotation_overrides *ov, const struct ilog_event *ev,
    int64_t after, char *err, size_t errlen)
{
	struct rotation_override o;
	int64_t id;
	size_t i;

	if (ev->incident_id != 0)
		return 0;
	if (strcmp(ev->type, ROTATION_EV_CANCEL) == 0) {
		if ((id = cancelled_id(ev)) == 0) {
			errbuf_set(err, errlen,
			    "cancellation %lld names no override", (long long)ev->id);
			return -1;
		}
		for (i = 0; i < ov->n; i++) {
			if (ov->v[i].id == id) {
				remove_at(ov, i);
				break;
			}
		}
		return 1;
	}
	if (strcmp(ev->type, ROTATION_EV_OVERRIDE) != 0)
		return 0;
	if (parse_override(ev, &o, err, errlen) != 0)
		return -1;
	if (o.until <= after)
		return 1;
	return insert_sorted(ov, &o, err, errlen) == 0 ? 1 : -1;
}

int
rotation_overrides_read(struct ilog *log, int64_t after, struct rotation_overrides *ov,
    char *err, size_t errlen)
{
	struct ilog_events overrides = { 0 }, cancels = { 0 };
	struct rotation_override o;
	size_t i, j;
	int rc = -1;

	ov->n = 0;
	if (ilog_events_of_type(log, ROTATION_EV_OVERRIDE, ROTATION_OVERRIDES_MAX, &overrides,
	    err, errlen) != ILOG_OK ||
	    ilog_events_of_type(log, ROTATION_EV_CANCEL, 0, &cancels, err, errlen) != ILOG_OK)
		goto out;
	for (i = 0; i < overrides.n; i++) {
		/* A malformed record is skipped: one bad write must not hide the rest. */
		if (parse_override(&overrides.v[i], &o, NULL, 0) != 0 || o.until <= after)
			continue;
		for (j = 0; j < cancels.n; j++)
			if (cancelled_id(&cancels.v[j]) == o.id)
				break;
		if (j < cancels.n)
			continue;
		if (insert_sorted(ov, &o, err, errlen) != 0)
			goto out;
	}
	rc = 0;
out:
	ilog_events_release(&overrides);
	ilog_events_release(&cancels);
	return rc;
}

int
rotation_override_record(struct ilog *log, const char *rotation, const char *jid,
    int64_t from, int64_t until, const char *actor, int64_t *id, char *err, size_t errlen)
{
	json_t *body;
	char *text;
	enum ilog_status st;

	if (!rotation_name_valid(rotation)) {
		errbuf_set(err, errlen, "'%s' is not a rotation name", rotation);
		return -1;
	}
	if (!jid_bare_valid(jid)) {
		errbuf_set(err, errlen, "'%s' is not a JID (user@domain)", jid);
		return -1;
	}
	if (from < 0 || until <= from) {
		errbuf_set(err, errlen, "an override must end after it starts");
		return -1;
	}
	body = json_pack("{s:s, s:s, s:I, s:I}", "rotation", rotation, "jid", jid, "from",
	    (json_int_t)from, "until", (json_int_t)until);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	st = ilog_event_append(log, 0, actor, ROTATION_EV_OVERRIDE, text, id, err, errlen);
	free(text);
	return st == ILOG_OK ? 0 : -1;
}

int
rotation_override_cancel(struct ilog *log, int64_t id, const char *actor, char *err,
    size_t errlen)
{
	struct ilog_events overrides = { 0 };
	char body[64];
	size_t i;
	bool found = false;

	if (ilog_events_of_type(log, ROTATION_EV_OVERRIDE, 0, &overrides, err, errlen) != ILOG_OK)
		return -1;
	for (i = 0; i < overrides.n && !found; i++)
		found = overrides.v[i].id == id;
	ilog_events_release(&overrides);
	if (!found) {
		errbuf_set(err, errlen, "no override %lld", (long long)id);
		return -1;
	}
	snprintf(body, sizeof(body), "{\"override\": %lld}", (long long)id);
	return ilog_event_append(log, 0, actor, ROTATION_EV_CANCEL, body, NULL, err, errlen) ==
		       ILOG_OK ? 0 : -1;
}
