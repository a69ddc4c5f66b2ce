#include "tenants.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "sha256.h"

#define HASH_PREFIX "sha256$"
#define HASH_PREFIX_LEN (sizeof(HASH_PREFIX) - 1)
/* "sha256$" + salt hex + "$" + hash hex */
#define HASH_FIELD_LEN (HASH_PREFIX_LEN + 2 * TENANT_SALT_LEN + 1 + 2 * TENANT_HASH_LEN)
#define CAPS_KNOWN (TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH | TENANT_CAP_ADMIN | \
    TENANT_CAP_PROXY)
#define QUOTE_MAX 48      /* bytes of a bad field quoted in an error message */
#define SAVE_BUF_LEN 8192 /* tenants_save writes in chunks of this size */


static const struct {
	const char *word;
	unsigned bit;
} CAP_WORDS[] = {
	{ "read", TENANT_CAP_READ },
	{ "write", TENANT_CAP_WRITE },
	{ "flush", TENANT_CAP_FLUSH },
	{ "admin", TENANT_CAP_ADMIN },
	{ "proxy", TENANT_CAP_PROXY },
};
#define NCAP_WORDS (sizeof(CAP_WORDS) / sizeof(CAP_WORDS[0]))

/*
 * Copies s[0..len) into dst for an error message: printable ASCII only (anything
 * else becomes '?', so a hostile file cannot put control bytes on a terminal), cut
 * at QUOTE_MAX bytes with "...".
 */
static void
quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i, n = 0, max = len > QUOTE_MAX ? QUOTE_MAX : len;

	if (dstlen == 0)
		return;
	for (i = 0; i < max && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (max < len) {
		for (i = 0; i < 3 && n + 1 < dstlen; i++)
			dst[n++] = '.';
	}
	dst[n] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase too: the format is lowercase, one spelling per hash */
}

/* Decodes exactly 2*len lowercase hex digits from s into out. 0 or -1. */
static int
hex_decode(const char *s, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool
tenant_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > TENANT_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/*
 * Parses a caps list from s[0..len). On an unknown or empty word returns -1 and
 * points *bad, *badlen at it (for the error message).
 */
static int
caps_parse_n(const char *s, size_t len, unsigned *caps, const char **bad, size_t *badlen)
{
	unsigned bits = 0;
	size_t start = 0, end, i;

	if (len == 0) {
		*caps = 0;
		return 0;
	}
	while (start <= len) {
		const char *comma = memchr(s + start, ',', len - start);
		bool known = false;

		end = comma != NULL ? (size_t)(comma - s) : len;
		for (i = 0; i < NCAP_WORDS; i++) {
			if (end - start == strlen(CAP_WORDS[i].word) &&
			    memcmp(s + start, CAP_WORDS[i].word, end - start) == 0) {
				bits |= CAP_WORDS[i].bit;
				known = true;
				break;
			}
		}
		if (!known) {
			*bad = s + start;
			*badlen = end - start;
			return -1;
		}
		start = end + 1;
	}
	*caps = bits;
	return 0;
}

int
tenant_caps_parse(const char *s, unsigned *caps)
{
	const char *bad;
	size_t badlen;

	return caps_parse_n(s, strlen(s), caps, &bad, &badlen);
}

void
tenant_caps_format(unsigned caps, char *buf, size_t buflen)
{
	size_t i, n = 0, wl;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < NCAP_WORDS; i++) {
		if (!(caps & CAP_WORDS[i].bit))
			continue;
		wl = strlen(CAP_WORDS[i].word);
		if (n + (n > 0) + wl + 1 > buflen)
			break; /* cut at a word boundary rather than mid-word */
		if (n > 0)
			buf[n++] = ',';
		memcpy(buf + n, CAP_WORDS[i].word, wl);
		n += wl;
		buf[n] = '\0';
	}
}

int
tenant_entry_format(const struct tenant_entry *t, char *buf, size_t buflen)
{
	char salt[2 * TENANT_SALT_LEN + 1], hash[2 * TENANT_HASH_LEN + 1], caps[64];
	int n;

	hex_encode(t->salt, TENANT_SALT_LEN, salt);
	hex_encode(t->hash, TENANT_HASH_LEN, hash);
	tenant_caps_format(t->caps, caps, sizeof(caps));
	if (t->max_conns != 0 || t->conn_rate != 0)
		n = snprintf(buf, buflen, "%s:" HASH_PREFIX "%s$%s:%" PRIu64 ":%s:%" PRIu32 ":%" PRIu32,
		    t->name, salt, hash, t->limit, caps, t->max_conns, t->conn_rate);
	else
		n = snprintf(buf, buflen, "%s:" HASH_PREFIX "%s$%s:%" PRIu64 ":%s", t->name, salt,
		    hash, t->limit, caps);
	if (n < 0 || (size_t)n >= buflen)
		return -1;
	return n;
}

/* SHA-256(salt || password) into out. */
static void
salted_hash(const uint8_t *salt, const char *password, size_t len, uint8_t *out)
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, salt, TENANT_SALT_LEN);
	sha256_update(&c, password, len);
	sha256_final(&c, out);
}

/* Fills buf with len bytes from the kernel's CSPRNG. 0 or -1. */
static int
random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tenant_set_password(struct tenant_entry *t, const char *password, size_t len)
{
	uint8_t salt[TENANT_SALT_LEN], hash[TENANT_HASH_LEN];

	if (len == 0 || len > TENANT_PASSWORD_MAX)
		return -1;
	if (random_bytes(salt, sizeof(salt)) < 0)
		return -1;
	salted_hash(salt, password, len, hash);
	memcpy(t->salt, salt, sizeof(salt));
	memcpy(t->hash, hash, sizeof(hash));
	return 0;
}

bool
tenant_verify(const struct tenant_entry *t, const char *password, size_t len)
{
	uint8_t hash[TENANT_HASH_LEN];
	bool ok;

	if (len > TENANT_PASSWORD_MAX)
		return false;
	salted_hash(t->salt, password, len, hash);
	ok = timingsafe_compare(hash, t->hash, TENANT_HASH_LEN) == 0;
	explicit_bzero(hash, sizeof(hash));
	return ok;
}

int
tenant_generate_password(char *buf, size_t buflen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	/* 62 * 4: bytes at or above it are dropped, so every character is equally likely */
	const unsigned accept_below = 4 * (sizeof(alphabet) - 1);
	uint8_t rnd[64];
	size_t n = 0, i;

	if (buflen <= TENANT_PASSWORD_LEN)
		return -1;
	while (n < TENANT_PASSWORD_LEN) {
		if (random_bytes(rnd, sizeof(rnd)) < 0) {
			explicit_bzero(rnd, sizeof(rnd));
			return -1;
		}
		for (i = 0; i < sizeof(rnd) && n < TENANT_PASSWORD_LEN; i++) {
			if (rnd[i] < accept_below)
				buf[n++] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
		}
	}
	buf[n] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

/* Compares name[0..len) with a stored (NUL-terminated) name, bytewise. */
static int
name_cmp(const char *name, size_t len, const char *stored)
{
	size_t slen = strlen(stored);
	int c = memcmp(name, stored, len < slen ? len : slen);

	if (c != 0)
		return c;
	return len < slen ? -1 : len > slen ? 1 : 0;
}

/* Index of the first entry not less than name[0..len) (where it is or would go). */
static size_t
lower_bound(const struct tenant_file *tf, const char *name, size_t len)
{
	size_t lo = 0, hi = tf->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (name_cmp(name, len, tf->entries[mid].name) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct tenant_entry *
tenants_find(const struct tenant_file *tf, const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > TENANT_NAME_MAX || tf->n == 0)
		return NULL;
	i = lower_bound(tf, name, len);
	if (i < tf->n && name_cmp(name, len, tf->entries[i].name) == 0)
		return &tf->entries[i];
	return NULL;
}

void
tenants_release(struct tenant_file *tf)
{
	if (tf->entries != NULL)
		explicit_bzero(tf->entries, tf->cap * sizeof(tf->entries[0]));
	free(tf->entries);
	tf->entries = NULL;
	tf->n = tf->cap = 0;
}

/* Room for one more entry. 0 or -1 (out of memory). */
static int
reserve_one(struct tenant_file *tf)
{
	struct tenant_entry *e;
	size_t cap;

	if (tf->n < tf->cap)
		return 0;
	cap = tf->cap == 0 ? 16 : tf->cap * 2;
	if (cap > TENANTS_MAX)
		cap = TENANTS_MAX;
	if (cap <= tf->n)
		return -1;
	e = realloc(tf->entries, cap * sizeof(*e));
	if (e == NULL)
		return -1;
	tf->entries = e;
	tf->cap = cap;
	return 0;
}

int
tenants_add(struct tenant_file *tf, const char *name, const char *password, uint64_t limit,
    unsigned caps, char *err, size_t errlen)
{
	size_t len = strlen(name), pwlen = strlen(password), at;
	char q[QUOTE_MAX + 4];
	struct tenant_entry e;

	if (!tenant_name_valid(name, len)) {
		quote(q, sizeof(q), name, len);
		snprintf(err, errlen, "invalid tenant name '%s'", q);
		return -1;
	}
	if (tenants_find(tf, name, len) != NULL) {
		snprintf(err, errlen, "tenant '%s' already exists", name);
		return -1;
	}
	if (pwlen == 0 || pwlen > TENANT_PASSWORD_MAX) {
		snprintf(err, errlen, "password must be 1 to %d bytes", TENANT_PASSWORD_MAX);
		return -1;
	}
	if (limit > TENANT_LIMIT_MAX) {
		snprintf(err, errlen, "limit %" PRIu64 " is over the maximum %llu", limit,
		    TENANT_LIMIT_MAX);
		return -1;
	}
	if (caps & ~(unsigned)CAPS_KNOWN) {
		snprintf(err, errlen, "unknown capability bits 0x%x", caps & ~(unsigned)CAPS_KNOWN);
		return -1;
	}
	if (tf->n >= TENANTS_MAX) {
		snprintf(err, errlen, "too many tenants (at most %d)", TENANTS_MAX);
		return -1;
	}
	memset(&e, 0, sizeof(e));
	memcpy(e.name, name, len);
	e.limit = limit;
	e.caps = caps;
	if (tenant_set_password(&e, password, pwlen) < 0) {
		snprintf(err, errlen, "cannot hash the password (no randomness or libcrypto error)");
		return -1;
	}
	if (reserve_one(tf) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	at = lower_bound(tf, name, len);
	memmove(&tf->entries[at + 1], &tf->entries[at], (tf->n - at) * sizeof(e));
	tf->entries[at] = e;
	tf->n++;
	explicit_bzero(&e, sizeof(e));
	return 0;
}

int
tenants_remove(struct tenant_file *tf, const char *name, char *err, size_t errlen)
{
	struct tenant_entry *e = tenants_find(tf, name, strlen(name));
	size_t at;
	char q[QUOTE_MAX + 4];

	if (e == NULL) {
		quote(q, sizeof(q), name, strlen(name));
		snprintf(err, errlen, "no tenant '%s'", q);
		return -1;
	}
	at = (size_t)(e - tf->entries);
	memmove(e, e + 1, (tf->n - at - 1) * sizeof(*e));
	tf->n--;
	explicit_bzero(&tf->entries[tf->n], sizeof(tf->entries[0]));
	return 0;
}

int
tenants_set_password(struct tenant_file *tf, const char *name, const char *password,
    char *err, size_t errlen)
{
	struct tenant_entry *e = tenants_find(tf, name, strlen(name));
	size_t pwlen = strlen(password);
	char q[QUOTE_MAX + 4];

	if (e == NULL) {
		quote(q, sizeof(q), name, strlen(name));
		snprintf(err, errlen, "no tenant '%s'", q);
		return -1;
	}
	if (pwlen == 0 || pwlen > TENANT_PASSWORD_MAX) {
		snprintf(err, errlen, "password must be 1 to %d bytes", TENANT_PASSWORD_MAX);
		return -1;
	}
	if (tenant_set_password(e, password, pwlen) < 0) {
		snprintf(err, errlen, "cannot hash the password (no randomness or libcrypto error)");
		return -1;
	}
	return 0;
}

int
tenants_set_connlimit(struct tenant_file *tf, const char *name, uint64_t max_conns,
    uint64_t conn_rate, char *err, size_t errlen)
{
	struct tenant_entry *e = tenants_find(tf, name, strlen(name));
	char q[QUOTE_MAX + 4];

	if (e == NULL) {
		quote(q, sizeof(q), name, strlen(name));
		snprintf(err, errlen, "no tenant '%s'", q);
		return -1;
	}
	if (max_conns > TENANT_CONN_LIMIT_MAX || conn_rate > TENANT_CONN_LIMIT_MAX) {
		snprintf(err, errlen, "connection limits are at most %u", TENANT_CONN_LIMIT_MAX);
		return -1;
	}
	e->max_conns = (uint32_t)max_conns;
	e->conn_rate = (uint32_t)conn_rate;
	return 0;
}

/* --- parsing ------------------------------------------------------------------- */

/* An entry while loading, with the line it came from (for duplicate reports). */
struct loaded {
	struct tenant_entry e;
	int line;
};

/* Parses one non-blank, non-comment line into e; -1 with msg on a bad line. */
static int
parse_line(struct tenant_entry *e, const char *s, size_t len, char *msg, size_t msglen)
{
	const char *field[6];
	size_t flen[6], nf = 0, start = 0, i;
	char q[QUOTE_MAX + 4];
	const char *bad;
	size_t badlen;
	uint64_t limit, conns, rate;

	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == ':') {
			if (nf == 6) {
				nf++;
				break;
			}
			field[nf] = s + start;
			flen[nf] = i - start;
			nf++;
			start = i + 1;
		}
	}
	if (nf != 4 && nf != 6) {
		snprintf(msg, msglen, "expected NAME:sha256$SALT$HASH:LIMIT:CAPS[:MAXCONN:CONNRATE]");
		return -1;
	}
	if (!tenant_name_valid(field[0], flen[0])) {
		quote(q, sizeof(q), field[0], flen[0]);
		snprintf(msg, msglen, "invalid tenant name '%s' (1-%d of A-Z a-z 0-9 _ . -)", q,
		    TENANT_NAME_MAX);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->name, field[0], flen[0]);
	/* The hash is never quoted back: it is as good as a password to a cracker. */
	if (flen[1] != HASH_FIELD_LEN || memcmp(field[1], HASH_PREFIX, HASH_PREFIX_LEN) != 0 ||
	    field[1][HASH_PREFIX_LEN + 2 * TENANT_SALT_LEN] != '$' ||
	    hex_decode(field[1] + HASH_PREFIX_LEN, e->salt, TENANT_SALT_LEN) < 0 ||
	    hex_decode(field[1] + HASH_PREFIX_LEN + 2 * TENANT_SALT_LEN + 1, e->hash,
		TENANT_HASH_LEN) < 0) {
		snprintf(msg, msglen,
		    "bad password hash for '%s' (expected sha256$<%d lowercase hex>$<%d lowercase "
		    "hex>)",
		    e->name, 2 * TENANT_SALT_LEN, 2 * TENANT_HASH_LEN);
		return -1;
	}
	if (parse_u64_n(field[2], flen[2], 0, TENANT_LIMIT_MAX, &limit) < 0) {
		quote(q, sizeof(q), field[2], flen[2]);
		snprintf(msg, msglen, "bad limit '%s' for '%s' (bytes, at most %llu)", q, e->name,
		    TENANT_LIMIT_MAX);
		return -1;
	}
	e->limit = limit;
	if (caps_parse_n(field[3], flen[3], &e->caps, &bad, &badlen) < 0) {
		quote(q, sizeof(q), bad, badlen);
		snprintf(msg, msglen, "unknown capability '%s' for '%s' (read, write, flush, admin, proxy)",
		    q, e->name);
		return -1;
	}
	if (nf == 4)
		return 0;
	if (parse_u64_n(field[4], flen[4], 0, TENANT_CONN_LIMIT_MAX, &conns) < 0 ||
	    parse_u64_n(field[5], flen[5], 0, TENANT_CONN_LIMIT_MAX, &rate) < 0) {
		quote(q, sizeof(q), field[4], flen[4] + 1 + flen[5]);
		snprintf(msg, msglen, "bad connection limits '%s' for '%s' (MAXCONN:CONNRATE, each "
		    "0 to %u)", q, e->name, TENANT_CONN_LIMIT_MAX);
		return -1;
	}
	e->max_conns = (uint32_t)conns;
	e->conn_rate = (uint32_t)rate;
	return 0;
}

/* Orders by name, then by line, so the first of equal names comes first. */
static int
loaded_cmp(const void *a, const void *b)
{
	const struct loaded *x = a, *y = b;
	int c = strcmp(x->e.name, y->e.name);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
tenants_parse_buffer(struct tenant_file *tf, const char *name, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct loaded *items = NULL, *grown;
	size_t n = 0, cap = 0, pos = 0, i;
	int line = 0, bad_line = 0, dup_line = 0, dup_first = 0;
	char msg[TENANTS_ERR_LEN] = "";
	const char *dup_name = NULL;

	tenants_release(tf);
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t l = nl != NULL ? (size_t)(nl - s) : len - pos;

		pos += l + (nl != NULL);
		line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l > TENANTS_LINE_MAX) {
			snprintf(msg, sizeof(msg), "line too long (over %d bytes)", TENANTS_LINE_MAX);
			bad_line = line;
			break;
		}
		while (l > 0 && is_blank(s[l - 1]))
			l--;
		while (l > 0 && is_blank(*s)) {
			s++;
			l--;
		}
		if (l == 0 || *s == '#')
			continue;
		if (n == TENANTS_MAX) {
			snprintf(msg, sizeof(msg), "too many tenants (at most %d)", TENANTS_MAX);
			bad_line = line;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if (cap > TENANTS_MAX)
				cap = TENANTS_MAX;
			grown = realloc(items, cap * sizeof(*items));
			if (grown == NULL) {
				snprintf(msg, sizeof(msg), "out of memory");
				bad_line = line;
				break;
			}
			items = grown;
		}
		if (parse_line(&items[n].e, s, l, msg, sizeof(msg)) < 0) {
			bad_line = line;
			break;
		}
		items[n].line = line;
		n++;
	}

	/*
	 * The first bad line wins, and a duplicate may come before a syntax error, so
	 * the entries read so far are checked for duplicates before reporting either.
	 */
	if (n > 1)
		qsort(items, n, sizeof(*items), loaded_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(items[i - 1].e.name, items[i].e.name) == 0 &&
		    (dup_line == 0 || items[i].line < dup_line)) {
			dup_line = items[i].line;
			dup_first = items[i - 1].line;
			dup_name = items[i].e.name;
		}
	}
	if (dup_line != 0 && (bad_line == 0 || dup_line < bad_line)) {
		snprintf(err, errlen, "%s:%d: duplicate tenant '%s' (first on line %d)", name,
		    dup_line, dup_name, dup_first);
		goto out_free_items;
	}
	if (bad_line != 0) {
		snprintf(err, errlen, "%s:%d: %s", name, bad_line, msg);
		goto out_free_items;
	}
	if (n > 0) {
		tf->entries = malloc(n * sizeof(tf->entries[0]));
		if (tf->entries == NULL) {
			snprintf(err, errlen, "%s: out of memory", name);
			goto out_free_items;
		}
		for (i = 0; i < n; i++)
			tf->entries[i] = items[i].e;
		tf->n = tf->cap = n;
	}
	if (items != NULL)
		explicit_bzero(items, cap * sizeof(*items));
	free(items);
	return 0;

out_free_items:
	if (items != NULL)
		explicit_bzero(items, cap * sizeof(*items));
	free(items);
	return -1;
}

int
tenants_load(struct tenant_file *tf, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, *grown;
	size_t cap, len = 0;
	int fd, rc;

	tenants_release(tf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto out_close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out_close_fd;
	}
	/* Sized by fstat, but read until EOF in case the file grows meanwhile. */
	cap = st.st_size > 0 && (uint64_t)st.st_size < TENANTS_FILE_MAX ? (size_t)st.st_size + 1
									 : 4096;
	buf = malloc(cap);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_close_fd;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			if (cap > TENANTS_FILE_MAX) {
				snprintf(err, errlen, "%s: file too large (over %u bytes)", path,
				    TENANTS_FILE_MAX);
				goto out_free_buf;
			}
			cap = cap * 2 > (size_t)TENANTS_FILE_MAX + 1 ? (size_t)TENANTS_FILE_MAX + 1
								     : cap * 2;
			grown = realloc(buf, cap);
			if (grown == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out_free_buf;
			}
			buf = grown;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto out_free_buf;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > TENANTS_FILE_MAX) {
		snprintf(err, errlen, "%s: file too large (over %u bytes)", path, TENANTS_FILE_MAX);
		goto out_free_buf;
	}
	close(fd);
	rc = tenants_parse_buffer(tf, path, buf, len, err, errlen);
	explicit_bzero(buf, len);
	free(buf);
	return rc;

out_free_buf:
	explicit_bzero(buf, cap);
	free(buf);
out_close_fd:
	close(fd);
	return -1;
}

/* --- saving -------------------------------------------------------------------- */

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes the file's text to fd, buffered in SAVE_BUF_LEN chunks. 0 or -1 (errno). */
static int
write_entries(int fd, const struct tenant_file *tf)
{
	static const char header[] =
	    "# mcops tenants file: NAME:sha256$SALT$HASH:LIMIT:CAPS (docs/tenants.md).\n"
	    "# Written by 'mctl tenant'; hashes are never edited by hand.\n";
	char out[SAVE_BUF_LEN];
	size_t used = 0, i;
	int n;

	if (write_all(fd, header, sizeof(header) - 1) < 0)
		return -1;
	for (i = 0; i < tf->n; i++) {
		if (SAVE_BUF_LEN - used < TENANT_LINE_LEN + 1) {
			if (write_all(fd, out, used) < 0)
				return -1;
			used = 0;
		}
		n = tenant_entry_format(&tf->entries[i], out + used, TENANT_LINE_LEN);
		if (n < 0) {
			errno = EINVAL;
			return -1;
		}
		used += (size_t)n;
		out[used++] = '\n';
	}
	n = write_all(fd, out, used);
	explicit_bzero(out, sizeof(out));
	return n;
}

int
tenants_save(const struct tenant_file *tf, const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int fd, dfd, n;

	if (path[0] == '\0' || (slash != NULL && slash[1] == '\0')) {
		snprintf(err, errlen, "invalid tenants file path '%s'", path);
		return -1;
	}
	if (slash == NULL)
		n = snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		n = snprintf(dir, sizeof(dir), "/");
	else
		n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(err, errlen, "path too long: '%s'", path);
		return -1;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "path too long: '%s'", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file in '%s': %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) < 0) {
		snprintf(err, errlen, "cannot set mode 0600 on '%s': %s", tmp, strerror(errno));
		goto out_unlink;
	}
	/* Keep the owner: only the owner can read a 0600 file, so a group change is moot. */
	if (stat(path, &st) == 0 && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) < 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "cannot keep the owner (uid %u) of '%s': %s",
		    (unsigned)st.st_uid, path, strerror(errno));
		goto out_unlink;
	}
	if (write_entries(fd, tf) < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (fsync(fd) < 0) {
		snprintf(err, errlen, "cannot sync '%s': %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	/* The rename is durable only once the directory entry is on disk. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		snprintf(err, errlen, "'%s' was replaced, but syncing directory '%s' failed: %s",
		    path, dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}
