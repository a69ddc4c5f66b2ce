/*
 * tenants_edit — see tenants_edit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "tenants_edit.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = clock_ms_timespec(ms);

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static enum tenants_edit_status
lock_directory(const char *path, int *fd_out, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, waited = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_set(err, errlen, "cannot open directory '%s' of the tenants file: %s", dir,
		    strerror(errno));
		return TENANTS_EDIT_LOCK;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			errbuf_set(err, errlen, "cannot lock directory '%s': %s", dir,
			    strerror(errno));
			close(fd);
			return TENANTS_EDIT_LOCK;
		}
		if (waited >= TENANTS_EDIT_WAIT_MS) {
			errbuf_set(err, errlen, "'%s' is being changed by another mctl (waited %d s); "
			    "try again", path, TENANTS_EDIT_WAIT_MS / 1000);
			close(fd);
			return TENANTS_EDIT_LOCK;
		}
		sleep_ms(TENANTS_EDIT_POLL_MS);
		waited += TENANTS_EDIT_POLL_MS;
	}
	*fd_out = fd;
	return TENANTS_EDIT_OK;
}

void
tenants_edit_end(struct tenants_edit *ed)
{
	tenants_release(&ed->tf);
	if (ed->lock_fd >= 0)
		close(ed->lock_fd); /* releases the flock */
	ed->lock_fd = -1;
}

enum tenants_edit_status
tenants_edit_begin(struct tenants_edit *ed, const char *path, bool create, char *err,
    size_t errlen)
{
	enum tenants_edit_status st;
	struct stat sb;

	memset(ed, 0, sizeof(*ed));
	ed->lock_fd = -1;
	if ((st = lock_directory(path, &ed->lock_fd, err, errlen)) != TENANTS_EDIT_OK)
		return st;
	if (create && stat(path, &sb) < 0 && errno == ENOENT) {
		ed->created = true;
		return TENANTS_EDIT_OK;
	}
	if (tenants_load(&ed->tf, path, err, errlen) < 0) {
		tenants_edit_end(ed);
		return TENANTS_EDIT_FILE;
	}
	return TENANTS_EDIT_OK;
}

enum tenants_edit_status
tenants_edit_commit(struct tenants_edit *ed, const char *path, char *err, size_t errlen)
{
	enum tenants_edit_status st = TENANTS_EDIT_OK;

	if (tenants_save(&ed->tf, path, err, errlen) < 0)
		st = TENANTS_EDIT_SAVE;
	tenants_edit_end(ed);
	return st;
}

struct tenant_entry *
tenants_edit_tenant(struct tenants_edit *ed, const char *name, const char *path,
    const char *admin_why, char *err, size_t errlen)
{
	struct tenant_entry *t = tenants_find(&ed->tf, name, strlen(name));

	if (t != NULL && (t->caps & TENANT_CAP_ADMIN) == 0)
		return t;
	if (t == NULL)
		errbuf_set(err, errlen, "no tenant '%s' in %s", name, path);
	else
		errbuf_set(err, errlen, "'%s' is an admin account: %s", name, admin_why);
	return NULL;
}

enum tenants_edit_status
tenants_edit_connlimit(const char *path, const char *name,
    const struct tenants_connlimit *change, struct tenants_connlimit_result *out, char *err,
    size_t errlen)
{
	struct tenants_edit ed;
	struct tenant_entry *t;
	enum tenants_edit_status st;
	uint64_t max_conns, conn_rate;

	memset(out, 0, sizeof(*out));
	if (!tenant_name_valid(name, strlen(name))) {
		errbuf_set(err, errlen, "invalid tenant name '%.*s'", TENANT_NAME_MAX, name);
		return TENANTS_EDIT_REFUSED;
	}
	if ((change->set_max_conns && change->max_conns > TENANT_CONN_LIMIT_MAX) ||
	    (change->set_conn_rate && change->conn_rate > TENANT_CONN_LIMIT_MAX)) {
		errbuf_set(err, errlen, "connection limits are at most %u", TENANT_CONN_LIMIT_MAX);
		return TENANTS_EDIT_REFUSED;
	}
	if ((st = tenants_edit_begin(&ed, path, false, err, errlen)) != TENANTS_EDIT_OK)
		return st;
	t = tenants_edit_tenant(&ed, name, path, "connection limits are for tenants", err, errlen);
	if (t == NULL) {
		tenants_edit_end(&ed);
		return TENANTS_EDIT_REFUSED;
	}
	out->max_conns_before = t->max_conns;
	out->conn_rate_before = t->conn_rate;
	max_conns = change->set_max_conns ? change->max_conns : t->max_conns;
	conn_rate = change->set_conn_rate ? change->conn_rate : t->conn_rate;
	if (tenants_set_connlimit(&ed.tf, name, max_conns, conn_rate, err, errlen) < 0) {
		tenants_edit_end(&ed);
		return TENANTS_EDIT_REFUSED;
	}
	out->max_conns = (uint32_t)max_conns;
	out->conn_rate = (uint32_t)conn_rate;
	return tenants_edit_commit(&ed, path, err, errlen);
}
