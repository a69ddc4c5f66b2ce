/*
 * jid — see jid.h.
 */
#include <string.h>
#include <strings.h>

#include "jid.h"

/* A byte that may stand in a local part or a domain. */
static bool
jid_char_ok(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return false;
	return strchr("\"&'<>/@", c) == NULL;
}

static bool
part_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!jid_char_ok((unsigned char)s[i]))
			return false;
	return true;
}

bool
jid_bare_valid(const char *s)
{
	const char *at;
	size_t len;

	if (s == NULL)
		return false;
	len = strnlen(s, JID_MAX + 1);
	if (len == 0 || len > JID_MAX || (at = strchr(s, '@')) == NULL)
		return false;
	return part_ok(s, (size_t)(at - s)) && part_ok(at + 1, len - (size_t)(at - s) - 1);
}

bool
jid_domain_valid(const char *s)
{
	size_t len;

	if (s == NULL)
		return false;
	len = strnlen(s, JID_MAX + 1);
	return len <= JID_MAX && part_ok(s, len);
}

int
jid_bare(const char *s, char *buf, size_t len)
{
	const char *slash;
	size_t n;

	if (len > 0)
		buf[0] = '\0';
	if (s == NULL)
		return -1;
	slash = strchr(s, '/');
	n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (n >= len)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!jid_bare_valid(buf)) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

const char *
jid_resource(const char *s)
{
	const char *slash = s != NULL ? strchr(s, '/') : NULL;

	return slash != NULL ? slash + 1 : "";
}

bool
jid_equal(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}
