/*
 * tenants_edit — changing the tenants file (lib/tenants.h) safely while others may
 * change it too: every writer (mctl tenant, mcalert's "limit tenant" run from chat)
 * takes an exclusive lock on the file's DIRECTORY, reads the file, changes it in memory
 * and saves it atomically before letting go. The directory, not the file, is locked:
 * tenants_save replaces the file by rename, so a lock on the old file would not
 * exclude a writer that opened the new one. A writer that finds the lock taken waits
 * up to TENANTS_EDIT_WAIT_MS, then gives up with nothing changed.
 *
 * What is not here: telling mcd to re-read the file. A node re-reads it on SIGHUP or
 * its admin `reload` (lib/remedy.h's connlimit does that on a cluster's nodes).
 *
 * Blocking (the lock wait, the file's fsyncs). Never logs: errors into err.
 */
#ifndef MCOPS_TENANTS_EDIT_H
#define MCOPS_TENANTS_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenants.h"

#define TENANTS_EDIT_WAIT_MS 5000 /* how long to wait for another writer's lock */
#define TENANTS_EDIT_POLL_MS 50

enum tenants_edit_status {
	TENANTS_EDIT_OK,
	TENANTS_EDIT_LOCK,     /* the directory cannot be opened or locked, or is busy */
	TENANTS_EDIT_FILE,     /* the file cannot be read or is not a valid tenants file */
	TENANTS_EDIT_REFUSED,  /* no such tenant, an admin account, a value out of range */
	TENANTS_EDIT_SAVE,     /* tenants_save failed (see its contract for what is left) */
};

/* An edit in progress: the lock and the file as read. */
struct tenants_edit {
	int lock_fd;             /* -1 when not locked */
	struct tenant_file tf;   /* owned */
	bool created;            /* the file did not exist yet (begin with create) */
};

/*
 * Locks path's directory and reads path into ed (caller-owned, any content). A missing
 * file is an empty one when create (ed->created), else TENANTS_EDIT_FILE. On anything
 * but TENANTS_EDIT_OK, err says why and ed holds nothing (no lock, no entries).
 */
enum tenants_edit_status tenants_edit_begin(struct tenants_edit *ed, const char *path,
    bool create, char *err, size_t errlen);

/*
 * Saves ed's file to path (tenants_save) and ends the edit in every case.
 * TENANTS_EDIT_OK, or TENANTS_EDIT_SAVE with tenants_save's err.
 */
enum tenants_edit_status tenants_edit_commit(struct tenants_edit *ed, const char *path,
    char *err, size_t errlen);

/* Ends the edit without saving: unlocks, frees the entries. Safe to call twice. */
void tenants_edit_end(struct tenants_edit *ed);

/*
 * The tenant named name in ed, not an admin account: NULL with err ("no tenant 'x' in
 * PATH", "'x' is an admin account: <admin_why>") otherwise. The edit goes on.
 */
struct tenant_entry *tenants_edit_tenant(struct tenants_edit *ed, const char *name,
    const char *path, const char *admin_why, char *err, size_t errlen);

/* A change of a tenant's connection limits: a value not set keeps the file's. */
struct tenants_connlimit {
	bool set_max_conns, set_conn_rate;
	uint64_t max_conns, conn_rate;   /* 0..TENANT_CONN_LIMIT_MAX, 0 = none */
};

/* The limits before and after a change. */
struct tenants_connlimit_result {
	uint32_t max_conns_before, conn_rate_before;
	uint32_t max_conns, conn_rate;
};

/*
 * Sets tenant name's connection limits in path as change says, as one locked edit:
 * only that tenant's line changes, every other line is written as tenants_save writes
 * it (a file saved by mctl is byte for byte the same but for that line). The name is
 * checked before anything is opened. TENANTS_EDIT_OK with *out, or the status with
 * err and the file untouched (except as tenants_save's contract says).
 */
enum tenants_edit_status tenants_edit_connlimit(const char *path, const char *name,
    const struct tenants_connlimit *change, struct tenants_connlimit_result *out, char *err,
    size_t errlen);

#endif
