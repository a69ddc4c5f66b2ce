/*
 * monstate — see monstate.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "errbuf.h"
#include "monstate.h"

#define FIELD_PATH_MAX 64 /* "nodes[1023].storm_severity" */


int
monstate_alloc(struct monstate *st, size_t nclusters, size_t nnodes, char *err, size_t errlen)
{
	struct monstate_cluster *c = NULL;
	struct monstate_node *n = NULL;

	if (nclusters > MONSTATE_CLUSTERS_MAX || nnodes > MONSTATE_NODES_MAX) {
		errbuf_set(err, errlen, "%zu clusters and %zu nodes: more than %d or %d",
		    nclusters, nnodes, MONSTATE_CLUSTERS_MAX, MONSTATE_NODES_MAX);
		return -1;
	}
	/* calloc(0) may return NULL: keep one element so NULL always means no memory. */
	if ((c = calloc(nclusters > 0 ? nclusters : 1, sizeof(*c))) == NULL ||
	    (n = calloc(nnodes > 0 ? nnodes : 1, sizeof(*n))) == NULL) {
		free(c);
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	free(st->clusters);
	free(st->nodes);
	st->clusters = c;
	st->nclusters = nclusters;
	st->nodes = n;
	st->nnodes = nnodes;
	return 0;
}

void
monstate_release(struct monstate *st)
{
	free(st->clusters);
	free(st->nodes);
	memset(st, 0, sizeof(*st));
}

/* jansson refuses NaN and infinities; the writer's numbers never are, but a 0 is
 * better than a file that cannot be written. */
static json_t *
real(double v)
{
	return json_real(isfinite(v) ? v : 0.0);
}

static json_t *
count_json(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

void
monstate_keys(const struct kind *k, struct monstate_keys *keys)
{
	snprintf(keys->state, sizeof(keys->state), "%s", k->label);
	snprintf(keys->severity, sizeof(keys->severity), "%s_severity", k->label);
	snprintf(keys->in, sizeof(keys->in), "in_%s", k->label);
	/* The first writers named the storm's "involved"; the name is kept for them. */
	if (strcmp(k->name, "connection_storm") == 0)
		snprintf(keys->involved, sizeof(keys->involved), "involved");
	else
		snprintf(keys->involved, sizeof(keys->involved), "%s_involved", k->label);
	snprintf(keys->finding, sizeof(keys->finding), "%s_finding", k->label);
	snprintf(keys->remedy, sizeof(keys->remedy), "%s_remedy", k->label);
}

/* Whether every version-1 writer wrote the fields of kind k: those are required,
 * the others may be absent (a writer older than the kind). Never grows. */
static bool
always_written(const struct kind *k, bool cluster)
{
	static const char *const v1_cluster[] = { "connection_storm" };
	static const char *const v1_node[] = { "connection_storm", "latency_tail", "node_down" };
	const char *const *v = cluster ? v1_cluster : v1_node;
	size_t i, n = cluster ? sizeof(v1_cluster) / sizeof(v1_cluster[0]) :
				sizeof(v1_node) / sizeof(v1_node[0]);

	for (i = 0; i < n; i++) {
		if (strcmp(v[i], k->name) == 0)
			return true;
	}
	return false;
}

static json_t *
cluster_json(const struct monstate_cluster *c)
{
	json_t *o = json_pack("{s:s, s:s}", "name", c->name, "title", c->title);
	struct monstate_keys f;
	size_t i;

	for (i = 0; o != NULL && i < kinds_count(); i++) {
		const struct kind *k = kinds_at(i);
		const struct monstate_episode *e = &c->kinds[i];
		if (k->scope != KIND_SCOPE_CLUSTER)
			continue;
		monstate_keys(k, &f);
		if (json_object_set_new(o, f.state, json_string(e->detector.state)) != 0 ||
		    json_object_set_new(o, f.severity, json_string(e->detector.severity)) != 0 ||
		    json_object_set_new(o, f.in, count_json(e->in)) != 0 ||
		    json_object_set_new(o, f.involved, count_json(e->involved)) != 0 ||
		    (e->finding[0] != '\0' &&
		    json_object_set_new(o, f.finding, json_string(e->finding)) != 0) ||
		    (e->remedy[0] != '\0' &&
		    json_object_set_new(o, f.remedy, json_string(e->remedy)) != 0)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *
node_json(const struct monstate_node *n)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:o, s:b, s:o}", "name", n->name,
	    "cluster", n->cluster, "up", n->up, "polled", n->polled, "poll_ok", n->poll_ok,
	    "poll_error", n->poll_error, "connections", count_json(n->connections), "rate_known",
	    n->rate_known, "new_connections_per_second", real(n->new_connections_per_second));
	json_t *more = json_pack("{s:o, s:o, s:o, s:o}", "probes", count_json(n->probes),
	    "p50_us", count_json(n->p50_us), "p99_us", count_json(n->p99_us), "slow_fraction",
	    real(n->slow_fraction));
	struct monstate_keys f;
	size_t i;

	if (o == NULL || more == NULL || json_object_update(o, more) != 0)
		goto out_fail;
	for (i = 0; i < kinds_count(); i++) {
		monstate_keys(kinds_at(i), &f);
		if (json_object_set_new(o, f.state, json_string(n->kinds[i].state)) != 0 ||
		    json_object_set_new(o, f.severity, json_string(n->kinds[i].severity)) != 0)
			goto out_fail;
	}
	if (json_object_set_new(o, "last_probe_ok_at", json_integer(n->last_probe_ok_at)) != 0 ||
	    json_object_set_new(o, "role", json_string(n->proxy_role ? "proxy" : "node")) != 0)
		goto out_fail;
	if (n->has_proxy && json_object_set_new(o, "proxy", json_pack("{s:o, s:o, s:o, s:o, s:o, "
								      "s:o, s:o}",
	    "backends", count_json(n->proxy.backends), "backends_up",
	    count_json(n->proxy.backends_up), "client_connections",
	    count_json(n->proxy.client_connections), "requests", count_json(n->proxy.requests),
	    "fast_failures", count_json(n->proxy.fast_failures), "timeouts",
	    count_json(n->proxy.timeouts), "queue_refusals",
	    count_json(n->proxy.queue_refusals))) != 0)
		goto out_fail;
	if (n->has_via_proxies && json_object_set_new(o, "via_proxies", json_pack("{s:o, s:o, s:o}",
	    "replies", count_json(n->via_proxies.replies), "slow_fraction",
	    real(n->via_proxies.slow_fraction), "proxies_down",
	    count_json(n->via_proxies.proxies_down))) != 0)
		goto out_fail;
	json_decref(more);
	return o;
out_fail:
	json_decref(o);
	json_decref(more);
	return NULL;
}

char *
monstate_format(const struct monstate *st)
{
	json_t *doc, *clusters, *nodes, *item;
	char *text = NULL;
	size_t i;

	doc = json_pack("{s:i, s:I, s:I, s:I, s:o}", "version", MONSTATE_VERSION, "written_at",
	    (json_int_t)st->written_at, "pid", (json_int_t)st->pid, "interval_ms",
	    (json_int_t)st->interval_ms, "tail_threshold_us", count_json(st->tail_threshold_us));
	clusters = json_array();
	nodes = json_array();
	if (doc == NULL || clusters == NULL || nodes == NULL)
		goto out_free;
	for (i = 0; i < st->nclusters; i++) {
		if ((item = cluster_json(&st->clusters[i])) == NULL ||
		    json_array_append_new(clusters, item) != 0)
			goto out_free;
	}
	for (i = 0; i < st->nnodes; i++) {
		if ((item = node_json(&st->nodes[i])) == NULL ||
		    json_array_append_new(nodes, item) != 0)
			goto out_free;
	}
	if (json_object_set(doc, "clusters", clusters) != 0 ||
	    json_object_set(doc, "nodes", nodes) != 0)
		goto out_free;
	text = json_dumps(doc, JSON_COMPACT);
out_free:
	json_decref(clusters);
	json_decref(nodes);
	json_decref(doc);
	return text;
}

int
monstate_write(const char *path, const struct monstate *st, char *err, size_t errlen)
{
	char tmp[MONSTATE_PATH_MAX + 8];
	char *text;
	size_t len, off = 0;
	ssize_t w;
	int fd, saved;

	if (strlen(path) > MONSTATE_PATH_MAX) {
		errbuf_set(err, errlen, "state file path is longer than %d bytes",
		    MONSTATE_PATH_MAX);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((text = monstate_format(st)) == NULL) {
		errbuf_set(err, errlen, "%s: out of memory formatting the state", path);
		return -1;
	}
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		errbuf_set(err, errlen, "%s: %s", tmp, strerror(errno));
		free(text);
		return -1;
	}
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out_unlink;
		off += (size_t)w;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out_unlink;
	free(text);
	return 0;
out_unlink:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(text);
	errbuf_set(err, errlen, "%s: %s", path, strerror(saved != 0 ? saved : EIO));
	return -1;
}

/* --- reading ------------------------------------------------------------------------ */

struct reader {
	char *err;
	size_t errlen;
	char where[FIELD_PATH_MAX];
};

static int
get_string(struct reader *r, json_t *obj, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
		errbuf_set(r->err, r->errlen, "%s%s: expected a string of at most %zu bytes",
		    r->where, key, cap - 1);
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
get_int(struct reader *r, json_t *obj, const char *key, int64_t min, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < min) {
		errbuf_set(r->err, r->errlen, "%s%s: expected an integer of at least %lld",
		    r->where, key, (long long)min);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int
get_uint(struct reader *r, json_t *obj, const char *key, uint64_t *out)
{
	int64_t v;

	if (get_int(r, obj, key, 0, &v) < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int
get_bool(struct reader *r, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v)) {
		errbuf_set(r->err, r->errlen, "%s%s: expected true or false", r->where, key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* A number (integer or real) in [0, max]. */
static int
get_number(struct reader *r, json_t *obj, const char *key, double max, double *out)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (!json_is_number(v) || !((d = json_number_value(v)) >= 0 && d <= max)) {
		errbuf_set(r->err, r->errlen, "%s%s: expected a number from 0 to %g", r->where,
		    key, max);
		return -1;
	}
	*out = d;
	return 0;
}

/* A kind's fields in o: required if every version-1 writer wrote them, else absent
 * reads as "ok", "none", 0, 0. in and involved only for a cluster's kind (in != NULL). */
static int
read_kind(struct reader *r, json_t *o, const struct kind *k, struct monstate_detector *d,
    uint64_t *in, uint64_t *involved)
{
	struct monstate_keys f;

	monstate_keys(k, &f);
	if (json_object_get(o, f.state) == NULL && !always_written(k, in != NULL)) {
		snprintf(d->state, sizeof(d->state), "ok");
		snprintf(d->severity, sizeof(d->severity), "none");
		if (in != NULL) {
			*in = 0;
			*involved = 0;
		}
		return 0;
	}
	if (get_string(r, o, f.state, d->state, sizeof(d->state)) < 0 ||
	    get_string(r, o, f.severity, d->severity, sizeof(d->severity)) < 0)
		return -1;
	if (in != NULL &&
	    (get_uint(r, o, f.in, in) < 0 || get_uint(r, o, f.involved, involved) < 0))
		return -1;
	return 0;
}

static int
read_cluster(struct reader *r, json_t *o, struct monstate_cluster *c)
{
	size_t i;

	if (!json_is_object(o)) {
		errbuf_set(r->err, r->errlen, "%s: expected an object", r->where);
		return -1;
	}
	if (get_string(r, o, "name", c->name, sizeof(c->name)) < 0 ||
	    get_string(r, o, "title", c->title, sizeof(c->title)) < 0)
		return -1;
	for (i = 0; i < kinds_count(); i++) {
		struct monstate_episode *e = &c->kinds[i];
		struct monstate_keys f;
		if (kinds_at(i)->scope != KIND_SCOPE_CLUSTER)
			continue;
		if (read_kind(r, o, kinds_at(i), &e->detector, &e->in, &e->involved) < 0)
			return -1;
		monstate_keys(kinds_at(i), &f);
		/* The sentences are optional: absent while nothing is open, and from
		 * writers before them. */
		if ((json_object_get(o, f.finding) != NULL &&
		    get_string(r, o, f.finding, e->finding, sizeof(e->finding)) < 0) ||
		    (json_object_get(o, f.remedy) != NULL &&
		    get_string(r, o, f.remedy, e->remedy, sizeof(e->remedy)) < 0))
			return -1;
	}
	return 0;
}

/* "role", "proxy" and "via_proxies": absent from a writer before the proxy tier. */
static int
read_tiers(struct reader *r, json_t *o, struct monstate_node *n)
{
	char role[MONSTATE_WORD_MAX + 1];
	json_t *p;

	if (json_object_get(o, "role") != NULL) {
		if (get_string(r, o, "role", role, sizeof(role)) < 0)
			return -1;
		n->proxy_role = strcmp(role, "proxy") == 0;
	}
	if ((p = json_object_get(o, "proxy")) != NULL) {
		n->has_proxy = true;
		if (get_uint(r, p, "backends", &n->proxy.backends) < 0 ||
		    get_uint(r, p, "backends_up", &n->proxy.backends_up) < 0 ||
		    get_uint(r, p, "client_connections", &n->proxy.client_connections) < 0 ||
		    get_uint(r, p, "requests", &n->proxy.requests) < 0 ||
		    get_uint(r, p, "fast_failures", &n->proxy.fast_failures) < 0 ||
		    get_uint(r, p, "timeouts", &n->proxy.timeouts) < 0 ||
		    get_uint(r, p, "queue_refusals", &n->proxy.queue_refusals) < 0)
			return -1;
	}
	if ((p = json_object_get(o, "via_proxies")) != NULL) {
		n->has_via_proxies = true;
		if (get_uint(r, p, "replies", &n->via_proxies.replies) < 0 ||
		    get_number(r, p, "slow_fraction", 1, &n->via_proxies.slow_fraction) < 0 ||
		    get_uint(r, p, "proxies_down", &n->via_proxies.proxies_down) < 0)
			return -1;
	}
	return 0;
}

static int
read_node(struct reader *r, json_t *o, struct monstate_node *n)
{
	size_t i;

	if (!json_is_object(o)) {
		errbuf_set(r->err, r->errlen, "%s: expected an object", r->where);
		return -1;
	}
	if (get_string(r, o, "name", n->name, sizeof(n->name)) < 0 ||
	    get_string(r, o, "cluster", n->cluster, sizeof(n->cluster)) < 0 ||
	    get_bool(r, o, "up", &n->up) < 0 || get_bool(r, o, "polled", &n->polled) < 0 ||
	    get_bool(r, o, "poll_ok", &n->poll_ok) < 0 ||
	    get_string(r, o, "poll_error", n->poll_error, sizeof(n->poll_error)) < 0 ||
	    get_uint(r, o, "connections", &n->connections) < 0 ||
	    get_bool(r, o, "rate_known", &n->rate_known) < 0 ||
	    get_number(r, o, "new_connections_per_second", 1e15, &n->new_connections_per_second) <
		0 ||
	    get_uint(r, o, "probes", &n->probes) < 0 || get_uint(r, o, "p50_us", &n->p50_us) < 0 ||
	    get_uint(r, o, "p99_us", &n->p99_us) < 0 ||
	    get_number(r, o, "slow_fraction", 1, &n->slow_fraction) < 0)
		return -1;
	for (i = 0; i < kinds_count(); i++) {
		if (read_kind(r, o, kinds_at(i), &n->kinds[i], NULL, NULL) < 0)
			return -1;
	}
	if (get_int(r, o, "last_probe_ok_at", 0, &n->last_probe_ok_at) < 0)
		return -1;
	return read_tiers(r, o, n);
}

int
monstate_parse(const char *text, size_t len, struct monstate *st, char *err, size_t errlen)
{
	struct reader r = { err, errlen, "" };
	json_error_t jerr;
	json_t *doc, *clusters, *nodes;
	int64_t version;
	size_t i;

	monstate_release(st);
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		errbuf_set(err, errlen, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_object(doc)) {
		errbuf_set(err, errlen, "not a JSON object");
		goto out_fail;
	}
	if (get_int(&r, doc, "version", 1, &version) < 0)
		goto out_fail;
	if (version != MONSTATE_VERSION) {
		errbuf_set(err, errlen, "version %lld is not %d", (long long)version,
		    MONSTATE_VERSION);
		goto out_fail;
	}
	if (get_int(&r, doc, "written_at", 0, &st->written_at) < 0 ||
	    get_int(&r, doc, "pid", 0, &st->pid) < 0 ||
	    get_int(&r, doc, "interval_ms", 0, &st->interval_ms) < 0 ||
	    get_uint(&r, doc, "tail_threshold_us", &st->tail_threshold_us) < 0)
		goto out_fail;
	clusters = json_object_get(doc, "clusters");
	nodes = json_object_get(doc, "nodes");
	if (!json_is_array(clusters) || !json_is_array(nodes)) {
		errbuf_set(err, errlen, "clusters and nodes must be arrays");
		goto out_fail;
	}
	if (monstate_alloc(st, json_array_size(clusters), json_array_size(nodes), err, errlen) < 0)
		goto out_fail;
	for (i = 0; i < st->nclusters; i++) {
		snprintf(r.where, sizeof(r.where), "clusters[%zu].", i);
		if (read_cluster(&r, json_array_get(clusters, i), &st->clusters[i]) < 0)
			goto out_fail;
	}
	for (i = 0; i < st->nnodes; i++) {
		snprintf(r.where, sizeof(r.where), "nodes[%zu].", i);
		if (read_node(&r, json_array_get(nodes, i), &st->nodes[i]) < 0)
			goto out_fail;
	}
	json_decref(doc);
	return 0;
out_fail:
	json_decref(doc);
	monstate_release(st);
	return -1;
}

int
monstate_read(const char *path, struct monstate *st, char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	monstate_release(st);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(MONSTATE_FILE_MAX + 1)) == NULL) {
		close(fd);
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		n = read(fd, buf + len, MONSTATE_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
			goto out_fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MONSTATE_FILE_MAX) {
			errbuf_set(err, errlen, "%s: larger than %d bytes", path,
			    MONSTATE_FILE_MAX);
			goto out_fail;
		}
	}
	close(fd);
	rc = monstate_parse(buf, len, st, err, errlen);
	if (rc < 0 && err != NULL && errlen > 0) {
		char why[MONSTATE_ERROR_MAX * 2];
		snprintf(why, sizeof(why), "%s", err);
		errbuf_set(err, errlen, "%s: %s", path, why);
	}
	free(buf);
	return rc;
out_fail:
	close(fd);
	free(buf);
	return -1;
}
