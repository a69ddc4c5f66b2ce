/*
 * message — the texts the pager sends: pages, notices ("#42 acknowledged by ..."),
 * test pages, and the short evidence summary a page carries. Pure: every function
 * writes into the caller's buffer, cutting (never splitting a UTF-8 character) what
 * does not fit, and always NUL-terminates.
 *
 * A page reads:
 *     [mcops] #42 MAJOR: Connection storm on c1
 *     Cluster c1, node n1 (connection_storm), opened 2024-01-02T03:04:05Z
 *     Evidence: conns=4810, baseline=310, new_per_s=920
 *     Remedies (reply "run K", then "yes"):
 *     1: rebalance c1 — p2 holds 80% of the cluster's connections
 *     Runbook: docs/runbooks/connection_storm.md
 *     Step 2 of 2, round 1: step 1 was not acknowledged within 5m
 *     Reply "ack 42" to acknowledge, "resolve 42" when it is over, "help" for more.
 */
#ifndef MCOPS_ALERTER_MESSAGE_H
#define MCOPS_ALERTER_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "escalation.h"
#include "ilog.h"
#include "ilog_remedy.h"

#define MESSAGE_MAX 4096          /* a page or notice, bytes */
#define MESSAGE_EVIDENCE_MAX 300  /* the evidence summary, bytes */
#define MESSAGE_SENTENCE_MAX 400  /* a finding or remedy line, bytes */
#define MESSAGE_DURATION_MAX 32

/* What a page says, all borrowed. */
struct page_text {
	const struct ilog_incident *incident;
	const char *evidence;         /* summary ("" if none) */
	const char *finding;          /* the evidence's sentences for people ("" or NULL if
	                                 none): what was found, and the remedy that fits */
	const char *remedy;
	const struct ilog_remedy *suggestions; /* numbered remedies to run from chat */
	size_t nsuggestions;
	const char *runbook_base;     /* "docs/runbooks/" */
	int step, round, rounds;      /* step 0: the final target */
	size_t nsteps;
	enum esc_reason reason;
	int64_t prev_wait_ms;         /* TIMEOUT: the previous step's wait */
	const char *prev_target;      /* FAILED: whom the failed page was for */
	const char *prev_detail;      /* FAILED: why ("offline", "bounced: ...") */
	int64_t ack_age_ms;           /* ACK_TIMEOUT: since the acknowledgement */
	int64_t late_ms;              /* > 0: the page is late by this much */
	const char *ack_to;           /* NULL: reply to the page; else the JID that takes
	                                 commands (pages to rooms, where commands are not read) */
};

/* The page text. */
void message_page(const struct page_text *p, char *buf, size_t len);

/* "#42 acknowledged by alice@x.org: Connection storm on c1" for an acknowledgement
 * or a resolution; who is an actor ("xmpp:" is left out). verb: "acknowledged" /
 * "resolved". */
void message_notice(int64_t incident_id, const char *verb, const char *who,
    const char *title, char *buf, size_t len);

/* The text of a test page requested by actor (the request's event id). */
void message_test_page(int64_t request_id, const char *actor, char *buf, size_t len);

/*
 * The evidence summary of an event body: its "evidence" member if it has one, else
 * the body itself, flattened to "key=value, key.sub=value" (scalars; arrays as
 * "[N items]"), at most MESSAGE_EVIDENCE_MAX bytes, "..." when cut. "" if the body
 * is not a JSON object or has nothing to show. The sentences ("finding", "remedy")
 * are left out: the page shows them on lines of their own.
 */
void message_evidence(const char *body_json, char *buf, size_t len);

/*
 * The evidence's sentence for people named key ("finding": "78% of new connections:
 * tenant acme, from 10.1.2.0/24"; "remedy"), a top-level string of the evidence (or of
 * the body without one), control characters made spaces, cut at len. "" if none.
 */
void message_sentence(const char *body_json, const char *key, char *buf, size_t len);

/* "5m", "1h30m", "42s", "250ms", "2d3h". */
void message_duration(int64_t ms, char *buf, size_t len);

/* Actors shown to people: "xmpp:alice@x" -> "alice@x"; others as they are. */
const char *message_who(const char *actor);

#endif
