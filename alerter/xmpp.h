/*
 * xmpp — the pager's XMPP client: a thin shell around libstrophe that the daemon
 * drives with xclient_run() from its own loop (libstrophe's xmpp_run_once() with a
 * short timeout; no thread, no libstrophe main loop).
 *
 * What it adds to libstrophe, which does none of it by itself:
 *  - reconnection: after a failed or lost connection it waits a backoff that doubles
 *    from reconnect_min to reconnect_max with "equal jitter" (never less than half of
 *    it, the rest random), and resets it once a session has lasted
 *    XCLIENT_SESSION_STABLE_MS (a server that ends every session at once, say for a
 *    stanza it refuses or another client with our resource, is not hammered);
 *  - well-formed output: a body is sent as XML 1.0 text whatever bytes it holds
 *    (xclient_text_clean), since one ill-formed stanza costs the whole session;
 *  - keepalive: it answers XEP-0199 pings, sends its own to the server every
 *    ping_interval, and drops a connection whose ping is unanswered after
 *    ping_timeout (the next attempt follows the backoff);
 *  - presence: the roster is read at each session; contacts (the JIDs the pager may
 *    page) are asked for a subscription unless they already have one (a server-side
 *    shared roster makes that unnecessary), and each contact's presence is tracked
 *    per resource: available while any resource is;
 *  - rooms: joined at each session (no history), with their state (joining, joined,
 *    failed) and our own messages' reflections reported as delivery;
 *  - stanzas in: delivery receipts (XEP-0184) and chat markers (XEP-0333) by message
 *    id, error bounces with their condition, chat bodies (messages from rooms never
 *    count as commands); receipts requested by others are sent.
 * Nothing is queued here: a message sent while offline is refused (-1) and the
 * daemon, which keeps every page in the incident log, sends it again later.
 *
 * Every callback gets the arg of struct xclient_events; strings are borrowed for the
 * call. Callbacks may call xclient_send() but not xclient_free().
 */
#ifndef MCOPS_ALERTER_XMPP_H
#define MCOPS_ALERTER_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jid.h"

#define XCLIENT_CONTACTS_MAX 256
#define XCLIENT_RESOURCES_MAX 8     /* resources tracked per contact */
#define XCLIENT_RESOURCE_MAX 64     /* bytes of a resource kept (longer ones are cut) */
#define XCLIENT_ROOMS_MAX 16
#define XCLIENT_BODY_MAX 65536      /* bytes of an incoming body passed on; longer ones
                                       are dropped */
#define XCLIENT_CONNECT_TIMEOUT_MS 30000 /* a session not established by then is dropped */
#define XCLIENT_SESSION_STABLE_MS 10000 /* a session that lasted this long resets the
                                           backoff; one the server ends sooner does not */

enum xclient_state {
	XCLIENT_DOWN,
	XCLIENT_CONNECTING,
	XCLIENT_ONLINE,
};

enum xclient_presence {
	XPRESENCE_UNKNOWN,     /* nothing heard (no subscription yet, or we are offline) */
	XPRESENCE_AVAILABLE,
	XPRESENCE_UNAVAILABLE,
};

enum xclient_room {
	XROOM_NONE,
	XROOM_JOINING,
	XROOM_JOINED,
	XROOM_FAILED,          /* the room refused us; retried at the next session */
};

struct xclient_options {
	const char *jid;       /* bare */
	const char *password;
	const char *resource;
	const char *nick;      /* in rooms */
	const char *host;      /* NULL or "": the JID's domain (DNS SRV) */
	uint16_t port;         /* 0: default */
	bool tls;              /* required TLS; false: plain (loopback tests) */
	bool tls_insecure;     /* accept any certificate */
	const char *tls_ca;    /* NULL or "": the system's trust store */
	int64_t reconnect_min_ms, reconnect_max_ms;
	int64_t ping_interval_ms, ping_timeout_ms;
	bool debug;            /* libstrophe's own log at debug level */
};

struct xclient_events {
	void *arg;
	void (*online)(void *arg);
	void (*offline)(void *arg, const char *why);
	void (*receipt)(void *arg, const char *from, const char *id);
	void (*displayed)(void *arg, const char *from, const char *id);
	void (*bounce)(void *arg, const char *from, const char *id, const char *condition);
	void (*room_echo)(void *arg, const char *room, const char *id);
	void (*chat)(void *arg, const char *from, const char *body);
	void (*presence)(void *arg, const char *bare, enum xclient_presence p);
	void (*room_state)(void *arg, const char *room, enum xclient_room state,
	    const char *why);
};

struct xclient;

/* Copies the options; connects at the first xclient_run(). NULL with err set. */
struct xclient *xclient_new(const struct xclient_options *opt,
    const struct xclient_events *events, char *err, size_t errlen);
/* Disconnects (politely if online) and frees. NULL is a no-op. */
void xclient_free(struct xclient *c);

/* The JIDs whose presence matters (replaces the list; at most XCLIENT_CONTACTS_MAX). */
void xclient_set_contacts(struct xclient *c, const char *const *jids, size_t n);
/* The rooms to be in (replaces the list; joined now if online). */
void xclient_set_rooms(struct xclient *c, const char *const *rooms, size_t n);

/*
 * One round: connects if a (re)connection is due, lets libstrophe read and write for
 * at most timeout_ms (sleeps that long when there is no connection), keeps the
 * connection alive. Callbacks run from here.
 */
void xclient_run(struct xclient *c, int timeout_ms);

enum xclient_state xclient_state(const struct xclient *c);
/* How long the client has been without a session (0 while online), in ms. */
int64_t xclient_down_ms(const struct xclient *c);
/* Sessions established since start (1 for the first). */
uint64_t xclient_session(const struct xclient *c);
enum xclient_presence xclient_presence_of(const struct xclient *c, const char *bare);
enum xclient_room xclient_room_state(const struct xclient *c, const char *room);

/*
 * Copies in to out[len] as text XML 1.0 can carry: every byte sequence that is not
 * UTF-8 (a cut character, an overlong form, a surrogate) and every character XML
 * forbids (controls other than tab, newline and return; U+FFFE, U+FFFF) becomes
 * U+FFFD. Cut at a character boundary if out is too small; always NUL-terminated
 * (len > 0). Returns the bytes written. A server closes the stream of a client that
 * sends anything else, and a page would then be sent again at every reconnection.
 */
size_t xclient_text_clean(const char *in, char *out, size_t len);

/*
 * Sends a message: to a bare or full JID as "chat", or to a room as "groupchat".
 * id is the message id (receipts, markers and bounces refer to it). With
 * want_receipt a delivery receipt is requested and the message is markable. The body
 * goes out through xclient_text_clean().
 * Returns 0 when handed to the connection, -1 when not online (or out of memory).
 */
int xclient_send(struct xclient *c, const char *to, bool groupchat, const char *id,
    const char *body, bool want_receipt);

/*
 * The wait before the next connection attempt after `attempts` failures in a row
 * (1 = the first): d = min(max_ms, min_ms * 2^(attempts - 1)), then "equal jitter",
 * d/2 + random % (d/2 + 1): never less than half of d, so that a crowd of clients
 * spreads out without any of them hammering a server that just came back.
 */
int64_t xclient_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempts, uint64_t random);

#define XCLIENT_LOG_LINE_MAX 4096 /* bytes of one libstrophe line passed to the log */

/*
 * One line of libstrophe's own log, made safe to print into out[len] (always
 * NUL-terminated; cut at XCLIENT_LOG_LINE_MAX): the data of SASL <auth> and
 * <response> elements (PLAIN carries the password in base64; SCRAM's proof is
 * derived from it) is replaced by "[redacted]", a legacy jabber:iq:auth stanza is
 * withheld whole, and a line that still contains password (if not NULL or empty)
 * anywhere is withheld. Returns 1 if anything was redacted or withheld, else 0.
 */
int xclient_log_redact(const char *msg, const char *password, char *out, size_t len);

/* Drops the connection now (the next one follows the backoff). */
void xclient_disconnect(struct xclient *c);

#endif
