#include "proto.h"

#include <string.h>

#include "parse.h"

#define ERR_BAD_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_BAD_CHUNK "CLIENT_ERROR bad data chunk"
#define ERR_TOO_LARGE "SERVER_ERROR object too large for cache"
#define ERR_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define ERR_DELTA "CLIENT_ERROR invalid numeric delta argument"
#define ERR_DELETE_USAGE "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define ERR_META_FLAG "CLIENT_ERROR invalid flag"
#define ERR_META_DUP "CLIENT_ERROR duplicate flag"
#define ERR_META_TOKEN "CLIENT_ERROR bad token in command line format"
#define ERR_META_LONG "CLIENT_ERROR options flags are too long"
#define ERR_META_OPAQUE "CLIENT_ERROR opaque token too long"
#define ERR_META_MODE_LEN "CLIENT_ERROR incorrect length for M token"
#define ERR_META_KEY "CLIENT_ERROR error decoding key"

struct command_word {
	const char *word;
	size_t len;
	enum proto_cmd cmd;
};

static const struct command_word command_words[] = {
	{ "get", 3, CMD_GET }, { "gets", 4, CMD_GETS }, { "gat", 3, CMD_GAT },
	{ "gats", 4, CMD_GATS }, { "set", 3, CMD_SET }, { "add", 3, CMD_ADD },
	{ "replace", 7, CMD_REPLACE }, { "append", 6, CMD_APPEND },
	{ "prepend", 7, CMD_PREPEND }, { "cas", 3, CMD_CAS }, { "delete", 6, CMD_DELETE },
	{ "incr", 4, CMD_INCR }, { "decr", 4, CMD_DECR }, { "touch", 5, CMD_TOUCH },
	{ "flush_all", 9, CMD_FLUSH_ALL }, { "stats", 5, CMD_STATS },
	{ "version", 7, CMD_VERSION }, { "verbosity", 9, CMD_VERBOSITY },
	{ "quit", 4, CMD_QUIT }, { "mg", 2, CMD_MG }, { "ms", 2, CMD_MS },
	{ "md", 2, CMD_MD }, { "ma", 2, CMD_MA }, { "mn", 2, CMD_MN }, { "me", 2, CMD_ME },
};

static enum proto_cmd
lookup_command(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(command_words) / sizeof(command_words[0]); i++) {
		if (command_words[i].len == len && memcmp(command_words[i].word, p, len) == 0)
			return command_words[i].cmd;
	}
	return CMD_OTHER;
}

/* Splits line[0..len) on spaces into at most max tokens; returns the count, or
 * max + 1 if there were more. Empty tokens (repeated spaces) are skipped. */
static size_t
tokenize(const char *line, size_t len, struct proto_token *tok, size_t max)
{
	size_t n = 0, i = 0, start;

	while (i < len) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (n == max)
			return max + 1;
		tok[n].p = line + start;
		tok[n].len = i - start;
		n++;
	}
	return n;
}

static bool
token_is(const struct proto_token *t, const char *word)
{
	size_t n = strlen(word);

	return t->len == n && memcmp(t->p, word, n) == 0;
}

static int
token_u64(const struct proto_token *t, uint64_t max, uint64_t *out)
{
	return parse_u64_n(t->p, t->len, 0, max, out);
}

static int
token_i64(const struct proto_token *t, int64_t min, int64_t max, int64_t *out)
{
	return parse_i64_n(t->p, t->len, min, max, out);
}

static enum proto_status
fail(struct proto_request *req, const char *error)
{
	req->error = error;
	return PROTO_ERROR;
}

/* The data block of a storage request: complete, bad, or still to come. */
static enum proto_status
take_data(const char *buf, size_t len, size_t line_len, size_t dlen,
    const struct proto_limits *lim, struct proto_request *req, size_t *consumed)
{
	if (dlen > lim->item_max) {
		req->error = ERR_TOO_LARGE;
		req->too_large = true;
		req->swallow = dlen + 2;
		*consumed = line_len;
		return PROTO_SWALLOW;
	}
	if (len < line_len + dlen + 2) {
		*consumed = line_len + dlen + 2;
		return PROTO_INCOMPLETE;
	}
	*consumed = line_len + dlen + 2;
	if (buf[line_len + dlen] != '\r' || buf[line_len + dlen + 1] != '\n')
		return fail(req, ERR_BAD_CHUNK);
	req->data = buf + line_len;
	req->dlen = dlen;
	return PROTO_OK;
}

/* "<cmd> <key> <arg> [noreply]" (incr, decr, touch): a stray fourth token is
 * ignored unless it says noreply, as memcached does. */
static enum proto_status
key_arg_noreply(const struct proto_token *t, size_t n, struct proto_request *req)
{
	if (n != 3 && n != 4)
		return fail(req, "ERROR");
	if (n == 4 && token_is(&t[3], "noreply"))
		req->noreply = true;
	req->key = t[1];
	if (t[1].len > PROTO_KEY_MAX)
		return fail(req, ERR_BAD_FORMAT);
	return PROTO_OK;
}

/*
 * A storage request refused before its data block was read: the block is on the
 * wire all the same, and running it as commands would execute whatever a client
 * stored (a value reading "flush_all"). If the length token is there and valid the
 * block is discarded (PROTO_SWALLOW); without a length it can trust, the reply is
 * memcached's and the next line is read as a command, as memcached does.
 */
static enum proto_status
refuse_storage(const struct proto_token *t, size_t n, struct proto_request *req,
    const char *error)
{
	uint64_t bytes;

	if (n < 5 || token_u64(&t[4], PROTO_DATA_LEN_MAX, &bytes) < 0)
		return fail(req, error);
	req->error = error;
	req->swallow = (size_t)bytes + 2;
	return PROTO_SWALLOW;
}

static enum proto_status
parse_storage(const char *buf, size_t len, size_t line_len, struct proto_token *t,
    size_t n, const struct proto_limits *lim, struct proto_request *req, size_t *consumed)
{
	bool is_cas = req->cmd == CMD_CAS;
	size_t want = is_cas ? 6 : 5;
	uint64_t flags, bytes, cas = 0;
	int64_t exptime;

	if (n != want && n != want + 1)
		return refuse_storage(t, n, req, "ERROR");
	/* memcached reads a last extra token as noreply only if it says so. */
	if (n == want + 1 && token_is(&t[want], "noreply"))
		req->noreply = true;
	req->key = t[1];
	if (token_u64(&t[4], PROTO_DATA_LEN_MAX, &bytes) < 0)
		return fail(req, ERR_BAD_FORMAT);
	if (t[1].len > PROTO_KEY_MAX || token_u64(&t[2], UINT32_MAX, &flags) < 0 ||
	    token_i64(&t[3], INT64_MIN / 2, INT64_MAX / 2, &exptime) < 0 ||
	    (is_cas && token_u64(&t[5], UINT64_MAX, &cas) < 0))
		return refuse_storage(t, n, req, ERR_BAD_FORMAT);
	req->flags = (uint32_t)flags;
	req->exptime = exptime;
	req->cas = cas;
	return take_data(buf, len, line_len, (size_t)bytes, lim, req, consumed);
}

static enum proto_status
parse_get_family(const char *line, size_t line_len, struct proto_request *req)
{
	const char *p = line + req->name.len;
	const char *end = line + line_len;
	struct proto_token t;
	size_t cursor = 0;
	bool any = false;

	if (req->cmd == CMD_GAT || req->cmd == CMD_GATS) {
		/* gat <exptime> <key>+ */
		while (p < end && *p == ' ')
			p++;
		t.p = p;
		while (p < end && *p != ' ')
			p++;
		t.len = (size_t)(p - t.p);
		if (t.len == 0)
			return fail(req, "ERROR");
		if (token_i64(&t, INT64_MIN / 2, INT64_MAX / 2, &req->exptime) < 0)
			return fail(req, ERR_EXPTIME);
	}
	req->keys.p = p;
	req->keys.len = (size_t)(end - p);
	while (proto_next_key(req, &cursor, &t)) {
		if (t.len > PROTO_KEY_MAX)
			return fail(req, ERR_BAD_FORMAT);
		any = true;
	}
	if (!any && (req->cmd == CMD_GET || req->cmd == CMD_GETS))
		return fail(req, "ERROR");
	return PROTO_OK;
}

/* Every flag letter some meta command knows (memcached accepts the union). */
static bool
meta_flag_known(char f)
{
	return f != '\0' && strchr("bcfhklOqstuvENRTFCIMJDPLSx", f) != NULL;
}

static enum proto_status
parse_meta_flags(struct proto_token *t, size_t n, size_t first, struct proto_request *req)
{
	bool seen[128] = { false };
	size_t i;

	for (i = first; i < n; i++) {
		unsigned char f = (unsigned char)t[i].p[0];
		struct proto_meta_flag *mf = &req->mflags[req->nmflags++];
		struct proto_token v = { t[i].p + 1, t[i].len - 1 };
		uint64_t u;
		int64_t s;

		if (f >= 128 || !meta_flag_known((char)f))
			return fail(req, ERR_META_FLAG);
		if (seen[f])
			return fail(req, ERR_META_DUP);
		seen[f] = true;
		mf->flag = (char)f;
		mf->tok = v;
		switch (f) {
		case 'N': case 'T': case 'R':
			if (token_i64(&v, INT32_MIN, INT32_MAX, &s) < 0)
				return fail(req, ERR_META_TOKEN);
			break;
		case 'C': case 'E':
			if (token_u64(&v, UINT64_MAX, &u) < 0)
				return fail(req, ERR_META_TOKEN);
			break;
		case 'F':
			if (token_u64(&v, UINT32_MAX, &u) < 0)
				return fail(req, ERR_META_TOKEN);
			break;
		case 'J':
			if (token_u64(&v, UINT64_MAX, &u) < 0)
				return fail(req, "CLIENT_ERROR invalid numeric initial value");
			break;
		case 'D':
			if (token_u64(&v, UINT64_MAX, &u) < 0)
				return fail(req, "CLIENT_ERROR invalid numeric delta value");
			break;
		case 'M':
			if (v.len != 1)
				return fail(req, ERR_META_MODE_LEN);
			break;
		case 'O':
			if (t[i].len > PROTO_META_OPAQUE_MAX)
				return fail(req, ERR_META_OPAQUE);
			break;
		case 'q': /* noreply semantics, decided per command by the executor */
			req->noreply = true;
			break;
		case 'b': {
			size_t k = proto_base64_decode(req->key.p, req->key.len,
			    (unsigned char *)req->key_decoded, sizeof(req->key_decoded));
			if (k == 0)
				return fail(req, ERR_META_KEY);
			req->key.p = req->key_decoded;
			req->key.len = k;
			req->key_binary = true;
			break;
		}
		default:
			break;
		}
	}
	return PROTO_OK;
}

static enum proto_status
parse_meta(const char *buf, size_t len, size_t line_len, struct proto_token *t, size_t n,
    const struct proto_limits *lim, struct proto_request *req, size_t *consumed)
{
	enum proto_status st;
	uint64_t dlen = 0;
	size_t first = 2;

	if (n < 2)
		return fail(req, ERR_BAD_FORMAT);
	if (t[1].len > PROTO_KEY_MAX)
		return fail(req, ERR_BAD_FORMAT);
	req->key = t[1];
	req->key_raw = t[1];
	if (req->cmd == CMD_MS) {
		if (n < 3 || token_u64(&t[2], PROTO_DATA_LEN_MAX, &dlen) < 0)
			return fail(req, ERR_BAD_FORMAT);
		first = 3;
	}
	if (n > PROTO_TOKENS_MAX - 1) {
		st = fail(req, ERR_META_LONG);
	} else {
		st = parse_meta_flags(t, n, first, req);
	}
	if (req->cmd != CMD_MS)
		return st;
	if (st != PROTO_OK) {
		/* The data block is there all the same: discard it. */
		req->swallow = (size_t)dlen + 2;
		return PROTO_SWALLOW;
	}
	return take_data(buf, len, line_len, (size_t)dlen, lim, req, consumed);
}

enum proto_status
proto_parse(const char *buf, size_t len, const struct proto_limits *lim,
    struct proto_request *req, size_t *consumed)
{
	struct proto_token t[PROTO_TOKENS_MAX];
	const char *nl;
	size_t line_len, content_len, n;
	enum proto_status st;
	uint64_t u;
	int64_t s;

	memset(req, 0, offsetof(struct proto_request, tokens));
	req->ntokens = 0;
	req->nmflags = 0;
	req->key_binary = false;
	req->swallow = 0;
	req->too_large = false;
	req->error = NULL;

	nl = memchr(buf, '\n', len);
	if (nl == NULL) {
		size_t limit = PROTO_LINE_MAX;
		if ((len >= 4 && memcmp(buf, "get ", 4) == 0) ||
		    (len >= 5 && memcmp(buf, "gets ", 5) == 0) ||
		    (len >= 4 && memcmp(buf, "gat ", 4) == 0) ||
		    (len >= 5 && memcmp(buf, "gats ", 5) == 0))
			limit = PROTO_GET_LINE_MAX;
		*consumed = len + 1;
		/* A line of exactly `limit` bytes may have its "\r" here and its "\n"
		 * still to come: whether it is served must not depend on the split. */
		if (len > limit + 1 || (len == limit + 1 && buf[limit] != '\r'))
			return PROTO_CLOSE;
		return PROTO_INCOMPLETE;
	}
	line_len = (size_t)(nl - buf) + 1;
	content_len = line_len - 1;
	if (content_len > 0 && buf[content_len - 1] == '\r')
		content_len--;
	*consumed = line_len;

	/* The command word decides how the rest is read. */
	n = 0;
	while (n < content_len && buf[n] == ' ')
		n++;
	req->name.p = buf + n;
	while (n < content_len && buf[n] != ' ')
		n++;
	req->name.len = (size_t)(buf + n - req->name.p);
	if (req->name.len == 0)
		return fail(req, "ERROR");
	req->cmd = lookup_command(req->name.p, req->name.len);

	switch (req->cmd) {
	case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS:
		return parse_get_family(req->name.p, (size_t)(buf + content_len - req->name.p), req);
	default:
		break;
	}
	if (content_len > PROTO_LINE_MAX)
		return PROTO_CLOSE;

	n = tokenize(buf, content_len, t, PROTO_TOKENS_MAX);
	if (n > PROTO_TOKENS_MAX) {
		if (req->cmd == CMD_MS) {
			/* The first tokens are there: discard the data block, as after any
			 * other flag error, rather than run it as commands. */
			uint64_t dlen;
			if (token_u64(&t[2], PROTO_DATA_LEN_MAX, &dlen) < 0)
				return fail(req, ERR_BAD_FORMAT);
			req->error = ERR_META_LONG;
			req->swallow = (size_t)dlen + 2;
			return PROTO_SWALLOW;
		}
		if (req->cmd == CMD_MG || req->cmd == CMD_MD || req->cmd == CMD_MA)
			return fail(req, ERR_META_LONG);
		if (req->cmd >= CMD_SET && req->cmd <= CMD_CAS)
			return refuse_storage(t, PROTO_TOKENS_MAX, req, "ERROR");
		return fail(req, "ERROR");
	}

	switch (req->cmd) {
	case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND:
	case CMD_CAS:
		return parse_storage(buf, len, line_len, t, n, lim, req, consumed);

	case CMD_DELETE:
		/* delete <key> [0] [noreply] */
		if (n < 2 || n > 4)
			return fail(req, "ERROR");
		req->key = t[1];
		if (t[1].len > PROTO_KEY_MAX)
			return fail(req, ERR_BAD_FORMAT);
		/* A last noreply silences even the usage error, as memcached's does: the
		 * client reads no reply, and one sent would answer its next command. */
		if (n == 4 && token_is(&t[3], "noreply"))
			req->noreply = true;
		if (n == 4 && !(token_is(&t[2], "0") && req->noreply))
			return fail(req, ERR_DELETE_USAGE);
		if (n == 3) {
			if (token_is(&t[2], "noreply"))
				req->noreply = true;
			else if (!token_is(&t[2], "0"))
				return fail(req, ERR_DELETE_USAGE);
		}
		return PROTO_OK;

	case CMD_INCR: case CMD_DECR:
		if ((st = key_arg_noreply(t, n, req)) != PROTO_OK)
			return st;
		if (token_u64(&t[2], UINT64_MAX, &req->delta) < 0)
			return fail(req, ERR_DELTA);
		return PROTO_OK;

	case CMD_TOUCH:
		if ((st = key_arg_noreply(t, n, req)) != PROTO_OK)
			return st;
		if (token_i64(&t[2], INT64_MIN / 2, INT64_MAX / 2, &req->exptime) < 0)
			return fail(req, ERR_EXPTIME);
		return PROTO_OK;

	case CMD_FLUSH_ALL:
		/* flush_all [delay] [noreply] */
		if (n > 3)
			return fail(req, "ERROR");
		if (n >= 2 && token_is(&t[n - 1], "noreply")) {
			req->noreply = true;
			n--;
		}
		if (n == 2) {
			if (token_i64(&t[1], INT32_MIN, INT32_MAX, &s) < 0)
				return fail(req, ERR_EXPTIME);
			req->has_arg = s > 0; /* zero or negative: at once */
			req->arg = s;
		} else if (n == 3) {
			return fail(req, ERR_EXPTIME);
		}
		return PROTO_OK;

	case CMD_VERBOSITY:
		/* verbosity <level> [noreply]: a level that is no number is refused, as
		 * memcached refuses it; one above 10 is 10 (memcached's maximum). */
		if (n != 2 && n != 3)
			return fail(req, "ERROR");
		if (token_is(&t[n - 1], "noreply"))
			req->noreply = true;
		if (token_u64(&t[1], UINT32_MAX, &u) < 0)
			return fail(req, ERR_BAD_FORMAT);
		req->has_arg = true;
		req->arg = u > 10 ? 10 : (int64_t)u;
		return PROTO_OK;

	case CMD_VERSION:
		return PROTO_OK; /* memcached ignores arguments */

	case CMD_QUIT: case CMD_MN:
		return n == 1 ? PROTO_OK : fail(req, "ERROR");

	case CMD_STATS: case CMD_OTHER:
		memcpy(req->tokens, t + 1, (n - 1) * sizeof(t[0]));
		req->ntokens = n - 1;
		return PROTO_OK;

	case CMD_ME:
		if (n != 2 && n != 3)
			return fail(req, ERR_BAD_FORMAT);
		if (t[1].len > PROTO_KEY_MAX)
			return fail(req, ERR_BAD_FORMAT);
		req->key = t[1];
		if (n == 3) {
			st = parse_meta_flags(t, n, 2, req);
			if (st != PROTO_OK)
				return st;
		}
		return PROTO_OK;

	case CMD_MG: case CMD_MS: case CMD_MD: case CMD_MA:
		return parse_meta(buf, len, line_len, t, n, lim, req, consumed);

	default:
		return fail(req, "ERROR");
	}
}

bool
proto_next_key(const struct proto_request *req, size_t *cursor, struct proto_token *key)
{
	const char *p = req->keys.p;
	size_t len = req->keys.len, i = *cursor, start;

	while (i < len && p[i] == ' ')
		i++;
	if (i >= len) {
		*cursor = i;
		return false;
	}
	start = i;
	while (i < len && p[i] != ' ')
		i++;
	key->p = p + start;
	key->len = i - start;
	*cursor = i;
	return true;
}

const struct proto_meta_flag *
proto_meta_flag(const struct proto_request *req, char flag)
{
	size_t i;

	for (i = 0; i < req->nmflags; i++) {
		if (req->mflags[i].flag == flag)
			return &req->mflags[i];
	}
	return NULL;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
proto_base64_encode(const unsigned char *src, size_t len, char *dst, size_t dstlen)
{
	size_t i, o = 0, need = (len + 2) / 3 * 4;

	if (need > dstlen)
		return 0;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		dst[o++] = b64chars[v >> 18 & 63];
		dst[o++] = b64chars[v >> 12 & 63];
		dst[o++] = b64chars[v >> 6 & 63];
		dst[o++] = b64chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)src[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)src[i + 1] << 8;
		dst[o++] = b64chars[v >> 18 & 63];
		dst[o++] = b64chars[v >> 12 & 63];
		dst[o++] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		dst[o++] = '=';
	}
	return o;
}

static int
b64value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t
proto_base64_decode(const char *src, size_t len, unsigned char *dst, size_t dstlen)
{
	size_t i, o = 0, pad = 0;

	if (len == 0 || len % 4 != 0)
		return 0;
	if (src[len - 1] == '=')
		pad = src[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > dstlen)
		return 0;
	for (i = 0; i < len; i += 4) {
		size_t npad = i + 4 == len ? pad : 0;
		int a = b64value(src[i]), b = b64value(src[i + 1]);
		int c = npad >= 2 ? 0 : b64value(src[i + 2]);
		int d = npad >= 1 ? 0 : b64value(src[i + 3]);
		uint32_t v;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return 0;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		dst[o++] = (unsigned char)(v >> 16);
		if (npad < 2)
			dst[o++] = (unsigned char)(v >> 8);
		if (npad < 1)
			dst[o++] = (unsigned char)v;
	}
	return o;
}
