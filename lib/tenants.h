/*
 * tenants — the tenants file: who may use a cache node, with what password, how
 * much memory, and which capabilities. Read by mcd (authentication), written only
 * by `mctl tenant` (nobody edits hashes by hand).
 *
 * File format, one tenant per line, '#' comments and blank lines ignored:
 *
 *     NAME:sha256$SALT$HASH:LIMIT:CAPS[:MAXCONN:CONNRATE]
 *
 * NAME is 1..TENANT_NAME_MAX bytes of [A-Za-z0-9_.-]; SALT is 16 bytes and HASH the
 * 32-byte SHA-256 of SALT||password, both lowercase hex; LIMIT is the memory limit in
 * bytes (at most TENANT_LIMIT_MAX); CAPS is a comma-separated subset of
 * read,write,flush,admin,proxy (may be empty). `admin` lets the account authenticate on
 * mcd's admin port (and nowhere else). `proxy` is the internal account of mcd's
 * proxy role: on a backend it may act for any ordinary tenant, one request at a
 * time (`proxy_as`), and nothing else; a proxy refuses it as a client. The two
 * optional trailing fields are the tenant's plan's connection limits on one node:
 * MAXCONN simultaneous connections and CONNRATE new connections per second (a
 * token bucket with a burst of CONNRATE), each at most TENANT_CONN_LIMIT_MAX, 0 for
 * none; both or neither. tenants_save writes them only when one is not 0, so a
 * file without them is saved byte for byte as it was read. Blanks around a line are ignored, and so is
 * a trailing '\r'. A line is at most TENANTS_LINE_MAX bytes, a file at most
 * TENANTS_FILE_MAX.
 *
 * In memory the entries are kept sorted by name (bytewise), so that tenants_find,
 * which mcd calls on every authentication, is a binary search; tenants_save writes
 * them in that order.
 *
 * Why a fast hash: passwords are generated 32-character random secrets (about
 * 190 bits), so brute force is hopeless without key stretching, and a slow KDF
 * would turn a reconnect storm into a CPU storm. Comparison is constant-time.
 */
#ifndef MCOPS_TENANTS_H
#define MCOPS_TENANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TENANT_NAME_MAX 64
#define TENANT_SALT_LEN 16
#define TENANT_HASH_LEN 32
#define TENANT_PASSWORD_LEN 32 /* generated passwords: [A-Za-z0-9], this long */
#define TENANT_PASSWORD_MAX 250 /* longest password accepted at login */
#define TENANTS_MAX 10000       /* tenants one file may hold */
#define TENANTS_ERR_LEN 256
#define TENANTS_LINE_MAX 1024            /* longest line of the file, without '\n' */
#define TENANTS_FILE_MAX (16u << 20)     /* largest file tenants_load reads */
#define TENANT_LIMIT_MAX (1ULL << 40)    /* largest memory limit: 1 TiB */
#define TENANT_LINE_LEN 256              /* buffer for one formatted entry line */
#define TENANT_CONN_LIMIT_MAX 10000000u  /* largest MAXCONN and CONNRATE */

enum tenant_cap {
	TENANT_CAP_READ = 1 << 0,
	TENANT_CAP_WRITE = 1 << 1,
	TENANT_CAP_FLUSH = 1 << 2,
	TENANT_CAP_ADMIN = 1 << 3,
	TENANT_CAP_PROXY = 1 << 4,
};
#define TENANT_CAPS_DEFAULT (TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH)

struct tenant_entry {
	char name[TENANT_NAME_MAX + 1];
	uint8_t salt[TENANT_SALT_LEN];
	uint8_t hash[TENANT_HASH_LEN];
	uint64_t limit; /* bytes */
	unsigned caps;  /* enum tenant_cap bits */
	uint32_t max_conns, conn_rate; /* connection limits per node; 0 = none */
};

struct tenant_file {
	struct tenant_entry *entries; /* owned */
	size_t n, cap;
};

/*
 * Loads path into tf (caller-owned; released first if it holds entries). On any
 * error returns -1, leaves tf empty and puts "path:line: message" in err. A
 * missing file is an error; an empty file is a valid file with no tenants.
 */
int tenants_load(struct tenant_file *tf, const char *path, char *err, size_t errlen);

/*
 * Parses the text of a tenants file from buf[0..len) (need not be NUL-terminated),
 * exactly as tenants_load does; name stands for the path in messages. Same
 * contract as tenants_load (for tests and the fuzzer).
 */
int tenants_parse_buffer(struct tenant_file *tf, const char *name, const char *buf,
    size_t len, char *err, size_t errlen);

/*
 * Writes tf to path atomically (temporary file in the same directory, fsync,
 * rename, fsync of the directory), mode 0600, keeping the owner of the file it
 * replaces (so that root running mctl does not lock out an mcd that runs as its
 * own user). Returns 0, or -1 with err set and path untouched -- except when only
 * the final directory fsync fails: then the new file is in place and err says so.
 * Concurrent writers must serialise themselves (mctl locks the directory).
 */
int tenants_save(const struct tenant_file *tf, const char *path, char *err, size_t errlen);

void tenants_release(struct tenant_file *tf);

/* The entry named name[0..len), or NULL. */
struct tenant_entry *tenants_find(const struct tenant_file *tf, const char *name, size_t len);

/*
 * Adds a tenant (name must be new and valid) with the given password (1 to
 * TENANT_PASSWORD_MAX bytes), limit (at most TENANT_LIMIT_MAX) and caps; or -1 with
 * err ("tenant 'x' already exists", "invalid tenant name 'x'") and tf unchanged.
 */
int tenants_add(struct tenant_file *tf, const char *name, const char *password,
    uint64_t limit, unsigned caps, char *err, size_t errlen);
/* Removes a tenant; -1 with err if there is none of that name. */
int tenants_remove(struct tenant_file *tf, const char *name, char *err, size_t errlen);
/* Sets a new password (fresh salt); -1 with err if there is no such tenant. */
int tenants_set_password(struct tenant_file *tf, const char *name, const char *password,
    char *err, size_t errlen);

/* Sets a tenant's connection limits (each 0..TENANT_CONN_LIMIT_MAX, 0 = none);
 * -1 with err if there is no such tenant or a value is out of range. */
int tenants_set_connlimit(struct tenant_file *tf, const char *name, uint64_t max_conns,
    uint64_t conn_rate, char *err, size_t errlen);

bool tenant_name_valid(const char *name, size_t len);

/* True if password[0..len) is the tenant's password. Constant time in the hash. */
bool tenant_verify(const struct tenant_entry *t, const char *password, size_t len);

/* Fills salt with random bytes and hash with SHA-256(salt || password). 0 or -1. */
int tenant_set_password(struct tenant_entry *t, const char *password, size_t len);

/* Writes a new random password of TENANT_PASSWORD_LEN chars + NUL into buf
 * (buflen > TENANT_PASSWORD_LEN), from getrandom(). 0 or -1. */
int tenant_generate_password(char *buf, size_t buflen);

/*
 * One entry as the file's line "NAME:sha256$SALT$HASH:LIMIT:CAPS", with
 * ":MAXCONN:CONNRATE" when either is set (no newline), in
 * buf; returns its length, or -1 if buflen is too small (TENANT_LINE_LEN is enough).
 */
int tenant_entry_format(const struct tenant_entry *t, char *buf, size_t buflen);

/* "read,write,flush" <-> bits. parse: 0 or -1 on an unknown or empty word; "" is
 * no caps. format: the words in the order above, "" for none, cut to buflen. */
int tenant_caps_parse(const char *s, unsigned *caps);
void tenant_caps_format(unsigned caps, char *buf, size_t buflen);

#endif
