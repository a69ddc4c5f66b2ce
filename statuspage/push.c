/*
 * push — see push.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "ilog_outbox.h"
#include "push.h"
#include "waker.h"

#define LEASE_SLACK_MS 5000
#define PATH_MAX_LEN 1024

struct site_file {
	char path[PATH_MAX_LEN];
	uint64_t hash;
};

struct worker {
	struct push *p;
	struct sink_conf conf;
	pthread_t thread;
	bool started;
	CURL *curl;
	struct ilog *log;          /* the process's connection, borrowed: under p->dblock */
	int64_t last_request_ms;
	unsigned failures;         /* consecutive, for logging state changes */
	/* put: what the second origin already has (content hashes), this run */
	struct site_file *files;
	size_t nfiles;
	struct timespec front_seen; /* index.html's mtime when the front files were sent */
	/* the answer of the current request */
	struct textbuf answer;
	char retry_after[64];
};

struct push {
	pthread_mutex_t *dblock;   /* guards the shared log connection (borrowed) */
	struct waker waker;        /* stop, and push_notify's wake-ups */
	char site_dir[SP_PATH_MAX];
	struct worker *workers;
	size_t n;
};

static bool
stopping(struct push *p)
{
	return waker_stopping(&p->waker);
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct worker *w = arg;
	size_t n = size * nmemb;

	if (w->answer.len + n <= PUSH_BODY_MAX)
		textbuf_add(&w->answer, data, n);
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct worker *w = arg;
	size_t n = size * nmemb;

	if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		size_t len = n - 12;

		while (len > 0 && (data[12 + len - 1] == '\r' || data[12 + len - 1] == '\n'))
			len--;
		if (len >= sizeof(w->retry_after))
			len = sizeof(w->retry_after) - 1;
		memcpy(w->retry_after, data + 12, len);
		w->retry_after[len] = '\0';
	}
	return n;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return stopping(((struct worker *)arg)->p) ? 1 : 0; /* abandon on stop */
}

/* Waits out the sink's rate; false if stopping. */
static bool
pace(struct worker *w)
{
	int64_t gap = (int64_t)(1000.0 / w->conf.rate), due = w->last_request_ms + gap;

	if (clock_wall_ms() < due)
		waker_wait_until(&w->p->waker, due, false, 0);
	w->last_request_ms = clock_wall_ms();
	return !stopping(w->p);
}

/*
 * Performs one request. Returns the verdict; *retry_after_ms and why are set. An
 * abandoned request (stop) is reported as SINK_RETRY with *abandoned.
 */
static enum sink_verdict
perform(struct worker *w, const char *method, const char *url, const char *const *headers,
    size_t nheaders, const char *body, size_t len, const char *content_type,
    int64_t *retry_after_ms, bool *abandoned, char *why, size_t whylen)
{
	struct curl_slist *h = NULL, *t;
	char line[SINK_HEADER_MAX + 32];
	long status = 0;
	CURLcode rc;
	size_t i;

	*abandoned = false;
	*retry_after_ms = 0;
	if (!pace(w)) {
		*abandoned = true;
		snprintf(why, whylen, "stopping");
		return SINK_RETRY;
	}
	textbuf_reset(&w->answer);
	w->retry_after[0] = '\0';
	for (i = 0; i < nheaders; i++)
		if ((t = curl_slist_append(h, headers[i])) != NULL)
			h = t;
	if (content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		if ((t = curl_slist_append(h, line)) != NULL)
			h = t;
	}
	if ((t = curl_slist_append(h, "Expect:")) != NULL)
		h = t;
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		*abandoned = true;
		snprintf(why, whylen, "stopping");
		return SINK_RETRY;
	}
	if (rc == CURLE_URL_MALFORMAT) {
		/* Never sent, and never will be: retrying would hold the sink's queue. */
		snprintf(why, whylen, "%s", curl_easy_strerror(rc)); /* not the url: a secret */
		return SINK_GIVE_UP;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return SINK_RETRY;
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	return sink_judge(status, w->retry_after[0] ? w->retry_after : NULL,
	    w->answer.len ? w->answer.data : NULL, clock_wall_ms(), retry_after_ms, why, whylen);
}

/*
 * This sink's first (latest false) or latest remote id among the SINK_EVENT_REMOTE
 * events evs, oldest first unless newest_first; maint > 0: only the ids remembered for
 * that maintenance (those belong to no incident). "" if none.
 */
static void
pick_remote(struct worker *w, const struct ilog_events *evs, bool newest_first, int64_t maint,
    bool latest, char *out, size_t len)
{
	size_t k;

	out[0] = '\0';
	for (k = 0; k < evs->n; k++) {
		const struct ilog_event *ev = &evs->v[newest_first ? evs->n - 1 - k : k];
		const char *sink, *id;
		json_t *b;

		if (strcmp(ev->type, SINK_EVENT_REMOTE) != 0)
			continue;
		if ((b = json_loads(ev->body_json, 0, NULL)) == NULL)
			continue;
		sink = json_string_value(json_object_get(b, "sink"));
		id = json_string_value(json_object_get(b, "remote_id"));
		if (sink != NULL && id != NULL && strcmp(sink, w->conf.name) == 0 &&
		    (maint <= 0 || json_integer_value(json_object_get(b, "maintenance")) == maint) &&
		    (latest || out[0] == '\0'))
			snprintf(out, len, "%s", id);
		json_decref(b);
	}
}

/* The remote id this sink keeps for an incident (incident > 0) or a maintenance: its
 * first (SINK_REMOTE_FIRST) or its latest (SINK_REMOTE_LATEST). "" if none. */
static void
remote_id(struct worker *w, int64_t incident, int64_t maint, bool latest, char *out,
    size_t len)
{
	struct ilog_events evs = { 0 };
	char err[ILOG_ERR_LEN];
	enum ilog_status st;

	out[0] = '\0';
	if (incident <= 0 && maint <= 0)
		return;
	pthread_mutex_lock(w->p->dblock);
	/* A maintenance's ids are events of no incident: found among the latest of the
	 * type (a push per announcement, not per poll). */
	st = incident > 0 ? ilog_timeline(w->log, incident, &evs, err, sizeof(err)) :
			    ilog_events_of_type(w->log, SINK_EVENT_REMOTE, 0, &evs, err,
				sizeof(err));
	pthread_mutex_unlock(w->p->dblock);
	if (st == ILOG_OK)
		pick_remote(w, &evs, incident <= 0, incident > 0 ? 0 : maint, latest, out, len);
	ilog_events_release(&evs);
}

static void
remember(struct worker *w, int64_t incident, int64_t maint, int64_t event_id, const char *id)
{
	char err[ILOG_ERR_LEN], *body;
	enum ilog_status st;
	json_t *o;

	o = json_pack("{s:s, s:s, s:I}", "sink", w->conf.name, "remote_id", id, "event_id",
	    (json_int_t)event_id);
	if (o != NULL && maint > 0)
		json_object_set_new(o, "maintenance", json_integer(maint));
	body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	pthread_mutex_lock(w->p->dblock);
	st = body == NULL ? ILOG_ERR_DB :
	    ilog_event_append(w->log, incident, "mcstatus", SINK_EVENT_REMOTE, body, NULL, err,
		sizeof(err));
	pthread_mutex_unlock(w->p->dblock);
	if (st != ILOG_OK)
		log_err("sink %s: cannot remember remote id %s of %s %lld: %s", w->conf.name,
		    id, incident > 0 ? "incident" : "maintenance",
		    (long long)(incident > 0 ? incident : maint),
		    body == NULL ? "out of memory" : err);
	free(body);
}

/* The number in the payload's key.id ("7" for an incident, "m7" for a maintenance). */
static int64_t
payload_id(const char *payload, const char *key)
{
	json_t *o = json_loads(payload, 0, NULL);
	const char *id = json_string_value(json_object_get(json_object_get(o, key), "id"));
	long long v = 0;

	if (id != NULL)
		v = strtoll(id[0] == 'm' ? id + 1 : id, NULL, 10);
	json_decref(o);
	return v;
}

static enum sink_verdict
push_requests(struct worker *w, const struct ilog_outbox_item *it, int64_t *retry_after_ms,
    bool *abandoned, char *why, size_t whylen)
{
	struct sink_request *reqs = calloc(SINK_REQUESTS_MAX, sizeof(*reqs));
	int64_t incident = payload_id(it->payload_json, "incident");
	int64_t maint = incident > 0 ? 0 : payload_id(it->payload_json, "maintenance");
	enum sink_verdict v = SINK_DONE;
	char rid[SINK_REMOTE_ID_MAX], err[256];
	const char *hdrs[SINK_HEADERS_MAX];
	size_t n = 0, i, j;

	*abandoned = false;
	*retry_after_ms = 0;
	if (reqs == NULL) {
		snprintf(why, whylen, "out of memory");
		return SINK_RETRY;
	}
	rid[0] = '\0';
	if (w->conf.ops->remote != SINK_REMOTE_NONE)
		remote_id(w, incident, maint, w->conf.ops->remote == SINK_REMOTE_LATEST, rid,
		    sizeof(rid));
	if (sink_build(&w->conf, it->payload_json, rid, clock_wall_ms() / 1000, reqs, &n, err,
		sizeof(err)) < 0) {
		snprintf(why, whylen, "%s", err);
		free(reqs);
		return SINK_GIVE_UP;
	}
	for (i = 0; i < n && v == SINK_DONE; i++) {
		for (j = 0; j < reqs[i].nheaders; j++)
			hdrs[j] = reqs[i].headers[j];
		v = perform(w, reqs[i].method, reqs[i].url, hdrs, reqs[i].nheaders,
		    reqs[i].body.data, reqs[i].body.len, NULL, retry_after_ms, abandoned, why,
		    whylen);
		if (v == SINK_DONE && reqs[i].remember_id) {
			char id[SINK_REMOTE_ID_MAX];

			if (sink_answer_id(w->answer.len ? w->answer.data : NULL, id, sizeof(id), err,
				sizeof(err)) == 0)
				remember(w, incident, maint, it->event_id, id);
			else
				log_warn("sink %s: the answer to %s %s: %s", w->conf.name,
				    reqs[i].method, reqs[i].url, err);
		}
	}
	for (i = 0; i < n; i++)
		sink_request_release(&reqs[i]);
	free(reqs);
	return v;
}

/* --- put: mirror the site ------------------------------------------------------------ */

static uint64_t
fnv1a(const char *data, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)data[i]) * 1099511628211ULL;
	return h ^ len;
}

static const char *
content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (dot != NULL && strcmp(dot, ".json") == 0)
		return "application/json";
	if (dot != NULL && strcmp(dot, ".atom") == 0)
		return "application/atom+xml";
	return "application/octet-stream";
}

static int
read_file(const char *path, struct textbuf *b)
{
	char buf[65536];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	textbuf_reset(b);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		textbuf_add(b, buf, (size_t)r);
	close(fd);
	return r < 0 || textbuf_failed(b) ? -1 : 0;
}

static struct site_file *
known(struct worker *w, const char *rel)
{
	size_t i;

	for (i = 0; i < w->nfiles; i++)
		if (strcmp(w->files[i].path, rel) == 0)
			return &w->files[i];
	return NULL;
}

/*
 * PUTs the site file child (path on disk) if the remote does not have its content yet.
 * SINK_DONE also when there is nothing to send (not a regular file, unchanged).
 */
static enum sink_verdict
put_one(struct worker *w, const char *child, const char *path, struct textbuf *content,
    int64_t *retry_after_ms, bool *abandoned, char *why, size_t whylen)
{
	char url[SINK_URL_MAX];
	const char *hdrs[1];
	struct site_file *f;
	struct stat st;
	enum sink_verdict v;
	uint64_t h;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || read_file(path, content) < 0)
		return SINK_DONE;
	h = fnv1a(content->data != NULL ? content->data : "", content->len);
	if ((f = known(w, child)) != NULL && f->hash == h)
		return SINK_DONE;
	snprintf(url, sizeof(url), "%s%s", w->conf.url, child);
	hdrs[0] = "Cache-Control: no-cache";
	v = perform(w, "PUT", url, hdrs, 1, content->data != NULL ? content->data : "",
	    content->len, content_type(child), retry_after_ms, abandoned, why, whylen);
	if (v != SINK_DONE)
		return v;
	if (f == NULL && w->nfiles < PUSH_SITE_FILES_MAX) {
		struct site_file *nf = realloc(w->files, (w->nfiles + 1) * sizeof(*nf));

		if (nf != NULL) {
			w->files = nf;
			f = &w->files[w->nfiles++];
			snprintf(f->path, sizeof(f->path), "%s", child);
		}
	}
	if (f != NULL)
		f->hash = h;
	return SINK_DONE;
}

/*
 * What a visitor or a status client reads first goes first: at the sink's rate a whole
 * site (the first push after a start sends every file, a few hundred with 90 days of
 * incidents) would otherwise hold the front page back for minutes behind files in
 * directory order. Sent again, between the other files, whenever index.html was
 * rendered anew meanwhile (a change while a long push runs).
 */
static enum sink_verdict
put_front(struct worker *w, struct textbuf *content, int64_t *retry_after_ms,
    bool *abandoned, char *why, size_t whylen)
{
	static const char *const front[] = { "index.html", "api/v2/status.json",
		"api/v2/summary.json", "api/v2/incidents/unresolved.json",
		"api/v2/components.json", "api/v2/scheduled-maintenances/active.json",
		"api/v2/scheduled-maintenances/upcoming.json", "history.atom" };
	char path[PATH_MAX_LEN * 2];
	enum sink_verdict v = SINK_DONE;
	struct stat st;
	size_t i;

	snprintf(path, sizeof(path), "%s/index.html", w->p->site_dir);
	if (stat(path, &st) == 0) {
		if (st.st_mtim.tv_sec == w->front_seen.tv_sec &&
		    st.st_mtim.tv_nsec == w->front_seen.tv_nsec)
			return SINK_DONE;
		w->front_seen = st.st_mtim;
	}
	for (i = 0; v == SINK_DONE && i < sizeof(front) / sizeof(front[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", w->p->site_dir, front[i]);
		v = put_one(w, front[i], path, content, retry_after_ms, abandoned, why, whylen);
	}
	if (v != SINK_DONE)
		memset(&w->front_seen, 0, sizeof(w->front_seen)); /* not all sent: again */
	return v;
}

/* PUTs every file of dir/rel whose content the remote does not have yet. */
static enum sink_verdict
put_tree(struct worker *w, const char *rel, int depth, struct textbuf *content,
    int64_t *retry_after_ms, bool *abandoned, char *why, size_t whylen)
{
	char path[PATH_MAX_LEN * 2], child[PATH_MAX_LEN];
	enum sink_verdict v = SINK_DONE;
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s%s", w->p->site_dir, rel[0] ? "/" : "", rel);
	if ((d = opendir(path)) == NULL) {
		snprintf(why, whylen, "cannot read the site: %s", strerror(errno));
		return SINK_RETRY;
	}
	while (v == SINK_DONE && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp.") != NULL)
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "",
			de->d_name) >= sizeof(child))
			continue;
		snprintf(path, sizeof(path), "%s/%s", w->p->site_dir, child);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 4)
				v = put_tree(w, child, depth + 1, content, retry_after_ms, abandoned, why,
				    whylen);
			continue;
		}
		v = put_front(w, content, retry_after_ms, abandoned, why, whylen);
		if (v == SINK_DONE)
			v = put_one(w, child, path, content, retry_after_ms, abandoned, why,
			    whylen);
	}
	closedir(d);
	return v;
}

static enum sink_verdict
push_site(struct worker *w, int64_t *retry_after_ms, bool *abandoned, char *why,
    size_t whylen)
{
	struct textbuf content = { 0 };
	enum sink_verdict v;

	v = put_front(w, &content, retry_after_ms, abandoned, why, whylen);
	if (v == SINK_DONE)
		v = put_tree(w, "", 0, &content, retry_after_ms, abandoned, why, whylen);
	textbuf_release(&content);
	/* A file refused (403, 405) will be refused again: the site is whole or not at all,
	 * and the next change tries again anyway. */
	return v;
}

/* --- the worker's loop ------------------------------------------------------------------ */

static void
handle(struct worker *w, struct ilog_outbox_item *it)
{
	struct ilog_backoff give_up = w->conf.backoff;
	char why[256], err[ILOG_ERR_LEN];
	int64_t retry_after_ms = 0;
	enum sink_verdict v;
	enum ilog_status st;
	bool abandoned = false, gave_up = false;

	if (w->conf.ops->build == NULL) /* a type without requests mirrors the site */
		v = push_site(w, &retry_after_ms, &abandoned, why, sizeof(why));
	else
		v = push_requests(w, it, &retry_after_ms, &abandoned, why, sizeof(why));
	if (abandoned) {
		/* Shutting down or reloading: due again after the first backoff. The remote
		 * never answered, so this must not give the item up, whatever max_attempts
		 * says (with max_attempts = 1 every SIGHUP lost the push in flight). */
		struct ilog_backoff again = w->conf.backoff;

		again.max_attempts = 0;
		pthread_mutex_lock(w->p->dblock);
		ilog_outbox_fail(w->log, it->id, "interrupted by a shutdown", &again, 0, NULL, NULL,
		    err, sizeof(err));
		pthread_mutex_unlock(w->p->dblock);
		return;
	}
	if (v == SINK_DONE) {
		pthread_mutex_lock(w->p->dblock);
		st = ilog_outbox_complete(w->log, it->id, err, sizeof(err));
		pthread_mutex_unlock(w->p->dblock);
		if (st != ILOG_OK)
			LOG_LIMITED(LOG_LEVEL_ERR, "sink %s: cannot complete item %lld: %s",
			    w->conf.name, (long long)it->id, err);
		if (w->failures > 0)
			log_info("sink %s: delivering again after %u failed attempts", w->conf.name,
			    w->failures);
		w->failures = 0;
		log_debug("sink %s: pushed event %lld", w->conf.name, (long long)it->event_id);
		return;
	}
	if (v == SINK_GIVE_UP)
		give_up.max_attempts = 1;
	pthread_mutex_lock(w->p->dblock);
	st = ilog_outbox_fail(w->log, it->id, why, &give_up, retry_after_ms, &gave_up, NULL, err,
	    sizeof(err));
	pthread_mutex_unlock(w->p->dblock);
	if (st != ILOG_OK)
		LOG_LIMITED(LOG_LEVEL_ERR, "sink %s: cannot record a failure of item %lld: %s",
		    w->conf.name, (long long)it->id, err);
	if (gave_up)
		log_err("sink %s: gave up event %lld: %s", w->conf.name, (long long)it->event_id,
		    why);
	else if (w->failures++ == 0)
		log_warn("sink %s: push failed, retrying with backoff: %s", w->conf.name, why);
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct push *p = w->p;
	/* The lease only matters after a crash (one thread claims a sink's items): long
	 * enough for a request to time out, short enough that a restart resumes soon. */
	int64_t lease = w->conf.timeout_ms + LEASE_SLACK_MS;

	while (!stopping(p)) {
		struct ilog_outbox_item it = { 0 };
		char err[ILOG_ERR_LEN];
		int64_t next = 0, until;
		enum ilog_status st;
		unsigned gen = waker_generation(&p->waker);

		pthread_mutex_lock(p->dblock);
		st = ilog_outbox_claim_head(w->log, w->conf.name, lease, &it, &next, err,
		    sizeof(err));
		pthread_mutex_unlock(p->dblock);
		if (st == ILOG_OK) {
			handle(w, &it);
			ilog_outbox_item_release(&it);
			continue;
		}
		if (st != ILOG_ERR_NOT_FOUND)
			LOG_LIMITED(LOG_LEVEL_ERR, "sink %s: reading the outbox: %s", w->conf.name,
			    err);
		until = clock_wall_ms() + PUSH_IDLE_POLL_MS;
		if (next != 0 && next < until)
			until = next;
		waker_wait_until(&p->waker, until, next == 0, gen);
	}
	return NULL;
}

static void
worker_release(struct worker *w)
{
	if (w->curl != NULL)
		curl_easy_cleanup(w->curl);
	textbuf_release(&w->answer);
	free(w->files);
	explicit_bzero(w->conf.secret, sizeof(w->conf.secret));
}

struct push *
push_start(struct ilog *log, pthread_mutex_t *dblock, const struct sink_conf *sinks,
    size_t n, const char *site_dir, char *err, size_t errlen)
{
	struct push *p = calloc(1, sizeof(*p));
	size_t i;

	if (p == NULL || (n > 0 && (p->workers = calloc(n, sizeof(*p->workers))) == NULL)) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	waker_init(&p->waker);
	p->dblock = dblock;
	snprintf(p->site_dir, sizeof(p->site_dir), "%s", site_dir);
	p->n = n;
	for (i = 0; i < n; i++) {
		struct worker *w = &p->workers[i];

		w->p = p;
		w->conf = sinks[i];
		w->log = log;
		if ((w->curl = curl_easy_init()) == NULL) {
			snprintf(err, errlen, "cannot initialise libcurl");
			goto fail;
		}
		curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)w->conf.timeout_ms);
		curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)w->conf.timeout_ms);
		curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "mcops-mcstatus/1");
		curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, w);
		curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, w);
		curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
		if (w->conf.ops->basic_auth && w->conf.secret[0] != '\0')
			curl_easy_setopt(w->curl, CURLOPT_USERPWD, w->conf.secret);
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->workers[i].thread, NULL, run, &p->workers[i]) != 0) {
			snprintf(err, errlen, "cannot start the thread of sink %s",
			    p->workers[i].conf.name);
			goto fail;
		}
		p->workers[i].started = true;
	}
	return p;
fail:
	push_stop(p);
	return NULL;
}

void
push_notify(struct push *p)
{
	if (p == NULL)
		return;
	waker_notify(&p->waker);
}

void
push_stop(struct push *p)
{
	size_t i;

	if (p == NULL)
		return;
	waker_stop(&p->waker);
	for (i = 0; i < p->n; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	for (i = 0; i < p->n; i++)
		worker_release(&p->workers[i]);
	free(p->workers);
	waker_release(&p->waker);
	free(p);
}
