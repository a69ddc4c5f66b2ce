/*
 * jid — XMPP addresses as mcops handles them: checking, the bare part of a full
 * address, and comparison.
 *
 * A bare JID is "local@domain" (the pager's targets, rotation members, authorised
 * senders); a full JID adds "/resource". mcops compares bare JIDs without regard to
 * ASCII case (local parts and domains are case-insensitive for every address people
 * use; the full stringprep rules are the server's business). Resources compare
 * exactly.
 */
#ifndef MCOPS_JID_H
#define MCOPS_JID_H

#include <stdbool.h>
#include <stddef.h>

#define JID_MAX 320         /* bytes of a bare JID kept by mcops, without the NUL */
#define JID_FULL_MAX 1024   /* bytes of a full JID, without the NUL */

/*
 * True if s is a bare JID: 1..JID_MAX bytes, exactly one '@' with a non-empty local
 * part before it and a domain after it, no '/', no whitespace or control characters,
 * no '"', '&', '\'', '<', '>' (which XMPP forbids in local parts and no domain has).
 */
bool jid_bare_valid(const char *s);
/* True if s is a domain as a JID allows it (a room service, a server): the same
 * characters, no '@' and no '/'. */
bool jid_domain_valid(const char *s);

/*
 * Copies the bare part of a full or bare JID s ("a@b/res" -> "a@b") into buf[len].
 * Returns 0, or -1 if it does not fit or is not a valid bare JID (buf is then "").
 */
int jid_bare(const char *s, char *buf, size_t len);

/* The resource of a full JID ("" if none): a pointer into s. */
const char *jid_resource(const char *s);

/* True if a and b are the same bare JID (ASCII case ignored). */
bool jid_equal(const char *a, const char *b);

#endif
