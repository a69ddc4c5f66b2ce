/*
 * site — see statussite.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render.h"
#include "statussite.h"

#define SITE_PATH_MAX 4096

/* mkdir -p of every parent directory of full (a path to a file). */
static int
make_parents(char *full, char *err, size_t errlen)
{
	char *p;

	for (p = full + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(full, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", full, strerror(errno));
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* True if the file at path holds exactly data. */
static int
same_content(const char *path, const char *data, size_t len)
{
	char buf[65536];
	size_t off = 0;
	struct stat st;
	ssize_t r;
	int fd, same = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		goto out;
	while (off < len) {
		r = read(fd, buf, sizeof(buf));
		if (r <= 0 || (size_t)r > len - off || memcmp(buf, data + off, (size_t)r) != 0)
			goto out;
		off += (size_t)r;
	}
	same = read(fd, buf, 1) == 0;
out:
	close(fd);
	return same;
}

int
site_write_file(const char *dir, const char *path, const char *data, size_t len,
    int *changed, char *err, size_t errlen)
{
	char full[SITE_PATH_MAX], tmp[SITE_PATH_MAX + 32];
	size_t off = 0;
	ssize_t w;
	int fd;

	if (changed != NULL)
		*changed = 0;
	if (path[0] == '/' || strstr(path, "..") != NULL || len > SITE_FILE_MAX) {
		snprintf(err, errlen, "refusing to write '%s'", path);
		return -1;
	}
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, path) >= sizeof(full)) {
		snprintf(err, errlen, "path too long: %s/%s", dir, path);
		return -1;
	}
	if (same_content(full, data, len))
		return 0;
	if (make_parents(full, err, errlen) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", full, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	/* The rename is what readers see; without fsync a power loss may leave the old
	 * file, never a torn one (the next render rewrites it anyway). */
	if (close(fd) < 0 || rename(tmp, full) < 0) {
		snprintf(err, errlen, "cannot replace %s: %s", full, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (changed != NULL)
		*changed = 1;
	return 0;
}

static int
put(const char *dir, const char *path, struct textbuf *b, struct site_result *res, char *err,
    size_t errlen)
{
	int changed;

	if (textbuf_failed(b)) {
		snprintf(err, errlen, "cannot render %s: out of memory or too large", path);
		return -1;
	}
	if (site_write_file(dir, path, b->data != NULL ? b->data : "", b->len, &changed, err,
		errlen) < 0)
		return -1;
	if (changed)
		res->written++;
	else
		res->unchanged++;
	return 0;
}

int
site_render(const struct model *m, const char *dir, struct site_result *res, char *err,
    size_t errlen)
{
	static const struct {
		enum render_json_doc doc;
		const char *path;
	} docs[] = {
		{ RENDER_SUMMARY, "api/v2/summary.json" },
		{ RENDER_STATUS, "api/v2/status.json" },
		{ RENDER_COMPONENTS, "api/v2/components.json" },
		{ RENDER_INCIDENTS, "api/v2/incidents.json" },
		{ RENDER_UNRESOLVED, "api/v2/incidents/unresolved.json" },
		{ RENDER_MAINTENANCES, "api/v2/scheduled-maintenances.json" },
		{ RENDER_MAINTENANCES_UPCOMING, "api/v2/scheduled-maintenances/upcoming.json" },
		{ RENDER_MAINTENANCES_ACTIVE, "api/v2/scheduled-maintenances/active.json" },
	};
	struct textbuf b = { 0 };
	char path[64];
	size_t i;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Incident pages first, the index last: a reader following a link from a fresh
	 * index always finds its page. */
	for (i = 0; i < m->nincidents; i++) {
		textbuf_reset(&b);
		render_incident_html(m, &m->incidents[i], &b);
		snprintf(path, sizeof(path), "incidents/%lld.html", (long long)m->incidents[i].id);
		if (put(dir, path, &b, res, err, errlen) < 0)
			goto out;
	}
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		textbuf_reset(&b);
		render_json(m, docs[i].doc, &b);
		if (put(dir, docs[i].path, &b, res, err, errlen) < 0)
			goto out;
	}
	textbuf_reset(&b);
	render_atom(m, &b);
	if (put(dir, "history.atom", &b, res, err, errlen) < 0)
		goto out;
	textbuf_reset(&b);
	render_index_html(m, &b);
	if (put(dir, "index.html", &b, res, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	textbuf_release(&b);
	return rc;
}

static bool
is_temporary(const char *name)
{
	const char *t = strstr(name, ".tmp.");

	return t != NULL && t[5] != '\0' && strspn(t + 5, "0123456789") == strlen(t + 5);
}

size_t
site_clean_temporary(const char *dir)
{
	static const char *const subdirs[] = { "", "/incidents", "/api/v2", "/api/v2/incidents",
		"/api/v2/scheduled-maintenances" };
	char path[SITE_PATH_MAX], file[SITE_PATH_MAX * 2];
	struct dirent *de;
	size_t i, n = 0;
	DIR *d;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, subdirs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (!is_temporary(de->d_name))
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
			if (unlink(file) == 0)
				n++;
		}
		closedir(d);
	}
	return n;
}
