/*
 * proto — the memcache text protocol: framing and parsing of one request.
 *
 * Pure and independent of storage: it turns bytes into a struct proto_request
 * (pointers into the caller's buffer, nothing copied or allocated) and says how
 * many bytes the request took. The cache server executes requests against its
 * store; a future proxy would route them. Replies are not built here.
 *
 * Framing follows memcached 1.6:
 *  - A command line ends in "\n" (an optional "\r" before it is dropped).
 *  - A line longer than PROTO_LINE_MAX (not counting its "\r\n") closes the connection,
 *    unless it starts with "get " or "gets " (a large multi-get), which may be up to
 *    PROTO_GET_LINE_MAX.
 *  - Storage commands (set/add/replace/append/prepend/cas/ms) are followed by a
 *    data block of <bytes> and "\r\n"; the request is complete only when all of it
 *    is in the buffer.
 *  - A storage command refused for its command line (bad flags, exptime, key, token
 *    count, cas) or its size still has its data block discarded (PROTO_SWALLOW)
 *    whenever its <bytes> token is a valid length: a data block is never read as
 *    commands. Only a missing, negative or non-numeric <bytes> leaves the next line
 *    to be read as a command, as memcached does (there is no length to skip).
 */
#ifndef MCOPS_PROTO_H
#define MCOPS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_KEY_MAX 250
#define PROTO_LINE_MAX 2048            /* longest non-get command line */
#define PROTO_GET_LINE_MAX (1 << 20)   /* longest get/gets/gat/gats line */
#define PROTO_TOKENS_MAX 24            /* tokens on a non-get line, command included */
#define PROTO_META_OPAQUE_MAX 32       /* longest O(paque) token */
#define PROTO_DATA_LEN_MAX (INT32_MAX - 2) /* largest <bytes> a command line may give
                                              (memcached's); above, it is not a length */

enum proto_cmd {
	CMD_NONE = 0,
	/* classic */
	CMD_GET, CMD_GETS, CMD_GAT, CMD_GATS,
	CMD_SET, CMD_ADD, CMD_REPLACE, CMD_APPEND, CMD_PREPEND, CMD_CAS,
	CMD_DELETE, CMD_INCR, CMD_DECR, CMD_TOUCH,
	CMD_FLUSH_ALL, CMD_STATS, CMD_VERSION, CMD_VERBOSITY, CMD_QUIT,
	/* meta */
	CMD_MG, CMD_MS, CMD_MD, CMD_MA, CMD_MN, CMD_ME,
	/* anything else: the command word and its tokens, for extensions (admin) */
	CMD_OTHER,
};

/* Results of proto_parse. */
enum proto_status {
	PROTO_OK,          /* a whole request; *consumed bytes belong to it */
	PROTO_INCOMPLETE,  /* need more bytes: at least *consumed in total */
	PROTO_ERROR,       /* reply req->error; skip *consumed bytes, then go on */
	PROTO_SWALLOW,     /* reply req->error; skip *consumed bytes and then discard
	                      req->swallow more (a data block that will not be stored) */
	PROTO_CLOSE,       /* close the connection (line too long) */
};

struct proto_token {
	const char *p;
	size_t len;
};

/* A meta flag: its letter and the token after it (may be empty). */
struct proto_meta_flag {
	char flag;
	struct proto_token tok;
};

struct proto_request {
	enum proto_cmd cmd;
	struct proto_token name;      /* the command word as sent */
	struct proto_token key;       /* single-key commands; meta: decoded if b */
	struct proto_token key_raw;   /* meta: the key token as sent (base64 if b) */
	bool noreply;

	/* storage */
	uint32_t flags;
	int64_t exptime;              /* as sent (seconds, memcached rules) */
	uint64_t cas;                 /* cas / meta C */
	const char *data;             /* data block (without its \r\n) */
	size_t dlen;

	/* incr/decr */
	uint64_t delta;

	/* get/gets/gat/gats: the keys, separated by spaces, iterate with proto_next_key */
	struct proto_token keys;

	/* flush_all delay, verbosity level: numeric argument if has_arg */
	bool has_arg;
	int64_t arg;

	/* stats: the argument (may be empty); CMD_OTHER: all tokens after the name */
	struct proto_token tokens[PROTO_TOKENS_MAX];
	size_t ntokens;

	/* meta: flags in request order; key_binary if b */
	struct proto_meta_flag mflags[PROTO_TOKENS_MAX];
	size_t nmflags;
	bool key_binary;
	char key_decoded[PROTO_KEY_MAX]; /* b-flag keys are decoded into here */

	/* errors (PROTO_ERROR / PROTO_SWALLOW) */
	const char *error;            /* reply line without \r\n */
	size_t swallow;               /* bytes to discard after *consumed */
	bool too_large;               /* PROTO_SWALLOW because of the item size limit */
};

struct proto_limits {
	size_t item_max;              /* largest data block accepted (-I), bytes */
};

/*
 * Parses one request from buf[0..len). See enum proto_status. *consumed is set in
 * every case (for PROTO_INCOMPLETE: the total bytes needed if known, else len + 1).
 * req is overwritten. Never reads past buf + len.
 */
enum proto_status proto_parse(const char *buf, size_t len, const struct proto_limits *lim,
    struct proto_request *req, size_t *consumed);

/*
 * Iterates the keys of a get-family request: returns true and sets *key to the
 * next one, or false at the end. *cursor starts at 0.
 */
bool proto_next_key(const struct proto_request *req, size_t *cursor, struct proto_token *key);

/* The meta flag `flag` of req, or NULL. */
const struct proto_meta_flag *proto_meta_flag(const struct proto_request *req, char flag);

/* Standard base64 of src into dst (no newlines); returns its length or 0 if dstlen
 * is too small. Decoding returns the decoded length, or 0 on invalid input. */
size_t proto_base64_encode(const unsigned char *src, size_t len, char *dst, size_t dstlen);
size_t proto_base64_decode(const char *src, size_t len, unsigned char *dst, size_t dstlen);

#endif
